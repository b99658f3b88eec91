// Security (issue 13 item 5): community isolation through a real open-mode supernode, and management ports closed to other hosts.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Lab,
  type LabHost,
  type LabProcess,
  mgmtRead,
  ping,
  sleep,
  waitForPing,
} from '../../src/lab/index.js';
import {
  assertAlive,
  EDGE_MGMT_PORT,
  edgeArgs,
  figure,
  labGate,
  newLab,
  SN_ADDR,
  SN_IP,
  SN_MGMT_PORT,
  SN_PORT,
  segmentTopology,
  snStats,
  startEdge,
  startSupernode,
} from './helpers.js';

const gate = labGate();

/** X and Y share one overlay subnet: only the community keeps them apart. */
const X1_IP = '10.86.0.1';
const X2_IP = '10.86.0.2';
const Y1_IP = '10.86.0.3';
const Y2_IP = '10.86.0.4';
const EDGE_X1_PORT = 50011;
const ATTACKER_IP = '203.0.113.66';
const UP_TIMEOUT_S = 30;
const CROSS_PINGS = 5;
/** Forged PACKETs (community Y) the attacker sends straight to x1's socket. */
const FORGED = 10;
/** How long a probe waits for a management answer before calling the port closed. */
const PROBE_WAIT_MS = 1500;

/**
 * Probes a UDP management port (a JSON read request) and a TCP port (connect) at host:port from inside a
 * namespace; prints {udp: <reply or null>, tcp: 'open' | <error code> | 'timeout'}.
 */
const PROBE_SCRIPT = `
const dgram=require('dgram'),net=require('net');const [host,port,waitMs]=[process.argv[1],Number(process.argv[2]),Number(process.argv[3])];
const r={udp:null,tcp:null};let n=0;const done=()=>{if(++n===2){process.stdout.write(JSON.stringify(r)+'\\n');process.exit(0)}};
const s=dgram.createSocket('udp4');s.on('message',(m)=>{r.udp=r.udp??m.toString('utf8').slice(0,80)});
s.on('error',(e)=>{r.udp='error '+e.code});
s.bind(0,()=>{s.send('r 7 packetstats',port,host);setTimeout(()=>{s.close();done()},waitMs)});
const c=net.connect({host,port});const t=setTimeout(()=>{r.tcp='timeout';c.destroy();done()},waitMs);
c.on('connect',()=>{clearTimeout(t);r.tcp='open';c.destroy();done()});
c.on('error',(e)=>{clearTimeout(t);r.tcp=e.code;done()});`;

/** A plaintext PACKET (spec §4.3) of community 'Y' to x1's MAC, with a 64-byte payload (null transform). */
const FORGE_SCRIPT = `
const dgram=require('dgram');const [host,port,dstMac,count]=[process.argv[1],Number(process.argv[2]),process.argv[3],Number(process.argv[4])];
const h=Buffer.alloc(24);h[0]=3;h[1]=2;h.writeUInt16BE(3,2);h.write('Y',4);
const mac=(t)=>Buffer.from(t.split(':').map((x)=>parseInt(x,16)));
const p=Buffer.concat([h,mac('02:66:66:66:66:66'),mac(dstMac),Buffer.from([1,1]),Buffer.alloc(64,0x41)]);
const s=dgram.createSocket('udp4');let left=count;
const next=()=>{if(left--===0){s.close();return}s.send(p,port,host,()=>setTimeout(next,20))};next();`;

interface Probe {
  udp: string | null;
  tcp: string | null;
}

async function probe(lab: Lab, ns: string, host: string, port: number): Promise<Probe> {
  const r = await lab.runNode(ns, PROBE_SCRIPT, [host, String(port), String(PROBE_WAIT_MS)], {
    timeoutMs: PROBE_WAIT_MS + 10_000,
  });
  return JSON.parse(r.stdout.trim()) as Probe;
}

/** Sockets listening on `port` in `ns` (ss: local address:port), UDP and TCP. */
async function listeners(lab: Lab, ns: string, port: number): Promise<string[]> {
  const out: string[] = [];
  for (const proto of ['-u', '-t']) {
    const r = await lab.run(ns, ['ss', '-H', '-ln', proto, 'sport', '=', `:${port}`]);
    for (const line of r.stdout.split('\n')) {
      const cols = line.trim().split(/\s+/);
      if (cols.length >= 4) out.push(`${proto === '-u' ? 'udp' : 'tcp'} ${cols[3]}`);
    }
  }
  return out.sort();
}

/** An edge's packetstats row `type` (§13.2): [tx, rx]. */
async function edgeCounter(lab: Lab, ns: string, type: string): Promise<[number, number]> {
  const rows = await mgmtRead(lab, ns, EDGE_MGMT_PORT, 'packetstats');
  const r = rows.find((x) => x.type === type);
  return [Number(r?.tx_pkt ?? Number.NaN), Number(r?.rx_pkt ?? Number.NaN)];
}

