// Errors thrown to JavaScript carry the kernel's errno, the way Node's own system errors do
// (`err.errno`, `err.code`, `err.syscall`). The TypeScript device turns them into KvmErrors.
#pragma once

#include <napi.h>

namespace kvmhost {

// Throws an Error whose message is "<syscall>: <CODE> (<strerror>)" with `errno` (positive, as
// Linux numbers it), `code` ("EINVAL") and `syscall` properties. Returns undefined so callers can
// `return ThrowErrno(...)`.
Napi::Value ThrowErrno(Napi::Env env, const char* syscall, int err, const char* detail = nullptr);

// Throws a TypeError for a caller that passed the wrong kind of argument (a bug in our own
// TypeScript layer, never something a guest can cause).
Napi::Value ThrowType(Napi::Env env, const char* message);

}  // namespace kvmhost
