// What an Edge is given instead of doing I/O itself: socket and TAP factories, clock, randomness, logger, DNS.
import type { CipherBackend } from '../crypto/backend.js';
import type { TapDevice, UdpSocket } from '../io/types.js';
import type { ZstdCoder } from '../transform/compression.js';
import type { StampGenerator } from '../transform/stamp.js';
import type { Clock } from '../util/clock.js';
import type { SockAddr } from '../util/ip.js';
import type { Logger } from '../util/log.js';
import type { Mac } from '../util/mac.js';
import type { Random } from '../util/random.js';
import type { EdgeRoute } from './options.js';

/** n2n_define.h: N2N_MULTICAST_GROUP / N2N_MULTICAST_PORT (local peer discovery, spec §12.7). */
export const MULTICAST_GROUP = '224.0.0.68';
export const MULTICAST_PORT = 1968;

export interface UdpOpenOptions {
  /** Local address to bind; undefined = any. */
  address: string | undefined;
  /** Local port; 0 = the OS picks. */
  port: number;
  /** IP TOS byte (-T). */
  tos: number | undefined;
  /** Set DF / do path MTU discovery (-D); n2n disables it by default. */
  pmtuDiscovery: boolean;
}

export interface TapOpenOptions {
  name: string;
  mac: Mac;
  mtu: number;
  /** IPv4 as u32 and prefix length; 0/0 leaves the device without an address (DHCP mode). */
  addr: number;
  bitlen: number;
}

/** A UDP socket whose outgoing IP TTL can be changed (for the `-L` port-prediction burst). */
export interface TtlSettable {
  setTtl(ttl: number): void;
}

export function canSetTtl(s: UdpSocket): s is UdpSocket & TtlSettable {
  return typeof (s as Partial<TtlSettable>).setTtl === 'function';
}

/** What edge/fastpath.ts drives (io/fastpath.ts's FastPathPort, matched structurally: edge may not import io). */
export interface FastPathPort {
  readonly stats: Float64Array;
  readonly maxPeers: number;
  /** -H replay records, 36 words per peer slot (io/fastpath.ts). */
  readonly records: Uint32Array;
  /** -H with the header key core (false when the port cannot use it); undefined turns -H off. */
  configureHeader(core: unknown, stampState: Uint32Array): boolean;
  setPeers(table: Uint8Array, count: number): void;
  /** Relayed traffic counters: 4 totals, then 4 per relay slot (io/fastpath.ts). */
  readonly relayStats: Float64Array;
  /** -H: the current supernode's replay record, 36 words as one slot of `records`. */
  readonly snRecord: Uint32Array;
  setRelay(table: Uint8Array, count: number, supernode: Uint8Array | null): void;
  setEnabled(rx: boolean, tx: boolean): void;
  detach(): void;
}

/** Opens a fast path for the edge's socket and TAP (EdgeDeps.openFastPath); undefined when they are not native. */
export type OpenFastPath = (
  udp: unknown,
  tap: unknown,
  batch: unknown,
  community20: Uint8Array,
  ownMac: Uint8Array,
  transform: number,
  devAddr: number,
  allowRouting: boolean,
) => FastPathPort | undefined;

/** Undo handle for routes installed with `addRoutes`. */
export type RouteCleanup = () => Promise<void>;

export interface EdgeDeps {
  clock: Clock;
  random: Random;
  logger: Logger;
  /** One strictly increasing stamp source per process; share it with a supernode in the same process. */
  stamps?: StampGenerator;
  /** Faster cipher cores for the payload transform (the native addon's when built); pure TS when absent. */
  cipherBackend?: CipherBackend;
  /** zstd for `-z2` and received zstd payloads (io/zstd.ts loadZstd); absent: -z2 is refused, zstd dropped. */
  zstd?: ZstdCoder;
  /** Opens the main UDP socket. */
  openUdp(options: UdpOpenOptions): Promise<UdpSocket>;
  /**
   * `-S2`: opens the main socket as one TCP connection to the supernode with 3.1.1's 2-byte length framing
   * (io/tcp-framed.ts), connected on its first send; it replaces `openUdp`. Absent: -S2 is refused.
   */
  openTcp?(options: UdpOpenOptions): Promise<UdpSocket>;
  /**
   * Opens the local-discovery socket: bound to 0.0.0.0:1968 with address reuse and joined to 224.0.0.68.
   * Undefined when multicast is unavailable (discovery is then skipped).
   */
  openMulticast(): Promise<UdpSocket | undefined>;
  /** Creates and configures the TAP device. */
  openTap(options: TapOpenOptions): Promise<TapDevice>;
  /**
   * Resolves a supernode host name to IPv4 or IPv6 text (IPv4 only when `family` is 4, the default; 0 takes
   * the system's first answer of either family); rejects when it cannot.
   */
  resolve(host: string, family?: 0 | 4 | 6): Promise<string>;
  /** The local IPv4 address the host would use to reach `to` (for `-e auto`). */
  localAddressFor?(to: SockAddr): Promise<string | undefined>;
  /**
   * The MTU of the route towards `to`: that of the interface the route leaves through (for `--mss-clamp=auto`).
   * Undefined when it cannot be told; then only the TAP MTU limits the MSS.
   */
  routeMtu?(to: SockAddr): Promise<number | undefined>;
  /** The native receive fast path for the main socket and TAP (edge/fastpath.ts); absent: every packet through JS. */
  openFastPath?: OpenFastPath;
  /** Installs the `-n` routes once the TAP device is up. `supernode` is the current one (for 0.0.0.0/0). */
  addRoutes?(
    routes: readonly EdgeRoute[],
    tap: TapDevice,
    supernode: SockAddr | undefined,
  ): Promise<RouteCleanup>;
  /** The TAP device's current IPv4 address and prefix (DHCP mode re-reads it every 30 s). */
  readTapAddress?(tap: TapDevice): { addr: number; bitlen: number } | undefined;
}
