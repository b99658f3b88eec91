// Shape of one benchmark figure, shared by bench/run.ts and every bench module.

/** One measured row; rows with the same `section` are printed as one table. */
export interface BenchResult {
  /** Table heading, e.g. "Payload transforms". */
  section: string;
  /** Row label, e.g. "AES-128 (reused contexts) encrypt". */
  name: string;
  /** Column → value (numbers are printed rounded). */
  values: Record<string, number | string>;
}

/** A bench module: bench/run.ts imports it and awaits run(). */
export interface BenchModule {
  run(): Promise<BenchResult[]>;
}
