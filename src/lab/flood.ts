// The flood attacker (bench/flood.ts, test/e2e/flood.test.ts): N hostile datagrams of mixed kinds at n2n daemons, as fast as it can send.
//
// Run in the attacker's namespace: `node dist/lab/flood.js --count N --target ip:port:community[:H] ... [--mac aa:..]`.
// Kinds, in turn: random bytes; mutated captures of C 3.1.1 traffic (test/vectors, community rewritten); forged
// REGISTER_SUPER with random MACs and device addresses; forged PACKETs claiming random MACs and, with --mac, the
// MACs of genuine edges; forged REGISTERs from random MACs. At a `:H` target the forged messages carry encrypted
// headers made with the static key (the community name is all an attacker needs, spec §7.1) and fresh stamps.
// Datagrams leave in batches of BATCH through the addon's sendmmsg from SOCKETS source ports. A rate line goes to
// stderr each second; the totals go to stdout as one JSON line.
import { randomFillSync } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { nativeCipherBackend } from '../io/crypto-native.js';
import { encodeSockAddr, SOCKADDR_BYTES } from '../io/sockaddr.js';
import { type NativeUdpSocket, openNativeUdp } from '../io/udp-native.js';
import { asHeaderBackend, encryptHeader, type HeaderKeys, staticHeaderKeys } from '../transform/header.js';
import { StampGenerator } from '../transform/stamp.js';
import { fixedString } from '../util/bytes.js';
import { type Clock, SystemClock } from '../util/clock.js';
import { BROADCAST_MAC, type Mac, parseMac, writeMac } from '../util/mac.js';
import { communityBytes } from '../wire/common.js';
import { encodeRegister, encodeRegisterSuper } from '../wire/messages.js';
import { encodePacket } from '../wire/packet.js';
import { COMMON_HEADER_BYTES, MsgType, N2N_PKT_VERSION } from '../wire/types.js';

/** Datagrams per sendmmsg. */
const BATCH = 64;
/** Room per datagram in the send slab (the largest one built is MAX_DATAGRAM_BYTES). */
const SLOT_BYTES = 1600;
const MAX_DATAGRAM_BYTES = 1500;
/** Source ports the flood comes from (a batch goes from one, the next batch from the next). */
const DEFAULT_SOCKETS = 8;
/** Random bytes drawn per refill. */
const RANDOM_POOL_BYTES = 1 << 20;
const REPORT_MS = 1000;
/** Pause when the kernel refuses a batch (socket buffer full). */
const BACKOFF_MS = 1;
/** Send buffer per source socket. */
const SEND_BUFFER_BYTES = 4 << 20;
const COMMUNITY_OFF = 4;
const COMMUNITY_BYTES = 20;
/** Field offsets in the templates (wire.c encode order; no SOCKET flag). */
const REGISTER_SUPER_COOKIE_OFF = 24;
const REGISTER_SUPER_MAC_OFF = 28;
const REGISTER_SUPER_DEV_OFF = 34;
const PACKET_SRC_OFF = 24;
const PACKET_DST_OFF = 30;
const PACKET_PAYLOAD_OFF = 38;
const REGISTER_COOKIE_OFF = 24;
const REGISTER_SRC_OFF = 28;
const REGISTER_DEV_OFF = 40;
const MIN_PAYLOAD_BYTES = 60;
/** Forged PACKET payloads: up to an MTU-sized frame. */
const MAX_PAYLOAD_BYTES = 1400;
/** -A4 (ChaCha20), the transform the e2e and bench edges use: forged PACKETs pass the transform check. */
const DEFAULT_TRANSFORM = 4;
const MAX_BIT_FLIPS = 8;
/** N2N_COMPRESSION_ID_NONE (n2n_define.h): forged payloads go on to decryption and the TAP. */
const PACKET_COMPRESSION_NONE = 1;

export const FloodKind = {
  RANDOM: 0,
  MUTATED: 1,
  REGISTER_SUPER: 2,
  PACKET_RANDOM_MAC: 3,
  PACKET_KNOWN_MAC: 4,
  REGISTER: 5,
} as const;
export type FloodKind = (typeof FloodKind)[keyof typeof FloodKind];
const KIND_NAMES = Object.keys(FloodKind);
/** The mix, one entry per datagram in turn. */
export const FLOOD_MIX: readonly FloodKind[] = [
  FloodKind.RANDOM,
  FloodKind.REGISTER_SUPER,
  FloodKind.PACKET_RANDOM_MAC,
  FloodKind.MUTATED,
  FloodKind.PACKET_KNOWN_MAC,
  FloodKind.REGISTER_SUPER,
  FloodKind.REGISTER,
  FloodKind.PACKET_RANDOM_MAC,
];

