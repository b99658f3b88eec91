// Test harness: supernodes on a MemoryNetwork with a FakeClock, and wire-level edges built from the codec.
import { MemoryNetwork, type MemorySocket } from '../../src/io/memory.js';
import { HeaderSealer } from '../../src/peer/seal.js';
import { Supernode, type SupernodeOptions, type TcpConn } from '../../src/supernode/index.js';
import type { SupernodeDeps } from '../../src/supernode/types.js';
import {
  AUTH_PW_TOKEN_BYTES,
  AuthSecret,
  buildRegisterSuperToken,
  federationPublicKey,
  generatePublicKey,
  generateSharedSecret,
  openAckToken,
  userPrivateKey,
} from '../../src/transform/auth.js';
import {
  AUTH_TRAILER_BYTES,
  decryptHeaderTryKeys,
  dynamicHeaderKeys,
  encryptHeader,
  type HeaderKeys,
  HeaderKeyUsed,
  headerLength,
  staticHeaderKeys,
} from '../../src/transform/header.js';
import { type Stamp, StampGenerator } from '../../src/transform/stamp.js';
import { fixedString } from '../../src/util/bytes.js';
import { FakeClock } from '../../src/util/clock.js';
import type { SockAddr } from '../../src/util/ip.js';
import { MemoryLogger } from '../../src/util/log.js';
import { SeededRandom } from '../../src/util/random.js';
import { communityBytes } from '../../src/wire/common.js';
import { type DecodedMessage, decodeMessage, encodeMessage } from '../../src/wire/messages.js';
import {
  type Auth,
  AuthScheme,
  type Common,
  DESC_BYTES,
  type Message,
  MsgType,
  type RegisterSuper,
} from '../../src/wire/types.js';

export const SN_IP = '198.51.100.1';
export const SN_IP2 = '198.51.100.2';
export const SN_PORT = 7654;

export interface Env {
  /** The accept callback of the last supernode started with `tcp: true`. */
  tcpAccept?: (c: TcpConn) => void;
  net: MemoryNetwork;
  clock: FakeClock;
  random: SeededRandom;
  logger: MemoryLogger;
  files: Record<string, string>;
}

export function makeEnv(seed = 1): Env {
  return {
    net: new MemoryNetwork({ delivery: 'manual' }),
    clock: new FakeClock(1_700_000_000_000),
    random: new SeededRandom(seed),
    logger: new MemoryLogger(3),
    files: {},
  };
}

/** Starts a supernode bound at ip:SN_PORT on the memory network. */
export async function startSn(
  env: Env,
  options: SupernodeOptions = {},
  ip = SN_IP,
  deps: Partial<SupernodeDeps> = {},
): Promise<Supernode> {
  const sn = new Supernode(
    { port: SN_PORT, bindAddress: ip, ...options },
    {
      clock: env.clock,
      random: env.random,
      logger: env.logger,
      openUdp: (address, port) => env.net.open(address, port),
      resolve: async (h) => h,
      listenTcp: (_address, _port, onConnection) => {
        env.tcpAccept = onConnection;
        return { close: () => {} };
      },
      readTextFile: (p) => {
        const t = env.files[p];
        if (t === undefined) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
        return t;
      },
      ...deps,
    },
  );
  await sn.start();
  env.net.flush();
  return sn;
}

/** Advances the fake clock in 1 s steps, delivering datagrams after each step. */
export function advance(env: Env, seconds: number): void {
  for (let i = 0; i < seconds; i++) {
    env.clock.advance(1000);
    env.net.flush();
  }
}

export interface Received {
  msg?: DecodedMessage;
  raw: Buffer;
  from: SockAddr;
  keyUsed: HeaderKeyUsed;
  stamp: Stamp;
}

export interface WireEdgeOptions {
  community: string;
  mac: number;
  /** Header encryption with the community's static key. */
  he?: boolean;
  desc?: string;
  devAddr?: { addr: number; bitlen: number };
  /** User/password: user name and password, federation name (without *). */
  user?: { name: string; password: string; federation?: string };
  port?: number;
  supernode?: SockAddr;
}

