#include "device.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <string>

#include "errno-error.h"
#include "kick.h"

namespace kvmhost {

Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) return ThrowType(env, "open(path)");
  std::string path = info[0].As<Napi::String>().Utf8Value();
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
