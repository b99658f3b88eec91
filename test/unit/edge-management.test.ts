// The edge management port: JSON API with upstream's keys, legacy text commands, auth, peer events, n2n-ctl.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import type { Edge } from '../../src/edge/index.js';
import { MemoryNetwork } from '../../src/io/memory.js';
import { openUdp } from '../../src/io/udp.js';
import type { ManagementServer } from '../../src/management/core.js';
import { serveEdgeManagement } from '../../src/management/edge.js';
import type { SockAddr } from '../../src/util/ip.js';
import { ipv4Frame, makeWorld, realSupernode, type TestNode, type World } from './edge-harness.js';
import { N2nCtlClient, upstreamN2nCtl } from './helpers/n2n-ctl-client.js';

const execFileP = promisify(execFile);
/** Upstream's management client, from a 3.1.1 source checkout next to the repository, when there is one (never required). */
const COMMUNITY = 'mgmtnet';
const MGMT: SockAddr = { family: 4, address: '127.0.0.1', port: 5644 };
const CLIENT: SockAddr = { family: 4, address: '127.0.0.1', port: 40000 };

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup) await c();
  cleanup = [];
});

/** Two registered edges with P2P between them; A gets a management server on an in-memory socket. */
async function setup(
  extra = {},
): Promise<{ w: World; a: TestNode; b: TestNode; ask: (q: string) => Promise<string[]> }> {
  const w = makeWorld();
  const sn = await realSupernode(w, '198.51.100.1', 7654, {}, {});
  const base = { community: COMMUNITY, supernodes: ['198.51.100.1:7654'], ...extra };
  const a = w.edge('192.0.2.1', { ...base, address: '10.6.0.1/24', description: 'alpha' });
  const b = w.edge('192.0.2.2', { ...base, address: '10.6.0.2/24', description: 'beta' });
  for (const n of [a, b]) {
    await n.edge.start();
    cleanup.push(() => n.edge.stop());
  }
  cleanup.push(() => sn.stop());
  await w.settle();
  for (let i = 0; i < 2; i++) {
    a.tap.inject(ipv4Frame(b.edge.mac, a.edge.mac, '10.6.0.1', '10.6.0.2', 20));
    b.tap.inject(ipv4Frame(a.edge.mac, b.edge.mac, '10.6.0.2', '10.6.0.1', 20));
    await w.settle();
  }
  // The management socket lives on its own in-memory network (127.0.0.1).
  const mnet = new MemoryNetwork();
  const server = serveEdgeManagement(a.edge, mnet.open(MGMT.address, MGMT.port));
  const client = mnet.open(CLIENT.address, CLIENT.port);
  const replies: string[] = [];
  client.onDatagram((d) => replies.push(d.toString('utf8')));
  const ask = async (q: string): Promise<string[]> => {
    replies.length = 0;
    const b2 = Buffer.from(q);
    client.send(b2, 0, b2.length, MGMT);
    await mnet.settle();
    await new Promise((r) => setImmediate(r));
    return [...replies];
  };
  cleanup.push(async () => server.close());
  return { w, a, b, ask };
}

function rows(replies: string[]): Record<string, unknown>[] {
  return replies.map((r) => JSON.parse(r) as Record<string, unknown>);
}

