#!/bin/busybox sh
# /init of the qemu-lite test initramfs (built by tools/linux/fetch.mjs).
#
# The kernel runs this as PID 1 with /dev/console open (the initramfs ships a
# /dev/console node, so that works before devtmpfs is mounted). It prints the
# marker the end-to-end test and the bench wait for, then either:
#   - qemu_lite_test=1 on the kernel command line: prints a few facts about the
#     machine and runs a few busybox commands, each between "=== name" lines
#     (the test checks them against what the host computes from the same files),
#     then shuts the machine down: `poweroff -f` where the kernel found ACPI
#     (the FADT's PM1a control block powers off; QEMU's microvm and qemu-lite
#     both describe one); without ACPI the kernel would turn a power-off into a
#     halt with interrupts off, which a VMM cannot tell from a hang, so
#     `reboot -f` instead, which the kernel carries out through the i8042 reset
#     line and a VMM run with -no-reboot ends on; or
#   - otherwise: starts an interactive busybox shell on the console.
# Either way it first loads the modules listed in /etc/modules (virtio and ext4,
# which Debian builds as modules; fetch.mjs puts them in /lib/modules), after
# the marker, so the time to the marker is the kernel's alone.
/bin/busybox mkdir -p /proc /sys /dev /tmp /usr/bin /usr/sbin /sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "QEMU_LITE_LINUX_MARKER: userspace reached"
if [ -f /etc/modules ]; then
  for m in $(cat /etc/modules); do insmod /lib/modules/$m.ko || echo "insmod $m failed"; done
fi

