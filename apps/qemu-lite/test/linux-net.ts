/**
 * The network and entropy devices of the shared Linux boots (linux.soft.test.ts,
 * linux.kvm.test.ts): `-nic user` (a virtio-net on qemu-lite's user-mode gateway), a second
 * virtio-net on `-netdev socket,connect=` to a peer this file runs (QEMU's framing, answering
 * ARP and ping for 192.168.76.2), and `-device virtio-rng-pci`, which the scripted /init
 * (tools/linux/init.sh) uses once it has loaded Debian's virtio_net and virtio-rng modules: the
 * NICs' MACs, a DHCP lease from the gateway (busybox udhcpc), two pings of the gateway and two
 * of the socket peer answered, `-netdev user`'s NAT (busybox wget from this file's HTTP server
 * on the host's loopback, 10.0.2.2 to the guest, and a connection from this file through
 * `hostfwd=tcp:127.0.0.1:PORT-:7777` into a guest `nc -l`), random bytes from /dev/hwrng, and a line written to the virtio
 * console (`-device virtio-serial-pci -device virtconsole`, Linux's hvc0).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer, type Server } from 'node:net';
import { expect } from 'vitest';
import {
  checksum,
  ETH_P_ARP,
  ETH_P_IP,
  ethFrame,
  get16,
  get32,
  IPPROTO_ICMP,
  ipv4,
  ipv4Frame,
  put16,
  put32,
} from '../src/devices/net/inet.js';
import { section } from './linux-checks.js';
import { freePort } from './ports.js';

/** The socket peer's address; the guest gives eth1 192.168.76.15/24 (init.sh). */
const PEER_IP = ipv4('192.168.76.2');
const PEER_MAC = new Uint8Array([0x02, 0, 0, 0, 0x76, 0x02]);

/** A `-netdev socket` peer, and the host end of `-netdev user`'s NAT: what they saw, and their ports. */
export interface NetPeer {
  readonly port: number;
  /** The HTTP server the guest reaches at 10.0.2.2:httpPort (qemu_lite_http= on its command line). */
  readonly httpPort: number;
  /** The host port of `hostfwd=tcp:127.0.0.1:fwdPort-:7777`. */
  readonly fwdPort: number;
  readonly seen: {
    arp: number;
    echo: number;
    frames: number;
    /** The paths the guest's wget asked for. */
    http: string[];
    /** What the guest's `nc -l` sent back through hostfwd, and connection attempts made. */
    fwdReply: string;
    fwdTries: number;
    /** The copy of the ext4 image taken when the guest said it had synced (GET /synced). */
    snapshot?: string;
  };
  close(): void;
}

/** Guest port of the hostfwd rule (init.sh's `nc -l -p 7777`). */
const FWD_GUEST_PORT = 7777;

/**
 * Connects to the hostfwd port, sends a line, keeps the line the guest's `nc -l` sends back and
 * then ends; tries again (up to 20 times) while the guest refuses (nc not listening yet: its RST
 * closes our connection with nothing said).
 */
function talkThroughHostfwd(port: number, seen: NetPeer['seen']): void {
  seen.fwdTries++;
  const s = connect({ host: '127.0.0.1', port });
  let reply = '';
  s.on('connect', () => s.write('from the host\n'));
  // Our side ends once the guest has answered (nc then sees EOF and exits), not before: an nc
  // that read EOF first might leave before it sent its line.
  s.on('data', (d) => {
    reply += d.toString();
    if (reply.endsWith('\n')) s.end();
  });
  s.on('error', () => s.destroy());
  s.on('close', () => {
    if (reply !== '') seen.fwdReply = reply;
    else if (seen.fwdTries < 20) setTimeout(() => talkThroughHostfwd(port, seen), 500);
  });
}

/**
 * A TCP server speaking QEMU's socket framing (a 4-byte big-endian length, then the frame) that
 * answers ARP for 192.168.76.2 and ICMP echo to it: the other end of the guest's eth1.
 */
