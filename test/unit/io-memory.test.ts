// Tests of the in-memory I/O doubles: delivery order, buffer ownership, drop rules, NAT behaviour, MemoryTap.
import { describe, expect, it } from 'vitest';
import type { DropReason, FrameBatch, MemoryDatagram } from '../../src/io/index.js';
import { FRAME_HEADROOM_BYTES, MemoryNetwork, MemoryTap } from '../../src/io/index.js';
import type { SockAddr } from '../../src/util/ip.js';

const A = '10.0.0.1';
const B = '10.0.0.2';

function collect(net: MemoryNetwork, address: string, port?: number) {
  const s = net.open(address, port);
  const got: { data: Buffer; from: SockAddr }[] = [];
  s.onDatagram((data, from) => got.push({ data, from }));
  return { s, got };
}

describe('MemoryNetwork', () => {
  it('delivers asynchronously in send order, with the sender as source', async () => {
    const net = new MemoryNetwork();
    const a = collect(net, A, 1000);
    const b = collect(net, B, 2000);
    for (let i = 0; i < 5; i++) a.s.send(Uint8Array.of(i), 0, 1, b.s.local);
    expect(b.got).toHaveLength(0);
    expect(net.pending).toBe(5);
    await net.settle();
    expect(b.got.map((g) => g.data[0])).toEqual([0, 1, 2, 3, 4]);
    expect(b.got[0].from).toEqual({ family: 4, address: A, port: 1000 });
    expect(net.stats.delivered).toBe(5);
    expect(a.s.stats.sent).toBe(5);
    expect(b.s.stats.received).toBe(5);
  });

  it('copies the sent range so the caller may reuse its buffer', async () => {
    const net = new MemoryNetwork();
    const a = collect(net, A, 1);
    const b = collect(net, B, 2);
    const buf = Uint8Array.of(9, 9, 1, 2, 3, 9);
    a.s.send(buf, 2, 3, b.s.local);
    buf.fill(0);
    await net.settle();
    expect([...b.got[0].data]).toEqual([1, 2, 3]);
  });

  it('hands over fresh `from` objects that the receiver may keep', async () => {
    const net = new MemoryNetwork();
    const a = collect(net, A, 1);
    const b = collect(net, B, 2);
    a.s.send(Uint8Array.of(1), 0, 1, b.s.local);
    a.s.send(Uint8Array.of(2), 0, 1, b.s.local);
    await net.settle();
    expect(b.got[0].from).not.toBe(b.got[1].from);
    b.got[0].from.port = 77;
    expect(a.s.local.port).toBe(1);
  });

  it('runs ping-pong through the queue without recursion and stops runaway loops', () => {
    const net = new MemoryNetwork({ delivery: 'manual', maxDeliveriesPerDrain: 10_000 });
    const a = net.open(A, 1);
    const b = net.open(B, 2);
    let depth = 0;
    let maxDepth = 0;
    let bounces = 0;
    const bounce = (self: typeof a) => (data: Buffer, from: SockAddr) => {
      depth++;
      maxDepth = Math.max(maxDepth, depth);
      bounces++;
      if (data[0] > 0) self.send(Uint8Array.of(data[0] - 1), 0, 1, from);
      depth--;
    };
    a.onDatagram(bounce(a));
    b.onDatagram(bounce(b));
    a.send(Uint8Array.of(200), 0, 1, b.local);
    expect(bounces).toBe(0);
    net.flush();
    expect(bounces).toBe(201);
    expect(maxDepth).toBe(1);

    a.onDatagram((_d, from) => a.send(Uint8Array.of(1), 0, 1, from));
    b.onDatagram((_d, from) => b.send(Uint8Array.of(1), 0, 1, from));
    a.send(Uint8Array.of(1), 0, 1, b.local);
    expect(() => net.flush()).toThrow(/a loop/);
    expect(net.pending).toBe(0);
  });

  it('assigns free ports, refuses a taken endpoint and unbinds on close', async () => {
    const net = new MemoryNetwork();
    const s1 = net.open(A);
    const s2 = net.open(A);
    expect(s1.local.port).not.toBe(s2.local.port);
    expect(() => net.open(A, s1.local.port)).toThrow(/EADDRINUSE/);
    const peer = collect(net, B, 9);
    s1.close();
    expect(net.socketAt(A, s1.local.port)).toBeUndefined();
    const again = net.open(A, s1.local.port);
    expect(again.local.port).toBe(s1.local.port);
    s1.send(Uint8Array.of(1), 0, 1, peer.s.local);
    expect(s1.stats.sendAfterClose).toBe(1);
    s2.send(Uint8Array.of(1), 0, 1, { family: 4, address: B, port: 10 });
    await net.settle();
    expect(net.stats.dropped.noSocket).toBe(1);
  });

  it('drops datagrams queued for a socket that closes before delivery and from a closed sender', async () => {
    const net = new MemoryNetwork();
    const a = collect(net, A, 1);
    const b = collect(net, B, 2);
    a.s.send(Uint8Array.of(1), 0, 1, b.s.local);
    b.s.send(Uint8Array.of(1), 0, 1, a.s.local);
    b.s.close();
    await net.settle();
    expect(b.got).toHaveLength(0);
    expect(a.got).toHaveLength(0);
    expect(net.stats.dropped.noSocket + net.stats.dropped.closed).toBe(2);
  });

  it('supports IPv6 endpoints', async () => {
    const net = new MemoryNetwork();
    const a = collect(net, 'fd00::1', 5);
    const b = collect(net, 'fd00::2', 6);
    expect(a.s.local.family).toBe(6);
    a.s.send(Uint8Array.of(6), 0, 1, b.s.local);
    await net.settle();
    expect(b.got[0].from).toEqual({ family: 6, address: 'fd00::1', port: 5 });
  });

  it('blackholes a pair of hosts both ways and can lift it again', async () => {
    const net = new MemoryNetwork();
    const a = collect(net, A, 1);
    const b = collect(net, B, 2);
    const c = collect(net, '10.0.0.3', 3);
    const lift = net.blackhole(A, B);
    a.s.send(Uint8Array.of(1), 0, 1, b.s.local);
    b.s.send(Uint8Array.of(1), 0, 1, a.s.local);
    a.s.send(Uint8Array.of(1), 0, 1, c.s.local);
    await net.settle();
    expect(a.got.length + b.got.length).toBe(0);
    expect(c.got).toHaveLength(1);
    expect(net.stats.dropped.rule).toBe(2);
    lift();
    a.s.send(Uint8Array.of(1), 0, 1, b.s.local);
    await net.settle();
    expect(b.got).toHaveLength(1);
  });

  it('applies custom drop rules and reports every datagram to observers', async () => {
    const net = new MemoryNetwork();
    const a = collect(net, A, 1);
    const b = collect(net, B, 2);
    net.addDropRule((d) => d.data[0] === 0xff);
    const seen: [MemoryDatagram, DropReason | undefined][] = [];
    net.observe((d, why) => seen.push([d, why]));
    a.s.send(Uint8Array.of(0xff), 0, 1, b.s.local);
    a.s.send(Uint8Array.of(0x01), 0, 1, b.s.local);
    await net.settle();
    expect(b.got.map((g) => g.data[0])).toEqual([1]);
    expect(seen.map((s) => s[1])).toEqual(['rule', undefined]);
  });

  it('drops datagrams above maxDatagramBytes', async () => {
    const net = new MemoryNetwork({ maxDatagramBytes: 100 });
    const a = collect(net, A, 1);
    const b = collect(net, B, 2);
    a.s.send(new Uint8Array(101), 0, 101, b.s.local);
    a.s.send(new Uint8Array(100), 0, 100, b.s.local);
    await net.settle();
    expect(b.got).toHaveLength(1);
    expect(net.stats.dropped.tooBig).toBe(1);
  });

  it('injects raw datagrams from any source', async () => {
    const net = new MemoryNetwork();
    const b = collect(net, B, 2);
    const raw = Uint8Array.of(3, 2, 1);
    net.inject({ family: 4, address: '192.0.2.9', port: 99 }, b.s.local, raw);
    raw[0] = 0;
    await net.settle();
    expect([...b.got[0].data]).toEqual([3, 2, 1]);
    expect(b.got[0].from).toEqual({ family: 4, address: '192.0.2.9', port: 99 });
  });

  it('manual mode delivers only on flush', async () => {
    const net = new MemoryNetwork({ delivery: 'manual' });
    const a = collect(net, A, 1);
    const b = collect(net, B, 2);
    a.s.send(Uint8Array.of(1), 0, 1, b.s.local);
    await Promise.resolve();
    expect(b.got).toHaveLength(0);
    net.flush();
    expect(b.got).toHaveLength(1);
  });

  it('rethrows a handler error after delivering the rest of the queue', () => {
    const net = new MemoryNetwork({ delivery: 'manual' });
    const a = net.open(A, 1);
    const b = collect(net, B, 2);
    a.onDatagram(() => {
      throw new Error('boom');
    });
    b.s.send(Uint8Array.of(1), 0, 1, a.local);
    b.s.send(Uint8Array.of(1), 0, 1, a.local);
    a.send(Uint8Array.of(1), 0, 1, b.s.local);
    expect(() => net.flush()).toThrow('boom');
    expect(b.got).toHaveLength(1);
  });
});

