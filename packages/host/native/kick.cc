#include "kick.h"

#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <mutex>
#include <unordered_map>

#include "errno-error.h"

namespace kvmhost {

namespace {

struct VcpuEntry {
  std::shared_ptr<Mapping> run;
  uint64_t token;
  // The thread inside KVM_RUN on this vCPU, 0 when none.
  std::atomic<pid_t> tid{0};
};

std::mutex registryLock;
std::unordered_map<int, std::shared_ptr<VcpuEntry>> registry;
// Tokens tell a vCPU from a later one that got the same fd number.
uint64_t nextToken = 1;

std::once_flag signalOnce;

// A real-time signal: Node takes SIGUSR1 (the inspector) and V8 SIGPROF, so QEMU's SIG_IPI
// (SIGUSR1) is not ours to use. glibc keeps SIGRTMIN-2/-1 for itself; SIGRTMIN() is past them.
int TheSignal() { return SIGRTMIN + 4; }

void NoOp(int) {}

void InstallSignalHandler() {
  std::call_once(signalOnce, [] {
    struct sigaction action = {};
    action.sa_handler = NoOp;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART: KVM_RUN must come back with EINTR
    sigaction(TheSignal(), &action, nullptr);
  });
}

// Each thread that runs a vCPU must not block the signal (Node may start threads with signals
// blocked); done once per thread.
void UnblockInThisThread() {
  thread_local bool unblocked = false;
  if (unblocked) return;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, TheSignal());
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  unblocked = true;
}

std::shared_ptr<VcpuEntry> Find(int fd) {
  std::lock_guard<std::mutex> guard(registryLock);
  auto it = registry.find(fd);
  return it == registry.end() ? nullptr : it->second;
}

inline volatile __u8* ImmediateExit(const std::shared_ptr<Mapping>& run) {
  return &static_cast<struct kvm_run*>(run->addr)->immediate_exit;
}

}  // namespace

void RegisterVcpuRun(int vcpuFd, const std::shared_ptr<Mapping>& run) {
  InstallSignalHandler();
  std::lock_guard<std::mutex> guard(registryLock);
  // Another thread mapping the same vCPU (a worker that runs a vCPU the main thread created)
  // keeps the first registration: every mapping shows the same kvm_run page, and kick handles
  // already handed out stay valid.
  if (registry.count(vcpuFd) != 0) return;
  auto entry = std::make_shared<VcpuEntry>();
  entry->run = run;
  entry->token = nextToken++;
  registry[vcpuFd] = entry;
}

void UnregisterVcpu(int fd) {
  std::lock_guard<std::mutex> guard(registryLock);
  registry.erase(fd);
}

int RunVcpu(int vcpuFd) {
  std::shared_ptr<VcpuEntry> entry = Find(vcpuFd);
  if (!entry) return ioctl(vcpuFd, KVM_RUN, 0);  // no kvm_run mapped: nothing can kick it
  UnblockInThisThread();
  entry->tid.store(static_cast<pid_t>(syscall(SYS_gettid)), std::memory_order_seq_cst);
  int result = ioctl(vcpuFd, KVM_RUN, 0);
  int err = errno;
  entry->tid.store(0, std::memory_order_seq_cst);
  if (result < 0 && err == EINTR) {
    // The kick is consumed; the next run enters the guest again.
    __atomic_store_n(ImmediateExit(entry->run), 0, __ATOMIC_SEQ_CST);
  }
  errno = err;
  return result;
}

Napi::Value KickHandle(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) return ThrowType(env, "kickHandle(vcpuFd)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  std::shared_ptr<VcpuEntry> entry = Find(fd);
  if (!entry) return ThrowErrno(env, "kickHandle", EBADF, "no kvm_run is mapped for this fd");
  Napi::Object handle = Napi::Object::New(env);
  handle.Set("fd", Napi::Number::New(env, fd));
  handle.Set("token", Napi::Number::New(env, static_cast<double>(entry->token)));
  return handle;
}

Napi::Value Kick(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) return ThrowType(env, "kick({ fd, token })");
  Napi::Object handle = info[0].As<Napi::Object>();
  Napi::Value fdValue = handle.Get("fd");
  Napi::Value tokenValue = handle.Get("token");
  if (!fdValue.IsNumber() || !tokenValue.IsNumber()) return ThrowType(env, "kick({ fd, token })");
  int fd = fdValue.As<Napi::Number>().Int32Value();
  // Tokens are integers from 1; anything else names no vCPU (and converting a negative, NaN or
  // out-of-range double to uint64_t would be undefined behaviour; a fraction would truncate
  // into a real token).
  double tokenNumber = tokenValue.As<Napi::Number>().DoubleValue();
  if (!(tokenNumber >= 1 && tokenNumber <= 9007199254740991.0) || tokenNumber != std::floor(tokenNumber)) {
    return Napi::Boolean::New(env, false);
  }
  uint64_t token = static_cast<uint64_t>(tokenNumber);
  std::shared_ptr<VcpuEntry> entry = Find(fd);
  if (!entry || entry->token != token) return Napi::Boolean::New(env, false);
  __atomic_store_n(ImmediateExit(entry->run), 1, __ATOMIC_SEQ_CST);
  pid_t tid = entry->tid.load(std::memory_order_seq_cst);
  if (tid != 0) syscall(SYS_tgkill, getpid(), tid, TheSignal());
  return Napi::Boolean::New(env, true);
}

Napi::Value KickSignal(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), TheSignal());
}

}  // namespace kvmhost
