// Event hooks (`--on-event CMD`): a command run per event, without a shell, one at a time, off the packet path.
//
// An event only appends to a bounded queue (full: dropped and counted); a runner takes them in order and spawns
// the command with the facts in TSN2N_* environment variables, kills it after the timeout, and logs a failure.
// One at a time keeps a script's view in order (peer_up before peer_down of the same peer); the queue bounds
// memory when events come faster than the script runs.
import { type ChildProcess, spawn } from 'node:child_process';
import type { RegisteredEvent, UnregisteredEvent } from '../edge/context.js';
import type { Edge } from '../edge/edge.js';
import type { PeerStateEvent } from '../edge/peer-watch.js';
import type { EdgeInfo, UnregisterReason as SnUnregisterReason, Supernode } from '../supernode/supernode.js';
import { ConfigError } from '../util/errors.js';
import { numberToIpv4 } from '../util/ip.js';
import { type Logger, LogLevel } from '../util/log.js';
import { macToString } from '../util/mac.js';

/** A hook that has not exited by then is killed (SIGKILL) and counted as timed out. */
export const HOOK_TIMEOUT_MS = 10_000;
/** Events waiting for the runner; more are dropped (and counted). */
export const HOOK_QUEUE_MAX = 256;
/** Bytes of a hook's stderr kept for the log line of a failure. */
const HOOK_STDERR_KEEP_BYTES = 512;
/** Prefix of every variable a hook gets. */
export const HOOK_ENV_PREFIX = 'TSN2N_';
const MS_PER_S = 1000;

/** The events (TSN2N_EVENT). */
export const HookEvent = {
  /** Edge: a supernode acknowledged us (first time, or again after `unregistered`). */
  REGISTERED: 'registered',
  /** Edge: no answer from the supernode for SUP_ATTEMPTS tries, or the edge stops. */
  UNREGISTERED: 'unregistered',
  /** Edge: registered with another supernode than before. */
  SUPERNODE_CHANGE: 'supernode_change',
  /** Edge: a peer appeared; supernode: an edge registered. */
  PEER_UP: 'peer_up',
  /** Edge: a peer was purged or the edge stops; supernode: an edge left, expired or moved. */
  PEER_DOWN: 'peer_down',
  /** Edge: a peer's path changed between p2p and relay. */
  PEER_PATH: 'peer_path',
  /** Edge: a peer's overlay address became known or changed. */
  PEER_UPDATE: 'peer_update',
  /** Supernode: a federation member appeared / expired. */
  SUPERNODE_UP: 'supernode_up',
  SUPERNODE_DOWN: 'supernode_down',
} as const;
export type HookEvent = (typeof HookEvent)[keyof typeof HookEvent];

/** Facts of one event; each key K becomes the variable TSN2N_K (undefined ones are left out). */
export type HookFacts = Record<string, string | undefined>;

/** What happened to the hooks so far (also `tsn2n_hook_runs_total`). */
export interface HookStats {
  ok: number;
  failed: number;
  timedOut: number;
  dropped: number;
}

/** Starts a process; node:child_process.spawn by default (tests inject fakes). */
export type HookSpawn = (
  file: string,
  args: readonly string[],
  options: { env: Record<string, string>; stdio: ['ignore', 'ignore', 'pipe'] },
) => ChildProcess;

export interface HookRunnerOptions {
  /** The command split into words (splitCommand). */
  argv: readonly string[];
  /** The environment the command starts from (the daemon's); TSN2N_* variables in it are replaced. */
  baseEnv?: Record<string, string | undefined>;
  /** Added to every event when it runs: TSN2N_DAEMON and the node's identity. */
  common?: () => HookFacts;
  timeoutMs?: number;
  queueMax?: number;
  logger?: Logger;
  spawn?: HookSpawn;
  /** Unix seconds (TSN2N_TIME); default the system clock. */
  now?: () => number;
}

/**
 * Splits `--on-event` into words like a shell would, without running one: blanks separate words, '…' keeps
 * everything literally, "…" too except that \" and \\ stand for " and \, and a backslash outside quotes keeps the
 * next character. Nothing else is special: no variables, globs, pipes or redirections. ConfigError on an
 * unterminated quote or an empty command.
 */
