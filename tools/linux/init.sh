#!/bin/busybox sh
# /init of the qemu-lite test initramfs (built by tools/linux/fetch.mjs).
#
# The kernel runs this as PID 1 with /dev/console open (the initramfs ships a
# /dev/console node, so that works before devtmpfs is mounted). It prints the
# marker the end-to-end test and the bench wait for, then either:
#   - qemu_lite_test=1 on the kernel command line: prints a few facts about the
#     machine between "=== name" lines and powers off (`poweroff -f`: no init
#     system to ask, and the kernel turns it into a halt when it has no way to
#     power the machine off); or
#   - otherwise: starts an interactive busybox shell on the console.
/bin/busybox mkdir -p /proc /sys /dev /tmp /usr/bin /usr/sbin /sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "QEMU_LITE_LINUX_MARKER: userspace reached"

if grep -q 'qemu_lite_test=1' /proc/cmdline; then
  echo "=== uname -a"
  uname -a
  echo "=== cat /proc/cpuinfo"
  cat /proc/cpuinfo
  echo "=== ls /"
  ls /
  echo "=== end"
  poweroff -f
  # Not reached when the power-off works; a halted CPU is the fallback.
  sleep 5
  exit 0
fi

echo "busybox shell on the serial console; 'poweroff -f' to leave."
# setsid + cttyhack give the shell a controlling terminal, so Ctrl-C works.
exec setsid cttyhack sh -l
