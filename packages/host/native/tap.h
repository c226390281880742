// A TAP interface for a VMM's NIC (`-netdev tap,ifname=…`), the way QEMU's net/tap-linux.c opens
// one: /dev/net/tun, then TUNSETIFF with IFF_TAP | IFF_NO_PI (whole Ethernet frames, no packet
// information header). Node cannot issue that ioctl, nor watch a character device for input, so
// the addon does both: a reader thread per tap poll()s the fd and hands each frame to a
// JavaScript callback on the thread that started it.
#pragma once

#include <napi.h>

namespace kvmhost {

// openTap(ifname) → { fd, ifname }: the fd non-blocking and close-on-exec, ifname the name the
// kernel gave (ifname may be a pattern such as "tap%d"). Errors carry errno: ENOENT (no
// /dev/net/tun), EPERM (no CAP_NET_ADMIN, or a persistent tap owned by someone else), EBUSY (the
// tap is already attached to another process).
Napi::Value OpenTap(const Napi::CallbackInfo& info);
// tapStart(fd, onFrame): reads frames on a thread of its own; onFrame(Uint8Array) per frame.
Napi::Value TapStart(const Napi::CallbackInfo& info);
// tapWrite(fd, Uint8Array) → bytes written, or 0 when the kernel's queue is full (the frame is
// dropped, as a NIC's would be).
Napi::Value TapWrite(const Napi::CallbackInfo& info);
// tapClose(fd): stops the reader (joins it) and closes the fd. A second close is a no-op.
Napi::Value TapClose(const Napi::CallbackInfo& info);

}  // namespace kvmhost
