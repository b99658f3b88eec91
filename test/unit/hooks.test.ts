// Event hooks (src/management/hooks.ts): command splitting, the runner (order, env, timeout, queue) and the events.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  attachEdgeHooks,
  attachSupernodeHooks,
  edgeHookCommon,
  HookRunner,
  splitCommand,
} from '../../src/management/hooks.js';
import { ConfigError } from '../../src/util/errors.js';
import { MemoryLogger } from '../../src/util/log.js';
import { ipv4Frame, makeWorld, realSupernode } from './edge-harness.js';

const MAC_A = 0x02_00_00_00_00_0a;
const MAC_B = 0x02_00_00_00_00_0b;
/** Short enough for a test, long enough for node to start on a busy machine. */
const TEST_TIMEOUT_MS = 3000;
const SLEEPER_TIMEOUT_MS = 300;

/** A hook script that appends its TSN2N_* variables as one JSON line to the file named by its first argument. */
const RECORDER = `
const fs = require('fs');
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('TSN2N_')));
fs.appendFileSync(process.argv[1], JSON.stringify(env) + '\\n');
if (env.TSN2N_EVENT === 'fail') { process.stderr.write('it broke\\n'); process.exit(3); }
if (env.TSN2N_EVENT === 'hang') setTimeout(() => {}, 60000);
`;

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

function recorder(): { argv: string[]; lines: () => Record<string, string>[] } {
  const dir = mkdtempSync(join(tmpdir(), 'tsn2n-hooks-'));
  const out = join(dir, 'events.jsonl');
  writeFileSync(out, '');
  return {
    argv: [process.execPath, '-e', RECORDER, out],
    lines: () =>
      readFileSync(out, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, string>),
  };
}

describe('splitCommand', () => {
  it('splits on blanks and groups with quotes, without any shell meaning', () => {
    expect(splitCommand('/usr/local/bin/hook')).toEqual(['/usr/local/bin/hook']);
    expect(splitCommand('  hook  a\tb ')).toEqual(['hook', 'a', 'b']);
    expect(splitCommand(`hook 'two words' "and \\"three\\"" x\\ y`)).toEqual([
      'hook',
      'two words',
      'and "three"',
      'x y',
    ]);
    expect(splitCommand(`hook '' ""`)).toEqual(['hook', '', '']);
    expect(splitCommand('hook $HOME *.txt | tee >x; rm')).toEqual([
      'hook',
      '$HOME',
      '*.txt',
      '|',
      'tee',
      '>x;',
      'rm',
    ]);
    expect(splitCommand(`sh -c 'echo "$TSN2N_EVENT" >> /tmp/log'`)).toEqual([
      'sh',
      '-c',
      'echo "$TSN2N_EVENT" >> /tmp/log',
    ]);
    for (const bad of ['', '   ', "hook 'open", 'hook "open'])
      expect(() => splitCommand(bad), bad).toThrow(ConfigError);
  });
});

