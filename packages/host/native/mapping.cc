#include "mapping.h"

#include <errno.h>
#include <sys/mman.h>
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

// What an ArrayBuffer's finalizer owns. `mapping` is reset by an explicit release.
struct Holder {
  std::shared_ptr<Mapping> mapping;
};

// Live ArrayBuffers by data pointer, so release(buffer) can find its holder. Process-wide (not
// per addon instance) because finalizers may run while a worker's instance is being torn down.
std::mutex liveLock;
std::unordered_map<void*, Holder*> live;

void Finalize(Napi::Env, void* data, Holder* holder) {
  {
    std::lock_guard<std::mutex> guard(liveLock);
    auto it = live.find(data);
    if (it != live.end() && it->second == holder) live.erase(it);
  }
  delete holder;
}

Napi::ArrayBuffer Expose(Napi::Env env, const std::shared_ptr<Mapping>& mapping, size_t length) {
  Holder* holder = new Holder{mapping};
  {
    std::lock_guard<std::mutex> guard(liveLock);
    live[mapping->addr] = holder;
  }
  return Napi::ArrayBuffer::New(env, mapping->addr, length, Finalize, holder);
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

Napi::Object MemoryResult(Napi::Env env, const std::shared_ptr<Mapping>& mapping, size_t size) {
  Napi::Object result = Napi::Object::New(env);
  result.Set("buffer", Expose(env, mapping, size));
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
  RegisterVcpuRun(fd, mapping);
  return Expose(env, mapping, size);
}

Napi::Value AllocateMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t size;
  if (!SizeArg(info, 0, &size)) return ThrowType(env, "allocateMemory(size)");
  if (size == 0) return ThrowErrno(env, "mmap", EINVAL, "guest memory of size 0");
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
  auto mapping = std::make_shared<Mapping>(addr, size, memfd);
  Napi::Object result = MemoryResult(env, mapping, size);
  result.Set("memfd", Napi::Number::New(env, memfd));
  return result;
}

Napi::Value MapMemfd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t size;
  if (!info[0].IsNumber() || !SizeArg(info, 1, &size)) return ThrowType(env, "mapMemfd(memfd, size)");
  int memfd = info[0].As<Napi::Number>().Int32Value();
  if (size == 0) return ThrowErrno(env, "mmap", EINVAL, "mapping of size 0");
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
  Holder* holder = nullptr;
  {
    std::lock_guard<std::mutex> guard(liveLock);
    auto it = live.find(data);
    if (it != live.end()) {
      holder = it->second;
      live.erase(it);
    }
  }
  if (holder == nullptr) return ThrowType(env, "release: not a buffer this addon mapped");
  // Detach first: no JavaScript can reach the pages once they may be unmapped. The holder
  // itself is freed by the finalizer when the (now empty) ArrayBuffer is collected.
  buffer.Detach();
  holder->mapping.reset();
  return env.Undefined();
}

}  // namespace kvmhost
