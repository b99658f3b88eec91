// Shared e2e helpers: the root/tool gate (fail, never skip, under CI), lab creation, tsn2n process starters, probes.
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  checkPrerequisites,
  describeMissing,
  Lab,
  type LabHost,
  type LabProcess,
  mgmtRead,
  sleep,
  waitFor,
} from '../../src/cli/lab.js';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** The built CLI; `npm run test:e2e` builds it first. */
export const MAIN_JS = resolve(REPO, 'dist/cli/main.js');

/** Default ports of n2n 3.1.1 (§10). */
export const SN_PORT = 7654;
export const SN_MGMT_PORT = 5645;
export const EDGE_MGMT_PORT = 5644;

const IS_CI = process.env.CI === 'true';

/**
 * Whether to run the root suites. Outside CI a machine without root or tools skips them with a warning;
 * under CI=true they always run, and `newLab()` then fails with the reason.
 */
export function labGate(extraTools: readonly string[] = []): { skip: boolean; reason?: string } {
  const reason = describeMissing(checkPrerequisites(extraTools));
  if (reason && !IS_CI) {
    console.warn(`[e2e] skipping: the e2e suite ${reason}`);
    return { skip: true, reason };
  }
  return { skip: false, reason };
}

/** A fresh lab; throws (so the test fails) if root or a tool is missing. */
export async function newLab(extraTools: readonly string[] = []): Promise<Lab> {
  const reason = describeMissing(checkPrerequisites(extraTools));
  if (reason) throw new Error(`the e2e suite ${reason}`);
  return Lab.create({ log: (l) => console.log(`[lab] ${l}`) });
}

/** Fails with a clear message when the CLI has not been built. */
export function requireBuild(): void {
  if (!existsSync(MAIN_JS))
    throw new Error(`${MAIN_JS} is missing: run \`npm run build\` (npm run test:e2e does)`);
}

/** Starts `tsn2n supernode -f …` in a host's namespace. */
export function startSupernode(
  lab: Lab,
  host: LabHost,
  args: readonly string[],
  name = `sn@${host.name}`,
): LabProcess {
  requireBuild();
  return lab.spawn(name, host.ns, [process.execPath, MAIN_JS, 'supernode', '-f', ...args]);
}

/** Starts `tsn2n edge -f …` in a host's namespace. */
export function startEdge(
  lab: Lab,
  host: LabHost,
  args: readonly string[],
  name = `edge@${host.name}`,
): LabProcess {
  requireBuild();
  return lab.spawn(name, host.ns, [process.execPath, MAIN_JS, 'edge', '-f', ...args]);
}

/** Waits until the edge's TAP device in `ns` has an IPv4 address; returns it. */
export async function waitForTapAddress(
  lab: Lab,
  ns: string,
  dev: string,
  timeoutMs: number,
): Promise<string | undefined> {
  return waitFor(async () => {
    const r = await lab.run(ns, ['ip', '-4', '-o', 'addr', 'show', 'dev', dev], { check: false });
    const m = r.stdout.match(/inet (\d+\.\d+\.\d+\.\d+)/);
    return m ? m[1] : undefined;
  }, timeoutMs);
}

/** The supernode's `forward` tx counter (§13.2 packetstats). */
export async function snForwarded(lab: Lab, ns: string, port = SN_MGMT_PORT): Promise<number> {
  const rows = await mgmtRead(lab, ns, port, 'packetstats');
  const fwd = rows.find((r) => r.type === 'forward');
  if (!fwd) throw new Error(`supernode packetstats has no forward row: ${JSON.stringify(rows)}`);
  return Number(fwd.tx_pkt);
}

/** Edge peers (§13.2 `edges`), keyed by overlay address. */
export async function edgePeers(
  lab: Lab,
  ns: string,
  port = EDGE_MGMT_PORT,
): Promise<Map<string, { mode: string; sockaddr: string; desc: string }>> {
  const rows = await mgmtRead(lab, ns, port, 'edges');
  const m = new Map<string, { mode: string; sockaddr: string; desc: string }>();
  for (const r of rows)
    m.set(String(r.ip4addr).split('/')[0], {
      mode: String(r.mode),
      sockaddr: String(r.sockaddr),
      desc: String(r.desc),
    });
  return m;
}

/** Edges registered at a supernode (§13.2 `edges`). */
export async function snEdges(lab: Lab, ns: string, port = SN_MGMT_PORT): Promise<Record<string, unknown>[]> {
  return mgmtRead(lab, ns, port, 'edges');
}

/** Throws with the process's last output when it has exited. */
export function assertAlive(...procs: LabProcess[]): void {
  for (const p of procs) {
    if (!p.alive())
      throw new Error(`${p.name} exited (code ${p.exitCode}, signal ${p.exitSignal}):\n${p.tail()}`);
  }
}

// Rendezvous for the hole-punch probe: tells each of two clients the other's public address as it sees it.
const RENDEZVOUS_SCRIPT = `
const s=require('dgram').createSocket('udp4');const seen={};
s.on('message',(m,r)=>{const id=m.toString();seen[id]=r;const o=seen[id==='a'?'b':'a'];if(o)s.send(o.address+' '+o.port,r.port,r.address)});
s.bind(Number(process.argv[2]),process.argv[1],()=>process.stdout.write('listening\\n'));`;

// Punch client: learns the peer's public address, then sends to it every 100 ms; reports whether the peer got through.
const PUNCH_SCRIPT = `
const s=require('dgram').createSocket('udp4');const [srv,port,id,dur]=[process.argv[1],Number(process.argv[2]),process.argv[3],Number(process.argv[4])];
let peer,got=false;
s.on('message',(m,r)=>{const t=m.toString();if(r.address===srv){const [a,p]=t.split(' ');peer={a,p:Number(p)}}else if(t.startsWith('punch'))got=true});
s.bind(0,()=>{setInterval(()=>{if(!peer)s.send(id,port,srv);else s.send('punch '+id,peer.p,peer.a)},100);
setTimeout(()=>{process.stdout.write(JSON.stringify({got})+'\\n');process.exit(0)},dur)});`;

const PUNCH_PORT = 3478;
const PUNCH_DURATION_MS = 3000;

/** Tries UDP hole punching between two hosts through their NATs, with `server` as rendezvous. */
export async function punchProbe(
  lab: Lab,
  server: LabHost,
  a: LabHost,
  b: LabHost,
): Promise<{ aGotB: boolean; bGotA: boolean }> {
  const rv = lab.spawn('rendezvous', server.ns, [
    process.execPath,
    '-e',
    RENDEZVOUS_SCRIPT,
    server.ip,
    String(PUNCH_PORT),
  ]);
  try {
    await rv.waitForOutput(/listening/, 5000);
    const run = (h: LabHost, id: string): Promise<boolean> =>
      lab
        .runNode(h.ns, PUNCH_SCRIPT, [server.ip, String(PUNCH_PORT), id, String(PUNCH_DURATION_MS)])
        .then((r) => (JSON.parse(r.stdout.trim()) as { got: boolean }).got);
    const [aGotB, bGotA] = await Promise.all([run(a, 'a'), run(b, 'b')]);
    return { aGotB, bGotA };
  } finally {
    await rv.stop();
    // Let the conntrack state of this probe not matter to later traffic from the same hosts.
    await sleep(100);
  }
}