describe('HookRunner', () => {
  it('runs the command per event, in order, with TSN2N_* variables and not the inherited ones', async () => {
    const rec = recorder();
    const runner = new HookRunner({
      argv: rec.argv,
      baseEnv: { PATH: '/usr/bin:/bin', TSN2N_STALE: 'from the parent', HOME: '/root' },
      common: () => ({ DAEMON: 'edge', NOT_SET: undefined }),
      now: () => 1_700_000_123,
      timeoutMs: TEST_TIMEOUT_MS,
    });
    runner.post('peer_up', { PEER_MAC: '02:00:00:00:00:0b', PATH: 'relay', GONE: undefined });
    runner.post('peer_path', { PEER_MAC: '02:00:00:00:00:0b', PATH: 'p2p' });
    await runner.idle();
    expect(rec.lines()).toEqual([
      {
        TSN2N_EVENT: 'peer_up',
        TSN2N_DAEMON: 'edge',
        TSN2N_PEER_MAC: '02:00:00:00:00:0b',
        TSN2N_PATH: 'relay',
        TSN2N_TIME: '1700000123',
      },
      {
        TSN2N_EVENT: 'peer_path',
        TSN2N_DAEMON: 'edge',
        TSN2N_PEER_MAC: '02:00:00:00:00:0b',
        TSN2N_PATH: 'p2p',
        TSN2N_TIME: '1700000123',
      },
    ]);
    expect(runner.stats).toEqual({ ok: 2, failed: 0, timedOut: 0, dropped: 0 });
  });

  it('counts failures, kills hooks that outlive the timeout, and logs both', async () => {
    const rec = recorder();
    const logger = new MemoryLogger(4);
    const runner = new HookRunner({ argv: rec.argv, timeoutMs: SLEEPER_TIMEOUT_MS, logger });
    const t0 = Date.now();
    runner.post('fail');
    runner.post('hang');
    runner.post('peer_up');
    await runner.idle();
    expect(Date.now() - t0).toBeLessThan(TEST_TIMEOUT_MS * 3);
    expect(runner.stats).toEqual({ ok: 1, failed: 1, timedOut: 1, dropped: 0 });
    expect(rec.lines().map((l) => l.TSN2N_EVENT)).toEqual(['fail', 'hang', 'peer_up']);
    expect(logger.lines.join('\n')).toMatch(/hook fail: .* exited 3: it broke/);
    expect(logger.lines.join('\n')).toMatch(/hook hang: killed after 300 ms/);
  });

  it('reports a command that cannot start, and goes on', async () => {
    const logger = new MemoryLogger(4);
    const runner = new HookRunner({ argv: ['/nonexistent/tsn2n-hook'], logger, timeoutMs: TEST_TIMEOUT_MS });
    runner.post('peer_up');
    await runner.idle();
    expect(runner.stats.failed).toBe(1);
    expect(logger.lines.join('\n')).toMatch(/cannot start \/nonexistent\/tsn2n-hook/);
  });

  it('never blocks: a full queue drops and counts, close() drops what is left after its wait', async () => {
    const rec = recorder();
    const runner = new HookRunner({ argv: rec.argv, queueMax: 2, timeoutMs: SLEEPER_TIMEOUT_MS });
    // The first is taken by the runner at once; two wait; the rest are dropped.
    expect(runner.post('hang')).toBe(true);
    expect(runner.post('a')).toBe(true);
    expect(runner.post('b')).toBe(true);
    expect(runner.post('c')).toBe(false);
    expect(runner.post('d')).toBe(false);
    expect(runner.stats.dropped).toBe(2);
    await runner.close(1);
    expect(runner.post('late')).toBe(false);
    await runner.idle();
    expect(runner.stats.dropped).toBeGreaterThanOrEqual(4);
    expect(runner.stats.timedOut).toBe(1);
  });
});

