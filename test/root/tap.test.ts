// Root tests of the real TAP device in a fresh network namespace: config read-back, ARP/ICMP from JS, 100k frames, leaks.
import { execFile, execFileSync } from 'node:child_process';
import { closeSync, openSync, readdirSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAddon } from '../../src/io/addon.js';
import type { FrameBatch, LinuxTap } from '../../src/io/index.js';
import { openTap, readInterface } from '../../src/io/index.js';
import { ipv4ToNumber } from '../../src/util/ip.js';
import { macToBytes, macToString, parseMac, readMac } from '../../src/util/mac.js';

const IS_CI = process.env.CI === 'true';
const IS_ROOT = process.getuid?.() === 0;
const NS = `tsn2n-tap-${process.pid}`;

function gateReason(): string | undefined {
  if (!IS_ROOT) return 'they need root (CAP_NET_ADMIN) to create TAP devices and network namespaces';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'they need the `ip` command (iproute2)';
  }
  return undefined;
}
const reason = gateReason();
if (reason !== undefined && !IS_CI) console.warn(`[root] skipping the TAP tests: ${reason}`);
const skip = reason !== undefined && !IS_CI;

function run(
  cmd: string,
  args: readonly string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

function ipJson(args: readonly string[]): unknown[] {
  return JSON.parse(execFileSync('ip', ['-n', NS, '-j', ...args], { encoding: 'utf8' })) as unknown[];
}

/** A `gc()` even without --expose-gc: the flag can be set at run time and read through a fresh context. */
function gc(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

async function settleMemory(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 20));
  }
}

function countFds(): number {
  return readdirSync('/proc/self/fd').length;
}

// --- Ethernet, ARP and ICMP, just enough to answer the kernel (RFC 826, RFC 792). ---
const ETH_HEADER = 14;
const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_ARP = 0x0806;
/** IEEE 802 local experimental EtherType: nothing in the kernel sends it, so counted frames are ours. */
const ETHERTYPE_TEST = 0x88b5;
const ARP_OP_REQUEST = 1;
const ARP_OP_REPLY = 2;
const IP_PROTO_ICMP = 1;
const ICMP_ECHO_REQUEST = 8;
const ICMP_ECHO_REPLY = 0;