async function edgeDrops(lab: Lab, ns: string): Promise<Record<string, number>> {
  const rows = await mgmtRead(lab, ns, EDGE_MGMT_PORT, 'drops');
  return Object.fromEntries(rows.map((r) => [String(r.reason), Number(r.count)]));
}

describe.skipIf(gate.skip)('security: isolation and management exposure (open-mode supernode)', () => {
  let lab: Lab;
  let t: { sn: LabHost; edges: LabHost[] };
  let attacker: LabHost;
  let sn: LabProcess;
  let edges: LabProcess[] = [];

  beforeAll(async () => {
    lab = await newLab();
    t = await segmentTopology(lab, ['x1', 'x2', 'y1', 'y2']);
    attacker = await lab.publicHost('m', `${ATTACKER_IP}/24`);
    // Open mode: no community file, every community is created on first registration.
    sn = await startSupernode(lab, t.sn, []);
    const [x1, x2, y1, y2] = t.edges;
    const cfg = { supernodes: [SN_ADDR], cipher: 4 };
    edges = [
      startEdge(lab, x1, edgeArgs({ ...cfg, community: 'X', address: `${X1_IP}/24`, port: EDGE_X1_PORT })),
      startEdge(lab, x2, edgeArgs({ ...cfg, community: 'X', address: `${X2_IP}/24` })),
      startEdge(lab, y1, edgeArgs({ ...cfg, community: 'Y', address: `${Y1_IP}/24` })),
      startEdge(lab, y2, edgeArgs({ ...cfg, community: 'Y', address: `${Y2_IP}/24` })),
    ];
    expect(await waitForPing(lab, x1.ns, X2_IP, UP_TIMEOUT_S), 'no ping within X').toBeDefined();
    expect(await waitForPing(lab, y1.ns, Y2_IP, UP_TIMEOUT_S), 'no ping within Y').toBeDefined();
  });

  afterAll(async () => {
    await Promise.all(edges.map((e) => e.stop()));
    await lab?.destroy();
    if (lab) expect(lab.remaining()).toEqual([]);
  });

  it("Y's pings and broadcasts never reach X (same subnet, same cipher key); forged Y datagrams at x1 are dropped and counted", async () => {
    const [x1, x2, y1] = t.edges;
    const before = await Promise.all([x1, x2].map((h) => edgeCounter(lab, h.ns, 'transop')));
    const snBefore = await snStats(lab, t.sn.ns);
    // Unicast to X's addresses (ARP broadcasts first, never answered) and a broadcast ping.
    const [toX1, toX2, bcast] = await Promise.all([
      ping(lab, y1.ns, X1_IP, { count: CROSS_PINGS, intervalS: 0.2, waitS: 1 }),
      ping(lab, y1.ns, X2_IP, { count: CROSS_PINGS, intervalS: 0.2, waitS: 1 }),
      lab.run(y1.ns, ['ping', '-n', '-b', '-c', '3', '-i', '0.2', '-W', '1', '10.86.0.255'], {
        check: false,
      }),
    ]);
    // The attacker writes community Y into PACKETs sent straight to x1's socket. (Y's multicast discovery
    // REGISTERs on the shared segment land in the same counter, hence a difference of at least FORGED.)
    const dropsBefore = (await edgeDrops(lab, x1.ns)).rxCommunity ?? 0;
    await lab.runNode(
      attacker.ns,
      FORGE_SCRIPT,
      [x1.ip, String(EDGE_X1_PORT), '02:00:00:00:00:01', String(FORGED)],
      {
        timeoutMs: 20_000,
      },
    );
    const after = await Promise.all([x1, x2].map((h) => edgeCounter(lab, h.ns, 'transop')));
    const snAfter = await snStats(lab, t.sn.ns);
    const drops = await edgeDrops(lab, x1.ns);
    figure(
      'security (community isolation, open mode)',
      `y1 → x1 ${toX1.received}/${toX1.transmitted}, y1 → x2 ${toX2.received}/${toX2.transmitted} pings; ` +
        `X edges' received frames ${before.map((b) => b[1]).join('/')} → ${after.map((a) => a[1]).join('/')}; ` +
        `supernode broadcasts ${snBefore.broadcast} → ${snAfter.broadcast} (Y's ARPs to y2); x1 drops ${JSON.stringify(drops)}`,
    );
    expect(toX1.received).toBe(0);
    expect(toX2.received).toBe(0);
    // Replies to the broadcast ping could only come from Y (y2 ignores broadcast pings by default).
    expect(bcast.stdout).not.toMatch(/from 10\.86\.0\.[12]:/);
    expect(after.map((a) => a[1])).toEqual(before.map((b) => b[1]));
    // Y's ARP requests did go out, to Y's other edge.
    expect(snAfter.broadcast).toBeGreaterThan(snBefore.broadcast);
    expect((drops.rxCommunity ?? 0) - dropsBefore).toBeGreaterThanOrEqual(FORGED);
    assertAlive(sn, ...edges);
  });

  it('management: UDP and HTTP ports listen on loopback only, answer there, and not from another host', async () => {
    const [x1] = t.edges;
    const snListen = await listeners(lab, t.sn.ns, SN_MGMT_PORT);
    const edgeListen = await listeners(lab, x1.ns, EDGE_MGMT_PORT);
    const [snLocal, snRemote, edgeLocal, edgeRemote] = await Promise.all([
      probe(lab, t.sn.ns, '127.0.0.1', SN_MGMT_PORT),
      probe(lab, attacker.ns, SN_IP, SN_MGMT_PORT),
      probe(lab, x1.ns, '127.0.0.1', EDGE_MGMT_PORT),
      probe(lab, attacker.ns, x1.ip, EDGE_MGMT_PORT),
    ]);
    // Even from its own host the supernode's public address does not reach them.
    const snOwnPublic = await probe(lab, t.sn.ns, SN_IP, SN_MGMT_PORT);
    figure(
      'security (management exposure)',
      `supernode listens ${snListen.join(', ')}; edge listens ${edgeListen.join(', ')}; ` +
        `from the attacker: supernode udp ${snRemote.udp === null ? 'no answer' : 'ANSWERED'} tcp ${snRemote.tcp}, ` +
        `edge udp ${edgeRemote.udp === null ? 'no answer' : 'ANSWERED'} tcp ${edgeRemote.tcp}`,
    );
    expect(snListen).toEqual([`tcp 127.0.0.1:${SN_MGMT_PORT}`, `udp 127.0.0.1:${SN_MGMT_PORT}`]);
    expect(edgeListen).toEqual([`tcp 127.0.0.1:${EDGE_MGMT_PORT}`, `udp 127.0.0.1:${EDGE_MGMT_PORT}`]);
    expect(snLocal.udp).toMatch(/"_tag":"7"/);
    expect(snLocal.tcp).toBe('open');
    expect(edgeLocal.udp).toMatch(/"_tag":"7"/);
    expect(edgeLocal.tcp).toBe('open');
    for (const p of [snRemote, edgeRemote, snOwnPublic]) {
      expect(p.udp).toBeNull();
      expect(p.tcp).toBe('ECONNREFUSED');
    }
    // The HTTP API answers on loopback.
    const metrics = await lab.run(t.sn.ns, [
      'curl',
      '-s',
      '-m',
      '5',
      `http://127.0.0.1:${SN_MGMT_PORT}/metrics`,
    ]);
    expect(metrics.stdout).toMatch(/^tsn2n_/m);
  });
});

