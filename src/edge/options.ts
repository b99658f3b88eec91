// Edge options as a library user gives them, their defaults, and validation into the resolved EdgeConfig.
import { ConfigError } from '../util/errors.js';
import { ipFamilyOf, ipv4ToNumber, parseHostPort } from '../util/ip.js';
import { isMulticastMac, type Mac, parseMac } from '../util/mac.js';
import { COMMUNITY_MAX_CHARS, CompressionId, DESC_BYTES, TransformId } from '../wire/types.js';
import { parseTrafficRule, type TrafficRule } from './filter.js';

/** Cipher names accepted by `transform` (and the `-A1`…`-A5` numbers). */
export const TRANSFORM_NAMES: Readonly<Record<string, TransformId>> = {
  null: TransformId.NULL,
  twofish: TransformId.TWOFISH,
  aes: TransformId.AES,
  chacha20: TransformId.CHACHA20,
  speck: TransformId.SPECK,
};

/** Supernode selection strategies (sn_selection.c). */
export const Selection = { LOAD: 'load', RTT: 'rtt', MAC: 'mac' } as const;
export type Selection = (typeof Selection)[keyof typeof Selection];

/** How the TAP address is obtained (edge.c: tuntap_ip_mode). */
export const AddressMode = { STATIC: 'static', DHCP: 'dhcp', SUPERNODE: 'supernode' } as const;
export type AddressMode = (typeof AddressMode)[keyof typeof AddressMode];

/** n2n_define.h: DEFAULT_MTU. We keep it: a relayed full-size frame then fits a 1400-byte path (spec §5.9). */
export const DEFAULT_EDGE_MTU = 1290;
/** Smallest MTU an IPv4 interface may have (RFC 791). */
export const MIN_EDGE_MTU = 68;
/**
 * Largest TAP MTU: a relayed datagram (46-byte header + 16-byte preamble + 14-byte Ethernet header + MTU)
 * must fit n2n's 2048-byte receive buffer (N2N_PKT_BUF_SIZE), or C peers truncate it.
 */
export const MAX_EDGE_MTU = 2048 - 46 - 16 - 14;
/**
 * `--mss-clamp=N` bounds, bytes: Linux never sends segments below tcp_min_snd_mss (48 by default, ip-sysctl.rst),
 * and an IPv4 MSS cannot exceed the largest IPv4 packet (65535) minus 40 header bytes.
 */
export const MIN_MSS_CLAMP = 48;
export const MAX_MSS_CLAMP = 65535 - 40;
/** n2n_define.h: REGISTER_SUPER_INTERVAL_DFL, seconds. */
export const DEFAULT_REGISTER_INTERVAL_S = 20;
/** n2n_define.h: N2N_EDGE_DEFAULT_CIDR_NM. */
export const DEFAULT_PREFIX_BITS = 24;
/** n2n_define.h: N2N_EDGE_DEFAULT_DEV_NAME. */
export const DEFAULT_TAP_NAME = 'edge0';
/** edge.c: -l values longer than this are refused (N2N_EDGE_SN_HOST_SIZE − 1). */
export const MAX_SUPERNODE_TEXT = 47;
/** Length of an ASCII-encoded 32-byte public key (spec §8.2). */
export const PUBLIC_KEY_TEXT_CHARS = 43;
const MAX_U16 = 65535;
const MAX_U8 = 255;
const MAX_PREFIX = 32;
/** Linux interface names are at most 15 characters (IFNAMSIZ − 1). */
const MAX_IFNAME = 15;

