// Traffic probes: ping, a checksummed TCP transfer, iperf3, management reads and /proc stats, run inside namespaces.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Lab } from './lab.js';
import { LabError } from './processes.js';

/** Probes `ping()` sends by default. */
const DEFAULT_PING_COUNT = 3;
/** Default seconds between pings. */
const DEFAULT_PING_INTERVAL_S = 0.2;
/** Default seconds to wait for each reply. */
const DEFAULT_PING_WAIT_S = 1;
/** Time a ping run may take beyond count × interval + wait before it is killed. */
const PING_SLACK_S = 5;
/** Pause between attempts of `waitForPing`. */
const DEFAULT_PING_RETRY_MS = 500;
/** Default poll step of `waitFor`. */
const DEFAULT_POLL_STEP_MS = 250;
/** Default TCP port of `tcpTransfer`'s receiver. */
const DEFAULT_TRANSFER_PORT = 5201;
/** Default time a `tcpTransfer` sender may take. */
const DEFAULT_TRANSFER_TIMEOUT_MS = 60_000;
/** Time a probe's server (TCP sink, iperf3) may take to listen, and the sink to report after the sender ends. */
const SERVER_READY_TIMEOUT_MS = 10_000;
/** Default TCP port of the iperf3 server. */
const DEFAULT_IPERF_PORT = 5202;
/** Poll step while waiting for the iperf3 server's listening socket. */
const IPERF_LISTEN_POLL_MS = 100;
/** Time an iperf3 client may take beyond its test duration. */
const IPERF_SLACK_S = 30;
/** Characters of iperf3 output kept in an error. */
const IPERF_ERROR_CHARS = 500;
/** Default silence that ends a text management reply. */
const DEFAULT_MGMT_QUIET_MS = 300;
/** Time to wait for the first management reply datagram. */
const MGMT_FIRST_REPLY_MS = 2_000;
/** Management request tags are drawn from 0 … this − 1. */
const MGMT_TAG_RANGE = 1000;
/** USER_HZ on every mainstream Linux build, if `getconf CLK_TCK` fails. */
const DEFAULT_CLOCK_TICKS_PER_S = 100;
const MS_PER_S = 1000;
const BITS_PER_BYTE = 8;
const BITS_PER_MBIT = 1e6;

export interface PingResult {
  transmitted: number;
  received: number;
  /** Average RTT in ms (NaN if nothing came back). */
  avgMs: number;
  minMs: number;
  maxMs: number;
  output: string;
}

/** Parses the summary of iputils `ping`. */
export function parsePing(output: string): PingResult {
  const counts = output.match(/(\d+) packets transmitted, (\d+) (?:packets )?received/);
  const rtt = output.match(/= ([\d.]+)\/([\d.]+)\/([\d.]+)/);
  return {
    transmitted: counts ? Number(counts[1]) : 0,
    received: counts ? Number(counts[2]) : 0,
    minMs: rtt ? Number(rtt[1]) : Number.NaN,
    avgMs: rtt ? Number(rtt[2]) : Number.NaN,
    maxMs: rtt ? Number(rtt[3]) : Number.NaN,
    output,
  };
}

/** What iputils `ping` prints on SIGQUIT without stopping: "received/transmitted packets, …". */
export const PING_PROGRESS_RE = /(\d+)\/(\d+) packets,/;

/** Of the first `sent` echo requests in `output` (iputils `ping`), how many were answered, and their RTTs. */
export function pingAnswered(output: string, sent: number): PingResult {
  const rtts = new Map<number, number>();
  for (const m of output.matchAll(/icmp_seq=(\d+) .*time=([\d.]+) ms/g)) {
    const seq = Number(m[1]);
    if (seq >= 1 && seq <= sent) rtts.set(seq, Number(m[2]));
  }
  const times = [...rtts.values()];
  const sum = times.reduce((a, b) => a + b, 0);
  return {
    transmitted: sent,
    received: rtts.size,
    minMs: times.length ? Math.min(...times) : Number.NaN,
    avgMs: times.length ? sum / times.length : Number.NaN,
    maxMs: times.length ? Math.max(...times) : Number.NaN,
    output,
  };
}

export interface PingOptions {
  count?: number;
  /** Seconds between probes (values below 0.2 need root, which the lab has). */
  intervalS?: number;
  /** Seconds to wait for each reply. */
  waitS?: number;
  /** ICMP payload bytes. */
  size?: number;
}