function u16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}
function u32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}
function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8;
  b[o + 1] = v & 0xff;
}
function checksum(b: Uint8Array, from: number, to: number): number {
  let sum = 0;
  for (let i = from; i + 1 < to; i += 2) sum += u16(b, i);
  if ((to - from) & 1) sum += b[to - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
function macBytes(s: string): Uint8Array {
  return macToBytes(parseMac(s));
}

describe.skipIf(skip)('LinuxTap in a fresh network namespace (root)', () => {
  const addon = IS_ROOT ? loadAddon() : undefined;
  let homeNs = -1;
  let testNs = -1;

  beforeAll(() => {
    if (reason !== undefined) throw new Error(`root TAP tests cannot run under CI=true: ${reason}`);
    execFileSync('ip', ['netns', 'add', NS]);
    // No IPv6 in the namespace: no router solicitations or MLD reports mixed into the frames we count.
    execFileSync('ip', ['netns', 'exec', NS, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1']);
    execFileSync('ip', ['netns', 'exec', NS, 'sysctl', '-qw', 'net.ipv6.conf.default.disable_ipv6=1']);
    // This thread (the one running the tests and the event loop) moves into the namespace; TAP devices are
    // created in the namespace of the thread that opens them, and spawned tools inherit it.
    homeNs = openSync('/proc/thread-self/ns/net', 'r');
    testNs = openSync(`/run/netns/${NS}`, 'r');
    addon!.setNetns(testNs);
  });

  afterAll(() => {
    if (homeNs >= 0) {
      addon!.setNetns(homeNs);
      closeSync(homeNs);
    }
    if (testNs >= 0) closeSync(testNs);
    try {
      execFileSync('ip', ['netns', 'del', NS], { stdio: 'ignore' });
    } catch {
      // Not created (the gate failed before): nothing to clean.
    }
  });

  it('creates tsn2n-t0 with the asked address, MTU and MAC, as `ip -j` reads them back', () => {
    const mac = parseMac('02:00:5e:10:00:01');
    const tap = openTap({ name: 'tsn2n-t0', mac, mtu: 1400, addr: ipv4ToNumber('10.200.0.1'), bitlen: 24 });
    try {
      expect(tap.info).toEqual({
        name: 'tsn2n-t0',
        mac,
        mtu: 1400,
        addr: ipv4ToNumber('10.200.0.1'),
        bitlen: 24,
      });
      const [link] = ipJson(['link', 'show', 'tsn2n-t0']) as {
        ifname: string;
        mtu: number;
        address: string;
        flags: string[];
      }[];
      expect(link.ifname).toBe('tsn2n-t0');
      expect(link.mtu).toBe(1400);
      expect(link.address).toBe(macToString(mac));
      expect(link.flags).toContain('UP');
      const [addr] = ipJson(['addr', 'show', 'tsn2n-t0']) as {
        addr_info: { family: string; local: string; prefixlen: number; broadcast?: string }[];
      }[];
      const v4 = addr.addr_info.filter((a) => a.family === 'inet');
      expect(v4).toHaveLength(1);
      expect(v4[0]).toMatchObject({ local: '10.200.0.1', prefixlen: 24, broadcast: '10.200.0.255' });

      // A later address change (what the supernode or DHCP gives) shows up the same way.
      tap.setAddress(ipv4ToNumber('10.201.7.9'), 16);
      const [after] = ipJson(['addr', 'show', 'tsn2n-t0']) as {
        addr_info: { family: string; local: string; prefixlen: number }[];
      }[];
      expect(after.addr_info.filter((a) => a.family === 'inet')).toMatchObject([
        { local: '10.201.7.9', prefixlen: 16 },
      ]);
      expect(readInterface('tsn2n-t0')).toMatchObject({
        addr: ipv4ToNumber('10.201.7.9'),
        bitlen: 16,
        up: true,
      });

      // The name is taken while the device is open.
      expect(() => openTap({ name: 'tsn2n-t0' })).toThrow(
        expect.objectContaining({ code: 'EBUSY', message: expect.stringContaining('tsn2n-t0') }),
      );
    } finally {
      tap.close();
    }
    expect(() => readInterface('tsn2n-t0')).toThrow(expect.objectContaining({ code: 'ENODEV' }));
  });

  it('lets the kernel pick the name when none is given', () => {
    const tap = openTap({ up: false });
    try {
      expect(tap.info.name).toMatch(/^tap\d+$/);
      expect(readInterface(tap.info.name).up).toBe(false);
      expect(tap.info.mtu).toBe(1290);
    } finally {
      tap.close();
    }
  });

  it('hands the kernel ARP request to JS, and JS answers ARP and ICMP so that ping succeeds', async () => {
    const myMac = macBytes('02:00:5e:10:00:02');
    const peerIp = ipv4ToNumber('10.200.0.2');
    const tap = openTap({ name: 'tsn2n-t0', mac: parseMac('02:00:5e:10:00:01'), mtu: 1400 });
    tap.setAddress(ipv4ToNumber('10.200.0.1'), 24);
    const out = new Uint8Array(1500);
    let arpRequests = 0;
    let echoRequests = 0;
    let kernelMac = -1;
    tap.onFrames((b: FrameBatch) => {
      for (let i = 0; i < b.count; i++) {
        const f = b.slab.subarray(i * b.stride + b.headroom, i * b.stride + b.headroom + b.lengths[i]);
        const type = u16(f, 12);
        if (
          type === ETHERTYPE_ARP &&
          u16(f, ETH_HEADER + 6) === ARP_OP_REQUEST &&
          u32(f, ETH_HEADER + 24) === peerIp
        ) {
          arpRequests++;
          kernelMac = readMac(f, 6);
          out.set(f.subarray(6, 12), 0);
          out.set(myMac, 6);
          put16(out, 12, ETHERTYPE_ARP);
          out.set(f.subarray(ETH_HEADER, ETH_HEADER + 6), ETH_HEADER); // htype, ptype, hlen, plen
          put16(out, ETH_HEADER + 6, ARP_OP_REPLY);
          out.set(myMac, ETH_HEADER + 8);
          out.set(f.subarray(ETH_HEADER + 24, ETH_HEADER + 28), ETH_HEADER + 14); // sender IP: the asked one
          out.set(f.subarray(ETH_HEADER + 8, ETH_HEADER + 18), ETH_HEADER + 18); // target: the asker
          expect(tap.write(out, 0, ETH_HEADER + 28)).toBe(true);
        } else if (
          type === ETHERTYPE_IPV4 &&
          f[ETH_HEADER + 9] === IP_PROTO_ICMP &&
          u32(f, ETH_HEADER + 16) === peerIp
        ) {
          const ihl = (f[ETH_HEADER] & 0x0f) * 4;
          const icmp = ETH_HEADER + ihl;
          if (f[icmp] !== ICMP_ECHO_REQUEST) continue;
          echoRequests++;
          const len = f.length;
          out.set(f.subarray(0, len), 0);
          out.set(f.subarray(6, 12), 0);
          out.set(myMac, 6);
          out.set(f.subarray(ETH_HEADER + 16, ETH_HEADER + 20), ETH_HEADER + 12);
          out.set(f.subarray(ETH_HEADER + 12, ETH_HEADER + 16), ETH_HEADER + 16);
          out[icmp] = ICMP_ECHO_REPLY;
          put16(out, icmp + 2, 0);
          put16(out, icmp + 2, checksum(out, icmp, len));
          // Swapping source and destination leaves the IP header checksum as it was.
          expect(tap.write(out, 0, len)).toBe(true);
        }
      }
    });
    try {
      const r = await run('ping', ['-c', '3', '-i', '0.2', '-W', '2', '10.200.0.2']);
      expect(r.stdout).toMatch(/3 packets transmitted, 3 received/);
      expect(r.code).toBe(0);
      expect(arpRequests).toBeGreaterThanOrEqual(1);
      expect(macToString(kernelMac)).toBe('02:00:5e:10:00:01');
      expect(echoRequests).toBe(3);
      expect(tap.stats.handlerErrors).toBe(0);
      expect(tap.stats.framesWritten).toBe(arpRequests + 3);
    } finally {
      tap.close();
    }
  });

  it('carries 100,000 frames of 1400 bytes through the kernel (TAP → bridge → TAP) without loss', async () => {
    const FRAMES = 100_000;
    const FRAME_BYTES = 1400;
    // Below the receiving TAP's queue (500 frames): a window never overflows it, so any loss is a bug.
    const WINDOW = 256;
    const a = openTap({ name: 'tsn2n-a', mtu: 1500, up: true });
    const b = openTap({ name: 'tsn2n-b', mtu: 1500, up: true });
    try {
      execFileSync('ip', ['-n', NS, 'link', 'add', 'tsn2n-br', 'type', 'bridge']);
      execFileSync('ip', ['-n', NS, 'link', 'set', 'tsn2n-a', 'master', 'tsn2n-br']);
      execFileSync('ip', ['-n', NS, 'link', 'set', 'tsn2n-b', 'master', 'tsn2n-br']);
      execFileSync('ip', ['-n', NS, 'link', 'set', 'tsn2n-br', 'up']);

      const slab = new Uint8Array(WINDOW * FRAME_BYTES);
      const offsets = new Uint32Array(WINDOW);
      const lengths = new Uint32Array(WINDOW).fill(FRAME_BYTES);
      for (let i = 0; i < WINDOW; i++) {
        const o = i * FRAME_BYTES;
        offsets[i] = o;
        slab.set(macBytes('02:00:5e:10:00:bb'), o);
        slab.set(macBytes('02:00:5e:10:00:aa'), o + 6);
        put16(slab, o + 12, ETHERTYPE_TEST);
      }
      const fill = (seq: number, o: number): void => {
        slab[o + 14] = seq >>> 24;
        slab[o + 15] = (seq >>> 16) & 0xff;
        slab[o + 16] = (seq >>> 8) & 0xff;
        slab[o + 17] = seq & 0xff;
        slab.fill(seq & 0xff, o + 18, o + FRAME_BYTES);
      };

      let expected = 0;
      let received = 0;
      let bad = 0;
      let waitFor = 0;
      let wake: (() => void) | undefined;
      b.onFrames((batch) => {
        for (let i = 0; i < batch.count; i++) {
          const o = i * batch.stride + batch.headroom;
          if (u16(batch.slab, o + 12) !== ETHERTYPE_TEST) continue;
          const seq = u32(batch.slab, o + 14);
          const tag = seq & 0xff;
          if (
            seq !== expected ||
            batch.lengths[i] !== FRAME_BYTES ||
            batch.slab[o + 18] !== tag ||
            batch.slab[o + 700] !== tag ||
            batch.slab[o + FRAME_BYTES - 1] !== tag
          ) {
            bad++;
          }
          expected = seq + 1;
          received++;
        }
        if (received >= waitFor && wake) wake();
      });

      // The bridge forwards once both ports are up; probe until a first test frame comes through.
      const until = (n: number, ms: number): Promise<boolean> => {
        waitFor = n;
        if (received >= n) return Promise.resolve(true);
        return new Promise((resolve) => {
          const t = setTimeout(() => resolve(false), ms);
          wake = () => {
            clearTimeout(t);
            wake = undefined;
            resolve(true);
          };
        });
      };
      let warm = false;
      for (let i = 0; i < 50 && !warm; i++) {
        fill(0, 0);
        a.write(slab, 0, FRAME_BYTES);
        warm = await until(1, 100);
      }
      expect(warm).toBe(true);
      received = 0;
      expected = 0;
      bad = 0;

      const t0 = performance.now();
      for (let sent = 0; sent < FRAMES; ) {
        const n = Math.min(WINDOW, FRAMES - sent);
        for (let i = 0; i < n; i++) fill(sent + i, offsets[i]);
        expect(a.writeBatch(slab, offsets, lengths, n)).toBe(n);
        sent += n;
        if (!(await until(sent, 5000))) break;
      }
      const ms = performance.now() - t0;
      console.log(
        `[root] 100k frames × ${FRAME_BYTES} B through TAP→bridge→TAP: ${ms.toFixed(0)} ms, ` +
          `${Math.round(FRAMES / (ms / 1000))} frames/s, ${b.stats.batches} read batches`,
      );
      expect(received).toBe(FRAMES);
      expect(bad).toBe(0);
      expect(a.stats.writeDropped).toBe(0);
      expect(b.stats.batches).toBeLessThan(FRAMES);

      // Closing from inside the handler with frames still queued: no call reaches JS afterwards.
      let callsAfterClose = 0;
      let closedInHandler = false;
      b.onFrames(() => {
        if (closedInHandler) callsAfterClose++;
        closedInHandler = true;
        b.close();
      });
      for (let i = 0; i < WINDOW; i++) fill(i, offsets[i]);
      expect(a.writeBatch(slab, offsets, lengths, WINDOW)).toBe(WINDOW);
      expect(a.writeBatch(slab, offsets, lengths, WINDOW)).toBe(WINDOW);
      await new Promise((r) => setTimeout(r, 100));
      expect(closedInHandler).toBe(true);
      expect(callsAfterClose).toBe(0);
    } finally {
      a.close();
      b.close();
      execFileSync('ip', ['-n', NS, 'link', 'del', 'tsn2n-br']);
    }
  });

  it('keeps open fds and RSS flat over 1,000 open/close cycles, with no callback after close', async () => {
    const CYCLES = 1000;
    const RSS_SLACK_BYTES = 16 * 1024 * 1024;
    const cycle = (): LinuxTap => {
      const t = openTap({ name: 'tsn2n-c0', mtu: 1400, addr: ipv4ToNumber('10.202.0.1'), bitlen: 24 });
      t.onFrames(() => {
        throw new Error('handler called after close');
      });
      t.close();
      return t;
    };
    for (let i = 0; i < 20; i++) cycle();
    await settleMemory();
    const fds0 = countFds();
    const rss0 = process.memoryUsage().rss;
    const pollers0 = addon!.livePollers();
    let last: LinuxTap | undefined;
    for (let i = 0; i < CYCLES; i++) last = cycle();
    // Let the event loop run: a pending readiness event of a closed device must not reach JS.
    await new Promise((r) => setTimeout(r, 50));
    await settleMemory();
    const fds1 = countFds();
    const rss1 = process.memoryUsage().rss;
    console.log(
      `[root] ${CYCLES} TAP open/close cycles: fds ${fds0} → ${fds1}, ` +
        `RSS ${(rss0 / 1e6).toFixed(1)} → ${(rss1 / 1e6).toFixed(1)} MB, pollers ${pollers0} → ${addon!.livePollers()}`,
    );
    expect(fds1).toBe(fds0);
    expect(rss1 - rss0).toBeLessThan(RSS_SLACK_BYTES);
    expect(addon!.livePollers()).toBeLessThanOrEqual(pollers0 + 1);
    expect(last!.stats.handlerErrors).toBe(0);
    expect(last!.write(new Uint8Array(60), 0, 60)).toBe(false);
    expect(() => readInterface('tsn2n-c0')).toThrow(expect.objectContaining({ code: 'ENODEV' }));
  });
});
