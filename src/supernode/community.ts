// Supernode state records: communities, registered edges / federation members, associations (spec §9).
import { encodeSockAddr, SOCKADDR_BYTES } from '../io/sockaddr.js';
import type { AuthSecret } from '../transform/auth.js';
import type { HeaderKeys } from '../transform/header.js';
import type { StampRecord } from '../transform/stamp.js';
import type { SockAddr } from '../util/ip.js';
import type { Mac } from '../util/mac.js';
import { DESC_BYTES, type Sock } from '../wire/types.js';
import type { TcpConn } from './types.js';

/** Header-encryption state of a community (n2n_define.h: HEADER_ENCRYPTION_*; spec §7.7). */
export const HeState = { UNKNOWN: 0, NONE: 1, ENABLED: 2 } as const;
export type HeState = (typeof HeState)[keyof typeof HeState];

/** A user of a user/password community (a `* name key` line), with its precomputed shared secret. */
export interface SnUser {
  name: string;
  publicKey: Uint8Array;
  /** Hex of the public key: the lookup key. */
  id: string;
  secret: AuthSecret;
}

/**
 * Bytes as a one-byte string (char code = byte). Per registered edge this is what a supernode keeps most of: a
 * 16-byte Uint8Array costs about 400 bytes in V8 (the view, its ArrayBuffer, the backing store), a 16-character
 * string 32 — a third of the memory of a million edges (docs/reliability.md, "Fleet scale").
 */
function bytesText(b: Uint8Array): string {
  // latin1 maps each byte to the char of that code, and gives a flat string (a += loop builds a rope).
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}

function textBytes(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  return b;
}

const ZERO_DESC_TEXT = bytesText(new Uint8Array(DESC_BYTES));

/**
 * A registered edge, or (in the federation community) a known supernode. Socket fields are kept both as
 * the send target and as numbers for encoding, so the relay path does no parsing.
 */
let nextSerial = 1;

export class SnPeer implements StampRecord {
  /** Unique per process: a map key while the MAC is unknown. */
  readonly serial = nextSerial++;
  mac: Mac;
  /** Public socket (the UDP source of its registration); undefined for an unresolved `-l` peer. */
  addr: SockAddr | undefined;
  /** addr as u32 / port, for writing socks (ipv4 0 when addr is IPv6). */
  ipv4 = 0;
  /** An IPv6 addr as its io/sockaddr.ts entry (undefined for IPv4): the batched send copies it. */
  addr6: Uint8Array | undefined;
  port = 0;
  /** dev_addr from the registration. */
  devAddr = 0;
  devBits = 0;
  /** Stored auth record (scheme 0 = none when `-M`). */
  authScheme = 0;
  /** Seconds (Unix) of the last valid registration or answer; 0 = never. */
  lastSeen = 0;
  lastCookie = 0;
  /** Seconds (Unix) of the last change of `addr` by a registration (registry.ts: the move limit); 0 = never. */
  lastMove = 0;
  /** Preferred LAN socket from REGISTER_SUPER with the SOCKET flag (`edge -e`). */
  preferredSock: Sock | undefined;
  /** Set when the edge registered over TCP: everything for it goes over that connection. */
  conn: TcpConn | undefined;
  /** Federation only: `-l` peers are never purged (SN_UNPURGEABLE). */
  purgeable = true;
  /** Federation only: the `-l` text, for re-resolution. */
  hostSpec: string | undefined;
  /**
   * Its stamp record (spec §6: the newest valid stamp, hi/lo as StampRecord) held in the peer itself: a record
   * object of its own costs another 40 bytes per edge. `stamp` is this peer seen as that record.
   */
  hi = 0;
  lo = 0;
  /** The rest of StampRecord (stamp.ts: the ring of recent stamps, allocated at a -H sender's first check). */
  recent: Uint32Array | undefined;
  recentCount = 0;
  recentPos = 0;
  /** The native relay's teaching round in which this edge was taught to it (fastrelay.ts); 0 = never. */
  fastEpoch = 0;
  /** -H: its replay record's slot at the native relay in that round (fastrelay.ts); -1 = none. */
  fastSlot = -1;
  /** desc and the auth token as byte strings (see bytesText). */
  private descText = ZERO_DESC_TEXT;
  private tokenText = '';

