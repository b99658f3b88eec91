// Self-test of the namespace lab (src/lab/): topology, both NAT models, traffic probes and teardown, without n2n.

import { execFileSync, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cleanupLeftovers,
  LAB_NS_PREFIX,
  type Lab,
  NatKind,
  ping,
  tcpTransfer,
} from '../../src/lab/index.js';
import { labGate, newLab, punchProbe } from './helpers.js';

const gate = labGate();

describe.skipIf(gate.skip)('namespace lab', () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await newLab();
  });

  afterAll(async () => {
    const prefix = lab?.prefix;
    await lab?.destroy();
    if (prefix) expect(lab.remaining()).toEqual([]);
  });

  it('routes between public hosts and through NAT routers of both kinds', async () => {
    const server = await lab.publicHost('srv', '203.0.113.1/24');
    const rOpen1 = await lab.natRouter('ro1', '203.0.113.11/24', '192.168.1.1/24', NatKind.OPEN);
    const rOpen2 = await lab.natRouter('ro2', '203.0.113.12/24', '192.168.2.1/24', NatKind.OPEN);
    const rStrict = await lab.natRouter('rs3', '203.0.113.13/24', '192.168.3.1/24', NatKind.STRICT);
    const rStrict4 = await lab.natRouter('rs4', '203.0.113.14/24', '192.168.4.1/24', NatKind.STRICT);
    const a = await lab.lanHost('a', rOpen1, '192.168.1.2/24');
    const b = await lab.lanHost('b', rOpen2, '192.168.2.2/24');
    const c = await lab.lanHost('c', rStrict, '192.168.3.2/24');
    const d = await lab.lanHost('d', rStrict4, '192.168.4.2/24');

    for (const h of [a, b, c, d]) {
      const r = await ping(lab, h.ns, server.ip, { count: 2 });
      console.log(`[lab] ${h.name} -> internet: ${r.received}/${r.transmitted}, rtt ${r.avgMs} ms`);
      expect(r.received).toBe(2);
    }
    // Nothing unsolicited gets in: the server cannot reach a LAN host or a router's public address.
    const inbound = await ping(lab, server.ns, rOpen1.ip, { count: 1, waitS: 1 });
    expect(inbound.received).toBe(0);

    const t = await tcpTransfer(lab, a.ns, server.ns, server.ip, 5_000_000);
    console.log(`[lab] 5 MB through NAT: ${t.mbitPerS.toFixed(0)} Mbit/s, sha256 ok ${t.ok}`);
    expect(t.ok).toBe(true);

    // Hole punching: works between two open NATs, never with a strict one.
    const open = await punchProbe(lab, server, a, b);
    console.log(`[lab] UDP hole punch open<->open: ${JSON.stringify(open)}`);
    expect(open).toEqual({ aGotB: true, bGotA: true });
    const strict = await punchProbe(lab, server, c, d);
    console.log(`[lab] UDP hole punch strict<->strict: ${JSON.stringify(strict)}`);
    expect(strict).toEqual({ aGotB: false, bGotA: false });
    const mixed = await punchProbe(lab, server, a, c);
    console.log(`[lab] UDP hole punch open<->strict: ${JSON.stringify(mixed)}`);
    expect(mixed.aGotB && mixed.bGotA).toBe(false);
  });

  it('moves a host to another NAT while its processes keep running', async () => {
    const a = lab.host('a');
    const srv = lab.host('srv');
    await lab.moveHost(a, lab.router('ro2'), '192.168.2.9/24');
    const r = await ping(lab, a.ns, srv.ip, { count: 2 });
    expect(r.received).toBe(2);
    expect(a.ip).toBe('192.168.2.9');
  });

  it('removes namespaces of aborted runs (dead owner) but never those of a live lab', async () => {
    // A pid that certainly belonged to a process that has exited.
    const deadPid = spawnSync('true').pid;
    const stale = `${LAB_NS_PREFIX}${deadPid}-dead-x`;
    execFileSync('ip', ['netns', 'add', stale]);
    const removed = cleanupLeftovers();
    const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    expect(removed).toContain(stale);
    expect(left).not.toContain(stale);
    // This lab's own namespaces (live owner: this process) are untouched.
    expect(removed.filter((n) => n.startsWith(lab.prefix))).toEqual([]);
    expect(lab.remaining().length).toBeGreaterThan(0);
  });
});
