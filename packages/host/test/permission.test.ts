/**
 * The permission message says what to do on this machine: the device's real owner, group and
 * mode decide between "join group X" and "ask root for an ACL". It used to tell everyone to join
 * the `kvm` group, even where /dev/kvm is `crw------- root root` and there is no such group.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Errno } from '@kvm/core';
import { afterAll, describe, expect, it } from 'vitest';
import { describeOpenError } from '../src/messages.js';
import {
  type DeviceAccessFacts,
  describePermissionDenied,
  deviceAccessFacts,
  modeString,
} from '../src/permission.js';

const CHAR_DEVICE = 0o020000;

function facts(over: {
  mode: number;
  gid?: number;
  group?: string;
  uid?: number;
  gids?: number[];
  listed?: boolean;
  kvmGroupGid?: number;
}): DeviceAccessFacts {
  return {
    path: '/dev/kvm',
    device: {
      uid: 0,
      gid: over.gid ?? 0,
      mode: CHAR_DEVICE | over.mode,
      owner: 'root',
      group: over.group ?? 'root',
    },
    user: {
      uid: over.uid ?? 1000,
      name: 'alice',
      gids: over.gids ?? [1000],
      listedInDeviceGroup: over.listed ?? false,
    },
    kvmGroupGid: over.kvmGroupGid,
  };
}

describe('the permission-denied message', () => {
  it('on a root-only device with no kvm group, asks root for an ACL and never says to join kvm', () => {
    const message = describePermissionDenied(facts({ mode: 0o600 }));
    expect(message).toContain('/dev/kvm is crw-------, owner root, group root');
    expect(message).toContain('sudo setfacl -m u:alice:rw /dev/kvm');
    expect(message).toContain('sudo groupadd -r kvm');
    expect(message).not.toMatch(/usermod/);
  });

  it('where the device’s group has read-write access, says to join that group, by its name', () => {
    const message = describePermissionDenied(
      facts({ mode: 0o660, gid: 108, group: 'kvm', kvmGroupGid: 108 }),
    );
    expect(message).toContain('crw-rw----, owner root, group kvm');
    expect(message).toContain("add alice to group 'kvm' (sudo usermod -aG kvm alice), then log in again");
    const other = describePermissionDenied(facts({ mode: 0o660, gid: 36, group: 'qemu' }));
    expect(other).toContain('sudo usermod -aG qemu alice');
  });

  it('for a user already listed in the group, says the session predates it (log in again, newgrp)', () => {
    const message = describePermissionDenied(facts({ mode: 0o660, gid: 108, group: 'kvm', listed: true }));
    expect(message).toContain("alice is in group 'kvm', but this session began before joining it");
    expect(message).toContain('newgrp kvm');
  });

  it('where a kvm group exists but the device is not its, says to give the device to it', () => {
    const message = describePermissionDenied(facts({ mode: 0o600, kvmGroupGid: 108 }));
    expect(message).toContain('sudo chgrp kvm /dev/kvm; sudo chmod 0660 /dev/kvm');
    expect(message).not.toMatch(/usermod/);
  });

  it('does not advise joining root’s group or a group without a name', () => {
    expect(describePermissionDenied(facts({ mode: 0o660 }))).toContain("its group is root's");
    const nameless = describePermissionDenied({
      ...facts({ mode: 0o660, gid: 4242 }),
      device: { uid: 0, gid: 4242, mode: CHAR_DEVICE | 0o660, owner: 'root' },
    });
    expect(nameless).toContain('group gid 4242');
    expect(nameless).toContain('has no name on this machine');
    expect(nameless).not.toMatch(/usermod/);
  });

  it('for root, or a member of the group, blames container rules or a security module', () => {
    expect(describePermissionDenied(facts({ mode: 0o600, uid: 0 }))).toContain(
      'although this process is root',
    );
    expect(describePermissionDenied(facts({ mode: 0o660, gid: 108, group: 'kvm', gids: [108] }))).toContain(
      'although this process is in group kvm',
    );
  });

  it('without a stat of the device, still says whom to ask', () => {
    const message = describePermissionDenied({ ...facts({ mode: 0 }), device: undefined });
    expect(message).toContain('cannot be stat()ed');
    expect(message).toContain('alice');
  });

  it('formats modes as ls -l does', () => {
    expect(modeString(CHAR_DEVICE | 0o660)).toBe('crw-rw----');
    expect(modeString(0o100755)).toBe('-rwxr-xr-x');
  });
});

describe('the facts the message is built from', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kvm-perm-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the device’s mode, owner and group, and whether /etc/group lists the user', () => {
    const device = join(dir, 'kvm');
    writeFileSync(device, '');
    chmodSync(device, 0o640);
    const uid = process.getuid!();
    const gid = process.getgid!();
    const groupFile = join(dir, 'group');
    const passwdFile = join(dir, 'passwd');
    writeFileSync(passwdFile, `tester:x:${uid}:${gid}::/:/bin/sh\n`);
    writeFileSync(groupFile, `testers:x:${gid}:someone,${'tester'}\nkvm:x:${gid + 7}:\n`);
    const f = deviceAccessFacts(device, { groupFile, passwdFile });
    expect(f.device).toMatchObject({ uid, gid, owner: 'tester', group: 'testers' });
    expect(f.device!.mode & 0o777).toBe(0o640);
    expect(f.kvmGroupGid).toBe(gid + 7);
    expect(f.user.uid).toBe(uid);
    expect(f.user.gids).toEqual(process.getgroups!());
  });

  it('is what describeOpenError uses for EACCES and EPERM on this machine’s device', () => {
    const f = deviceAccessFacts('/dev/kvm');
    const expected = describePermissionDenied(f);
    expect(describeOpenError('/dev/kvm', Errno.EACCES)).toBe(expected);
    expect(describeOpenError('/dev/kvm', Errno.EPERM)).toBe(expected);
    if (f.device !== undefined) expect(expected).toContain(modeString(f.device.mode));
  });
});
