// bench:tunnel shared shapes: the run context, a case (one setup per side → rows), samples, and the ABBA pair runner.
import type { Lab, LabHost } from '../../src/lab/index.js';

/** Which implementation a process runs. */
export type Impl = 'tsn2n' | 'c';

/** Command prefixes of one implementation (argv before the n2n options). */
export interface Commands {
  edge: readonly string[];
  supernode: readonly string[];
}

export interface Context {
  lab: Lab;
  sn: LabHost;
  a: LabHost;
  b: LabHost;
  commands: { tsn2n: Commands; c?: Commands };
  /** Duration of each iperf3 run, s. */
  seconds: number;
  /** Pairs of runs of the hecost group per cipher and side. */
  rounds: number;
  /** Ciphers of the per-cipher groups (p2p, he), in order. */
  ciphers: readonly number[];
  /** Cipher of the fixed-cipher groups (relay mixed, rtt, small, mixed). */
  mainCipher: number;
  /** Community file of -H supernodes (lists COMMUNITY). */
  communityFile: string;
  log: (line: string) => void;
}

/** One measured figure of one side of a row. */
export interface Sample {
  value: number;
  /** Appended to the value in the table, e.g. "(p50 0.27, p99 0.41)". */
  extra?: string;
  /** CPU of the processes involved, e.g. "a 95 % · b 80 %". */
  cpu?: string;
  /** Something odd but not fatal, e.g. partly relayed. */
  note?: string;
  error?: string;
}

export interface RowSpec {
  label: string;
  unit: string;
  /** RTT: the ratio is C / tsn2n and worded "× slower/faster". */
  lowerIsBetter?: boolean;
}

/**
 * A case: one setup per side (processes started, measured, stopped) yielding one sample per row. `run('tsn2n')`
 * fills the tsn2n column (the configuration with tsn2n parts in it), `run('c')` the all-C reference column.
 */
export interface Case {
  group: string;
  rows: readonly RowSpec[];
  /** The tsn2n side needs C binaries too (mixed rows); without them the case is skipped with this reason. */
  needsC?: boolean;
  run(side: Impl): Promise<Sample[]>;
}

export interface Row extends RowSpec {
  group: string;
  tsn2n?: Sample;
  c?: Sample;
  /** Why a side was not measured. */
  skipped?: string;
}

/** An error in one line for a table cell: its first line and, for a process's output, its last line. */
export function errorText(err: unknown): string {
  const lines = (err instanceof Error ? err.message : String(err))
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  return lines.length > 1 ? `${lines[0]} … ${lines[lines.length - 1]}` : (lines[0] ?? 'unknown error');
}

async function side(c: Case, impl: Impl): Promise<Sample[]> {
  try {
    const samples = await c.run(impl);
    if (samples.length !== c.rows.length)
      throw new Error(`${samples.length} samples for ${c.rows.length} rows`);
    return samples;
  } catch (err) {
    return c.rows.map(() => ({ value: Number.NaN, error: errorText(err) }));
  }
}

/**
 * Runs a case on both sides, alternating the order from case to case (tsn2n first, then C first, …) so drift in
 * the machine's load hits both columns alike.
 */
export async function runCase(c: Case, index: number, hasC: boolean): Promise<Row[]> {
  const rows: Row[] = c.rows.map((r) => ({ ...r, group: c.group }));
  if (c.needsC && !hasC) {
    for (const r of rows) r.skipped = 'needs C binaries (N2N_REFERENCE_BIN)';
    return rows;
  }
  const order: Impl[] = index % 2 === 0 ? ['tsn2n', 'c'] : ['c', 'tsn2n'];
  for (const impl of order) {
    if (impl === 'c' && !hasC) continue;
    const samples = await side(c, impl);
    rows.forEach((r, i) => {
      r[impl] = samples[i];
    });
  }
  return rows;
}