export async function startNetPeer(options: { syncImage?: string } = {}): Promise<NetPeer> {
  const seen: NetPeer['seen'] = { arp: 0, echo: 0, frames: 0, http: [], fwdReply: '', fwdTries: 0 };
  const fwdPort = await freePort();
  const server: Server = createServer((s) => {
    let pending = Buffer.alloc(0);
    const send = (f: Uint8Array) => {
      const h = Buffer.alloc(4);
      h.writeUInt32BE(f.length);
      s.write(Buffer.concat([h, f]));
    };
    s.on('error', () => s.destroy());
    s.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readUInt32BE(0)) {
        const f = new Uint8Array(pending.subarray(4, 4 + pending.readUInt32BE(0)));
        pending = pending.subarray(4 + f.length);
        seen.frames++;
        const reply = answer(f, seen);
        if (reply) send(reply);
      }
    });
  });
  const http = createHttpServer((req, res) => {
    seen.http.push(req.url ?? '');
    if (req.url === '/nat') res.end('hello through the NAT\n');
    else if (req.url === '/synced') {
      // Taken while the guest waits for this answer, right after its `sync`: what a kill of
      // qemu-lite at this moment would leave on the host (its writes are synchronous).
      if (options.syncImage !== undefined) {
        seen.snapshot = `${options.syncImage}.at-sync`;
        copyFileSync(options.syncImage, seen.snapshot);
      }
      res.end();
    } else if (req.url === '/listening') {
      res.end();
      talkThroughHostfwd(fwdPort, seen);
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  const listen = (srv: { listen(p: number, h: string, cb: () => void): unknown; address(): unknown }) =>
    new Promise<number>((resolve) =>
      srv.listen(0, '127.0.0.1', () => resolve((srv.address() as { port: number }).port)),
    );
  const port = await listen(server);
  const httpPort = await listen(http);
  return {
    port,
    httpPort,
    fwdPort,
    seen,
    close: () => {
      server.close();
      http.close();
    },
  };
}

function answer(f: Uint8Array, seen: NetPeer['seen']): Uint8Array | undefined {
  if (f.length < 42) return undefined;
  const type = get16(f, 12);
  if (type === ETH_P_ARP && get16(f, 20) === 1 && get32(f, 38) === PEER_IP) {
    seen.arp++;
    const r = ethFrame(f.subarray(6, 12), PEER_MAC, ETH_P_ARP, 28);
    r.set(f.subarray(14, 20), 14); // htype, ptype, hlen, plen
    put16(r, 20, 2);
    r.set(PEER_MAC, 22);
    put32(r, 28, PEER_IP);
    r.set(f.subarray(22, 32), 32); // the asker's MAC and address
    return r;
  }
  if (type === ETH_P_IP && f[23] === IPPROTO_ICMP && get32(f, 30) === PEER_IP) {
    const ihl = (f[14] & 15) * 4;
    const icmp = f.slice(14 + ihl, 14 + get16(f, 16));
    if (icmp[0] !== 8) return undefined;
    seen.echo++;
    icmp[0] = 0;
    put16(icmp, 2, 0);
    put16(icmp, 2, checksum(icmp, 0, icmp.length));
    return ipv4Frame(f.subarray(6, 12), PEER_MAC, PEER_IP, get32(f, 26), IPPROTO_ICMP, icmp);
  }
  return undefined;
}

/** The qemu-lite arguments, after the disks' (so the NICs and the rng follow them on the bus). */
export function netArgs(peer: NetPeer): string[] {
  return [
    '-nic',
    `user,hostfwd=tcp:127.0.0.1:${peer.fwdPort}-:${FWD_GUEST_PORT}`,
    '-netdev',
    `socket,id=s0,connect=127.0.0.1:${peer.port}`,
    '-device',
    'virtio-net-pci,netdev=s0',
    '-device',
    'virtio-rng-pci',
    '-device',
    'virtio-serial-pci',
    '-device',
    'virtconsole',
  ];
}

/** What the kernel command line gets for /init's NAT check: the HTTP server's port. */
export function netCmdline(peer: NetPeer): string {
  return `qemu_lite_http=${peer.httpPort}`;
}

/**
 * The two soft-engine boots' own network (init.sh's `=== p2p`): a third NIC on each, on one
 * `-netdev socket,mcast=` group on the loopback, so the two machines (two qemu-lite processes)
 * share an Ethernet as QEMU's do; `self` is the guest's 192.168.77.SELF.
 */
export interface P2p {
  readonly port: number;
  readonly self: number;
  readonly peer: number;
  /**
   * Until when (seconds of the guest's uptime) it waits for its peer to answer ping: the boots
   * reach /init minutes apart, and the one that waits must still power off within its bound.
   */
  readonly deadlineS: number;
}

/** The NIC's qemu-lite arguments, after netArgs' (so the other functions keep their slots). */
export function p2pArgs(p: P2p): string[] {
  return [
    '-netdev',
    `socket,id=p2p,mcast=230.0.0.77:${p.port},localaddr=127.0.0.1`,
    '-device',
    `virtio-net-pci,netdev=p2p,mac=52:54:00:77:00:${p.self.toString(16).padStart(2, '0')}`,
  ];
}

/** The kernel command line's part for it (init.sh reads qemu_lite_p2p=SELF:PEER:DEADLINE). */
export function p2pCmdline(p: P2p): string {
  return `qemu_lite_p2p=${p.self}:${p.peer}:${p.deadlineS}`;
}

/**
 * What each guest printed in `=== p2p`: the hash of the file it sent, its three pings of the
 * other answered, the push done, and the other's file received whole (its size and hash equal to
 * what the other said it sent). `a` and `b` are the two boots' serial text.
 */
export function checkP2p(a: string, b: string, names: [string, string], context: string): void {
  const parse = (out: string, name: string) => {
    const lines = section(out, 'p2p').trim().split('\n');
    const never = lines.find((l) => l.includes('never came'));
    expect(never, `${name}: the other machine never answered; ${context}`).toBeUndefined();
    expect(lines.length, `${name}'s p2p section: ${lines.join(' | ')}; ${context}`).toBe(4);
    expect(lines[0], context).toMatch(/^sent [0-9a-f]{64}$/);
    expect(lines.slice(1, 3), `${name}; ${context}`).toEqual([
      '3 packets transmitted, 3 packets received, 0% packet loss',
      'pushed',
    ]);
    return { sent: lines[0].slice(5), got: lines[3] };
  };
  const [pa, pb] = [parse(a, names[0]), parse(b, names[1])];
  expect(pa.got, `${names[0]} received ${names[1]}'s file`).toBe(`got 65536 ${pb.sent}`);
  expect(pb.got, `${names[1]} received ${names[0]}'s file`).toBe(`got 65536 ${pa.sent}`);
}

/**
 * The PCI functions they add after `disks` disks (slot 2 + disks on): ID, class, the PIIX IRQ,
 * the driver; with `p2p`, a third NIC (the p2p one) before the rng and the console.
 */
export function netPciLines(disks: number, p2p = false): string[] {
  // PIRQ (slot + pin − 1) mod 4 → IRQs 10, 10, 11, 11 (src/devices/pci/pci-bus.ts, pin INTA).
  const irq = (slot: number) => [10, 10, 11, 11][slot & 3];
  const slot = 2 + disks;
  const fn = (s: number) => `0000:00:${s.toString(16).padStart(2, '0')}.0`;
  // Every NIC comes before the rng and the console (pc-pci.ts), so the p2p NIC is the third.
  const nics = p2p ? 3 : 2;
  const lines: string[] = [];
  for (let n = 0; n < nics; n++)
    lines.push(`${fn(slot + n)} 0x1af4 0x1041 0x020000 irq=${irq(slot + n)} driver=virtio-pci`);
  lines.push(`${fn(slot + nics)} 0x1af4 0x1044 0xff0000 irq=${irq(slot + nics)} driver=virtio-pci`);
  lines.push(`${fn(slot + nics + 1)} 0x1af4 0x1043 0x078000 irq=${irq(slot + nics + 1)} driver=virtio-pci`);
  return lines;
}

/**
 * eth0: QEMU's default MAC, the lease udhcpc got from the gateway (10.0.2.15/24, router
 * 10.0.2.2, DNS 10.0.2.3, as QEMU's slirp gives), `ping -c 2 10.0.2.2` with both answered, the
 * body of an HTTP GET through the NAT, and the line this file sent through hostfwd; eth1: the next default MAC, and `ping -c 2 192.168.76.2` answered by the socket peer, which
 * saw the guest's ARP and both echo requests.
 */
export function checkNet(out: string, peer: NetPeer, context: string): void {
  expect(section(out, 'virtio-net').trim().split('\n'), context).toEqual([
    'mac 52:54:00:12:34:56',
    'bound 10.0.2.15/255.255.255.0 router 10.0.2.2 dns 10.0.2.3',
    '2 packets transmitted, 2 packets received, 0% packet loss',
    'hello through the NAT',
    'hostfwd got: from the host',
    'mac1 52:54:00:12:34:57',
    '2 packets transmitted, 2 packets received, 0% packet loss',
  ]);
  expect(peer.seen.arp).toBeGreaterThanOrEqual(1);
  expect(peer.seen.echo).toBe(2);
  // Then /synced, when the boot has an ext4 disk (checkSyncSnapshot).
  expect(peer.seen.http.slice(0, 2), context).toEqual(['/nat', '/listening']);
  expect(peer.seen.fwdReply, context).toBe('from the guest\n');
}

/**
 * A guest `sync` followed by a kill of qemu-lite loses nothing: the copy of the ext4 image the
 * test took right after the guest's `sync` (GET /synced, init.sh), once e2fsck has replayed its
 * journal as the next mount would, is a clean file system holding the file the guest wrote.
 */
export function checkSyncSnapshot(peer: NetPeer, context: string): void {
  const snap = peer.seen.snapshot;
  expect(snap, `the guest never asked for /synced; ${context}`).toBeDefined();
  const replay = spawnSync('e2fsck', ['-fy', snap!], { encoding: 'utf8' });
  // 0: clean, 1: errors corrected (the journal replayed); more is a damaged file system.
  expect(replay.status, `${replay.stdout}${replay.stderr}`).toBeLessThanOrEqual(1);
  const clean = spawnSync('e2fsck', ['-fn', snap!], { encoding: 'utf8' });
  expect(clean.status, `${clean.stdout}${clean.stderr}`).toBe(0);
  const cat = spawnSync('debugfs', ['-R', 'cat /synced.txt', snap!], { encoding: 'utf8' });
  expect(cat.stdout).toBe("synced by the guest before the host's copy\n");
}

/** /dev/hwrng: the virtio one is the current source, gives the 64 bytes asked, and two reads differ. */
export function checkRng(out: string, context: string): void {
  expect(section(out, 'virtio-rng').trim().split('\n'), context).toEqual([
    'current virtio_rng.0',
    'bytes 64',
    'two reads differ',
  ]);
}

/**
 * What `/init` writes to /dev/hvc0 (printf, no newline); it comes out on qemu-lite's stdout beside
 * the serial console.
 */
const HVC0_TEXT = '[hvc0: written by the guest to the virtio console]';

/**
 * The boot's output without the virtio console's text, and whether it was there. The two
 * consoles are separate streams and the UART drains lines behind the guest (its interrupt may be
 * another vCPU's), so that text lands inside whatever serial text was still queued (seen at
 * -smp 2: inside "=== virtio-conso|le", and between two lines of the virtio-rng section). With a
 * newline it also came in two pieces, the line and then its newline (n_tty writes the newline
 * apart), with a serial line between them (CI at -smp 4). Without one it is one write to hvc0,
 * one virtqueue buffer, so it comes out whole and taking it out leaves the serial text as sent.
 */
export function splitHvc0(out: string): { serial: string; hvc0: boolean } {
  return { serial: out.replace(HVC0_TEXT, ''), hvc0: out.includes(HVC0_TEXT) };
}

/** hvc0: what the guest wrote to the virtio console came out with the serial console's output. */
export function checkConsole(serial: string, hvc0: boolean, context: string): void {
  expect(hvc0, `the guest's hvc0 line on qemu-lite's output; ${context}`).toBe(true);
  const lines = section(serial, 'virtio-console').trim().split('\n');
  expect(lines, context).toContain('hvc0 written');
}