if grep -q 'qemu_lite_test=1' /proc/cmdline; then
  echo "=== uname -a"
  uname -a
  echo "=== cat /proc/cpuinfo"
  cat /proc/cpuinfo
  echo "=== cpu flags"
  grep -m 1 '^flags' /proc/cpuinfo
  # What the kernel concluded from CPUID and IA32_ARCH_CAPABILITIES: one "file:state" line each.
  echo "=== vulnerabilities"
  grep . /sys/devices/system/cpu/vulnerabilities/*
  echo "=== free"
  free
  echo "=== ls /"
  ls /
  # A file the host hashes too (the initramfs's own busybox): SHA-256 in the guest's userspace.
  echo "=== sha256sum /bin/busybox"
  sha256sum /bin/busybox
  # 10,000 lines fetch.mjs wrote in a known order; the test sorts them on the host and compares.
  echo "=== sort"
  sort /etc/sort-input.txt >/tmp/sorted.txt
  wc -l </tmp/sorted.txt
  sha256sum </tmp/sorted.txt
  head -n 3 /tmp/sorted.txt
  tail -n 3 /tmp/sorted.txt
  # SMP (qemu-lite -smp N): the CPUs the kernel brought up, then one sha256sum per CPU at once,
  # each to completion; /proc/stat's per-CPU lines before and after show which CPUs ran them.
  echo "=== smp"
  n=$(nproc)
  echo "nproc $n"
  grep '^cpu[0-9]' /proc/stat
  i=0
  while [ $i -lt $n ]; do sha256sum /bin/busybox >/tmp/par.$i & i=$((i + 1)); done
  wait
  cat /tmp/par.*
  grep '^cpu[0-9]' /proc/stat
  # Disks (the test gives -drive if=virtio twice): vda a raw image whose sector 0 starts with
  # a line of text and which gets a line written at sector 8; vdb an ext4 image made with
  # mkfs.ext4 -d, mounted, read, and written to. The test checks both files after power-off.
  # busybox has no lspci: the same facts from sysfs, with the driver bound to each function.
  # Shell builtins only (read, cd -P, ${..##}): every fork costs about half a second of a
  # software-engine boot, and `$(cat …)` per field made this section ~20 s.
  echo "=== pci"
  for d in /sys/bus/pci/devices/*; do
    read vendor <$d/vendor; read device <$d/device; read class <$d/class; read irq <$d/irq
    drv=none
    if [ -e $d/driver ]; then cd -P $d/driver && drv=${PWD##*/}; cd /; fi
    echo "${d##*/} $vendor $device $class irq=$irq driver=$drv"
  done
  echo "=== virtio-blk"
  if [ -b /dev/vda ]; then
    read size </sys/block/vda/size; read serial </sys/block/vda/serial; read ro </sys/block/vda/ro
    echo "size $size serial $serial ro $ro"
    dd if=/dev/vda bs=512 count=1 2>/dev/null | head -n 1
    echo "written by the guest at sector 8" | dd of=/dev/vda bs=512 seek=8 conv=sync,fsync 2>/dev/null
    echo "dd status $?"
  fi
  echo "=== ext4"
  if [ -b /dev/vdb ] && mkdir -p /mnt && mount -t ext4 /dev/vdb /mnt; then
    cat /mnt/hello.txt
    sha256sum /mnt/random.bin
    echo "written by the guest on ext4" >/mnt/guest.txt
    sync
    umount /mnt
    echo "umount status $?"
  fi
  # The network (-nic user: qemu-lite's gateway answers DHCP, ARP and ping; eth1 on
  # -netdev socket) and the entropy device (-device virtio-rng-pci), when the VMM gave them.
  echo "=== virtio-net"
  if [ -e /sys/class/net/eth0 ]; then
    read mac </sys/class/net/eth0/address
    echo "mac $mac"
    printf '#!/bin/sh\n[ "$1" = bound ] && ifconfig $interface $ip netmask $subnet && route add default gw $router && echo "bound $ip/$subnet router $router dns $dns" >/tmp/lease\n' >/tmp/udhcpc.sh
    chmod +x /tmp/udhcpc.sh
    ip link set eth0 up
    udhcpc -i eth0 -q -n -t 5 -T 1 -s /tmp/udhcpc.sh >/dev/null 2>&1
    cat /tmp/lease
    ping -c 2 -W 5 10.0.2.2 | grep 'packets transmitted'
    # The NAT (qemu_lite_http=PORT: the test's HTTP server on the host's loopback, 10.0.2.2
    # here): a GET through it; then `nc -l` on port 7777 answers the test's connection to its
    # hostfwd=tcp:…-:7777 port, which the test makes when the second GET says nc listens.
    read cmdline </proc/cmdline
    http=
    for w in $cmdline; do case $w in qemu_lite_http=*) http=${w#*=} ;; esac; done
    if [ -n "$http" ]; then
      timeout 30 wget -q -O - http://10.0.2.2:$http/nat
      echo "from the guest" | timeout 60 nc -l -p 7777 >/tmp/fwd.txt &
      timeout 30 wget -q -O /dev/null http://10.0.2.2:$http/listening
      wait $!
      read fwd </tmp/fwd.txt
      echo "hostfwd got: $fwd"
      # Durability: a file on the ext4 disk, `sync`, then a GET after which the test copies the
      # image while this GET waits: the copy is what a kill of qemu-lite right after the sync
      # leaves, and the test finds the file in it after e2fsck replays the journal.
      if [ -b /dev/vdb ] && mount -t ext4 /dev/vdb /mnt; then
        echo "synced by the guest before the host's copy" >/mnt/synced.txt
        sync
        timeout 30 wget -q -O /dev/null http://10.0.2.2:$http/synced
        umount /mnt
      fi
    fi
  fi
  # A second NIC on -netdev socket: a static address, and the test's peer answers ping.
  if [ -e /sys/class/net/eth1 ]; then
    read mac </sys/class/net/eth1/address
    echo "mac1 $mac"
    ifconfig eth1 192.168.76.15 netmask 255.255.255.0 up
    ping -c 2 -W 5 192.168.76.2 | grep 'packets transmitted'
  fi
  echo "=== virtio-rng"
  if [ -e /dev/hwrng ]; then
    read current </sys/class/misc/hw_random/rng_current
    echo "current $current"
    echo "bytes $(head -c 64 /dev/hwrng | wc -c)"
    a=$(head -c 32 /dev/hwrng | sha256sum)
    b=$(head -c 32 /dev/hwrng | sha256sum)
    [ "$a" != "$b" ] && echo "two reads differ"
  fi
  # The virtio console (-device virtio-serial-pci -device virtconsole): Linux's hvc0, whose
  # output qemu-lite puts with the serial port's. No newline: n_tty would write it apart from the
  # text, and serial bytes still queued could come out between the two (linux-net.ts splitHvc0).
  echo "=== virtio-console"
  if [ -e /dev/hvc0 ]; then
    printf '[hvc0: written by the guest to the virtio console]' >/dev/hvc0
    echo "hvc0 written"
  fi
  # Two guests on one network: the test boots two machines at once (-accel vmx and svm), each
  # with a third NIC on the same -netdev socket,mcast= group, and qemu_lite_p2p=SELF:PEER:DEADLINE
  # (192.168.77.SELF here). Each listens for the other's file, waits for the peer to answer ping
  # until DEADLINE seconds of uptime (the boots reach /init minutes apart; the test picks a
  # deadline that leaves this boot time to power off within its own bound), pings it three
  # times, pushes it a file of random bytes with busybox nc, and waits for the peer's file; both
  # sides print the hashes.
  echo "=== p2p"
  read cmdline </proc/cmdline
  p2p=
  for w in $cmdline; do case $w in qemu_lite_p2p=*) p2p=${w#*=} ;; esac; done
  if [ -n "$p2p" ] && [ -e /sys/class/net/eth2 ]; then
    self=${p2p%%:*}; rest=${p2p#*:}; peer=192.168.77.${rest%%:*}; deadline=${rest#*:}
    read up _ </proc/uptime; up=${up%%.*}
    left=$((deadline - up + 60)); [ $left -lt 60 ] && left=60
    head -c 65536 /dev/urandom >/tmp/p2p-out
    h=$(sha256sum </tmp/p2p-out)
    echo "sent ${h%% *}"
    # busybox nc half-closes when its stdin ends, and the pushing nc leaves at that EOF before it
    # has sent the whole file: the listener's stdin is a FIFO opened read-write, which never ends.
    mkfifo /tmp/p2p-fifo
    timeout $left nc -l -p 7100 <>/tmp/p2p-fifo >/tmp/p2p-in &
    listener=$!
    ifconfig eth2 192.168.77.$self netmask 255.255.255.0 up
    came=1
    until ping -c 1 -W 1 $peer >/dev/null 2>&1; do
      read up _ </proc/uptime
      if [ ${up%%.*} -ge $deadline ]; then came=0; break; fi
    done
    if [ $came = 1 ]; then
      ping -c 3 -W 5 $peer | grep 'packets transmitted'
      # The peer's listener may still be starting: a refused connection is tried again.
      tries=0
      until nc $peer 7100 </tmp/p2p-out 2>/dev/null; do
        tries=$((tries + 1)); [ $tries -ge 10 ] && break; sleep 1
      done
      [ $tries -lt 10 ] && echo "pushed"
      wait $listener
      h=$(sha256sum </tmp/p2p-in)
      echo "got $(wc -c </tmp/p2p-in) ${h%% *}"
    else
      echo "peer $peer never came by $deadline s of uptime"
      kill $listener
    fi
  fi
  # The virtio functions' interrupts: with the in-kernel irqchip, MSI-X vectors (one per queue
  # and one for configuration changes), each with the count it took.
  echo "=== interrupts"
  grep virtio /proc/interrupts
  echo "=== end"
  if [ -d /sys/firmware/acpi/tables ]; then poweroff -f; else reboot -f; fi
  sleep 5
fi

echo "busybox shell on the serial console; 'poweroff -f' to leave."
# setsid + cttyhack give the shell a controlling terminal, so Ctrl-C works.
exec setsid cttyhack sh -l
