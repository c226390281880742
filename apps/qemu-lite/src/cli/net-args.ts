/**
 * The network and entropy flags, in QEMU's spelling: `-netdev user,id=ID`, `-netdev
 * socket,id=ID,listen=|connect=|mcast=…`, `-netdev tap,id=ID,ifname=NAME[,script=no,downscript=no]`, `-device
 * virtio-net-pci,netdev=ID[,mac=M]`, `-nic user[,model=virtio-net-pci][,mac=M]`, `-nic none`,
 * and `-device virtio-rng-pci`. The user-mode backend is the virtual gateway
 * (devices/net/user-net.ts) and its NAT to the host's sockets with `hostfwd=tcp:…` rules
 * (netdev/user-nat.ts); the socket backend is QEMU's stream and multicast framing
 * (netdev/socket-netdev.ts). Other options and backends are refused by name, so that nothing
 * silently behaves otherwise than asked.
 */
import { type HostFwd, type NicConfig, parseMac, type SocketNetdevSpec } from '../devices/virtio/net.js';

export interface CliNet {
  netdevs: {
    id: string;
    type: 'user' | 'socket' | 'tap';
    socket?: SocketNetdevSpec;
    tap?: { ifname: string };
    hostfwd?: HostFwd[];
  }[];
  /** `-device virtio-net-pci,netdev=ID` and `-nic`, in command-line order. */
  nics: { netdev?: string; mac?: string; from: string; hostfwd?: HostFwd[] }[];
  rngs: number;
  /** `-device virtio-serial-pci` and `-device virtconsole` seen. */
  serialBus?: boolean;
  virtconsole?: boolean;
  /** The virtconsole's `chardev=ID`. */
  consoleChardev?: string;
  /** `-chardev stdio,id=ID`, by id (the only backend here). */
  chardevs?: Map<string, 'stdio'>;
}

class NetUsageError extends Error {}

/** Throws with QEMU-like wording; the caller turns it into its UsageError. */
function usage(message: string): never {
  throw new NetUsageError(message);
}

export function isNetUsageError(error: unknown): error is Error {
  return error instanceof NetUsageError;
}

function state(holder: { net?: CliNet }): CliNet {
  holder.net ??= { netdevs: [], nics: [], rngs: 0 };
  return holder.net;
}

const OTHER_BACKENDS = [
  'socket',
  'tap',
  'bridge',
  'l2tpv3',
  'vde',
  'stream',
  'dgram',
  'vhost-user',
  'hubport',
];

function checkUserProps(props: Map<string, string>, what: string, allowed: string[]): void {
  for (const key of props.keys()) {
    if (allowed.includes(key) || key === 'hostfwd') continue;
    if (
      ['guestfwd', 'smb', 'tftp', 'bootfile', 'net', 'host', 'dns', 'dhcpstart', 'restrict', 'ipv6'].includes(
        key,
      )
    )
      usage(
        `${what}: ${key}= is not supported: qemu-lite's user network has QEMU's default addresses (DHCP, ping, TCP/UDP NAT, DNS forwarding and hostfwd=tcp:…)`,
      );
    usage(`${what}: Property '${key}' not found`);
  }
}

/**
 * Every `hostfwd=[tcp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT` of the flag's text (QEMU takes
 * the property more than once, so the raw text is read, not the last value).
 */
