// Case 7: a third namespace sprays random and mutated n2n datagrams at the supernode and an edge during traffic.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
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
  SN_IP,
  SN_PORT,
  segmentTopology,
  snEdges,
  startEdge,
  startSupernode,
} from './helpers.js';

const gate = labGate();

const A_IP = '10.85.0.1';
const B_IP = '10.85.0.2';
const EDGE_A_PORT = 50001;
/** Plaintext headers (the deepest parsing) and header encryption (the trial decryption). */
const VARIANTS = [
  { community: 'hostile', headerEncryption: false },
  { community: 'hostileh', headerEncryption: true },
] as const;
const SPRAY_MS = 10_000;
/** Datagrams per second from the attacker: enough to hit every parser path, not enough to starve 2 cores. */
const SPRAY_PPS = 4000;
const TRANSFER_BYTES = 20 * 1024 * 1024;
/** Pings during the spray that must come back (the attacker competes for the same 2 CPUs). */
const MIN_PING_RATIO_UNDER_ATTACK = 0.9;

// The attacker: n2n v3 message templates (§3, §4) with correct lengths, sent as they are, with flipped bits,
// truncated, with random flags/TTL/type/community, with oversized length fields, or as pure random bytes.
const SPRAY_SCRIPT = `
const dgram=require('dgram'),crypto=require('crypto');
const [targetList,community,durMs,pps]=[process.argv[1],process.argv[2],Number(process.argv[3]),Number(process.argv[4])];
const targets=targetList.split(',').map((t)=>{const [h,p]=t.split(':');return {h,p:Number(p)}});
const s=dgram.createSocket('udp4');
const R=(n)=>crypto.randomBytes(n);const ri=(n)=>Math.floor(Math.random()*n);
const mac=()=>{const m=R(6);m[0]=(m[0]&0xfe)|2;return m};
const u16=(v)=>{const b=Buffer.alloc(2);b.writeUInt16BE(v&0xffff);return b};
const u32=(v)=>{const b=Buffer.alloc(4);b.writeUInt32BE(v>>>0);return b};
const sock=()=>Buffer.concat([u16(0),u16(ri(65536)),R(4)]);
const dev=()=>Buffer.concat([R(4),Buffer.from([ri(33)])]);
const desc=()=>{const b=Buffer.alloc(16);b.write('spray'+ri(1000));return b};
const auth=()=>Buffer.concat([u16(1),u16(16),R(16)]);
const hdr=(type,flags,comm)=>{const b=Buffer.alloc(24);b[0]=3;b[1]=2;b.writeUInt16BE(((flags||0)&0xffe0)|type,2);b.write(comm||community,4,19);return b};
const bodies={
 1:()=>Buffer.concat([u32(0x1000),mac(),mac(),dev(),desc()]),
 3:()=>Buffer.concat([mac(),ri(2)?Buffer.alloc(6,0xff):mac(),Buffer.from([ri(3),1+ri(5)]),R(ri(1400))]),
 4:()=>Buffer.concat([u32(ri(2**32)),mac(),mac()]),
 5:()=>Buffer.concat([u32(ri(2**32)),mac(),dev(),desc(),auth(),u32(0)]),
 6:()=>Buffer.concat([auth(),mac()]),
 7:()=>Buffer.concat([u32(ri(2**32)),mac(),dev(),u16(15),sock(),u16(0),u16(0),Buffer.from([ri(3)]),R(26*ri(3)),u32(0)]),
 8:()=>Buffer.concat([u32(ri(2**32)),mac(),u16(0),u16(0)]),
 10:()=>Buffer.concat([u16(0),mac(),mac(),sock(),u32(0),u32(ri(1e6)),Buffer.alloc(20)]),
 11:()=>Buffer.concat([mac(),ri(4)?mac():Buffer.alloc(6),u16(0)]),
 12:()=>Buffer.alloc(0),
};
const types=Object.keys(bodies).map(Number);
function valid(){const t=types[ri(types.length)];const fl=[0,0x20,0x40,0x60][ri(4)];
 let b=bodies[t]();if(fl&0x40&&t!==7&&t!==10)b=Buffer.concat([b.subarray(0,t===5?10:12),sock(),b.subarray(t===5?10:12)]);
 return Buffer.concat([hdr(t,fl),b])}
function one(){const m=ri(8);
 if(m===0)return R(ri(1500));
 let b=valid();
 if(m===1)return b;
 if(m===2){for(let i=0,n=1+ri(8);i<n;i++)b[ri(b.length)]^=1<<ri(8);return b}
 if(m===3)return b.subarray(0,ri(b.length));
 if(m===4){b.writeUInt16BE(ri(65536),2);b[1]=ri(256);return b}
 if(m===5){b.write(R(10).toString('hex'),4,19);return b}
 if(m===6){b=Buffer.concat([b,R(ri(600))]);for(let i=0;i<4;i++)b[24+ri(b.length-24)]=0xff;return b}
 b[0]=ri(256);return b}
let sent=0,errors=0;const perTick=Math.max(1,Math.round(pps/100));
const iv=setInterval(()=>{for(let i=0;i<perTick;i++){const t=targets[(sent+i)%targets.length];s.send(one(),t.p,t.h,(e)=>{if(e)errors++})}sent+=perTick},10);
setTimeout(()=>{clearInterval(iv);setTimeout(()=>{process.stdout.write(JSON.stringify({sent,errors})+'\\n');process.exit(0)},200)},durMs);`;

