// The native fast path's TS half (edge/fastpath.ts) with a stand-in port: when it runs, which peers it gets, and what its counters become.
import { afterEach, describe, expect, it } from 'vitest';
import type { FastPathPort } from '../../src/edge/deps.js';
import { Edge } from '../../src/edge/edge.js';
import type { EdgeOptions } from '../../src/edge/index.js';
import { nativeCipherBackend } from '../../src/io/crypto-native.js';
import { MemoryTap } from '../../src/io/index.js';
import { readMac } from '../../src/util/mac.js';
import { FakeSupernode, ipv4Frame, makeWorld, type World } from './edge-harness.js';

const COMMUNITY = 'fastnet';
const MAC_A = 0x02_00_00_00_00_0a;
const MAC_B = 0x02_00_00_00_00_0b;
// Stats layout of native/src/fastpath.cc: totals, then 4 per peer slot.
const RX_PACKETS = 0;
const RX_BYTES = 1;
const TX_PACKETS = 3;
const TX_BYTES = 4;
const PEERS = 8;

/** Records what the edge pushes; the test plays the native side by writing its counters. */
class StandInPort implements FastPathPort {
  readonly stats = new Float64Array(PEERS + 4 * 8);
  readonly maxPeers = 8;
  readonly records = new Uint32Array(36 * 8);
  readonly relayStats = new Float64Array(4 + 4 * 8);
  readonly snRecord = new Uint32Array(36);
  relayCount = 0;
  relaySn: Uint8Array | null = null;
  table = new Uint8Array(0);
  count = 0;
  rx = false;
  tx = false;
  detached = false;
  setPeers(table: Uint8Array, count: number): void {
    this.table = table.slice();
    this.count = count;
  }
  setRelay(_table: Uint8Array, count: number, supernode: Uint8Array | null): void {
    this.relayCount = count;
    this.relaySn = supernode === null ? null : supernode.slice();
  }
  configureHeader(core: unknown): boolean {
    return core === undefined;
  }
  setEnabled(rx: boolean, tx: boolean): void {
    this.rx = rx;
    this.tx = tx;
  }
  detach(): void {
    this.detached = true;
    this.rx = false;
    this.tx = false;
  }
  /** The native side delivered `rx` and sent `tx` packets of `bytes` each for slot i. */
  count1(i: number, rx: number, tx: number, bytes: number): void {
    this.stats[RX_PACKETS] += rx;
    this.stats[RX_BYTES] += rx * bytes;
    this.stats[TX_PACKETS] += tx;
    this.stats[TX_BYTES] += tx * bytes;
    this.stats[PEERS + 4 * i] += rx;
    this.stats[PEERS + 4 * i + 1] += rx * bytes;
    this.stats[PEERS + 4 * i + 2] += tx;
    this.stats[PEERS + 4 * i + 3] += tx * bytes;
  }
}

let running: Edge[] = [];
afterEach(async () => {
  for (const e of running) await e.stop();
  running = [];
});

async function pair(extra: Partial<EdgeOptions>, he = false, direct = true) {
  const w: World = makeWorld({ batch: true });
  if (!direct) w.net.blackhole('192.0.2.1', '192.0.2.2');
  const sn = new FakeSupernode(w, '198.51.100.1', 7654, { community: COMMUNITY, headerEncryption: he });
  const ports: StandInPort[] = [];
  const taps: MemoryTap[] = [];
  const base: EdgeOptions = {
    community: COMMUNITY,
    supernodes: [`${sn.host}:${sn.port}`],
    transform: 'chacha20',
    key: 'fast key',
    headerEncryption: he,
    ...extra,
  };
  const make = (host: string, address: string, mac: string, seed: number): Edge => {
    const tap = new MemoryTap();
    taps.push(tap);
    const deps = w.deps(host, tap, seed);
    const e = new Edge(
      { ...base, address, mac },
      {
        ...deps,
        cipherBackend: nativeCipherBackend(),
        openFastPath: () => {
          const p = new StandInPort();
          ports.push(p);
          return p;
        },
      },
    );
    running.push(e);
    return e;
  };
  const a = make('192.0.2.1', '10.1.0.1/24', '02:00:00:00:00:0a', 11);
  const b = make('192.0.2.2', '10.1.0.2/24', '02:00:00:00:00:0b', 13);
  await a.start();
  await b.start();
  await w.settle();
  // The registration round punches through: the edges know each other directly.
  await w.advance(21);
  return { w, a, b, ports, taps };
}

