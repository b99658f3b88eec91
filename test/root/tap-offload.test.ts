// Root tests of the TAP offloads: TCP (IPv4, IPv6) and UDP between two namespaces through two offload TAPs and a JS relay.
import { execFile, execFileSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAddon } from '../../src/io/addon.js';
import type { FrameBatch, LinuxTap } from '../../src/io/index.js';
import { openTap } from '../../src/io/index.js';
import { ipv4ToNumber } from '../../src/util/ip.js';

const IS_CI = process.env.CI === 'true';
const IS_ROOT = process.getuid?.() === 0;
const NS_A = `tsn2n-offa-${process.pid}`;
const NS_B = `tsn2n-offb-${process.pid}`;
const MTU = 1290;
const A4 = '10.203.0.1';
const B4 = '10.203.0.2';
const A6 = 'fd00:203::1';
const B6 = 'fd00:203::2';
const PORT = 5201;

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
if (reason !== undefined && !IS_CI) console.warn(`[root] skipping the TAP offload tests: ${reason}`);
const skip = reason !== undefined && !IS_CI;

/** Runs `node -e script args…` inside a namespace; resolves with its stdout (rejects on a non-zero exit). */
function nodeIn(ns: string, script: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'ip',
      ['netns', 'exec', ns, process.execPath, '-e', script, ...args],
      { timeout: 60_000 },
      (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout.trim()),
    );
  });
}

// A TCP sink: accepts one connection, prints the SHA-256 and length of everything received.
const TCP_SINK = `
const net = require('net'), crypto = require('crypto');
const [host, port] = process.argv.slice(1);
const srv = net.createServer((c) => {
  const h = crypto.createHash('sha256'); let n = 0;
  c.on('data', (d) => { h.update(d); n += d.length; });
  c.on('end', () => { console.log(h.digest('hex') + ' ' + n); process.exit(0); });
});
srv.listen(Number(port), host, () => console.error('listening'));
setTimeout(() => process.exit(3), 50000);
`;

// A TCP source: connects (retrying until the sink listens), sends `bytes` of seeded data, prints its SHA-256.
const TCP_SOURCE = `
const net = require('net'), crypto = require('crypto');
const [host, port, bytes] = process.argv.slice(1);
const total = Number(bytes); const chunk = Buffer.alloc(256 * 1024);
let x = 0x9e3779b9; for (let i = 0; i < chunk.length; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; chunk[i] = x & 0xff; }
const h = crypto.createHash('sha256');
function go(attempt) {
  const c = net.connect(Number(port), host);
  c.on('error', (e) => { if (attempt < 100) setTimeout(() => go(attempt + 1), 50); else { console.error(e); process.exit(2); } });
  c.on('connect', () => {
    let sent = 0;
    const pump = () => {
      while (sent < total) {
        const part = chunk.subarray(0, Math.min(chunk.length, total - sent));
        h.update(part); sent += part.length;
        if (!c.write(part)) { c.once('drain', pump); return; }
      }
      c.end(() => console.log(h.digest('hex') + ' ' + sent));
    };
    pump();
  });
}
go(0);
`;

// UDP: the receiver counts datagrams whose bytes are intact; the sender sends sizes 1..count*13 (some cut by IP).
const UDP_SINK = `
const dgram = require('dgram');
const [host, port, count] = process.argv.slice(1);
const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
let ok = 0, bad = 0;
s.on('message', (m) => {
  let good = true; for (let i = 0; i < m.length; i++) if (m[i] !== ((m.length + i) & 0xff)) good = false;
  if (good) ok++; else bad++;
  if (ok + bad === Number(count)) { console.log(ok + ' ' + bad); process.exit(0); }
});
s.bind(Number(port), host, () => console.error('listening'));
setTimeout(() => { console.log(ok + ' ' + bad); process.exit(0); }, 15000);
`;
const UDP_SOURCE = `
const dgram = require('dgram');
const [host, port, count] = process.argv.slice(1);
const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
let i = 0;
const next = () => {
  if (i === Number(count)) { s.close(); return; }
  const len = 1 + ((i * 13) % 3000); i++;
  const m = Buffer.alloc(len); for (let j = 0; j < len; j++) m[j] = (len + j) & 0xff;
  s.send(m, Number(port), host, () => setTimeout(next, 2));
};
setTimeout(next, 300);
`;