/** A wire-level edge: encodes and (optionally) header-encrypts messages itself, decodes what it receives. */
export class WireEdge {
  readonly sock: MemorySocket;
  readonly received: Received[] = [];
  readonly field: Uint8Array;
  readonly mac: number;
  readonly token = new Uint8Array(16);
  staticKeys: HeaderKeys | undefined;
  dynamicKeys: HeaderKeys | undefined;
  supernode: SockAddr;
  readonly sealer: HeaderSealer;
  readonly stamps: StampGenerator;
  readonly secret: AuthSecret | undefined;
  readonly pubUser: Uint8Array | undefined;
  challenge = new Uint8Array(16);
  private cookieSeq = 0x1000;

  constructor(
    readonly env: Env,
    readonly address: string,
    readonly opts: WireEdgeOptions,
  ) {
    this.sock = env.net.open(address, opts.port ?? 50000);
    this.field = communityBytes(opts.community);
    this.mac = opts.mac;
    env.random.fill(this.token);
    this.stamps = new StampGenerator(env.clock);
    this.sealer = new HeaderSealer(this.stamps, env.random);
    this.supernode = opts.supernode ?? { family: 4, address: SN_IP, port: SN_PORT };
    if (opts.he || opts.user) {
      this.staticKeys = staticHeaderKeys(this.field);
      this.dynamicKeys = this.staticKeys;
    }
    if (opts.user) {
      const priv = userPrivateKey(opts.user.name, opts.user.password);
      this.pubUser = generatePublicKey(priv);
      this.secret = new AuthSecret(
        generateSharedSecret(priv, federationPublicKey(opts.user.federation ?? 'Federation')),
      );
      // Until the first ACK the dynamic key is random (spec §8.3).
      const rnd = new Uint8Array(16);
      env.random.fill(rnd);
      this.dynamicKeys = dynamicHeaderKeys(rnd);
    }
    this.sock.onDatagram((data, from) => this.onDatagram(data, from));
  }

  private onDatagram(data: Buffer, from: SockAddr): void {
    const raw = Buffer.from(data);
    const buf = Buffer.from(data);
    const stamp: Stamp = { hi: 0, lo: 0 };
    let keyUsed: HeaderKeyUsed = HeaderKeyUsed.NONE;
    let len = buf.length;
    if (this.staticKeys) {
      keyUsed = decryptHeaderTryKeys(
        buf,
        0,
        buf.length,
        this.dynamicKeys!,
        this.staticKeys,
        this.field,
        stamp,
      );
      if (keyUsed === HeaderKeyUsed.STATIC && this.opts.user) len -= AUTH_TRAILER_BYTES;
      if (keyUsed === HeaderKeyUsed.NONE) {
        this.received.push({ raw, from, keyUsed, stamp });
        return;
      }
    }
    let msg: DecodedMessage | undefined;
    try {
      msg = decodeMessage(buf, 0, len);
    } catch {
      msg = undefined;
    }
    this.received.push({ msg, raw, from, keyUsed, stamp });
    if (
      msg?.type === MsgType.REGISTER_SUPER_ACK &&
      this.opts.user &&
      this.secret &&
      msg.body.auth.token.length === 48
    ) {
      const dk = new Uint8Array(16);
      if (openAckToken(msg.body.auth.token, 0, this.challenge, this.secret, dk))
        this.dynamicKeys = dynamicHeaderKeys(dk);
    }
  }

  common(type: number, flags = 0, ttl = 2): Common {
    return { ttl, type: type as Common['type'], flags, community: this.field };
  }

  /** Encodes `msg` (+ payload) and seals it like an edge would (static key for registrations). */
  encode(
    msg: Message,
    o: { payload?: Uint8Array; key?: 'static' | 'dynamic' | 'none'; stamp?: Stamp; trailer?: boolean } = {},
  ): Buffer {
    const buf = Buffer.alloc(4096);
    let len = encodeMessage(msg, buf, 0);
    const hdr = len;
    if (o.payload) {
      buf.set(o.payload, len);
      len += o.payload.length;
    }
    const regType =
      msg.type === MsgType.REGISTER_SUPER ||
      msg.type === MsgType.REGISTER_SUPER_ACK ||
      msg.type === MsgType.REGISTER_SUPER_NAK;
    const key = o.key ?? (this.staticKeys ? (regType ? 'static' : 'dynamic') : 'none');
    if (key !== 'none') {
      const keys = key === 'static' ? this.staticKeys! : this.dynamicKeys!;
      const hl = headerLength(msg.type, hdr, len - hdr, !!this.opts.user);
      if (o.stamp) encryptHeader(buf, 0, len, hl, o.stamp, this.env.random.u32(), keys);
      else this.sealer.seal(buf, 0, len, keys, hl);
      if (this.opts.user && (o.trailer ?? key === 'static') && this.secret) {
        len = this.sealer.appendTrailer(buf, 0, len, this.secret);
      }
    }
    return buf.subarray(0, len);
  }

