// Case 4: supernode killed and restarted; an edge's underlay address changes. Both must recover within 30 s.
import { afterEach, describe, expect, it } from 'vitest';
import { type Lab, NatKind, ping, sleep, waitFor, waitForPing } from '../../src/lab/index.js';
import {
  assertAlive,
  edgeArgs,
  edgePeers,
  figure,
  labGate,
  natTopology,
  newLab,
  SN_ADDR,
  snEdges,
  startEdge,
  startSupernode,
  tapMac,
} from './helpers.js';

const gate = labGate();

const A_IP = '10.81.0.1';
const B_IP = '10.81.0.2';
const UP_TIMEOUT_S = 30;
/** The bound for both recoveries. */
const RECOVER_LIMIT_S = 30;
/** How long we keep watching past the limit, so a slow recovery is measured rather than just failed. */
const WATCH_S = 45;

describe.skipIf(gate.skip)('case 4: recovery', () => {
  let lab: Lab | undefined;

  afterEach(async () => {
    await lab?.destroy();
    if (lab) expect(lab.remaining()).toEqual([]);
    lab = undefined;
  });

  it('supernode killed and restarted: edges re-register and traffic resumes within 30 s', async () => {
    lab = await newLab();
    // Strict NATs: no P2P, so every packet depends on the supernode and its loss is visible.
    const t = await natTopology(lab, [
      { name: 'a', kind: NatKind.STRICT },
      { name: 'b', kind: NatKind.STRICT },
    ]);
    const [a, b] = t.edges;
    let sn = await startSupernode(lab, t.sn, [], 'sn-1');
    const cfg = { community: 'recover', supernodes: [SN_ADDR], cipher: 3 };
    const ea = startEdge(lab, a, edgeArgs({ ...cfg, address: `${A_IP}/24`, desc: 'a' }));
    const eb = startEdge(lab, b, edgeArgs({ ...cfg, address: `${B_IP}/24`, desc: 'b' }));
    expect(await waitForPing(lab, a.ns, B_IP, UP_TIMEOUT_S), 'no ping across the overlay').toBeDefined();

    await sn.kill();
    const down = await ping(lab, a.ns, B_IP, { count: 3, intervalS: 0.3, waitS: 1 });
    // Supernode gone and no P2P: the overlay is cut.
    expect(down.received).toBe(0);
    await sleep(2000);

    const t0 = performance.now();
    sn = await startSupernode(lab, t.sn, [], 'sn-2');
    const back = await waitForPing(lab, a.ns, B_IP, WATCH_S);
    const resumed = (performance.now() - t0) / 1000;
    const registered = await waitFor(
      async () => ((await snEdges(lab!, t.sn.ns).catch(() => [])).length >= 2 ? true : undefined),
      10_000,
    );
    const p = await ping(lab, a.ns, B_IP, { count: 5, intervalS: 0.2 });
    figure(
      'case 4 (supernode restart)',
      back === undefined
        ? `traffic did NOT resume within ${WATCH_S} s`
        : `traffic resumed ${resumed.toFixed(1)} s after the restart; RTT ${p.avgMs.toFixed(2)} ms`,
    );
    expect(back, `traffic did not resume within ${WATCH_S} s`).toBeDefined();
    expect(resumed).toBeLessThan(RECOVER_LIMIT_S);
    expect(registered, 'the restarted supernode does not list both edges').toBe(true);
    expect(p.received).toBe(5);
    // The edges were never restarted.
    assertAlive(ea, eb, sn);
  });

  it("an edge's underlay address changes (moved behind another NAT): it recovers within 30 s without a restart", async () => {
    lab = await newLab();
    const t = await natTopology(lab, [
      { name: 'a', kind: NatKind.OPEN },
      { name: 'b', kind: NatKind.OPEN },
    ]);
    const [a, b] = t.edges;
    const r3 = await lab.natRouter('r3', '203.0.113.13/24', '192.168.3.1/24', NatKind.OPEN);
    const sn = await startSupernode(lab, t.sn, []);
    const cfg = { community: 'moving', supernodes: [SN_ADDR], cipher: 4 };
    const ea = startEdge(lab, a, edgeArgs({ ...cfg, address: `${A_IP}/24`, desc: 'a' }));
    const eb = startEdge(lab, b, edgeArgs({ ...cfg, address: `${B_IP}/24`, desc: 'b' }));
    expect(await waitForPing(lab, b.ns, A_IP, UP_TIMEOUT_S), 'no ping across the overlay').toBeDefined();
    const pidA = ea.pid;

    // a leaves NAT r1 for NAT r3: new LAN address, new public address, every NAT mapping gone.
    await lab.moveHost(a, r3, '192.168.3.2/24');
    const t0 = performance.now();
    const back = await waitForPing(lab, b.ns, A_IP, WATCH_S);
    const recovered = (performance.now() - t0) / 1000;
    const p = await ping(lab, a.ns, B_IP, { count: 5, intervalS: 0.2 });
    const macA = await tapMac(lab, a.ns);
    const peerOfB = (await edgePeers(lab, b.ns).catch(() => undefined))?.get(macA ?? '');
    const snRow = (await snEdges(lab, t.sn.ns)).find((r) => String(r.ip4addr).startsWith(A_IP));
    figure(
      'case 4 (underlay address change)',
      back === undefined
        ? `NOT recovered within ${WATCH_S} s`
        : `recovered ${recovered.toFixed(1)} s after the move; RTT ${p.avgMs.toFixed(2)} ms; b sees a as ` +
            `${peerOfB?.mode ?? 'not a peer'} ${peerOfB?.sockaddr ?? ''}; supernode has a at ${String(snRow?.sockaddr)}`,
    );
    expect(back, `no recovery within ${WATCH_S} s`).toBeDefined();
    expect(recovered).toBeLessThan(RECOVER_LIMIT_S);
    expect(p.received).toBe(5);
    // The supernode follows the new public address.
    expect(String(snRow?.sockaddr)).toContain(r3.ip);
    assertAlive(sn, ea, eb);
    expect(ea.pid).toBe(pidA);
  });
});
