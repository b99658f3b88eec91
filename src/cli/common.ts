// Pieces shared by the edge and supernode command lines: stderr logger, option coercers, config-file merge, privileges.
import { type Command, CommanderError, InvalidArgumentError } from 'commander';
import { ConfigError } from '../util/errors.js';
import { type Logger, LogLevel } from '../util/log.js';

/** n2n's default trace level (TRACE_NORMAL); each -v adds one. */
export const DEFAULT_LOG_LEVEL = LogLevel.NORMAL;
export const MAX_PORT = 65535;

const LEVEL_NAMES = ['ERROR', 'WARNING', 'NORMAL', 'INFO', 'DEBUG'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Log lines on stderr, stamped like n2n's traceEvent (`26/Nov/2026 11:50:55`). */
export class StderrLogger implements Logger {
  constructor(public level: number) {}
  log(level: number, msg: string): void {
    if (level > this.level) return;
    const d = new Date();
    const p2 = (n: number): string => String(n).padStart(2, '0');
    const stamp = `${p2(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}`;
    const tag = level <= LogLevel.WARNING ? `${LEVEL_NAMES[level] ?? level}: ` : '';
    process.stderr.write(`${stamp} ${tag}${msg}\n`);
  }
}

/** Integer option in [min, max]; decimal, or hex like 0x48 (edge.c accepts it for -T). */
export function intArg(flag: string, min: number, max: number): (v: string) => number {
  return (v) => {
    const t = v.trim();
    const n = /^0x[0-9a-f]+$/i.test(t) ? Number.parseInt(t, 16) : /^\d+$/.test(t) ? Number(t) : Number.NaN;
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${flag} expects a number ${min}..${max}.`);
    }
    return n;
  };
}

/** Repeatable option: collects every value. */
export function collect(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
}

/** Counting flag (-v -v). */
export function count(_v: unknown, prev: number | undefined): number {
  return (prev ?? 0) + 1;
}

export type RawOpts = Record<string, unknown>;

/** How repeatable and counting options combine when a config file and the command line both give them. */
export interface MergeRules {
  lists: ReadonlySet<string>;
  counts: ReadonlySet<string>;
}

/** Config-file options first, then the command line on top (edge.c / supernode.c: loadFromFile, then loadFromCLI). */
export function mergeOptions(file: RawOpts, cli: RawOpts, cliCmd: Command, rules: MergeRules): RawOpts {
  const out: RawOpts = { ...file };
  for (const [k, v] of Object.entries(cli)) {
    const fromCli = cliCmd.getOptionValueSource(k) === 'cli';
    if (rules.lists.has(k)) out[k] = [...((file[k] as string[]) ?? []), ...((v as string[]) ?? [])];
    else if (rules.counts.has(k)) out[k] = ((file[k] as number) ?? 0) + ((v as number) ?? 0);
    else if (fromCli || !(k in file)) out[k] = v;
  }
  return out;
}

/** Parses a config file's tokens with the same option table as the command line. */
export function parseConfigTokens(path: string, tokens: string[], cmd: Command): RawOpts {
  cmd
    .exitOverride()
    .allowExcessArguments(true)
    .configureOutput({ writeErr: () => {}, writeOut: () => {} });
  try {
    cmd.parse(tokens, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError)
      throw new ConfigError(`${path}: ${err.message.replace(/^error: /, '')}`);
    throw err;
  }
  return cmd.opts();
}

/** -u / -g: drop privileges once the TAP device and sockets exist (only when given). */
export function dropPrivileges(raw: RawOpts, logger: Logger): void {
  const uid = raw.euid as number | undefined;
  const gid = raw.egid as number | undefined;
  try {
    if (gid !== undefined) process.setgid?.(gid);
    if (uid !== undefined) process.setuid?.(uid);
  } catch (err) {
    logger.log(LogLevel.ERROR, `unable to drop privileges: ${(err as Error).message}`);
    return;
  }
  if (uid !== undefined || gid !== undefined) {
    logger.log(LogLevel.NORMAL, `dropped privileges to uid=${process.getuid?.()}, gid=${process.getgid?.()}`);
  }
}
