// Case "kubernetes data plane": 3 nodes on tsn2n, pods behind them, BGP over the overlay, VXLAN/IPIP, and the MTU trap.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Lab, parsePing, tcpTransfer } from '../../src/lab/index.js';
import {
  BGP_PORT,
  Cluster,
  type ClusterNode,
  type ClusterOptions,
  ENCAP_BYTES,
  Encap,
  ipipSupport,
  NODE_COUNT,
  overlayIp,
  tcpConnect,
  underlayIp,
} from './cluster.js';
import { assertAlive, figure, labGate, newLab } from './helpers.js';

/** Tools this case needs besides the lab's: BIRD 2 and its client, nft (filters and counters), bridge (VXLAN FDB). */
const TOOLS = ['bird', 'birdc', 'nft', 'bridge'];
const gate = labGate(TOOLS);

/** The pod → pod transfer: 50 MiB, SHA-256-checked. */
const TRANSFER_BYTES = 50 * 1024 * 1024;
/** How long a transfer that should stall is given: a healthy one moves 50 MiB in a few seconds here. */
const STALL_BOUND_MS = 8_000;
/** Time a transfer that should complete may take. */
const TRANSFER_TIMEOUT_MS = 60_000;
/** TAP MTU tsn2n recommends on a 1500-byte underlay with a cipher (docs/kubernetes.md: underlay − 104). */
const RECOMMENDED_TAP_MTU = 1396;
/** IPv4 (20) + ICMP (8) header bytes: the largest ping payload is MTU − this. */
const IPV4_ICMP_HEADER_BYTES = 28;
/** Pings per pod pair. */
const POD_PINGS = 5;
/** Wrong MTUs of the trap: TAP raised to 1500 with pods at 1450 in VXLAN; pods left at 1500 on the default TAP. */
const TRAP_TAP_MTU = 1500;
const TRAP1_POD_MTU = 1450;
const TRAP2_POD_MTU = 1500;
/** The lab's underlay MTU (veth default) and the MSS auto must derive from it with ChaCha20: 1500 − 104 − 40. */
const UNDERLAY_MTU = 1500;
const UNDERLAY_AUTO_MSS = 1356;
/** n2n 3.1.1's default TAP MTU (`-M`). */
const DEFAULT_TAP_MTU = 1290;

/** `ping -M do` (don't fragment) with a payload of `size` bytes from a pod to another node's pod. */
async function dfPing(lab: Lab, from: ClusterNode, to: ClusterNode, size: number, count: number) {
  const r = await lab.run(
    from.podNs,
    ['ping', '-n', '-M', 'do', '-s', String(size), '-c', String(count), '-i', '0.2', '-W', '1', to.podIp],
    { check: false },
  );
  return parsePing(r.stdout + r.stderr);
}

