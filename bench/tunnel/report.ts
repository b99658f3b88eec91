// bench:tunnel output: one progress line per row and the final Markdown table for docs/performance.md.
import type { Row, Sample } from './case.js';

/** Longest error text kept in a table cell. */
const MAX_CELL_ERROR_CHARS = 120;
/** Values at or above this print without decimals. */
const INTEGER_FROM = 100;

export function fmt(n: number, unit: string): string {
  if (!Number.isFinite(n)) return '–';
  if (unit === 'ms') return n.toFixed(3);
  if (unit === 'ratio') return n.toFixed(2);
  if (Math.abs(n) >= INTEGER_FROM) return Math.round(n).toLocaleString('en-US');
  return n.toFixed(1);
}

function cell(s: Sample | undefined, unit: string): string {
  if (!s) return '';
  if (s.error) return `failed: ${s.error.slice(0, MAX_CELL_ERROR_CHARS).replaceAll('|', '/')}`;
  return s.extra ? `${fmt(s.value, unit)} ${s.extra}` : fmt(s.value, unit);
}

/** tsn2n / C (C / tsn2n worded "× slower/faster" when lower is better); empty unless both sides measured. */
export function ratio(r: Row): string {
  const t = r.tsn2n;
  const c = r.c;
  if (!t || !c || t.error || c.error || !(t.value > 0) || !(c.value > 0)) return '';
  if (!r.lowerIsBetter) return (t.value / c.value).toFixed(2);
  const q = c.value / t.value;
  return q <= 1
    ? `${q.toFixed(2)} (${(1 / q).toFixed(1)}× slower)`
    : `${q.toFixed(2)} (${q.toFixed(1)}× faster)`;
}

function notes(r: Row): string {
  const parts: string[] = [];
  if (r.skipped) parts.push(r.skipped);
  if (r.tsn2n?.note) parts.push(`tsn2n: ${r.tsn2n.note}`);
  if (r.c?.note) parts.push(`C: ${r.c.note}`);
  return parts.join('; ');
}

export function failed(r: Row): boolean {
  return Boolean(r.tsn2n?.error || r.c?.error);
}

/** One line per row while the run goes on. */
export function progressLine(r: Row): string {
  const parts = [`tsn2n ${cell(r.tsn2n, r.unit) || '–'}`];
  if (r.c) parts.push(`C ${cell(r.c, r.unit)}`);
  const q = ratio(r);
  if (q) parts.push(`ratio ${q}`);
  const cpu = [r.tsn2n?.cpu ? `tsn2n ${r.tsn2n.cpu}` : '', r.c?.cpu ? `C ${r.c.cpu}` : ''].filter((x) => x);
  if (cpu.length > 0) parts.push(`CPU ${cpu.join(' / ')}`);
  const n = notes(r);
  if (n) parts.push(n);
  return `${r.label} [${r.unit}]: ${parts.join('; ')}`;
}

/** The Markdown table. */
export function table(rows: readonly Row[]): string[] {
  const out = [
    '| case | unit | tsn2n | C 3.1.1 | tsn2n / C | tsn2n CPU | C CPU | notes |',
    '|---|---|---:|---:|---:|---|---|---|',
  ];
  for (const r of rows)
    out.push(
      `| ${r.label} | ${r.unit} | ${cell(r.tsn2n, r.unit)} | ${cell(r.c, r.unit)} | ${ratio(r)} | ` +
        `${r.tsn2n?.cpu ?? ''} | ${r.c?.cpu ?? ''} | ${notes(r)} |`,
    );
  return out;
}
