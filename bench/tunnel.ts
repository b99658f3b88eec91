// Tunnel benchmark (`npm run bench:tunnel`, root): every case of issue 10, tsn2n against C n2n 3.1.1 in one run.
//
// Layout: namespaces "sn", "a" and "b" on one bridge, veth MTU 1500, TAP MTU 1400 (-M 1400). Each case starts a
// supernode and two edges, measures (iperf3 TCP/UDP or ping) while sampling the processes' CPU from /proc, and stops
// them. With N2N_REFERENCE_BIN=/dir holding C 3.1.1 `edge` and `supernode`, every case also runs on C, alternating
// which side goes first from case to case, and each row gets the ratio. Groups (BENCH_CASES, comma-separated):
//   p2p    iperf3 TCP a → b, P2P, per cipher           he     the same with -H
//   relay  TCP a → b with -S1 (via the supernode), -A3/-A4, ±-H: all tsn2n vs all C, and C edges with a tsn2n vs
//          a C supernode; supernode CPU % and CPU µs per packet it relayed (its packetstats `forward` counter)
//   rtt    ping a → b, 200 × 10 ms, avg/p50/p99: P2P and relayed, ±-H, -A4
//   small  iperf3 UDP 64 and 512 B payloads, unlimited rate, a → b and b → a (-R): packets/s received, loss
//   mixed  P2P tsn2n edge ⇄ C edge both directions, -A4 ±-H, against C ⇄ C
//   hecost per cipher, BENCH_ROUNDS (default 3) pairs of P2P runs without and with -H back to back, order
//          flipping: the median of the pairs' -H / no -H (not in the default set: it takes 2 × BENCH_ROUNDS runs
//          a cipher and side)
// BENCH_SECONDS (default 6) is each iperf3 run; BENCH_CIPHERS (e.g. 4,3) narrows the ciphers. Exit code 1 if any
// case failed (its row says why; the run goes on).
import { spawnSync } from 'node:child_process';
import {
  accessSync,
  existsSync,
  constants as fsConstants,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkPrerequisites, describeMissing, Lab } from '../src/lab/index.js';
import { iperf3Run, pingSeries } from './lab-extra.js';
import { type Case, type Commands, type Context, errorText, type Row, runCase } from './tunnel/case.js';
import { heCostCases } from './tunnel/hecost.js';
import { PING_COUNT, PING_INTERVAL_S } from './tunnel/measure.js';
import { mixedCases } from './tunnel/mixed.js';
import { p2pCases } from './tunnel/p2p.js';
import { relayCases } from './tunnel/relay.js';
import { failed, fmt, progressLine, table } from './tunnel/report.js';
import { rttCases } from './tunnel/rtt.js';
import { A_IP, B_IP, COMMUNITY, SN_IP, TAP_MTU, UNDERLAY_MTU } from './tunnel/setup.js';
import { smallCases } from './tunnel/small.js';

/** Default length of each iperf3 run, s. */
const DEFAULT_SECONDS = 6;
/** Cipher order of the per-cipher groups (the issue's table). */
const ALL_CIPHERS = [4, 3, 5, 2, 1];
/** Cipher of the fixed-cipher groups when BENCH_CIPHERS includes it. */
const MAIN_CIPHER = 4;
const GROUPS = ['p2p', 'he', 'relay', 'rtt', 'small', 'mixed', 'hecost'] as const;
type Group = (typeof GROUPS)[number];
/** The groups a run without BENCH_CASES takes. */
const DEFAULT_GROUPS: readonly Group[] = ['p2p', 'he', 'relay', 'rtt', 'small', 'mixed'];
/** Default pairs of the hecost group. */
const DEFAULT_ROUNDS = 3;
/** Environment variables that shape a run, echoed in the command line of the header. */
const ENV_KNOBS = ['BENCH_SECONDS', 'BENCH_CASES', 'BENCH_CIPHERS', 'BENCH_ROUNDS', 'N2N_REFERENCE_BIN'];

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root (package.json)');
    dir = up;
  }
  return dir;
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

