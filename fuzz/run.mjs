#!/usr/bin/env node
// Runs one fuzz target (or all) under Jazzer.js/libFuzzer: `npm run fuzz -- <target|all|list> [seconds] [--no-build]`.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const FUZZ = join(ROOT, 'fuzz');
const DIST = join(ROOT, 'dist-fuzz');
const ADDON = join(FUZZ, 'native', 'build', 'Release', 'jazzer_fuzzer.node');
const REDIRECT = join(FUZZ, 'native', 'redirect.cjs');
const JAZZER = join(ROOT, 'node_modules', '@jazzer.js', 'core', 'dist', 'cli.js');
/** Files in fuzz/ that are shared code, not targets. */
const HELPERS = new Set(['common', 'payload']);
/** Targets whose fuzz function returns a promise (the others run in Jazzer's faster --sync mode). */
const ASYNC_TARGETS = new Set(['http-api']);
const DEFAULT_SECONDS = 20;
/** Per-input timeout (ms): an input slower than this is reported as a hang. */
const INPUT_TIMEOUT_MS = 10_000;
/** libFuzzer's memory limit: a leak that grows the process past it is reported as a crash. */
const RSS_LIMIT_MB = 2048;

export function targets() {
  return readdirSync(FUZZ)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => f.slice(0, -'.ts'.length))
    .filter((t) => !HELPERS.has(t))
    .sort();
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal})`);
}

/** Builds the libFuzzer addon when missing and compiles src + fuzz to dist-fuzz/. */
export function build() {
  if (!existsSync(ADDON)) run('npm', ['run', 'fuzz:build']);
  run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.fuzz.json']);
}

/** Writes the target's seeds (from test/vectors) to fuzz/seeds/<target>/, fresh each run. */
function writeSeeds(target) {
  const dir = join(FUZZ, 'seeds', target);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const url = pathToFileURL(join(DIST, 'fuzz', `${target}.js`)).href;
  const code =
    `const m = await import(${JSON.stringify(url)});` +
    `const fs = await import('node:fs');` +
    `m.seeds().forEach((s, i) => fs.writeFileSync(${JSON.stringify(dir)} + '/seed-' + String(i).padStart(4, '0'), s));` +
    'process.exit(0);';
  run(process.execPath, ['--input-type=module', '-e', code]);
  return dir;
}

const STATUS = /^#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)\/(\S+).*?exec\/s: (\d+) rss: (\d+)Mb/;
const FINAL = /^stat::(\w+):\s+(\d+)/;
/** Instrumented edges registered with libFuzzer (modules register as they load). */
const PC_TABLES = /^INFO: Loaded \d+ PC tables \((\d+) PCs\)/;

/** Fuzzes `target` for `seconds`; resolves with the run's figures (crashed = libFuzzer reported a finding). */
export function fuzzTarget(target, seconds, { quiet = false } = {}) {
  const seeds = writeSeeds(target);
  const corpus = join(FUZZ, 'corpus', target);
  const artifacts = join(FUZZ, 'artifacts', target);
  mkdirSync(corpus, { recursive: true });
  mkdirSync(artifacts, { recursive: true });
  const args = [
    '-r',
    REDIRECT,
    JAZZER,
    join(DIST, 'fuzz', `${target}.js`),
    corpus,
    seeds,
    '-i',
    `${join(DIST, 'src')}/`,
    '-e',
    'node_modules',
    '--timeout',
    String(INPUT_TIMEOUT_MS),
    ...(ASYNC_TARGETS.has(target) ? [] : ['--sync']),
    '--',
    `-max_total_time=${seconds}`,
    `-artifact_prefix=${artifacts}/`,
    `-rss_limit_mb=${RSS_LIMIT_MB}`,
    '-print_final_stats=1',
  ];
  const started = Date.now();
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const result = {
      target,
      seconds,
      inited: undefined,
      execs: 0,
      execPerSec: 0,
      cov: 0,
      ft: 0,
      corpus: 0,
      rssMb: 0,
      pcs: 0,
      log: '',
    };
    const onLine = (line) => {
      result.log += `${line}\n`;
      if (!quiet) process.stdout.write(`[${target}] ${line}\n`);
      const s = STATUS.exec(line);
      if (s && /\sINITED\s/.test(line))
        result.inited = { cov: Number(s[2]), ft: Number(s[3]), corpus: Number(s[4]), rssMb: Number(s[7]) };
      if (s) {
        result.execs = Number(s[1]);
        result.cov = Number(s[2]);
        result.ft = Number(s[3]);
        result.corpus = Number(s[4]);
        result.execPerSec = Number(s[6]);
        result.rssMb = Number(s[7]);
      }
      const pcs = PC_TABLES.exec(line);
      if (pcs) result.pcs += Number(pcs[1]);
      const f = FINAL.exec(line);
      if (f?.[1] === 'number_of_executed_units') result.execs = Number(f[2]);
      if (f?.[1] === 'average_exec_per_sec') result.execPerSec = Number(f[2]);
      if (f?.[1] === 'peak_rss_mb') result.rssMb = Number(f[2]);
    };
    for (const stream of [child.stdout, child.stderr]) {
      let rest = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk) => {
        const lines = (rest + chunk).split('\n');
        rest = lines.pop();
        lines.forEach(onLine);
      });
      stream.on('end', () => rest && onLine(rest));
    }
    child.on('close', (code, signal) => {
      mkdirSync(join(FUZZ, 'logs'), { recursive: true });
      writeFileSync(join(FUZZ, 'logs', `${target}.log`), result.log);
      result.exitCode = code;
      result.signal = signal;
      result.wallSeconds = Math.round((Date.now() - started) / 1000);
      result.crashed = code !== 0;
      result.artifacts = readdirSync(artifacts).map((f) => join(artifacts, f));
      resolveRun(result);
    });
  });
}

function summary(r) {
  const { log: _log, ...rest } = r;
  return `FUZZ-RESULT ${JSON.stringify(rest)}`;
}

async function main(argv) {
  const flags = new Set(argv.filter((a) => a.startsWith('--')));
  const [which = 'list', secondsArg] = argv.filter((a) => !a.startsWith('--'));
  const all = targets();
  if (which === 'list') {
    process.stdout.write(`${all.join('\n')}\n`);
    return 0;
  }
  const chosen = which === 'all' ? all : [which];
  for (const t of chosen)
    if (!all.includes(t)) throw new Error(`no fuzz target '${t}' (have: ${all.join(', ')})`);
  const seconds = secondsArg === undefined ? DEFAULT_SECONDS : Number(secondsArg);
  if (!(seconds > 0)) throw new Error(`seconds must be positive, got '${secondsArg}'`);
  if (!flags.has('--no-build')) build();
  let failed = 0;
  for (const t of chosen) {
    const r = await fuzzTarget(t, seconds, { quiet: flags.has('--quiet') });
    process.stdout.write(`${summary(r)}\n`);
    if (r.crashed) failed++;
  }
  return failed === 0 ? 0 : 1;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    },
  );
}
