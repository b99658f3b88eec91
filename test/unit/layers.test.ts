// Enforces the one-way layering of src/ (DEVELOPERS.md): a file may import only its own layer or lower ones.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

/** What each layer may import besides itself. `index.ts` at the top (the library API) may import anything. */
const ALLOWED: Record<string, readonly string[]> = {
  util: [],
  crypto: ['util'],
  wire: ['util'],
  io: ['util'],
  transform: ['util', 'crypto', 'wire'],
  peer: ['util', 'crypto', 'wire', 'transform'],
  edge: ['util', 'crypto', 'wire', 'transform', 'peer', 'io'],
  supernode: ['util', 'crypto', 'wire', 'transform', 'peer', 'io'],
  management: ['util', 'crypto', 'wire', 'transform', 'peer', 'io', 'edge', 'supernode'],
  /** The namespace lab (demo, e2e, bench:tunnel): a program of its own that drives tsn2n as child processes. */
  lab: ['util', 'crypto', 'wire', 'transform', 'peer', 'io', 'edge', 'supernode', 'management'],
  cli: ['util', 'crypto', 'wire', 'transform', 'peer', 'io', 'edge', 'supernode', 'management', 'lab'],
};

function listTs(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listTs(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

function importsOf(source: string): string[] {
  const specs: string[] = [];
  const re = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
  for (let m = re.exec(source); m; m = re.exec(source)) specs.push(m[1] ?? m[2]);
  return specs;
}

const files = listTs(SRC);

/** Every cycle reachable in a module graph (depth-first, each reported once, as the path that closes it). */
function findCycles(graph: Map<string, string[]>): string[][] {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const out: string[][] = [];
  const visit = (n: string): void => {
    state.set(n, 'open');
    stack.push(n);
    for (const d of graph.get(n) ?? []) {
      if (!graph.has(d)) continue;
      const s = state.get(d);
      if (s === 'open') out.push([...stack.slice(stack.indexOf(d)), d]);
      else if (s === undefined) visit(d);
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of graph.keys()) if (!state.has(n)) visit(n);
  return out;
}

describe('layering', () => {
  it('finds the source tree', () => {
    expect(files.length).toBeGreaterThan(5);
  });

  it('every src file sits in a known layer', () => {
    for (const f of files) {
      const rel = relative(SRC, f).split('/');
      if (rel.length === 1) continue;
      expect(Object.keys(ALLOWED), f).toContain(rel[0]);
    }
  });

  it('no layer imports a higher one', () => {
    const violations: string[] = [];
    for (const f of files) {
      const rel = relative(SRC, f).split('/');
      if (rel.length === 1) continue;
      const layer = rel[0];
      for (const spec of importsOf(readFileSync(f, 'utf8'))) {
        if (!spec.startsWith('.')) continue;
        const target = relative(SRC, resolve(dirname(f), spec)).split('/');
        if (target[0] === '..' || target.length === 1) {
          violations.push(`${relative(SRC, f)} imports ${spec} (outside the layers)`);
          continue;
        }
        if (target[0] !== layer && !ALLOWED[layer].includes(target[0])) {
          violations.push(`${relative(SRC, f)} (${layer}) imports ${spec} (${target[0]})`);
        }
      }
    }
    expect(violations).toEqual([]);
  });

  it('only io/ loads the native addon and only cli/ (and lab/) touches process', () => {
    const bad: string[] = [];
    for (const f of files) {
      const rel = relative(SRC, f);
      const src = readFileSync(f, 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/\/\/.*$/gm, '');
      if (!rel.startsWith('io/') && /\.node['"]|node-gyp-build|createRequire/.test(src))
        bad.push(`${rel} loads native code`);
      // lab/ is a test-harness program like cli/: it owns child processes (spawns, kills by pid, passes its env and
      // node binary on), names its namespaces after its pid and tears them down from exit and signal hooks.
      const mayTouchProcess = rel.startsWith('cli/') || rel.startsWith('lab/');
      if (!mayTouchProcess && /\bprocess\.[A-Za-z_]/.test(src)) bad.push(`${rel} touches process`);
    }
    expect(bad).toEqual([]);
  });

  it('no file imports itself through a cycle (type-only imports included)', () => {
    const graph = new Map<string, string[]>();
    for (const f of files) {
      const deps: string[] = [];
      for (const spec of importsOf(readFileSync(f, 'utf8'))) {
        if (!spec.startsWith('.')) continue;
        deps.push(resolve(dirname(f), spec.replace(/\.js$/, '.ts')));
      }
      graph.set(f, deps);
    }
    const cycles = findCycles(graph).map((c) => c.map((f) => relative(SRC, f)).join(' → '));
    expect(cycles).toEqual([]);
    // The finder itself: a → b → a is a cycle.
    expect(
      findCycles(
        new Map([
          ['a', ['b']],
          ['b', ['a']],
        ]),
      ).length,
    ).toBe(1);
  });

  it('the checker catches a violation', () => {
    expect(importsOf("import { x } from '../edge/edge.js';")).toEqual(['../edge/edge.js']);
    expect(importsOf("export * from './a.js';\nconst m = await import('../cli/x.js');")).toEqual([
      './a.js',
      '../cli/x.js',
    ]);
  });
});