describe('MemoryNetwork NAT', () => {
  const SN = '203.0.113.1';
  const PUB = '198.51.100.1';

  it('full cone: translates the source and accepts inbound from anyone once mapped', async () => {
    const net = new MemoryNetwork();
    const nat = net.addNat('192.168.1.0/24', PUB);
    const edge = collect(net, '192.168.1.10', 5000);
    const sn = collect(net, SN, 7654);
    const other = collect(net, '203.0.113.2', 4000);
    edge.s.send(Uint8Array.of(1), 0, 1, sn.s.local);
    await net.settle();
    const mapped = sn.got[0].from;
    expect(mapped.address).toBe(PUB);
    expect(mapped.port).not.toBe(5000);
    expect(nat.mappings).toBe(1);
    other.s.send(Uint8Array.of(2), 0, 1, mapped);
    sn.s.send(Uint8Array.of(3), 0, 1, mapped);
    await net.settle();
    expect(edge.got.map((g) => g.data[0])).toEqual([2, 3]);
    expect(edge.got[0].from).toEqual(other.s.local);
    // The same private endpoint keeps its mapping towards another destination.
    edge.s.send(Uint8Array.of(4), 0, 1, other.s.local);
    await net.settle();
    expect(other.got[0].from).toEqual(mapped);
  });

  it('drops inbound traffic to an unmapped public port', async () => {
    const net = new MemoryNetwork();
    net.addNat('192.168.1.0/24', PUB);
    collect(net, '192.168.1.10', 5000);
    const sn = collect(net, SN, 7654);
    sn.s.send(Uint8Array.of(1), 0, 1, { family: 4, address: PUB, port: 5000 });
    await net.settle();
    expect(net.stats.dropped.nat).toBe(1);
  });

  it('port-restricted cone: only endpoints the host sent to get through', async () => {
    const net = new MemoryNetwork();
    net.addNat('192.168.1.0/24', PUB, { filterUnsolicited: true });
    const edge = collect(net, '192.168.1.10', 5000);
    const sn = collect(net, SN, 7654);
    const other = collect(net, '203.0.113.2', 4000);
    edge.s.send(Uint8Array.of(1), 0, 1, sn.s.local);
    await net.settle();
    const mapped = sn.got[0].from;
    other.s.send(Uint8Array.of(2), 0, 1, mapped);
    sn.s.send(Uint8Array.of(3), 0, 1, mapped);
    await net.settle();
    expect(edge.got.map((g) => g.data[0])).toEqual([3]);
    expect(net.stats.dropped.nat).toBe(1);
    // Hole punching: after the edge sends to `other`, `other` gets through.
    edge.s.send(Uint8Array.of(4), 0, 1, other.s.local);
    await net.settle();
    other.s.send(Uint8Array.of(5), 0, 1, mapped);
    await net.settle();
    expect(edge.got.map((g) => g.data[0])).toEqual([3, 5]);
  });

  it('symmetric: a different public port per destination', async () => {
    const net = new MemoryNetwork();
    const nat = net.addNat('192.168.1.0/24', PUB, { symmetric: true, filterUnsolicited: true });
    const edge = collect(net, '192.168.1.10', 5000);
    const sn = collect(net, SN, 7654);
    const other = collect(net, '203.0.113.2', 4000);
    edge.s.send(Uint8Array.of(1), 0, 1, sn.s.local);
    edge.s.send(Uint8Array.of(1), 0, 1, other.s.local);
    await net.settle();
    expect(sn.got[0].from.port).not.toBe(other.got[0].from.port);
    expect(nat.mappings).toBe(2);
    // The port the supernode saw does not let `other` in.
    other.s.send(Uint8Array.of(9), 0, 1, sn.got[0].from);
    await net.settle();
    expect(edge.got).toHaveLength(0);
    nat.clear();
    sn.s.send(Uint8Array.of(9), 0, 1, sn.got[0].from);
    await net.settle();
    expect(edge.got).toHaveLength(0);
    expect(net.stats.dropped.nat).toBe(2);
  });

  it('hosts behind the same NAT talk directly, and hairpin through the public address', async () => {
    const net = new MemoryNetwork();
    net.addNat('192.168.1.0/24', PUB);
    const e1 = collect(net, '192.168.1.10', 5000);
    const e2 = collect(net, '192.168.1.11', 5000);
    const sn = collect(net, SN, 7654);
    e1.s.send(Uint8Array.of(1), 0, 1, e2.s.local);
    e2.s.send(Uint8Array.of(1), 0, 1, sn.s.local);
    await net.settle();
    expect(e2.got[0].from).toEqual(e1.s.local);
    e1.s.send(Uint8Array.of(2), 0, 1, sn.got[0].from);
    await net.settle();
    expect(e2.got[1].data[0]).toBe(2);
    expect(e2.got[1].from.address).toBe(PUB);
  });

  it('blackhole by private address also covers the translated traffic', async () => {
    const net = new MemoryNetwork();
    net.addNat('192.168.1.0/24', PUB);
    const edge = collect(net, '192.168.1.10', 5000);
    const sn = collect(net, SN, 7654);
    net.blackhole('192.168.1.10', SN);
    edge.s.send(Uint8Array.of(1), 0, 1, sn.s.local);
    await net.settle();
    expect(sn.got).toHaveLength(0);
    expect(() => net.addNat('192.168.2.0', PUB)).toThrow(/Usage/);
  });
});