function hostFwds(raw: string, what: string): HostFwd[] | undefined {
  const rules: HostFwd[] = [];
  const addr = /^(|\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/;
  for (const part of raw.split(',')) {
    if (!part.startsWith('hostfwd=')) continue;
    const rule = part.slice('hostfwd='.length);
    const m = /^(?:(tcp|udp)?:)?([^:]*):(\d+)-([^:]*):(\d+)$/.exec(rule);
    if (!m) usage(`${what}: hostfwd=${rule}: expected [tcp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT`);
    if (m[1] === 'udp') usage(`${what}: hostfwd=${rule}: only tcp forwarding is supported`);
    const [hostAddr, hostPort, guestAddr, guestPort] = [m[2], Number(m[3]), m[4], Number(m[5])];
    if (!addr.test(hostAddr) || !addr.test(guestAddr))
      usage(`${what}: hostfwd=${rule}: addresses must be IPv4 (a.b.c.d) or empty`);
    if (hostPort > 65535 || guestPort < 1 || guestPort > 65535)
      usage(`${what}: hostfwd=${rule}: a port is out of range`);
    rules.push({ protocol: 'tcp', hostAddr, hostPort, guestAddr: guestAddr || undefined, guestPort });
  }
  return rules.length > 0 ? rules : undefined;
}

function checkBackend(type: string, what: string): void {
  if (type === 'user' || ((type === 'socket' || type === 'tap') && what === '-netdev')) return;
  if (OTHER_BACKENDS.includes(type))
    usage(
      `${what}: the ${type} backend is not supported: ${what === '-nic' ? '-nic user, or -netdev socket or tap with -device virtio-net-pci' : 'user, socket and tap exist here'}`,
    );
  usage(`${what}: '${type}' is not a network backend (user, socket, tap)`);
}

/**
 * `-netdev tap,id=ID,ifname=NAME[,script=no][,downscript=no]`: QEMU runs /etc/qemu-ifup unless
 * script=no; qemu-lite runs no script at all, so only `no` (or nothing) is taken for either, and
 * the host sets the tap up itself (`ip tuntap add`, an address or a bridge, `ip link set up`).
 */
function tapSpec(props: Map<string, string>): { ifname: string } {
  for (const [key, value] of props) {
    if (key === 'id' || key === 'ifname') continue;
    if (key === 'script' || key === 'downscript') {
      if (value !== 'no' && value !== '')
        usage(
          `-netdev tap: ${key}=${value}: qemu-lite runs no scripts (give ${key}=no and set the tap up beforehand: ip link set IFNAME up)`,
        );
      continue;
    }
    if (
      [
        'fd',
        'fds',
        'helper',
        'br',
        'vhost',
        'vhostfd',
        'vhostfds',
        'vhostforce',
        'queues',
        'vnet_hdr',
        'sndbuf',
        'poll-us',
      ].includes(key)
    )
      usage(`-netdev tap: ${key}= is not supported (ifname=, script=no and downscript=no are)`);
    usage(`-netdev tap: Property '${key}' not found`);
  }
  const ifname = props.get('ifname');
  if (ifname === undefined) usage('-netdev tap: ifname= is needed (qemu-lite attaches to a named tap)');
  // IFNAMSIZ is 16 with the NUL; '/' and ':' and blanks are not allowed in names (dev_valid_name).
  if (!/^[^\s/:]{1,15}$/.test(ifname))
    usage(
      `-netdev tap,ifname=${ifname}: an interface name is 1 to 15 characters, without blanks, '/' or ':'`,
    );
  return { ifname };
}

/** `HOST:PORT`; an empty HOST is `emptyHost` (refused when that is undefined). */
function hostPort(text: string, what: string, emptyHost?: string): { host: string; port: number } {
  const m = /^(.*):(\d+)$/.exec(text);
  if (!m) usage(`-netdev socket,${what}=${text}: expected HOST:PORT`);
  const port = Number(m[2]);
  if (port > 65535) usage(`-netdev socket,${what}=${text}: port ${port} is out of range`);
  const host = m[1] === '' ? emptyHost : m[1];
  if (host === undefined) usage(`-netdev socket,${what}=${text}: a host is needed`);
  return { host, port };
}

/** `-netdev socket,id=ID,listen=[HOST]:PORT|connect=HOST:PORT|mcast=ADDR:PORT[,localaddr=ADDR]`. */
function socketSpec(props: Map<string, string>): SocketNetdevSpec {
  for (const key of props.keys()) {
    if (['id', 'listen', 'connect', 'mcast', 'localaddr'].includes(key)) continue;
    if (key === 'fd' || key === 'udp')
      usage(`-netdev socket: ${key}= is not supported (listen=, connect= and mcast= are)`);
    usage(`-netdev socket: Property '${key}' not found`);
  }
  const modes = ['listen', 'connect', 'mcast'].filter((k) => props.has(k));
  if (modes.length !== 1) usage('-netdev socket: exactly one of listen=, connect= or mcast= is needed');
  const mode = modes[0] as 'listen' | 'connect' | 'mcast';
  if (props.has('localaddr') && mode !== 'mcast') usage('-netdev socket: localaddr= goes with mcast= only');
  // QEMU: listen=:PORT listens on every address; connect=:PORT means the local host.
  if (mode === 'listen') return { mode, ...hostPort(props.get('listen')!, 'listen', '') };
  if (mode === 'connect') return { mode, ...hostPort(props.get('connect')!, 'connect', '127.0.0.1') };
  const { host, port } = hostPort(props.get('mcast')!, 'mcast');
  const first = Number(host.split('.')[0]);
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(host) || first < 224 || first > 239)
    usage(`-netdev socket,mcast=${host}:${port}: ${host} is not an IPv4 multicast address (224.0.0.0/4)`);
  return { mode, host, port, localaddr: props.get('localaddr') };
}

