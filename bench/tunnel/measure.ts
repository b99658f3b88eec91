// bench:tunnel measurements on a running tunnel: iperf3 TCP/UDP and ping, with process CPU and relay counters.
import { type ProcStats, procStats } from '../../src/lab/index.js';
import { edgeRxCounts, iperf3Run, pingSeries, snForwardCount } from '../lab-extra.js';
import type { Context, Sample } from './case.js';
import { A_VPN, B_VPN, EDGE_MGMT_PORT, SN_MGMT_PORT, type Tunnel } from './setup.js';

/** A relayed run must have brought at least this share of the receiver's data packets through the supernode. */
const MIN_RELAYED_SHARE = 0.5;
/** A P2P run that brought more than this share through the supernode gets a note. */
const MAX_P2P_RELAYED_SHARE = 0.1;
const PERCENT = 100;
const US_PER_S = 1e6;
/** Pings per RTT series and their spacing (the issue: 200 pings 10 ms apart). */
export const PING_COUNT = 200;
export const PING_INTERVAL_S = 0.01;

/** Which edge sends: a → b or b → a. */
export type Direction = 'ab' | 'ba';

interface Counters {
  /** The receiving edge's data packets in, direct and via the supernode. */
  rxP2p: number;
  rxSuper: number;
  forwarded: number;
  nativeForwarded: number;
}

interface Snapshot extends Counters {
  procs: (ProcStats | undefined)[];
  t: number;
}

const NO_COUNTS = { p2p: Number.NaN, super: Number.NaN };

async function counters(ctx: Context, receiver: 'a' | 'b'): Promise<Counters> {
  const [rx, forwarded] = await Promise.all([
    edgeRxCounts(ctx.lab, ctx[receiver].ns, EDGE_MGMT_PORT).catch(() => NO_COUNTS),
    snForwardCount(ctx.lab, ctx.sn.ns, SN_MGMT_PORT).catch(() => ({ forwarded: Number.NaN, native: 0 })),
  ]);
  return {
    rxP2p: rx.p2p,
    rxSuper: rx.super,
    forwarded: forwarded.forwarded,
    nativeForwarded: forwarded.native,
  };
}

function procSample(t: Tunnel): { procs: (ProcStats | undefined)[]; t: number } {
  return { procs: [t.a, t.b, t.sn].map((p) => procStats(p.pid)), t: performance.now() };
}

/** CPU and packet figures between two snapshots. */
export interface Usage {
  /** Percent of one core: edge a, edge b, supernode. */
  cpuA: number;
  cpuB: number;
  cpuSn: number;
  /** Data packets the receiving edge got directly and via the supernode (its own counters). */
  rxP2p: number;
  rxSuper: number;
  /** Packets the supernode relayed (its `forward` counter; both directions). */
  forwarded: number;
  /** Supernode CPU µs per relayed packet. */
  snUsPerPkt: number;
  /** Of `forwarded`, what tsn2n's native relay forwarded. */
  nativeForwarded: number;
}

function usage(before: Snapshot, after: Snapshot): Usage {
  const wallS = (after.t - before.t) / 1000;
  const cpu = (i: number): number => {
    const b = before.procs[i];
    const a = after.procs[i];
    return a && b ? ((a.cpuS - b.cpuS) / wallS) * PERCENT : Number.NaN;
  };
  const forwarded = after.forwarded - before.forwarded;
  const snB = before.procs[2];
  const snA = after.procs[2];
  const snCpuS = snA && snB ? snA.cpuS - snB.cpuS : Number.NaN;
  return {
    cpuA: cpu(0),
    cpuB: cpu(1),
    cpuSn: cpu(2),
    rxP2p: after.rxP2p - before.rxP2p,
    rxSuper: after.rxSuper - before.rxSuper,
    forwarded,
    snUsPerPkt: forwarded > 0 ? (snCpuS * US_PER_S) / forwarded : Number.NaN,
    nativeForwarded: after.nativeForwarded - before.nativeForwarded,
  };
}

function pct(n: number): string {
  return Number.isFinite(n) ? `${n.toFixed(0)} %` : '–';
}

