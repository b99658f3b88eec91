// Tunnel benchmark (`npm run bench:tunnel`, root): iperf3 TCP through a supernode + two edges in namespaces, per cipher.
//
// Layout: namespaces "sn", "a" and "b" on one bridge, every veth at MTU 1400. For each cipher the two edges start
// (tap default MTU), wait for the overlay, then iperf3 runs 10 s a → b across the tunnel while both edges' CPU time
// and memory are sampled from /proc. The raw veth path (a → b underlay, no tunnel) is measured in the same run.
// E2E_EDGE_CMD / E2E_SUPERNODE_CMD may name other 3.1.1-compatible programs to measure them in the same layout.
import { existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  checkPrerequisites,
  describeMissing,
  iperf3,
  Lab,
  type LabHost,
  type LabProcess,
  type ProcStats,
  procStats,
  waitForPing,
} from '../src/lab/index.js';

const UNDERLAY_MTU = 1400;
const DEFAULT_SECONDS = 10;
const SN_IP = '203.0.113.1';
const A_IP = '203.0.113.21';
const B_IP = '203.0.113.22';
const A_VPN = '10.90.0.1';
const B_VPN = '10.90.0.2';
const UP_TIMEOUT_S = 30;
const CIPHERS: readonly { id: number; name: string; c311: number }[] = [
  // c311 = C n2n 3.1.1 (OpenSSL build) in this layout on this machine class, from the issue, Mbit/s.
  { id: 4, name: 'ChaCha20', c311: 1012 },
  { id: 3, name: 'AES', c311: 809 },
  { id: 5, name: 'Speck', c311: 967 },
  { id: 2, name: 'Twofish', c311: 583 },
  { id: 1, name: 'null', c311: 1314 },
];
const KIB_PER_MIB = 1024;

interface Row {
  cipher: string;
  mbit: number;
  retransmits: number;
  c311: number;
  cpuA: number;
  cpuB: number;
  rssA: number;
  rssB: number;
  error?: string;
}

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root (package.json)');
    dir = up;
  }
  return dir;
}

function command(kind: 'edge' | 'supernode', mainJs: string): string[] {
  const override = process.env[kind === 'edge' ? 'E2E_EDGE_CMD' : 'E2E_SUPERNODE_CMD'];
  if (override) return override.split(/\s+/).filter((t) => t.length > 0);
  return [process.execPath, mainJs, kind];
}

function cpuModel(): string {
  try {
    const m = readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.+)/);
    if (m) return m[1].trim();
  } catch {
    // not Linux
  }
  return cpus()[0]?.model ?? 'unknown CPU';
}

/** CPU% (of one core) and RSS (MiB) of a process over an interval, from two /proc samples. */
function usage(
  before: ProcStats | undefined,
  after: ProcStats | undefined,
  wallS: number,
): { cpu: number; rss: number } {
  if (!before || !after) return { cpu: Number.NaN, rss: Number.NaN };
  return { cpu: ((after.cpuS - before.cpuS) / wallS) * 100, rss: after.rssKiB / KIB_PER_MIB };
}

async function measureCipher(
  lab: Lab,
  hosts: { sn: LabHost; a: LabHost; b: LabHost },
  mainJs: string,
  cipher: (typeof CIPHERS)[number],
  seconds: number,
): Promise<Row> {
  const args = (ip: string, desc: string): string[] => {
    const a = [
      '-f',
      '-c',
      `bench${cipher.id}`,
      '-a',
      `${ip}/24`,
      '-l',
      `${SN_IP}:7654`,
      '-d',
      'n2n0',
      '-I',
      desc,
    ];
    a.push(`-A${cipher.id}`);
    if (cipher.id !== 1) a.push('-k', 'bench-key');
    return a;
  };
  const ea = lab.spawn(
    `edge-a-${cipher.name}`,
    hosts.a.ns,
    [...command('edge', mainJs), ...args(A_VPN, 'a')],
    {
      critical: true,
    },
  );
  const eb = lab.spawn(
    `edge-b-${cipher.name}`,
    hosts.b.ns,
    [...command('edge', mainJs), ...args(B_VPN, 'b')],
    {
      critical: true,
    },
  );
  const row: Row = {
    cipher: cipher.name,
    mbit: 0,
    retransmits: 0,
    c311: cipher.c311,
    cpuA: 0,
    cpuB: 0,
    rssA: 0,
    rssB: 0,
  };
  try {
    const up = await waitForPing(lab, hosts.a.ns, B_VPN, UP_TIMEOUT_S);
    if (up === undefined) throw new Error(`no ping across the overlay within ${UP_TIMEOUT_S} s`);
    // A short warm-up: P2P established, JIT warm, ARP resolved.
    await waitForPing(lab, hosts.b.ns, A_VPN, UP_TIMEOUT_S);
    const sa0 = procStats(ea.pid);
    const sb0 = procStats(eb.pid);
    const t0 = performance.now();
    const r = await iperf3(lab, hosts.a.ns, hosts.b.ns, B_VPN, seconds);
    const wall = (performance.now() - t0) / 1000;
    const ua = usage(sa0, procStats(ea.pid), wall);
    const ub = usage(sb0, procStats(eb.pid), wall);
    lab.assertNoCrash();
    if (!r.ok) throw new Error(`iperf3: ${r.error}`);
    Object.assign(row, {
      mbit: r.mbitPerS,
      retransmits: r.retransmits,
      cpuA: ua.cpu,
      cpuB: ub.cpu,
      rssA: ua.rss,
      rssB: ub.rss,
    });
  } catch (err) {
    row.error = err instanceof Error ? err.message.split('\n')[0] : String(err);
  } finally {
    await stopAll([ea, eb]);
  }
  return row;
}

