// Child processes of the lab: one-shot commands (checked, with a timeout) and long-running processes in a namespace.
import { type ChildProcess, execFile, spawn } from 'node:child_process';

/** Default timeout of a one-shot command. */
export const DEFAULT_EXEC_TIMEOUT_MS = 30_000;
/** Cap on the stdout/stderr a one-shot command may print before it is killed. */
const MAX_EXEC_OUTPUT_BYTES = 64 * 1024 * 1024;
/** Grace period between SIGTERM and SIGKILL when stopping a process. */
const STOP_GRACE_MS = 2_000;
/** Cap on the output kept per process, so a chatty process cannot eat memory. */
const MAX_KEPT_OUTPUT_CHARS = 1_000_000;
/** Output lines `tail()` returns by default. */
const DEFAULT_TAIL_LINES = 30;

export class LabError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LabError';
  }
}

export interface ExecResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Kill the command after this long (default 30 s). */
  timeoutMs?: number;
  /** Throw LabError on a non-zero exit (default true). */
  check?: boolean;
}

export interface SpawnOptions {
  env?: Record<string, string>;
  /** Called with every complete output line (stdout and stderr), e.g. to echo it. */
  onLine?: (line: string) => void;
  /**
   * A process the scenario depends on (edge, supernode): if it exits without `stop()`/`kill()`, waits such as
   * `waitForPing` fail at once with its output instead of running into their timeout.
   */
  critical?: boolean;
}

/** Runs commands inside namespaces (the Lab); what the NAT setup and the probes need of it. */
export interface NamespaceRunner {
  /** Runs a command inside a namespace (given by its real name) and waits for it. */
  run(ns: string, argv: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Runs a small Node.js script (CommonJS source) inside a namespace. */
  runNode(ns: string, script: string, args?: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
}

function execAsync(argv: readonly string[], timeoutMs: number): Promise<ExecResult> {
  return new Promise((resolve) => {
    execFile(
      argv[0],
      argv.slice(1),
      { timeout: timeoutMs, maxBuffer: MAX_EXEC_OUTPUT_BYTES, encoding: 'utf8', killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const e = err as (Error & { code?: number | string; signal?: string }) | null;
        resolve({
          code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
          signal: e?.signal ?? null,
          stdout,
          stderr: e && typeof e.code !== 'number' && !e.signal ? `${stderr}${e.message}` : stderr,
        });
      },
    );
  });
}

/** Runs a command in the current namespace and waits for it; throws LabError on failure unless `check` is false. */
export async function runCommand(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const r = await execAsync(argv, opts.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS);
  if ((opts.check ?? true) && r.code !== 0)
    throw new LabError(`${argv.join(' ')} failed (${r.code ?? r.signal}): ${r.stderr.trim()}`);
  return r;
}

/** SIGKILL to a pid, ignoring a process that is already gone. */
export function killNow(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** A process started inside a namespace; its output is kept for assertions and for reports on failure. */
export class LabProcess {
  readonly name: string;
  readonly ns: string;
  readonly argv: readonly string[];
  readonly pid: number;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  exitCode: number | null = null;
  exitSignal: string | null = null;
  /** Set by stop()/kill(): an exit after this is expected. */
  stopRequested = false;
  critical = false;
  private out = '';
  private readonly child: ChildProcess;
  private readonly waiters = new Set<() => void>();

  constructor(
    name: string,
    ns: string,
    argv: readonly string[],
    child: ChildProcess,
    onLine?: (l: string) => void,
  ) {
    this.name = name;
    this.ns = ns;
    this.argv = argv;
    this.child = child;
    if (child.pid === undefined) throw new LabError(`${name}: could not start ${argv[0]}`);
    this.pid = child.pid;
    let partial = '';
    const onData = (chunk: Buffer): void => {
      const text = chunk.toString('utf8');
      this.out += text;
      if (this.out.length > MAX_KEPT_OUTPUT_CHARS) this.out = this.out.slice(-MAX_KEPT_OUTPUT_CHARS / 2);
      if (onLine) {
        partial += text;
        const lines = partial.split('\n');
        partial = lines.pop() ?? '';
        for (const l of lines) onLine(l);
      }
      for (const w of this.waiters) w();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.exitCode = code;
        this.exitSignal = signal;
        for (const w of this.waiters) w();
        resolve({ code, signal });
      });
      child.on('error', (err) => {
        this.out += `\n[lab] spawn error: ${err.message}\n`;
      });
    });
  }

  /** Everything the process printed so far (stdout and stderr interleaved). */
  output(): string {
    return this.out;
  }

  alive(): boolean {
    return this.exitCode === null && this.exitSignal === null;
  }

  /** Waits until the output matches `re`; rejects on timeout or if the process exits first. */
  waitForOutput(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const m = this.out.match(re);
        if (m) {
          done();
          resolve(m);
        } else if (!this.alive()) {
          done();
          reject(new LabError(`${this.name} exited before printing ${re}; output:\n${this.tail()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new LabError(`${this.name}: no ${re} within ${timeoutMs} ms; output:\n${this.tail()}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** The last lines of output, for error messages. */
  tail(lines = DEFAULT_TAIL_LINES): string {
    return this.out.split('\n').slice(-lines).join('\n');
  }

  /** SIGTERM, then SIGKILL after the grace period. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = STOP_GRACE_MS): Promise<void> {
    this.stopRequested = true;
    if (!this.alive()) return;
    this.child.kill(signal);
    const timer = setTimeout(() => {
      if (this.alive()) this.child.kill('SIGKILL');
    }, graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** Sends a signal without waiting or marking the process as stopped (e.g. SIGUSR1 to ask for a report). */
  signal(sig: NodeJS.Signals): void {
    if (this.alive()) this.child.kill(sig);
  }

  /** Immediate SIGKILL (for "the supernode crashed" scenarios). */
  async kill(): Promise<void> {
    this.stopRequested = true;
    if (!this.alive()) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

/** Starts `argv` inside namespace `ns` (with this process's environment plus `opts.env`). */
export function spawnInNamespace(
  name: string,
  ns: string,
  argv: readonly string[],
  opts: SpawnOptions = {},
): LabProcess {
  const child = spawn('ip', ['netns', 'exec', ns, ...argv], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...opts.env },
  });
  const p = new LabProcess(name, ns, argv, child, opts.onLine);
  p.critical = opts.critical ?? false;
  return p;
}
