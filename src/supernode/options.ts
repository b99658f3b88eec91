// Supernode options: the library's input shape, 3.1.1's defaults, and validation into a resolved config.
import { DEFAULT_FEDERATION_NAME, FEDERATION_PREFIX } from '../transform/auth.js';
import { ConfigError } from '../util/errors.js';
import { ipFamilyOf, ipv4ToNumber, parseHostPort } from '../util/ip.js';
import { type Mac, parseMac } from '../util/mac.js';
import { communityBytes } from '../wire/common.js';
import { VERSION_BYTES } from '../wire/types.js';

/** N2N_SN_LPORT_DEFAULT. */
export const DEFAULT_SUPERNODE_PORT = 7654;
/** N2N_SN_MGMT_PORT. */
export const DEFAULT_SUPERNODE_MGMT_PORT = 5645;
/** Version string sent in PONGs (PACKAGE_VERSION of 3.1.1). */
export const DEFAULT_SUPERNODE_VERSION = '3.1.1';
/** N2N_SN_MIN/MAX_AUTO_IP_NET_DEFAULT, N2N_SN_AUTO_IP_NET_BIT_DEFAULT (spec §9.4). */
export const DEFAULT_AUTO_IP_RANGE = '10.128.0.0-10.255.255.0/24';
/** snprintf(federation, N2N_COMMUNITY_SIZE - 1, "*%s"): at most 18 characters including the '*'. */
export const FEDERATION_NAME_MAX_CHARS = 18;
/** N2N_EDGE_SN_HOST_SIZE: a `-l` argument must be shorter than 48 characters. */
export const SUPERNODE_HOST_MAX_CHARS = 47;

/** Memory bounds (not in 3.1.1, which has none): what a supernode accepts before refusing and counting. */
export const DEFAULT_MAX_EDGES_PER_COMMUNITY = 1024;
export const DEFAULT_MAX_EDGES = 16384;
export const DEFAULT_MAX_COMMUNITIES = 4096;
export const DEFAULT_MAX_SUPERNODES = 256;
export const DEFAULT_MAX_ASSOCIATIONS = 65536;
/**
 * New edges one sender IP address may register at once, and per second after that (admission.ts). A site with more
 * edges behind one NAT address than the burst (or a load generator) raises it, or the rest join at the rate.
 */
export const DEFAULT_NEW_EDGE_BURST = 64;
export const DEFAULT_NEW_EDGES_PER_SECOND = 4;

/** Prefix lengths allowed for `-a` (supernode.c: 1..30). */
const MIN_AUTO_IP_BITS = 1;
const MAX_AUTO_IP_BITS = 30;

/** What `new Supernode(options)` accepts; every field is optional. */
export interface SupernodeOptions {
  /** UDP port (`-p`), default 7654. 0 lets the OS choose (tests). */
  port?: number;
  /**
   * Address to bind the main socket to; default `::`, every IPv4 and IPv6 address on one dual-stack socket
   * (3.1.1 binds IPv4 only). An IPv4 literal (also `0.0.0.0`) binds IPv4 only.
   */
  bindAddress?: string;
  /** Federation name without the leading '*' (`-F`), default "Federation". */
  federation?: string;
  /**
   * Name (with its '*') the federation's header keys are derived from. Default "*Federation" whatever
   * `federation` is: C 3.1.1 derives the keys before it parses `-F` (spec §9.3). Set it to the federation
   * name to talk to supernodes started with N2N_FEDERATION instead.
   */
  federationKeyName?: string;
  /** Other supernodes of the federation, `host:port` (`-l`). */
  peers?: string[];
  /** Supernode MAC (`-m`); default random. The multicast bit is cleared and the local bit set. */
  mac?: Mac | string;
  /** `-M`: no MAC/IP spoofing protection for communities without users. */
  disableSpoofingProtection?: boolean;
  /** Version text sent in PONGs (`-V`), at most 19 characters. */
  version?: string;
  /** Community file (`-c`); locks the supernode to its communities and patterns. */
  communityFile?: string;
  /** Auto-IP range `min-max/bits` (`-a`). */
  autoIpRange?: string;
  /** Also accept edges over TCP on the same port number (`edge -S2`); the CLI turns it on, like 3.1.1. */
  tcp?: boolean;
  /** Edges one community may hold; further new edges are refused (dropped and counted). Default 1024. */
  maxEdgesPerCommunity?: number;
  /** Edges all communities together may hold. Default 16384. */
  maxEdges?: number;
  /** Communities (besides the federation) that may exist at once. Default 4096. */
  maxCommunities?: number;
  /** New edges one sender IP address may register at once (admission.ts). Default 64. */
  newEdgeBurst?: number;
  /** New edges one sender IP address earns back per second. Default 4. */
  newEdgesPerSecond?: number;
  /** Federation members remembered. Default 256. */
  maxSupernodes?: number;
  /** Remembered "edge MAC → other supernode" associations. Default 65536. */
  maxAssociations?: number;
}

