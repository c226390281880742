/**
 * The network and entropy flags, in QEMU's spelling: `-netdev user,id=ID`, `-device
 * virtio-net-pci,netdev=ID[,mac=M]`, `-nic user[,model=virtio-net-pci][,mac=M]`, `-nic none`,
 * and `-device virtio-rng-pci`. Only the user-mode backend exists, and only the part of it the
 * virtual gateway answers itself (devices/net/user-net.ts): its other options and the other
 * backends are refused by name, so that nothing silently behaves otherwise than asked.
 */
import { type NicConfig, parseMac } from '../devices/virtio/net.js';

export interface CliNet {
  netdevs: { id: string; type: 'user' }[];
  /** `-device virtio-net-pci,netdev=ID` and `-nic`, in command-line order. */
  nics: { netdev?: string; mac?: string; from: string }[];
  rngs: number;
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
    if (allowed.includes(key)) continue;
    if (
      [
        'hostfwd',
        'guestfwd',
        'smb',
        'tftp',
        'bootfile',
        'net',
        'host',
        'dns',
        'dhcpstart',
        'restrict',
        'ipv6',
      ].includes(key)
    )
      usage(
        `${what}: ${key}= is not supported: qemu-lite's user network has QEMU's default addresses and answers ARP, DHCP and ping for its gateway only (no NAT to host sockets yet)`,
      );
    usage(`${what}: Property '${key}' not found`);
  }
}

function checkBackend(type: string, what: string): void {
  if (type === 'user') return;
  if (OTHER_BACKENDS.includes(type))
    usage(`${what}: the ${type} backend is not supported: only user exists here`);
  usage(`${what}: '${type}' is not a network backend (user)`);
}

function checkMac(mac: string | undefined, what: string): void {
  if (mac !== undefined && parseMac(mac) === undefined)
    usage(`${what}: mac=${mac}: Property 'mac' doesn't take value '${mac}' (six hex bytes, not multicast)`);
}

/** `-netdev user,id=ID`. */
export function netdevArg(first: string, props: Map<string, string>, holder: { net?: CliNet }): void {
  const net = state(holder);
  checkBackend(first, '-netdev');
  checkUserProps(props, '-netdev user', ['id']);
  const id = props.get('id');
  if (!id) usage("-netdev user: Parameter 'id' is missing");
  if (net.netdevs.some((n) => n.id === id)) usage(`-netdev user,id=${id}: Duplicate ID '${id}' for netdev`);
  net.netdevs.push({ id, type: 'user' });
}

/** `-nic user[,model=virtio-net-pci][,mac=M]` or `-nic none`: a netdev and its NIC at once. */
export function nicArg(first: string, props: Map<string, string>, holder: { net?: CliNet }): void {
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
  net.nics.push({ mac: props.get('mac'), from: '-nic' });
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

/** The NICs the machine gets, each `-device` bound to its netdev (each netdev used at most once). */
export function resolveNet(net: CliNet | undefined): { nics?: NicConfig[]; virtioRng?: number } {
  if (!net) return {};
  const used = new Set<string>();
  const nics: NicConfig[] = [];
  for (const nic of net.nics) {
    if (nic.netdev !== undefined) {
      const dev = net.netdevs.find((n) => n.id === nic.netdev);
      if (!dev) usage(`${nic.from},netdev=${nic.netdev}: Property 'netdev' can't find value '${nic.netdev}'`);
      if (used.has(nic.netdev)) usage(`${nic.from},netdev=${nic.netdev}: the netdev is already in use`);
      used.add(nic.netdev);
    }
    nics.push({ netdev: 'user', mac: nic.mac });
  }
  // QEMU warns about a netdev no NIC uses; here it would be a network nobody is on: refuse it.
  for (const n of net.netdevs)
    if (!used.has(n.id))
      usage(`-netdev ${n.type},id=${n.id}: no -device virtio-net-pci,netdev=${n.id} uses it`);
  return { nics: nics.length > 0 ? nics : undefined, virtioRng: net.rngs > 0 ? net.rngs : undefined };
}