// ---------------------------------------------------------------- replay through a man in the middle

const RA_IP = '10.87.0.1';
const RB_IP = '10.87.0.2';
const MITM_IP = '203.0.113.67';
/** A replayed copy is sent this long after the original: far outside the 160 ms jitter. */
const REPLAY_LATE_MS = 1000;
const RELAY_PINGS = 20;

/**
 * A UDP relay the edges use as their supernode: every datagram is passed on, then sent again at once (same
 * stamp) and once more REPLAY_LATE_MS later (an older stamp), both ways. 'STOP' from loopback ends it and prints
 * its counts.
 */
const RELAY_SCRIPT = `
const dgram=require('dgram');const [port,snHost,snPort,lateMs]=[Number(process.argv[1]),process.argv[2],Number(process.argv[3]),Number(process.argv[4])];
const front=dgram.createSocket('udp4');const ups=new Map();const c={passed:0,copies:0,timers:new Set()};
const thrice=(sock,m,p,h)=>{sock.send(m,p,h);sock.send(m,p,h);c.passed++;c.copies+=2;
 const t=setTimeout(()=>{c.timers.delete(t);sock.send(m,p,h)},lateMs);c.timers.add(t)};
front.on('message',(m,r)=>{
 if(r.address==='127.0.0.1'&&m.toString()==='STOP'){for(const t of c.timers)clearTimeout(t);
  process.stdout.write(JSON.stringify({passed:c.passed,copies:c.copies})+'\\n');process.exit(0)}
 const key=r.address+':'+r.port;let up=ups.get(key);
 if(!up){up=dgram.createSocket('udp4');up.bind(0);up.on('message',(m2)=>thrice(front,m2,r.port,r.address));ups.set(key,up)}
 thrice(up,m,snPort,snHost)});
front.bind(port);`;

