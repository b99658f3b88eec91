// IPv6 underlay: an IPv6-only segment (supernode and two tsn2n edges, P2P over IPv6), and a dual-stack supernode
// joining an IPv4-only edge (tsn2n, or C 3.1.1 by hand through E2E_EDGE_CMD_V4) with an IPv6-only tsn2n edge,
// and two supernodes federated over IPv6 only.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Lab,
  type LabHost,
  type LabProcess,
  ping,
  tcpTransfer,
  waitFor,
  waitForPing,
} from '../../src/lab/index.js';
import {
  assertAlive,
  edgeArgs,
  edgePeers,
  figure,
  implCommand,
  labGate,
  newLab,
  SN_IP,
  SN_PORT,
  snEdges,
  snForwarded,
  startEdge,
  startSupernode,
  tapMac,
} from './helpers.js';

const gate = labGate();

/** The supernode's IPv6 address on the lab's internet (RFC 3849 documentation prefix). */
const SN6 = '2001:db8:6::1';
const V6_BITS = 64;
/** A name with only an AAAA record, in the edges' own /etc/hosts. */
const SN6_NAME = 'sn6.lab.test';
/** An AAAA-only name of a federation member, in the other supernode's /etc/hosts. */
const FED_PEER_NAME = 'fed6.lab.test';
/** A name with both records, for the dual-stack edges. */
const SN_NAME = 'sn.lab.test';
/** `-i` of the dual-stack edges: seconds between query rounds for a peer not reached directly. */
const QUERY_ROUND_S = 3;
const UP_TIMEOUT_S = 30;
/** An edge whose only `-l` supernode died pings again through one it learned within this. */
const FAILOVER_TIMEOUT_S = 15;
const P2P_TIMEOUT_MS = 30_000;
const PING_COUNT = 10;
const TRANSFER_BYTES = 20 * 1024 * 1024;
/** Relayed datagrams allowed while the transfer runs over the P2P path (registration refreshes, a stray ARP). */
const RELAY_SLACK = 50;