describe('edge management: JSON API', () => {
  it('edges: pending (pSp) and P2P rows with upstream keys', async () => {
    const { ask, b } = await setup();
    const r = rows(await ask('r 7 edges'));
    expect(r[0]).toEqual({ _tag: '7', _type: 'begin', cmd: 'edges' });
    expect(r.at(-1)).toEqual({ _tag: '7', _type: 'end', cmd: 'edges' });
    const peer = r.find((x) => x._type === 'row')!;
    expect(Object.keys(peer)).toEqual([
      '_tag',
      '_type',
      'mode',
      'ip4addr',
      'purgeable',
      'local',
      'macaddr',
      'sockaddr',
      'desc',
      'last_p2p',
      'last_sent_query',
      'last_seen',
    ]);
    expect(peer.mode).toBe('p2p');
    expect(peer.ip4addr).toBe('10.6.0.2/24');
    expect(peer.desc).toBe('beta');
    expect(peer.macaddr).toBe(
      b.edge.mac
        .toString(16)
        .padStart(12, '0')
        .replace(/(..)(?!$)/g, '$1:')
        .toUpperCase(),
    );
    expect(peer.sockaddr).toMatch(/^192\.0\.2\.2:\d+$/);
  });

  it('supernodes, timestamps, packetstats, communities, verbose, help', async () => {
    const { ask, a } = await setup();
    const sn = rows(await ask('r 1 supernodes')).filter((x) => x._type === 'row');
    expect(sn.length).toBe(1);
    expect(Object.keys(sn[0]).slice(2)).toEqual([
      'version',
      'purgeable',
      'current',
      'macaddr',
      'sockaddr',
      'selection',
      'last_seen',
      'uptime',
    ]);
    expect(sn[0].current).toBe(1);
    expect(sn[0].sockaddr).toBe('198.51.100.1:7654');
    expect(sn[0].purgeable).toBe(1);
    const ts = rows(await ask('r 2 timestamps')).find((x) => x._type === 'row')!;
    expect(ts.start_time).toBe(a.edge.startTime);
    expect(ts.last_super).toBeGreaterThan(0);
    const ps = rows(await ask('r 3 packetstats')).filter((x) => x._type === 'row');
    expect(ps.map((x) => x.type)).toEqual(['transop', 'p2p', 'super', 'super_broadcast']);
    expect(ps[0].tx_pkt).toBe(a.edge.traffic.transopTx);
    expect(rows(await ask('r 4 communities'))[1]).toEqual({ _tag: '4', _type: 'row', community: COMMUNITY });
    expect(rows(await ask('r 5 verbose'))[1]).toEqual({ _tag: '5', _type: 'row', traceLevel: 4 });
    // Writing needs the password (default n2n).
    expect(rows(await ask('w 6 verbose 1'))[0]).toEqual({ _tag: '6', _type: 'error', error: 'badauth' });
    expect(rows(await ask('w 6:1:n2n verbose 1'))[1]).toEqual({ _tag: '6', _type: 'row', traceLevel: 1 });
    expect(a.edge.logger.level).toBe(1);
    const help = rows(await ask('r 8 help')).filter((x) => x._type === 'row');
    expect(help.map((x) => x.cmd)).toEqual([
      'reload_communities',
      'stop',
      'verbose',
      'communities',
      'edges',
      'supernodes',
      'timestamps',
      'packetstats',
      'drops',
      'post.test',
      'help',
      'help.events',
    ]);
    expect(rows(await ask('w 9:1:n2n reload_communities'))[1]).toMatchObject({ error: 'unimplemented' });
    expect(rows(await ask('r 9 nosuchcmd'))[0]).toMatchObject({ error: 'unknowncmd' });
    a.edge.drops.rxStamp = 3;
    expect(rows(await ask('r 10 drops')).filter((x) => x._type === 'row')).toEqual([
      { _tag: '10', _type: 'row', reason: 'rxStamp', count: 3 },
    ]);
    expect(rows(await ask('w 9:1:n2n edges'))[0]).toMatchObject({ error: 'readonly' });
  });

  it('communities is refused with header encryption', async () => {
    const w = makeWorld();
    const n = w.edge('192.0.2.1', {
      community: COMMUNITY,
      supernodes: ['198.51.100.9:7654'],
      headerEncryption: true,
    });
    const mnet = new MemoryNetwork();
    serveEdgeManagement(n.edge, mnet.open(MGMT.address, MGMT.port));
    const c = mnet.open(CLIENT.address, CLIENT.port);
    const got: string[] = [];
    c.onDatagram((d) => got.push(d.toString()));
    c.send(Buffer.from('r 1 communities'), 0, 15, MGMT);
    await mnet.settle();
    expect(JSON.parse(got[1])).toEqual({ _tag: '1', _type: 'error', error: 'noaccess' });
  });

  it('peer events go to the subscriber; stop stops the edge', async () => {
    const w = makeWorld();
    const sn = await realSupernode(w, '198.51.100.1', 7654);
    cleanup.push(() => sn.stop());
    const base = { community: COMMUNITY, supernodes: ['198.51.100.1:7654'] };
    const a = w.edge('192.0.2.1', { ...base, address: '10.6.0.1/24' });
    const b = w.edge('192.0.2.2', { ...base, address: '10.6.0.2/24' });
    const mnet = new MemoryNetwork();
    let stopped = false;
    serveEdgeManagement(a.edge, mnet.open(MGMT.address, MGMT.port), {
      onStop: () => {
        stopped = true;
      },
    });
    const c = mnet.open(CLIENT.address, CLIENT.port);
    const got: Record<string, unknown>[] = [];
    c.onDatagram((d) => got.push(JSON.parse(d.toString()) as Record<string, unknown>));
    c.send(Buffer.from('s 42:1:n2n peer'), 0, 15, MGMT);
    await mnet.settle();
    expect(got[0]).toEqual({ _tag: '42', _type: 'subscribe', topic: 'peer' });
    for (const n of [a, b]) {
      await n.edge.start();
      cleanup.push(() => n.edge.stop());
    }
    await w.settle();
    await mnet.settle();
    const added = got.find((x) => x._type === 'event' && x.action === 4);
    expect(added).toMatchObject({ _tag: '42', _type: 'event', action: 4 });
    expect(added!.sockaddr).toMatch(/^192\.0\.2\.2:/);
    c.send(Buffer.from('w 43:1:n2n stop'), 0, 15, MGMT);
    await mnet.settle();
    await new Promise((r) => setImmediate(r));
    expect(got.find((x) => x._tag === '43' && x._type === 'row')).toEqual({
      _tag: '43',
      _type: 'row',
      keep_running: 0,
    });
    expect(stopped).toBe(true);
  });
});