async function snDrops(lab: Lab, ns: string): Promise<Record<string, number>> {
  // C 3.1.1 (E2E_SUPERNODE_CMD) has no HTTP server: no figures then.
  const r = await lab.run(ns, ['curl', '-s', '-m', '5', `http://127.0.0.1:${SN_MGMT_PORT}/metrics`], {
    check: false,
  });
  const out: Record<string, number> = {};
  for (const m of r.stdout.matchAll(/^tsn2n_supernode_drops_total\{reason="(\w+)"\} (\d+)/gm))
    out[m[1]] = Number(m[2]);
  return out;
}

describe.skipIf(gate.skip)('security: replayed -H datagrams from a man in the middle', () => {
  let lab: Lab;
  let dir: string;

  beforeAll(async () => {
    lab = await newLab();
    dir = mkdtempSync(join(tmpdir(), 'tsn2n-e2e-'));
  });

  afterAll(async () => {
    await lab?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (lab) expect(lab.remaining()).toEqual([]);
  });

  it('every datagram to and from the supernode replayed at once and 1 s later: no duplicate reaches a TAP, each is counted', async () => {
    const t = await segmentTopology(lab, ['ra', 'rb']);
    const mitm = await lab.publicHost('mitm', `${MITM_IP}/24`);
    const file = join(dir, 'community.list');
    writeFileSync(file, 'replayh\n');
    const sn = await startSupernode(lab, t.sn, ['-c', file]);
    const relay = lab.runNode(
      mitm.ns,
      RELAY_SCRIPT,
      [String(SN_PORT), SN_IP, String(SN_PORT), String(REPLAY_LATE_MS)],
      {
        timeoutMs: 120_000,
      },
    );
    await sleep(500);
    // -S1: no P2P, so every frame crosses the relay.
    const cfg = {
      community: 'replayh',
      supernodes: [`${MITM_IP}:${SN_PORT}`],
      cipher: 4,
      headerEncryption: true,
      extra: ['-S1'],
    };
    const [ra, rb] = t.edges;
    const ea = startEdge(lab, ra, edgeArgs({ ...cfg, address: `${RA_IP}/24` }));
    const eb = startEdge(lab, rb, edgeArgs({ ...cfg, address: `${RB_IP}/24` }));
    try {
      expect(await waitForPing(lab, ra.ns, RB_IP, UP_TIMEOUT_S), 'no ping through the relay').toBeDefined();
      const r = await lab.run(
        ra.ns,
        ['ping', '-n', '-c', String(RELAY_PINGS), '-i', '0.1', '-W', '2', RB_IP],
        { check: false, timeoutMs: 30_000 },
      );
      // Let the late copies of the last pings arrive.
      await sleep(REPLAY_LATE_MS + 500);
      const received = Number(r.stdout.match(/(\d+) received/)?.[1] ?? 0);
      const dups = (r.stdout.match(/DUP!/g) ?? []).length;
      const snD = await snDrops(lab, t.sn.ns);
      // C 3.1.1 (E2E_EDGE_CMD) has no `drops` command: no figures then.
      const aD = await edgeDrops(lab, ra.ns).catch(() => ({}) as Record<string, number>);
      const bD = await edgeDrops(lab, rb.ns).catch(() => ({}) as Record<string, number>);
      await lab.runNode(
        mitm.ns,
        "require('dgram').createSocket('udp4').send('STOP',Number(process.argv[1]),'127.0.0.1',()=>process.exit(0))",
        [String(SN_PORT)],
      );
      const counts = JSON.parse((await relay).stdout.trim()) as { passed: number; copies: number };
      figure(
        'security (replay through a man in the middle, -H)',
        `relay passed ${counts.passed} datagrams and sent ${counts.copies} replayed copies; ` +
          `ping ${received}/${RELAY_PINGS}, ${dups} DUP!; stamp drops: supernode ${snD.stamp ?? 0}, edge a ${aD.rxStamp ?? 0}, edge b ${bD.rxStamp ?? 0}`,
      );
      expect(received).toBe(RELAY_PINGS);
      expect(dups).toBe(0);
      // Every ping and reply crossed the supernode twice (in and out), each time with two copies at once and a late one.
      expect(snD.stamp ?? 0).toBeGreaterThanOrEqual(2 * 2 * RELAY_PINGS);
      expect((aD.rxStamp ?? 0) + (bD.rxStamp ?? 0)).toBeGreaterThanOrEqual(2 * 2 * RELAY_PINGS);
      assertAlive(sn, ea, eb);
    } finally {
      await Promise.all([ea.stop(), eb.stop()]);
    }
  });
});
