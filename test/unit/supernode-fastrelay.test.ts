// What the supernode teaches its native relay (supernode/fastrelay.ts), on the memory network with a recording relay: which routes, and when all are forgotten.
import { afterEach, describe, expect, it } from 'vitest';
import type { Supernode } from '../../src/supernode/supernode.js';
import { PURGE_SECONDS, REGISTRATION_TIMEOUT_SECONDS } from '../../src/supernode/timers.js';
import type { NativeRelay } from '../../src/supernode/types.js';
import { RECORD_WORDS } from '../../src/transform/stamp.js';
import { macToString, readMac } from '../../src/util/mac.js';
import { communityName } from '../../src/wire/common.js';
import { MsgType } from '../../src/wire/types.js';
import { advance, type Env, ip, makeEnv, SN_IP, startSn, WireEdge } from './supernode-harness.js';

const MAC_A = 0x02_0b_00_00_00_01;
const MAC_B = 0x02_0b_00_00_00_02;
const MAC_C = 0x02_0b_00_00_00_03;
const BROADCAST = 0xff_ff_ff_ff_ff_ff;
const PAYLOAD = new Uint8Array([1, 2, 3, 4]);

/** Records what it is taught; `fullAfter` makes the n-th learn report a full table. */
class RecordingRelay implements NativeRelay {
  readonly stats = new Float64Array(6);
  readonly heOpenedWord = 4;
  readonly slots = 4;
  readonly records = new Uint32Array(RECORD_WORDS * this.slots);
  readonly dirty = new Uint8Array(this.slots + 1);
  maxEdges = 64;
  readonly maxCommunities = 4;
  readonly maxHeaderCommunities = 2;
  header = false;
  cores: unknown[] = [];
  taught: string[] = [];
  learns = 0;
  forgets = 0;
  enabled = false;
  detached = false;
  fullAt = -1;

  setEnabled(on: boolean): void {
    this.enabled = on;
  }

  configureHeader(_stampState: Uint32Array): void {
    this.header = true;
  }

  takesHeader(core: unknown): boolean {
    return this.header && core !== undefined;
  }

  learn(community20: Uint8Array, mac: Uint8Array, socket: Uint8Array, core?: unknown, slot = -1): boolean {
    this.learns++;
    if (core !== undefined) this.cores.push({ core, slot });
    const full = this.learns === this.fullAt;
    if (full) this.taught = [];
    const port = (socket[4] << 8) | socket[5];
    this.taught.push(
      `${communityName(community20)} ${macToString(readMac(mac, 0))} ${socket.slice(0, 4).join('.')}:${port}`,
    );
    return full;
  }

  forget(): void {
    this.forgets++;
    this.taught = [];
  }

  detach(): void {
    this.detached = true;
  }
}

let sn: Supernode | undefined;
afterEach(async () => {
  await sn?.stop();
  sn = undefined;
});

async function setup(
  community = 'teach',
  he = false,
): Promise<{ env: Env; relay: RecordingRelay; a: WireEdge; b: WireEdge }> {
  const env = makeEnv();
  const relay = new RecordingRelay();
  if (he) env.files['/c.list'] = `${community}\n`;
  sn = await startSn(env, he ? { communityFile: '/c.list' } : {}, SN_IP, {
    openUdp: (address, port) => env.net.open(address, port, { batch: true }),
    openNativeRelay: () => relay,
  });
  const a = new WireEdge(env, '192.0.2.1', {
    community,
    mac: MAC_A,
    he,
    devAddr: { addr: ip(10, 0, 0, 1), bitlen: 24 },
  });
  const b = new WireEdge(env, '192.0.2.2', {
    community,
    mac: MAC_B,
    he,
    devAddr: { addr: ip(10, 0, 0, 2), bitlen: 24 },
  });
  a.registerSuper();
  b.registerSuper();
  env.net.flush();
  expect(a.ofType(MsgType.REGISTER_SUPER_ACK)).toHaveLength(1);
  expect(b.ofType(MsgType.REGISTER_SUPER_ACK)).toHaveLength(1);
  return { env, relay, a, b };
}

const A_ROUTE = 'teach 02:0b:00:00:00:01 192.0.2.1:50000';
const B_ROUTE = 'teach 02:0b:00:00:00:02 192.0.2.2:50000';