describe('edge management: legacy text', () => {
  it('help, +verb/-verb and the status dump', async () => {
    const { ask, a } = await setup();
    expect((await ask('help'))[0]).toMatch(/^Help for edge management console:/);
    const level = a.edge.logger.level;
    expect(await ask('+verb')).toEqual([`> +OK traceLevel=${level + 1}\n`]);
    expect(await ask('-verb')).toEqual([`> -OK traceLevel=${level}\n`]);
    const dump = (await ask('\n')).join('');
    expect(dump).toContain(`COMMUNITY '${COMMUNITY}'`);
    expect(dump).toContain('PEER TO PEER');
    expect(dump).toMatch(/ {3}1 \| 10\.6\.0\.2 +\| [0-9A-F:]{17} \| 192\.0\.2\.2:\d+ +\| beta/);
    expect(dump).toContain('SUPERNODES');
    expect(dump).toMatch(/198\.51\.100\.1:7654/);
    expect(dump).toContain('Type "help" to see more commands.');
    expect(dump).not.toContain('mss_clamp');
  });
});

describe('edge management: --mss-clamp counters (tsn2n only, shown only with the option)', () => {
  it('packetstats gets an mss_clamp row and the status dump an mss_clamp line', async () => {
    const { ask, a } = await setup({ mssClamp: 1200 });
    a.edge.traffic.mssClampTx = 3;
    a.edge.traffic.mssClampRx = 5;
    const ps = rows(await ask('r 3 packetstats')).filter((x) => x._type === 'row');
    expect(ps.map((x) => x.type)).toEqual(['transop', 'p2p', 'super', 'super_broadcast', 'mss_clamp']);
    expect(ps[4]).toMatchObject({ tx_pkt: 3, rx_pkt: 5 });
    expect((await ask('\n')).join('')).toContain('mss_clamp 3,5\n');
  });
});

describe('edge management: what upstream scripts/n2n-ctl expects', () => {
  it('n2n-ctl edges / supernodes / packetstats over real UDP', async () => {
    const w = makeWorld();
    const sn = await realSupernode(w, '198.51.100.1', 7654);
    cleanup.push(() => sn.stop());
    const a = w.edge('192.0.2.1', {
      community: COMMUNITY,
      supernodes: ['198.51.100.1:7654'],
      address: '10.6.0.1/24',
    });
    const b = w.edge('192.0.2.2', {
      community: COMMUNITY,
      supernodes: ['198.51.100.1:7654'],
      address: '10.6.0.2/24',
    });
    for (const n of [a, b]) {
      await n.edge.start();
      cleanup.push(() => n.edge.stop());
    }
    await w.settle();
    const sock = await openUdp({ address: '127.0.0.1', port: 0 });
    const server: ManagementServer<unknown> = serveEdgeManagement(a.edge as Edge, sock) as never;
    cleanup.push(async () => server.close());
    const port = String(sock.local.port);
    // n2n-ctl's protocol expectations, always checked (helpers/n2n-ctl-client.ts).
    const ctl = new N2nCtlClient(sock.local.port, 'n2n');
    const rows = await ctl.read('edges');
    expect(rows.map((r) => [r.mode, r.ip4addr])).toContainEqual(['p2p', '10.6.0.2/24']);
    expect(Object.keys(rows[0])).toEqual(
      expect.arrayContaining(['mode', 'ip4addr', 'macaddr', 'sockaddr', 'desc', 'last_seen']),
    );
    expect((await ctl.read('supernodes')).map((r) => r.sockaddr)).toContain('198.51.100.1:7654');
    expect((await ctl.read('packetstats')).map((r) => r.type)).toEqual([
      'transop',
      'p2p',
      'super',
      'super_broadcast',
    ]);
    expect(await ctl.write('verbose 2')).toEqual([{ traceLevel: 2 }]);
    // And upstream's script itself where a checkout of n2n sits beside the project (not in CI).
    const script = upstreamN2nCtl();
    if (script === undefined) return;
    const run = async (...args: string[]): Promise<string> =>
      (await execFileP('python3', [script, '-t', port, ...args], { timeout: 10_000 })).stdout;
    const edges = await run('edges');
    // n2n-ctl cuts a heading to its column width: "mode" above "p2p" prints as "mod", an empty desc as "d".
    expect(edges).toMatch(/mod\S* +ip4addr +macaddr +sockaddr +d/);
    expect(edges).toMatch(/(p2p|pSp) +10\.6\.0\.2\/24/);
    const sns = await run('supernodes');
    expect(sns).toMatch(/198\.51\.100\.1:7654/);
    const stats = JSON.parse(await run('packetstats')) as { type: string }[];
    expect(stats.map((s) => s.type)).toEqual(['transop', 'p2p', 'super', 'super_broadcast']);
    const verbose = JSON.parse(await run('-k', 'n2n', '--write', 'verbose', '3')) as { traceLevel: number }[];
    expect(verbose[0].traceLevel).toBe(3);
  });
});