export async function ping(
  lab: Lab,
  ns: string,
  target: string,
  opts: PingOptions = {},
): Promise<PingResult> {
  const count = opts.count ?? DEFAULT_PING_COUNT;
  const interval = opts.intervalS ?? DEFAULT_PING_INTERVAL_S;
  const wait = opts.waitS ?? DEFAULT_PING_WAIT_S;
  const args = ['ping', '-n', '-c', String(count), '-i', String(interval), '-W', String(wait)];
  if (opts.size !== undefined) args.push('-s', String(opts.size));
  args.push(target);
  const budgetMs = (count * interval + wait + PING_SLACK_S) * MS_PER_S;
  const r = await lab.run(ns, args, { check: false, timeoutMs: budgetMs });
  return parsePing(r.stdout + r.stderr);
}

/**
 * Pings once per `intervalMs` until a reply comes back; returns the seconds it took, or undefined on timeout.
 * Throws at once if a critical lab process has crashed.
 */
export async function waitForPing(
  lab: Lab,
  ns: string,
  target: string,
  timeoutS: number,
  intervalMs = DEFAULT_PING_RETRY_MS,
): Promise<number | undefined> {
  const t0 = performance.now();
  while ((performance.now() - t0) / MS_PER_S < timeoutS) {
    lab.assertNoCrash();
    const r = await ping(lab, ns, target, { count: 1, waitS: 1 });
    if (r.received > 0) return (performance.now() - t0) / MS_PER_S;
    await sleep(intervalMs);
  }
  return undefined;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `fn` until it returns a truthy value or the timeout passes. */
export async function waitFor<T>(
  fn: () => Promise<T | undefined | false>,
  timeoutMs: number,
  stepMs = DEFAULT_POLL_STEP_MS,
): Promise<T | undefined> {
  const t0 = performance.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (performance.now() - t0 > timeoutMs) return undefined;
    await sleep(stepMs);
  }
}

// Receiver: accepts one connection, hashes everything, prints one JSON line. Timing runs from the first byte.
// On SIGUSR1 (the sender timed out) it prints how many bytes have arrived so far, marked partial, and keeps running.
const TCP_SINK_SCRIPT = `
const net=require('net'),crypto=require('crypto');
const [host,port]=[process.argv[1],Number(process.argv[2])];let n=0,t0=0;
process.on('SIGUSR1',()=>process.stdout.write(JSON.stringify({bytes:n,partial:true,ms:t0?performance.now()-t0:0})+'\\n'));
const srv=net.createServer((s)=>{const h=crypto.createHash('sha256');
s.on('data',(d)=>{if(!t0)t0=performance.now();n+=d.length;h.update(d)});
s.on('end',()=>{const ms=performance.now()-t0;process.stdout.write(JSON.stringify({bytes:n,sha256:h.digest('hex'),ms})+'\\n');s.end();srv.close()});
s.on('error',(e)=>{process.stdout.write(JSON.stringify({error:e.message})+'\\n');process.exit(1)})});
srv.listen(port,host,()=>process.stdout.write('listening\\n'));`;

// Sender: streams random bytes with back-pressure, prints the hash of what it sent.
const TCP_SOURCE_SCRIPT = `
const net=require('net'),crypto=require('crypto');
const [host,port,total]=[process.argv[1],Number(process.argv[2]),Number(process.argv[3])];
const h=crypto.createHash('sha256');const CHUNK=65536;let left=total;const t0=performance.now();
const s=net.connect(port,host,()=>{const pump=()=>{while(left>0){const b=crypto.randomBytes(Math.min(CHUNK,left));left-=b.length;h.update(b);if(!s.write(b)){s.once('drain',pump);return}}s.end()};pump()});
s.on('close',()=>process.stdout.write(JSON.stringify({bytes:total,sha256:h.digest('hex'),ms:performance.now()-t0})+'\\n'));
s.on('error',(e)=>{process.stdout.write(JSON.stringify({error:e.message})+'\\n');process.exit(1)});`;

export interface TransferResult {
  ok: boolean;
  bytes: number;
  receivedBytes: number;
  sentSha256: string;
  receivedSha256: string;
  seconds: number;
  mbitPerS: number;
  /** The sender did not finish within `timeoutMs` (receivedBytes is then what had arrived by then). */
  timedOut: boolean;
  error?: string;
}