  /** `stamp`: the initial record (StampGenerator.initialRecord), copied. */
  constructor(mac: Mac, stamp: StampRecord) {
    this.mac = mac;
    this.hi = stamp.hi;
    this.lo = stamp.lo;
  }

  /** The stamp record checked and raised by StampGenerator.verify. */
  get stamp(): StampRecord {
    return this;
  }

  /** desc field (16 bytes); a copy: assign to change it. */
  get desc(): Uint8Array {
    return textBytes(this.descText);
  }

  set desc(v: Uint8Array) {
    this.descText = bytesText(v);
  }

  /** The auth token it registered with; a copy: assign to change it, compare with authTokenEquals. */
  get authToken(): Uint8Array {
    return textBytes(this.tokenText);
  }

  set authToken(v: Uint8Array) {
    this.tokenText = bytesText(v);
  }

  /**
   * Without `len`: `token` is the stored auth token (same length, same bytes). With it: both are at least `len`
   * bytes long and their first `len` bytes agree. Reads the stored bytes in place (the registration path).
   */
  authTokenEquals(token: Uint8Array, len?: number): boolean {
    const t = this.tokenText;
    const n = len ?? token.length;
    if (len === undefined ? t.length !== n : t.length < n || token.length < n) return false;
    for (let i = 0; i < n; i++) if (t.charCodeAt(i) !== token[i]) return false;
    return true;
  }

  setAddr(addr: SockAddr, ipv4: number): void {
    this.addr = addr;
    this.ipv4 = addr.family === 4 ? ipv4 : 0;
    this.port = addr.port;
    if (addr.family === 6) {
      // Encoded once, so the batched relay queues IPv6 edges by copying 24 bytes (transport.ts: sendToPeer).
      const b = new Uint8Array(SOCKADDR_BYTES);
      encodeSockAddr(addr, b, 0);
      this.addr6 = b;
    } else {
      this.addr6 = undefined;
    }
  }

  /**
   * Whether this edge may be told IPv6 sockets. 3.1.1 opens only PF_INET sockets, so an edge that reached us
   * over IPv6 is certainly not 3.1.1; one on IPv4 may be, and 3.1.1 mishandles an AF_INET6 n2n_sock_t
   * (wire.c: fill_sockaddr leaves the sockaddr unset and sendto gets stack garbage; docs/supernode.md).
   */
  get takesIpv6(): boolean {
    return this.addr?.family === 6;
  }
}

/** "edge MAC → supernode socket" learned from relayed registrations and PEER_INFO (sn_utils.c: assoc). */
export interface Association {
  addr: SockAddr;
  lastSeen: number;
}

export class Community {
  /** The name as a C string (≤ 19 characters; the federation's starts with '*'). */
  readonly name: string;
  /** The 20-byte zero-padded community field. */
  readonly field: Uint8Array;
  readonly isFederation: boolean;
  /** Created by a registration (purged when empty) rather than listed in the file. */
  readonly purgeable: boolean;
  he: HeState;
  staticKeys: HeaderKeys | undefined;
  dynamicKeys: HeaderKeys | undefined;
  /** Current dynamic key DK (user/password communities). */
  dynamicKey: Uint8Array | undefined;
  readonly users = new Map<string, SnUser>();
  /** Registered edges by MAC; in the federation, supernodes by "m<mac>" or "s<serial>" (see federation.ts). */
  readonly edges = new Map<Mac | string, SnPeer>();
  /** Edges by their (non-zero) dev_addr: the IP spoofing check and auto-IP look addresses up here. */
  readonly byAddr = new Map<number, SnPeer>();
  readonly assoc = new Map<Mac, Association>();
  /** Auto-IP subnet; addr 0 = none. */
  netAddr = 0;
  netBits = 0;
  /** Encrypted datagrams since the last re-sort (decryption attempt order). */
  encPackets = 0;

  constructor(
    name: string,
    field: Uint8Array,
    opts: { federation?: boolean; purgeable: boolean; he: HeState },
  ) {
    this.name = name;
    this.field = field;
    this.isFederation = opts.federation ?? false;
    this.purgeable = opts.purgeable;
    this.he = opts.he;
  }

  get hasUsers(): boolean {
    return this.users.size > 0;
  }
}

/** Hex of a 32-byte public key (user lookup key). */
export function keyId(b: Uint8Array, off = 0, len = b.length - off): string {
  return Buffer.from(b.buffer, b.byteOffset + off, len).toString('hex');
}