describe('the /etc/hosts example (deploy/hooks/n2n-hosts)', () => {
  it('adds, replaces and removes one line per peer and keeps the rest of the file', async () => {
    const script = fileURLToPath(new URL('../../deploy/hooks/n2n-hosts', import.meta.url));
    const dir = mkdtempSync(join(tmpdir(), 'tsn2n-hosts-'));
    const hosts = join(dir, 'hosts');
    writeFileSync(hosts, '127.0.0.1 localhost\n10.0.0.9 other.n2n # tsn2n 02:00:00:00:00:0c\n');
    const runner = new HookRunner({
      argv: [script],
      baseEnv: { PATH: '/usr/bin:/bin', N2N_HOSTS_FILE: hosts },
      timeoutMs: TEST_TIMEOUT_MS,
    });
    const b = { PEER_MAC: '02:00:00:00:00:0b' };
    const run = async (event: string, facts: Record<string, string>): Promise<string> => {
      runner.post(event, facts);
      await runner.idle();
      return readFileSync(hosts, 'utf8');
    };
    // Up without an address yet (a relayed peer before its REGISTER): nothing to write.
    expect(await run('peer_up', { ...b, PATH: 'relay' })).toBe(
      '127.0.0.1 localhost\n10.0.0.9 other.n2n # tsn2n 02:00:00:00:00:0c\n',
    );
    const withB = await run('peer_update', {
      ...b,
      PEER_IP: '10.5.0.2',
      PEER_DESC: 'beta box',
      PATH: 'relay',
    });
    expect(withB).toContain('10.5.0.2 beta-box.n2n # tsn2n 02:00:00:00:00:0b\n');
    expect(await run('peer_path', { ...b, PEER_IP: '10.5.0.2', PEER_DESC: 'beta box', PATH: 'p2p' })).toBe(
      withB,
    );
    const both = await run('peer_up', { PEER_MAC: '02:00:00:00:00:0d', PEER_IP: '10.5.0.4', PATH: 'p2p' });
    expect(both).toContain('10.5.0.4 02000000000d.n2n # tsn2n 02:00:00:00:00:0d\n');
    expect(await run('registered', { SUPERNODE: 'x' })).toBe(both);
    const after = await run('peer_down', { ...b, PEER_IP: '10.5.0.2', REASON: 'purge' });
    expect(after).toBe(
      '127.0.0.1 localhost\n10.0.0.9 other.n2n # tsn2n 02:00:00:00:00:0c\n' +
        '10.5.0.4 02000000000d.n2n # tsn2n 02:00:00:00:00:0d\n',
    );
    expect(runner.stats).toEqual({ ok: 6, failed: 0, timedOut: 0, dropped: 0 });
  });
});

describe('edge events → hooks', () => {
  it('reports registered, peer up / path / down with the peer MAC, IP and path, and unregistered', async () => {
    const w = makeWorld();
    const sn = await realSupernode(w, '198.51.100.1', 7654);
    cleanup.push(() => sn.stop());
    const base = { community: 'hooknet', supernodes: ['198.51.100.1:7654'] };
    const a = w.edge('192.0.2.1', {
      ...base,
      address: '10.5.0.1/24',
      mac: '02:00:00:00:00:0a',
      device: 'n2n7',
    });
    const b = w.edge('192.0.2.2', { ...base, address: '10.5.0.2/24', mac: '02:00:00:00:00:0b' });
    const posted: { event: string; facts: Record<string, string | undefined> }[] = [];
    const runner = new HookRunner({ argv: ['unused'], common: () => edgeHookCommon(a.edge) });
    runner.post = (event, facts = {}) => {
      posted.push({ event, facts: { ...edgeHookCommon(a.edge), ...facts } });
      return true;
    };
    attachEdgeHooks(a.edge, runner);
    const block = w.net.blackhole('192.0.2.1', '192.0.2.2');
    for (const n of [a, b]) {
      await n.edge.start();
      cleanup.push(() => n.edge.stop());
    }
    await w.settle();
    const talk = async (): Promise<void> => {
      a.tap.inject(ipv4Frame(MAC_B, MAC_A, '10.5.0.1', '10.5.0.2', 40));
      b.tap.inject(ipv4Frame(MAC_A, MAC_B, '10.5.0.2', '10.5.0.1', 40));
      await w.settle();
      await w.advance(1);
    };
    await talk();
    block();
    for (let i = 0; i < 25 && !posted.some((p) => p.event === 'peer_path'); i++) await talk();
    await a.edge.stop();
    await w.settle();
    const events = posted.map((p) => p.event);
    expect(events[0]).toBe('registered');
    expect(events).toContain('peer_up');
    expect(events).toContain('peer_path');
    expect(events.slice(-2).sort()).toEqual(['peer_down', 'unregistered']);
    expect(posted[0].facts).toMatchObject({
      SUPERNODE: '198.51.100.1:7654',
      PUBLIC_ADDR: expect.stringMatching(/^192\.0\.2\.1:\d+$/),
      DAEMON: 'edge',
      COMMUNITY: 'hooknet',
      DEVICE: 'n2n7',
      EDGE_MAC: '02:00:00:00:00:0a',
      EDGE_IP: '10.5.0.1',
    });
    expect(posted.find((p) => p.event === 'peer_up')?.facts).toMatchObject({
      PEER_MAC: '02:00:00:00:00:0b',
      PATH: 'relay',
    });
    expect(posted.find((p) => p.event === 'peer_path')?.facts).toMatchObject({
      PEER_MAC: '02:00:00:00:00:0b',
      PEER_IP: '10.5.0.2',
      PATH: 'p2p',
      PREVIOUS_PATH: 'relay',
    });
    expect(posted.find((p) => p.event === 'peer_down')?.facts).toMatchObject({
      PEER_MAC: '02:00:00:00:00:0b',
      PEER_IP: '10.5.0.2',
      PATH: 'p2p',
      REASON: 'stop',
    });
    expect(posted.find((p) => p.event === 'unregistered')?.facts).toMatchObject({
      SUPERNODE: '198.51.100.1:7654',
      REASON: 'stop',
    });
  });

  it('reports a supernode change once, when another supernode acknowledges', async () => {
    const w = makeWorld();
    const sn1 = await realSupernode(w, '198.51.100.1', 7654);
    const sn2 = await realSupernode(w, '198.51.100.2', 7654);
    cleanup.push(
      () => sn1.stop(),
      () => sn2.stop(),
    );
    const a = w.edge('192.0.2.1', {
      community: 'hooknet',
      supernodes: ['198.51.100.1:7654', '198.51.100.2:7654'],
      address: '10.5.0.1/24',
    });
    const posted: { event: string; facts: Record<string, string | undefined> }[] = [];
    const runner = new HookRunner({ argv: ['unused'] });
    runner.post = (event, facts = {}) => {
      posted.push({ event, facts });
      return true;
    };
    attachEdgeHooks(a.edge, runner);
    await a.edge.start();
    cleanup.push(() => a.edge.stop());
    await w.settle();
    await w.advance(1);
    const first = a.edge.registrationState.supernode;
    expect(first).toBeDefined();
    const host = first!.split(':')[0];
    w.net.blackhole('192.0.2.1', host);
    for (let i = 0; i < 90 && !posted.some((p) => p.event === 'supernode_change'); i++) await w.advance(1);
    const change = posted.find((p) => p.event === 'supernode_change');
    expect(change?.facts.PREVIOUS_SUPERNODE).toBe(first);
    expect(change?.facts.SUPERNODE).not.toBe(first);
    expect(posted.map((p) => p.event)).toEqual([
      'registered',
      'unregistered',
      'registered',
      'supernode_change',
    ]);
  });
});

