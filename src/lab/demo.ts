// The `tsn2n demo` scenario: a supernode and two edges behind NAT routers in namespaces; registration, P2P, traffic.
import { Lab, type LabHost } from './lab.js';
import { NatKind } from './nat.js';
import { checkPrerequisites, describeMissing, findExecutable } from './prereq.js';
import { iperf3, mgmtRead, ping, waitFor, waitForPing } from './probes.js';
import type { LabProcess } from './processes.js';

const SN_PUBLIC = '203.0.113.1';
const SN_PORT = 7654;
const SN_MGMT_PORT = 5645;
const EDGE_MGMT_PORT = 5644;
const COMMUNITY = 'demo';
const KEY = 'tsn2n-demo-key';
const TAP = 'n2n0';
const ALICE_VPN = '10.99.0.1';
const BOB_VPN = '10.99.0.2';
/** Names of the `-A` cipher numbers. */
const CIPHERS: Record<number, string> = { 1: 'null', 2: 'Twofish', 3: 'AES', 4: 'ChaCha20', 5: 'Speck' };
/** The `-A` number of the null cipher (no key). */
const NULL_CIPHER = 1;
const REGISTER_TIMEOUT_MS = 30_000;
const PING_UP_TIMEOUT_S = 30;
const P2P_TIMEOUT_MS = 20_000;
const PING_COUNT = 5;

export interface DemoOptions {
  /** `-A` cipher number 1…5. */
  cipher: number;
  /** iperf3 seconds (0 = skip). */
  time: number;
  /** Echo the supernode and edge logs. */
  verbose: boolean;
  /** The built CLI entry point (`dist/cli/main.js`) that the supernode and edges run. */
  mainJs: string;
  /** Writes one line of the report. */
  say: (line?: string) => void;
}

