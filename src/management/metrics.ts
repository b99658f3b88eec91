// Prometheus metrics of an edge or a supernode (prom-client): collectors that read the daemon's counters at scrape time.
//
// Nothing here runs on the packet path: each metric's collect() copies the current value of a counter the daemon
// keeps anyway (EdgeTraffic, EdgeDrops, SupernodeStats, the peer and community tables) when /metrics is read.
// Labels stay bounded: reasons and paths are fixed sets, the supernode has no per-edge labels and names at most
// MAX_COMMUNITY_SERIES communities (the rest summed as "other"), an edge at most MAX_RTT_SERIES peers' RTTs.
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { Edge } from '../edge/edge.js';
import type { Supernode } from '../supernode/supernode.js';
import type { HookStats } from './hooks.js';
import { edgePeerViews, snCommunities } from './views.js';

/** Communities named in tsn2n_supernode_edges; the others are summed under OTHER_COMMUNITY. */
export const MAX_COMMUNITY_SERIES = 20;
export const OTHER_COMMUNITY = 'other';
/** Peers whose RTT tsn2n_edge_peer_rtt_seconds reports (direct ones first). */
export const MAX_RTT_SERIES = 64;
const MS_PER_S = 1000;
/** Event-loop delay sampling period for the nodejs_eventloop_lag_* histograms (ms). */
const EVENT_LOOP_SAMPLE_MS = 100;
/**
 * prom-client's default gauges that end in _total, which Prometheus reserves for counters (`promtool check
 * metrics` rejects them). Their per-type siblings (nodejs_active_handles{type}, …) stay; sum() gives the total.
 */
const LINT_FAILING_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
] as const;

/** A daemon's metrics: one registry with the process collectors and ours. */
export interface DaemonMetrics {
  readonly registry: Registry;
  /** The exposition text and its content type (`GET /metrics`). */
  scrape(): Promise<{ contentType: string; body: string }>;
}

type Sample<L extends string> = [labels: Partial<Record<L, string>>, value: number];

/** A counter whose value is read from the daemon at scrape time. */
function counter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
  read: () => Iterable<Sample<L>>,
): void {
  new Counter<L>({
    name,
    help,
    labelNames,
    registers: [registry],
    collect(this: Counter<L>): void {
      this.reset();
      for (const [labels, v] of read()) this.inc(labels, v);
    },
  });
}

/** A gauge whose value is read from the daemon at scrape time. */
function gauge<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
  read: () => Iterable<Sample<L>>,
): void {
  new Gauge<L>({
    name,
    help,
    labelNames,
    registers: [registry],
    collect(this: Gauge<L>): void {
      this.reset();
      for (const [labels, v] of read()) this.set(labels, v);
    },
  });
}

/** tsn2n_build_info, process_* / nodejs_* and the hook counters, in a new registry. */
function baseRegistry(version: string, hooks: (() => HookStats | undefined) | undefined): Registry {
  const registry = new Registry();
  // prom-client samples event-loop delay on a timer of this period; its 10 ms default wakes an idle daemon 100 times a second.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  for (const name of LINT_FAILING_DEFAULTS) registry.removeSingleMetric(name);
  gauge(registry, 'tsn2n_build_info', 'tsn2n version (always 1)', ['version'], () => [[{ version }, 1]]);
  counter(
    registry,
    'tsn2n_hook_runs_total',
    'Runs of the --on-event command by result (dropped: the queue was full)',
    ['result'],
    () => {
      const s = hooks?.();
      if (s === undefined) return [];
      return [
        [{ result: 'ok' }, s.ok],
        [{ result: 'failed' }, s.failed],
        [{ result: 'timeout' }, s.timedOut],
        [{ result: 'dropped' }, s.dropped],
      ];
    },
  );
  return registry;
}

function daemonMetrics(registry: Registry): DaemonMetrics {
  return {
    registry,
    scrape: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
  };
}

export interface MetricsOptions {
  version: string;
  /** The hook runner's counters, when --on-event is set. */
  hooks?: () => HookStats | undefined;
}