/** A `-l` peer after syntax checks (resolution happens at start). */
export interface PeerSpec {
  text: string;
  host: string;
  port: number;
}

/** Validated options with every default filled in. */
export interface SupernodeConfig {
  port: number;
  bindAddress: string;
  /** With the '*', truncated to 18 characters. */
  federationName: string;
  federationKeyName: string;
  peers: PeerSpec[];
  mac: Mac | undefined;
  disableSpoofingProtection: boolean;
  version: string;
  communityFile: string | undefined;
  tcp: boolean;
  autoIp: { min: number; max: number; bitlen: number };
  maxEdgesPerCommunity: number;
  maxEdges: number;
  maxCommunities: number;
  newEdgeBurst: number;
  newEdgesPerSecond: number;
  maxSupernodes: number;
  maxAssociations: number;
}

/** "*" + name, truncated like C. An explicit leading '*' is not doubled. */
export function federationFullName(name: string): string {
  const bare = name.startsWith(FEDERATION_PREFIX) ? name.slice(1) : name;
  return `${FEDERATION_PREFIX}${bare}`.slice(0, FEDERATION_NAME_MAX_CHARS);
}

/**
 * The federation's 20-byte community field exactly as a C 3.1.1 supernode holds it. The buffer first gets the
 * key name (sn_utils.c: sn_init_defaults: "*Federation", or "*" + N2N_FEDERATION), then `-F` is printed over
 * it with snprintf (supernode.c: setOption), which leaves the old name's tail behind the new NUL when the new
 * name is shorter ("*e2efed" over "*Federation" gives "*e2efed\0ion\0…"). Those bytes travel in the header,
 * are covered by its checksum and feed the dynamic key, so a federation with C supernodes needs them.
 */
export function federationField(keyName: string, name: string): Uint8Array {
  const field = communityBytes(keyName);
  if (name === keyName) return field;
  const enc = new TextEncoder().encode(name).subarray(0, FEDERATION_NAME_MAX_CHARS);
  field.set(enc);
  field[enc.length] = 0;
  return field;
}

function maskOf(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/** Parses `-a min-max/bits` with supernode.c's checks; throws ConfigError naming the problem. */
export function parseAutoIpRange(text: string): { min: number; max: number; bitlen: number } {
  const m = /^([^-]{1,15})-([^/]{1,15})\/(\d{1,3})$/.exec(text.trim());
  if (!m)
    throw new ConfigError(
      `bad auto-IP range '${text}' (expected min-max/bits, e.g. 10.128.0.0-10.255.255.0/24)`,
    );
  let min: number;
  let max: number;
  try {
    min = ipv4ToNumber(m[1]);
    max = ipv4ToNumber(m[2]);
  } catch {
    throw new ConfigError(`bad auto-IP range '${text}': invalid address`);
  }
  const bitlen = Number(m[3]);
  if (bitlen < MIN_AUTO_IP_BITS || bitlen > MAX_AUTO_IP_BITS) {
    throw new ConfigError(
      `bad auto-IP range '${text}': prefix must be ${MIN_AUTO_IP_BITS}..${MAX_AUTO_IP_BITS}`,
    );
  }
  const mask = maskOf(bitlen);
  if (min === 0 || max === 0 || min === 0xffffffff || max === 0xffffffff || min > max) {
    throw new ConfigError(`bad auto-IP range '${text}': need 0 < min <= max`);
  }
  if ((min & ~mask) >>> 0 !== 0 || (max & ~mask) >>> 0 !== 0) {
    throw new ConfigError(`bad auto-IP range '${text}': addresses must be /${bitlen} network addresses`);
  }
  return { min, max, bitlen };
}

/** Checks a `-l host:port`; throws ConfigError. */
export function parsePeerSpec(text: string): PeerSpec {
  if (text.length > SUPERNODE_HOST_MAX_CHARS) {
    throw new ConfigError(`supernode '${text}' is too long (at most ${SUPERNODE_HOST_MAX_CHARS} characters)`);
  }
  if (!text.includes(':')) throw new ConfigError(`supernode '${text}' has no port (expected host:port)`);
  const { host, port } = parseHostPort(text);
  if (port === 0) throw new ConfigError(`supernode '${text}' has port 0`);
  return { text, host, port };
}

function positiveInt(v: number | undefined, dflt: number, what: string): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < 1) throw new ConfigError(`${what} must be a positive integer, got ${v}`);
  return v;
}

