#include "mapping.h"

#include <errno.h>
#include <node_buffer.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mutex>
#include <unordered_map>

#include "errno-error.h"
#include "kick.h"

namespace kvmhost {

Mapping::~Mapping() {
  munmap(addr, length);
  if (memfd >= 0) close(memfd);
}

namespace {

// What a live ArrayBuffer keeps alive. `id` tells this buffer from a later one that got the same
// address after this one's pages were unmapped (release() unmaps before the finalizer runs).
struct LiveBuffer {
  uint64_t id;
  std::shared_ptr<Mapping> mapping;
};

// Live ArrayBuffers by data pointer, so release(buffer) can find its mapping. Process-wide (not
// per addon instance) because finalizers may run while a worker's instance is being torn down.
std::mutex liveLock;
std::unordered_map<void*, LiveBuffer> live;
uint64_t nextId = 1;

// Drops the registry's reference to the mapping of buffer `id` at `data`, if it still holds one.
// Idempotent, so it is safe whether Node calls the finalizer once, never, or (as it does when it
// refuses to create the buffer: node::Buffer::New frees the data it was given) during creation.
void Forget(void* data, uint64_t id) {
  std::shared_ptr<Mapping> dropped;  // unmapped after the lock is released
  std::lock_guard<std::mutex> guard(liveLock);
  auto it = live.find(data);
  if (it != live.end() && it->second.id == id) {
    dropped = std::move(it->second.mapping);
    live.erase(it);
  }
}

void Finalize(napi_env, void* data, void* hint) { Forget(data, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(hint))); }

// An external ArrayBuffer over the mapping. The finalize hint is a plain id, not an owned
// pointer: node-addon-api's ArrayBuffer::New(…, finalizer) frees its finalizer data when
// creation fails although Node has already run (and freed) it — the double free that aborted
// node on an 8 GiB allocation. Returns an empty value with an exception pending on failure.
Napi::Value Expose(Napi::Env env, const std::shared_ptr<Mapping>& mapping, size_t length) {
  // Node refuses larger external buffers (ERR_BUFFER_TOO_LARGE, buffer.constants.MAX_LENGTH).
  if (length > node::Buffer::kMaxLength) {
    ThrowErrno(env, "mmap", ENOMEM, "larger than the largest ArrayBuffer Node can create (buffer.constants.MAX_LENGTH)");
    return Napi::Value();
  }
  uint64_t id;
  {
    std::lock_guard<std::mutex> guard(liveLock);
    id = nextId++;
    live[mapping->addr] = LiveBuffer{id, mapping};
  }
  napi_value value;
  napi_status status = napi_create_external_arraybuffer(env, mapping->addr, length, Finalize,
                                                        reinterpret_cast<void*>(static_cast<uintptr_t>(id)), &value);
  if (status != napi_ok) {
    Forget(mapping->addr, id);
    if (!env.IsExceptionPending()) ThrowErrno(env, "mmap", ENOMEM, "could not create the ArrayBuffer");
    return Napi::Value();
  }
  return Napi::Value(env, value);
}

bool SizeArg(const Napi::CallbackInfo& info, size_t index, size_t* out) {
  if (!info[index].IsNumber()) return false;
  double value = info[index].As<Napi::Number>().DoubleValue();
  if (!(value >= 0) || value > 9007199254740991.0 || value != static_cast<double>(static_cast<uint64_t>(value))) {
    return false;
  }
  *out = static_cast<size_t>(value);
  return true;
}

// { buffer, address } for a fresh mapping; an empty value (exception pending) on failure, the
// mapping then unmapped by its last owner.
Napi::Value MemoryResult(Napi::Env env, const std::shared_ptr<Mapping>& mapping, size_t size) {
  Napi::Value buffer = Expose(env, mapping, size);
  if (buffer.IsEmpty()) return buffer;
  Napi::Object result = Napi::Object::New(env);
  result.Set("buffer", buffer);
  result.Set("address", Napi::BigInt::New(env, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(mapping->addr))));
  return result;
}

}  // namespace