/** Options of an edge; the names follow the long meaning of each `tsn2n edge` flag (noted per field). */
export interface EdgeOptions {
  /** `-c`: community name, at most 19 characters. */
  community: string;
  /** `-l`: one or more supernodes as `host:port`. */
  supernodes: readonly string[];
  /** `-k`: payload key. A key without a transform selects AES. */
  key?: string;
  /** `-A1`…`-A5`: 'null' | 'twofish' | 'aes' | 'chacha20' | 'speck', or the number. Default null (AES with a key). */
  transform?: string | number;
  /** `-z1`/`-z2`: 'none' | 'lzo' | 'zstd' (zstd only where a zstd codec is available, else refused). */
  compression?: 'none' | 'lzo' | 'zstd';
  /** `-H`: header encryption. Forced on by `password`. */
  headerEncryption?: boolean;
  /** `-a`: `[static:|dhcp:]ip[/bits]`. Absent: the supernode assigns one. */
  address?: string;
  /** `-m`: TAP MAC. Default random (unicast, locally administered). */
  mac?: string;
  /** `-d`: TAP device name, default `edge0`. */
  device?: string;
  /** `-M`: TAP MTU, default 1290 (as n2n 3.1.1). */
  mtu?: number;
  /**
   * `--mss-clamp[=auto|N]` (tsn2n only): lower the MSS option of TCP SYN / SYN-ACK segments crossing the TAP,
   * also inside IPIP and VXLAN (edge/mss.ts). 'auto': the smaller of what the TAP MTU and the underlay path
   * carry without fragmentation; N: the IPv4 MSS in bytes (IPv6 gets N − 20, the same packet size). Default off,
   * as 3.1.1.
   */
  mssClamp?: 'auto' | number;
  /** `-p`: local UDP port, default 0 (the OS picks). */
  localPort?: number;
  /**
   * `-p ip:port`: local bind address. Default: every address on one dual-stack socket (IPv4 only where the
   * host has no IPv6); an IPv4 address (also 0.0.0.0) binds IPv4 only, an IPv6 one IPv6 only.
   */
  bindAddress?: string;
  /** `-T`: IP TOS of the UDP socket. */
  tos?: number;
  /** `-D`: enable path MTU discovery (DF set). Default off, as n2n. */
  pmtuDiscovery?: boolean;
  /** `-e`: preferred local address advertised to the supernode: an IPv4 or 'auto'. */
  preferredAddress?: string;
  /** `-S1`: false = never P2P, everything via the supernode. Default true. */
  p2p?: boolean;
  /** `-S2`: TCP to the supernode (2-byte length framing, spec §1); implies `-S1` (no P2P). */
  tcp?: boolean;
  /** `-i`: registration interval in seconds, default 20. */
  registerInterval?: number;
  /** `-L`: hole-punch TTL; 0 = plain, 1 = skip the direct REGISTER, >1 = a 16-port burst with this IP TTL. */
  registerTtl?: number;
  /** `--select-rtt` / `--select-mac`; default by load. */
  selection?: Selection;
  /** `-r`: route IPv4 not addressed to or from us. */
  allowRouting?: boolean;
  /** `-E`: accept Ethernet multicast. */
  acceptMulticast?: boolean;
  /** `-I`: description (user name with `password`), at most 15 characters. Default ''. */
  description?: string;
  /** `-J`: user/password authentication (needs transform chacha20 or speck). */
  password?: string;
  /** `-P`: federation public key (43 characters). Default: the key of "Federation". */
  federationKey?: string;
  /** `-R`: traffic rules. */
  rules?: readonly string[];
  /** `-n`: routes as `cidr:gateway`. */
  routes?: readonly string[];
  /**
   * The 16-byte random-id auth token (scheme 1) presented in REGISTER_SUPER; default: a fresh random one. The
   * CLI keeps it in the state file so a restarted edge is recognised by the supernode (docs/reliability.md).
   */
  authToken?: Uint8Array;
}

/** One `-n` route. */
export interface EdgeRoute {
  net: number;
  bits: number;
  gateway: number;
}