/** Builds the network, runs the scenario and prints its report; always tears the lab down. */
export async function runDemo(opts: DemoOptions): Promise<void> {
  const { say } = opts;
  const missing = describeMissing(checkPrerequisites());
  if (missing) throw new Error(`demo ${missing}`);
  const t0 = performance.now();
  const lab = await Lab.create({ log: (l) => say(`  ${l}`) });
  const procs: LabProcess[] = [];
  try {
    say('tsn2n demo: building the network (namespaces, an "internet" bridge, two NAT routers)');
    const snHost = await lab.publicHost('supernode', `${SN_PUBLIC}/24`);
    const r1 = await lab.natRouter('nat-alice', '203.0.113.11/24', '192.168.1.1/24', NatKind.OPEN);
    const r2 = await lab.natRouter('nat-bob', '203.0.113.12/24', '192.168.2.1/24', NatKind.OPEN);
    const alice = await lab.lanHost('alice', r1, '192.168.1.2/24');
    const bob = await lab.lanHost('bob', r2, '192.168.2.2/24');
    say(`  supernode  ${SN_PUBLIC}:${SN_PORT} (public)`);
    say(`  alice      192.168.1.2 behind NAT ${r1.ip}`);
    say(`  bob        192.168.2.2 behind NAT ${r2.ip}`);

    const echo = (name: string) => (opts.verbose ? (l: string) => say(`  [${name}] ${l}`) : undefined);
    const start = (name: string, host: LabHost, args: string[]): LabProcess => {
      const p = lab.spawn(name, host.ns, [process.execPath, opts.mainJs, ...args], {
        critical: true,
        onLine: echo(name),
      });
      procs.push(p);
      return p;
    };
    say();
    say(
      `starting the supernode and two edges (community "${COMMUNITY}", -A${opts.cipher} ${CIPHERS[opts.cipher]})`,
    );
    start('supernode', snHost, ['supernode', '-f', '-p', String(SN_PORT)]);
    const edgeArgs = (ip: string, desc: string): string[] => {
      const a = ['edge', '-f', '-c', COMMUNITY, '-a', `${ip}/24`, '-l', `${SN_PUBLIC}:${SN_PORT}`, '-d', TAP];
      a.push(`-A${opts.cipher}`, '-I', desc);
      if (opts.cipher !== NULL_CIPHER) a.push('-k', KEY);
      return a;
    };
    start('alice', alice, edgeArgs(ALICE_VPN, 'alice'));
    start('bob', bob, edgeArgs(BOB_VPN, 'bob'));

    const registered = await waitFor(async () => {
      lab.assertNoCrash();
      const rows = await mgmtRead(lab, snHost.ns, SN_MGMT_PORT, 'edges').catch(() => []);
      const edges = rows.filter((r) => r.community === COMMUNITY);
      return edges.length >= 2 ? edges : undefined;
    }, REGISTER_TIMEOUT_MS);
    if (!registered) throw new Error('the edges did not register with the supernode within 30 s');
    const tReg = (performance.now() - t0) / 1000;
    say(`registered at the supernode (${tReg.toFixed(1)} s after start):`);
    for (const r of registered)
      say(
        `  ${String(r.desc).padEnd(8)} ${String(r.ip4addr).padEnd(16)} ${String(r.macaddr)}  seen from ${String(r.sockaddr)}`,
      );

    say();
    const up = await waitForPing(lab, alice.ns, BOB_VPN, PING_UP_TIMEOUT_S);
    if (up === undefined) throw new Error(`alice cannot ping bob (${BOB_VPN}) across the overlay`);
    const first = await ping(lab, alice.ns, BOB_VPN, { count: PING_COUNT, intervalS: 0.2 });
    say(
      `ping alice → bob ${BOB_VPN}: ${first.received}/${first.transmitted}, RTT ${first.avgMs.toFixed(2)} ms`,
    );

    // Hole punching through both NATs; keep a little traffic going while it happens.
    const direct = await waitFor(async () => {
      await ping(lab, alice.ns, BOB_VPN, { count: 1, waitS: 1 });
      const rows = await mgmtRead(lab, alice.ns, EDGE_MGMT_PORT, 'edges').catch(() => []);
      return rows.find((r) => r.mode === 'p2p');
    }, P2P_TIMEOUT_MS);
    const peers = await mgmtRead(lab, alice.ns, EDGE_MGMT_PORT, 'edges').catch(() => []);
    say('alice sees these peers:');
    for (const r of peers) {
      const how = r.mode === 'p2p' ? `direct (P2P) to ${String(r.sockaddr)}` : 'relayed by the supernode';
      say(`  ${String(r.macaddr)} ${String(r.desc || '').padEnd(6)} ${how}`);
    }
    if (peers.length === 0) say('  (none listed yet)');
    const second = await ping(lab, alice.ns, BOB_VPN, { count: PING_COUNT, intervalS: 0.2 });
    say(
      `ping alice → bob ${direct ? 'over the direct path' : 'via the supernode'}: ${second.received}/${second.transmitted}, ` +
        `RTT ${second.avgMs.toFixed(2)} ms`,
    );

    let throughput = 'skipped (iperf3 not installed)';
    if (opts.time === 0) throughput = 'skipped (--time 0)';
    else if (findExecutable('iperf3')) {
      say(`iperf3 alice → bob for ${opts.time} s …`);
      const r = await iperf3(lab, alice.ns, bob.ns, BOB_VPN, opts.time);
      throughput = r.ok
        ? `${r.mbitPerS.toFixed(0)} Mbit/s (TCP, ${r.retransmits} retransmits)`
        : `failed: ${r.error}`;
    }
    lab.assertNoCrash();

    say();
    say('report');
    say(`  peers:      alice ${ALICE_VPN} and bob ${BOB_VPN}, both registered with the supernode`);
    say(`  path:       ${direct ? 'direct (P2P through both NATs)' : 'relayed by the supernode'}`);
    say(`  RTT:        ${second.avgMs.toFixed(2)} ms (${second.received}/${second.transmitted} replies)`);
    say(`  throughput: ${throughput}`);
  } finally {
    say('cleaning up: stopping processes, deleting namespaces');
    await lab.destroy();
    const left = lab.remaining();
    say(left.length === 0 ? 'done, nothing left behind' : `WARNING: left behind: ${left.join(', ')}`);
  }
}
