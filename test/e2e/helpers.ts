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
  type NatKind,
  type NatRouter,
  sleep,
  waitFor,
} from '../../src/lab/index.js';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** The built CLI; `npm run test:e2e` builds it first. */
export const MAIN_JS = resolve(REPO, 'dist/cli/main.js');

/** Default ports of n2n 3.1.1 (§10). */
export const SN_PORT = 7654;
export const SN_MGMT_PORT = 5645;
export const EDGE_MGMT_PORT = 5644;

const IS_CI = process.env.CI === 'true';
/** How long a supernode may take to start answering management requests. */
const SN_READY_TIMEOUT_MS = 15_000;

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

/**
 * The command that runs an edge or a supernode: `node dist/cli/main.js edge|supernode`, unless the environment
 * names another n2n 3.1.1-compatible program (used by hand for interoperability runs): E2E_EDGE_CMD /
 * E2E_SUPERNODE_CMD for all, or E2E_EDGE_CMD_<HOST> / E2E_SUPERNODE_CMD_<HOST> (host name upper-cased) for one.
 */
export function implCommand(kind: 'edge' | 'supernode', hostName?: string): string[] {
  const base = kind === 'edge' ? 'E2E_EDGE_CMD' : 'E2E_SUPERNODE_CMD';
  const override = (hostName && process.env[`${base}_${hostName.toUpperCase()}`]) || process.env[base];
  if (override) return override.split(/\s+/).filter((t) => t.length > 0);
  requireBuild();
  return [process.execPath, MAIN_JS, kind];
}

/**
 * Starts a supernode (`-f`, foreground) in a host's namespace and waits until its management port answers, so
 * edges started next do not lose their first REGISTER_SUPER to a supernode that is still loading.
 */
export async function startSupernode(
  lab: Lab,
  host: LabHost,
  args: readonly string[],
  name = `sn@${host.name}`,
): Promise<LabProcess> {
  const p = lab.spawn(name, host.ns, [...implCommand('supernode', host.name), '-f', ...args], {
    critical: true,
  });
  const mgmtPort = args.includes('-t') ? Number(args[args.indexOf('-t') + 1]) : SN_MGMT_PORT;
  const ready = await waitFor(async () => {
    lab.assertNoCrash();
    return mgmtRead(lab, host.ns, mgmtPort, 'packetstats')
      .then(() => true)
      .catch(() => undefined);
  }, SN_READY_TIMEOUT_MS);
  if (!ready)
    throw new Error(
      `${name} did not answer on its management port within ${SN_READY_TIMEOUT_MS} ms:\n${p.tail()}`,
    );
  return p;
}

/** Starts an edge (`-f`, foreground) in a host's namespace. */
export function startEdge(
  lab: Lab,
  host: LabHost,
  args: readonly string[],
  name = `edge@${host.name}`,
): LabProcess {
  return lab.spawn(name, host.ns, [...implCommand('edge', host.name), '-f', ...args], { critical: true });
}

/** TAP device name used by every edge in the suite (each edge has its own namespace). */
export const TAP = 'n2n0';

export interface EdgeConfig {
  community: string;
  /** Supernodes as host:port. */
  supernodes: readonly string[];
  /** `-a` value; omitted = supernode-assigned. */
  address?: string;
  /** 1…5 (`-A1`…`-A5`); a key is added for 2…5. */
  cipher?: number;
  key?: string;
  headerEncryption?: boolean;
  /** 1 = LZO, 2 = zstd. */
  compression?: number;
  /** Fixed local UDP port (`-p`). */
  port?: number;
  desc?: string;
  extra?: readonly string[];
}

export const DEFAULT_KEY = 'e2e-secret-key';

/** Builds the n2n 3.1.1 command line (§11.1) for an edge. */
export function edgeArgs(c: EdgeConfig): string[] {
  const a = ['-c', c.community, '-d', TAP];
  for (const sn of c.supernodes) a.push('-l', sn);
  if (c.address) a.push('-a', c.address);
  const cipher = c.cipher ?? 4;
  a.push(`-A${cipher}`);
  if (cipher !== 1) a.push('-k', c.key ?? DEFAULT_KEY);
  if (c.headerEncryption) a.push('-H');
  if (c.compression) a.push(`-z${c.compression}`);
  if (c.port !== undefined) a.push('-p', String(c.port));
  if (c.desc) a.push('-I', c.desc);
  a.push(...(c.extra ?? []));
  return a;
}