describe('edge fast path (TS half)', () => {
  it('gets the known peer at its socket, runs both ways, and turns its counters into the JS bookkeeping', async () => {
    const { w, a, ports } = await pair({});
    expect(a.peerTables().known.map((p) => p.mac)).toEqual([MAC_B]);
    const port = ports[0];
    expect(port.count).toBe(1);
    expect([port.rx, port.tx]).toEqual([true, true]);
    expect(readMac(port.table, 0)).toBe(MAC_B);
    // IPv4 192.0.2.2 and the peer's port, big-endian; may send directly until lastP2p + ⌊timeout / 2⌋ − 1.
    const peer = a.peerTables().known[0];
    expect([...port.table.subarray(6, 10)]).toEqual([192, 0, 2, 2]);
    expect((port.table[10] << 8) | port.table[11]).toBe(peer.port);
    expect(port.table[12]).toBe(1);
    const until =
      ((port.table[16] << 24) | (port.table[17] << 16) | (port.table[18] << 8) | port.table[19]) >>> 0;
    expect(until).toBe(peer.lastP2p + Math.floor(peer.timeout / 2) - 1);

    const before = { ...a.traffic };
    const rxDirect = peer.rxDirect;
    const txDirect = peer.txDirect;
    port.count1(0, 5, 3, 100);
    const t0 = Math.floor(w.clock.now() / 1000);
    await w.advance(1);
    const t = a.traffic;
    expect(t.rxP2p - before.rxP2p).toBe(5);
    expect(t.rxP2pBytes - before.rxP2pBytes).toBe(500);
    expect(t.transopRx - before.transopRx).toBe(5);
    expect(t.txP2p - before.txP2p).toBe(3);
    expect(t.txP2pBytes - before.txP2pBytes).toBe(300);
    expect(t.transopTx - before.transopTx).toBe(3);
    expect([t.fastRx, t.fastTx]).toEqual([5, 3]);
    expect(peer.rxDirect - rxDirect).toBe(5);
    expect(peer.txDirect - txDirect).toBe(3);
    expect(peer.lastP2p).toBeGreaterThanOrEqual(t0);
    // Read once: nothing is applied twice.
    expect(a.traffic.rxP2p).toBe(t.rxP2p);

    await a.stop();
    expect(port.detached).toBe(true);
  });

  it('stays off with -H, with a filter and with MSS clamping; receives only with compression', async () => {
    const he = await pair({}, true);
    expect(he.a.peerTables().known.length).toBe(1);
    expect(he.ports).toEqual([]);
    for (const e of running) await e.stop();
    running = [];
    const filtered = await pair({ rules: ['10.1.0.0/24,10.1.0.0/24,TCP+,UDP+,ICMP+'] });
    expect(filtered.a.peerTables().known.length).toBe(1);
    expect(filtered.ports).toEqual([]);
    for (const e of running) await e.stop();
    running = [];
    const clamped = await pair({ mssClamp: 1200 });
    expect(clamped.a.peerTables().known.length).toBe(1);
    expect(clamped.ports).toEqual([]);
    for (const e of running) await e.stop();
    running = [];
    const z = await pair({ compression: 'lzo' });
    expect(z.ports[0].count).toBe(1);
    expect([z.ports[0].rx, z.ports[0].tx]).toEqual([true, false]);
  });

  it('relayed: gets the pending peer at the socket the supernode reports and the supernode, and counts what it carried as supernode traffic', async () => {
    const { w, a, ports, taps } = await pair({}, false, false);
    // a talks to b through the supernode: b becomes a pending peer, queried, at the socket the relay reports.
    for (let i = 0; i < 3; i++) {
      taps[0].inject(ipv4Frame(MAC_B, MAC_A, '10.1.0.1', '10.1.0.2', 40));
      taps[1].inject(ipv4Frame(MAC_A, MAC_B, '10.1.0.2', '10.1.0.1', 40));
      await w.settle();
    }
    await w.advance(1);
    expect(a.peerTables().known).toEqual([]);
    const pending = a.peerTables().pending.find((p) => p.mac === MAC_B)!;
    expect(pending.lastSentQuery).toBeGreaterThan(0);
    const port = ports[0];
    expect(port.relayCount).toBe(1);
    expect([...port.relaySn!]).toEqual([198, 51, 100, 1, 7654 >>> 8, 7654 & 0xff]);
    expect([port.rx, port.tx]).toEqual([true, true]);
    const before = { ...a.traffic };
    // The native side relayed 4 in and 2 out for relay slot 0.
    port.relayStats[0] += 4;
    port.relayStats[1] += 400;
    port.relayStats[2] += 2;
    port.relayStats[3] += 200;
    port.relayStats[4] += 4;
    port.relayStats[5] += 400;
    port.relayStats[6] += 2;
    port.relayStats[7] += 200;
    pending.lastSeen = 0;
    await w.advance(1);
    const t = a.traffic;
    expect([t.rxSup - before.rxSup, t.rxSupBytes - before.rxSupBytes]).toEqual([4, 400]);
    expect([t.txSup - before.txSup, t.txSupBytes - before.txSupBytes]).toEqual([2, 200]);
    expect([t.rxP2p - before.rxP2p, t.txP2p - before.txP2p]).toEqual([0, 0]);
    expect(pending.lastSeen).toBeGreaterThan(0);
  });
});
