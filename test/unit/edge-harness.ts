// Test harness for the edge: in-memory network/TAP deps, a multicast hub, frame builders and a small fake supernode.
import { Edge, type EdgeDeps, type EdgeOptions } from '../../src/edge/index.js';
import { MemoryNetwork, type MemorySocket, MemoryTap } from '../../src/io/memory.js';
import type { UdpSocket } from '../../src/io/types.js';
import { Supernode, type SupernodeOptions } from '../../src/supernode/index.js';
import {
  AuthSecret,
  binToAscii,
  buildAckToken,
  computeTrailer,
  DEFAULT_FEDERATION_NAME,
  federationPrivateKey,
  generatePublicKey,
  generateSharedSecret,
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
import { StampGenerator } from '../../src/transform/stamp.js';
import { FakeClock } from '../../src/util/clock.js';
import { ipv4ToNumber, type SockAddr } from '../../src/util/ip.js';
import { MemoryLogger } from '../../src/util/log.js';
import { isN2nMulticastOrBroadcast, type Mac, NULL_MAC } from '../../src/util/mac.js';
import { SeededRandom } from '../../src/util/random.js';
import { communityBytes } from '../../src/wire/common.js';
import { decodeMessage, encodeMessage } from '../../src/wire/messages.js';
import { createPacketHeaderView, readPacketHeader, writePacketHeader } from '../../src/wire/packet.js';
import { sockBytes, sockFromAddr } from '../../src/wire/sock.js';
import { type Auth, AuthScheme, Flags, type Message, MsgType, type Sock } from '../../src/wire/types.js';

export const MULTICAST = { address: '224.0.0.68', port: 1968 };

/** Fans datagrams sent to 224.0.0.68:1968 out to every joined member (one LAN). */
export class MulticastHub {
  private readonly members: MemorySocket[] = [];
  constructor(private readonly net: MemoryNetwork) {
    const hub = net.open(MULTICAST.address, MULTICAST.port);
    hub.onDatagram((data, from) => {
      for (const m of this.members) if (!m.closed) net.inject(from, m.local, data);
    });
  }
  join(host: string): UdpSocket {
    const s = this.net.open(host, MULTICAST.port);
    this.members.push(s);
    return s;
  }
}

export interface TestNode {
  edge: Edge;
  tap: MemoryTap;
  logger: MemoryLogger;
  host: string;
}

export interface World {
  /** Edges (and realSupernode) get batched UDP sockets. */
  batch: boolean;
  net: MemoryNetwork;
  clock: FakeClock;
  hub: MulticastHub;
  stamps: StampGenerator;
  deps(host: string, tap: MemoryTap, seed: number): EdgeDeps;
  edge(host: string, options: EdgeOptions, seed?: number): TestNode;
  /** Lets queued datagrams flow (microtask delivery). */
  settle(): Promise<void>;
  /** Advances the fake clock in 1 s steps, settling the network after each. */
  advance(seconds: number): Promise<void>;
}

export interface WorldOptions {
  /** Give edges batched UDP sockets (recvmmsg/sendmmsg path) instead of plain ones. */
  batch?: boolean;
}

export function makeWorld(options: WorldOptions = {}): World {
  const net = new MemoryNetwork();
  const clock = new FakeClock();
  const hub = new MulticastHub(net);
  const stamps = new StampGenerator(clock);
  let seed = 1;
  const world: World = {
    batch: options.batch === true,
    net,
    clock,
    hub,
    stamps,
    deps(host, tap, s): EdgeDeps {
      return {
        clock,
        random: new SeededRandom(s),
        logger: new MemoryLogger(4),
        stamps,
        openUdp: async (o) =>
          options.batch ? net.open(host, o.port, { batch: true }) : net.open(host, o.port),
        openMulticast: async () => hub.join(host),
        openTap: async (o) => {
          tap.info.mac = o.mac;
          tap.info.mtu = o.mtu;
          tap.info.name = o.name;
          tap.setAddress(o.addr, o.bitlen);
          return tap;
        },
        resolve: async (h) => h,
        localAddressFor: async () => host,
      };
    },
    edge(host, options, s = seed++ * 7919): TestNode {
      const tap = new MemoryTap();
      const deps = world.deps(host, tap, s);
      const edge = new Edge(options, deps);
      return { edge, tap, logger: deps.logger as MemoryLogger, host };
    },
    async settle(): Promise<void> {
      for (let i = 0; i < 5; i++) {
        await net.settle();
        await new Promise((r) => setImmediate(r));
      }
    },
    async advance(seconds: number): Promise<void> {
      for (let i = 0; i < seconds; i++) {
        clock.advance(1000);
        await world.settle();
      }
    },
  };
  return world;
}

// ---------------------------------------------------------------- frames

function u32(v: number): number[] {
  return [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
}

function mac6(mac: Mac): number[] {
  const b: number[] = [];
  let m = mac;
  for (let i = 0; i < 6; i++) {
    b.unshift(m % 256);
    m = Math.floor(m / 256);
  }
  return b;
}

/** An Ethernet + IPv4 + UDP frame with `payload` bytes of data. */
export function ipv4Frame(
  dstMac: Mac,
  srcMac: Mac,
  src: string,
  dst: string,
  payload = 64,
  proto = 17,
): Uint8Array {
  const ipLen = 20 + 8 + payload;
  const f = new Uint8Array(14 + ipLen);
  f.set(mac6(dstMac), 0);
  f.set(mac6(srcMac), 6);
  f[12] = 0x08;
  f[13] = 0x00;
  f[14] = 0x45;
  f[16] = ipLen >> 8;
  f[17] = ipLen & 0xff;
  f[22] = 64;
  f[23] = proto;
  f.set(u32(ipv4ToNumber(src)), 26);
  f.set(u32(ipv4ToNumber(dst)), 30);
  f[34] = 0x30;
  f[35] = 0x39;
  f[36] = 0x00;
  f[37] = 0x35;
  for (let i = 0; i < payload; i++) f[42 + i] = (i * 7) & 0xff;
  return f;
}

/** A broadcast ARP request. */
export function arpRequest(srcMac: Mac, src: string, target: string): Uint8Array {
  const f = new Uint8Array(42);
  f.fill(0xff, 0, 6);
  f.set(mac6(srcMac), 6);
  f[12] = 0x08;
  f[13] = 0x06;
  f.set([0, 1, 8, 0, 6, 4, 0, 1], 14);
  f.set(mac6(srcMac), 22);
  f.set(u32(ipv4ToNumber(src)), 28);
  f.set(u32(ipv4ToNumber(target)), 38);
  return f;
}

// ---------------------------------------------------------------- fake supernode

interface FakeEdge {
  mac: Mac;
  addr: SockAddr;
  auth: Uint8Array;
  preferred?: Sock;
}

export interface FakeSupernodeOptions {
  community: string;
  /** Header-encrypt replies and accept encrypted requests. */
  headerEncryption?: boolean;
  /** user → password, for user/password authentication. */
  users?: Record<string, string>;
  mac?: Mac;
  /** Auto-IP subnet base (a.b.c.0/24). */
  subnet?: string;
}

/**
 * A small supernode for edge tests (spec §9.1 subset): registration with auto IP, PACKET/REGISTER relay with
 * the sender's socket, PING/PONG, QUERY_PEER/PEER_INFO, header encryption and user/password auth. One community.
 */
export class FakeSupernode {
  readonly edges = new Map<Mac, FakeEdge>();
  readonly received: Message[] = [];
  readonly sock: MemorySocket;
  readonly mac: Mac;
  private readonly community: Uint8Array;
  private readonly staticKeys: HeaderKeys;
  private readonly dynamicKeys: HeaderKeys;
  private readonly dk = new Uint8Array(16).fill(0x5a);
  private readonly secrets = new Map<string, AuthSecret>();
  private readonly buf = Buffer.alloc(4096);
  private readonly stampOut = { hi: 0, lo: 0 };
  private readonly view = createPacketHeaderView();
  private nextHost = 10;
  dropAll = false;

  constructor(
    private readonly world: World,
    readonly host: string,
    readonly port: number,
    private readonly options: FakeSupernodeOptions,
  ) {
    this.sock = world.net.open(host, port);
    this.sock.onDatagram((d, from) => this.onDatagram(d, from));
    this.mac = options.mac ?? 0x02_00_00_00_5e_01;
    this.community = communityBytes(options.community);
    this.staticKeys = staticHeaderKeys(this.community);
    this.dynamicKeys = options.users ? dynamicHeaderKeys(this.dk) : this.staticKeys;
    if (options.users) {
      const fedPriv = federationPrivateKey(DEFAULT_FEDERATION_NAME);
      for (const [user, pw] of Object.entries(options.users)) {
        // The supernode finds users by public key; we derive it the same way an edge does.
        const pub = generatePublicKey(userPrivateKey(user, pw));
        this.secrets.set(
          Buffer.from(pub).toString('hex'),
          new AuthSecret(generateSharedSecret(fedPriv, pub)),
        );
      }
    }
  }

  get addr(): SockAddr {
    return { family: 4, address: this.host, port: this.port };
  }

  private he(): boolean {
    return this.options.headerEncryption === true || this.options.users !== undefined;
  }

  private send(msg: Message, to: SockAddr, useStatic = false, trailerSecret?: AuthSecret): void {
    let len = encodeMessage(msg, this.buf, 0);
    if (this.he()) {
      this.world.stamps.next(this.stampOut);
      encryptHeader(
        this.buf,
        0,
        len,
        len,
        this.stampOut,
        0x1234,
        useStatic ? this.staticKeys : this.dynamicKeys,
      );
      if (trailerSecret) {
        computeTrailer(this.buf, 0, len, trailerSecret, this.buf, len);
        len += AUTH_TRAILER_BYTES;
      } else if (useStatic && this.options.users) {
        // A NAK in a user/password community carries 16 meaningless trailer bytes (spec §4.8).
        this.buf.fill(0, len, len + AUTH_TRAILER_BYTES);
        len += AUTH_TRAILER_BYTES;
      }
    }
    this.sock.send(this.buf, 0, len, to);
  }

  private common(type: number, flags: number): Message['common'] {
    return { ttl: 2, type: type as MsgType, flags, community: this.community };
  }

  private onDatagram(data: Buffer, from: SockAddr): void {
    if (this.dropAll) return;
    let len = data.length;
    let secretForTrailer: AuthSecret | undefined;
    if (this.he()) {
      const hash = new Uint8Array(16);
      const used = decryptHeaderTryKeys(
        data,
        0,
        len,
        this.dynamicKeys,
        this.staticKeys,
        this.community,
        this.stampOut,
        hash,
      );
      if (used === HeaderKeyUsed.NONE) return;
      if (used === HeaderKeyUsed.STATIC && this.options.users) len -= AUTH_TRAILER_BYTES;
    }
    const type = data[3] & 0x1f;
    if (type === MsgType.PACKET) {
      this.relayPacket(data, len, from);
      return;
    }
    let msg: Message;
    try {
      msg = decodeMessage(data, 0, len);
    } catch {
      return;
    }
    this.received.push(msg);
    switch (msg.type) {
      case MsgType.REGISTER_SUPER: {
        const b = msg.body;
        let devAddr = { addr: 0, bitlen: 0 };
        if (b.devAddr.addr === 0) {
          const base = ipv4ToNumber(this.options.subnet ?? '10.99.0.0');
          devAddr = { addr: (base + this.nextHost++) >>> 0, bitlen: 24 };
        }
        let auth: Auth = { scheme: 0, token: new Uint8Array(0) };
        if (this.options.users) {
          const secret = this.secrets.get(Buffer.from(b.auth.token.subarray(0, 32)).toString('hex'));
          if (!secret || b.auth.scheme !== AuthScheme.USER_PASSWORD) {
            this.send(
              {
                type: MsgType.REGISTER_SUPER_NAK,
                common: this.common(MsgType.REGISTER_SUPER_NAK, Flags.FROM_SUPERNODE | Flags.SOCKET),
                body: { cookie: b.cookie, srcMac: b.edgeMac, auth: { scheme: 0, token: new Uint8Array(0) } },
              },
              from,
              true,
            );
            return;
          }
          secretForTrailer = secret;
          auth = { scheme: AuthScheme.USER_PASSWORD, token: buildAckToken(b.auth.token, 0, this.dk, secret) };
        }
        if (b.edgeMac !== NULL_MAC) {
          this.edges.set(b.edgeMac, { mac: b.edgeMac, addr: from, auth: b.auth.token, preferred: b.sock });
        }
        this.send(
          {
            type: MsgType.REGISTER_SUPER_ACK,
            common: this.common(MsgType.REGISTER_SUPER_ACK, Flags.FROM_SUPERNODE | Flags.SOCKET),
            body: {
              cookie: b.cookie,
              srcMac: this.mac,
              devAddr,
              lifetime: 15,
              sock: sockFromAddr(from),
              auth,
              supernodes: [],
              keyTime: 0,
            },
          },
          from,
          true,
          secretForTrailer,
        );
        return;
      }
      case MsgType.UNREGISTER_SUPER:
        this.edges.delete(msg.body.srcMac);
        return;
      case MsgType.QUERY_PEER: {
        const q = msg.body;
        if (q.targetMac === NULL_MAC) {
          const version = new Uint8Array(20);
          version.set(Buffer.from('3.1.1'));
          this.send(
            {
              type: MsgType.PEER_INFO,
              common: this.common(MsgType.PEER_INFO, Flags.FROM_SUPERNODE),
              body: {
                aflags: 0,
                srcMac: this.mac,
                mac: NULL_MAC,
                sock: sockFromAddr(from),
                load: 0,
                uptime: 8,
                version,
              },
            },
            from,
          );
          return;
        }
        const t = this.edges.get(q.targetMac);
        if (!t) return;
        this.send(
          {
            type: MsgType.PEER_INFO,
            common: this.common(MsgType.PEER_INFO, Flags.FROM_SUPERNODE | (t.preferred ? Flags.SOCKET : 0)),
            body: {
              aflags: 0,
              srcMac: q.srcMac,
              mac: q.targetMac,
              sock: sockFromAddr(t.addr),
              preferredSock: t.preferred,
              load: 0,
              uptime: 0,
              version: new Uint8Array(20),
            },
          },
          from,
        );
        return;
      }
      case MsgType.REGISTER: {
        const r = msg.body;
        if (isN2nMulticastOrBroadcast(r.dstMac)) return;
        const t = this.edges.get(r.dstMac);
        if (!t) return;
        this.send(
          {
            type: MsgType.REGISTER,
            common: { ...msg.common, ttl: msg.common.ttl - 1, flags: Flags.FROM_SUPERNODE | Flags.SOCKET },
            body: { ...r, sock: sockFromAddr(from) },
          },
          t.addr,
        );
        return;
      }
      default:
    }
  }

  /** Relays a PACKET with FROM_SUPERNODE|SOCKET and the sender's socket (sn_utils.c: process_udp). */
  private relayPacket(data: Buffer, len: number, from: SockAddr): void {
    const v = this.view;
    let payloadOff: number;
    try {
      payloadOff = readPacketHeader(data, 0, len, v);
    } catch {
      return;
    }
    const sock = sockBytes(sockFromAddr(from));
    const out = this.buf;
    const hdr = writePacketHeader(
      out,
      0,
      v.ttl - 1,
      Flags.FROM_SUPERNODE,
      this.community,
      v.srcMac,
      v.dstMac,
      sock,
      v.compression,
      v.transform,
    );
    const plen = len - payloadOff;
    out.set(data.subarray(payloadOff, len), hdr);
    const total = hdr + plen;
    if (this.he()) {
      this.world.stamps.next(this.stampOut);
      encryptHeader(
        out,
        0,
        total,
        headerLength(MsgType.PACKET, hdr, plen, this.options.users !== undefined),
        this.stampOut,
        0x4321,
        this.dynamicKeys,
      );
    }
    if (isN2nMulticastOrBroadcast(v.dstMac)) {
      for (const e of this.edges.values()) if (e.mac !== v.srcMac) this.sock.send(out, 0, total, e.addr);
      return;
    }
    const t = this.edges.get(v.dstMac);
    if (t) this.sock.send(out, 0, total, t.addr);
  }
}

// ---------------------------------------------------------------- the real supernode (src/supernode)

/** Starts H5's Supernode on the in-memory network; `files` backs readTextFile (the community list). */
export async function realSupernode(
  world: World,
  host: string,
  port: number,
  options: SupernodeOptions = {},
  files: Record<string, string> = {},
): Promise<Supernode> {
  const sn = new Supernode(
    { port, ...options },
    {
      clock: world.clock,
      // Distinct per host: two supernodes with one MAC ignore each other (spec §9.1).
      random: new SeededRandom(port * 31 + [...host].reduce((h, c) => (h * 131 + c.charCodeAt(0)) >>> 0, 7)),
      logger: new MemoryLogger(2),
      stamps: world.stamps,
      // A batched supernode gets what arrives together as one batch (recvmmsg under load).
      openUdp: (_address, p) =>
        world.batch ? world.net.open(host, p, { batch: true, coalesce: true }) : world.net.open(host, p),
      resolve: async (h) => h,
      readTextFile: (path) => {
        const text = files[path];
        if (text === undefined) throw Object.assign(new Error(`${path} not found`), { code: 'ENOENT' });
        return text;
      },
    },
  );
  await sn.start();
  return sn;
}

/** The community-file line of a user (`* name <public key>`), as n2n-keygen prints it. */
export function userLine(user: string, password: string): string {
  return `* ${user} ${binToAscii(generatePublicKey(userPrivateKey(user, password)))}`;
}