/** Prints one line of figures for a case, in a fixed format the summary can grep. */
export function figure(caseName: string, text: string): void {
  console.log(`[e2e] ${caseName}: ${text}`);
}

/** Public address of the supernode host in every topology. */
export const SN_IP = '203.0.113.1';
export const SN_ADDR = `${SN_IP}:${SN_PORT}`;

/** Supernode plus edge hosts directly on the internet segment (no NAT). */
export async function segmentTopology(
  lab: Lab,
  edgeNames: readonly string[],
): Promise<{ sn: LabHost; edges: LabHost[] }> {
  const sn = await lab.publicHost('sn', `${SN_IP}/24`);
  const edges: LabHost[] = [];
  for (let i = 0; i < edgeNames.length; i++)
    edges.push(await lab.publicHost(edgeNames[i], `203.0.113.${20 + i}/24`));
  return { sn, edges };
}

/** Supernode on the internet, each edge behind its own NAT router of the given kind. */
export async function natTopology(
  lab: Lab,
  edges: readonly { name: string; kind: NatKind }[],
): Promise<{ sn: LabHost; edges: LabHost[]; routers: NatRouter[] }> {
  const sn = await lab.publicHost('sn', `${SN_IP}/24`);
  const hosts: LabHost[] = [];
  const routers: NatRouter[] = [];
  for (let i = 0; i < edges.length; i++) {
    const n = i + 1;
    const r = await lab.natRouter(`r${n}`, `203.0.113.${10 + n}/24`, `192.168.${n}.1/24`, edges[i].kind);
    routers.push(r);
    hosts.push(await lab.lanHost(edges[i].name, r, `192.168.${n}.2/24`));
  }
  return { sn, edges: hosts, routers };
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

/** The supernode's `forward` tx counter (§13.2 packetstats): unicast PACKETs relayed between edges. */
export async function snForwarded(lab: Lab, ns: string, port = SN_MGMT_PORT): Promise<number> {
  return (await snStats(lab, ns, port)).forward;
}

/** The supernode's packetstats (§13.2): forwarded unicast and broadcast counters. */
export async function snStats(
  lab: Lab,
  ns: string,
  port = SN_MGMT_PORT,
): Promise<{ forward: number; broadcast: number }> {
  const rows = await mgmtRead(lab, ns, port, 'packetstats');
  const fwd = rows.find((r) => r.type === 'forward');
  const bc = rows.find((r) => r.type === 'broadcast');
  if (!fwd || !bc)
    throw new Error(`supernode packetstats lacks forward/broadcast rows: ${JSON.stringify(rows)}`);
  return { forward: Number(fwd.tx_pkt), broadcast: Number(bc.tx_pkt) };
}

export interface EdgePeer {
  /** `p2p` (direct) or `pSp` (pending, via the supernode). */
  mode: string;
  ip4addr: string;
  sockaddr: string;
  desc: string;
}

/**
 * An edge's peers (§13.2 `edges`), keyed by upper-case MAC: 3.1.1 leaves ip4addr and desc empty for peers it
 * learned from a REGISTER, so the MAC is the only reliable key.
 */
export async function edgePeers(lab: Lab, ns: string, port = EDGE_MGMT_PORT): Promise<Map<string, EdgePeer>> {
  const rows = await mgmtRead(lab, ns, port, 'edges');
  const m = new Map<string, EdgePeer>();
  for (const r of rows)
    m.set(String(r.macaddr).toUpperCase(), {
      mode: String(r.mode),
      ip4addr: String(r.ip4addr),
      sockaddr: String(r.sockaddr),
      desc: String(r.desc),
    });
  return m;
}

/** MAC address (upper case) of the TAP device in a namespace, or undefined while it does not exist. */
export async function tapMac(lab: Lab, ns: string, dev = TAP): Promise<string | undefined> {
  const r = await lab.run(ns, ['cat', `/sys/class/net/${dev}/address`], { check: false });
  return r.code === 0 ? r.stdout.trim().toUpperCase() : undefined;
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
