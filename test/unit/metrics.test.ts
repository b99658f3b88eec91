// Prometheus text of an edge and a supernode (src/management/metrics.ts): names, labels, values read at scrape time.
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { findExecutable } from '../../src/lab/prereq.js';
import {
  edgeMetrics,
  MAX_COMMUNITY_SERIES,
  OTHER_COMMUNITY,
  supernodeMetrics,
} from '../../src/management/metrics.js';
import type { Supernode } from '../../src/supernode/index.js';
import { ipv4Frame, makeWorld, realSupernode, type TestNode, type World } from './edge-harness.js';

const COMMUNITY = 'metricsnet';
const MAC_A = 0x02_00_00_00_00_0a;
const MAC_B = 0x02_00_00_00_00_0b;
const VERSION = '9.9.9-test';
/** Communities registered in the cardinality test: more than the metric names. */
const MANY_COMMUNITIES = MAX_COMMUNITY_SERIES + 5;

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

/** `name{labels} value` lines of the exposition as a map (label text as printed). */
function samples(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

/** Every sample line parses and every `# TYPE … counter` name ends in _total; promtool when installed (CI). */
function expectValidExposition(text: string): void {
  for (const line of text.split('\n')) {
    if (line === '') continue;
    expect(line).toMatch(
      /^(# (HELP|TYPE) [a-z_:][a-z0-9_:]* .*|[a-z_:][a-z0-9_:]*(\{.*\})? -?[0-9.e+-]+|[a-z_:][a-z0-9_:]*(\{.*\})? (NaN|[+-]Inf))$/i,
    );
    const t = /^# TYPE (\S+) counter$/.exec(line);
    if (t) expect(t[1]).toMatch(/_total$/);
  }
  const promtool = findExecutable('promtool');
  if (promtool === undefined && process.env.CI === 'true')
    throw new Error('promtool is missing (apt-get install prometheus)');
  if (promtool !== undefined) {
    const r = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
    expect(r.status).toBe(0);
  }
}

async function twoEdges(w: World): Promise<{ sn: Supernode; a: TestNode; b: TestNode }> {
  const sn = await realSupernode(w, '198.51.100.1', 7654);
  cleanup.push(() => sn.stop());
  const base = { community: COMMUNITY, supernodes: ['198.51.100.1:7654'] };
  const a = w.edge('192.0.2.1', { ...base, address: '10.8.0.1/24', mac: '02:00:00:00:00:0a' });
  const b = w.edge('192.0.2.2', { ...base, address: '10.8.0.2/24', mac: '02:00:00:00:00:0b' });
  for (const n of [a, b]) {
    await n.edge.start();
    cleanup.push(() => n.edge.stop());
  }
  await w.settle();
  for (let i = 0; i < 3; i++) {
    a.tap.inject(ipv4Frame(MAC_B, MAC_A, '10.8.0.1', '10.8.0.2', 40));
    b.tap.inject(ipv4Frame(MAC_A, MAC_B, '10.8.0.2', '10.8.0.1', 40));
    await w.settle();
  }
  return { sn, a, b };
}

describe('edge metrics', () => {
  it('reads peers, registration, traffic, drops and RTT from the edge when scraped', async () => {
    const w = makeWorld();
    const { a } = await twoEdges(w);
    let hookOk = 0;
    const m = edgeMetrics(a.edge, {
      version: VERSION,
      hooks: () => ({ ok: hookOk, failed: 0, timedOut: 0, dropped: 2 }),
    });
    const scraped = await m.scrape();
    expect(scraped.contentType).toContain('text/plain');
    expectValidExposition(scraped.body);
    const s = samples(scraped.body);
    const t = a.edge.traffic;
    expect(s.get('tsn2n_build_info{version="9.9.9-test"}')).toBe(1);
    expect(s.get('tsn2n_edge_peers{path="p2p"}')).toBe(1);
    expect(s.get('tsn2n_edge_peers{path="relay"}')).toBe(0);
    expect(s.get('tsn2n_edge_supernode_registered')).toBe(1);
    expect(s.get('tsn2n_edge_tx_packets_total{path="p2p"}')).toBe(t.txP2p);
    expect(s.get('tsn2n_edge_rx_packets_total{path="relay"}')).toBe(t.rxSup);
    expect(s.get('tsn2n_edge_tx_bytes_total{path="relay"}')).toBe(t.txSupBytes);
    expect(s.get('tsn2n_edge_rx_bytes_total{path="p2p"}')).toBe(t.rxP2pBytes);
    expect(s.get('tsn2n_edge_drops_total{reason="rxStamp"}')).toBe(0);
    expect(s.get('tsn2n_edge_peer_rtt_seconds{mac="02:00:00:00:00:0b",ip="10.8.0.2"}')).toBe(0);
    expect(s.get('tsn2n_hook_runs_total{result="dropped"}')).toBe(2);
    expect([...s.keys()].some((k) => k.startsWith('process_cpu_seconds_total'))).toBe(true);
    // Read at scrape time: a new frame and a new hook run show up in the next scrape, nothing else needed.
    a.tap.inject(ipv4Frame(MAC_B, MAC_A, '10.8.0.1', '10.8.0.2', 40));
    await w.settle();
    hookOk = 5;
    const again = samples((await m.scrape()).body);
    expect(again.get('tsn2n_edge_tx_packets_total{path="p2p"}')).toBe(t.txP2p);
    expect(again.get('tsn2n_edge_tx_packets_total{path="p2p"}')).toBe(
      (s.get('tsn2n_edge_tx_packets_total{path="p2p"}') ?? 0) + 1,
    );
    expect(again.get('tsn2n_hook_runs_total{result="ok"}')).toBe(5);
  });
});

describe('supernode metrics', () => {
  it('reads edges per community, relays, registrations and drops', async () => {
    const w = makeWorld();
    const { sn } = await twoEdges(w);
    const m = supernodeMetrics(sn, { version: VERSION });
    const text = (await m.scrape()).body;
    expectValidExposition(text);
    const s = samples(text);
    expect(s.get(`tsn2n_supernode_edges{community="${COMMUNITY}"}`)).toBe(2);
    expect(s.get('tsn2n_supernode_communities')).toBe(1);
    expect(s.get('tsn2n_supernode_federation_peers')).toBe(0);
    expect(s.get('tsn2n_supernode_relayed_packets_total{kind="unicast"}')).toBe(sn.stats.fwd);
    expect(s.get('tsn2n_supernode_relayed_packets_total{kind="broadcast"}')).toBe(sn.stats.broadcast);
    expect(s.get('tsn2n_supernode_native_relayed_packets_total')).toBe(sn.stats.nativeFwd);
    expect(sn.stats.broadcast).toBeGreaterThan(0);
    expect(s.get('tsn2n_supernode_registrations_total{result="ok"}')).toBe(sn.stats.regSuperOk);
    expect(sn.stats.regSuperOk).toBeGreaterThanOrEqual(2);
    expect(s.get('tsn2n_supernode_drops_total{reason="stamp"}')).toBe(0);
    expect(s.get('tsn2n_supernode_rx_packets_total')).toBe(sn.stats.rx);
    // No per-edge labels on the supernode.
    expect(text).not.toMatch(/mac="/);
  });

  it(`names at most ${MAX_COMMUNITY_SERIES} communities and sums the rest as "${OTHER_COMMUNITY}"`, async () => {
    const w = makeWorld();
    const real = await realSupernode(w, '198.51.100.1', 7654);
    cleanup.push(() => real.stop());
    for (let i = 0; i < MANY_COMMUNITIES; i++) {
      const e = w.edge(`192.0.2.${10 + i}`, {
        community: `c${String(i).padStart(2, '0')}`,
        supernodes: ['198.51.100.1:7654'],
        address: `10.9.${i}.1/24`,
      });
      await e.edge.start();
      cleanup.push(() => e.edge.stop());
    }
    await w.settle();
    const s = samples((await supernodeMetrics(real, { version: VERSION }).scrape()).body);
    const named = [...s.keys()].filter((k) => k.startsWith('tsn2n_supernode_edges{'));
    expect(named).toHaveLength(MAX_COMMUNITY_SERIES + 1);
    expect(s.get(`tsn2n_supernode_edges{community="${OTHER_COMMUNITY}"}`)).toBe(
      MANY_COMMUNITIES - MAX_COMMUNITY_SERIES,
    );
    expect(s.get('tsn2n_supernode_communities')).toBe(MANY_COMMUNITIES);
  });
});