/** "a 95 % · b 80 %", plus the supernode's share and cost per packet when relayed. */
export function cpuText(u: Usage, relayed: boolean): string {
  const edges = `a ${pct(u.cpuA)} · b ${pct(u.cpuB)}`;
  if (!relayed) return edges;
  const perPkt = Number.isFinite(u.snUsPerPkt) ? `${u.snUsPerPkt.toFixed(1)} µs/pkt` : '– µs/pkt';
  const native = u.nativeForwarded > 0 ? `, ${pct((u.nativeForwarded / u.forwarded) * PERCENT)} native` : '';
  return `sn ${pct(u.cpuSn)}, ${perPkt}${native} · ${edges}`;
}

/**
 * Checks that traffic took the intended path: relayed runs must go through the supernode (an error otherwise, e.g.
 * an edge ignoring -S1); P2P runs that leaked through it get a note.
 */
function pathCheck(u: Usage, relayed: boolean): { error?: string; note?: string } {
  const total = u.rxP2p + u.rxSuper;
  if (!(total > 0)) return { note: 'path unknown (no receiver packet counters)' };
  const share = u.rxSuper / total;
  const text = `receiver got ${u.rxSuper} of ${total} packets via the supernode`;
  if (relayed && share < MIN_RELAYED_SHARE) return { error: `not relayed (${text})` };
  if (!relayed && share > MAX_P2P_RELAYED_SHARE) return { note: `partly relayed (${text})` };
  return {};
}

/** Runs `probe` between two snapshots. */
async function measured<T>(ctx: Context, t: Tunnel, receiver: 'a' | 'b', probe: () => Promise<T>) {
  // CPU is sampled right around the probe, so the counter queries' time does not dilute it.
  const before: Snapshot = { ...(await counters(ctx, receiver)), ...procSample(t) };
  const r = await probe();
  const after: Snapshot = { ...procSample(t), ...(await counters(ctx, receiver)) };
  return { r, u: usage(before, after) };
}

export interface ThroughputOptions {
  dir: Direction;
  relayed: boolean;
  /** UDP payload bytes (`-u -l N -b 0`); TCP when absent. */
  udpPayloadBytes?: number;
}

/**
 * iperf3 through the tunnel. The client always runs in a; b → a uses `-R`. TCP gives Mbit/s; UDP gives datagrams
 * received per second, with the loss in `extra`.
 */
export async function throughput(ctx: Context, t: Tunnel, o: ThroughputOptions): Promise<Sample> {
  const { r, u } = await measured(ctx, t, o.dir === 'ab' ? 'b' : 'a', () =>
    iperf3Run(ctx.lab, {
      clientNs: ctx.a.ns,
      serverNs: ctx.b.ns,
      serverIp: B_VPN,
      seconds: ctx.seconds,
      reverse: o.dir === 'ba',
      udpPayloadBytes: o.udpPayloadBytes,
    }),
  );
  if (!r.ok) return { value: Number.NaN, error: r.error, cpu: cpuText(u, o.relayed) };
  const udp = o.udpPayloadBytes !== undefined;
  return {
    value: udp ? r.packetsPerS : r.mbitPerS,
    extra: udp ? `(loss ${r.lostPercent.toFixed(1)} %)` : undefined,
    cpu: cpuText(u, o.relayed),
    ...pathCheck(u, o.relayed),
  };
}

/** PING_COUNT pings a → b PING_INTERVAL_S apart: avg RTT in ms as the value, p50/p99 in `extra`. */
export async function latency(ctx: Context, t: Tunnel, relayed: boolean): Promise<Sample> {
  // Warm-up: ARP entries and both edges' peer state fresh in both directions.
  await pingSeries(ctx.lab, ctx.b.ns, A_VPN, 5, PING_INTERVAL_S);
  const { r, u } = await measured(ctx, t, 'b', () =>
    pingSeries(ctx.lab, ctx.a.ns, B_VPN, PING_COUNT, PING_INTERVAL_S),
  );
  if (r.received === 0) return { value: Number.NaN, error: 'no ping reply' };
  const loss = r.lossPercent > 0 ? `, loss ${r.lossPercent.toFixed(1)} %` : '';
  return {
    value: r.avgMs,
    extra: `(p50 ${r.p50Ms.toFixed(3)}, p99 ${r.p99Ms.toFixed(3)}${loss})`,
    cpu: cpuText(u, relayed),
    ...pathCheck(u, relayed),
  };
}