/** Sends `bytes` random bytes over TCP from `fromNs` to `toIp` (inside `toNs`) and compares SHA-256 on both ends. */
export async function tcpTransfer(
  lab: Lab,
  fromNs: string,
  toNs: string,
  toIp: string,
  bytes: number,
  opts: { port?: number; timeoutMs?: number } = {},
): Promise<TransferResult> {
  const port = String(opts.port ?? DEFAULT_TRANSFER_PORT);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TRANSFER_TIMEOUT_MS;
  const sink = lab.spawn('tcp-sink', toNs, [process.execPath, '-e', TCP_SINK_SCRIPT, toIp, port]);
  try {
    await sink.waitForOutput(/listening/, SERVER_READY_TIMEOUT_MS);
    const src = await lab.runNode(fromNs, TCP_SOURCE_SCRIPT, [toIp, port, String(bytes)], {
      check: false,
      timeoutMs,
    });
    const timedOut = src.signal === 'SIGKILL';
    // A sender killed at the timeout leaves the connection open: ask the sink at once what has arrived.
    if (timedOut) sink.signal('SIGUSR1');
    const sinkLine = await sink
      .waitForOutput(/\{.*\}\n/, SERVER_READY_TIMEOUT_MS)
      .then((m) => m[0])
      .catch(() => '{}');
    const sent = JSON.parse(src.stdout.trim().split('\n').pop() || '{}') as {
      sha256?: string;
      error?: string;
    };
    const recv = JSON.parse(sinkLine) as { bytes?: number; sha256?: string; ms?: number; error?: string };
    const seconds = (recv.ms ?? Number.NaN) / MS_PER_S;
    const receivedBytes = recv.bytes ?? 0;
    const error =
      sent.error ?? recv.error ?? (src.code !== 0 ? `sender exit ${src.code}: ${src.stderr}` : undefined);
    return {
      ok: !error && receivedBytes === bytes && sent.sha256 === recv.sha256,
      bytes,
      receivedBytes,
      sentSha256: sent.sha256 ?? '',
      receivedSha256: recv.sha256 ?? '',
      seconds,
      mbitPerS: (receivedBytes * BITS_PER_BYTE) / BITS_PER_MBIT / seconds,
      timedOut,
      error,
    };
  } finally {
    await sink.stop();
  }
}

export interface IperfResult {
  ok: boolean;
  mbitPerS: number;
  retransmits: number;
  seconds: number;
  error?: string;
}

/** iperf3 TCP from `fromNs` to a one-shot server at `toIp` in `toNs`. */
export async function iperf3(
  lab: Lab,
  fromNs: string,
  toNs: string,
  toIp: string,
  seconds: number,
  opts: { port?: number } = {},
): Promise<IperfResult> {
  const port = String(opts.port ?? DEFAULT_IPERF_PORT);
  const server = lab.spawn('iperf3-server', toNs, ['iperf3', '-s', '-1', '-B', toIp, '-p', port]);
  try {
    // iperf3 block-buffers its banner when stdout is a pipe, so look for the listening socket instead.
    const listening = await waitFor(
      async () => {
        if (!server.alive()) return undefined;
        const r = await lab.run(toNs, ['ss', '-Hltn', `sport = :${port}`], { check: false });
        return r.stdout.includes(`:${port}`) ? true : undefined;
      },
      SERVER_READY_TIMEOUT_MS,
      IPERF_LISTEN_POLL_MS,
    );
    if (!listening)
      return {
        ok: false,
        mbitPerS: 0,
        retransmits: 0,
        seconds: 0,
        error: `iperf3 server did not start: ${server.tail()}`,
      };
    const r = await lab.run(fromNs, ['iperf3', '-c', toIp, '-p', port, '-t', String(seconds), '-J'], {
      check: false,
      timeoutMs: (seconds + IPERF_SLACK_S) * MS_PER_S,
    });
    try {
      const j = JSON.parse(r.stdout) as {
        error?: string;
        end?: {
          sum_received?: { bits_per_second: number; seconds: number };
          sum_sent?: { retransmits?: number };
        };
      };
      if (j.error || !j.end?.sum_received)
        return { ok: false, mbitPerS: 0, retransmits: 0, seconds: 0, error: j.error };
      return {
        ok: true,
        mbitPerS: j.end.sum_received.bits_per_second / BITS_PER_MBIT,
        retransmits: j.end.sum_sent?.retransmits ?? 0,
        seconds: j.end.sum_received.seconds,
      };
    } catch {
      return {
        ok: false,
        mbitPerS: 0,
        retransmits: 0,
        seconds: 0,
        error: `${r.stdout}${r.stderr}`.slice(0, IPERF_ERROR_CHARS),
      };
    }
  } finally {
    await server.stop();
  }
}

/**
 * Receive buffer of the management query socket: n2n sends all rows of a reply in one burst (one datagram per
 * row), and with hundreds of edges the default 208 KiB buffer overflows (each datagram costs ~1 KiB of skb).
 */