function checkMac(mac: string | undefined, what: string): void {
  if (mac !== undefined && parseMac(mac) === undefined)
    usage(`${what}: mac=${mac}: Property 'mac' doesn't take value '${mac}' (six hex bytes, not multicast)`);
}

/** `-netdev user,id=ID` or `-netdev socket,id=ID,…`. */
export function netdevArg(
  first: string,
  props: Map<string, string>,
  holder: { net?: CliNet },
  raw = '',
): void {
  const net = state(holder);
  checkBackend(first, '-netdev');
  const socket = first === 'socket' ? socketSpec(props) : undefined;
  const tap = first === 'tap' ? tapSpec(props) : undefined;
  if (!socket && !tap) checkUserProps(props, '-netdev user', ['id']);
  const id = props.get('id');
  if (!id) usage(`-netdev ${first}: Parameter 'id' is missing`);
  if (net.netdevs.some((n) => n.id === id))
    usage(`-netdev ${first},id=${id}: Duplicate ID '${id}' for netdev`);
  net.netdevs.push(
    socket
      ? { id, type: 'socket', socket }
      : tap
        ? { id, type: 'tap', tap }
        : { id, type: 'user', hostfwd: hostFwds(raw, '-netdev user') },
  );
}

/** `-nic user[,model=virtio-net-pci][,mac=M]` or `-nic none`: a netdev and its NIC at once. */
export function nicArg(first: string, props: Map<string, string>, holder: { net?: CliNet }, raw = ''): void {
  const net = state(holder);
  if (first === 'none') {
    if (props.size > 0) usage('-nic none takes no options');
    return;
  }
  checkBackend(first, '-nic');
  checkUserProps(props, '-nic user', ['model', 'mac', 'id']);
  const model = props.get('model') ?? 'virtio-net-pci';
  if (model !== 'virtio-net-pci' && model !== 'virtio')
    usage(`-nic model=${model}: only virtio-net-pci exists here (there is no e1000)`);
  checkMac(props.get('mac'), '-nic');
  net.nics.push({ mac: props.get('mac'), from: '-nic', hostfwd: hostFwds(raw, '-nic user') });
}

/** `-device virtio-net-pci,netdev=ID[,mac=M]`. */
export function netDevice(first: string, props: Map<string, string>, holder: { net?: CliNet }): void {
  const net = state(holder);
  for (const key of props.keys())
    if (key !== 'netdev' && key !== 'mac') usage(`-device ${first}: Property '${key}' not found`);
  const netdev = props.get('netdev');
  if (!netdev) usage(`-device ${first}: needs netdev=ID (a -netdev user,id=ID)`);
  checkMac(props.get('mac'), `-device ${first}`);
  net.nics.push({ netdev, mac: props.get('mac'), from: `-device ${first}` });
}

/** `-device virtio-rng-pci` (QEMU's default backend, the host's random numbers). */
export function rngDevice(first: string, props: Map<string, string>, holder: { net?: CliNet }): void {
  if (props.size > 0)
    usage(
      `-device ${first}: Property '${[...props.keys()][0]}' not found (the host's random numbers are the only backend)`,
    );
  state(holder).rngs++;
}

/**
 * `-chardev stdio,id=ID[,signal=on|off]`: the terminal as a character device, for a
 * virtconsole's `chardev=`. Other backends (socket, pty, file, …) are refused by name.
 */