async function stopAll(procs: LabProcess[]): Promise<void> {
  await Promise.all(procs.map((p) => p.stop()));
}

function fmt(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '–';
}

async function main(): Promise<void> {
  const seconds = Number(process.env.BENCH_SECONDS ?? DEFAULT_SECONDS);
  const missing = describeMissing(checkPrerequisites(['iperf3']));
  if (missing) throw new Error(`bench:tunnel ${missing}`);
  const root = repoRoot();
  const mainJs = join(root, 'dist/cli/main.js');
  if (!process.env.E2E_EDGE_CMD && !existsSync(mainJs))
    throw new Error(`${mainJs} is missing: run npm run build`);

  const impl = process.env.E2E_EDGE_CMD
    ? `edge: ${process.env.E2E_EDGE_CMD}`
    : 'tsn2n (node dist/cli/main.js)';
  console.log(`bench:tunnel — ${impl}; Node ${process.version}; ${cpuModel()} (${cpus().length} CPUs)`);
  console.log(
    `layout: supernode + 2 edges in namespaces on one bridge, veth MTU ${UNDERLAY_MTU}; iperf3 TCP ${seconds} s a → b`,
  );
  const lab = await Lab.create({ log: (l) => console.log(`[lab] ${l}`) });
  const rows: Row[] = [];
  let raw = Number.NaN;
  try {
    const sn = await lab.publicHost('sn', `${SN_IP}/24`, { mtu: UNDERLAY_MTU });
    const a = await lab.publicHost('a', `${A_IP}/24`, { mtu: UNDERLAY_MTU });
    const b = await lab.publicHost('b', `${B_IP}/24`, { mtu: UNDERLAY_MTU });
    const snProc = lab.spawn('supernode', sn.ns, [...command('supernode', mainJs), '-f'], { critical: true });
    const rawR = await iperf3(lab, a.ns, b.ns, B_IP, seconds);
    raw = rawR.ok ? rawR.mbitPerS : Number.NaN;
    console.log(`raw veth a → b (no tunnel): ${fmt(raw)} Mbit/s`);
    for (const c of CIPHERS) {
      const row = await measureCipher(lab, { sn, a, b }, mainJs, c, seconds);
      rows.push(row);
      console.log(
        row.error
          ? `-A${c.id} ${c.name}: FAILED (${row.error})`
          : `-A${c.id} ${c.name}: ${fmt(row.mbit)} Mbit/s (C 3.1.1 reference ${c.c311}); edge CPU a ${fmt(row.cpuA)} % ` +
              `b ${fmt(row.cpuB)} %, RSS a ${fmt(row.rssA)} MiB b ${fmt(row.rssB)} MiB, ${row.retransmits} retransmits`,
      );
    }
    await snProc.stop();
  } finally {
    await lab.destroy();
  }

  console.log(
    '\n| cipher | Mbit/s | C 3.1.1 ref. | sender edge CPU % | receiver edge CPU % | sender RSS MiB | receiver RSS MiB |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  console.log(`| raw veth, no tunnel | ${fmt(raw)} | | | | | |`);
  for (const r of rows)
    console.log(
      r.error
        ? `| ${r.cipher} | failed: ${r.error} | ${r.c311} | | | | |`
        : `| ${r.cipher} | ${fmt(r.mbit)} | ${r.c311} | ${fmt(r.cpuA)} | ${fmt(r.cpuB)} | ${fmt(r.rssA)} | ${fmt(r.rssB)} |`,
    );
  if (rows.some((r) => r.error)) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(`bench:tunnel: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