export interface FloodTarget {
  address: string;
  port: number;
  community: string;
  /** The target's community uses header encryption (-H). */
  he: boolean;
}

export interface FloodOptions {
  targets: readonly FloodTarget[];
  /** Datagrams in all (accepted by the kernel), spread over the targets in turn. */
  count: number;
  /** Datagrams per second at most; 0 = as fast as possible. */
  pps?: number;
  /** MACs of genuine edges that forged PACKETs claim. */
  knownMacs?: readonly Mac[];
  /** The PACKET transform id forged PACKETs carry. */
  transform?: number;
  sockets?: number;
  /** Directory of the golden vectors (captures to mutate); default the repository's test/vectors. */
  vectorsDir?: string;
  /** Called about once a second with the datagrams sent so far and the rate over the last second. */
  progress?: (sent: number, perSecond: number) => void;
}

export interface FloodResult {
  sent: number;
  /** Datagrams the kernel refused (retried, not counted in sent). */
  refused: number;
  seconds: number;
  perSecond: number;
  byKind: Record<string, number>;
}

/** Random bytes drawn in big batches. */
export class RandomPool {
  private readonly pool = Buffer.allocUnsafe(RANDOM_POOL_BYTES);
  private pos = RANDOM_POOL_BYTES;

  private take(n: number): number {
    if (this.pos + n > RANDOM_POOL_BYTES) {
      randomFillSync(this.pool);
      this.pos = 0;
    }
    const p = this.pos;
    this.pos += n;
    return p;
  }
  fill(out: Uint8Array, off: number, n: number): void {
    const p = this.take(n);
    out.set(this.pool.subarray(p, p + n), off);
  }
  u32(): number {
    const p = this.take(4);
    return this.pool.readUInt32BE(p);
  }
  below(n: number): number {
    return this.u32() % n;
  }
  /** A locally administered unicast MAC. */
  mac(): Mac {
    const p = this.take(6);
    const b = this.pool;
    return ((b[p] & 0xfc) | 0x02) * 2 ** 40 + b.readUIntBE(p + 1, 5);
  }
}

/** The plaintext datagrams of the golden captures (C 3.1.1 traffic) under `dir`. */
export function loadCaptures(dir: string): Buffer[] {
  const out: Buffer[] = [];
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  } catch {
    return out;
  }
  for (const f of files) {
    const v = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { udp?: { hex: string }[] };
    for (const d of v.udp ?? []) {
      const b = Buffer.from(d.hex, 'hex');
      if (b.length >= COMMON_HEADER_BYTES && b.length <= MAX_DATAGRAM_BYTES) out.push(b);
    }
  }
  return out;
}

/** Builds one target's datagrams into a slot: templates encoded once, random fields patched per datagram. */
export class Forger {
  private readonly community: Uint8Array;
  private readonly keys: HeaderKeys | undefined;
  private readonly stamps: StampGenerator;
  private readonly stamp = { hi: 0, lo: 0 };
  private readonly regSuper = Buffer.alloc(SLOT_BYTES);
  private readonly regSuperLen: number;
  private readonly packet = Buffer.alloc(SLOT_BYTES);
  private readonly register = Buffer.alloc(SLOT_BYTES);
  private readonly registerLen: number;

  constructor(
    target: FloodTarget,
    private readonly rnd: RandomPool,
    private readonly captures: readonly Buffer[],
    private readonly knownMacs: readonly Mac[],
    transform: number = DEFAULT_TRANSFORM,
    /** The clock of the -H stamps (a test's fake one; the system's in a real flood). */
    clock: Clock = new SystemClock(),
  ) {
    this.stamps = new StampGenerator(clock);
    this.community = communityBytes(target.community);
    this.keys = target.he
      ? staticHeaderKeys(this.community, asHeaderBackend(nativeCipherBackend()))
      : undefined;
    const common = (type: MsgType) => ({ ttl: 2, type, flags: 0, community: this.community });
    const desc = fixedString('flood', 16);
    this.regSuperLen = encodeRegisterSuper(
      common(MsgType.REGISTER_SUPER),
      {
        cookie: 0,
        edgeMac: 0,
        devAddr: { addr: 0, bitlen: 24 },
        desc,
        auth: { scheme: 1, token: new Uint8Array(16) },
        keyTime: 0,
      },
      this.regSuper,
      0,
    );
    encodePacket(
      common(MsgType.PACKET),
      { srcMac: 0, dstMac: 0, compression: PACKET_COMPRESSION_NONE, transform },
      this.packet,
      0,
    );
    this.registerLen = encodeRegister(
      common(MsgType.REGISTER),
      { cookie: 0, srcMac: 0, dstMac: 0, devAddr: { addr: 0, bitlen: 24 }, desc },
      this.register,
      0,
    );
  }

