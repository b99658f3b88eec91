// The supernode's native relay (native/src/snrelay.cc) in front of its native UDP socket: see supernode/fastrelay.ts.
import { loadAddon, type NativeSnRelay } from './addon.js';
import { NativeHeaderCore } from './crypto-native.js';
import { type FastPathHost, isHost } from './fastpath.js';
import type { UdpSocket } from './types.js';

/** -H communities the native relay holds at most (native/src/snrelay.cc kMaxHeCommunities). */
export const SN_RELAY_HE_COMMUNITIES = 8;
/** Where SnRelayPort.stats counts, per -H community in the order they were taught, the datagrams opened with its key. */
export const SN_RELAY_HE_OPENED_WORD = 4;
/** Words of SnRelayPort.stats: datagrams taken, forwarded, the Unix second of the last forward, send drops, then
 * the -H counts (native/src/snrelay.cc kStatCount). */
export const SN_RELAY_STAT_WORDS = SN_RELAY_HE_OPENED_WORD + SN_RELAY_HE_COMMUNITIES;
/** Edges of -H communities the native relay holds replay records for at most. */
export const SN_RELAY_RECORD_SLOTS = 1024;
/** Words of one replay record (native/src/stamps.h kRecordWords, transform/stamp.ts RECORD_WORDS). */
const RECORD_WORDS = 36;

/** One socket's native relay: the supernode teaches it edges (learn), makes it forget them, and reads `stats`. */
export class SnRelayPort {
  readonly stats = new Float64Array(SN_RELAY_STAT_WORDS);
  /** -H: replay records per slot, shared with the addon (RECORD_WORDS each). */
  readonly records = new Uint32Array(RECORD_WORDS * SN_RELAY_RECORD_SLOTS);
  /** -H: 1 where the addon raised a slot's record since JS last cleared it; the last byte: any raised. */
  readonly dirty = new Uint8Array(SN_RELAY_RECORD_SLOTS + 1);
  readonly slots = SN_RELAY_RECORD_SLOTS;
  /** native/src/snrelay.cc kMaxEdges, kMaxCommunities, kMaxHeCommunities. */
  readonly maxEdges = 1 << 16;
  readonly maxCommunities = 4096;
  readonly maxHeaderCommunities = SN_RELAY_HE_COMMUNITIES;
  readonly heOpenedWord = SN_RELAY_HE_OPENED_WORD;
  private readonly native: NativeSnRelay;
  private readonly udp: FastPathHost;
  private header = false;

  constructor(ctor: new (stats: Float64Array) => NativeSnRelay, udp: FastPathHost) {
    this.native = new ctor(this.stats);
    this.udp = udp;
    this.native.configure(udp.fastPathFd());
  }

  setEnabled(on: boolean): void {
    this.native.setEnabled(on);
  }

  /** -H communities can be taught with the process's stamp generator state (transform/stamp.ts StampGenerator.state). */
  configureHeader(stampState: Uint32Array): void {
    this.native.configureHeader(stampState, this.records, this.dirty);
    this.header = true;
  }

  /** Whether a -H community with this header core (HeaderKeys.core) can be taught. */
  takesHeader(core: unknown): boolean {
    return this.header && core instanceof NativeHeaderCore;
  }

  /**
   * An edge: the 20-byte community field, its MAC, its IPv4 socket (6 bytes, big-endian), and for a -H community its
   * header core (takesHeader) and record slot. True when the table was full and everything taught before is forgotten.
   */
  learn(community20: Uint8Array, mac: Uint8Array, socket: Uint8Array, core?: unknown, slot = -1): boolean {
    const key = core instanceof NativeHeaderCore ? core.handle : null;
    return this.native.learn(community20, mac, socket, key, key === null ? -1 : slot);
  }

  forget(): void {
    this.native.forget();
  }

  /** In front of the socket's batches; false when it is closed. */
  attach(): boolean {
    return this.udp.setFastPath(this.native);
  }

  /** Off and away from the socket (before it closes). */
  detach(): void {
    this.native.setEnabled(false);
    this.native.forget();
    this.udp.setFastPath(null);
  }
}

/** The relay in front of the native UDP socket `udp`, attached but disabled; undefined when it is not native. */
export function openSnRelay(udp: UdpSocket): SnRelayPort | undefined {
  if (!isHost(udp)) return undefined;
  const ctor = loadAddon().SnRelay;
  if (ctor === undefined) return undefined;
  const port = new SnRelayPort(ctor, udp);
  if (!port.attach()) {
    port.detach();
    return undefined;
  }
  return port;
}
