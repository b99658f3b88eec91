// `tsn2n demo` end to end: a full run reports a direct path and leaves nothing behind; SIGINT mid-run also cleans up.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LAB_NS_PREFIX } from '../../src/lab/index.js';
import { labGate, MAIN_JS, requireBuild } from './helpers.js';

const gate = labGate();
const DEMO_TIMEOUT_MS = 120_000;

function run(args: string[]): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  requireBuild();
  const child = spawn(process.execPath, [MAIN_JS, 'demo', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : null))),
  );
  return { child, output: () => out, exited };
}

/** Namespaces and processes a given demo process left behind. */
function leftovers(pid: number): string[] {
  const ns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter((n) => n.startsWith(`${LAB_NS_PREFIX}${pid}-`));
  return ns;
}

async function waitForText(get: () => string, text: string, timeoutMs: number): Promise<boolean> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (get().includes(text)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

describe.skipIf(gate.skip)('tsn2n demo', () => {
  it('runs the whole demo: registration, direct path, ping, report, cleanup', async () => {
    const d = run(['--time', '0']);
    const code = await Promise.race([
      d.exited,
      new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), DEMO_TIMEOUT_MS)),
    ]);
    if (code === 'timeout') d.child.kill('SIGINT');
    const out = d.output();
    console.log(`[e2e] demo output:\n${out}`);
    expect(code).toBe(0);
    expect(out).toContain('registered at the supernode');
    expect(out).toMatch(/alice\s+10\.99\.0\.1\/24/);
    expect(out).toContain('path:       direct (P2P through both NATs)');
    expect(out).toMatch(/RTT: +[\d.]+ ms \(5\/5 replies\)/);
    expect(out).toContain('done, nothing left behind');
    expect(leftovers(d.child.pid!)).toEqual([]);
  });

  it('cleans up everything when interrupted with SIGINT in the middle', async () => {
    const d = run(['--time', '0']);
    const started = await waitForText(d.output, 'starting the supernode and two edges', 30_000);
    expect(started, d.output()).toBe(true);
    const pid = d.child.pid!;
    const namespaces = leftovers(pid);
    expect(namespaces.length).toBeGreaterThan(0);
    // Everything running inside the demo's namespaces at this moment (supernode, edges).
    const inside = namespaces.flatMap((ns) =>
      execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' })
        .split('\n')
        .filter((l) => l.trim().length > 0)
        .map(Number),
    );
    d.child.kill('SIGINT');
    const code = await d.exited;
    expect(code).not.toBe(0);
    expect(leftovers(pid)).toEqual([]);
    // Still running = present in /proc and not a zombie (a killed child of the exited demo may wait to be reaped).
    const survivors = inside.filter((p) => {
      try {
        const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
        return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
      } catch {
        return false;
      }
    });
    expect(survivors).toEqual([]);
  });
});