describe.skipIf(gate.skip)('kubernetes data plane', () => {
  let lab: Lab | undefined;
  let dir: string | undefined;

  afterEach(async () => {
    await lab?.destroy();
    if (lab) expect(lab.remaining()).toEqual([]);
    if (dir) rmSync(dir, { recursive: true, force: true });
    lab = undefined;
    dir = undefined;
  });

  async function cluster(opts: ClusterOptions): Promise<Cluster> {
    lab = await newLab(TOOLS);
    dir = mkdtempSync(join(tmpdir(), 'tsn2n-k8s-'));
    return Cluster.create(lab, opts, dir);
  }

  /**
   * The recommended set-up of docs/kubernetes.md on an underlay that drops IP fragments: TAP = 1500 − 104, pods =
   * TAP − encapsulation, --mss-clamp. Everything the guide promises is checked.
   */
  async function dataPlane(encap: Encap): Promise<void> {
    const podMtu = RECOMMENDED_TAP_MTU - ENCAP_BYTES[encap];
    const c = await cluster({
      encap,
      tapMtu: RECOMMENDED_TAP_MTU,
      podMtu,
      mssClamp: true,
      dropUnderlayFragments: true,
      filterFragNeeded: false,
    });
    const l = c.lab;
    const [n1, n2, n3] = c.nodes;

    // BGP: every session Established, between overlay addresses.
    let sessions = 0;
    for (const node of c.nodes) {
      const states = await c.bgpStates(node);
      for (const o of c.nodes) {
        if (o === node) continue;
        expect(states.get(o.name), `${node.name} → ${o.name}`).toBe('Established');
        const all = await c.birdc(node, ['show', 'protocols', 'all', o.name]);
        expect(all).toMatch(new RegExp(`Neighbor address:\\s+${o.overlayIp.replaceAll('.', '\\.')}\\b`));
        expect(all).toMatch(new RegExp(`Source address:\\s+${node.overlayIp.replaceAll('.', '\\.')}\\b`));
        sessions++;
      }
      // BIRD listens on the overlay address only.
      const ss = await l.run(node.host.ns, ['ss', '-Hltn', `sport = :${BGP_PORT}`]);
      const listening = ss.stdout
        .split('\n')
        .filter((x) => x.trim())
        .map((x) => x.trim().split(/\s+/)[3]);
      expect(listening).toEqual([`${node.overlayIp}:${BGP_PORT}`]);
    }
    expect(sessions).toBe(NODE_COUNT * (NODE_COUNT - 1));

    // Port 179 from the underlay: the public address has nothing on 179, from outside or from another node.
    const fromOutside = await tcpConnect(l, c.outside.ns, underlayIp(1), BGP_PORT);
    const fromNode2Underlay = await tcpConnect(l, n2.host.ns, underlayIp(1), BGP_PORT, underlayIp(2));
    expect(fromOutside).not.toBe('connected');
    expect(fromNode2Underlay).not.toBe('connected');
    // A neighbour on the underlay that routes the overlay via node 1's public address does reach BIRD (Linux
    // accepts packets for any local address on any interface): the host firewall of the guide is what stops it.
    await c.routeOverlayVia(n1);
    const viaPublicOpen = await tcpConnect(l, c.outside.ns, overlayIp(1), BGP_PORT);
    expect(viaPublicOpen, 'control: the probe reaches an open 179 through the public interface').toBe(
      'connected',
    );
    for (const node of c.nodes) await c.hostFirewall(node);
    const viaPublicFirewalled = await tcpConnect(l, c.outside.ns, overlayIp(1), BGP_PORT);
    expect(viaPublicFirewalled).not.toBe('connected');
    // The firewall leaves the overlay alone: the sessions stay up.
    for (const node of c.nodes)
      for (const [peer, state] of await c.bgpStates(node))
        expect(state, `${node.name} → ${peer}`).toBe('Established');

    // Pod traffic takes the tunnel.
    const route = await l.run(n1.host.ns, ['ip', '-4', 'route', 'get', n2.podIp]);
    expect(route.stdout).toContain(
      `via ${n2.vtepIp} dev ${encap === Encap.VXLAN ? 'vxlan.calico' : 'ipip2'}`,
    );
    const tunnelBefore = await c.tunnelTxPackets(n1);
    const rtts: string[] = [];
    for (const [a, b] of [
      [n1, n2],
      [n1, n3],
      [n2, n3],
    ] as const) {
      const p = await c.podPing(a, b, POD_PINGS);
      expect(p.received, `pod${a.n} → pod${b.n}`).toBe(POD_PINGS);
      rtts.push(`${a.n}→${b.n} ${p.avgMs.toFixed(2)} ms`);
    }
    expect(await c.tunnelTxPackets(n1)).toBeGreaterThanOrEqual(tunnelBefore + 2 * POD_PINGS);

    // Don't-fragment pings: the largest payload the pod MTU allows passes, one byte more is refused locally.
    const maxPayload = podMtu - IPV4_ICMP_HEADER_BYTES;
    const df = await dfPing(l, n1, n2, maxPayload, 3);
    expect(df.received, df.output).toBe(3);
    const tooBig = await dfPing(l, n1, n2, maxPayload + 1, 1);
    expect(tooBig.received).toBe(0);
    expect(tooBig.output).toMatch(/message too long/i);

    const frags0 = await c.underlayFragments();
    const created0 = await c.fragmentsCreated();
    const tr = await tcpTransfer(l, n1.podNs, n2.podNs, n2.podIp, TRANSFER_BYTES, {
      timeoutMs: TRANSFER_TIMEOUT_MS,
    });
    const frags = (await c.underlayFragments()) - frags0;
    const created = (await c.fragmentsCreated()) - created0;
    const clamped = await c.clampedSyns(n1);
    figure(
      `kubernetes data plane (${encap})`,
      `${sessions} BGP sessions Established over 172.29.0.x, 179 from the underlay: ${fromOutside} / ${fromNode2Underlay}, ` +
        `via the public interface ${viaPublicOpen} → ${viaPublicFirewalled} with the host firewall; ` +
        `TAP ${RECOMMENDED_TAP_MTU}, pods ${podMtu}: pod RTT ${rtts.join(', ')}; DF ping ${maxPayload} B ok, ` +
        `${maxPayload + 1} B refused; 50 MiB pod1 → pod2 in ${tr.seconds.toFixed(2)} s = ${tr.mbitPerS.toFixed(0)} Mbit/s; ` +
        `underlay fragments ${frags}, created ${created}; SYNs clamped at node1 ${clamped}`,
    );
    expect(tr.ok, tr.error).toBe(true);
    expect(frags).toBe(0);
    expect(created).toBe(0);
    assertAlive(...c.processes());
  }

  it('VXLAN between the nodes: BGP over the overlay only, pod pings, DF ping at the pod MTU, 50 MiB pod → pod', async () => {
    await dataPlane(Encap.VXLAN);
  });

  // This kernel may lack the ipip driver (the machines this project runs on have VXLAN but no IPIP, GRE or SIT):
  // then the case proves that the driver is really missing and says so, instead of skipping; MSS clamping inside
  // IPIP is covered with crafted frames in test/unit/mss.test.ts.
  it('IPIP between the nodes where the kernel has the ipip driver; otherwise the driver is shown missing', async () => {
    lab = await newLab(TOOLS);
    const ipip = await ipipSupport(lab);
    if (!ipip.ok) {
      expect(ipip.error).toMatch(/not supported|Unknown device type|No such device|Operation not supported/i);
      figure(
        'kubernetes data plane (ipip)',
        `not run: this kernel cannot create an ipip device (${ipip.error})`,
      );
      return;
    }
    await lab.destroy();
    lab = undefined;
    await dataPlane(Encap.IPIP);
  });

  it('MTU trap 1: TAP 1500, pods 1450 in VXLAN, underlay drops fragments — stalls without --mss-clamp, not with it', async () => {
    const c = await cluster({
      encap: Encap.VXLAN,
      tapMtu: TRAP_TAP_MTU,
      podMtu: TRAP1_POD_MTU,
      mssClamp: false,
      dropUnderlayFragments: true,
      filterFragNeeded: false,
    });
    const [n1, n2] = c.nodes;
    // What users see: the cluster looks fine…
    const p = await c.podPing(n1, n2, POD_PINGS);
    expect(p.received).toBe(POD_PINGS);
    // …but every full-size frame becomes a fragmented n2n datagram that the underlay drops.
    const big = await dfPing(c.lab, n1, n2, TRAP1_POD_MTU - IPV4_ICMP_HEADER_BYTES, 2);
    expect(big.received).toBe(0);
    const frags0 = await c.underlayFragments();
    const created0 = await c.fragmentsCreated();
    const stalled = await tcpTransfer(c.lab, n1.podNs, n2.podNs, n2.podIp, TRANSFER_BYTES, {
      timeoutMs: STALL_BOUND_MS,
    });
    const stallFrags = (await c.underlayFragments()) - frags0;
    const stallCreated = (await c.fragmentsCreated()) - created0;
    figure(
      'MTU trap 1 without --mss-clamp',
      `small pings ${p.received}/${p.transmitted}, full-size DF ping 0/${big.transmitted}; ` +
        `${stalled.receivedBytes} B of 50 MiB arrived in ${STALL_BOUND_MS / 1000} s (stalled); ` +
        `${stallFrags} fragments dropped on the underlay, ${stallCreated} created by the nodes`,
    );
    expect(stalled.ok).toBe(false);
    expect(stalled.timedOut).toBe(true);
    expect(stalled.receivedBytes).toBeLessThan(TRANSFER_BYTES);
    expect(stallFrags).toBeGreaterThan(0);
    expect(stallCreated).toBeGreaterThan(0);

    await c.restartEdges(true);
    const frags1 = await c.underlayFragments();
    const created1 = await c.fragmentsCreated();
    const tr = await tcpTransfer(c.lab, n1.podNs, n2.podNs, n2.podIp, TRANSFER_BYTES, {
      timeoutMs: TRANSFER_TIMEOUT_MS,
    });
    const frags = (await c.underlayFragments()) - frags1;
    const created = (await c.fragmentsCreated()) - created1;
    const clamped1 = await c.clampedSyns(n1);
    const clamped2 = await c.clampedSyns(n2);
    // What auto computed, as the edge logged it: from the route MTU of the 1500-byte underlay, not the TAP's 1500.
    const auto = n1.edge.output().match(/--mss-clamp: TCP MSS at most (\d+) .*route MTU (\d+)/);
    figure(
      'MTU trap 1 with --mss-clamp',
      `auto MSS ${auto?.[1]} from route MTU ${auto?.[2]} (VXLAN inside: ${Number(auto?.[1]) - ENCAP_BYTES.vxlan}); ` +
        `50 MiB pod1 → pod2 in ${tr.seconds.toFixed(2)} s = ${tr.mbitPerS.toFixed(0)} Mbit/s; ` +
        `underlay fragments ${frags}, created ${created}; SYNs clamped: node1 ${clamped1}, node2 ${clamped2}`,
    );
    expect(auto?.slice(1)).toEqual([String(UNDERLAY_AUTO_MSS), String(UNDERLAY_MTU)]);
    expect(tr.ok, tr.error).toBe(true);
    expect(frags).toBe(0);
    expect(created).toBe(0);
    expect(clamped1).toBeGreaterThan(0);
    expect(clamped2).toBeGreaterThan(0);
    assertAlive(...c.processes());
  });

  it('MTU trap 2: default TAP 1290, pods left at 1500, ICMP "fragmentation needed" filtered — stalls without --mss-clamp, not with it', async () => {
    // The VXLAN device fits the TAP (1290 − 50, as Flannel derives it from the interface); the pods do not. The
    // node must answer a pod's full-size packet with "fragmentation needed", which the nodes' filter drops.
    const c = await cluster({
      encap: Encap.VXLAN,
      tapMtu: undefined,
      podMtu: TRAP2_POD_MTU,
      tunnelMtu: DEFAULT_TAP_MTU - ENCAP_BYTES.vxlan,
      mssClamp: false,
      dropUnderlayFragments: false,
      filterFragNeeded: true,
    });
    const [n1, n2] = c.nodes;
    const p = await c.podPing(n1, n2, POD_PINGS);
    expect(p.received).toBe(POD_PINGS);
    const icmp0 = await c.fragNeededDropped();
    const stalled = await tcpTransfer(c.lab, n1.podNs, n2.podNs, n2.podIp, TRANSFER_BYTES, {
      timeoutMs: STALL_BOUND_MS,
    });
    const stallIcmp = (await c.fragNeededDropped()) - icmp0;
    figure(
      'MTU trap 2 without --mss-clamp',
      `small pings ${p.received}/${p.transmitted}; ${stalled.receivedBytes} B of 50 MiB arrived in ` +
        `${STALL_BOUND_MS / 1000} s (stalled); ${stallIcmp} ICMP "fragmentation needed" dropped on the nodes`,
    );
    expect(stalled.ok).toBe(false);
    expect(stalled.timedOut).toBe(true);
    expect(stalled.receivedBytes).toBeLessThan(TRANSFER_BYTES);
    expect(stallIcmp).toBeGreaterThan(0);

    await c.restartEdges(true);
    const icmp1 = await c.fragNeededDropped();
    const tr = await tcpTransfer(c.lab, n1.podNs, n2.podNs, n2.podIp, TRANSFER_BYTES, {
      timeoutMs: TRANSFER_TIMEOUT_MS,
    });
    const icmp = (await c.fragNeededDropped()) - icmp1;
    const clamped1 = await c.clampedSyns(n1);
    figure(
      'MTU trap 2 with --mss-clamp',
      `50 MiB pod1 → pod2 in ${tr.seconds.toFixed(2)} s = ${tr.mbitPerS.toFixed(0)} Mbit/s; ` +
        `ICMP "fragmentation needed" dropped ${icmp}; SYNs clamped at node1 ${clamped1}`,
    );
    expect(tr.ok, tr.error).toBe(true);
    expect(icmp).toBe(0);
    expect(clamped1).toBeGreaterThan(0);
    assertAlive(...c.processes());
  });
});
