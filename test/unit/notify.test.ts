// sdNotify (io/notify.ts) and the addon's notifySocket: datagrams reach a python3-held AF_UNIX socket, sent by us.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAddon } from '../../src/io/addon.js';
import { SdState, sdNotify } from '../../src/io/notify.js';
import { NotifyReceiver } from './helpers/notify-receiver.js';

const dir = mkdtempSync(join(tmpdir(), 'tsn2n-notify-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
/** sun_path holds 108 bytes (unix(7)): 107 characters and the NUL. */
const SUN_PATH_BYTES = 108;
const ENOENT = 2;
const ECONNREFUSED = 111;

describe('sdNotify', () => {
  it('sends READY=1 to a socket in the file system, from this process (NotifyAccess=main)', async () => {
    const rx = await NotifyReceiver.open(join(dir, 'notify.sock'));
    try {
      expect(sdNotify(SdState.READY, rx.path)).toBe(true);
      expect(await rx.next()).toEqual({ pid: process.pid, data: 'READY=1' });
      expect(sdNotify(SdState.STOPPING, rx.path)).toBe(true);
      expect((await rx.next()).data).toBe('STOPPING=1');
    } finally {
      await rx.close();
    }
  });

  it("sends several assignments in one datagram to an abstract socket ('@' = a leading NUL)", async () => {
    const rx = await NotifyReceiver.open(`@tsn2n-notify-test-${process.pid}-${Date.now()}`);
    try {
      const state = `${SdState.READY}\nSTATUS=device edge0 up, registering with the supernode`;
      expect(sdNotify(state, rx.path)).toBe(true);
      expect(await rx.next()).toEqual({ pid: process.pid, data: state });
    } finally {
      await rx.close();
    }
  });

  it('returns false, without throwing, when there is nobody to tell', () => {
    const notASocket = join(dir, 'plain-file');
    writeFileSync(notASocket, '');
    for (const socket of [
      undefined,
      '',
      'relative/notify.sock',
      'vsock:2:1234',
      join(dir, 'missing.sock'),
      notASocket,
      `/${'x'.repeat(SUN_PATH_BYTES)}`,
      '@',
    ]) {
      expect(sdNotify(SdState.READY, socket), String(socket)).toBe(false);
    }
  });
});

describe('addon notifySocket', () => {
  const addon = loadAddon();

  it('returns a negative errno when the send fails', () => {
    expect(addon.notifySocket(join(dir, 'missing.sock'), 'READY=1')).toBe(-ENOENT);
    const notASocket = join(dir, 'plain-file-2');
    writeFileSync(notASocket, '');
    expect(addon.notifySocket(notASocket, 'READY=1')).toBe(-ECONNREFUSED);
  });

  it('throws "Usage: …" for an address it cannot form', () => {
    const bad: unknown[][] = [
      ['relative.sock', 'READY=1'],
      ['@', 'READY=1'],
      [`/${'x'.repeat(SUN_PATH_BYTES - 1)}`, 'READY=1'],
      [`@${'x'.repeat(SUN_PATH_BYTES)}`, 'READY=1'],
      ['/a\0b', 'READY=1'],
      ['/tmp/x', 'x'.repeat(5000)],
      [1, 'READY=1'],
      ['/tmp/x'],
    ];
    const call = addon.notifySocket as unknown as (...args: unknown[]) => number;
    for (const args of bad) expect(() => call(...args), JSON.stringify(args)).toThrow(/^Usage: notifySocket/);
    // The longest names that fit: 107 characters plus the NUL, or 108 abstract bytes.
    expect(addon.notifySocket(`/${'x'.repeat(SUN_PATH_BYTES - 2)}`, 'READY=1')).toBe(-ENOENT);
    expect(addon.notifySocket(`@${'x'.repeat(SUN_PATH_BYTES - 1)}`, 'READY=1')).toBe(-ECONNREFUSED);
  });
});
