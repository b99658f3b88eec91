// The supernode under test: spawned (tsn2n from dist/, or C n2n's binary) or given by pid, sampled from /proc.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { procStats } from '../../src/lab/index.js';

const KIB = 1024;
const START_WAIT_MS = 10_000;
const POLL_MS = 50;

export type SupernodeKind = 'tsn2n' | 'c';

export interface SpawnOptions {
  kind: SupernodeKind;
  port: number;
  mgmtPort: number;
  /** Listed in a community file (-c): needed for -H. */
  community?: string;
  /** tsn2n: --max-edges and --max-edges-per-community. */
  maxEdges?: number;
  /** Extra node options for tsn2n (e.g. --max-old-space-size=…). */
  nodeArgs?: string[];
  /** Path of the tsn2n CLI (dist/cli/main.js) and of C's supernode binary. */
  tsn2nMain: string;
  cBinary: string;
  logFile?: string;
}

export interface ProcSample {
  rssBytes: number;
  hwmBytes: number;
  /** CPU seconds (user + system) since the process started. */
  cpuSeconds: number;
}

/** RSS, peak RSS and CPU time of a process from /proc (the lab's procStats, in bytes); undefined when it is gone. */
export function sampleProc(pid: number): ProcSample | undefined {
  const s = procStats(pid);
  return s && { rssBytes: s.rssKiB * KIB, hwmBytes: s.hwmKiB * KIB, cpuSeconds: s.cpuS };
}

/** The 1-, 5- and 15-minute load averages. */
export function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

/**
 * UDP receive-buffer overflows of this network namespace (/proc/net/snmp RcvbufErrors): datagrams the kernel
 * dropped because a socket (the supernode's or a generator socket) did not read fast enough. Namespace-wide: other
 * processes on loopback count too.
 */
export function udpRcvbufErrors(): number {
  const lines = readFileSync('/proc/net/snmp', 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('Udp:'));
  if (lines.length < 2) return 0;
  const names = lines[0].split(/\s+/);
  const values = lines[1].split(/\s+/);
  return Number(values[names.indexOf('RcvbufErrors')] ?? 0);
}

/** Sum of tsn2n_supernode_edges from the tsn2n supernode's /metrics (HTTP on the -t port number). */
export function tsn2nEdgeCount(mgmtPort: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port: mgmtPort, path: '/metrics', timeout: 2000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
      });
      res.on('end', () => {
        let sum = 0;
        let found = false;
        for (const line of text.split('\n')) {
          if (line.startsWith('tsn2n_supernode_edges{')) {
            sum += Number(line.slice(line.lastIndexOf(' ') + 1));
            found = true;
          }
        }
        resolve(found ? sum : 0);
      });
    });
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => {
      req.destroy();
      resolve(undefined);
    });
    req.end();
  });
}

/** Per-address admission burst and rate high enough never to hold back the generator. */
const UNLIMITED_NEW_EDGES = 1_000_000_000;

export interface RunningSupernode {
  pid: number;
  stop(): Promise<void>;
}

/** Starts a supernode and waits until its UDP port is bound (seen in /proc/net/udp or udp6). */
export async function spawnSupernode(o: SpawnOptions): Promise<RunningSupernode> {
  const tmp = mkdtempSync(join(tmpdir(), 'tsn2n-fleet-'));
  const args: string[] = ['-p', String(o.port), '-t', String(o.mgmtPort)];
  if (o.community !== undefined) {
    const list = join(tmp, 'community.list');
    writeFileSync(list, `${o.community}\n`);
    args.push('-c', list);
  }
  const out = o.logFile !== undefined ? openSync(o.logFile, 'a') : 'ignore';
  let child: ChildProcess;
  if (o.kind === 'tsn2n') {
    if (o.maxEdges !== undefined) {
      args.push('--max-edges', String(o.maxEdges), '--max-edges-per-community', String(o.maxEdges));
    }
    // Every simulated edge comes from one IP address: lift the per-address admission (C has none).
    args.push('--new-edges-per-address', `${UNLIMITED_NEW_EDGES}/${UNLIMITED_NEW_EDGES}`);
    child = spawn(process.execPath, [...(o.nodeArgs ?? []), o.tsn2nMain, 'supernode', ...args], {
      stdio: ['ignore', out, out],
    });
  } else {
    child = spawn(o.cBinary, [...args, '-f'], { stdio: ['ignore', out, out] });
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start the ${o.kind} supernode`);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const hexPort = `:${o.port.toString(16).toUpperCase().padStart(4, '0')} `;
  const deadline = Date.now() + START_WAIT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the ${o.kind} supernode exited (${child.exitCode})`);
    // A dual-stack supernode socket is listed in udp6 only.
    if (['/proc/net/udp', '/proc/net/udp6'].some((f) => readFileSync(f, 'utf8').includes(hexPort))) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the ${o.kind} supernode did not bind UDP ${o.port}`);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  return {
    pid,
    stop: async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), START_WAIT_MS);
        await exited;
        clearTimeout(t);
      }
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}