/** The validated, defaulted configuration the Edge runs on. */
export interface EdgeConfig {
  community: string;
  supernodes: readonly { host: string; port: number; text: string }[];
  key: string | undefined;
  transform: TransformId;
  compression: CompressionId;
  headerEncryption: boolean;
  addressMode: AddressMode;
  /** Static/DHCP address as u32 (0 for DHCP 0.0.0.0 or supernode mode), and prefix bits. */
  address: number;
  prefixBits: number;
  /** Fixed MAC, or undefined for a random one. */
  mac: Mac | undefined;
  device: string;
  mtu: number;
  /** 'auto', the IPv4 MSS limit in bytes, or undefined (no clamping). */
  mssClamp: 'auto' | number | undefined;
  localPort: number;
  bindAddress: string | undefined;
  tos: number | undefined;
  pmtuDiscovery: boolean;
  /** Preferred local IPv4 (u32), 'auto', or undefined. */
  preferredAddress: number | 'auto' | undefined;
  p2p: boolean;
  /** `-S2`: the supernode is reached over one TCP connection (p2p is then false). */
  tcp: boolean;
  registerInterval: number;
  registerTtl: number;
  selection: Selection;
  allowRouting: boolean;
  acceptMulticast: boolean;
  description: string;
  password: string | undefined;
  federationKey: string | undefined;
  /** The id token to present, or undefined for a fresh random one. */
  authToken: Uint8Array | undefined;
  rules: readonly TrafficRule[];
  routes: readonly EdgeRoute[];
}

/** `s` cut to at most `max` UTF-8 bytes (like strncpy into a fixed C field; a split character is dropped). */
export function truncateBytes(s: string, max: number): string {
  const b = Buffer.from(s);
  if (b.length <= max) return s;
  return b
    .subarray(0, max)
    .toString('utf8')
    .replace(/\uFFFD$/, '');
}

function positiveInt(v: number, flag: string, what: string, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(`${flag}: invalid ${what} '${v}' (expected ${min}..${max})`);
  }
  return v;
}

function resolveTransform(opts: EdgeOptions): TransformId {
  const t = opts.transform;
  let id: number;
  if (t === undefined) id = TransformId.NULL;
  else if (typeof t === 'number') id = t;
  else if (/^\d+$/.test(t)) id = Number(t);
  else {
    const named = TRANSFORM_NAMES[t.toLowerCase()];
    if (named === undefined) {
      throw new ConfigError(`-A: unknown cipher '${t}' (expected null, twofish, aes, chacha20 or speck)`);
    }
    id = named;
  }
  if (!Number.isInteger(id) || id < TransformId.NULL || id > TransformId.SPECK) {
    throw new ConfigError(
      `-A${t}: unknown cipher (use -A1 null, -A2 Twofish, -A3 AES, -A4 ChaCha20, -A5 Speck)`,
    );
  }
  // edge.c: main: a key with the null transform means AES.
  if (id === TransformId.NULL && opts.key !== undefined) id = TransformId.AES;
  return id as TransformId;
}

function resolveMssClamp(v: 'auto' | number | undefined): 'auto' | number | undefined {
  if (v === undefined || v === 'auto') return v;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < MIN_MSS_CLAMP || v > MAX_MSS_CLAMP) {
    throw new ConfigError(
      `--mss-clamp=${String(v)}: expected 'auto' or an MSS in bytes (${MIN_MSS_CLAMP}..${MAX_MSS_CLAMP})`,
    );
  }
  return v;
}

function resolveAddress(text: string | undefined): { mode: AddressMode; addr: number; bits: number } {
  if (text === undefined) return { mode: AddressMode.SUPERNODE, addr: 0, bits: DEFAULT_PREFIX_BITS };
  // edge.c: scan_address: `[mode:]ip[/bits]`.
  const m = /^(?:(static|dhcp):)?([^/]+)(?:\/(\d{1,2}))?$/.exec(text.trim());
  if (!m) throw new ConfigError(`-a: invalid address '${text}' (expected [static:|dhcp:]a.b.c.d[/bits])`);
  let addr: number;
  try {
    addr = ipv4ToNumber(m[2]);
  } catch {
    throw new ConfigError(`-a: invalid IPv4 address '${m[2]}'`);
  }
  const bits = m[3] === undefined ? DEFAULT_PREFIX_BITS : Number(m[3]);
  if (bits < 1 || bits > MAX_PREFIX)
    throw new ConfigError(`-a: invalid prefix length /${bits} (expected 1..32)`);
  if (m[1] === 'dhcp') return { mode: AddressMode.DHCP, addr, bits };
  return { mode: AddressMode.STATIC, addr, bits };
}

