/**
 * What to tell someone who may not open /dev/kvm. "Join the kvm group" is the usual answer, but
 * only where the device belongs to a `kvm` group that has read-write access: on a machine whose
 * /dev/kvm is `crw------- root root` (this project's CI host, many containers) there is no group
 * to join. So the advice is built from the device's real owner, group and mode and from the
 * user's groups, the way kvmtool's `kvm__init` says what to do for each cause.
 */
import { readFileSync, statSync } from 'node:fs';
import { userInfo } from 'node:os';

/** What the message is built from; gathered by `deviceAccessFacts`, or made up in tests. */
export interface DeviceAccessFacts {
  path: string;
  /** The device's stat, or undefined when it could not be stat()ed. */
  device?: {
    uid: number;
    gid: number;
    /** st_mode: file type and permission bits. */
    mode: number;
    /** Names from /etc/passwd and /etc/group, where they have one. */
    owner?: string;
    group?: string;
  };
  user: {
    uid: number;
    name?: string;
    /** This process's groups (a group joined after login is not among them yet). */
    gids: readonly number[];
    /** Does /etc/group list the user as a member of the device's group? */
    listedInDeviceGroup: boolean;
  };
  /** The gid of a group named `kvm`, where there is one. */
  kvmGroupGid?: number;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

function readGroups(groupFile: string): GroupEntry[] {
  try {
    return readFileSync(groupFile, 'utf8')
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('#'))
      .map((line) => {
        const [name, , gid, members = ''] = line.split(':');
        return { name, gid: Number(gid), members: members.split(',').filter(Boolean) };
      });
  } catch {
    return [];
  }
}

function readUserNames(passwdFile: string): Map<number, string> {
  const names = new Map<number, string>();
  try {
    for (const line of readFileSync(passwdFile, 'utf8').split('\n')) {
      const [name, , uid] = line.split(':');
      if (name && uid !== undefined && !names.has(Number(uid))) names.set(Number(uid), name);
    }
  } catch {
    // No passwd file (a minimal container): numbers only.
  }
  return names;
}

/** The facts about `path` and this process. Never throws. */
export function deviceAccessFacts(
  path: string,
  files: { groupFile?: string; passwdFile?: string } = {},
): DeviceAccessFacts {
  const groups = readGroups(files.groupFile ?? '/etc/group');
  const users = readUserNames(files.passwdFile ?? '/etc/passwd');
  const uid = process.getuid?.() ?? -1;
  let name: string | undefined;
  try {
    name = userInfo().username;
  } catch {
    name = users.get(uid);
  }
  let device: DeviceAccessFacts['device'];
  try {
    const st = statSync(path);
    device = {
      uid: st.uid,
      gid: st.gid,
      mode: st.mode,
      owner: users.get(st.uid),
      group: groups.find((g) => g.gid === st.gid)?.name,
    };
  } catch {
    device = undefined;
  }
  const deviceGroup = device && groups.find((g) => g.gid === device.gid);
  return {
    path,
    device,
    user: {
      uid,
      name,
      gids: process.getgroups?.() ?? [],
      listedInDeviceGroup:
        deviceGroup !== undefined && name !== undefined && deviceGroup.members.includes(name),
    },
    kvmGroupGid: groups.find((g) => g.name === 'kvm')?.gid,
  };
}

/** `crw-rw----`, as `ls -l` shows it. */
export function modeString(mode: number): string {
  const type = (mode & 0o170000) === 0o020000 ? 'c' : (mode & 0o170000) === 0o040000 ? 'd' : '-';
  let bits = '';
  for (let shift = 6; shift >= 0; shift -= 3) {
    const p = (mode >> shift) & 7;
    bits += `${p & 4 ? 'r' : '-'}${p & 2 ? 'w' : '-'}${p & 1 ? 'x' : '-'}`;
  }
  return type + bits;
}

const RW = 6;

/** The EACCES/EPERM message: what the device is, why this user may not open it, what to do. */
export function describePermissionDenied(facts: DeviceAccessFacts): string {
  const { path, device, user } = facts;
  const who = user.name ?? `uid ${user.uid}`;
  const userArg = user.name ?? String(user.uid);
  if (device === undefined) {
    return (
      `permission denied on ${path}, which cannot be stat()ed either: ask the administrator to give ` +
      `${who} read and write access to it`
    );
  }
  const owner = device.owner ?? `uid ${device.uid}`;
  const group = device.group ?? `gid ${device.gid}`;
  const what = `${path} is ${modeString(device.mode)}, owner ${owner}, group ${group}`;
  if (user.uid === 0) {
    return (
      `permission denied on ${path} although this process is root (${what}): the file mode is not the ` +
      'cause; a container’s device rules or a security module (SELinux, AppArmor) refuse it. Give the ' +
      `container the device (docker run --device ${path}) or look in the audit log`
    );
  }
  const groupRw = ((device.mode >> 3) & RW) === RW;
  const joinable = groupRw && device.group !== undefined && device.gid !== 0;
  if (joinable) {
    if (user.gids.includes(device.gid)) {
      return (
        `permission denied on ${path} (${what}) although this process is in group ${group}: a ` +
        'container’s device rules or a security module (SELinux, AppArmor) refuse it'
      );
    }
    if (user.listedInDeviceGroup) {
      return (
        `permission denied on ${path} (${what}): ${who} is in group '${group}', but this session began ` +
        `before joining it; log in again (or run \`newgrp ${group}\`)`
      );
    }
    return (
      `permission denied on ${path} (${what}): add ${who} to group '${group}' ` +
      `(sudo usermod -aG ${group} ${userArg}), then log in again`
    );
  }
  const why = !groupRw
    ? `its group has no read-write access, so joining group ${group} would not help`
    : device.gid === 0
      ? "its group is root's"
      : `its group (gid ${device.gid}) has no name on this machine`;
  const grant = `Ask root to grant it: sudo setfacl -m u:${userArg}:rw ${path} (or sudo chmod 0666 ${path})`;
  const lasting =
    facts.kvmGroupGid !== undefined
      ? `; to make it last, give the device to the existing 'kvm' group (sudo chgrp kvm ${path}; sudo chmod 0660 ${path}, or a udev rule KERNEL=="kvm", GROUP="kvm", MODE="0660") and join it`
      : `; to make it last, a udev rule (KERNEL=="kvm", GROUP="kvm", MODE="0660") with a kvm group (sudo groupadd -r kvm) that ${who} joins`;
  return `permission denied on ${path} (${what}): ${why}. ${grant}${lasting}`;
}
