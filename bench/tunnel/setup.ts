// bench:tunnel process setup: starts a supernode and two edges (each tsn2n or C) for one case, waits for the overlay.
import { type LabProcess, mgmtRead, ping, sleep, waitFor, waitForPing } from '../../src/lab/index.js';
import { edgePeerModes } from '../lab-extra.js';
import type { Context, Impl } from './case.js';

/** Underlay MTU of every veth (the lab). */
export const UNDERLAY_MTU = 1500;
/** TAP MTU of every edge (`-M`). */
export const TAP_MTU = 1400;
export const SN_IP = '203.0.113.1';
export const A_IP = '203.0.113.21';
export const B_IP = '203.0.113.22';
export const A_VPN = '10.90.0.1';
export const B_VPN = '10.90.0.2';
const VPN_PREFIX_BITS = 24;
export const SN_PORT = 7654;
export const SN_MGMT_PORT = 5645;
export const EDGE_MGMT_PORT = 5644;
export const COMMUNITY = 'bench';
const KEY = 'bench-key';
const TAP_DEV = 'n2n0';
/** How long a supernode may take to answer on its management port, ms. */
const SN_READY_MS = 15_000;
/** How long the overlay may take to carry a first ping, s. */
const OVERLAY_UP_S = 30;
/** How long two edges may take to switch to P2P once the overlay is up, ms. */
const P2P_UP_MS = 20_000;
/** Step of the P2P wait (each step also pings across to keep the peers busy), ms. */
const P2P_POLL_MS = 250;
/** Settling time after the overlay is up (the edges' first registrations, ARP), ms. */
const SETTLE_MS = 500;

export interface TunnelConfig {
  /** 1…5 (`-A1`…`-A5`). */
  cipher: number;
  /** `-H` on both edges (and a community file on the supernode). */
  he: boolean;
  /** `-S1` on both edges: everything through the supernode. */
  relay: boolean;
  sn: Impl;
  a: Impl;
  b: Impl;
}

export interface Tunnel {
  sn: LabProcess;
  a: LabProcess;
  b: LabProcess;
  stop(): Promise<void>;
}

/** A short description such as "sn C · a tsn2n · b C, -A4 -H -S1". */
export function describe(cfg: TunnelConfig): string {
  const name = (i: Impl): string => (i === 'c' ? 'C' : 'tsn2n');
  const flags = [`-A${cfg.cipher}`, cfg.he ? '-H' : '', cfg.relay ? '-S1' : ''].filter((f) => f).join(' ');
  return `sn ${name(cfg.sn)} · a ${name(cfg.a)} · b ${name(cfg.b)}, ${flags}`;
}

function commands(ctx: Context, impl: Impl): { edge: readonly string[]; supernode: readonly string[] } {
  const c = impl === 'c' ? ctx.commands.c : ctx.commands.tsn2n;
  if (!c) throw new Error('C binaries needed (set N2N_REFERENCE_BIN)');
  return c;
}

function edgeArgs(cfg: TunnelConfig, vpnIp: string, desc: string): string[] {
  const args = ['-f', '-c', COMMUNITY, '-l', `${SN_IP}:${SN_PORT}`, '-a', `${vpnIp}/${VPN_PREFIX_BITS}`];
  args.push('-d', TAP_DEV, '-M', String(TAP_MTU), '-I', desc, `-A${cfg.cipher}`);
  if (cfg.cipher !== 1) args.push('-k', KEY);
  if (cfg.he) args.push('-H');
  if (cfg.relay) args.push('-S1');
  return args;
}

async function stopAll(procs: readonly LabProcess[]): Promise<void> {
  await Promise.all(procs.map((p) => p.stop()));
}

/** Waits until both edges list each other as P2P peers (pinging across meanwhile); throws on timeout. */
async function waitForP2p(ctx: Context): Promise<void> {
  const both = await waitFor(
    async () => {
      ctx.lab.assertNoCrash();
      await ping(ctx.lab, ctx.a.ns, B_VPN, { count: 1, waitS: 1 });
      const [ma, mb] = await Promise.all([
        edgePeerModes(ctx.lab, ctx.a.ns, EDGE_MGMT_PORT).catch((): string[] => []),
        edgePeerModes(ctx.lab, ctx.b.ns, EDGE_MGMT_PORT).catch((): string[] => []),
      ]);
      return ma.includes('p2p') && mb.includes('p2p') ? true : undefined;
    },
    P2P_UP_MS,
    P2P_POLL_MS,
  );
  if (!both) throw new Error(`the edges did not go P2P within ${P2P_UP_MS / 1000} s`);
}

/** Starts supernode and edges as configured and waits until a → b and b → a work (and are P2P unless -S1). */
export async function startTunnel(ctx: Context, cfg: TunnelConfig): Promise<Tunnel> {
  const { lab } = ctx;
  const snArgs = ['-f', '-p', String(SN_PORT)];
  if (cfg.he) snArgs.push('-c', ctx.communityFile);
  const sn = lab.spawn(`sn(${cfg.sn})`, ctx.sn.ns, [...commands(ctx, cfg.sn).supernode, ...snArgs], {
    critical: true,
  });
  const procs: LabProcess[] = [sn];
  try {
    const ready = await waitFor(async () => {
      lab.assertNoCrash();
      return mgmtRead(lab, ctx.sn.ns, SN_MGMT_PORT, 'packetstats')
        .then(() => true)
        .catch(() => undefined);
    }, SN_READY_MS);
    if (!ready) throw new Error(`supernode silent on its management port for ${SN_READY_MS / 1000} s`);
    const a = lab.spawn(
      `edge-a(${cfg.a})`,
      ctx.a.ns,
      [...commands(ctx, cfg.a).edge, ...edgeArgs(cfg, A_VPN, 'a')],
      {
        critical: true,
      },
    );
    procs.push(a);
    const b = lab.spawn(
      `edge-b(${cfg.b})`,
      ctx.b.ns,
      [...commands(ctx, cfg.b).edge, ...edgeArgs(cfg, B_VPN, 'b')],
      {
        critical: true,
      },
    );
    procs.push(b);
    if ((await waitForPing(lab, ctx.a.ns, B_VPN, OVERLAY_UP_S)) === undefined)
      throw new Error(`no ping a → b across the overlay within ${OVERLAY_UP_S} s`);
    if ((await waitForPing(lab, ctx.b.ns, A_VPN, OVERLAY_UP_S)) === undefined)
      throw new Error(`no ping b → a across the overlay within ${OVERLAY_UP_S} s`);
    if (!cfg.relay) await waitForP2p(ctx);
    await sleep(SETTLE_MS);
    lab.assertNoCrash();
    return { sn, a, b, stop: () => stopAll([b, a, sn]) };
  } catch (err) {
    await stopAll(procs);
    throw err;
  }
}

/** Runs `body` with a freshly started tunnel and always stops its processes afterwards. */
export async function withTunnel<T>(
  ctx: Context,
  cfg: TunnelConfig,
  body: (t: Tunnel) => Promise<T>,
): Promise<T> {
  ctx.log(`start ${describe(cfg)}`);
  const t = await startTunnel(ctx, cfg);
  try {
    const r = await body(t);
    ctx.lab.assertNoCrash();
    return r;
  } finally {
    await t.stop();
  }
}
