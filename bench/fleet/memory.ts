// What one registered edge costs a supernode: N registrations into an in-process Supernode (no sockets), heap and RSS
// before/after, and how long each registration took to handle (new edges, then one refresh of every edge): the
// supernode's own share of a registration's round trip, GC pauses included, without the scheduling of a busy host.
//
//   npx tsc -p tsconfig.bench.json && node --expose-gc dist-bench/bench/fleet/memory.js [edges] [--snapshot]
//
// --snapshot also writes a heap snapshot and prints its largest object kinds per edge (self size / edges).
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import type { UdpSocket } from '../../src/io/types.js';
import { Supernode } from '../../src/supernode/supernode.js';
import { fixedString } from '../../src/util/bytes.js';
import type { SockAddr } from '../../src/util/ip.js';
import { communityBytes } from '../../src/wire/common.js';
import { encodeRegisterSuper } from '../../src/wire/messages.js';
import { AuthScheme, MsgType, N2N_DEFAULT_TTL } from '../../src/wire/types.js';
import { FIRST_MAC } from './generator.js';
import { Histogram } from './histogram.js';

const SOURCES = 16;
const FIRST_PORT = 40_000;
const TOP_KINDS = 12;
const NS_PER_MS = 1e6;

interface HeapSnapshotJson {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 100_000);
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with node --expose-gc');
  let handler: ((d: Buffer, f: SockAddr) => void) | undefined;
  const sock: UdpSocket = {
    local: { family: 4, address: '127.0.0.1', port: 7654 },
    onDatagram: (h) => {
      handler = h;
    },
    send: () => {},
    close: () => {},
  };
  const sn = new Supernode(
    { port: 7654, bindAddress: '127.0.0.1', tcp: false, maxEdges: n + 1, maxEdgesPerCommunity: n + 1 },
    { openUdp: () => sock },
  );
  await sn.start();
  const buf = Buffer.alloc(256);
  const field = communityBytes('fleet');
  const desc = fixedString('fleet', 16);
  const token = new Uint8Array(16);
  const froms: SockAddr[] = Array.from({ length: SOURCES }, (_, i) => ({
    family: 4,
    address: '127.0.0.1',
    port: FIRST_PORT + i,
  }));
  const register = (i: number): void => {
    new DataView(token.buffer).setUint32(0, i);
    const len = encodeRegisterSuper(
      { ttl: N2N_DEFAULT_TTL, type: MsgType.REGISTER_SUPER, flags: 0, community: field },
      {
        cookie: i,
        edgeMac: FIRST_MAC + i,
        devAddr: { addr: 0x0a_00_00_01 + i, bitlen: 8 },
        desc,
        auth: { scheme: AuthScheme.ID, token },
        keyTime: 0,
      },
      buf,
      0,
    );
    handler?.(Buffer.from(buf.subarray(0, len)), froms[i % SOURCES]);
  };
  /** Registers 1..n, each call timed into `h`; returns the seconds it all took. */
  const pass = (h: Histogram): number => {
    const start = process.hrtime.bigint();
    for (let i = 1; i <= n; i++) {
      const t = process.hrtime.bigint();
      register(i);
      h.add(Number(process.hrtime.bigint() - t) / NS_PER_MS);
    }
    return Number(process.hrtime.bigint() - start) / NS_PER_MS / 1000;
  };
  const show = (what: string, h: Histogram, s: number): string =>
    `${what}: ${(n / s).toFixed(0)}/s, p50 ${(h.quantile(0.5) * 1000).toFixed(0)} µs, p99 ${(h.quantile(0.99) * 1000).toFixed(0)} µs, ` +
    `p99.9 ${h.quantile(0.999).toFixed(2)} ms, max ${h.max.toFixed(1)} ms`;
  register(0);
  gc();
  gc();
  const m0 = process.memoryUsage();
  const hNew = new Histogram();
  const sNew = pass(hNew);
  gc();
  gc();
  const m1 = process.memoryUsage();
  const hRefresh = new Histogram();
  const sRefresh = pass(hRefresh);
  if (sn.edgeCount !== n + 1) throw new Error(`only ${sn.edgeCount} of ${n + 1} edges registered`);
  const per = (k: keyof NodeJS.MemoryUsage): string => ((m1[k] - m0[k]) / n).toFixed(0);
  console.log(
    `${n} edges: heap ${per('heapUsed')} B/edge, external ${per('external')} B/edge, RSS ${per('rss')} B/edge ` +
      `(RSS ${(m0.rss / 1e6).toFixed(0)} → ${(m1.rss / 1e6).toFixed(0)} MB)`,
  );
  console.log(show('  new edges', hNew, sNew));
  console.log(show('  refreshes', hRefresh, sRefresh));
  if (process.argv.includes('--snapshot')) {
    const file = writeHeapSnapshot(join(tmpdir(), `tsn2n-fleet-${process.pid}.heapsnapshot`));
    const s = JSON.parse(readFileSync(file, 'utf8')) as HeapSnapshotJson;
    rmSync(file);
    const f = s.snapshot.meta.node_fields;
    const kinds = s.snapshot.meta.node_types[0];
    const [ti, ni, si] = [f.indexOf('type'), f.indexOf('name'), f.indexOf('self_size')];
    const agg = new Map<string, { count: number; bytes: number }>();
    for (let i = 0; i < s.nodes.length; i += f.length) {
      const kind = kinds[s.nodes[i + ti]];
      // Strings are named by their content: group them by kind only.
      const k = kind === 'string' ? 'string' : `${kind}:${s.strings[s.nodes[i + ni]].slice(0, 40)}`;
      const e = agg.get(k) ?? { count: 0, bytes: 0 };
      e.count++;
      e.bytes += s.nodes[i + si];
      agg.set(k, e);
    }
    for (const [k, e] of [...agg].sort((x, y) => y[1].bytes - x[1].bytes).slice(0, TOP_KINDS)) {
      console.log(
        `${k.padEnd(44)} ${String(e.count).padStart(9)} ${(e.bytes / n).toFixed(1).padStart(7)} B/edge`,
      );
    }
  }
  await sn.stop();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
