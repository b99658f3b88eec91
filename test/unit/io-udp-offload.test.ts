// Tests of the native UDP socket's kernel offloads on loopback: GSO runs in sendBatch, GRO splitting on receive.
import { afterEach, describe, expect, it } from 'vitest';
import type { DatagramBatch, UdpSocket } from '../../src/io/index.js';
import {
  decodeSockAddr,
  encodeSockAddr,
  openNativeUdp,
  openUdp,
  SOCKADDR_BYTES,
} from '../../src/io/index.js';
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

describe('UDP GRO on the native receive path', () => {
  /** Receives `n` datagrams through onDatagrams, copying each with its source. */
  function receiveBatches(
    s: ReturnType<typeof openNativeUdp>,
    n: number,
  ): Promise<{ data: number[]; from: SockAddr }[]> {
    return new Promise((resolve) => {
      const got: { data: number[]; from: SockAddr }[] = [];
      s.onDatagrams((b: DatagramBatch) => {
        for (let i = 0; i < b.count; i++) {
          const off = i * b.stride + b.headroom;
          got.push({
            data: [...b.slab.subarray(off, off + b.lengths[i])],
            from: decodeSockAddr(b.addrs, i * SOCKADDR_BYTES),
          });
        }
        if (got.length >= n) resolve(got);
      });
    });
  }

  for (const family of [4, 6] as const) {
    it(`splits coalesced datagrams back into slots, more than one slab full, in order (IPv${family})`, async () => {
      const address = family === 4 ? '127.0.0.1' : '::1';
      const rx = track(openNativeUdp({ family, address, recvBufferBytes: 4 << 20, maxDatagramBytes: 1250 }));
      const tx = track(openNativeUdp({ family, address }));
      const plan: Planned[] = [];
      for (let i = 0; i < 300; i++)
        plan.push({ to: rx.local, len: i === 150 ? 1300 : i % 100 === 99 ? 77 : 1200 });
      const l = layOut(plan);
      // Datagram 150 is longer than a slot: dropped, as without GRO.
      const want = plan.map((_, i) => i).filter((i) => i !== 150);
      const got = receiveBatches(rx, want.length);
      expect(tx.sendBatch(l.buf, l.offsets, l.lengths, l.addrs, plan.length)).toBe(plan.length);
      const all = await got;
      expect(all.map((g) => g.data)).toEqual(want.map((i) => expected(plan, i)));
      for (const g of all) expect(g.from).toEqual(tx.local);
      expect(rx.stats.received).toBe(want.length);
    });
  }

  it('hands over an empty datagram and single datagrams between coalesced ones', async () => {
    const rx = track(openNativeUdp({ address: '127.0.0.1' }));
    const d = track(await openUdp({ address: '127.0.0.1' }));
    const tx = track(openNativeUdp({ address: '127.0.0.1' }));
    const got = receiveBatches(rx, 2 + 10);
    d.send(new Uint8Array(0), 0, 0, rx.local);
    d.send(Uint8Array.of(5, 6, 7), 0, 3, rx.local);
    const plan: Planned[] = Array.from({ length: 10 }, () => ({ to: rx.local, len: 900 }));
    const l = layOut(plan);
    // The dgram datagrams are queued first: wait a little so the order at the receiver is fixed.
    await new Promise((r) => setTimeout(r, 20));
    tx.sendBatch(l.buf, l.offsets, l.lengths, l.addrs, plan.length);
    const all = await got;
    expect(all[0]).toEqual({ data: [], from: d.local });
    expect(all[1]).toEqual({ data: [5, 6, 7], from: d.local });
    expect(all.slice(2).map((g) => g.data)).toEqual(plan.map((_, i) => expected(plan, i)));
  });
});
