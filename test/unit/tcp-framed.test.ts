// edge -S2: the framed TCP socket (split/merged frames, limits, queue bound, re-connect) and two -S2 edges via a real supernode.
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Edge } from '../../src/edge/edge.js';
import { MemoryTap } from '../../src/io/memory.js';
import {
  openTcpFramed,
  TCP_MAX_DATAGRAM_BYTES,
  TCP_RECONNECT_MIN_MS,
  TCP_WRITE_QUEUE_BYTES,
  TcpFramedSocket,
} from '../../src/io/tcp-framed.js';
import { loadZstd, type ZstdCodec } from '../../src/io/zstd.js';
import { defaultSupernodeDeps } from '../../src/supernode/deps.js';
import { Supernode } from '../../src/supernode/supernode.js';
import { SystemClock } from '../../src/util/clock.js';
import type { SockAddr } from '../../src/util/ip.js';
import { MemoryLogger } from '../../src/util/log.js';
import { SeededRandom } from '../../src/util/random.js';
import { ipv4Frame } from './edge-harness.js';

/** How long a loopback exchange may take before a test gives up, ms. */
const WAIT_MS = 5000;
const POLL_MS = 10;

async function until(cond: () => boolean, what: string): Promise<void> {
  const end = Date.now() + WAIT_MS;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

function frameOf(data: Uint8Array): Buffer {
  const b = Buffer.alloc(2 + data.length);
  b.writeUInt16BE(data.length, 0);
  b.set(data, 2);
  return b;
}

/** A TCP server that records the frames it gets and keeps its connections for the test to write on. */
async function listen(): Promise<{ server: Server; addr: SockAddr; conns: Socket[]; got: Buffer[] }> {
  const conns: Socket[] = [];
  const got: Buffer[] = [];
  const server = createServer((s) => {
    conns.push(s);
    let acc = Buffer.alloc(0);
    s.on('data', (c) => {
      acc = Buffer.concat([acc, c]);
      while (acc.length >= 2 && acc.length >= 2 + acc.readUInt16BE(0)) {
        const n = acc.readUInt16BE(0);
        got.push(acc.subarray(2, 2 + n));
        acc = acc.subarray(2 + n);
      }
    });
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  if (a === null || typeof a === 'string') throw new Error('no address');
  return { server, addr: { family: 4, address: '127.0.0.1', port: a.port }, conns, got };
}

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('TcpFramedSocket', () => {
  it('frames datagrams out and gathers frames split or merged in any way', async () => {
    const srv = await listen();
    cleanups.push(() => void srv.server.close());
    const s = await openTcpFramed();
    cleanups.push(() => s.close());
    const rx: { data: string; from: SockAddr }[] = [];
    s.onDatagram((d, from) => rx.push({ data: d.toString('hex'), from }));
    const datagrams = [
      Uint8Array.of(1, 2, 3),
      new Uint8Array(TCP_MAX_DATAGRAM_BYTES).fill(9),
      Uint8Array.of(7),
    ];
    for (const d of datagrams) s.send(d, 0, d.length, srv.addr);
    await until(() => srv.got.length === 3, 'frames at the server');
    expect(srv.got.map((b) => b.toString('hex'))).toEqual(
      datagrams.map((d) => Buffer.from(d).toString('hex')),
    );
    expect(s.connected).toBe(true);
    expect(s.local.port).toBeGreaterThan(0);
    // Back: every frame cut at every byte boundary, and several frames in one write.
    const conn = srv.conns[0];
    const stream = Buffer.concat(datagrams.map((d) => frameOf(d)));
    for (let i = 0; i < stream.length; i += 1 + (i % 5)) conn.write(stream.subarray(i, i + 1 + (i % 5)));
    conn.write(stream);
    await until(() => rx.length === 6, 'frames at the socket');
    const hex = datagrams.map((d) => Buffer.from(d).toString('hex'));
    expect(rx.map((r) => r.data)).toEqual([...hex, ...hex]);
    expect(rx[0].from).toEqual(srv.addr);
    expect(s.stats.received).toBe(6);
  });

  it('still delivers what was sent just before close (the UNREGISTER_SUPER of a stopping edge)', async () => {
    const srv = await listen();
    cleanups.push(() => void srv.server.close());
    const s = new TcpFramedSocket();
    let lost = 0;
    s.onConnectionLost(() => lost++);
    s.send(Uint8Array.of(5, 6), 0, 2, srv.addr);
    s.close();
    await until(() => srv.got.length === 1, 'the last frame');
    expect([...srv.got[0]]).toEqual([5, 6]);
    // Closed here, not lost: the edge is not told to re-register.
    expect(lost).toBe(0);
  });

  it('refuses a datagram too large for one frame, and gives up a connection whose length breaks the limit', async () => {
    const srv = await listen();
    cleanups.push(() => void srv.server.close());
    const s = new TcpFramedSocket();
    cleanups.push(() => s.close());
    let lost = 0;
    s.onConnectionLost(() => lost++);
    s.send(new Uint8Array(TCP_MAX_DATAGRAM_BYTES + 1), 0, TCP_MAX_DATAGRAM_BYTES + 1, srv.addr);
    expect(s.stats.sendDropped).toBe(1);
    s.send(Uint8Array.of(1), 0, 1, srv.addr);
    await until(() => srv.conns.length === 1 && s.connected, 'a connection');
    srv.conns[0].write(Buffer.from([0xff, 0xff, 1, 2, 3]));
    await until(() => s.stats.badLength === 1, 'the bad length');
    expect(s.connected).toBe(false);
    expect(lost).toBe(1);
    expect(s.stats.disconnects).toBe(1);
  });

  it('bounds the write queue: sends past it are dropped and counted', async () => {
    const srv = await listen();
    cleanups.push(() => void srv.server.close());
    const s = new TcpFramedSocket();
    cleanups.push(() => s.close());
    const d = new Uint8Array(TCP_MAX_DATAGRAM_BYTES);
    // Before the connection is up everything waits in Node's queue.
    const n = Math.ceil((2 * TCP_WRITE_QUEUE_BYTES) / d.length);
    for (let i = 0; i < n; i++) s.send(d, 0, d.length, srv.addr);
    const fit = Math.floor(TCP_WRITE_QUEUE_BYTES / (d.length + 2));
    expect(s.stats.sent).toBe(fit);
    expect(s.stats.sendDropped).toBe(n - fit);
    await until(() => srv.got.length === fit, 'the queued frames');
  });

  it('re-connects after the peer closes, once the pause has passed, and follows a new destination', async () => {
    const srv = await listen();
    const other = await listen();
    cleanups.push(() => void srv.server.close());
    cleanups.push(() => void other.server.close());
    let now = 1_000_000;
    const states: string[] = [];
    const s = new TcpFramedSocket({ now: () => now, onState: (st) => states.push(st) });
    cleanups.push(() => s.close());
    s.send(Uint8Array.of(1), 0, 1, srv.addr);
    await until(() => srv.got.length === 1, 'the first frame');
    srv.conns[0].destroy();
    await until(() => !s.connected && s.stats.disconnects === 1, 'the close');
    // A connection that never carried a frame back: the pause applies.
    s.send(Uint8Array.of(2), 0, 1, srv.addr);
    expect(s.stats.sendDropped).toBe(1);
    now += TCP_RECONNECT_MIN_MS;
    s.send(Uint8Array.of(3), 0, 1, srv.addr);
    await until(() => srv.got.length === 2, 'the frame after re-connecting');
    expect(srv.got[1][0]).toBe(3);
    expect(s.stats.connects).toBe(2);
    s.send(Uint8Array.of(4), 0, 1, other.addr);
    await until(() => other.got.length === 1, 'the frame at the new destination');
    expect(s.stats.connects).toBe(3);
    expect(states.slice(0, 3)).toEqual(['connected', 'closed', 'connected']);
  });
});

describe('edge -S2 through a real supernode on loopback', () => {
  it('registers over TCP only and carries frames both ways between two -S2 -z2 edges', async () => {
    // A port from the ephemeral range the supernode takes for both UDP and TCP.
    const probe = await listen();
    const port = probe.addr.port;
    await new Promise<void>((r) => probe.server.close(() => r()));
    const sn = new Supernode(
      { port, tcp: true, bindAddress: '127.0.0.1' },
      { ...defaultSupernodeDeps(), logger: new MemoryLogger(2) },
    );
    await sn.start();
    cleanups.push(() => sn.stop());
    const udpOpened: number[] = [];
    // Counts the zstd frames the receiving edges decompress.
    const zstd = loadZstd();
    if (zstd === undefined) throw new Error('zstd-napi is a dependency: it must be built');
    let inflated = 0;
    const countingZstd: ZstdCodec = {
      source: zstd.source,
      compress: (...a) => zstd.compress(...a),
      decompress: (...a) => {
        const n = zstd.decompress(...a);
        if (n > 0) inflated++;
        return n;
      },
    };
    const mk = (mac: number, ip: string, seed: number) => {
      const tap = new MemoryTap();
      const edge = new Edge(
        {
          community: 'tcpnet',
          supernodes: [`127.0.0.1:${port}`],
          address: `${ip}/24`,
          mac: `02:00:00:00:00:${mac.toString(16)}`,
          tcp: true,
          key: 'secret',
          transform: 'aes',
          // -z2 too: the 1000-byte frame below shrinks, so it crosses as a zstd PACKET.
          compression: 'zstd',
        },
        {
          clock: new SystemClock(),
          random: new SeededRandom(seed),
          logger: new MemoryLogger(2),
          openUdp: async () => {
            udpOpened.push(seed);
            throw new Error('-S2 must not open UDP');
          },
          openTcp: () => openTcpFramed({ address: '127.0.0.1' }),
          openMulticast: async () => undefined,
          openTap: async (o) => {
            tap.info.mac = o.mac;
            tap.setAddress(o.addr, o.bitlen);
            return tap;
          },
          resolve: async (h) => h,
          zstd: countingZstd,
        },
      );
      return { edge, tap };
    };
    const a = mk(0xa1, '10.9.0.1', 1);
    const b = mk(0xb2, '10.9.0.2', 2);
    cleanups.push(() => a.edge.stop());
    cleanups.push(() => b.edge.stop());
    const registered = (e: Edge) => new Promise<void>((r) => e.once('registered', () => r()));
    const ra = registered(a.edge);
    const rb = registered(b.edge);
    await a.edge.start();
    await b.edge.start();
    await Promise.all([ra, rb]);
    expect(udpOpened).toEqual([]);
    const macA = 0x0200000000a1;
    const macB = 0x0200000000b2;
    const ab = ipv4Frame(macB, macA, '10.9.0.1', '10.9.0.2', 1000);
    const ba = ipv4Frame(macA, macB, '10.9.0.2', '10.9.0.1', 200);
    a.tap.inject(ab);
    b.tap.inject(ba);
    await until(
      () =>
        b.tap.written.some((f) => Buffer.from(f).equals(Buffer.from(ab))) &&
        a.tap.written.some((f) => Buffer.from(f).equals(Buffer.from(ba))),
      'frames across the supernode',
    );
    expect(inflated).toBeGreaterThanOrEqual(1);
  });
});

describe('edge -S2 supernode failover', () => {
  /** Fast retry (register interval / 10 = 2 s) once, then the switch: a few seconds of real time. */
  const FAILOVER_TEST_TIMEOUT_MS = 20_000;

  it(
    'gives up on an unreachable supernode after one attempt and registers with the next',
    async () => {
      const dead = await listen();
      const deadPort = dead.addr.port;
      await new Promise<void>((r) => dead.server.close(() => r()));
      const probe = await listen();
      const port = probe.addr.port;
      await new Promise<void>((r) => probe.server.close(() => r()));
      const sn = new Supernode(
        { port, tcp: true, bindAddress: '127.0.0.1' },
        { ...defaultSupernodeDeps(), logger: new MemoryLogger(2) },
      );
      await sn.start();
      cleanups.push(() => sn.stop());
      const sockets: TcpFramedSocket[] = [];
      const logger = new MemoryLogger(3);
      const edge = new Edge(
        {
          community: 'tcpnet',
          supernodes: [`127.0.0.1:${deadPort}`, `127.0.0.1:${port}`],
          address: '10.9.0.5/24',
          tcp: true,
        },
        {
          clock: new SystemClock(),
          random: new SeededRandom(5),
          logger,
          openUdp: async () => {
            throw new Error('-S2 must not open UDP');
          },
          openTcp: async () => {
            const s = new TcpFramedSocket({ address: '127.0.0.1' });
            sockets.push(s);
            return s;
          },
          openMulticast: async () => undefined,
          openTap: async (o) => {
            const tap = new MemoryTap();
            tap.setAddress(o.addr, o.bitlen);
            return tap;
          },
          resolve: async (h) => h,
        },
      );
      cleanups.push(() => edge.stop());
      const registered = new Promise<void>((r) => edge.once('registered', () => r()));
      await edge.start();
      await registered;
      // One socket throughout: giving up on the first supernode re-connected it towards the second.
      expect(sockets.length).toBe(1);
      expect(sockets[0].stats.connects).toBeGreaterThanOrEqual(2);
      expect(edge.currentSupernode.text).toBe(`127.0.0.1:${port}`);
    },
    FAILOVER_TEST_TIMEOUT_MS,
  );
});