describe('MemoryTap', () => {
  function frame(n: number, len = 60): Uint8Array {
    const f = new Uint8Array(len);
    f.fill(n & 0xff);
    return f;
  }

  it('delivers injected frames as one batch with headroom, then poisons the slab', () => {
    const tap = new MemoryTap({ name: 't0', mac: 0x020000000001, mtu: 1400 });
    const seen: number[][] = [];
    let kept: FrameBatch | undefined;
    tap.onFrames((b) => {
      kept = b;
      expect(b.headroom).toBe(FRAME_HEADROOM_BYTES);
      const batch: number[] = [];
      for (let i = 0; i < b.count; i++) {
        const off = i * b.stride + b.headroom;
        batch.push(b.lengths[i], b.slab[off], b.slab[off + b.lengths[i] - 1]);
        // The headroom belongs to the receiver.
        b.slab[off - 1] = 0x55;
      }
      seen.push(batch);
    });
    tap.inject([frame(1, 60), frame(2, 1414)]);
    expect(seen).toEqual([[60, 1, 1, 1414, 2, 2]]);
    expect(kept!.count).toBe(0);
    expect(kept!.slab[kept!.headroom]).toBe(0xee);
    expect(tap.stats.injected).toBe(2);
  });

  it('splits long injections into batches of maxBatch', () => {
    const tap = new MemoryTap({ maxBatch: 4, poison: false });
    const counts: number[] = [];
    tap.onFrames((b) => counts.push(b.count));
    tap.inject(Array.from({ length: 10 }, (_, i) => frame(i)));
    expect(counts).toEqual([4, 4, 2]);
  });

  it('collects writes as copies, calls onWrite, and simulates a full queue', () => {
    const tap = new MemoryTap();
    const cb: Uint8Array[] = [];
    tap.onWrite = (f) => cb.push(f);
    const buf = Uint8Array.of(0, 0, 7, 8, 9, 0);
    expect(tap.write(buf, 2, 3)).toBe(true);
    buf.fill(1);
    expect([...tap.written[0]]).toEqual([7, 8, 9]);
    expect(cb[0]).toBe(tap.written[0]);
    tap.writable = false;
    expect(tap.write(buf, 0, 1)).toBe(false);
    expect(tap.stats.writeDropped).toBe(1);
    expect(tap.takeWritten()).toHaveLength(1);
    expect(tap.written).toHaveLength(0);
  });

  it('writes a batch frame by frame and reports how many were accepted', () => {
    const tap = new MemoryTap();
    const buf = Uint8Array.of(1, 2, 3, 4, 5, 6, 7);
    expect(tap.writeBatch(buf, Uint32Array.of(5, 0, 2), Uint32Array.of(2, 1, 3), 3)).toBe(3);
    expect(tap.written.map((f) => [...f])).toEqual([[6, 7], [1], [3, 4, 5]]);
    tap.writable = false;
    expect(tap.writeBatch(buf, Uint32Array.of(0), Uint32Array.of(1), 1)).toBe(0);
    expect(tap.stats.writeDropped).toBe(1);
  });

  it('updates its address and stops delivering after close', () => {
    const tap = new MemoryTap();
    tap.setAddress(0x0a000001, 24);
    expect(tap.info.addr).toBe(0x0a000001);
    expect(tap.info.bitlen).toBe(24);
    let calls = 0;
    tap.onFrames(() => calls++);
    tap.close();
    tap.inject(frame(1));
    expect(calls).toBe(0);
    expect(tap.write(frame(1), 0, 10)).toBe(false);
  });
});