  /** Writes one datagram of `kind` at out[off, …) and returns its length. */
  build(kind: FloodKind, out: Buffer, off: number): number {
    const r = this.rnd;
    switch (kind) {
      case FloodKind.RANDOM: {
        const n = r.below(MAX_DATAGRAM_BYTES + 1);
        r.fill(out, off, n);
        return n;
      }
      case FloodKind.MUTATED:
        return this.mutated(out, off);
      case FloodKind.REGISTER_SUPER: {
        this.regSuper.copy(out, off, 0, this.regSuperLen);
        out.writeUInt32BE(r.u32(), off + REGISTER_SUPER_COOKIE_OFF);
        writeMac(out, off + REGISTER_SUPER_MAC_OFF, r.mac());
        r.fill(out, off + REGISTER_SUPER_DEV_OFF, 4);
        return this.seal(out, off, this.regSuperLen, this.regSuperLen);
      }
      case FloodKind.PACKET_RANDOM_MAC:
      case FloodKind.PACKET_KNOWN_MAC: {
        this.packet.copy(out, off, 0, PACKET_PAYLOAD_OFF);
        const known = this.knownMacs;
        const claim = kind === FloodKind.PACKET_KNOWN_MAC && known.length > 0;
        writeMac(out, off + PACKET_SRC_OFF, claim ? known[r.below(known.length)] : r.mac());
        const dst = known.length > 0 && r.below(2) === 0 ? known[r.below(known.length)] : BROADCAST_MAC;
        writeMac(out, off + PACKET_DST_OFF, dst);
        const n = MIN_PAYLOAD_BYTES + r.below(MAX_PAYLOAD_BYTES - MIN_PAYLOAD_BYTES);
        r.fill(out, off + PACKET_PAYLOAD_OFF, n);
        return this.seal(out, off, PACKET_PAYLOAD_OFF + n, PACKET_PAYLOAD_OFF);
      }
      case FloodKind.REGISTER: {
        this.register.copy(out, off, 0, this.registerLen);
        out.writeUInt32BE(r.u32(), off + REGISTER_COOKIE_OFF);
        writeMac(out, off + REGISTER_SRC_OFF, r.mac());
        r.fill(out, off + REGISTER_DEV_OFF, 4);
        return this.seal(out, off, this.registerLen, this.registerLen);
      }
    }
    return 0;
  }

  /** Encrypts the header at a -H target (hl bytes covered, a fresh stamp); plaintext targets get it as is. */
  private seal(out: Buffer, off: number, len: number, hl: number): number {
    if (this.keys !== undefined)
      encryptHeader(out, off, len, hl, this.stamps.next(this.stamp), this.rnd.u32(), this.keys);
    return len;
  }

  /** A capture with the target's community, then bit flips, a truncation, random tail bytes or a random type. */
  private mutated(out: Buffer, off: number): number {
    const r = this.rnd;
    if (this.captures.length === 0) {
      const n = r.below(MAX_DATAGRAM_BYTES + 1);
      r.fill(out, off, n);
      return n;
    }
    const c = this.captures[r.below(this.captures.length)];
    c.copy(out, off);
    let n = c.length;
    if (c[0] === N2N_PKT_VERSION) {
      out.fill(0, off + COMMUNITY_OFF, off + COMMUNITY_OFF + COMMUNITY_BYTES);
      out.set(this.community.subarray(0, COMMUNITY_BYTES - 1), off + COMMUNITY_OFF);
    }
    switch (r.below(4)) {
      case 0:
        for (let i = 0, k = 1 + r.below(MAX_BIT_FLIPS); i < k; i++) out[off + r.below(n)] ^= 1 << r.below(8);
        break;
      case 1:
        n = r.below(n);
        break;
      case 2: {
        const extra = r.below(MAX_DATAGRAM_BYTES - n + 1);
        r.fill(out, off + n, extra);
        n += extra;
        break;
      }
      default:
        out[off + 3] = (out[off + 3] & 0xe0) | r.below(32);
    }
    return n;
  }
}