export function splitCommand(cmd: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < cmd.length; i++) {
    const c = cmd[i];
    if (c === "'") {
      const end = cmd.indexOf("'", i + 1);
      if (end < 0) throw new ConfigError(`--on-event: unterminated ' in ${JSON.stringify(cmd)}`);
      word += cmd.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < cmd.length && cmd[j] !== '"'; j++) {
        if (cmd[j] === '\\' && (cmd[j + 1] === '"' || cmd[j + 1] === '\\')) j++;
        word += cmd[j];
      }
      if (j >= cmd.length) throw new ConfigError(`--on-event: unterminated " in ${JSON.stringify(cmd)}`);
      inWord = true;
      i = j;
    } else if (c === '\\' && i + 1 < cmd.length) {
      word += cmd[++i];
      inWord = true;
    } else if (c === ' ' || c === '\t' || c === '\n') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  if (words.length === 0) throw new ConfigError('--on-event: the command is empty');
  return words;
}

interface Job {
  event: string;
  facts: HookFacts;
}

/** Runs the hook command for each posted event, in order, one at a time. */
export class HookRunner {
  readonly stats: HookStats = { ok: 0, failed: 0, timedOut: 0, dropped: 0 };
  private readonly queue: Job[] = [];
  private running = false;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  private readonly baseEnv: Record<string, string>;
  private readonly spawnFn: HookSpawn;

  constructor(private readonly options: HookRunnerOptions) {
    if (options.argv.length === 0) throw new ConfigError('--on-event: the command is empty');
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(options.baseEnv ?? {})) {
      if (v !== undefined && !k.startsWith(HOOK_ENV_PREFIX)) env[k] = v;
    }
    this.baseEnv = env;
    this.spawnFn = options.spawn ?? ((file, args, o) => spawn(file, args, { ...o, shell: false }));
  }

  /** Queues one event; never blocks, never throws. Returns false when it was dropped (queue full or closed). */
  post(event: HookEvent | string, facts: HookFacts = {}): boolean {
    if (this.closed || this.queue.length >= (this.options.queueMax ?? HOOK_QUEUE_MAX)) {
      this.stats.dropped++;
      return false;
    }
    this.queue.push({
      event,
      facts: { ...facts, TIME: String(Math.floor(this.options.now?.() ?? Date.now() / MS_PER_S)) },
    });
    if (!this.running) void this.drain();
    return true;
  }

  /** Resolves once the queue is empty and no hook runs. */
  idle(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Accepts no more events; resolves when the queued ones ran, or after `waitMs` (then the rest is dropped). */
  async close(waitMs: number): Promise<void> {
    this.closed = true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((r) => {
      timer = setTimeout(r, waitMs);
    });
    await Promise.race([this.idle(), timeout]);
    clearTimeout(timer);
    this.stats.dropped += this.queue.length;
    this.queue.length = 0;
  }

  private async drain(): Promise<void> {
    this.running = true;
    for (let job = this.queue.shift(); job !== undefined; job = this.queue.shift()) {
      await this.run(job);
    }
    this.running = false;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }

  private env(job: Job): Record<string, string> {
    const env = { ...this.baseEnv };
    env[`${HOOK_ENV_PREFIX}EVENT`] = job.event;
    for (const facts of [this.options.common?.() ?? {}, job.facts]) {
      for (const [k, v] of Object.entries(facts)) if (v !== undefined) env[`${HOOK_ENV_PREFIX}${k}`] = v;
    }
    return env;
  }

  private run(job: Job): Promise<void> {
    const [file, ...args] = this.options.argv;
    const log = (msg: string): void =>
      this.options.logger?.log(LogLevel.WARNING, `hook ${job.event}: ${msg}`);
    return new Promise((resolve) => {
      let child: ChildProcess;
      try {
        child = this.spawnFn(file, args, { env: this.env(job), stdio: ['ignore', 'ignore', 'pipe'] });
      } catch (err) {
        this.stats.failed++;
        log(`cannot start ${file}: ${(err as Error).message}`);
        resolve();
        return;
      }
      let stderr = '';
      let timedOut = false;
      let done = false;
      child.stderr?.on('data', (d: Buffer) => {
        if (stderr.length < HOOK_STDERR_KEEP_BYTES)
          stderr += d.toString('utf8').slice(0, HOOK_STDERR_KEEP_BYTES);
      });
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, this.options.timeoutMs ?? HOOK_TIMEOUT_MS);
      const finish = (outcome: () => void): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        outcome();
        resolve();
      };
      child.once('error', (err) =>
        finish(() => {
          this.stats.failed++;
          log(`cannot start ${file}: ${err.message}`);
        }),
      );
      child.once('close', (code, signal) =>
        finish(() => {
          if (timedOut) {
            this.stats.timedOut++;
            log(`killed after ${this.options.timeoutMs ?? HOOK_TIMEOUT_MS} ms`);
          } else if (code === 0) {
            this.stats.ok++;
          } else {
            this.stats.failed++;
            log(`${file} exited ${code ?? signal}${stderr ? `: ${stderr.trim().split('\n')[0]}` : ''}`);
          }
        }),
      );
    });
  }
}

