// `tsn2n status`: the HTTP API's status and the UDP management fallback (3.1.1 JSON), the fallback order, the table.
import { afterEach, describe, expect, it } from 'vitest';
import { queryStatus } from '../../src/cli/status.js';
import { openUdp } from '../../src/io/udp.js';
import { serveEdgeManagement } from '../../src/management/edge.js';
import { HttpServer } from '../../src/management/http.js';
import { edgeHttpApp, supernodeHttpApp } from '../../src/management/http-api.js';
import { edgeMetrics, supernodeMetrics } from '../../src/management/metrics.js';
import {
  fetchHttpStatus,
  fetchUdpStatus,
  formatTable,
  renderStatus,
  StatusError,
} from '../../src/management/status-client.js';
import { SupernodeManagement } from '../../src/management/supernode.js';
import type { EdgeStatusView, SupernodeStatusView } from '../../src/management/views.js';
import { ipv4Frame, makeWorld, realSupernode, type TestNode } from './edge-harness.js';

const MAC_A = 0x02_00_00_00_00_0a;
const MAC_B = 0x02_00_00_00_00_0b;
const VERSION = '1.2.3';
const TOKEN = 'tok';
/** Short: the unreachable cases wait this long for a UDP answer that never comes. */
const QUICK_TIMEOUT_MS = 300;

let cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function lab(): Promise<{ a: TestNode; b: TestNode; sn: Awaited<ReturnType<typeof realSupernode>> }> {
  const w = makeWorld();
  const sn = await realSupernode(w, '198.51.100.1', 7654);
  cleanup.push(() => sn.stop());
  const base = { community: 'statusnet', supernodes: ['198.51.100.1:7654'] };
  const a = w.edge('192.0.2.1', {
    ...base,
    address: '10.4.0.1/24',
    mac: '02:00:00:00:00:0a',
    description: 'alpha',
  });
  const b = w.edge('192.0.2.2', {
    ...base,
    address: '10.4.0.2/24',
    mac: '02:00:00:00:00:0b',
    description: 'beta',
  });
  for (const n of [a, b]) {
    await n.edge.start();
    cleanup.push(() => n.edge.stop());
  }
  await w.settle();
  for (let i = 0; i < 3; i++) {
    a.tap.inject(ipv4Frame(MAC_B, MAC_A, '10.4.0.1', '10.4.0.2', 40));
    b.tap.inject(ipv4Frame(MAC_A, MAC_B, '10.4.0.2', '10.4.0.1', 40));
    await w.settle();
  }
  return { a, b, sn };
}

async function http(app: Parameters<typeof HttpServer.start>[0]['app'], token?: string): Promise<number> {
  const s = await HttpServer.start({ host: '127.0.0.1', port: 0, app, token });
  cleanup.push(() => s.close());
  return s.address.port;
}

describe('status over HTTP', () => {
  it("reads an edge's status: peers with path, address, RTT; traffic; supernode", async () => {
    const { a } = await lab();
    const stop = (): void => {};
    const port = await http(
      edgeHttpApp(a.edge, { version: VERSION, metrics: edgeMetrics(a.edge, { version: VERSION }), stop }),
      TOKEN,
    );
    await expect(fetchHttpStatus('127.0.0.1', port, undefined)).rejects.toThrow(/wants a token/);
    const r = await fetchHttpStatus('127.0.0.1', port, TOKEN);
    expect(r.source).toBe('http');
    const s = r.status as EdgeStatusView;
    expect(s).toMatchObject({
      kind: 'edge',
      version: VERSION,
      community: 'statusnet',
      mac: '02:00:00:00:00:0a',
      ip: '10.4.0.1/24',
      registered: true,
      supernode: '198.51.100.1:7654',
      publicAddr: expect.stringMatching(/^192\.0\.2\.1:\d+$/),
    });
    expect(s.peers).toEqual([
      expect.objectContaining({
        mac: '02:00:00:00:00:0b',
        ip: '10.4.0.2/24',
        path: 'p2p',
        desc: 'beta',
        rttMs: 0,
      }),
    ]);
    expect(s.traffic.p2p.txPackets).toBeGreaterThan(0);
    const text = renderStatus(r);
    expect(text).toMatch(/^edge: 02:00:00:00:00:0a {2}10\.4\.0\.1\/24$/m);
    expect(text).toMatch(/supernode: 198\.51\.100\.1:7654, registered; public address 192\.0\.2\.1:\d+/);
    expect(text).toMatch(/^PEER +IP +PATH +ADDRESS +RTT +LAST SEEN +DESC$/m);
    expect(text).toMatch(
      /^02:00:00:00:00:0b +10\.4\.0\.2\/24 +p2p +192\.0\.2\.2:\d+ +0\.00 ms +\S+ ago +beta$/m,
    );
  });

  it("reads a supernode's status: communities and edges", async () => {
    const { sn } = await lab();
    const port = await http(
      supernodeHttpApp(sn, {
        version: VERSION,
        metrics: supernodeMetrics(sn, { version: VERSION }),
        stop: () => {},
      }),
    );
    const r = await fetchHttpStatus('127.0.0.1', port, undefined);
    const s = r.status as SupernodeStatusView;
    expect(s.kind).toBe('supernode');
    expect(s.communities).toEqual([
      { name: 'statusnet', purgeable: true, subnet: expect.any(String), edges: 2 },
    ]);
    expect(s.edges.map((e) => e.mac).sort()).toEqual(['02:00:00:00:00:0a', '02:00:00:00:00:0b']);
    const text = renderStatus(r);
    expect(text).toMatch(
      /^statusnet +02:00:00:00:00:0a +10\.4\.0\.1\/24 +192\.0\.2\.1:\d+ +UDP +\S+ ago +alpha$/m,
    );
  });
});