/** Sends the flood; resolves when `count` datagrams have left. */
export async function flood(opts: FloodOptions): Promise<FloodResult> {
  if (opts.targets.length === 0) throw new RangeError('flood: no target');
  const rnd = new RandomPool();
  const here = dirname(fileURLToPath(import.meta.url));
  const captures = loadCaptures(opts.vectorsDir ?? resolve(here, '../../test/vectors'));
  const forgers = opts.targets.map(
    (t) => new Forger(t, rnd, captures, opts.knownMacs ?? [], opts.transform ?? DEFAULT_TRANSFORM),
  );
  const addrs = new Uint8Array(BATCH * SOCKADDR_BYTES);
  const targetAddrs = opts.targets.map((t) => {
    const a = new Uint8Array(SOCKADDR_BYTES);
    encodeSockAddr({ family: 4, address: t.address, port: t.port }, a, 0);
    return a;
  });
  const sockets: NativeUdpSocket[] = [];
  for (let i = 0; i < (opts.sockets ?? DEFAULT_SOCKETS); i++)
    sockets.push(openNativeUdp({ family: 4, sendBufferBytes: SEND_BUFFER_BYTES, offload: false }));
  const slab = Buffer.alloc(BATCH * SLOT_BYTES);
  const offsets = new Uint32Array(BATCH);
  const lengths = new Uint32Array(BATCH);
  const byKind = new Array<number>(KIND_NAMES.length).fill(0);
  const pps = opts.pps ?? 0;
  const start = performance.now();
  let sent = 0;
  let refused = 0;
  let seq = 0;
  let batchNo = 0;
  let lastReport = start;
  let lastReportSent = 0;
  try {
    while (sent < opts.count) {
      const n = Math.min(BATCH, opts.count - sent);
      for (let i = 0; i < n; i++) {
        const t = (seq + i) % forgers.length;
        const kind = FLOOD_MIX[Math.floor((seq + i) / forgers.length) % FLOOD_MIX.length];
        offsets[i] = i * SLOT_BYTES;
        lengths[i] = forgers[t].build(kind, slab, offsets[i]);
        addrs.set(targetAddrs[t], i * SOCKADDR_BYTES);
        byKind[kind]++;
      }
      const s = sockets[batchNo++ % sockets.length];
      const ok = s.sendBatch(slab, offsets, lengths, addrs, n);
      // What the kernel refused is built afresh next time: count only what left.
      sent += ok;
      seq += ok;
      refused += n - ok;
      const now = performance.now();
      if (ok < n) await sleep(BACKOFF_MS);
      if (pps > 0) {
        const due = start + (sent / pps) * 1000;
        if (due > now) await sleep(due - now);
      } else if (batchNo % 64 === 0) {
        // Let timers (the progress line, a parent's signals) run now and then.
        await new Promise<void>((r) => setImmediate(r));
      }
      if (now - lastReport >= REPORT_MS) {
        opts.progress?.(sent, ((sent - lastReportSent) * 1000) / (now - lastReport));
        lastReport = now;
        lastReportSent = sent;
      }
    }
  } finally {
    for (const s of sockets) s.close();
  }
  const seconds = (performance.now() - start) / 1000;
  const kinds: Record<string, number> = {};
  for (let k = 0; k < KIND_NAMES.length; k++) kinds[KIND_NAMES[k]] = byKind[k];
  return { sent, refused, seconds, perSecond: sent / seconds, byKind: kinds };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** `ip:port:community[:H]`. */
export function parseFloodTarget(s: string): FloodTarget {
  const [address, port, community, h] = s.split(':');
  if (!address || !port || !community || (h !== undefined && h !== 'H'))
    throw new RangeError(`flood target '${s}': expected ip:port:community[:H]`);
  return { address, port: Number(port), community, he: h === 'H' };
}

async function main(argv: readonly string[]): Promise<void> {
  const targets: FloodTarget[] = [];
  const macs: Mac[] = [];
  let count = 100_000;
  let pps = 0;
  let sockets = DEFAULT_SOCKETS;
  let transform = DEFAULT_TRANSFORM;
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    switch (argv[i]) {
      case '--target':
        targets.push(parseFloodTarget(v));
        break;
      case '--mac':
        for (const m of v.split(',')) macs.push(parseMac(m));
        break;
      case '--count':
        count = Number(v);
        break;
      case '--pps':
        pps = Number(v);
        break;
      case '--sockets':
        sockets = Number(v);
        break;
      case '--transform':
        transform = Number(v);
        break;
      default:
        throw new RangeError(`flood: unknown argument '${argv[i]}'`);
    }
    i++;
  }
  const r = await flood({
    targets,
    count,
    pps,
    sockets,
    transform,
    knownMacs: macs,
    progress: (sent, rate) => process.stderr.write(`flood: ${sent} sent, ${Math.round(rate)}/s\n`),
  });
  process.stdout.write(`${JSON.stringify(r)}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`flood: ${(e as Error).message}\n`);
    process.exit(2);
  });
}
