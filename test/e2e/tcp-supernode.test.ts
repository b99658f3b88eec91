// edge -S2 in the lab: UDP off loopback dropped, two TCP edges (-z2, -H) ping, move checked data, outlive a supernode restart.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  findExecutable,
  type Lab,
  type LabHost,
  type LabProcess,
  ping,
  tcpTransfer,
  waitForPing,
} from '../../src/lab/index.js';
import {
  assertAlive,
  edgeArgs,
  figure,
  labGate,
  newLab,
  SN_ADDR,
  segmentTopology,
  snEdges,
  startEdge,
  startSupernode,
} from './helpers.js';

const gate = labGate();

/** A transfer that makes TCP-in-TCP through the relay carry thousands of frames, kept short for 2 shared cores. */
const TRANSFER_BYTES = 8 * 1024 * 1024;
const UP_TIMEOUT_S = 30;
const PING_COUNT = 10;
/** Larger than the default so ping's repeating payload compresses: it crosses as zstd PACKETs. */
const PING_BYTES = 1000;

/** Drops every UDP datagram into or out of `ns` except on loopback (management stays usable); returns a counter reader. */
async function blockUdp(lab: Lab, ns: string): Promise<() => Promise<number>> {
  if (findExecutable('iptables')) {
    await lab.run(ns, ['iptables', '-w', '-A', 'INPUT', '-p', 'udp', '!', '-i', 'lo', '-j', 'DROP']);
    await lab.run(ns, ['iptables', '-w', '-A', 'OUTPUT', '-p', 'udp', '!', '-o', 'lo', '-j', 'DROP']);
    return async () => {
      const r = await lab.run(ns, ['iptables', '-w', '-L', '-v', '-x', '-n']);
      let n = 0;
      for (const line of r.stdout.split('\n')) {
        const f = line.trim().split(/\s+/);
        if (f[2] === 'DROP' && f[3] === 'udp') n += Number(f[0]);
      }
      return n;
    };
  }
  await lab.run(ns, ['nft', 'add table inet nou']);
  await lab.run(ns, ['nft', 'add chain inet nou in { type filter hook input priority 0 ; }']);
  await lab.run(ns, ['nft', 'add chain inet nou out { type filter hook output priority 0 ; }']);
  await lab.run(ns, ['nft', 'add rule inet nou in iifname != "lo" meta l4proto udp counter drop']);
  await lab.run(ns, ['nft', 'add rule inet nou out oifname != "lo" meta l4proto udp counter drop']);
  return async () => {
    const r = await lab.run(ns, ['nft', 'list table inet nou']);
    return [...r.stdout.matchAll(/packets (\d+)/g)].reduce((s, m) => s + Number(m[1]), 0);
  };
}

describe.skipIf(gate.skip)('edge -S2: TCP to the supernode with UDP blocked', () => {
  let lab: Lab;
  let sn: LabProcess;
  let snHost: LabHost;
  let a: LabHost;
  let b: LabHost;
  const dropped: (() => Promise<number>)[] = [];
  let dir: string;
  let communityFile: string;

  beforeAll(async () => {
    lab = await newLab();
    const t = await segmentTopology(lab, ['a', 'b']);
    [a, b] = t.edges;
    snHost = t.sn;
    // -H needs the community in the supernode's community file (§11.1).
    dir = mkdtempSync(join(tmpdir(), 'tsn2n-e2e-'));
    communityFile = join(dir, 'community.list');
    writeFileSync(communityFile, 'tcpnet\n');
    sn = await startSupernode(lab, t.sn, ['-c', communityFile]);
    for (const h of [t.sn, a, b]) dropped.push(await blockUdp(lab, h.ns));
  });

  afterAll(async () => {
    await lab?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (lab) expect(lab.remaining()).toEqual([]);
  });

  it('two -S2 -z2 -H edges register over TCP, ping and move a checked transfer', async () => {
    const cfg = {
      community: 'tcpnet',
      supernodes: [SN_ADDR],
      cipher: 3,
      headerEncryption: true,
      compression: 2,
    };
    const ea = startEdge(lab, a, edgeArgs({ ...cfg, address: '10.78.0.1/24', desc: 'a', extra: ['-S2'] }));
    const eb = startEdge(lab, b, edgeArgs({ ...cfg, address: '10.78.0.2/24', desc: 'b', extra: ['-S2'] }));
    try {
      const up = await waitForPing(lab, a.ns, '10.78.0.2', UP_TIMEOUT_S);
      assertAlive(sn, ea, eb);
      expect(up, `no ping across the overlay within ${UP_TIMEOUT_S} s:\n${ea.tail()}`).toBeDefined();
      const rows = await snEdges(lab, snHost.ns);
      expect(rows.map((r) => r.proto)).toEqual(['TCP', 'TCP']);
      const p = await ping(lab, a.ns, '10.78.0.2', { count: PING_COUNT, intervalS: 0.1, size: PING_BYTES });
      expect(p.received).toBe(PING_COUNT);
      const t = await tcpTransfer(lab, a.ns, b.ns, '10.78.0.2', TRANSFER_BYTES);
      const udpDrops = await Promise.all(dropped.map((d) => d()));
      figure(
        'edge -S2',
        `up in ${up?.toFixed(1)} s, RTT ${p.avgMs.toFixed(2)} ms, ${TRANSFER_BYTES >> 20} MB in ${t.seconds.toFixed(2)} s = ${t.mbitPerS.toFixed(0)} Mbit/s, sha256 ${t.ok ? 'match' : 'MISMATCH'}, UDP dropped (sn, a, b) ${udpDrops.join(', ')}`,
      );
      expect(t.error).toBeUndefined();
      expect(t.receivedBytes).toBe(TRANSFER_BYTES);
      expect(t.receivedSha256).toBe(t.sentSha256);
      // The edges send no UDP at all: -S2 implies -S1 (no P2P, no local discovery, no PINGs).
      expect(udpDrops[1]).toBe(0);
      expect(udpDrops[2]).toBe(0);
      assertAlive(sn, ea, eb);
      // The supernode restarts: both edges lose their connection, re-connect and register again on their own.
      await sn.stop();
      sn = await startSupernode(lab, snHost, ['-c', communityFile], 'sn@sn-restarted');
      const back = await waitForPing(lab, a.ns, '10.78.0.2', UP_TIMEOUT_S);
      figure('edge -S2', `after a supernode restart, ping again in ${back?.toFixed(1)} s`);
      expect(
        back,
        `no ping within ${UP_TIMEOUT_S} s after the supernode restarted:\n${ea.tail()}`,
      ).toBeDefined();
      expect((await snEdges(lab, snHost.ns)).map((r) => r.proto)).toEqual(['TCP', 'TCP']);
      assertAlive(sn, ea, eb);
    } finally {
      await Promise.all([ea.stop(), eb.stop()]);
    }
  });
});