/** The edge's metrics. */
export function edgeMetrics(edge: Edge, options: MetricsOptions): DaemonMetrics {
  const r = baseRegistry(options.version, options.hooks);
  const t = edge.traffic;
  gauge(r, 'tsn2n_edge_peers', 'Peers by path: p2p (direct) or relay (via the supernode)', ['path'], () => {
    const tables = edge.peerTables();
    let relay = 0;
    const known = new Set(tables.known.map((p) => p.mac));
    for (const p of tables.pending) if (!known.has(p.mac)) relay++;
    return [
      [{ path: 'p2p' }, tables.known.length],
      [{ path: 'relay' }, relay],
    ];
  });
  gauge(
    r,
    'tsn2n_edge_supernode_registered',
    '1 while a supernode has acknowledged our registration',
    [],
    () => [[{}, edge.registrationState.supernode !== undefined ? 1 : 0]],
  );
  counter(r, 'tsn2n_edge_rx_packets_total', 'PACKETs received by path', ['path'], () => [
    [{ path: 'p2p' }, t.rxP2p],
    [{ path: 'relay' }, t.rxSup],
  ]);
  counter(r, 'tsn2n_edge_tx_packets_total', 'PACKETs sent by path', ['path'], () => [
    [{ path: 'p2p' }, t.txP2p],
    [{ path: 'relay' }, t.txSup],
  ]);
  counter(r, 'tsn2n_edge_rx_bytes_total', 'Datagram bytes of the PACKETs received, by path', ['path'], () => [
    [{ path: 'p2p' }, t.rxP2pBytes],
    [{ path: 'relay' }, t.rxSupBytes],
  ]);
  counter(r, 'tsn2n_edge_tx_bytes_total', 'Datagram bytes of the PACKETs sent, by path', ['path'], () => [
    [{ path: 'p2p' }, t.txP2pBytes],
    [{ path: 'relay' }, t.txSupBytes],
  ]);
  counter(r, 'tsn2n_edge_drops_total', 'Frames and datagrams dropped, by reason', ['reason'], () =>
    Object.entries(edge.drops)
      .filter((e): e is [string, number] => typeof e[1] === 'number')
      .map(([reason, n]): Sample<'reason'> => [{ reason }, n]),
  );
  gauge(
    r,
    'tsn2n_edge_peer_rtt_seconds',
    'Smoothed round-trip time of a peer, from REGISTER to REGISTER_ACK',
    ['mac', 'ip'],
    () =>
      edgePeerViews(edge)
        .filter((p) => p.rttMs !== null)
        .slice(0, MAX_RTT_SERIES)
        .map(
          (p): Sample<'mac' | 'ip'> => [{ mac: p.mac, ip: p.ip.split('/')[0] }, (p.rttMs ?? 0) / MS_PER_S],
        ),
  );
  return daemonMetrics(r);
}

/** The supernode's metrics. */
export function supernodeMetrics(sn: Supernode, options: MetricsOptions): DaemonMetrics {
  const r = baseRegistry(options.version, options.hooks);
  const s = sn.stats;
  gauge(
    r,
    'tsn2n_supernode_edges',
    `Registered edges by community (the ${MAX_COMMUNITY_SERIES} largest; the rest as "${OTHER_COMMUNITY}")`,
    ['community'],
    () => {
      const sizes = snCommunities(sn)
        .map((c): Sample<'community'> => [{ community: c.name }, c.edges.size])
        .sort((a, b) => b[1] - a[1] || String(a[0].community).localeCompare(String(b[0].community)));
      const top = sizes.slice(0, MAX_COMMUNITY_SERIES);
      if (sizes.length > MAX_COMMUNITY_SERIES) {
        let rest = 0;
        for (const x of sizes.slice(MAX_COMMUNITY_SERIES)) rest += x[1];
        top.push([{ community: OTHER_COMMUNITY }, rest]);
      }
      return top;
    },
  );
  gauge(r, 'tsn2n_supernode_communities', 'Communities (the federation not counted)', [], () => [
    [{}, snCommunities(sn).length],
  ]);
  counter(
    r,
    'tsn2n_supernode_relayed_packets_total',
    'PACKETs relayed: unicast forwards to an edge, and broadcast copies',
    ['kind'],
    () => [
      [{ kind: 'unicast' }, s.fwd],
      [{ kind: 'broadcast' }, s.broadcast],
    ],
  );
  counter(
    r,
    'tsn2n_supernode_native_relayed_packets_total',
    'Of the unicast forwards, those the native relay made (docs/supernode.md)',
    [],
    () => [[{}, s.nativeFwd]],
  );
  counter(
    r,
    'tsn2n_supernode_registrations_total',
    'REGISTER_SUPERs by result: ok (acknowledged), nak (refused), dropped (no answer)',
    ['result'],
    () => [
      [{ result: 'ok' }, s.regSuperOk],
      [{ result: 'nak' }, s.regSuperNak],
      [{ result: 'dropped' }, Math.max(0, s.regSuper - s.regSuperOk - s.regSuperNak)],
    ],
  );
  gauge(r, 'tsn2n_supernode_federation_peers', 'Other supernodes of the federation', [], () => [
    [{}, sn.federation.edges.size],
  ]);
  counter(r, 'tsn2n_supernode_rx_packets_total', 'Datagrams received on the main socket', [], () => [
    [{}, s.rx],
  ]);
  counter(r, 'tsn2n_supernode_send_errors_total', 'Sends the kernel refused', [], () => [[{}, s.errors]]);
  counter(
    r,
    'tsn2n_supernode_drops_total',
    'Datagrams dropped or registrations refused, by reason',
    ['reason'],
    () => Object.entries(s.drops).map(([reason, n]): Sample<'reason'> => [{ reason }, n]),
  );
  return daemonMetrics(r);
}
