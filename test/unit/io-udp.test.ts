// Tests of the UDP layer on loopback: node:dgram socket with its pool, native batched socket, address codec, pool.
import { afterEach, describe, expect, it } from 'vitest';
import type { DatagramBatch, UdpSocket } from '../../src/io/index.js';
import {
  BufferPool,
  decodeSockAddr,
  encodeSockAddr,
  formatIpv6,
  ipv4SockAddrKey,
  isBatchUdpSocket,
  MemoryNetwork,
  openNativeUdp,
  openUdp,
  parseIpv6,
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

/** Resolves with the next `n` datagrams a socket receives (copied, with their source). */
function receive(s: UdpSocket, n: number): Promise<{ data: Uint8Array; from: SockAddr }[]> {
  return new Promise((resolve) => {
    const got: { data: Uint8Array; from: SockAddr }[] = [];
    s.onDatagram((data, from) => {
      got.push({ data: Uint8Array.from(data), from });
      if (got.length === n) resolve(got);
    });
  });
}

describe('socket address codec', () => {
  const cases: [string, string][] = [
    ['::', '::'],
    ['::1', '::1'],
    ['fe80::1:2', 'fe80::1:2'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:DB8::', '2001:db8::'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['::ffff:192.0.2.1', '::ffff:192.0.2.1'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
  ];
  it.each(cases)('IPv6 %s formats as %s (inet_ntop form)', (text, canonical) => {
    expect(formatIpv6(parseIpv6(text))).toBe(canonical);
  });

  it('rejects malformed IPv6 text', () => {
    for (const bad of ['1::2::3', ':::', '1:2:3:4:5:6:7:8:9', 'g::1', '12345::', '1:2']) {
      expect(() => parseIpv6(bad), bad).toThrow(TypeError);
    }
  });

  it('round-trips IPv4 and IPv6 entries at an odd offset and keys IPv4 entries by number', () => {
    const buf = new Uint8Array(3 + 2 * SOCKADDR_BYTES);
    const v4: SockAddr = { family: 4, address: '203.0.113.9', port: 7654 };
    const v6: SockAddr = { family: 6, address: 'fe80::1%3', port: 65535 };
    encodeSockAddr(v4, buf, 3);
    encodeSockAddr(v6, buf, 3 + SOCKADDR_BYTES);
    expect(decodeSockAddr(buf, 3)).toEqual(v4);
    expect(decodeSockAddr(buf, 3 + SOCKADDR_BYTES)).toEqual(v6);
    expect(ipv4SockAddrKey(buf, 3)).toBe(((203 * 256 + 0) * 256 * 256 + 113 * 256 + 9) * 65536 + 7654);
    expect(ipv4SockAddrKey(buf, 3 + SOCKADDR_BYTES)).toBe(-1);
    expect([...buf.subarray(3, 8)]).toEqual([4, 0, 0x1d, 0xe6, 203]);
  });
});

describe('BufferPool', () => {
  it('reuses released buffers, ignores double release, and overflows past its limit', () => {
    const pool = new BufferPool(64, 2);
    const a = pool.acquire();
    const b = pool.acquire();
    const c = pool.acquire();
    expect(pool.stats.overflow).toBe(1);
    expect(pool.inUse).toBe(2);
    a.release();
    a.release();
    c.release();
    expect(pool.available).toBe(1);
    const d = pool.acquire();
    expect(d.buf).toBe(a.buf);
    expect(pool.acquire().buf).not.toBe(b.buf);
    b.release(new Error('EHOSTUNREACH'));
    expect(pool.stats.errors).toBe(1);
    expect(pool.stats.created).toBe(4);
    expect(() => new BufferPool(0, 1)).toThrow(RangeError);
  });
});

describe('DgramUdpSocket (node:dgram)', () => {
  it('sends and receives on IPv4 loopback; the caller may reuse its buffer at once', async () => {
    const a = track(await openUdp({ address: '127.0.0.1' }));
    const b = track(await openUdp({ address: '127.0.0.1' }));
    expect(a.local.family).toBe(4);
    expect(a.local.port).toBeGreaterThan(0);
    const got = receive(b, 50);
    const buf = new Uint8Array(100);
    for (let i = 0; i < 50; i++) {
      buf.fill(i);
      a.send(buf, 10, 20 + i, b.local);
      buf.fill(0xff);
    }
    const datagrams = await got;
    for (let i = 0; i < 50; i++) {
      expect(datagrams[i].data.length).toBe(20 + i);
      expect(datagrams[i].data.every((x) => x === i)).toBe(true);
      expect(datagrams[i].from).toEqual(a.local);
    }
    expect(a.stats.sent).toBe(50);
    expect(b.stats.received).toBe(50);
    expect(isBatchUdpSocket(a)).toBe(false);
  });

  it('works over IPv6 loopback and reaches IPv4 peers from a dual-stack socket', async () => {
    const a = track(await openUdp({ family: 6, address: '::' }));
    const b6 = track(await openUdp({ family: 6, address: '::1' }));
    const b4 = track(await openUdp({ address: '127.0.0.1' }));
    const got6 = receive(b6, 1);
    const got4 = receive(b4, 1);
    a.send(Uint8Array.of(6), 0, 1, b6.local);
    a.send(Uint8Array.of(4), 0, 1, b4.local);
    expect((await got6)[0].from).toEqual({ family: 6, address: '::1', port: a.local.port });
    expect((await got4)[0].data[0]).toBe(4);
  });

  it('copies with allocUnsafe when the pool is disabled, and drops after close', async () => {
    const a = track(await openUdp({ address: '127.0.0.1', pool: false }));
    const b = track(await openUdp({ address: '127.0.0.1' }));
    const got = receive(b, 1);
    const buf = Uint8Array.of(1, 2, 3);
    a.send(buf, 0, 3, b.local);
    buf.fill(0);
    expect([...(await got)[0].data]).toEqual([1, 2, 3]);
    a.close();
    a.send(buf, 0, 3, b.local);
    expect(a.stats.sendDropped).toBe(1);
  });

  it('rejects a bind to a taken port with EADDRINUSE', async () => {
    const a = track(await openUdp({ address: '127.0.0.1' }));
    await expect(openUdp({ address: '127.0.0.1', port: a.local.port })).rejects.toMatchObject({
      code: 'EADDRINUSE',
    });
  });
});

describe('NativeUdpSocket (recvmmsg/sendmmsg)', () => {
  it('exchanges datagrams with a node:dgram socket both ways', async () => {
    const n = track(openNativeUdp({ address: '127.0.0.1' }));
    const d = track(await openUdp({ address: '127.0.0.1' }));
    expect(isBatchUdpSocket(n)).toBe(true);
    const toDgram = receive(d, 3);
    const buf = Uint8Array.of(0, 1, 2, 3, 4, 5);
    n.send(buf, 1, 2, d.local);
    n.send(buf, 3, 3, d.local);
    n.send(buf, 0, 6, { ...d.local });
    const got = await toDgram;
    expect(got.map((g) => [...g.data])).toEqual([
      [1, 2],
      [3, 4, 5],
      [0, 1, 2, 3, 4, 5],
    ]);
    expect(got[0].from).toEqual(n.local);

    const toNative = receive(n, 2);
    d.send(Uint8Array.of(7, 7), 0, 2, n.local);
    d.send(Uint8Array.of(8), 0, 1, n.local);
    const back = await toNative;
    expect(back.map((g) => [...g.data])).toEqual([[7, 7], [8]]);
    expect(back[0].from).toEqual(d.local);
  });

  it('sends a batch with sendmmsg and receives it as batches with headroom and sources', async () => {
    const rx = track(openNativeUdp({ address: '127.0.0.1', recvBufferBytes: 1 << 20 }));
    const tx = track(openNativeUdp({ address: '127.0.0.1' }));
    const COUNT = 200;
    const stride = 1500;
    const buf = new Uint8Array(COUNT * stride);
    const offsets = new Uint32Array(COUNT);
    const lengths = new Uint32Array(COUNT);
    const addrs = new Uint8Array(COUNT * SOCKADDR_BYTES);
    for (let i = 0; i < COUNT; i++) {
      offsets[i] = i * stride + 7;
      lengths[i] = 100 + i;
      buf.fill(i & 0xff, offsets[i], offsets[i] + lengths[i]);
      encodeSockAddr(rx.local, addrs, i * SOCKADDR_BYTES);
    }
    const seen: number[] = [];
    let batches = 0;
    let headroomOk = true;
    const done = new Promise<void>((resolve) => {
      rx.onDatagrams((b: DatagramBatch) => {
        batches++;
        headroomOk &&= b.headroom === 128 && b.stride >= b.headroom + 2048;
        for (let i = 0; i < b.count; i++) {
          const off = i * b.stride + b.headroom;
          const len = b.lengths[i];
          const tag = b.slab[off];
          if (len !== 100 + tag || b.slab[off + len - 1] !== tag) throw new Error(`bad datagram ${tag}`);
          expect(decodeSockAddr(b.addrs, i * SOCKADDR_BYTES)).toEqual(tx.local);
          seen.push(tag);
        }
        if (seen.length === COUNT) resolve();
      });
    });
    expect(tx.sendBatch(buf, offsets, lengths, addrs, COUNT)).toBe(COUNT);
    await done;
    expect(seen).toEqual(Array.from({ length: COUNT }, (_, i) => i));
    expect(headroomOk).toBe(true);
    expect(batches).toBeLessThan(COUNT);
    expect(rx.stats.handlerErrors).toBe(0);
  });

  it('works over IPv6 loopback', async () => {
    const a = track(openNativeUdp({ family: 6, address: '::1' }));
    const b = track(openNativeUdp({ family: 6, address: '::1' }));
    const got = receive(b, 1);
    a.send(Uint8Array.of(42), 0, 1, b.local);
    expect((await got)[0]).toEqual({
      data: Uint8Array.of(42),
      from: { family: 6, address: '::1', port: a.local.port },
    });
  });

  it('drops datagrams longer than its slot, counts unroutable sends, and refuses a taken port', async () => {
    const rx = track(openNativeUdp({ address: '127.0.0.1', maxDatagramBytes: 256 }));
    const tx = track(openNativeUdp({ address: '127.0.0.1' }));
    const got = receive(rx, 1);
    tx.send(new Uint8Array(300), 0, 300, rx.local);
    tx.send(new Uint8Array(200), 0, 200, rx.local);
    expect((await got)[0].data.length).toBe(200);
    tx.send(Uint8Array.of(1), 0, 1, { family: 4, address: 'not-an-ip', port: 1 });
    expect(tx.stats.sendDropped).toBe(1);
    expect(() => openNativeUdp({ address: '127.0.0.1', port: rx.local.port })).toThrow(
      expect.objectContaining({ code: 'EADDRINUSE' }),
    );
  });
});

describe('socket options', () => {
  it('sets TTL, TOS and path-MTU discovery on native sockets and TTL on dgram sockets', async () => {
    const v4 = track(openNativeUdp({ address: '127.0.0.1', tos: 0x10, pmtuDiscovery: false }));
    const v6 = track(openNativeUdp({ family: 6, address: '::' }));
    for (const s of [v4, v6]) {
      s.setTtl(1);
      s.setTtl(255);
      s.setTos(0xb8);
      s.setPmtuDiscovery(true);
      s.setPmtuDiscovery(false);
      expect(() => s.setTtl(0)).toThrow(/^Usage: udpSetOption/);
      expect(() => s.setTos(256)).toThrow(TypeError);
    }
    const d = track(await openUdp({ address: '127.0.0.1' }));
    d.setTtl(2);
    expect(() => openNativeUdp({ address: '127.0.0.1', tos: 300 })).toThrow(/^Usage: /);
    // A datagram still goes out and arrives after the options changed.
    const peer = track(openNativeUdp({ address: '127.0.0.1' }));
    const got = receive(peer, 1);
    v4.send(Uint8Array.of(9), 0, 1, peer.local);
    expect((await got)[0].data[0]).toBe(9);
  });
});

describe('MemoryBatchSocket', () => {
  it('delivers each datagram as a batch of one and sends batches through the network', async () => {
    const net = new MemoryNetwork();
    const a = net.open('10.0.0.1', 1, { batch: true });
    const b = net.open('10.0.0.2', 2, { batch: true });
    expect(isBatchUdpSocket(a)).toBe(true);
    expect(isBatchUdpSocket(net.open('10.0.0.3'))).toBe(false);
    const got: [number[], SockAddr][] = [];
    b.onDatagrams((batch) => {
      const off = batch.headroom;
      got.push([[...batch.slab.subarray(off, off + batch.lengths[0])], decodeSockAddr(batch.addrs, 0)]);
    });
    const addrs = new Uint8Array(2 * SOCKADDR_BYTES);
    encodeSockAddr(b.local, addrs, 0);
    encodeSockAddr(b.local, addrs, SOCKADDR_BYTES);
    expect(a.sendBatch(Uint8Array.of(1, 2, 3), Uint32Array.of(0, 1), Uint32Array.of(1, 2), addrs, 2)).toBe(2);
    await net.settle();
    expect(got).toEqual([
      [[1], a.local],
      [[2, 3], a.local],
    ]);
  });
});