function linkStats(ns: string, dev: string): { rx: number; tx: number } {
  const j = JSON.parse(
    execFileSync('ip', ['-n', ns, '-j', '-s', 'link', 'show', dev], { encoding: 'utf8' }),
  ) as {
    stats64: { rx: { packets: number }; tx: { packets: number } };
  }[];
  return { rx: j[0].stats64.rx.packets, tx: j[0].stats64.tx.packets };
}

/** One's complement checksum over b[from, to) plus `sum` (RFC 1071), folded, not inverted. */
function ocSum(b: Uint8Array, from: number, to: number, sum = 0): number {
  let s = sum;
  for (let i = from; i + 1 < to; i += 2) s += (b[i] << 8) | b[i + 1];
  if ((to - from) & 1) s += b[to - 1] << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** Checks a frame the relay sees like a receiving host would: IPv4 header and TCP/UDP checksums, size. */
function frameProblem(b: Uint8Array, o: number, len: number): string | undefined {
  if (len > MTU + 14) return `frame of ${len} bytes above MTU ${MTU} + 14`;
  const type = (b[o + 12] << 8) | b[o + 13];
  let proto: number;
  let l4: number;
  let pseudo: number;
  if (type === 0x0800) {
    const ihl = (b[o + 14] & 0xf) * 4;
    if (ocSum(b, o + 14, o + 14 + ihl) !== 0xffff) return 'bad IPv4 header checksum';
    if (((b[o + 20] << 8) | b[o + 21]) & 0x3fff) return undefined; // fragment: the L4 checksum spans fragments
    proto = b[o + 23];
    l4 = o + 14 + ihl;
    const tot = (b[o + 16] << 8) | b[o + 17];
    pseudo = ocSum(b, o + 26, o + 34, proto + (tot - ihl));
    if (o + 14 + tot !== o + len) return `IPv4 length ${tot} in a frame of ${len}`;
  } else if (type === 0x86dd) {
    proto = b[o + 20];
    l4 = o + 54;
    const plen = (b[o + 18] << 8) | b[o + 19];
    pseudo = ocSum(b, o + 22, o + 54, proto + plen);
  } else {
    return undefined;
  }
  if (proto !== 6 && proto !== 17) return undefined;
  if (proto === 17 && b[l4 + 6] === 0 && b[l4 + 7] === 0 && type === 0x0800) return undefined;
  if (ocSum(b, l4, o + len, pseudo) !== 0xffff) return `bad ${proto === 6 ? 'TCP' : 'UDP'} checksum`;
  return undefined;
}

describe.skipIf(skip)('TAP offloads between two namespaces (root)', () => {
  const addon = IS_ROOT ? loadAddon() : undefined;
  let homeNs = -1;
  let a: LinuxTap | undefined;
  let b: LinuxTap | undefined;
  const relayed = { ab: 0, ba: 0, writtenAb: 0, problems: [] as string[] };

  /** Creates the TAP while this thread is in namespace `ns` (TAP devices belong to their creator's namespace). */
  function tapIn(ns: string, addr: string): LinuxTap {
    const fd = openSync(`/run/netns/${ns}`, 'r');
    try {
      addon!.setNetns(fd);
      return openTap({ name: 'tsn2n-off', mtu: MTU, addr: ipv4ToNumber(addr), bitlen: 24 });
    } finally {
      addon!.setNetns(homeNs);
      closeSync(fd);
    }
  }

  function relay(from: LinuxTap, to: LinuxTap, dir: 'ab' | 'ba'): void {
    const offsets = new Uint32Array(256);
    const lengths = new Uint32Array(256);
    from.onFrames((batch: FrameBatch) => {
      for (let i = 0; i < batch.count; i++) {
        offsets[i] = i * batch.stride + batch.headroom;
        lengths[i] = batch.lengths[i];
        const p = frameProblem(batch.slab, offsets[i], lengths[i]);
        if (p !== undefined && relayed.problems.length < 5) relayed.problems.push(`${dir}: ${p}`);
      }
      relayed[dir] += batch.count;
      const n = to.writeBatch(batch.slab, offsets, lengths, batch.count);
      if (dir === 'ab') relayed.writtenAb += n;
    });
  }

  beforeAll(() => {
    if (reason !== undefined) throw new Error(`root TAP offload tests cannot run under CI=true: ${reason}`);
    homeNs = openSync('/proc/thread-self/ns/net', 'r');
    for (const ns of [NS_A, NS_B]) execFileSync('ip', ['netns', 'add', ns]);
    a = tapIn(NS_A, A4);
    b = tapIn(NS_B, B4);
    for (const [ns, addr] of [
      [NS_A, A6],
      [NS_B, B6],
    ] as const) {
      execFileSync('ip', ['-n', ns, 'addr', 'add', `${addr}/64`, 'dev', 'tsn2n-off', 'nodad']);
      execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    relay(a, b, 'ab');
    relay(b, a, 'ba');
  });

  afterAll(() => {
    a?.close();
    b?.close();
    if (homeNs >= 0) closeSync(homeNs);
    for (const ns of [NS_A, NS_B]) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        // Not created (the gate failed before): nothing to clean.
      }
    }
  });

  it('the kernel takes the offloads', () => {
    expect(a!.offload).toBe(true);
    expect(b!.offload).toBe(true);
  });

  for (const [family, dst, bytes] of [
    ['IPv4', B4, 48 << 20],
    ['IPv6', B6, 16 << 20],
  ] as const) {
    it(`carries a TCP stream over ${family} intact, cutting TSO frames to the MTU and merging runs on write`, async () => {
      const before = { a: linkStats(NS_A, 'tsn2n-off'), b: linkStats(NS_B, 'tsn2n-off') };
      const relayedBefore = { ...relayed };
      const sink = nodeIn(NS_B, TCP_SINK, [dst, String(PORT)]);
      const source = nodeIn(NS_A, TCP_SOURCE, [dst, String(PORT), String(bytes)]);
      const [got, sent] = await Promise.all([sink, source]);
      expect(got).toBe(sent);
      expect(sent.endsWith(` ${bytes}`)).toBe(true);
      expect(relayed.problems).toEqual([]);
      const after = { a: linkStats(NS_A, 'tsn2n-off'), b: linkStats(NS_B, 'tsn2n-off') };
      // Frames the kernel handed to TAP a (TSO frames) vs the MTU frames the relay saw: cut in the addon.
      const kernelTx = after.a.tx - before.a.tx;
      const jsFrames = relayed.ab - relayedBefore.ab;
      expect(jsFrames).toBeGreaterThan(bytes / MTU);
      expect(kernelTx).toBeLessThan(jsFrames / 4);
      // Frames the kernel of b received vs those written: merged into GSO frames by the addon.
      const kernelRx = after.b.rx - before.b.rx;
      expect(relayed.writtenAb - relayedBefore.writtenAb).toBe(jsFrames);
      expect(kernelRx).toBeLessThan(jsFrames / 4);
    });
  }

  for (const [family, dst] of [
    ['IPv4', B4],
    ['IPv6', B6],
  ] as const) {
    it(`completes UDP checksums left to the device (${family}, sizes up to 3000 bytes, fragments)`, async () => {
      const COUNT = 300;
      const sink = nodeIn(NS_B, UDP_SINK, [dst, String(PORT + 1), String(COUNT)]);
      await nodeIn(NS_A, UDP_SOURCE, [dst, String(PORT + 1), String(COUNT)]);
      expect(await sink).toBe(`${COUNT} 0`);
      expect(relayed.problems).toEqual([]);
    });
  }
});
