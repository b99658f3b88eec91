// `npm run bench:fleet -- [options]`: many simulated edges against one supernode process over real UDP, sampled over time.
//
// Examples (see docs/reliability.md, "Fleet scale"):
//   1,000 edges for 10 minutes, 500 PACKETs/s between random pairs, against tsn2n and C (side by side):
//     npm run bench:fleet -- --supernode tsn2n --edges 1000 --duration 600 --sample 30 --pps 500
//     npm run bench:fleet -- --supernode c --port 17754 --mgmt-port 15745 --edges 1000 --duration 600 --sample 30 --pps 500
//   How many edges fit (first registrations at 8,000/s, each edge refreshed every 55 s, inside the 60 s
//   registration timeout):
//     npm run bench:fleet -- --supernode tsn2n --edges 1000000 --ramp 8000 --interval 55 --max-edges 1000000 \
//       --duration 200 --sample 10 --pps 1000
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Fleet } from './fleet/generator.js';
import type { Histogram } from './fleet/histogram.js';
import {
  loadAverage,
  type ProcSample,
  type RunningSupernode,
  sampleProc,
  spawnSupernode,
  tsn2nEdgeCount,
  udpRcvbufErrors,
} from './fleet/proc.js';

const MS_PER_S = 1000;
const MB = 1e6;
/** After sending stops, answers still in flight get this long. */
const GRACE_MS = 3000;