describe.skipIf(gate.skip)('IPv6 underlay', () => {
  let lab: Lab;
  let sn: LabProcess;
  let snHost: LabHost;

  beforeAll(async () => {
    lab = await newLab();
    // A dual-stack supernode; the edge hosts below have one family each.
    snHost = await lab.publicHost('sn', `${SN_IP}/24`, { ipv6: `${SN6}/${V6_BITS}` });
    sn = await startSupernode(lab, snHost, []);
  });

  afterAll(async () => {
    await lab?.destroy();
    if (lab) expect(lab.remaining()).toEqual([]);
  });

  it('IPv6-only hosts: registration, P2P over IPv6, ping and a checked transfer', async () => {
    const a = await lab.publicHost('a6', `2001:db8:6::20/${V6_BITS}`);
    const b = await lab.publicHost('b6', `2001:db8:6::21/${V6_BITS}`);
    lab.hostsFile(b, [`${SN6} ${SN6_NAME}`]);
    const cfg = { community: 'v6only', cipher: 4 };
    // One edge names the supernode by an IPv6 literal, the other by a name that resolves to AAAA only.
    const ea = startEdge(
      lab,
      a,
      edgeArgs({ ...cfg, supernodes: [`[${SN6}]:${SN_PORT}`], address: '10.66.0.1/24', desc: 'a6' }),
    );
    const eb = startEdge(
      lab,
      b,
      edgeArgs({ ...cfg, supernodes: [`${SN6_NAME}:${SN_PORT}`], address: '10.66.0.2/24', desc: 'b6' }),
    );
    try {
      const up = await waitForPing(lab, a.ns, '10.66.0.2', UP_TIMEOUT_S);
      assertAlive(sn, ea, eb);
      expect(up, `no ping across the overlay within ${UP_TIMEOUT_S} s`).toBeDefined();
      // Both registered over IPv6: the supernode sees their IPv6 sockets.
      const rows = (await snEdges(lab, snHost.ns)).filter((r) => r.community === 'v6only');
      expect(rows.map((r) => String(r.sockaddr).split(']')[0]).sort()).toEqual([
        '[2001:db8:6::20',
        '[2001:db8:6::21',
      ]);
      // P2P over IPv6: a lists b as a direct peer at b's IPv6 socket.
      const macB = await tapMac(lab, b.ns);
      const direct = await waitFor(async () => {
        const p = (await edgePeers(lab, a.ns)).get(macB ?? '');
        return p?.mode === 'p2p' ? p : undefined;
      }, P2P_TIMEOUT_MS);
      expect(direct?.sockaddr).toMatch(/^\[2001:db8:6::21\]:\d+$/);
      const p = await ping(lab, a.ns, '10.66.0.2', { count: PING_COUNT, intervalS: 0.1 });
      expect(p.received).toBe(PING_COUNT);
      const before = await snForwarded(lab, snHost.ns);
      const t = await tcpTransfer(lab, a.ns, b.ns, '10.66.0.2', TRANSFER_BYTES);
      const relayed = (await snForwarded(lab, snHost.ns)) - before;
      figure(
        'ipv6-only',
        `up in ${up?.toFixed(1)} s, RTT ${p.avgMs.toFixed(2)} ms, 20 MB in ${t.seconds.toFixed(2)} s = ${t.mbitPerS.toFixed(0)} Mbit/s, sha256 ${t.ok ? 'match' : 'MISMATCH'}, ${relayed} relayed`,
      );
      expect(t.error).toBeUndefined();
      expect(t.receivedBytes).toBe(TRANSFER_BYTES);
      expect(t.receivedSha256).toBe(t.sentSha256);
      expect(relayed).toBeLessThan(RELAY_SLACK);
      assertAlive(sn, ea, eb);
    } finally {
      await Promise.all([ea.stop(), eb.stop()]);
    }
  });

  it('dual-stack edges: P2P over IPv6 while it works, else over IPv4', async () => {
    const e = await lab.publicHost('ds1', '203.0.113.50/24', { ipv6: `2001:db8:6::50/${V6_BITS}` });
    const f = await lab.publicHost('ds2', '203.0.113.51/24', { ipv6: `2001:db8:6::51/${V6_BITS}` });
    // The supernode by a name with both an A and an AAAA record: the edges register over IPv6 (RFC 6724 order).
    for (const h of [e, f]) {
      lab.hostsFile(h, [`${SN6} ${SN_NAME}`, `${SN_IP} ${SN_NAME}`]);
      // No LAN discovery (its multicast is IPv4): the paths are the ones the supernode helps to find.
      await lab.run(h.ns, ['ip', 'route', 'del', '224.0.0.0/4']);
    }
    const cfg = {
      community: 'dual',
      cipher: 4,
      supernodes: [`${SN_NAME}:${SN_PORT}`],
      // A short query round, so the IPv4 fallback (tried from the second round) comes soon.
      extra: ['-i', String(QUERY_ROUND_S)],
    };
    const macF = async (): Promise<string> => (await tapMac(lab, f.ns)) ?? '';
    const directTo = (pattern: RegExp) =>
      waitFor(async () => {
        const p = (await edgePeers(lab, e.ns)).get(await macF());
        return p?.mode === 'p2p' && pattern.test(p.sockaddr) ? p : undefined;
      }, P2P_TIMEOUT_MS);
    const start = (): LabProcess[] => [
      startEdge(lab, e, edgeArgs({ ...cfg, address: '10.68.0.1/24', desc: 'ds1' })),
      startEdge(lab, f, edgeArgs({ ...cfg, address: '10.68.0.2/24', desc: 'ds2' })),
    ];
    let procs = start();
    try {
      expect(await waitForPing(lab, e.ns, '10.68.0.2', UP_TIMEOUT_S)).toBeDefined();
      const v6 = await directTo(/^\[2001:db8:6::51\]:\d+$/);
      expect(v6, 'no P2P path over IPv6 between two dual-stack edges').toBeDefined();
      await Promise.all(procs.map((p) => p.stop()));
      // IPv6 between them broken (each drops what comes from the other's IPv6): IPv4 P2P instead.
      await lab.run(f.ns, ['ip', '-6', 'route', 'add', 'blackhole', '2001:db8:6::50/128']);
      await lab.run(e.ns, ['ip', '-6', 'route', 'add', 'blackhole', '2001:db8:6::51/128']);
      procs = start();
      const up = await waitForPing(lab, e.ns, '10.68.0.2', UP_TIMEOUT_S);
      expect(up).toBeDefined();
      const v4 = await directTo(/^203\.0\.113\.51:\d+$/);
      expect(v4, 'no P2P path over IPv4 when IPv6 between the edges is broken').toBeDefined();
      const p = await ping(lab, e.ns, '10.68.0.2', { count: PING_COUNT, intervalS: 0.1 });
      expect(p.received).toBe(PING_COUNT);
      figure('dual-stack P2P', `IPv6 path ${v6?.sockaddr}; with IPv6 blackholed: IPv4 path ${v4?.sockaddr}`);
      assertAlive(sn, ...procs);
    } finally {
      await Promise.all(procs.map((p) => p.stop()));
    }
  });

  it('two supernodes federated over IPv6 only: an edge at each, relayed across the federation', async () => {
    // Supernodes on IPv6-only hosts: one names the other by literal, the other by an AAAA-only name.
    const fa = await lab.publicHost('f6a', `2001:db8:6::2/${V6_BITS}`);
    const fb = await lab.publicHost('f6b', `2001:db8:6::3/${V6_BITS}`);
    lab.hostsFile(fb, [`2001:db8:6::2 ${FED_PEER_NAME}`]);
    const snA = await startSupernode(lab, fa, ['-l', `[2001:db8:6::3]:${SN_PORT}`], 'sn@f6a');
    const snB = await startSupernode(lab, fb, ['-l', `${FED_PEER_NAME}:${SN_PORT}`], 'sn@f6b');
    const a = await lab.publicHost('fe6a', `2001:db8:6::60/${V6_BITS}`);
    const b = await lab.publicHost('fe6b', `2001:db8:6::61/${V6_BITS}`);
    // No path between the edges: everything goes edge → supernode → supernode → edge.
    await lab.run(a.ns, ['ip', '-6', 'route', 'add', 'blackhole', '2001:db8:6::61/128']);
    await lab.run(b.ns, ['ip', '-6', 'route', 'add', 'blackhole', '2001:db8:6::60/128']);
    const cfg = { community: 'fed6', cipher: 4 };
    const ea = startEdge(
      lab,
      a,
      edgeArgs({ ...cfg, supernodes: [`[2001:db8:6::2]:${SN_PORT}`], address: '10.69.0.1/24', desc: 'fe6a' }),
    );
    const eb = startEdge(
      lab,
      b,
      edgeArgs({ ...cfg, supernodes: [`[2001:db8:6::3]:${SN_PORT}`], address: '10.69.0.2/24', desc: 'fe6b' }),
    );
    try {
      const up = await waitForPing(lab, a.ns, '10.69.0.2', UP_TIMEOUT_S);
      assertAlive(snA, snB, ea, eb);
      expect(up, `no ping across the federation within ${UP_TIMEOUT_S} s`).toBeDefined();
      // Each supernode has its own edge only: the other one is reached through the federation.
      for (const [ns, desc] of [
        [fa.ns, 'fe6a'],
        [fb.ns, 'fe6b'],
      ] as const) {
        const rows = (await snEdges(lab, ns)).filter((r) => r.community === 'fed6');
        expect(rows.map((r) => r.desc)).toEqual([desc]);
      }
      const before = await snForwarded(lab, fa.ns);
      const p = await ping(lab, a.ns, '10.69.0.2', { count: PING_COUNT, intervalS: 0.1 });
      expect(p.received).toBe(PING_COUNT);
      expect((await snForwarded(lab, fa.ns)) - before).toBeGreaterThanOrEqual(PING_COUNT);
      // Edge a was given snA only: it learned snB (IPv6) from the ACK's supernode list and fails over to it.
      await snA.stop();
      const back = await waitForPing(lab, a.ns, '10.69.0.2', FAILOVER_TIMEOUT_S);
      assertAlive(snB, ea, eb);
      expect(back, `no failover to the learned IPv6 supernode within ${FAILOVER_TIMEOUT_S} s`).toBeDefined();
      const rows = (await snEdges(lab, fb.ns)).filter((r) => r.community === 'fed6');
      expect(rows.map((r) => r.desc).sort()).toEqual(['fe6a', 'fe6b']);
      figure(
        'ipv6 federation',
        `up in ${up?.toFixed(1)} s, RTT ${p.avgMs.toFixed(2)} ms via two supernodes; failover to the learned IPv6 supernode in ${back?.toFixed(1)} s`,
      );
    } finally {
      await Promise.all([ea.stop(), eb.stop(), snA.stop(), snB.stop()]);
    }
  });

  it('dual-stack supernode: an IPv4-only edge and an IPv6-only edge reach each other through it', async () => {
    // Host "v4" has no IPv6 at all; its edge is tsn2n unless E2E_EDGE_CMD_V4 names C 3.1.1's edge.
    const v4 = await lab.publicHost('v4', '203.0.113.40/24');
    const v6 = await lab.publicHost('v6', `2001:db8:6::41/${V6_BITS}`);
    const cfg = { community: 'mixed', cipher: 4 };
    const e4 = startEdge(
      lab,
      v4,
      edgeArgs({ ...cfg, supernodes: [`${SN_IP}:${SN_PORT}`], address: '10.67.0.1/24', desc: 'v4' }),
    );
    const e6 = startEdge(
      lab,
      v6,
      edgeArgs({ ...cfg, supernodes: [`[${SN6}]:${SN_PORT}`], address: '10.67.0.2/24', desc: 'v6' }),
    );
    try {
      const up = await waitForPing(lab, v4.ns, '10.67.0.2', UP_TIMEOUT_S);
      assertAlive(sn, e4, e6);
      expect(up, `no ping across the overlay within ${UP_TIMEOUT_S} s`).toBeDefined();
      const rows = (await snEdges(lab, snHost.ns)).filter((r) => r.community === 'mixed');
      expect(rows.map((r) => String(r.sockaddr).replace(/:\d+$/, '')).sort()).toEqual([
        '203.0.113.40',
        '[2001:db8:6::41]',
      ]);
      const p = await ping(lab, v4.ns, '10.67.0.2', { count: PING_COUNT, intervalS: 0.1 });
      expect(p.received).toBe(PING_COUNT);
      const pBack = await ping(lab, v6.ns, '10.67.0.1', { count: PING_COUNT, intervalS: 0.1 });
      expect(pBack.received).toBe(PING_COUNT);
      const before = await snForwarded(lab, snHost.ns);
      const t = await tcpTransfer(lab, v6.ns, v4.ns, '10.67.0.1', TRANSFER_BYTES);
      const relayed = (await snForwarded(lab, snHost.ns)) - before;
      figure(
        'dual-stack v4<->v6 via supernode',
        `IPv4 edge ${implCommand('edge', 'v4').at(-1) === 'edge' ? 'tsn2n' : implCommand('edge', 'v4').join(' ')}: up in ${up?.toFixed(1)} s, RTT ${p.avgMs.toFixed(2)} ms, 20 MB in ${t.seconds.toFixed(2)} s = ${t.mbitPerS.toFixed(0)} Mbit/s, sha256 ${t.ok ? 'match' : 'MISMATCH'}, ${relayed} relayed`,
      );
      expect(t.error).toBeUndefined();
      expect(t.receivedBytes).toBe(TRANSFER_BYTES);
      expect(t.receivedSha256).toBe(t.sentSha256);
      // No shared family: everything went through the supernode.
      expect(relayed).toBeGreaterThan(TRANSFER_BYTES / (64 * 1024));
      // The IPv4 edge (maybe 3.1.1) was never told an IPv6 socket: none of its peers has one.
      for (const [mac, peer] of await edgePeers(lab, v4.ns)) {
        expect(peer.sockaddr, `peer ${mac} of the IPv4 edge`).not.toContain('[');
      }
      assertAlive(sn, e4, e6);
    } finally {
      await Promise.all([e4.stop(), e6.stop()]);
    }
  });
});
