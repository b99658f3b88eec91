// Benchmark entry (`npm run bench [-- <module>...]`): runs every bench module and prints Markdown tables.
//
// Each module is a file in bench/ exporting `async function run(): Promise<BenchResult[]>`; add
// yours to MODULES. With arguments, only the named modules run.
import { cpus } from 'node:os';
import type { BenchModule, BenchResult } from './types.js';

const MODULES: Record<string, () => Promise<BenchModule>> = {
  transforms: () => import('./transforms.js'),
  tap: () => import('./tap.js'),
  supernode: () => import('./supernode.js'),
  udp: () => import('./udp.js'),
};

function format(v: number | string): string {
  if (typeof v === 'string') return v;
  if (Math.abs(v) >= 100) return Math.round(v).toLocaleString('en-US');
  return v.toFixed(1);
}

function printTables(results: BenchResult[]): void {
  const sections = [...new Set(results.map((r) => r.section))];
  for (const section of sections) {
    const rows = results.filter((r) => r.section === section);
    const cols = [...new Set(rows.flatMap((r) => Object.keys(r.values)))];
    console.log(`\n### ${section}\n`);
    console.log(`| | ${cols.join(' | ')} |`);
    console.log(`|---|${cols.map(() => '---:').join('|')}|`);
    for (const r of rows)
      console.log(`| ${r.name} | ${cols.map((c) => format(r.values[c] ?? '')).join(' | ')} |`);
  }
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const names = wanted.length > 0 ? wanted : Object.keys(MODULES);
  console.log(`Node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} CPUs)`);
  const all: BenchResult[] = [];
  for (const name of names) {
    const load = MODULES[name];
    if (load === undefined)
      throw new Error(`unknown bench module "${name}" (have: ${Object.keys(MODULES).join(', ')})`);
    const mod = await load();
    all.push(...(await mod.run()));
  }
  printTables(all);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
