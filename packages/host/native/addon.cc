// The @kvm/host native addon: the handful of system calls a KVM userspace needs, and nothing
// that interprets their bytes (that is @kvm/core's codecs' job).
//
// Context-aware (Napi::Addon, one instance per Node environment), so every worker thread can
// load it: a vCPU runs on its own worker so that KVM_RUN never blocks the event loop. State
// that must be shared between threads (the kick registry, live mappings) is process-wide, as
// file descriptors and mappings are.
#include <napi.h>
#include <unistd.h>

#include "device.h"
#include "kick.h"
#include "mapping.h"
#include "tap.h"

namespace kvmhost {

class HostKvmAddon : public Napi::Addon<HostKvmAddon> {
 public:
  HostKvmAddon(Napi::Env env, Napi::Object exports) {
    DefineAddon(exports, {
        InstanceMethod("open", &HostKvmAddon::Forward<Open>),
        InstanceMethod("ioctl", &HostKvmAddon::Forward<Ioctl>),
        InstanceMethod("close", &HostKvmAddon::Forward<Close>),
        InstanceMethod("mmapRun", &HostKvmAddon::Forward<MmapRun>),
        InstanceMethod("allocateMemory", &HostKvmAddon::Forward<AllocateMemory>),
        InstanceMethod("mapMemfd", &HostKvmAddon::Forward<MapMemfd>),
        InstanceMethod("release", &HostKvmAddon::Forward<Release>),
        InstanceMethod("kickHandle", &HostKvmAddon::Forward<KickHandle>),
        InstanceMethod("kick", &HostKvmAddon::Forward<Kick>),
        InstanceMethod("kickSignal", &HostKvmAddon::Forward<KickSignal>),
        InstanceMethod("openTap", &HostKvmAddon::Forward<OpenTap>),
        InstanceMethod("tapStart", &HostKvmAddon::Forward<TapStart>),
        InstanceMethod("tapWrite", &HostKvmAddon::Forward<TapWrite>),
        InstanceMethod("tapClose", &HostKvmAddon::Forward<TapClose>),
        InstanceValue("pageSize", Napi::Number::New(env, static_cast<double>(sysconf(_SC_PAGESIZE)))),
    });
  }

 private:
  template <Napi::Value (*F)(const Napi::CallbackInfo&)>
  Napi::Value Forward(const Napi::CallbackInfo& info) {
    return F(info);
  }
};

}  // namespace kvmhost

using kvmhost::HostKvmAddon;
NODE_API_ADDON(HostKvmAddon)
