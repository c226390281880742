#include "device.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "errno-error.h"
#include "kick.h"

namespace kvmhost {

namespace {

// Structs that end in a flexible array: the request number carries only the header's size, and
// the kernel reads or writes `count` entries after it, `count` being a field the caller filled.
// A buffer shorter than that would let the kernel write past a JavaScript heap object. `cap`
// is the most entries the kernel touches: past it the kernel either refuses without touching
// any (`refusedPastCap`: E2BIG or EINVAL, left to the kernel so its errno is the answer) or
// clamps the count to it.
struct FlexibleArray {
  unsigned long request;
  size_t header;
  size_t entry;
  uint32_t cap;
  bool refusedPastCap;
};

// The request numbers are built from the C headers' sizes by hand: in C++ the uapi
// __DECLARE_FLEX_ARRAY makes `struct kvm_msrs` and friends 8 bytes longer than in C, so
// `KVM_GET_MSRS` spelled in C++ is not the number the kernel switches on.
constexpr unsigned long Iowr(unsigned nr, size_t header) { return _IOC(_IOC_READ | _IOC_WRITE, KVMIO, nr, header); }
constexpr unsigned long Iow(unsigned nr, size_t header) { return _IOC(_IOC_WRITE, KVMIO, nr, header); }
static_assert(sizeof(struct kvm_cpuid_entry2) == 40, "kvm_cpuid_entry2");
static_assert(sizeof(struct kvm_cpuid_entry) == 24, "kvm_cpuid_entry");
static_assert(sizeof(struct kvm_msr_entry) == 16, "kvm_msr_entry");

const FlexibleArray kFlexibleArrays[] = {
    // kvm_msr_list { __u32 nmsrs; __u32 indices[]; }: the kernel writes its own list (a few
    // hundred MSRs at most) if `nmsrs` is big enough.
    {Iowr(0x02, 4), 4, sizeof(__u32), 4096, false},  // KVM_GET_MSR_INDEX_LIST
    {Iowr(0x0a, 4), 4, sizeof(__u32), 4096, false},  // KVM_GET_MSR_FEATURE_INDEX_LIST
    // kvm_cpuid2 { __u32 nent; __u32 padding; entries[] }: KVM_MAX_CPUID_ENTRIES (256); the GET
    // ioctls clamp `nent` to it, SET_CPUID2 is E2BIG past it.
    {Iowr(0x05, 8), 8, sizeof(struct kvm_cpuid_entry2), 256, false},  // KVM_GET_SUPPORTED_CPUID
    {Iowr(0x09, 8), 8, sizeof(struct kvm_cpuid_entry2), 256, false},  // KVM_GET_EMULATED_CPUID
    {Iowr(0xc1, 8), 8, sizeof(struct kvm_cpuid_entry2), 256, false},  // KVM_GET_SUPPORTED_HV_CPUID
    {Iow(0x90, 8), 8, sizeof(struct kvm_cpuid_entry2), 256, true},   // KVM_SET_CPUID2
    {Iowr(0x91, 8), 8, sizeof(struct kvm_cpuid_entry2), 256, false},  // KVM_GET_CPUID2
    {Iow(0x8a, 8), 8, sizeof(struct kvm_cpuid_entry), 256, true},    // KVM_SET_CPUID
    // kvm_msrs { __u32 nmsrs; __u32 pad; entries[] }: `nmsrs >= MAX_IO_MSRS` (256) is E2BIG (msr_io).
    {Iowr(0x88, 8), 8, sizeof(struct kvm_msr_entry), 255, true},  // KVM_GET_MSRS
    {Iow(0x89, 8), 8, sizeof(struct kvm_msr_entry), 255, true},   // KVM_SET_MSRS
    // kvm_signal_mask { __u32 len; __u8 sigset[]; }: `len` must be sizeof(sigset_t), 8, else EINVAL.
    {Iow(0x8b, 4), 4, 1, 8, true},  // KVM_SET_SIGNAL_MASK
};

// The bytes the kernel may touch for `request` with this header, or 0 when only _IOC_SIZE counts.
size_t FlexibleLength(unsigned long request, const uint8_t* data, size_t length) {
  for (const FlexibleArray& f : kFlexibleArrays) {
    if (f.request != request) continue;
    if (length < sizeof(uint32_t)) return f.header;  // the count itself is missing
    uint32_t count;
    memcpy(&count, data, sizeof(count));  // every count above is the struct's first u32
    if (count > f.cap) return f.refusedPastCap ? f.header : f.header + f.entry * f.cap;
    return f.header + f.entry * count;
  }
  return 0;
}

}  // namespace

Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) return ThrowType(env, "open(path)");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  // A NUL inside the string would silently open a shorter path (as Node's fs refuses it too).
  if (path.find('\0') != std::string::npos) return ThrowErrno(env, "open", EINVAL, "path contains a NUL byte");
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return ThrowErrno(env, "open", errno, path.c_str());
  return Napi::Number::New(env, fd);
}

Napi::Value Ioctl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber()) {
    return ThrowType(env, "ioctl(fd, request, arg)");
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  // Requests are unsigned 32-bit (an _IOR/_IOWR has bit 31 set); widen without sign extension.
  unsigned long request = info[1].As<Napi::Number>().Uint32Value();
  Napi::Value arg = info[2];

  if (request == KVM_RUN) {
    int result = RunVcpu(fd);
    if (result < 0) return ThrowErrno(env, "ioctl", errno, "KVM_RUN");
    return Napi::Number::New(env, result);
  }

  unsigned long value;
  if (arg.IsTypedArray() || arg.IsDataView()) {
    void* data;
    size_t length;
    if (arg.IsTypedArray()) {
      Napi::TypedArray array = arg.As<Napi::TypedArray>();
      data = static_cast<uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset();
      length = array.ByteLength();
    } else {
      Napi::DataView view = arg.As<Napi::DataView>();
      data = view.Data();
      length = view.ByteLength();
    }
    // The kernel copies _IOC_SIZE(request) bytes in or out at the pointer; a shorter buffer
    // would let it write past the end of a JavaScript heap object. Refuse it as the kernel
    // refuses a pointer it can't use.
    if (length < _IOC_SIZE(request)) {
      return ThrowErrno(env, "ioctl", EFAULT, "argument buffer is shorter than the request's size");
    }
    if (length < FlexibleLength(request, static_cast<const uint8_t*>(data), length)) {
      return ThrowErrno(env, "ioctl", EFAULT, "argument buffer is shorter than the entries its count field claims");
    }
    value = reinterpret_cast<unsigned long>(data);
  } else if (arg.IsNumber()) {
    value = static_cast<unsigned long>(arg.As<Napi::Number>().Int64Value());
  } else if (arg.IsBigInt()) {
    bool lossless;
    value = static_cast<unsigned long>(arg.As<Napi::BigInt>().Uint64Value(&lossless));
  } else if (arg.IsUndefined() || arg.IsNull()) {
    value = 0;
  } else {
    return ThrowType(env, "ioctl: arg must be a typed array, a number or a bigint");
  }

  int result = ioctl(fd, request, value);
  if (result < 0) return ThrowErrno(env, "ioctl", errno);
  return Napi::Number::New(env, result);
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) return ThrowType(env, "close(fd)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  UnregisterVcpu(fd);
  if (close(fd) < 0) return ThrowErrno(env, "close", errno);
  return env.Undefined();
}

}  // namespace kvmhost
