// Case 6: automatic address assignment, user/password authentication (and a refused password), -r with -n routing.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Lab, mgmtRead, ping, waitFor, waitForPing } from '../../src/lab/index.js';
import { binToAscii, generatePublicKey, userPrivateKey } from '../../src/transform/auth.js';
import {
  assertAlive,
  EDGE_MGMT_PORT,
  edgeArgs,
  figure,
  labGate,
  newLab,
  SN_ADDR,
  SN_MGMT_PORT,
  segmentTopology,
  snEdges,
  startEdge,
  startSupernode,
  TAP,
  waitForTapAddress,
} from './helpers.js';

const gate = labGate();
const UP_TIMEOUT_S = 30;

/** The 43-character public key of a user (what `n2n-keygen user password` prints), §8.2. */
function userKey(user: string, password: string): string {
  return binToAscii(generatePublicKey(userPrivateKey(user, password)));
}

describe.skipIf(gate.skip)('case 6: address assignment, authentication, routing', () => {
  let lab: Lab | undefined;
  let dir: string | undefined;

  afterEach(async () => {
    await lab?.destroy();
    if (lab) expect(lab.remaining()).toEqual([]);
    if (dir) rmSync(dir, { recursive: true, force: true });
    lab = undefined;
    dir = undefined;
  });

  it('edges without -a get their addresses from the supernode (3.1.1 assignment)', async () => {
    lab = await newLab();
    const t = await segmentTopology(lab, ['a', 'b']);
    const [a, b] = t.edges;
    const sn = await startSupernode(lab, t.sn, []);
    // §9.4 examples: community "mynetwork" → 10.164.148.0/24; desc "edgeA" → .69, "logan" → .27.
    const cfg = { community: 'mynetwork', supernodes: [SN_ADDR], cipher: 4 };
    const t0 = performance.now();
    const ea = startEdge(lab, a, edgeArgs({ ...cfg, desc: 'edgeA' }));
    const eb = startEdge(lab, b, edgeArgs({ ...cfg, desc: 'logan' }));
    const ipA = await waitForTapAddress(lab, a.ns, TAP, UP_TIMEOUT_S * 1000);
    const ipB = await waitForTapAddress(lab, b.ns, TAP, UP_TIMEOUT_S * 1000);
    const assignedS = (performance.now() - t0) / 1000;
    expect(ipA).toBe('10.164.148.69');
    expect(ipB).toBe('10.164.148.27');
    const up = await waitForPing(lab, a.ns, ipB!, UP_TIMEOUT_S);
    expect(up, 'no ping between auto-addressed edges').toBeDefined();
    const p = await ping(lab, a.ns, ipB!, { count: 5, intervalS: 0.2 });
    figure(
      'case 6 (auto IP)',
      `a=${ipA} b=${ipB} assigned within ${assignedS.toFixed(1)} s; RTT ${p.avgMs.toFixed(2)} ms`,
    );
    expect(p.received).toBe(5);
    assertAlive(sn, ea, eb);
  });

  it('user/password authentication: known users join, a wrong password is refused', async () => {
    // Self-check of the key helper against §8.2's example before trusting it for the community file.
    expect(userKey('logan', '007')).toBe('nHWum+r42k1qDXdIeH-WFKeylK5UyLStRzxofRNAgpG');
    lab = await newLab();
    const t = await segmentTopology(lab, ['a', 'b', 'c']);
    const [a, b, c] = t.edges;
    dir = mkdtempSync(join(tmpdir(), 'tsn2n-e2e-'));
    const file = join(dir, 'community.list');
    writeFileSync(file, `netleo\n* logan ${userKey('logan', '007')}\n* sam ${userKey('sam', 's3cret')}\n`);
    const sn = await startSupernode(lab, t.sn, ['-c', file]);
    const cfg = { community: 'netleo', supernodes: [SN_ADDR], cipher: 4 };
    const ea = startEdge(
      lab,
      a,
      edgeArgs({ ...cfg, address: '10.83.0.1/24', desc: 'logan', extra: ['-J', '007'] }),
    );
    const eb = startEdge(
      lab,
      b,
      edgeArgs({ ...cfg, address: '10.83.0.2/24', desc: 'sam', extra: ['-J', 's3cret'] }),
    );
    const up = await waitForPing(lab, a.ns, '10.83.0.2', UP_TIMEOUT_S);
    expect(up, 'authenticated edges cannot reach each other').toBeDefined();
    const p = await ping(lab, a.ns, '10.83.0.2', { count: 5, intervalS: 0.2 });
    expect(p.received).toBe(5);

    const before = await regSuperStats(lab, t.sn.ns);
    const ec = startEdge(
      lab,
      c,
      edgeArgs({ ...cfg, cipher: 5, address: '10.83.0.3/24', desc: 'sam', extra: ['-J', 'wrong'] }),
    );
    // c's REGISTER_SUPERs arrive (3.1.1 retries about every 2 s while unanswered) but are refused.
    const arrived = await waitFor(async () => {
      const now = await regSuperStats(lab!, t.sn.ns);
      return now.rx >= before.rx + 3 ? now : undefined;
    }, 20_000);
    const registered = (await snEdges(lab, t.sn.ns)).map((r) => String(r.ip4addr).split('/')[0]);
    const cPing = await ping(lab, c.ns, '10.83.0.1', { count: 3, intervalS: 0.3, waitS: 1 });
    const cStamps = (await mgmtRead(lab, c.ns, EDGE_MGMT_PORT, 'timestamps'))[0];
    const aStamps = (await mgmtRead(lab, a.ns, EDGE_MGMT_PORT, 'timestamps'))[0];
    figure(
      'case 6 (user/password)',
      `logan and sam joined in ${up?.toFixed(1)} s, RTT ${p.avgMs.toFixed(2)} ms; wrong password: ` +
        `${(arrived?.rx ?? before.rx) - before.rx} REGISTER_SUPER received, NAK counter +${(arrived?.nak ?? before.nak) - before.nak} ` +
        `(3.1.1 never counts NAKs), registered [${registered}], c last_super=${String(cStamps?.last_super)}, c ping ${cPing.received}/3`,
    );
    expect(arrived, "the wrong-password edge's REGISTER_SUPERs never reached the supernode").toBeDefined();
    expect(registered).toContain('10.83.0.1');
    expect(registered).toContain('10.83.0.2');
    expect(registered).not.toContain('10.83.0.3');
    expect(cPing.received).toBe(0);
    // The refused edge never got a valid REGISTER_SUPER_ACK; the accepted one did.
    expect(Number(cStamps?.last_super)).toBe(0);
    expect(Number(aStamps?.last_super)).toBeGreaterThan(0);
    // A refused edge keeps running and retrying, like 3.1.1 (§12.2: it does not exit).
    assertAlive(sn, ea, eb, ec);
  });

  it('-r with -n routes to a LAN behind an edge', async () => {
    lab = await newLab();
    const t = await segmentTopology(lab, ['a', 'b']);
    const [a, b] = t.edges;
    // A LAN 192.168.77.0/24 behind b: host "lan" with b as its gateway.
    const lanNs = await lab.namespace('lan');
    await lab.veth(b.ns, 'lan0', lanNs, 'eth0');
    await lab.addAddress(b.ns, 'lan0', '192.168.77.1/24');
    await lab.addAddress(lanNs, 'eth0', '192.168.77.2/24');
    await lab.run(lanNs, ['ip', 'route', 'add', 'default', 'via', '192.168.77.1']);
    await lab.sysctl(b.ns, 'net.ipv4.ip_forward', '1');

    const sn = await startSupernode(lab, t.sn, []);
    const cfg = { community: 'routed', supernodes: [SN_ADDR], cipher: 3 };
    const ea = startEdge(
      lab,
      a,
      edgeArgs({ ...cfg, address: '10.84.0.1/24', desc: 'a', extra: ['-n', '192.168.77.0/24:10.84.0.2'] }),
    );
    const eb = startEdge(lab, b, edgeArgs({ ...cfg, address: '10.84.0.2/24', desc: 'b', extra: ['-r'] }));
    const overlay = await waitForPing(lab, a.ns, '10.84.0.2', UP_TIMEOUT_S);
    expect(overlay, 'no ping across the overlay').toBeDefined();
    const route = await lab.run(a.ns, ['ip', 'route', 'show', '192.168.77.0/24']);
    expect(route.stdout).toContain('via 10.84.0.2');
    const up = await waitForPing(lab, a.ns, '192.168.77.2', 10);
    const p = await ping(lab, a.ns, '192.168.77.2', { count: 5, intervalS: 0.2 });
    figure(
      'case 6 (-r/-n routing)',
      `LAN host behind b reachable from a, RTT ${p.avgMs.toFixed(2)} ms (route: ${route.stdout.trim()})`,
    );
    expect(up, 'the LAN behind b is not reachable through the overlay').toBeDefined();
    expect(p.received).toBe(5);
    assertAlive(sn, ea, eb);
  });
});

/** The supernode's REGISTER_SUPER counters (§13.2 packetstats, row reg_super). */
async function regSuperStats(lab: Lab, ns: string): Promise<{ rx: number; nak: number }> {
  const rows = await mgmtRead(lab, ns, SN_MGMT_PORT, 'packetstats');
  const row = rows.find((r) => r.type === 'reg_super');
  return { rx: Number(row?.rx_pkt ?? 0), nak: Number(row?.nak ?? 0) };
}
