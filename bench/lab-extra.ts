// Extra namespace-lab probes for bench:tunnel: iperf3 TCP/UDP with JSON results, ping series with percentiles, counters.
import { type Lab, mgmtRead, waitFor } from '../src/lab/index.js';

/** Default iperf3 control/data port of the bench (the e2e helper uses the same). */
const IPERF_PORT = 5202;
/** How long an iperf3 server may take to listen. */
const IPERF_SERVER_START_MS = 10_000;
/** Poll step while waiting for the iperf3 server's socket. */
const IPERF_POLL_MS = 100;
/** Extra time an iperf3 client gets beyond its test duration (connect, exchange of results). */
const IPERF_SLACK_S = 30;
/** Extra time a ping series gets beyond count × interval. */
const PING_SLACK_S = 10;
/** Seconds ping waits for each reply. */
const PING_WAIT_S = 1;
/** Percent. */
const PERCENT = 100;

export interface IperfSpec {
  clientNs: string;
  serverNs: string;
  serverIp: string;
  seconds: number;
  /** `-R`: the server sends, the client receives. */
  reverse?: boolean;
  /** UDP with this payload per datagram (bytes) and no rate limit (`-u -l N -b 0`); TCP when absent. */
  udpPayloadBytes?: number;
  port?: number;
}

export interface IperfOutcome {
  ok: boolean;
  error?: string;
  /** Received throughput, Mbit/s. */
  mbitPerS: number;
  /** TCP retransmissions seen by the sender (0 for UDP or -R). */
  retransmits: number;
  /** UDP: datagrams received per second (0 for TCP). */
  packetsPerS: number;
  /** UDP: datagrams lost, percent of those sent (0 for TCP). */
  lostPercent: number;
}

interface IperfSum {
  seconds: number;
  bits_per_second: number;
  retransmits?: number;
  packets?: number;
  lost_packets?: number;
  lost_percent?: number;
}

function failed(error: string): IperfOutcome {
  return { ok: false, error, mbitPerS: 0, retransmits: 0, packetsPerS: 0, lostPercent: 0 };
}

/** One iperf3 run against a one-shot server; TCP or UDP, either direction. */
export async function iperf3Run(lab: Lab, spec: IperfSpec): Promise<IperfOutcome> {
  const port = String(spec.port ?? IPERF_PORT);
  const server = lab.spawn('iperf3-server', spec.serverNs, [
    'iperf3',
    '-s',
    '-1',
    '-B',
    spec.serverIp,
    '-p',
    port,
  ]);
  try {
    // iperf3 block-buffers its banner when stdout is a pipe, so look for the listening socket instead.
    const listening = await waitFor(
      async () => {
        if (!server.alive()) return undefined;
        const r = await lab.run(spec.serverNs, ['ss', '-Hltn', `sport = :${port}`], { check: false });
        return r.stdout.includes(`:${port}`) ? true : undefined;
      },
      IPERF_SERVER_START_MS,
      IPERF_POLL_MS,
    );
    if (!listening) return failed(`iperf3 server did not start: ${server.tail(3)}`);
    const args = ['iperf3', '-c', spec.serverIp, '-p', port, '-t', String(spec.seconds), '-J'];
    if (spec.reverse) args.push('-R');
    if (spec.udpPayloadBytes !== undefined) args.push('-u', '-l', String(spec.udpPayloadBytes), '-b', '0');
    const r = await lab.run(spec.clientNs, args, {
      check: false,
      timeoutMs: (spec.seconds + IPERF_SLACK_S) * 1000,
    });
    let j: { error?: string; end?: { sum_received?: IperfSum; sum_sent?: IperfSum } };
    try {
      j = JSON.parse(r.stdout) as typeof j;
    } catch {
      return failed(
        `iperf3 printed no JSON (exit ${r.code ?? r.signal}): ${`${r.stdout}${r.stderr}`.slice(0, 200)}`,
      );
    }
    const recv = j.end?.sum_received;
    if (j.error || !recv) return failed(`iperf3: ${j.error ?? 'no sum_received in its report'}`);
    const received = (recv.packets ?? 0) - (recv.lost_packets ?? 0);
    return {
      ok: true,
      mbitPerS: recv.bits_per_second / 1e6,
      retransmits: j.end?.sum_sent?.retransmits ?? 0,
      packetsPerS: spec.udpPayloadBytes !== undefined && recv.seconds > 0 ? received / recv.seconds : 0,
      lostPercent: recv.lost_percent ?? 0,
    };
  } finally {
    await server.stop();
  }
}

