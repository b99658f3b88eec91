// What a flood costs the edge in memory: the hostile mix of src/lab/flood.ts through the batch handler allocates (almost) nothing.
//
// V8's sampling heap profiler, told to keep what the young and old collections free, records the allocations made
// below the edge's UDP batch handler while 64,000 flood datagrams go through it; their total per datagram is the
// figure. Before the edge read a REGISTER's recipient ahead of decoding it, the plain mix cost 160 B a datagram
// (the in-memory world; the daemon's RSS rose 25–40 MB over a 100,000-datagram flood, test/e2e/flood.test.ts).
import { Session } from 'node:inspector/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { Edge } from '../../src/edge/index.js';
import { nativeCipherBackend } from '../../src/io/crypto-native.js';
import { MemoryTap } from '../../src/io/memory.js';
import { encodeSockAddr, SOCKADDR_BYTES } from '../../src/io/sockaddr.js';
import { type BatchUdpSocket, type DatagramBatch, isBatchUdpSocket } from '../../src/io/types.js';
import { FLOOD_MIX, Forger, loadCaptures, RandomPool } from '../../src/lab/flood.js';
import { parseMac } from '../../src/util/mac.js';
import { makeWorld, realSupernode } from './edge-harness.js';

const SN_HOST = '198.51.100.1';
const SN_PORT = 7654;
const EDGE_HOST = '192.0.2.1';
const EDGE_PORT = 50001;
const ATTACKER = '203.0.113.66';
const ATTACKER_PORT = 40000;
/** Source ports the flood comes from (src/lab/flood.ts sends from several). */
const ATTACKER_PORTS = 8;
const MAC_A = '02:86:00:00:00:01';
const MAC_B = '02:86:00:00:00:02';
const BATCH = 64;
const STRIDE = 1664;
const HEADROOM = 64;
const WARMUP_BATCHES = 300;
const MEASURED_BATCHES = 1000;
/** Bytes between two samples of the profiler. */
const SAMPLING_INTERVAL_BYTES = 256;
/**
 * What the edge may allocate per hostile datagram, on average: a boxed 48-bit MAC for a table lookup, a thrown
 * decode error now and then (20–35 B measured; 160 B before).
 */
const MAX_BYTES_PER_DATAGRAM = 64;
const VECTORS = new URL('../vectors', import.meta.url).pathname;

interface ProfileNode {
  callFrame: { functionName: string; url: string };
  selfSize: number;
  children: ProfileNode[];
}

/** Bytes allocated below the frame named `entry`, leaving out the in-memory doubles. */
function bytesBelow(node: ProfileNode, entry: string, inside = false): number {
  const here = inside || node.callFrame.functionName === entry;
  if (node.callFrame.url.includes('/io/memory')) return 0;
  let sum = here ? node.selfSize : 0;
  for (const c of node.children) sum += bytesBelow(c, entry, here);
  return sum;
}

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup) await c();
  cleanup = [];
});

describe('the edge under a flood', () => {
  for (const he of [false, true]) {
    it(`${he ? '-H' : 'plain'}: the flood mix allocates at most ${MAX_BYTES_PER_DATAGRAM} B per datagram below the batch handler`, async () => {
      const w = makeWorld({ batch: true });
      const sn = await realSupernode(
        w,
        SN_HOST,
        SN_PORT,
        { communityFile: '/c.list' },
        { '/c.list': 'flood\n' },
      );
      cleanup.push(() => sn.stop());
      const deps = w.deps(EDGE_HOST, new MemoryTap({ keep: false }), 7);
      let handler: ((b: DatagramBatch) => void) | undefined;
      const open = deps.openUdp;
      deps.openUdp = async (o) => {
        const s = await open(o);
        if (isBatchUdpSocket(s)) {
          const on = s.onDatagrams.bind(s);
          (s as BatchUdpSocket).onDatagrams = (h) => {
            handler = h;
            on(h);
          };
        }
        return s;
      };
      const edge = new Edge(
        {
          community: 'flood',
          supernodes: [`${SN_HOST}:${SN_PORT}`],
          address: '10.86.0.1/24',
          key: 'secret',
          transform: 'chacha20',
          headerEncryption: he,
          mac: MAC_A,
          localPort: EDGE_PORT,
        },
        { ...deps, cipherBackend: nativeCipherBackend() },
      );
      await edge.start();
      cleanup.push(() => edge.stop());
      await w.advance(2);
      expect(edge.registered).toBe(true);
      expect(handler).toBeDefined();
      const forger = new Forger(
        { address: EDGE_HOST, port: EDGE_PORT, community: 'flood', he },
        new RandomPool(),
        loadCaptures(VECTORS),
        [parseMac(MAC_A), parseMac(MAC_B)],
        undefined,
        w.clock,
      );
      const slab = Buffer.alloc(BATCH * STRIDE);
      const lengths = new Uint32Array(BATCH);
      const senders = Array.from({ length: ATTACKER_PORTS }, (_, i) => {
        const a = new Uint8Array(BATCH * SOCKADDR_BYTES);
        for (let j = 0; j < BATCH; j++)
          encodeSockAddr({ family: 4, address: ATTACKER, port: ATTACKER_PORT + i }, a, j * SOCKADDR_BYTES);
        return a;
      });
      let seq = 0;
      const feed = (batches: number): void => {
        for (let k = 0; k < batches; k++) {
          for (let i = 0; i < BATCH; i++)
            lengths[i] = forger.build(FLOOD_MIX[seq++ % FLOOD_MIX.length], slab, i * STRIDE + HEADROOM);
          handler!({
            slab,
            count: BATCH,
            stride: STRIDE,
            headroom: HEADROOM,
            lengths,
            addrs: senders[k % ATTACKER_PORTS],
          });
        }
      };
      feed(WARMUP_BATCHES);
      const dropsBefore = Object.values(edge.drops).reduce((a, b) => a + b, 0);
      const session = new Session();
      session.connect();
      let profile: { head: ProfileNode };
      try {
        await session.post('HeapProfiler.enable');
        await session.post('HeapProfiler.startSampling', {
          samplingInterval: SAMPLING_INTERVAL_BYTES,
          includeObjectsCollectedByMajorGC: true,
          includeObjectsCollectedByMinorGC: true,
        });
        feed(MEASURED_BATCHES);
        ({ profile } = (await session.post('HeapProfiler.stopSampling')) as {
          profile: { head: ProfileNode };
        });
      } finally {
        session.disconnect();
      }
      const datagrams = MEASURED_BATCHES * BATCH;
      const perDatagram = bytesBelow(profile.head, 'onUdpBatch') / datagrams;
      console.log(`[flood-alloc] ${he ? '-H' : 'plain'}: ${perDatagram.toFixed(1)} B per datagram`);
      expect(perDatagram).toBeLessThanOrEqual(MAX_BYTES_PER_DATAGRAM);
      // The flood was refused, counted, and the edge is still registered.
      const dropped = Object.values(edge.drops).reduce((a, b) => a + b, 0) - dropsBefore;
      expect(dropped).toBeGreaterThan(datagrams / 2);
      expect(edge.registered).toBe(true);
    });
  }
});
