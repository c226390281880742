// Kicking a vCPU out of KVM_RUN from any thread, the way QEMU and kvmtool do it: set
// kvm_run->immediate_exit, then signal the vCPU's thread with a signal whose handler does
// nothing and is installed without SA_RESTART, so the ioctl returns EINTR.
//
// Races, and why none loses a kick:
//  - kick before KVM_RUN is entered: immediate_exit is already 1, and KVM_RUN checks it on
//    entry and returns EINTR without running the guest (Documentation/virt/kvm/api.rst).
//  - kick while the kernel is between that check and guest entry: the signal is pending, and
//    KVM checks for pending signals before every entry (xfer_to_guest_mode_work) → EINTR.
//  - kick while the guest runs: the signal forces an exit, then the same pending check → EINTR.
//  - kick after KVM_RUN returned for another reason: immediate_exit stays 1, so the next run
//    returns EINTR at once.
// The vCPU thread publishes its tid before it reads immediate_exit in the ioctl, and the kicker
// stores immediate_exit before it reads the tid (both sequentially consistent), so at least one
// of them sees the other. After an EINTR the vCPU thread clears immediate_exit: the kick is
// consumed, and several kicks before one EINTR coalesce into it.
#pragma once

#include <napi.h>

#include <memory>

#include "mapping.h"

namespace kvmhost {

// Remembers the kvm_run page of `vcpuFd` so kicks can reach it (the first mapping of that fd
// until it is closed).
void RegisterVcpuRun(int vcpuFd, const std::shared_ptr<Mapping>& run);
// Forgets `fd` (called before the fd is closed, so a reused fd number is never kicked).
void UnregisterVcpu(int fd);
// ioctl(fd, KVM_RUN, 0) with the kick protocol around it. Returns the ioctl's result; errno is
// the ioctl's on failure.
int RunVcpu(int vcpuFd);

// kickHandle(vcpuFd) → { fd, token }: plain data another thread hands to kick().
Napi::Value KickHandle(const Napi::CallbackInfo& info);
// kick({ fd, token }) → true when the vCPU was found (and kicked), false when it is gone.
Napi::Value Kick(const Napi::CallbackInfo& info);
// kickSignal() → the signal number we use (so a VMM can avoid it).
Napi::Value KickSignal(const Napi::CallbackInfo& info);

}  // namespace kvmhost