const { values: a } = parseArgs({
  options: {
    supernode: { type: 'string', default: 'tsn2n' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '17654' },
    'mgmt-port': { type: 'string', default: '15645' },
    pid: { type: 'string' },
    edges: { type: 'string', default: '1000' },
    sockets: { type: 'string', default: '16' },
    community: { type: 'string', default: 'fleet' },
    H: { type: 'boolean', short: 'H', default: false },
    interval: { type: 'string', default: '20' },
    ramp: { type: 'string' },
    pps: { type: 'string', default: '100' },
    payload: { type: 'string', default: '64' },
    duration: { type: 'string', default: '60' },
    sample: { type: 'string', default: '10' },
    'max-edges': { type: 'string' },
    'node-args': { type: 'string' },
    'c-binary': { type: 'string', default: '/tmp/n2n-c/build/supernode' },
    log: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});

const num = (k: keyof typeof a): number => {
  const v = Number(a[k]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${k}: not a number: ${String(a[k])}`);
  return v;
};

function fmt(h: Histogram): string {
  return `p50 ${h.quantile(0.5).toFixed(2)} ms, p99 ${h.quantile(0.99).toFixed(2)} ms, p99.9 ${h.quantile(0.999).toFixed(2)} ms, max ${h.max.toFixed(1)} ms`;
}

async function main(): Promise<void> {
  const port = num('port');
  const mgmtPort = num('mgmt-port');
  const kind = a.supernode;
  let sn: RunningSupernode | undefined;
  let pid = a.pid !== undefined ? num('pid') : undefined;
  if (kind === 'tsn2n' || kind === 'c') {
    sn = await spawnSupernode({
      kind,
      port,
      mgmtPort,
      community: a.H ? a.community : undefined,
      maxEdges: a['max-edges'] !== undefined ? num('max-edges') : undefined,
      nodeArgs: a['node-args']?.split(' ').filter((s) => s !== ''),
      tsn2nMain: resolve('dist/cli/main.js'),
      cBinary: a['c-binary'],
      logFile: a.log,
    });
    pid = sn.pid;
  } else if (kind !== 'none') {
    throw new Error('--supernode: tsn2n, c or none (then --host/--port and optionally --pid)');
  }
  const fleet = new Fleet({
    host: a.host,
    port,
    edges: num('edges'),
    sockets: num('sockets'),
    community: a.community,
    headerEncryption: a.H,
    intervalMs: num('interval') * MS_PER_S,
    rampPerSec: a.ramp !== undefined ? num('ramp') : undefined,
    packetsPerSec: num('pps'),
    payloadBytes: num('payload'),
  });
  fleet.open();
  const durationMs = num('duration') * MS_PER_S;
  const sampleMs = num('sample') * MS_PER_S;
  const before = pid !== undefined ? sampleProc(pid) : undefined;
  const samples: { t: number; proc?: ProcSample; snEdges?: number }[] = [];
  console.log(
    `fleet: ${fleet.opts.edges} edges on ${fleet.opts.sockets} sockets → ${kind} ${a.host}:${port}` +
      `${a.H ? ' -H' : ''}, REGISTER_SUPER every ${num('interval')} s, ${num('pps')} PACKETs/s, ` +
      `${num('duration')} s; load ${loadAverage()}; supernode RSS ${((before?.rssBytes ?? 0) / MB).toFixed(1)} MB`,
  );
  const rcvbuf0 = udpRcvbufErrors();
  const t0 = Date.now();
  let lastCpu = before?.cpuSeconds ?? 0;
  let lastT = t0;
  fleet.start();
  const sampler = setInterval(async () => {
    const now = Date.now();
    const p = pid !== undefined ? sampleProc(pid) : undefined;
    const snEdges = kind === 'tsn2n' ? await tsn2nEdgeCount(mgmtPort) : undefined;
    const cpu = p !== undefined ? ((p.cpuSeconds - lastCpu) * MS_PER_S * 100) / (now - lastT) : 0;
    lastCpu = p?.cpuSeconds ?? lastCpu;
    lastT = now;
    samples.push({ t: now - t0, proc: p, snEdges });
    const c = fleet.counts;
    const w = fleet.takeWindow();
    console.log(
      `${((now - t0) / MS_PER_S).toFixed(0).padStart(5)} s | reg ${c.regSent} sent ${c.regAnswered} answered ` +
        `(${c.edgesUp} edges up${snEdges !== undefined ? `, supernode says ${snEdges}` : ''}) | window ${fmt(w)} | ` +
        `pkt ${c.pktSent} sent ${c.pktDelivered} delivered | RSS ${((p?.rssBytes ?? 0) / MB).toFixed(1)} MB ` +
        `CPU ${cpu.toFixed(0)} % | load ${loadAverage()}`,
    );
  }, sampleMs);
  await new Promise((r) => setTimeout(r, durationMs));
  fleet.stopSending();
  clearInterval(sampler);
  await new Promise((r) => setTimeout(r, GRACE_MS));
  const after = pid !== undefined ? sampleProc(pid) : undefined;
  const snEdges = kind === 'tsn2n' ? await tsn2nEdgeCount(mgmtPort) : undefined;
  const c = { ...fleet.counts };
  const elapsedS = durationMs / MS_PER_S;
  const rssMax = Math.max(0, ...samples.map((s) => s.proc?.rssBytes ?? 0), after?.rssBytes ?? 0);
  const cpuAvg =
    before !== undefined && after !== undefined
      ? ((after.cpuSeconds - before.cpuSeconds) * 100) / elapsedS
      : 0;
  const report = {
    supernode: kind,
    edges: fleet.opts.edges,
    sockets: fleet.opts.sockets,
    headerEncryption: a.H,
    intervalS: num('interval'),
    durationS: elapsedS,
    ...c,
    regUnanswered: c.regSent - c.regAnswered,
    regRttMs: {
      p50: fleet.regRtt.quantile(0.5),
      p99: fleet.regRtt.quantile(0.99),
      p999: fleet.regRtt.quantile(0.999),
      max: fleet.regRtt.max,
    },
    pktLatencyMs: { p50: fleet.pktLatency.quantile(0.5), p99: fleet.pktLatency.quantile(0.99) },
    snEdgesAtEnd: snEdges,
    rssStartMB: (before?.rssBytes ?? 0) / MB,
    rssEndMB: (after?.rssBytes ?? 0) / MB,
    rssMaxMB: rssMax / MB,
    hwmMB: (after?.hwmBytes ?? 0) / MB,
    cpuAvgPercent: cpuAvg,
    udpRcvbufErrors: udpRcvbufErrors() - rcvbuf0,
    load: loadAverage(),
  };
  console.log(
    `done: registrations ${c.regSent} sent, ${c.regAnswered} answered, ${report.regUnanswered} unanswered, ` +
      `${c.regNaks} NAKs; RTT ${fmt(fleet.regRtt)}\n` +
      `      PACKETs ${c.pktSent} sent, ${c.pktDelivered} delivered, ${c.pktMisrouted} misrouted; relay latency ` +
      `p50 ${report.pktLatencyMs.p50.toFixed(2)} ms, p99 ${report.pktLatencyMs.p99.toFixed(2)} ms; ` +
      `generator send drops ${c.sendDropped}, bad datagrams ${c.rxBad}; UDP receive-buffer overflows ` +
      `(namespace-wide) ${report.udpRcvbufErrors}\n` +
      `      supernode RSS ${report.rssStartMB.toFixed(1)} → ${report.rssEndMB.toFixed(1)} MB (max ${report.rssMaxMB.toFixed(1)}, ` +
      `VmHWM ${report.hwmMB.toFixed(1)}), CPU ${cpuAvg.toFixed(1)} % of a core on average` +
      `${snEdges !== undefined ? `, ${snEdges} edges registered at the end` : ''}; load ${report.load}`,
  );
  if (a.json) console.log(JSON.stringify(report));
  fleet.close();
  await sn?.stop();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