function loadText(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

function listEnv(name: string, allowed: readonly string[], fallback: readonly string[]): string[] {
  const raw = process.env[name];
  if (!raw) return [...fallback];
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  const bad = items.filter((s) => !allowed.includes(s));
  if (bad.length > 0 || items.length === 0)
    throw new Error(`${name}: unknown ${bad.join(', ') || '(empty)'}; choose from ${allowed.join(',')}`);
  return items;
}

/** The C 3.1.1 commands from N2N_REFERENCE_BIN and their version banner, or undefined when unset. */
function referenceCommands(): { commands: Commands; version: string } | undefined {
  const dir = process.env.N2N_REFERENCE_BIN;
  if (!dir) return undefined;
  const edge = join(dir, 'edge');
  const supernode = join(dir, 'supernode');
  for (const p of [edge, supernode]) {
    try {
      accessSync(p, fsConstants.X_OK);
    } catch {
      throw new Error(`N2N_REFERENCE_BIN: ${p} is missing or not executable`);
    }
  }
  const help = spawnSync(edge, ['-h'], { encoding: 'utf8' });
  const banner = `${help.stdout ?? ''}${help.stderr ?? ''}`;
  const version = banner.match(/n2n v\.?\s*([\d.]+)/)?.[1] ?? 'unknown version';
  return { commands: { edge: [edge], supernode: [supernode] }, version };
}

function commandLine(): string {
  const env = ENV_KNOBS.filter((k) => process.env[k]).map((k) => `${k}=${process.env[k]}`);
  return [...env, 'npm run bench:tunnel'].join(' ');
}

function casesOf(ctx: Context, group: Group): Case[] {
  switch (group) {
    case 'p2p':
      return p2pCases(ctx, false);
    case 'he':
      return p2pCases(ctx, true);
    case 'relay':
      return relayCases(ctx);
    case 'rtt':
      return rttCases(ctx);
    case 'small':
      return smallCases(ctx);
    case 'mixed':
      return mixedCases(ctx);
    case 'hecost':
      return heCostCases(ctx);
  }
}

async function main(): Promise<void> {
  const seconds = Number(process.env.BENCH_SECONDS ?? DEFAULT_SECONDS);
  if (!(seconds > 0))
    throw new Error(`BENCH_SECONDS: expected a positive number, got ${process.env.BENCH_SECONDS}`);
  const rounds = Number(process.env.BENCH_ROUNDS ?? DEFAULT_ROUNDS);
  if (!Number.isInteger(rounds) || rounds < 1)
    throw new Error(`BENCH_ROUNDS: expected a positive whole number, got ${process.env.BENCH_ROUNDS}`);
  const groups = listEnv('BENCH_CASES', GROUPS, DEFAULT_GROUPS) as Group[];
  const ciphers = listEnv('BENCH_CIPHERS', ALL_CIPHERS.map(String), ALL_CIPHERS.map(String)).map(Number);
  const missing = describeMissing(checkPrerequisites(['iperf3', 'ss']));
  if (missing) throw new Error(`bench:tunnel ${missing}`);
  const mainJs = join(repoRoot(), 'dist/cli/main.js');
  if (!existsSync(mainJs)) throw new Error(`${mainJs} is missing: run npm run build`);
  const ref = referenceCommands();

  const header = [
    `command: \`${commandLine()}\``,
    `Node ${process.version}; ${cpuModel()} (${cpus().length} CPUs); load average at start ${loadText()}`,
    ref
      ? `C reference: n2n ${ref.version} from ${process.env.N2N_REFERENCE_BIN}`
      : 'C reference: none (set N2N_REFERENCE_BIN=/dir with C n2n 3.1.1 edge and supernode)',
    `layout: supernode + 2 edges in namespaces on one bridge, veth MTU ${UNDERLAY_MTU}, TAP MTU ${TAP_MTU}; ` +
      `iperf3 ${seconds} s per run; groups ${groups.join(',')}; ciphers ${ciphers.join(',')}`,
  ];
  console.log(`bench:tunnel\n${header.join('\n')}`);
  if (ref && ref.version !== '3.1.1')
    console.log(`warning: the reference says it is n2n ${ref.version}, not 3.1.1`);

  const communityFile = join(tmpdir(), `tsn2n-bench-tunnel-${process.pid}.list`);
  writeFileSync(communityFile, `${COMMUNITY}\n`);
  const lab = await Lab.create({ log: (l) => console.log(`[lab] ${l}`) });
  const rows: Row[] = [];
  let raw = '';
  try {
    const sn = await lab.publicHost('sn', `${SN_IP}/24`, { mtu: UNDERLAY_MTU });
    const a = await lab.publicHost('a', `${A_IP}/24`, { mtu: UNDERLAY_MTU });
    const b = await lab.publicHost('b', `${B_IP}/24`, { mtu: UNDERLAY_MTU });
    const ctx: Context = {
      lab,
      sn,
      a,
      b,
      commands: {
        tsn2n: {
          edge: [process.execPath, mainJs, 'edge'],
          supernode: [process.execPath, mainJs, 'supernode'],
        },
        c: ref?.commands,
      },
      seconds,
      rounds,
      ciphers,
      mainCipher: ciphers.includes(MAIN_CIPHER) ? MAIN_CIPHER : ciphers[0],
      communityFile,
      log: (l) => console.log(`  · ${l}`),
    };

    const rawTcp = await iperf3Run(lab, { clientNs: a.ns, serverNs: b.ns, serverIp: B_IP, seconds });
    const rawPing = await pingSeries(lab, a.ns, B_IP, PING_COUNT, PING_INTERVAL_S).catch((err: unknown) => {
      console.log(`raw ping failed: ${errorText(err)}`);
      return undefined;
    });
    raw =
      `Raw veth a → b in the same run (no tunnel): iperf3 TCP ` +
      `${rawTcp.ok ? `${fmt(rawTcp.mbitPerS, 'Mbit/s')} Mbit/s` : `failed (${rawTcp.error})`}; ping ` +
      (rawPing
        ? `avg ${fmt(rawPing.avgMs, 'ms')} ms (p50 ${fmt(rawPing.p50Ms, 'ms')}, p99 ${fmt(rawPing.p99Ms, 'ms')})`
        : 'failed');
    console.log(raw);

    const cases = groups.flatMap((g) => casesOf(ctx, g));
    for (let i = 0; i < cases.length; i++) {
      console.log(`case ${i + 1}/${cases.length} (${cases[i].group})`);
      for (const row of await runCase(cases[i], i, ctx.commands.c !== undefined)) {
        rows.push(row);
        console.log(progressLine(row));
      }
    }
  } finally {
    await lab.destroy();
    rmSync(communityFile, { force: true });
  }

  console.log(`\n### bench:tunnel\n\n${header.join('  \n')}  \nload average at end ${loadText()}\n`);
  console.log(`${raw}\n`);
  for (const line of table(rows)) console.log(line);
  console.log(
    '\nThe tsn2n column is the configuration with tsn2n in it (mixed rows: the tsn2n edge or supernode with C ' +
      'around it), the C column all C. Ratio: tsn2n / C (RTT: C / tsn2n). CPU: percent of one core over the ' +
      'measurement from /proc (a, b = edges; sn = supernode, with its CPU time per packet it relayed by its own ' +
      '`forward` counter). UDP rows send at unlimited rate (-b 0): the loss is what the sender offered beyond what ' +
      'the tunnel carried.',
  );
  if (rows.some(failed)) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(`bench:tunnel: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
