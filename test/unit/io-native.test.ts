// Tests of the addon's surface that need no privileges: argument checks, errors without root, interface read-back.
import { spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { addonAvailable, loadAddon, PollKind } from '../../src/io/addon.js';
import { readInterface } from '../../src/io/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const ADDON = resolve(ROOT, 'native/build/Release/tsn2n_io.node');
const NOBODY_UID = 65534;

describe('native addon', () => {
  it('is built by npm install', () => {
    expect(addonAvailable()).toBe(true);
    expect(loadAddon().ADDR_STRIDE).toBe(24);
  });

  it('throws "Usage: …" TypeErrors on wrong arguments', () => {
    const a = loadAddon() as unknown as Record<string, (...args: unknown[]) => unknown>;
    const calls: [string, unknown[]][] = [
      ['tapOpen', [1]],
      ['tapOpen', ['a-name-that-is-far-too-long']],
      ['ifSetMtu', ['lo', 'big']],
      ['ifSetMtu', ['lo', 20]],
      ['ifSetMac', ['lo', 2 ** 48]],
      ['ifSetIpv4', ['lo', 1, 33]],
      ['ifSetUp', ['lo', 1]],
      ['ifGetInfo', ['']],
      ['writeFrame', [0, 'text', 0, 1]],
      ['writeFrame', [0, new Uint8Array(4), 2, 3]],
      ['writeFrames', [0, new Uint8Array(4), new Uint32Array([0]), new Uint32Array([5]), 1]],
      ['writeFrames', [0, new Uint8Array(4), new Uint8Array(1), new Uint32Array(1), 1]],
      ['readFrames', [0, new Uint8Array(100), 10, 10, new Uint32Array(1)]],
      ['udpOpen', [5, '127.0.0.1', 0, 0, 0]],
      ['udpOpen', [4, 'localhost', 0, 0, 0]],
      ['udpSend', [0, new Uint8Array(1), 0, 1, new Uint8Array(10), 0]],
      ['udpSendBatch', [0, new Uint8Array(1), new Uint32Array(1), new Uint32Array(1), new Uint8Array(10), 1]],
      ['setNetns', ['x']],
      ['udpSetOption', [0, 4, 'mtu', 1]],
      ['udpSetOption', [0, 5, 'ttl', 1]],
      ['udpSetOption', [0, 4, 'pmtud', 2]],
    ];
    for (const [fn, args] of calls) {
      expect(() => a[fn](...args), `${fn}(${args.map(String).join(', ')})`).toThrow(/^Usage: /);
      try {
        a[fn](...args);
      } catch (e) {
        expect(e).toBeInstanceOf(TypeError);
      }
    }
    const { FdPoller } = loadAddon();
    const cb = (): void => {};
    expect(
      () => new FdPoller(-1, PollKind.TAP, new Uint8Array(64), 64, 0, new Uint32Array(1), null, cb),
    ).toThrow(/^Usage: new FdPoller/);
    expect(
      () => new FdPoller(0, PollKind.UDP, new Uint8Array(64), 64, 0, new Uint32Array(1), null, cb),
    ).toThrow(/^Usage: /);
    expect(
      () => new FdPoller(0, PollKind.TAP, new Uint8Array(8), 64, 0, new Uint32Array(1), null, cb),
    ).toThrow(/^Usage: /);
  });

  it('reads back the loopback interface and names a missing one clearly', () => {
    const lo = readInterface('lo');
    expect(lo.index).toBeGreaterThan(0);
    expect(lo.mac).toBe(0);
    expect(lo.up).toBe(true);
    expect(lo.addr).toBe(0x7f000001);
    expect(lo.bitlen).toBe(8);
    expect(() => readInterface('tsn2n-nope0')).toThrow(
      expect.objectContaining({ code: 'ENODEV', message: 'there is no network interface named tsn2n-nope0' }),
    );
  });

  it('refuses to create a TAP device without CAP_NET_ADMIN, with a clear message and code', () => {
    // As root, drop to nobody in a child process; otherwise this process already lacks the capability.
    const script = `
      const a = require(${JSON.stringify(ADDON)});
      try { a.tapOpen('n2n0'); console.log(JSON.stringify({ ok: true })); }
      catch (e) { console.log(JSON.stringify({ name: e.name, message: e.message, code: e.code, syscall: e.syscall })); }
      try { a.ifSetMtu('lo', 1500); } catch (e) { console.log(JSON.stringify({ message: e.message, code: e.code })); }`;
    const isRoot = process.getuid?.() === 0;
    const r = spawnSync(process.execPath, ['-e', script], {
      encoding: 'utf8',
      ...(isRoot ? { uid: NOBODY_UID, gid: NOBODY_UID } : {}),
    });
    expect(r.stderr).toBe('');
    const [open, mtu] = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    // Where /dev/net/tun is not world-writable the open() fails (EACCES), elsewhere TUNSETIFF does (EPERM).
    expect(open).toMatchObject({
      name: 'Error',
      message: 'creating TAP device n2n0 needs root or CAP_NET_ADMIN',
    });
    expect([
      ['EACCES', 'open'],
      ['EPERM', 'open'],
      ['EPERM', 'ioctl'],
    ]).toContainEqual([open.code, open.syscall]);
    expect(mtu).toEqual({ message: 'configuring TAP device lo needs root or CAP_NET_ADMIN', code: 'EPERM' });
  });
});
