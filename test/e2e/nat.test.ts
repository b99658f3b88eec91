// Cases 2 and 3: edges behind their own NATs move from the supernode relay to P2P; behind strict NATs they stay relayed.
import { afterEach, describe, expect, it } from 'vitest';
import { type Lab, NatKind, ping, sleep, tcpTransfer, waitFor, waitForPing } from '../../src/lab/index.js';
import {
  assertAlive,
  EDGE_MGMT_PORT,
  edgeArgs,
  edgePeers,
  figure,
  labGate,
  natTopology,
  newLab,
  SN_ADDR,
  SN_MGMT_PORT,
  snForwarded,
  snStats,
  startEdge,
  startSupernode,
  tapMac,
} from './helpers.js';

const gate = labGate();

const A_IP = '10.78.0.1';
const B_IP = '10.78.0.2';
const UP_TIMEOUT_S = 30;
/** Generous bound for hole punching; 3.1.1 needs a query round trip plus one REGISTER exchange. */
const P2P_TIMEOUT_MS = 30_000;
const TRANSFER_BYTES = 20 * 1024 * 1024;

describe.skipIf(gate.skip)('cases 2 and 3: NAT traversal and relay fallback', () => {
  let lab: Lab | undefined;

  afterEach(async () => {
    await lab?.destroy();
    if (lab) expect(lab.remaining()).toEqual([]);
    lab = undefined;
  });

  it('case 2: behind two NATs, traffic starts via the supernode and moves to P2P', async () => {
    lab = await newLab();
    const t = await natTopology(lab, [
      { name: 'a', kind: NatKind.OPEN },
      { name: 'b', kind: NatKind.OPEN },
    ]);
    const [a, b] = t.edges;
    const sn = await startSupernode(lab, t.sn, []);
    const before = await waitFor(() => snStats(lab!, t.sn.ns).catch(() => undefined), 10_000);
    expect(before, 'supernode management API (packetstats) did not answer').toBeDefined();
    const cfg = { community: 'natnet', supernodes: [SN_ADDR], cipher: 4 };
    const t0 = performance.now();
    const ea = startEdge(lab, a, edgeArgs({ ...cfg, address: `${A_IP}/24`, desc: 'a' }));
    const eb = startEdge(lab, b, edgeArgs({ ...cfg, address: `${B_IP}/24`, desc: 'b' }));

    const up = await waitForPing(lab, a.ns, B_IP, UP_TIMEOUT_S);
    assertAlive(sn, ea, eb);
    expect(up, 'no ping across the overlay').toBeDefined();

    const macA = await tapMac(lab, a.ns);
    const macB = await tapMac(lab, b.ns);
    // Keep traffic going while waiting for both sides to list the other as a direct (p2p) peer.
    const direct = await waitFor(async () => {
      await ping(lab!, a.ns, B_IP, { count: 2, intervalS: 0.2 });
      const pa = await edgePeers(lab!, a.ns, EDGE_MGMT_PORT).catch(() => undefined);
      const pb = await edgePeers(lab!, b.ns, EDGE_MGMT_PORT).catch(() => undefined);
      return pa?.get(macB!)?.mode === 'p2p' && pb?.get(macA!)?.mode === 'p2p' ? { pa, pb } : undefined;
    }, P2P_TIMEOUT_MS);
    const toP2p = (performance.now() - t0) / 1000;
    expect(direct, 'the edges never listed each other as p2p').toBeDefined();
    // The direct path goes to the peer's NAT (its public address), not to the supernode.
    expect(direct?.pa.get(macB!)?.sockaddr).toContain(t.routers[1].ip);
    // Before the direct path existed, the first frames (ARP, first packets) were relayed by the supernode.
    const atP2p = await snStats(lab, t.sn.ns);
    const relayed = atP2p.forward + atP2p.broadcast - (before?.forward ?? 0) - (before?.broadcast ?? 0);
    expect(relayed).toBeGreaterThan(0);

    // Prove the path: with P2P up, the supernode's forward counter stops growing while traffic flows.
    await sleep(500);
    const fwd1 = await snForwarded(lab, t.sn.ns);
    const p = await ping(lab, a.ns, B_IP, { count: 20, intervalS: 0.1 });
    const tr = await tcpTransfer(lab, a.ns, b.ns, B_IP, TRANSFER_BYTES);
    const fwd2 = await snForwarded(lab, t.sn.ns, SN_MGMT_PORT);
    figure(
      'case 2 (NAT, P2P)',
      `first ping ${up?.toFixed(1)} s and P2P ${toP2p.toFixed(1)} s after the edges started; P2P RTT ${p.avgMs.toFixed(2)} ms; ` +
        `20 MB in ${tr.seconds.toFixed(2)} s = ${tr.mbitPerS.toFixed(0)} Mbit/s; the supernode relayed ${relayed} ` +
        `packets before P2P and forwarded ${fwd2 - fwd1} during 20 pings + 20 MB after`,
    );
    expect(p.received).toBe(20);
    expect(tr.ok, tr.error).toBe(true);
    expect(fwd2 - fwd1).toBe(0);
    assertAlive(sn, ea, eb);
  });

  it('case 3: behind strict NATs (no hole punching possible), traffic keeps flowing via the supernode', async () => {
    lab = await newLab();
    const t = await natTopology(lab, [
      { name: 'a', kind: NatKind.STRICT },
      { name: 'b', kind: NatKind.STRICT },
    ]);
    const [a, b] = t.edges;
    const sn = await startSupernode(lab, t.sn, []);
    const cfg = { community: 'strictnet', supernodes: [SN_ADDR], cipher: 4 };
    const ea = startEdge(lab, a, edgeArgs({ ...cfg, address: `${A_IP}/24`, desc: 'a' }));
    const eb = startEdge(lab, b, edgeArgs({ ...cfg, address: `${B_IP}/24`, desc: 'b' }));
    const up = await waitForPing(lab, a.ns, B_IP, UP_TIMEOUT_S);
    assertAlive(sn, ea, eb);
    expect(up, 'no ping across the overlay').toBeDefined();

    // Longer than the edges need to try hole punching (case 2 shows it takes seconds): no ping may be lost.
    const fwd1 = await snForwarded(lab, t.sn.ns);
    const PINGS = 60;
    const p = await ping(lab, a.ns, B_IP, { count: PINGS, intervalS: 0.25 });
    const fwd2 = await snForwarded(lab, t.sn.ns);
    const tr = await tcpTransfer(lab, a.ns, b.ns, B_IP, TRANSFER_BYTES);
    const pa = await edgePeers(lab, a.ns);
    const macB = await tapMac(lab, b.ns);
    figure(
      'case 3 (strict NAT, relay)',
      `first ping after ${up?.toFixed(1)} s; ${p.received}/${p.transmitted} pings over 15 s, RTT ${p.avgMs.toFixed(2)} ms; ` +
        `supernode forwarded ${fwd2 - fwd1} packets for them; 20 MB relayed in ${tr.seconds.toFixed(2)} s = ${tr.mbitPerS.toFixed(0)} Mbit/s; ` +
        `a lists b as ${pa.get(macB!)?.mode ?? 'not a peer'}`,
    );
    expect(p.received).toBe(PINGS);
    // Every echo request and reply went through the supernode.
    expect(fwd2 - fwd1).toBeGreaterThanOrEqual(2 * PINGS);
    expect(pa.get(macB!)?.mode).not.toBe('p2p');
    expect(tr.ok, tr.error).toBe(true);
    assertAlive(sn, ea, eb);
  });
});
