// Types of fuzz/run.mjs for the TypeScript tests that drive it.
export interface FuzzResult {
  target: string;
  seconds: number;
  /** libFuzzer's figures once the seeds and the saved corpus were run (the INITED line). */
  inited?: { cov: number; ft: number; corpus: number; rssMb: number };
  /** Inputs executed, from libFuzzer's final stats. */
  /** Instrumented edges (coverage counters) of the code loaded: the `cov:` figure's ceiling. */
  pcs: number;
  execs: number;
  execPerSec: number;
  /** libFuzzer's `cov:` (instrumented edges hit) and `ft:` (features) at the end. */
  cov: number;
  ft: number;
  corpus: number;
  rssMb: number;
  exitCode: number | null;
  signal: string | null;
  wallSeconds: number;
  /** libFuzzer reported a finding (exception, timeout, memory limit) or did not run. */
  crashed: boolean;
  /** Files in fuzz/artifacts/<target>/ (crash-*, timeout-*, oom-*). */
  artifacts: string[];
  /** Everything the run printed. */
  log: string;
}
export function targets(): string[];
export function build(): void;
export function fuzzTarget(
  target: string,
  seconds: number,
  options?: { quiet?: boolean },
): Promise<FuzzResult>;
