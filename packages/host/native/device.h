// The file-descriptor side of /dev/kvm: open, ioctl, close. Arguments pass straight through:
// a typed array's bytes are handed to the kernel in place, an integer by value.
#pragma once

#include <napi.h>

namespace kvmhost {

// open(path) → fd, opened O_RDWR | O_CLOEXEC.
Napi::Value Open(const Napi::CallbackInfo& info);
// ioctl(fd, request, arg) → the ioctl's non-negative result. `arg` is a TypedArray/DataView
// (its bytes, in place; it must be at least _IOC_SIZE(request) long), a number or a bigint.
Napi::Value Ioctl(const Napi::CallbackInfo& info);
// close(fd)
Napi::Value Close(const Napi::CallbackInfo& info);

}  // namespace kvmhost