Napi::Value MmapRun(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t size;
  if (!info[0].IsNumber() || !SizeArg(info, 1, &size)) return ThrowType(env, "mmapRun(vcpuFd, size)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  // KVM_GET_VCPU_MMAP_SIZE bytes at offset 0 of the vCPU fd: struct kvm_run, then the PIO data
  // page and the coalesced-MMIO ring (Documentation/virt/kvm/api.rst, KVM_RUN).
  void* addr = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (addr == MAP_FAILED) return ThrowErrno(env, "mmap", errno, "kvm_run of a vCPU fd");
  auto mapping = std::make_shared<Mapping>(addr, size, -1);
  Napi::Value buffer = Expose(env, mapping, size);
  // Registered for kicks only once JavaScript has the page: a failure leaves nothing behind.
  if (!buffer.IsEmpty()) RegisterVcpuRun(fd, mapping);
  return buffer;
}

Napi::Value AllocateMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t size;
  if (!SizeArg(info, 0, &size)) return ThrowType(env, "allocateMemory(size)");
  if (size == 0) return ThrowErrno(env, "mmap", EINVAL, "guest memory of size 0");
  // Refused before anything is created: memory JavaScript could not be given is not allocated.
  if (size > node::Buffer::kMaxLength) {
    return ThrowErrno(env, "mmap", ENOMEM, "larger than the largest ArrayBuffer Node can create (buffer.constants.MAX_LENGTH)");
  }
  // A memfd rather than MAP_ANONYMOUS so that another thread (a worker has its own JavaScript
  // heap) can map the very same pages with a lifetime of its own. Zero-filled, like anonymous
  // memory; pages are allocated on first touch.
  int memfd = memfd_create("kvm-guest-ram", MFD_CLOEXEC);
  if (memfd < 0) return ThrowErrno(env, "memfd_create", errno);
  if (ftruncate(memfd, static_cast<off_t>(size)) < 0) {
    int err = errno;
    close(memfd);
    return ThrowErrno(env, "ftruncate", err, "guest memory");
  }
  void* addr = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
  if (addr == MAP_FAILED) {
    int err = errno;
    close(memfd);
    return ThrowErrno(env, "mmap", err, "guest memory");
  }
  // From here the mapping owns the memfd: it is closed with the last reference, exactly once.
  auto mapping = std::make_shared<Mapping>(addr, size, memfd);
  Napi::Value result = MemoryResult(env, mapping, size);
  if (result.IsEmpty()) return result;
  result.As<Napi::Object>().Set("memfd", Napi::Number::New(env, memfd));
  return result;
}

Napi::Value MapMemfd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t size;
  if (!info[0].IsNumber() || !SizeArg(info, 1, &size)) return ThrowType(env, "mapMemfd(memfd, size)");
  int memfd = info[0].As<Napi::Number>().Int32Value();
  if (size == 0) return ThrowErrno(env, "mmap", EINVAL, "mapping of size 0");
  // The number allocateMemory handed out names guest RAM only while a mapping of it lives (the
  // last one closes it); after that the number may belong to any file opened since. Map it only
  // while it is still one of ours.
  {
    std::lock_guard<std::mutex> guard(liveLock);
    bool ours = false;
    for (const auto& entry : live) ours = ours || (entry.second.mapping && entry.second.mapping->memfd == memfd);
    if (!ours) return ThrowErrno(env, "mmap", EBADF, "not the memfd of live guest memory");
  }
  // Pages past the end of the file would raise SIGBUS when JavaScript touched them: refuse a
  // mapping longer than the memfd (mmap itself allows it).
  struct stat st;
  if (fstat(memfd, &st) < 0) return ThrowErrno(env, "fstat", errno, "guest memory memfd");
  if (!S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) < size) {
    return ThrowErrno(env, "mmap", EINVAL, "mapping longer than the guest memory memfd");
  }
  if (size > node::Buffer::kMaxLength) {
    return ThrowErrno(env, "mmap", ENOMEM, "larger than the largest ArrayBuffer Node can create (buffer.constants.MAX_LENGTH)");
  }
  void* addr = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
  if (addr == MAP_FAILED) return ThrowErrno(env, "mmap", errno, "guest memory memfd");
  return MemoryResult(env, std::make_shared<Mapping>(addr, size, -1), size);
}

Napi::Value Release(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArrayBuffer()) return ThrowType(env, "release(arrayBuffer)");
  Napi::ArrayBuffer buffer = info[0].As<Napi::ArrayBuffer>();
  if (buffer.IsDetached()) return env.Undefined();
  void* data = buffer.Data();
  std::shared_ptr<Mapping> mapping;
  {
    std::lock_guard<std::mutex> guard(liveLock);
    auto it = live.find(data);
    if (it != live.end()) {
      mapping = std::move(it->second.mapping);
      live.erase(it);
    }
  }
  if (!mapping) return ThrowType(env, "release: not a buffer this addon mapped");
  // Detach first: no JavaScript can reach the pages once they may be unmapped. The finalizer,
  // when the (now empty) ArrayBuffer is collected, finds nothing left to drop.
  buffer.Detach();
  mapping.reset();
  return env.Undefined();
}

}  // namespace kvmhost