function resolveRoute(text: string): EdgeRoute {
  // edge.c: -n "%63[^/]/%hhd:%63s".
  const m = /^([^/]+)\/(\d{1,2}):(.+)$/.exec(text.trim());
  if (!m) throw new ConfigError(`-n: invalid route '${text}' (expected a.b.c.d/bits:gateway)`);
  let net: number;
  let gateway: number;
  try {
    net = ipv4ToNumber(m[1]);
  } catch {
    throw new ConfigError(`-n: bad network '${m[1]}' in '${text}'`);
  }
  try {
    gateway = ipv4ToNumber(m[3]);
  } catch {
    throw new ConfigError(`-n: bad gateway '${m[3]}' in '${text}'`);
  }
  const bits = Number(m[2]);
  if (bits > MAX_PREFIX) throw new ConfigError(`-n: bad prefix /${bits} in '${text}'`);
  return { net, bits, gateway };
}

/** What the running process can do that options depend on. */
export interface EdgeCapabilities {
  /** A zstd codec is available (io/zstd.ts): `-z2` is accepted. */
  zstd?: boolean;
}

/** Validates options and fills in defaults (edge.c: setOption, edge_verify_conf). Throws ConfigError. */
export function resolveEdgeOptions(opts: EdgeOptions, caps: EdgeCapabilities = {}): EdgeConfig {
  const community = opts.community ?? '';
  if (community.length === 0) throw new ConfigError('-c: a community name is required');
  if (community.startsWith('*')) throw new ConfigError(`-c: community '${community}' may not start with '*'`);
  if (!opts.supernodes || opts.supernodes.length === 0) {
    throw new ConfigError('-l: at least one supernode (host:port) is required');
  }
  const supernodes = opts.supernodes.map((text) => {
    if (text.length > MAX_SUPERNODE_TEXT) {
      throw new ConfigError(`-l: supernode '${text}' is longer than ${MAX_SUPERNODE_TEXT} characters`);
    }
    let hp: { host: string; port: number };
    try {
      hp = parseHostPort(text);
    } catch (err) {
      throw new ConfigError(`-l: ${(err as Error).message}`);
    }
    return { host: hp.host, port: hp.port, text };
  });
  if (opts.key !== undefined && opts.key.length === 0) throw new ConfigError('-k: the key is empty');
  const transform = resolveTransform(opts);
  if (transform !== TransformId.NULL && opts.key === undefined) {
    throw new ConfigError(`-A${transform}: a cipher needs a key (-k or N2N_KEY)`);
  }
  let compression: CompressionId = CompressionId.NONE;
  if (opts.compression === 'lzo') compression = CompressionId.LZO;
  else if (opts.compression === 'zstd') {
    if (caps.zstd !== true) {
      throw new ConfigError(
        "-z2: zstd compression is not supported here (the zstd-napi binding is not built and this Node's zlib has no zstd); use -z1 (LZO)",
      );
    }
    compression = CompressionId.ZSTD;
  } else if (opts.compression !== undefined && opts.compression !== 'none') {
    throw new ConfigError(`-z: unknown compression '${String(opts.compression)}' (expected -z1 for LZO)`);
  }
  const password = opts.password;
  if (password !== undefined && password.length === 0) throw new ConfigError('-J: the password is empty');
  if (password !== undefined && transform !== TransformId.CHACHA20 && transform !== TransformId.SPECK) {
    throw new ConfigError('-J: user/password authentication requires ChaCha20 (-A4) or Speck (-A5)');
  }
  const federationKey = opts.federationKey;
  if (federationKey !== undefined && !/^[0-9A-Za-z+-]{43}$/.test(federationKey)) {
    throw new ConfigError(
      `-P: the federation public key must be ${PUBLIC_KEY_TEXT_CHARS} characters of 0-9A-Za-z+-`,
    );
  }
  // edge.c: -c and -I are truncated to the field width, not refused.
  const description = truncateBytes(opts.description ?? '', DESC_BYTES - 1);
  const address = resolveAddress(opts.address);
  let mac: Mac | undefined;
  if (opts.mac !== undefined) {
    mac = parseMac(opts.mac);
    if (isMulticastMac(mac) || mac === 0)
      throw new ConfigError(`-m: '${opts.mac}' is not a unicast MAC address`);
  }
  const device = opts.device ?? DEFAULT_TAP_NAME;
  if (device.length === 0 || device.length > MAX_IFNAME || /[\s/]/.test(device)) {
    throw new ConfigError(
      `-d: invalid device name '${device}' (1..${MAX_IFNAME} characters, no '/' or spaces)`,
    );
  }
  const mtu = positiveInt(opts.mtu ?? DEFAULT_EDGE_MTU, '-M', 'MTU', MIN_EDGE_MTU, MAX_EDGE_MTU);
  const mssClamp = resolveMssClamp(opts.mssClamp);
  const localPort = positiveInt(opts.localPort ?? 0, '-p', 'port', 0, MAX_U16);
  let bindAddress = opts.bindAddress;
  if (bindAddress !== undefined) {
    if (ipFamilyOf(bindAddress) === 0) throw new ConfigError(`-p: invalid bind address '${bindAddress}'`);
    // `::` is the default (dual-stack where the host has IPv6); 0.0.0.0 binds IPv4 only, as 3.1.1 does.
    if (bindAddress === '::') bindAddress = undefined;
  }
  const tos = opts.tos === undefined ? undefined : positiveInt(opts.tos, '-T', 'TOS', 0, MAX_U8);
  let preferredAddress: number | 'auto' | undefined;
  if (opts.preferredAddress !== undefined) {
    if (opts.preferredAddress === 'auto') preferredAddress = 'auto';
    else {
      try {
        preferredAddress = ipv4ToNumber(opts.preferredAddress);
      } catch {
        throw new ConfigError(`-e: invalid preferred address '${opts.preferredAddress}' (an IPv4 or 'auto')`);
      }
    }
  }
  const registerInterval = positiveInt(
    opts.registerInterval ?? DEFAULT_REGISTER_INTERVAL_S,
    '-i',
    'registration interval',
    1,
    MAX_U16,
  );
  const registerTtl = positiveInt(opts.registerTtl ?? 0, '-L', 'registration TTL', 0, MAX_U8);
  const selection = opts.selection ?? Selection.LOAD;
  if (selection !== Selection.LOAD && selection !== Selection.RTT && selection !== Selection.MAC) {
    throw new ConfigError(`--select-${String(selection)}: unknown selection strategy`);
  }
  const rules = (opts.rules ?? []).map(parseTrafficRule);
  const routes = (opts.routes ?? []).map(resolveRoute);
  return {
    community: truncateBytes(community, COMMUNITY_MAX_CHARS),
    supernodes,
    key: opts.key,
    transform,
    compression,
    headerEncryption: opts.headerEncryption === true || password !== undefined,
    addressMode: address.mode,
    address: address.addr,
    prefixBits: address.bits,
    mac,
    device,
    mtu,
    mssClamp,
    localPort,
    bindAddress,
    tos,
    pmtuDiscovery: opts.pmtuDiscovery === true,
    preferredAddress,
    // edge.c: -S2 also sets -S1's allow_p2p = 0 (a TCP edge never does P2P).
    p2p: opts.p2p !== false && opts.tcp !== true,
    tcp: opts.tcp === true,
    registerInterval,
    registerTtl,
    selection,
    allowRouting: opts.allowRouting === true,
    acceptMulticast: opts.acceptMulticast === true,
    description,
    password,
    federationKey,
    authToken: resolveAuthToken(opts.authToken),
    rules,
    routes,
  };
}

/** Size of the scheme-1 id token (n2n_define.h: N2N_AUTH_ID_TOKEN_SIZE). */
export const AUTH_TOKEN_BYTES = 16;

function resolveAuthToken(t: Uint8Array | undefined): Uint8Array | undefined {
  if (t === undefined) return undefined;
  if (t.length !== AUTH_TOKEN_BYTES || t.every((b) => b === 0))
    throw new ConfigError(`the auth token must be ${AUTH_TOKEN_BYTES} bytes, not all zero`);
  return t.slice();
}
