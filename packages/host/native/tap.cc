#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "errno-error.h"

namespace kvmhost {

namespace {

// A frame is at most 65535 bytes on a tap without offloads (its MTU is 1500 unless raised).
constexpr size_t kMaxFrame = 65536;

struct TapReader {
  int fd = -1;
  int stopFd = -1;  // an eventfd: written once to stop the thread
  std::thread thread;
  Napi::ThreadSafeFunction onFrame;
};

std::mutex readersLock;
std::map<int, std::unique_ptr<TapReader>> readers;

void ReadLoop(TapReader* r) {
  std::vector<uint8_t> buf(kMaxFrame);
  for (;;) {
    pollfd fds[2] = {{r->fd, POLLIN, 0}, {r->stopFd, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) != 0) return;
    // Each read(2) of a tap is one frame; drain what is there before polling again.
    for (;;) {
      ssize_t n = read(r->fd, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      auto* frame = new std::vector<uint8_t>(buf.begin(), buf.begin() + n);
      napi_status s = r->onFrame.NonBlockingCall(frame, [](Napi::Env env, Napi::Function cb, std::vector<uint8_t>* f) {
        if (env != nullptr && cb != nullptr) {
          Napi::Uint8Array bytes = Napi::Uint8Array::New(env, f->size());
          memcpy(bytes.Data(), f->data(), f->size());
          cb.Call({bytes});
        }
        delete f;
      });
      if (s != napi_ok) {
        delete frame;
        return;  // the function is being released: the tap is closing
      }
    }
  }
}

int FdArg(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) return -1;
  return info[0].As<Napi::Number>().Int32Value();
}

}  // namespace

Napi::Value OpenTap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) return ThrowType(env, "openTap(ifname: string)");
  std::string name = info[0].As<Napi::String>().Utf8Value();
  if (name.empty() || name.size() >= IFNAMSIZ) return ThrowErrno(env, "openTap", EINVAL, "interface names are 1 to 15 bytes");
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return ThrowErrno(env, "open", errno, "/dev/net/tun");
  ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  // IFF_ONE_QUEUE is obsolete (ignored since Linux 3.8); no IFF_VNET_HDR: no offloads were offered.
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  memcpy(ifr.ifr_name, name.data(), name.size());
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    return ThrowErrno(env, "ioctl(TUNSETIFF)", err, name.c_str());
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("fd", Napi::Number::New(env, fd));
  out.Set("ifname", Napi::String::New(env, ifr.ifr_name));
  return out;
}

Napi::Value TapStart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info);
  if (fd < 0 || info.Length() < 2 || !info[1].IsFunction()) return ThrowType(env, "tapStart(fd: number, onFrame: function)");
  std::lock_guard<std::mutex> lock(readersLock);
  if (readers.count(fd) != 0) return ThrowErrno(env, "tapStart", EBUSY, "the tap is already being read");
  auto r = std::make_unique<TapReader>();
  r->fd = fd;
  r->stopFd = eventfd(0, EFD_CLOEXEC);
  if (r->stopFd < 0) return ThrowErrno(env, "eventfd", errno);
  r->onFrame = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "kvm-host-tap", 0, 1);
  // The machine's run keeps Node alive; a tap left open must not.
  r->onFrame.Unref(env);
  r->thread = std::thread(ReadLoop, r.get());
  readers[fd] = std::move(r);
  return env.Undefined();
}

Napi::Value TapWrite(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info);
  if (fd < 0 || info.Length() < 2 || !info[1].IsTypedArray()) return ThrowType(env, "tapWrite(fd: number, frame: Uint8Array)");
  Napi::TypedArray view = info[1].As<Napi::TypedArray>();
  const uint8_t* data = static_cast<const uint8_t*>(view.ArrayBuffer().Data()) + view.ByteOffset();
  ssize_t n;
  do n = write(fd, data, view.ByteLength());
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == ENOBUFS) return Napi::Number::New(env, 0);
    return ThrowErrno(env, "write", errno, "tap");
  }
  return Napi::Number::New(env, static_cast<double>(n));
}

Napi::Value TapClose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info);
  if (fd < 0) return ThrowType(env, "tapClose(fd: number)");
  std::unique_ptr<TapReader> r;
  {
    std::lock_guard<std::mutex> lock(readersLock);
    auto it = readers.find(fd);
    if (it != readers.end()) {
      r = std::move(it->second);
      readers.erase(it);
    }
  }
  if (r) {
    uint64_t one = 1;
    ssize_t ignored = write(r->stopFd, &one, sizeof one);
    (void)ignored;
    r->thread.join();
    r->onFrame.Release();
    close(r->stopFd);
  }
  close(fd);
  return env.Undefined();
}

}  // namespace kvmhost