describe('status over the UDP management port (n2n 3.1.1 JSON)', () => {
  it("reads an edge's peers, supernodes and counters", async () => {
    const { a } = await lab();
    const sock = await openUdp({ address: '127.0.0.1', port: 0 });
    const server = serveEdgeManagement(a.edge, sock);
    cleanup.push(() => server.close());
    const r = await fetchUdpStatus('127.0.0.1', sock.local.port);
    expect(r.source).toBe('udp');
    const s = r.status as EdgeStatusView;
    expect(s.kind).toBe('edge');
    expect(s.community).toBe('statusnet');
    expect(s.registered).toBe(true);
    expect(s.supernode).toBe('198.51.100.1:7654');
    expect(s.peers).toEqual([
      expect.objectContaining({ mac: '02:00:00:00:00:0b', ip: '10.4.0.2/24', path: 'p2p', rttMs: null }),
    ]);
    expect(s.traffic.p2p.txPackets).toBe(a.edge.traffic.txP2p);
    const text = renderStatus(r);
    expect(text).toMatch(/^02:00:00:00:00:0b +10\.4\.0\.2\/24 +p2p +192\.0\.2\.2:\d+ +- +/m);
    expect(text).toContain('(from the UDP management port)');
  });

  it("reads a supernode's edges", async () => {
    const { sn } = await lab();
    const sock = await openUdp({ address: '127.0.0.1', port: 0 });
    const mgmt = new SupernodeManagement(sn, sock);
    cleanup.push(() => mgmt.close());
    const s = (await fetchUdpStatus('127.0.0.1', sock.local.port)).status as SupernodeStatusView;
    expect(s.kind).toBe('supernode');
    expect(s.edges).toHaveLength(2);
    expect(s.communities).toEqual([expect.objectContaining({ name: 'statusnet', edges: 2 })]);
    expect(s.stats.forwarded).toBe(sn.stats.fwd);
  });
});

describe('fallback order', () => {
  it('tries HTTP then UDP on each port, and says what it tried when nothing answers', async () => {
    const { a } = await lab();
    // A port where nothing listens (bound and closed again), then one with only a UDP management port.
    const free = await openUdp({ address: '127.0.0.1', port: 0 });
    const deadPort = free.local.port;
    free.close();
    const sock = await openUdp({ address: '127.0.0.1', port: 0 });
    const server = serveEdgeManagement(a.edge, sock);
    cleanup.push(() => server.close());
    const opts = { udpOnly: false, token: undefined, timeoutMs: QUICK_TIMEOUT_MS };
    const r = await queryStatus('127.0.0.1', [deadPort, sock.local.port], opts);
    expect(r.source).toBe('udp');
    expect(r.address).toBe(`127.0.0.1:${sock.local.port}`);
    const err = await queryStatus('127.0.0.1', [deadPort], opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StatusError);
    expect(String((err as Error).message)).toMatch(
      /no tsn2n or n2n daemon answered \(HTTP .*ECONNREFUSED.*; UDP .*no answer/,
    );
  });

  it('stops at a daemon that answers but wants a token', async () => {
    const { a } = await lab();
    const port = await http(
      edgeHttpApp(a.edge, {
        version: VERSION,
        metrics: edgeMetrics(a.edge, { version: VERSION }),
        stop: () => {},
      }),
      TOKEN,
    );
    await expect(
      queryStatus('127.0.0.1', [port], { udpOnly: false, token: undefined, timeoutMs: QUICK_TIMEOUT_MS }),
    ).rejects.toThrow(/wants a token/);
  });
});

describe('formatTable', () => {
  it('aligns columns and does not pad the last one', () => {
    expect(
      formatTable(
        ['A', 'BB', 'C'],
        [
          ['xxx', 'y', 'z'],
          ['1', '22222', '3'],
        ],
      ),
    ).toBe(['A    BB     C', 'xxx  y      z', '1    22222  3'].join('\n'));
  });
});