const MGMT_RCVBUF_BYTES = 4 * 1024 * 1024;

// Sends one request to a management port on 127.0.0.1 and prints the reply datagrams as one JSON array of strings.
// For JSON requests it stops at the "end" or "error" row; for text requests when the port goes quiet.
const MGMT_QUERY_SCRIPT = `
const dgram=require('dgram');const [port,req,quietMs]=[Number(process.argv[1]),process.argv[2],Number(process.argv[3])];
const s=dgram.createSocket({type:'udp4',recvBufferSize:${MGMT_RCVBUF_BYTES}});const out=[];let t;
let done=false;const finish=()=>{if(done)return;done=true;clearTimeout(t);process.stdout.write(JSON.stringify(out)+'\\n');s.close()};
const arm=(ms)=>{clearTimeout(t);t=setTimeout(finish,ms)};
s.on('message',(m)=>{const txt=m.toString('utf8');out.push(txt);if(/"_type":"(end|error)"/.test(txt))return finish();arm(quietMs)});
s.bind(0,'127.0.0.1',()=>{s.send(req,port,'127.0.0.1');arm(${MGMT_FIRST_REPLY_MS})});`;

/** Raw reply datagrams of a management request made inside `ns`. */
export async function mgmtRaw(
  lab: Lab,
  ns: string,
  port: number,
  request: string,
  quietMs = DEFAULT_MGMT_QUIET_MS,
): Promise<string[]> {
  const r = await lab.runNode(ns, MGMT_QUERY_SCRIPT, [String(port), request, String(quietMs)], {
    check: false,
  });
  try {
    return JSON.parse(r.stdout.trim()) as string[];
  } catch {
    return [];
  }
}

/**
 * JSON objects in management replies: normally one per datagram, but 3.1.1 breaks some rows over several lines
 * inside the datagram, and a datagram might carry several objects one per line.
 */
export function parseJsonDatagrams(datagrams: readonly string[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const d of datagrams) {
    let pending = '';
    for (const line of d.split('\n')) {
      pending += line;
      if (!pending.trim()) continue;
      try {
        out.push(JSON.parse(pending) as Record<string, unknown>);
        pending = '';
      } catch {
        // incomplete: keep collecting lines
      }
    }
  }
  return out;
}

/** Rows of a JSON management read (`r <tag> <cmd>`); throws LabError on no answer or an error row. */
export async function mgmtRead(
  lab: Lab,
  ns: string,
  port: number,
  cmd: string,
): Promise<Record<string, unknown>[]> {
  const tag = String(Math.floor(Math.random() * MGMT_TAG_RANGE));
  const replies = await mgmtRaw(lab, ns, port, `r ${tag} ${cmd}`);
  const rows: Record<string, unknown>[] = [];
  let ended = false;
  for (const o of parseJsonDatagrams(replies)) {
    if (o._type === 'error')
      throw new LabError(`management ${cmd} on port ${port}: error ${String(o.error)}`);
    if (o._type === 'row') rows.push(o);
    if (o._type === 'end') ended = true;
  }
  if (!ended)
    throw new LabError(`management ${cmd} on port ${port}: no complete answer (${replies.length} datagrams)`);
  return rows;
}

export interface ProcStats {
  /** user + system CPU time in seconds. */
  cpuS: number;
  /** Resident set size in KiB. */
  rssKiB: number;
  /** Peak resident set size in KiB. */
  hwmKiB: number;
}

/** Kernel clock ticks per second (USER_HZ), the unit of utime/stime in /proc/<pid>/stat. */
let clockTicksPerS: number | undefined;

function ticksPerSecond(): number {
  if (clockTicksPerS === undefined) {
    try {
      clockTicksPerS =
        Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) ||
        DEFAULT_CLOCK_TICKS_PER_S;
    } catch {
      clockTicksPerS = DEFAULT_CLOCK_TICKS_PER_S;
    }
  }
  return clockTicksPerS;
}

/** CPU time and memory of a process, from /proc (root namespace view; pids are global). */
export function procStats(pid: number): ProcStats | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15 of the whole line.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(rest[11]) + Number(rest[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = status.match(/VmRSS:\s+(\d+)/);
    const hwm = status.match(/VmHWM:\s+(\d+)/);
    return {
      cpuS: ticks / ticksPerSecond(),
      rssKiB: rss ? Number(rss[1]) : 0,
      hwmKiB: hwm ? Number(hwm[1]) : 0,
    };
  } catch {
    return undefined;
  }
}
