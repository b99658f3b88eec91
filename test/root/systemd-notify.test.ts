// Root: the CLI as systemd's Type=notify runs it — `tsn2n supernode` (no arguments) and `tsn2n edge` (no -l) in
// a fresh network namespace send READY=1 from their main pid once listening / once the TAP is up, STOPPING=1 on
// SIGTERM, and the edge registers with the default supernode 127.0.0.1:7654. Never skips under CI=true.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotifyReceiver } from '../unit/helpers/notify-receiver.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const IS_CI = process.env.CI === 'true';
const IS_ROOT = process.getuid?.() === 0;
const NS = `tsn2n-notify-${process.pid}`;
const START_TIMEOUT_MS = 20_000;
const EXIT_TIMEOUT_MS = 10_000;

function gateReason(): string | undefined {
  if (!IS_ROOT) return 'they need root to create a network namespace and a TAP device';
  for (const tool of [
    ['ip', '-V'],
    ['python3', '--version'],
  ]) {
    try {
      execFileSync(tool[0], tool.slice(1), { stdio: 'ignore' });
    } catch {
      return `they need ${tool[0]}`;
    }
  }
  return undefined;
}
const reason = gateReason();
if (reason !== undefined && !IS_CI) console.warn(`[root] skipping the systemd notify tests: ${reason}`);

interface Proc {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

describe.skipIf(reason !== undefined && !IS_CI)('tsn2n under systemd Type=notify (root, netns)', () => {
  let work = '';
  let mainJs = '';
  const procs: Proc[] = [];
  const receivers: NotifyReceiver[] = [];

  beforeAll(() => {
    if (reason !== undefined) throw new Error(`root test: ${reason}`);
    // Our own copy of the CLI (transpiled only: the type check is `npm run typecheck`'s job), so this file never
    // rewrites the dist/ other test files are running. It finds the addon and node_modules through links.
    work = mkdtempSync(join(tmpdir(), 'tsn2n-notify-'));
    execFileSync(
      process.execPath,
      [
        resolve(REPO, 'node_modules/typescript/bin/tsc'),
        '-p',
        'tsconfig.build.json',
        '--outDir',
        join(work, 'dist'),
        '--noCheck',
        '--declaration',
        'false',
        '--sourceMap',
        'false',
      ],
      { cwd: REPO, stdio: 'inherit' },
    );
    writeFileSync(join(work, 'package.json'), '{"type":"module"}\n');
    symlinkSync(resolve(REPO, 'node_modules'), join(work, 'node_modules'));
    symlinkSync(resolve(REPO, 'native'), join(work, 'native'));
    mainJs = join(work, 'dist/cli/main.js');
    mkdirSync(join(work, 'run'));
    execFileSync('ip', ['netns', 'add', NS]);
    execFileSync('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
  }, 120_000);

  afterAll(async () => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    for (const r of receivers) await r.close();
    try {
      execFileSync('ip', ['netns', 'del', NS], { stdio: 'ignore' });
    } catch {
      // Already gone.
    }
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** `ip netns exec` execs in place: the pid we get is the node process, the unit's main pid. */
  function start(args: string[], notifySocket: string): Proc {
    const child = spawn('ip', ['netns', 'exec', NS, process.execPath, mainJs, ...args], {
      env: { ...process.env, NOTIFY_SOCKET: notifySocket },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const p = { child, stderr: () => err, exited };
    procs.push(p);
    return p;
  }

  async function receiver(name: string): Promise<NotifyReceiver> {
    const r = await NotifyReceiver.open(join(work, 'run', name));
    receivers.push(r);
    return r;
  }

  async function exitCode(p: Proc): Promise<number | null> {
    return Promise.race([
      p.exited,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`no exit; stderr:\n${p.stderr()}`)), EXIT_TIMEOUT_MS),
      ),
    ]);
  }

  it('supernode with no argument listens on 7654 and says READY=1; edge without -l uses it; both say STOPPING=1', async () => {
    const snNotify = await receiver('supernode.sock');
    const sn = start(['supernode'], snNotify.path);
    const snReady = await snNotify.until('READY=1', START_TIMEOUT_MS).catch((e: Error) => {
      throw new Error(`${e.message}; stderr:\n${sn.stderr()}`);
    });
    expect(snReady.pid).toBe(sn.child.pid);
    expect(snReady.data).toMatch(/^READY=1\nSTATUS=listening on UDP .*:7654$/);
    expect(sn.stderr()).toMatch(/supernode listening on UDP \S+:7654 \(main\), 127\.0\.0\.1:5645/);
    expect(sn.stderr()).not.toMatch(/Usage:/);

    const edgeNotify = await receiver('edge.sock');
    const edge = start(['edge', '-c', 'community', '-k', 'key', '-a', '172.29.0.5'], edgeNotify.path);
    const edgeReady = await edgeNotify.until('READY=1', START_TIMEOUT_MS).catch((e: Error) => {
      throw new Error(`${e.message}; stderr:\n${edge.stderr()}`);
    });
    expect(edgeReady.pid).toBe(edge.child.pid);
    expect(edgeReady.data).toBe('READY=1\nSTATUS=device edge0 up, registering with the supernode');
    // The TAP device is up with its address when READY=1 arrives (what kubelet's node IP needs).
    expect(execFileSync('ip', ['-n', NS, '-4', 'addr', 'show', 'edge0'], { encoding: 'utf8' })).toMatch(
      /inet 172\.29\.0\.5\/24/,
    );
    expect((await edgeNotify.until('STATUS=registered', START_TIMEOUT_MS)).data).toBe(
      'STATUS=registered with supernode 127.0.0.1:7654',
    );
    const noticeLines = edge
      .stderr()
      .split('\n')
      .filter((l) => l.includes('no supernode given'));
    expect(noticeLines).toHaveLength(1);
    expect(noticeLines[0]).toMatch(/no supernode given \(-l\): using 127\.0\.0\.1:7654$/);

    edge.child.kill('SIGTERM');
    expect((await edgeNotify.next()).data).toBe('STOPPING=1');
    expect(await exitCode(edge)).toBe(0);
    sn.child.kill('SIGTERM');
    expect((await snNotify.next()).data).toBe('STOPPING=1');
    expect(await exitCode(sn)).toBe(0);
    expect([...snNotify.pending(), ...edgeNotify.pending()]).toEqual([]);
  }, 60_000);
});