// ---------------------------------------------------------------- what each daemon reports

/** Feeds an edge's events to `runner`; returns the function that detaches it. */
export function attachEdgeHooks(edge: Edge, runner: HookRunner): () => void {
  let up = false;
  let supernode: string | undefined;
  const onRegistered = (e: RegisteredEvent): void => {
    const facts = { SUPERNODE: e.supernode, PUBLIC_ADDR: e.publicAddr ?? '' };
    const changed = supernode !== undefined && supernode !== e.supernode;
    if (!up) {
      up = true;
      runner.post(HookEvent.REGISTERED, facts);
    }
    if (changed) runner.post(HookEvent.SUPERNODE_CHANGE, { ...facts, PREVIOUS_SUPERNODE: supernode });
    supernode = e.supernode;
  };
  const onUnregistered = (e: UnregisteredEvent): void => {
    if (!up) return;
    up = false;
    runner.post(HookEvent.UNREGISTERED, { SUPERNODE: e.supernode, REASON: e.reason });
  };
  const onPeerState = (ev: PeerStateEvent): void => {
    const event = {
      up: HookEvent.PEER_UP,
      down: HookEvent.PEER_DOWN,
      path: HookEvent.PEER_PATH,
      update: HookEvent.PEER_UPDATE,
    }[ev.change];
    runner.post(event, {
      PEER_MAC: ev.mac,
      PEER_IP: ev.ip,
      PEER_SOCKADDR: ev.sockaddr,
      PEER_DESC: ev.desc,
      PATH: ev.path,
      PREVIOUS_PATH: ev.previousPath,
      REASON: ev.reason,
    });
  };
  edge.on('registered', onRegistered);
  edge.on('unregistered', onUnregistered);
  edge.on('peerState', onPeerState);
  return () => {
    edge.off('registered', onRegistered);
    edge.off('unregistered', onUnregistered);
    edge.off('peerState', onPeerState);
  };
}

/** The facts every edge hook gets: which node this is. */
export function edgeHookCommon(edge: Edge): HookFacts {
  const a = edge.address;
  return {
    DAEMON: 'edge',
    COMMUNITY: edge.headerEncryption ? undefined : edge.config.community,
    DEVICE: edge.config.device,
    EDGE_MAC: edge.mac === 0 ? undefined : macToString(edge.mac),
    EDGE_IP: a.addr === 0 ? undefined : numberToIpv4(a.addr),
  };
}

function edgeFacts(e: EdgeInfo): HookFacts {
  return {
    COMMUNITY: e.community,
    PEER_MAC: e.mac.toLowerCase(),
    PEER_IP: e.ip4addr.split('/')[0],
    PEER_SOCKADDR: e.sockaddr,
    PEER_DESC: e.desc,
  };
}

/** Feeds a supernode's events to `runner`: edges up / down, federation members up / down. */
export function attachSupernodeHooks(sn: Supernode, runner: HookRunner): () => void {
  const onUp = (e: EdgeInfo): void => void runner.post(HookEvent.PEER_UP, edgeFacts(e));
  const onExpired = (e: EdgeInfo): void =>
    void runner.post(HookEvent.PEER_DOWN, { ...edgeFacts(e), REASON: 'expired' });
  const onGone = (e: EdgeInfo, reason: SnUnregisterReason): void =>
    void runner.post(HookEvent.PEER_DOWN, { ...edgeFacts(e), REASON: reason });
  const onSnUp = (p: { mac: string; sockaddr: string }): void =>
    void runner.post(HookEvent.SUPERNODE_UP, { SUPERNODE: p.sockaddr, SUPERNODE_MAC: p.mac.toLowerCase() });
  const onSnDown = (p: { mac: string; sockaddr: string }): void =>
    void runner.post(HookEvent.SUPERNODE_DOWN, { SUPERNODE: p.sockaddr, SUPERNODE_MAC: p.mac.toLowerCase() });
  sn.on('edgeRegistered', onUp);
  sn.on('edgeExpired', onExpired);
  sn.on('edgeUnregistered', onGone);
  sn.on('supernodeAdded', onSnUp);
  sn.on('supernodeExpired', onSnDown);
  return () => {
    sn.off('edgeRegistered', onUp);
    sn.off('edgeExpired', onExpired);
    sn.off('edgeUnregistered', onGone);
    sn.off('supernodeAdded', onSnUp);
    sn.off('supernodeExpired', onSnDown);
  };
}
