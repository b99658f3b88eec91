// Tests of the native UDP socket's kernel offloads on loopback: GSO runs in sendBatch.
import { afterEach, describe, expect, it } from 'vitest';
import type { UdpSocket } from '../../src/io/index.js';
import { encodeSockAddr, openNativeUdp, openUdp, SOCKADDR_BYTES } from '../../src/io/index.js';
import type { SockAddr } from '../../src/util/ip.js';

const open: UdpSocket[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

function track<T extends UdpSocket>(s: T): T {
  open.push(s);
  return s;
}

/** One datagram of a test batch: its destination and length; its bytes are derived from its index. */
interface Planned {
  to: SockAddr;
  len: number;
}

/** Byte j of datagram i: distinct per datagram and position, so a misplaced or cut segment shows. */
function byteOf(i: number, j: number): number {
  return (i * 31 + j * 7 + (j >>> 8)) & 0xff;
}

/** Lays the datagrams out in one buffer at odd offsets, as the edge's slab does, with encoded destinations. */
function layOut(plan: readonly Planned[]): {
  buf: Uint8Array;
  offsets: Uint32Array;
  lengths: Uint32Array;
  addrs: Uint8Array;
} {
  const slot = 2048;
  const buf = new Uint8Array(plan.length * slot + 64);
  const offsets = new Uint32Array(plan.length);
  const lengths = new Uint32Array(plan.length);
  const addrs = new Uint8Array(plan.length * SOCKADDR_BYTES);
  plan.forEach((p, i) => {
    offsets[i] = i * slot + 13;
    lengths[i] = p.len;
    for (let j = 0; j < p.len; j++) buf[offsets[i] + j] = byteOf(i, j);
    encodeSockAddr(p.to, addrs, i * SOCKADDR_BYTES);
  });
  return { buf, offsets, lengths, addrs };
}

/** The datagram i of a plan as the receiver must see it. */
function expected(plan: readonly Planned[], i: number): number[] {
  return Array.from({ length: plan[i].len }, (_, j) => byteOf(i, j));
}

/** Collects `n` datagrams (copies) from a socket's single-datagram handler. */
function receive(s: UdpSocket, n: number): Promise<number[][]> {
  return new Promise((resolve) => {
    const got: number[][] = [];
    s.onDatagram((data) => {
      got.push([...data]);
      if (got.length === n) resolve(got);
    });
  });
}

/** A batch with GSO-able runs, run breakers (short datagram, other destination, empty datagram) for two peers. */
function mixedPlan(a: SockAddr, b: SockAddr): Planned[] {
  const plan: Planned[] = [];
  for (let i = 0; i < 5; i++) plan.push({ to: a, len: 1000 });
  plan.push({ to: a, len: 400 }); // ends the run: only the last segment may be short
  for (let i = 0; i < 3; i++) plan.push({ to: a, len: 1000 });
  plan.push({ to: a, len: 1001 }); // longer than the run's size: starts a new message
  for (let i = 0; i < 2; i++) plan.push({ to: b, len: 1000 });
  plan.push({ to: a, len: 1000 });
  plan.push({ to: b, len: 0 });
  plan.push({ to: b, len: 1 });
  for (let i = 0; i < 70; i++) plan.push({ to: a, len: 300 }); // over the 64 segments of one message
  return plan;
}

describe('UDP GSO in sendBatch', () => {
  for (const offload of [true, false]) {
    it(`delivers every datagram of a mixed batch intact and in order (offload ${offload})`, async () => {
      const tx = track(openNativeUdp({ address: '127.0.0.1', offload }));
      const ra = track(await openUdp({ address: '127.0.0.1' }));
      const rb = track(await openUdp({ address: '127.0.0.1' }));
      const plan = mixedPlan(ra.local, rb.local);
      const toA = plan.map((p, i) => (p.to === ra.local ? i : -1)).filter((i) => i >= 0);
      const toB = plan.map((p, i) => (p.to === rb.local ? i : -1)).filter((i) => i >= 0);
      const gotA = receive(ra, toA.length);
      const gotB = receive(rb, toB.length);
      const l = layOut(plan);
      expect(tx.sendBatch(l.buf, l.offsets, l.lengths, l.addrs, plan.length)).toBe(plan.length);
      expect(await gotA).toEqual(toA.map((i) => expected(plan, i)));
      expect(await gotB).toEqual(toB.map((i) => expected(plan, i)));
      expect(tx.stats.sent).toBe(plan.length);
      expect(tx.stats.sendDropped).toBe(0);
    });
  }

  it('skips unroutable entries inside a run and keeps the rest', async () => {
    const tx = track(openNativeUdp({ address: '127.0.0.1' }));
    const rx = track(await openUdp({ address: '127.0.0.1' }));
    const plan: Planned[] = Array.from({ length: 6 }, () => ({ to: rx.local, len: 500 }));
    const l = layOut(plan);
    // Entry 2: an unknown family (the addon cannot decode it).
    l.addrs.fill(0, 2 * SOCKADDR_BYTES, 3 * SOCKADDR_BYTES);
    l.addrs[2 * SOCKADDR_BYTES] = 9;
    const got = receive(rx, 5);
    expect(tx.sendBatch(l.buf, l.offsets, l.lengths, l.addrs, plan.length)).toBe(5);
    expect(await got).toEqual([0, 1, 3, 4, 5].map((i) => expected(plan, i)));
  });
});