export interface PingSeries {
  sent: number;
  received: number;
  lossPercent: number;
  /** Round-trip times in ms, sorted ascending. */
  rttsMs: number[];
  avgMs: number;
  p50Ms: number;
  p99Ms: number;
}

/** Nearest-rank percentile of ascending values (NaN when empty). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / PERCENT) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** `count` pings `intervalS` apart from `ns` to `target`, with every reply's RTT. */
export async function pingSeries(
  lab: Lab,
  ns: string,
  target: string,
  count: number,
  intervalS: number,
): Promise<PingSeries> {
  const args = [
    'ping',
    '-n',
    '-c',
    String(count),
    '-i',
    String(intervalS),
    '-W',
    String(PING_WAIT_S),
    target,
  ];
  const r = await lab.run(ns, args, {
    check: false,
    timeoutMs: (count * intervalS + PING_SLACK_S) * 1000,
  });
  const out = `${r.stdout}${r.stderr}`;
  const rtts = [...out.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1])).sort((x, y) => x - y);
  const sent = Number(out.match(/(\d+) packets transmitted/)?.[1] ?? count);
  const avg = rtts.length > 0 ? rtts.reduce((s, v) => s + v, 0) / rtts.length : Number.NaN;
  if (rtts.length === 0 && r.code !== 0 && !/packets transmitted/.test(out))
    throw new Error(`ping failed: ${out.trim().split('\n').pop() ?? ''}`);
  return {
    sent,
    received: rtts.length,
    lossPercent: sent > 0 ? ((sent - rtts.length) / sent) * PERCENT : PERCENT,
    rttsMs: rtts,
    avgMs: avg,
    p50Ms: percentile(rtts, 50),
    p99Ms: percentile(rtts, 99),
  };
}

/** Data packets an edge received directly from peers and via the supernode (§13.2 packetstats `p2p`, `super`). */
export async function edgeRxCounts(
  lab: Lab,
  ns: string,
  port: number,
): Promise<{ p2p: number; super: number }> {
  const rows = await mgmtRead(lab, ns, port, 'packetstats');
  const rx = (type: string): number => Number(rows.find((row) => row.type === type)?.rx_pkt ?? Number.NaN);
  return { p2p: rx('p2p'), super: rx('super') };
}

/**
 * A supernode's `forward` tx_pkt (§13.2 packetstats, same in tsn2n and 3.1.1): unicast packets relayed; and of them
 * what tsn2n's native relay forwarded (its `native_relay` row; 0 without one).
 */
export async function snForwardCount(
  lab: Lab,
  ns: string,
  port: number,
): Promise<{ forwarded: number; native: number }> {
  const rows = await mgmtRead(lab, ns, port, 'packetstats');
  const count = (type: string, missing: number): number => {
    const row = rows.find((r) => r.type === type);
    return row ? Number(row.tx_pkt) : missing;
  };
  return { forwarded: count('forward', Number.NaN), native: count('native_relay', 0) };
}

/** Modes (`p2p`, `pSp`) of the peers an edge lists on its management port (§13.2 `edges`). */
export async function edgePeerModes(lab: Lab, ns: string, port: number): Promise<string[]> {
  const rows = await mgmtRead(lab, ns, port, 'edges');
  return rows.map((row) => String(row.mode));
}