describe.skipIf(gate.skip)('case 7: hostile input during traffic', () => {
  let lab: Lab;
  let dir: string;
  let t: { sn: LabHost; edges: LabHost[] };
  let attacker: LabHost;
  let sn: LabProcess;

  beforeAll(async () => {
    lab = await newLab();
    t = await segmentTopology(lab, ['a', 'b']);
    attacker = await lab.publicHost('x', '203.0.113.66/24');
    dir = mkdtempSync(join(tmpdir(), 'tsn2n-e2e-'));
    const file = join(dir, 'community.list');
    writeFileSync(file, `${VARIANTS.map((v) => v.community).join('\n')}\n`);
    sn = await startSupernode(lab, t.sn, ['-c', file]);
  });

  afterAll(async () => {
    await lab?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (lab) expect(lab.remaining()).toEqual([]);
  });

  for (const v of VARIANTS) {
    it(`random and mutated datagrams at the supernode and an edge for 10 s${v.headerEncryption ? ' (-H community)' : ''}: ping and transfer pass, nothing restarts`, async () => {
      const [a, b] = t.edges;
      const cfg = {
        community: v.community,
        supernodes: [SN_ADDR],
        cipher: 4,
        headerEncryption: v.headerEncryption,
      };
      const ea = startEdge(lab, a, edgeArgs({ ...cfg, address: `${A_IP}/24`, desc: 'a', port: EDGE_A_PORT }));
      const eb = startEdge(lab, b, edgeArgs({ ...cfg, address: `${B_IP}/24`, desc: 'b' }));
      try {
        expect(await waitForPing(lab, a.ns, B_IP, 30), 'no ping across the overlay').toBeDefined();
        const pids = [sn.pid, ea.pid, eb.pid];

        // The attacker knows the community name (plaintext templates); with -H most of its datagrams look
        // encrypted and exercise the trial decryption instead.
        const targets = `${SN_IP}:${SN_PORT},${a.ip}:${EDGE_A_PORT}`;
        const spray = lab.runNode(
          attacker.ns,
          SPRAY_SCRIPT,
          [targets, v.community, String(SPRAY_MS), String(SPRAY_PPS)],
          { timeoutMs: SPRAY_MS + 20_000 },
        );
        const PINGS = 36;
        const [sprayed, during, tr] = await Promise.all([
          spray,
          ping(lab, b.ns, A_IP, { count: PINGS, intervalS: 0.25 }),
          tcpTransfer(lab, b.ns, a.ns, A_IP, TRANSFER_BYTES),
        ]);
        const stats = JSON.parse(sprayed.stdout.trim()) as { sent: number; errors: number };
        assertAlive(sn, ea, eb);
        const after = await ping(lab, b.ns, A_IP, { count: 10, intervalS: 0.1 });
        const tr2 = await tcpTransfer(lab, a.ns, b.ns, B_IP, TRANSFER_BYTES);
        const registered = (await snEdges(lab, t.sn.ns)).map((r) => String(r.ip4addr).split('/')[0]);
        figure(
          `case 7 (hostile input${v.headerEncryption ? ', -H' : ''})`,
          `${stats.sent} datagrams in ${SPRAY_MS / 1000} s at the supernode and edge a; during: ${during.received}/${during.transmitted} pings ` +
            `(RTT ${during.avgMs.toFixed(2)} ms), 20 MB in ${tr.seconds.toFixed(2)} s = ${tr.mbitPerS.toFixed(0)} Mbit/s; after: ` +
            `${after.received}/10 pings, 20 MB ${tr2.ok ? 'ok' : 'FAILED'} (${tr2.mbitPerS.toFixed(0)} Mbit/s); ` +
            `the supernode lists ${registered.length} edges (the spray's well-formed REGISTER_SUPERs count too)`,
        );
        expect(stats.sent).toBeGreaterThan((SPRAY_PPS * SPRAY_MS) / 1000 / 2);
        expect(during.received).toBeGreaterThanOrEqual(Math.ceil(PINGS * MIN_PING_RATIO_UNDER_ATTACK));
        expect(tr.ok, tr.error).toBe(true);
        expect(after.received).toBe(10);
        expect(tr2.ok, tr2.error).toBe(true);
        // The real edges are still registered, and the same processes are still running.
        expect(registered).toEqual(expect.arrayContaining([A_IP, B_IP]));
        assertAlive(sn, ea, eb);
        expect([sn.pid, ea.pid, eb.pid]).toEqual(pids);
      } finally {
        await Promise.all([ea.stop(), eb.stop()]);
      }
    });
  }
});