describe('supernode events → hooks', () => {
  it('reports edges up and down with community, MAC, IP and reason', async () => {
    const w = makeWorld();
    const sn = await realSupernode(w, '198.51.100.1', 7654);
    cleanup.push(() => sn.stop());
    const rec = recorder();
    const runner = new HookRunner({
      argv: rec.argv,
      common: () => ({ DAEMON: 'supernode' }),
      timeoutMs: TEST_TIMEOUT_MS,
    });
    attachSupernodeHooks(sn, runner);
    const a = w.edge('192.0.2.1', {
      community: 'hooknet',
      supernodes: ['198.51.100.1:7654'],
      address: '10.5.0.1/24',
      mac: '02:00:00:00:00:0a',
      description: 'alpha',
    });
    await a.edge.start();
    await w.settle();
    await a.edge.stop();
    await w.settle();
    await runner.idle();
    const lines = rec.lines();
    expect(lines.map((l) => l.TSN2N_EVENT)).toEqual(['peer_up', 'peer_down']);
    expect(lines[0]).toMatchObject({
      TSN2N_DAEMON: 'supernode',
      TSN2N_COMMUNITY: 'hooknet',
      TSN2N_PEER_MAC: '02:00:00:00:00:0a',
      TSN2N_PEER_IP: '10.5.0.1',
      TSN2N_PEER_DESC: 'alpha',
      TSN2N_PEER_SOCKADDR: expect.stringMatching(/^192\.0\.2\.1:\d+$/),
    });
    expect(lines[1]).toMatchObject({ TSN2N_PEER_MAC: '02:00:00:00:00:0a', TSN2N_REASON: 'unregister' });
  });
});