  sendRaw(b: Uint8Array, to: SockAddr = this.supernode): void {
    this.sock.send(b, 0, b.length, to);
  }

  send(msg: Message, o: Parameters<WireEdge['encode']>[1] = {}, to: SockAddr = this.supernode): Buffer {
    const b = this.encode(msg, o);
    this.sendRaw(b, to);
    return b;
  }

  auth(): Auth {
    if (this.opts.user && this.pubUser && this.secret) {
      this.env.random.fill(this.challenge);
      return {
        scheme: AuthScheme.USER_PASSWORD,
        token: buildRegisterSuperToken(
          this.pubUser,
          this.challenge,
          this.secret,
          new Uint8Array(AUTH_PW_TOKEN_BYTES),
        ),
      };
    }
    return { scheme: AuthScheme.ID, token: this.token };
  }

  registerSuperBody(extra: Partial<RegisterSuper> = {}): RegisterSuper {
    return {
      cookie: this.cookieSeq++,
      edgeMac: this.mac,
      devAddr: this.opts.devAddr ?? { addr: 0x0a000001 + (this.mac & 0xff), bitlen: 24 },
      desc: fixedString(this.opts.desc ?? this.opts.user?.name ?? 'edge', DESC_BYTES),
      auth: this.auth(),
      keyTime: 0,
      ...extra,
    };
  }

  registerSuper(extra: Partial<RegisterSuper> = {}, flags = 0): number {
    const body = this.registerSuperBody(extra);
    this.send({ type: MsgType.REGISTER_SUPER, common: this.common(MsgType.REGISTER_SUPER, flags), body });
    return body.cookie;
  }

  packet(
    dstMac: number,
    payload: Uint8Array,
    o: { stamp?: Stamp; key?: 'static' | 'dynamic' | 'none' } = {},
  ): Buffer {
    return this.send(
      {
        type: MsgType.PACKET,
        common: this.common(MsgType.PACKET),
        body: { srcMac: this.mac, dstMac, compression: 1, transform: 1 },
        payloadOffset: 0,
        payloadLength: payload.length,
      },
      { payload, ...o },
    );
  }

  /** Received messages of a type, decoded. */
  ofType<T extends number>(type: T): (DecodedMessage & { type: T })[] {
    return this.received
      .filter((r) => r.msg?.type === type)
      .map((r) => r.msg as DecodedMessage & { type: T });
  }

  clear(): void {
    this.received.length = 0;
  }
}

export const ip = (a: number, b: number, c: number, d: number): number =>
  ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;

/** The server side of an in-memory TCP connection; the test plays the client. */
export class FakeTcp implements TcpConn {
  readonly fromServer: Buffer[] = [];
  closed = false;
  private dataHandler: ((b: Buffer) => void) | undefined;
  private closeHandler: (() => void) | undefined;
  constructor(readonly remote: SockAddr) {}
  onData(h: (b: Buffer) => void): void {
    this.dataHandler = h;
  }
  onClose(h: () => void): void {
    this.closeHandler = h;
  }
  send(buf: Uint8Array, off: number, len: number): void {
    if (!this.closed) this.fromServer.push(Buffer.from(buf.subarray(off, off + len)));
  }
  close(): void {
    this.closed = true;
  }
  /** Client → server bytes. */
  write(b: Uint8Array): void {
    this.dataHandler?.(Buffer.from(b));
  }
  /** The client hangs up. */
  hangUp(): void {
    this.closed = true;
    this.closeHandler?.();
  }
  /** Frames received so far (the 2-byte length prefix removed). */
  frames(): Buffer[] {
    const all = Buffer.concat(this.fromServer);
    const out: Buffer[] = [];
    let off = 0;
    while (off + 2 <= all.length) {
      const n = all.readUInt16BE(off);
      if (off + 2 + n > all.length) break;
      out.push(all.subarray(off + 2, off + 2 + n));
      off += 2 + n;
    }
    return out;
  }
}

/** A datagram as a TCP frame: 2-byte big-endian length, then the bytes. */
export function frame(b: Uint8Array): Buffer {
  const out = Buffer.alloc(2 + b.length);
  out.writeUInt16BE(b.length, 0);
  out.set(b, 2);
  return out;
}
