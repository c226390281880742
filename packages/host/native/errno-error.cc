#include "errno-error.h"

#include <string.h>

#include <string>

namespace kvmhost {

Napi::Value ThrowErrno(Napi::Env env, const char* syscall, int err, const char* detail) {
  // strerrorname_np (glibc 2.32+) gives "EINVAL"; fall back to the number where it has none.
  const char* name = strerrorname_np(err);
  std::string code = name != nullptr ? name : "E" + std::to_string(err);
  std::string message = std::string(syscall) + ": " + code + " (" + strerror(err) + ")";
  if (detail != nullptr) message += std::string(": ") + detail;
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("code", Napi::String::New(env, code));
  error.Set("syscall", Napi::String::New(env, syscall));
  error.ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value ThrowType(Napi::Env env, const char* message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
  return env.Undefined();
}

}  // namespace kvmhost