/** Validates options and fills defaults. Throws ConfigError with a one-line message. */
export function resolveSupernodeOptions(o: SupernodeOptions = {}): SupernodeConfig {
  const port = o.port ?? DEFAULT_SUPERNODE_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new ConfigError(`invalid port ${port}`);
  // Default `::`: one dual-stack socket (IPv4 peers as before, IPv6 edges too); an explicit 0.0.0.0 binds
  // IPv4 only, as 3.1.1 always does.
  const bindAddress = o.bindAddress ?? '::';
  if (ipFamilyOf(bindAddress) === 0) throw new ConfigError(`invalid bind address '${bindAddress}'`);
  const federationName =
    o.federation === undefined ? DEFAULT_FEDERATION_NAME : federationFullName(o.federation);
  if (federationName.length < 2) throw new ConfigError('federation name must not be empty');
  const federationKeyName =
    o.federationKeyName === undefined ? DEFAULT_FEDERATION_NAME : federationFullName(o.federationKeyName);
  let mac: Mac | undefined;
  if (o.mac !== undefined) {
    const raw = typeof o.mac === 'string' ? parseMac(o.mac) : o.mac;
    if (!Number.isInteger(raw) || raw < 0 || raw > 0xffff_ffff_ffff)
      throw new ConfigError(`invalid MAC ${o.mac}`);
    mac = setLocalUnicast(raw);
  }
  const version = (o.version ?? DEFAULT_SUPERNODE_VERSION).slice(0, VERSION_BYTES - 1);
  return {
    port,
    bindAddress,
    federationName,
    federationKeyName,
    peers: (o.peers ?? []).map(parsePeerSpec),
    mac,
    disableSpoofingProtection: o.disableSpoofingProtection ?? false,
    version,
    communityFile: o.communityFile,
    tcp: o.tcp ?? false,
    autoIp: parseAutoIpRange(o.autoIpRange ?? DEFAULT_AUTO_IP_RANGE),
    maxEdgesPerCommunity: positiveInt(
      o.maxEdgesPerCommunity,
      DEFAULT_MAX_EDGES_PER_COMMUNITY,
      'maxEdgesPerCommunity',
    ),
    maxEdges: positiveInt(o.maxEdges, DEFAULT_MAX_EDGES, 'maxEdges'),
    maxCommunities: positiveInt(o.maxCommunities, DEFAULT_MAX_COMMUNITIES, 'maxCommunities'),
    newEdgeBurst: positiveInt(o.newEdgeBurst, DEFAULT_NEW_EDGE_BURST, 'newEdgeBurst'),
    newEdgesPerSecond: positiveInt(o.newEdgesPerSecond, DEFAULT_NEW_EDGES_PER_SECOND, 'newEdgesPerSecond'),
    maxSupernodes: positiveInt(o.maxSupernodes, DEFAULT_MAX_SUPERNODES, 'maxSupernodes'),
    maxAssociations: positiveInt(o.maxAssociations, DEFAULT_MAX_ASSOCIATIONS, 'maxAssociations'),
  };
}

const TWO_POW_40 = 0x100_0000_0000;

/** Clears the multicast bit and sets the locally-administered bit of the first octet (supernode.c: -m). */
export function setLocalUnicast(mac: Mac): Mac {
  const first = Math.floor(mac / TWO_POW_40);
  const rest = mac - first * TWO_POW_40;
  return ((first & ~0x01) | 0x02) * TWO_POW_40 + rest;
}
