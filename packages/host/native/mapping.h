// Memory the kernel shares with us, exposed to JavaScript as external ArrayBuffers (no copy):
// a vCPU's `struct kvm_run` (mmap of the vCPU fd) and guest RAM (a memfd mapped MAP_SHARED).
#pragma once

#include <napi.h>
#include <stddef.h>

#include <memory>

namespace kvmhost {

// One mmap()ed range. Unmapped (and its memfd closed) when the last owner lets go: the
// ArrayBuffer's finalizer or an explicit release, and for a kvm_run page the kick registry too,
// so a kick from another thread never writes into an unmapped page.
struct Mapping {
  void* addr;
  size_t length;
  int memfd;  // -1 when the mapping is not backed by a memfd we own
  Mapping(void* a, size_t l, int fd) : addr(a), length(l), memfd(fd) {}
  ~Mapping();
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
};

// mmap(vcpuFd, size) → ArrayBuffer over `struct kvm_run`; registers the page for kicks.
Napi::Value MmapRun(const Napi::CallbackInfo& info);
// allocateMemory(size) → { buffer, address: bigint, memfd }: zeroed, page-aligned guest RAM.
Napi::Value AllocateMemory(const Napi::CallbackInfo& info);
// mapMemfd(memfd, size) → { buffer, address: bigint }: another view (e.g. in a worker) of the
// same guest RAM, with its own lifetime. EBADF unless `memfd` is the memfd of guest memory that
// is still mapped (a closed one's number may have been reused); EINVAL past the memfd's end.
Napi::Value MapMemfd(const Napi::CallbackInfo& info);
// release(buffer): detaches the ArrayBuffer now and drops its reference to the mapping.
Napi::Value Release(const Napi::CallbackInfo& info);

}  // namespace kvmhost