export function chardevArg(first: string, props: Map<string, string>, holder: { net?: CliNet }): void {
  const net = state(holder);
  if (first !== 'stdio')
    usage(`-chardev ${first}: only the stdio backend exists here (-chardev stdio,id=ID)`);
  for (const [key, value] of props) {
    if (key === 'id') continue;
    // signal=off gives Ctrl-C to the guest: the terminal is in raw mode here anyway.
    if (key === 'signal' && (value === 'on' || value === 'off')) continue;
    usage(`-chardev stdio: Property '${key}' not found`);
  }
  const id = props.get('id');
  if (!id) usage("-chardev stdio: Parameter 'id' is missing");
  net.chardevs ??= new Map();
  if (net.chardevs.has(id)) usage(`-chardev stdio,id=${id}: Duplicate ID '${id}' for chardev`);
  net.chardevs.set(id, 'stdio');
}

/**
 * `-device virtio-serial-pci` (the bus) and `-device virtconsole[,chardev=ID]` (its one port, a
 * console): together, a virtio-console whose output goes with the serial port's; with
 * `chardev=` naming a `-chardev stdio`, what is typed on the terminal goes to it (the guest's
 * hvc0) instead of to the serial port.
 */
export function consoleDevice(first: string, props: Map<string, string>, holder: { net?: CliNet }): void {
  const net = state(holder);
  for (const key of props.keys())
    if (!(key === 'chardev' && first === 'virtconsole'))
      usage(`-device ${first}: Property '${key}' not found`);
  if (first === 'virtconsole') {
    if (net.virtconsole) usage('-device virtconsole: only one console port exists here');
    net.virtconsole = true;
    net.consoleChardev = props.get('chardev');
  } else {
    if (net.serialBus) usage(`-device ${first}: only one virtio-serial device exists here`);
    net.serialBus = true;
  }
}

/** The NICs the machine gets, each `-device` bound to its netdev (each netdev used at most once). */
export function resolveNet(net: CliNet | undefined): {
  nics?: NicConfig[];
  virtioRng?: number;
  virtioConsole?: boolean;
  /** The virtconsole's chardev is `-chardev stdio`: the terminal's input goes to it. */
  consoleStdin?: boolean;
} {
  if (!net) return {};
  const used = new Set<string>();
  const nics: NicConfig[] = [];
  for (const nic of net.nics) {
    if (nic.netdev === undefined) {
      nics.push({ netdev: 'user', mac: nic.mac, hostfwd: nic.hostfwd });
      continue;
    }
    const dev = net.netdevs.find((n) => n.id === nic.netdev);
    if (!dev) usage(`${nic.from},netdev=${nic.netdev}: Property 'netdev' can't find value '${nic.netdev}'`);
    if (used.has(nic.netdev)) usage(`${nic.from},netdev=${nic.netdev}: the netdev is already in use`);
    used.add(nic.netdev);
    nics.push(
      dev.socket
        ? { netdev: 'socket', mac: nic.mac, socket: dev.socket }
        : dev.tap
          ? { netdev: 'tap', mac: nic.mac, tap: dev.tap }
          : { netdev: 'user', mac: nic.mac, hostfwd: dev.hostfwd },
    );
  }
  // QEMU warns about a netdev no NIC uses; here it would be a network nobody is on: refuse it.
  for (const n of net.netdevs)
    if (!used.has(n.id))
      usage(`-netdev ${n.type},id=${n.id}: no -device virtio-net-pci,netdev=${n.id} uses it`);
  // QEMU: "No 'virtio-serial-bus' bus found for device 'virtconsole'".
  if (net.virtconsole && !net.serialBus)
    usage("-device virtconsole: No 'virtio-serial-bus' bus found (add -device virtio-serial-pci)");
  if (net.serialBus && !net.virtconsole)
    usage('-device virtio-serial-pci: give it its port, -device virtconsole (the only port type here)');
  const chardev = net.consoleChardev;
  if (chardev !== undefined && !net.chardevs?.has(chardev))
    usage(`-device virtconsole,chardev=${chardev}: Property 'chardev' can't find value '${chardev}'`);
  return {
    nics: nics.length > 0 ? nics : undefined,
    virtioRng: net.rngs > 0 ? net.rngs : undefined,
    virtioConsole: net.virtconsole ? true : undefined,
    consoleStdin: chardev !== undefined ? true : undefined,
  };
}