describe('supernode: teaching the native relay', () => {
  it('is enabled with the socket, teaches both edges of a relayed unicast PACKET once, and detaches at stop', async () => {
    const { env, relay, a, b } = await setup();
    expect(relay.enabled).toBe(true);
    expect(sn!.stats.native).toBe(relay.stats);
    a.packet(MAC_B, PAYLOAD);
    env.net.flush();
    expect(b.ofType(MsgType.PACKET)).toHaveLength(1);
    expect(relay.taught).toEqual([A_ROUTE, B_ROUTE]);
    b.packet(MAC_A, PAYLOAD);
    a.packet(MAC_B, PAYLOAD);
    env.net.flush();
    expect(relay.learns).toBe(2);
    // The native counters show in the supernode's and stay there after stop.
    relay.stats[1] = 5;
    const fwd = sn!.stats.fwd;
    await sn!.stop();
    expect(relay.detached).toBe(true);
    expect(sn!.stats.fwd).toBe(fwd);
    expect(sn!.stats.native).toBeUndefined();
  });

  it('teaches nothing for a broadcast or a -H community', async () => {
    const plain = await setup();
    plain.a.packet(BROADCAST, PAYLOAD);
    plain.env.net.flush();
    expect(plain.b.ofType(MsgType.PACKET)).toHaveLength(1);
    expect(plain.relay.learns).toBe(0);
    await sn!.stop();
    const he = await setup('teachh', true);
    he.a.packet(MAC_B, PAYLOAD);
    he.env.net.flush();
    expect(he.b.ofType(MsgType.PACKET)).toHaveLength(1);
    expect(he.relay.learns).toBe(0);
  });

  it('forgets everything when an edge moves, leaves or expires, and teaches again afterwards', async () => {
    const { env, relay, a, b } = await setup();
    a.packet(MAC_B, PAYLOAD);
    env.net.flush();
    expect(relay.taught).toHaveLength(2);
    // A moves to another port.
    const a2 = new WireEdge(env, '192.0.2.1', {
      community: 'teach',
      mac: MAC_A,
      port: 50001,
      devAddr: { addr: ip(10, 0, 0, 1), bitlen: 24 },
    });
    a2.token.set(a.token);
    a2.registerSuper();
    env.net.flush();
    expect(a2.ofType(MsgType.REGISTER_SUPER_ACK)).toHaveLength(1);
    expect(relay.forgets).toBe(1);
    a2.packet(MAC_B, PAYLOAD);
    env.net.flush();
    expect(relay.taught).toEqual(['teach 02:0b:00:00:00:01 192.0.2.1:50001', B_ROUTE]);
    // Nothing changes on a registration that changes nothing.
    b.registerSuper();
    env.net.flush();
    expect(relay.forgets).toBe(1);
    // B expires (A keeps registering).
    for (let t = 0; t < REGISTRATION_TIMEOUT_SECONDS + PURGE_SECONDS + 5; t += 5) {
      a2.registerSuper();
      advance(env, 5);
    }
    expect(sn!.edgeCount).toBe(1);
    expect(relay.forgets).toBeGreaterThanOrEqual(2);
    expect(relay.taught).toEqual([]);
  });

  it('teaches again after the native table reported itself full', async () => {
    const { env, relay, a, b } = await setup();
    relay.fullAt = 2;
    a.packet(MAC_B, PAYLOAD);
    env.net.flush();
    // Teaching B found the table full: a new round with nothing taught; the next relayed PACKET teaches both.
    expect(relay.taught).toEqual([]);
    expect(relay.forgets).toBe(1);
    b.packet(MAC_A, PAYLOAD);
    env.net.flush();
    expect(relay.taught).toEqual([B_ROUTE, A_ROUTE]);
    expect(relay.learns).toBe(4);
  });

  it('starts a new round before the native table would overflow', async () => {
    const { env, relay, a } = await setup();
    relay.maxEdges = 2;
    const c = new WireEdge(env, '192.0.2.3', {
      community: 'teach',
      mac: MAC_C,
      devAddr: { addr: ip(10, 0, 0, 3), bitlen: 24 },
    });
    c.registerSuper();
    env.net.flush();
    a.packet(MAC_B, PAYLOAD);
    env.net.flush();
    expect(relay.forgets).toBe(0);
    a.packet(MAC_C, PAYLOAD);
    env.net.flush();
    expect(relay.forgets).toBe(1);
    expect(relay.taught).toEqual([A_ROUTE, 'teach 02:0b:00:00:00:03 192.0.2.3:50000']);
  });
});
