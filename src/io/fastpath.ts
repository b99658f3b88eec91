// The edge's native fast path (native/src/fastpath.cc) over a native UDP socket and TAP: see edge/fastpath.ts.
import { loadAddon, type NativeFastPath, type NativeSnRelay } from './addon.js';
import { NativeHeaderCore, NativePayloadBatch } from './crypto-native.js';
import type { TapDevice, UdpSocket } from './types.js';

/** Peers the native table holds at most; with more, the fast path stays off. */
export const FAST_PATH_MAX_PEERS = 256;
/** Words of one peer slot's -H replay record in FastPathPort.records (native/src/fastpath.cc kRecordWords). */
export const FAST_PATH_RECORD_WORDS = 36;

/**
 * A socket or TAP whose poller can hand its batches to a native taker first (NativeUdpSocket, LinuxTap): the edge's
 * fast path, or the supernode's relay (io/snrelay.ts).
 */
export interface FastPathHost {
  fastPathFd(): number;
  setFastPath(fast: NativeFastPath | NativeSnRelay | null): boolean;
}

export function isHost(x: unknown): x is FastPathHost {
  const h = x as Partial<FastPathHost> | undefined;
  return typeof h?.setFastPath === 'function' && typeof h.fastPathFd === 'function';
}

/** One socket and TAP's fast path: the edge pushes its decisions (setPeers, setEnabled) and reads `stats`. */
export class FastPathPort {
  /** Totals (rx packets, rx bytes, TAP drops, tx packets, tx bytes, socket drops), then 4 per peer slot. */
  readonly stats = new Float64Array(8 + 4 * FAST_PATH_MAX_PEERS);
  readonly maxPeers = FAST_PATH_MAX_PEERS;
  /**
   * -H replay records per peer slot, shared with the addon: newest stamp hi, lo; ring entries in use; the ring's
   * next position; then 16 (hi, lo) pairs (transform/stamp.ts StampRecord).
   */
  readonly records = new Uint32Array(FAST_PATH_RECORD_WORDS * FAST_PATH_MAX_PEERS);
  /** Relayed traffic: rx packets, rx bytes, tx packets, tx bytes in total, then the same per relay slot. */
  readonly relayStats = new Float64Array(4 + 4 * FAST_PATH_MAX_PEERS);
  /** -H: the current supernode's replay record (as one slot of `records`), shared with the addon. */
  readonly snRecord = new Uint32Array(FAST_PATH_RECORD_WORDS);
  private readonly native: NativeFastPath;
  private readonly udp: FastPathHost;
  private readonly tap: FastPathHost;

  constructor(ctor: new (stats: Float64Array) => NativeFastPath, udp: FastPathHost, tap: FastPathHost) {
    this.native = new ctor(this.stats);
    this.udp = udp;
    this.tap = tap;
  }

  configure(
    community20: Uint8Array,
    ownMac: Uint8Array,
    transform: number,
    batch: NativePayloadBatch,
    devAddr: number,
    allowRouting: boolean,
  ): void {
    this.native.configure(
      this.tap.fastPathFd(),
      this.udp.fastPathFd(),
      community20,
      ownMac,
      transform,
      batch.key,
      devAddr >>> 0,
      allowRouting,
    );
  }

  /**
   * -H with the header key pair behind `core` (a NativeHeaderCore) and the stamp generator's `stampState`; false
   * (and -H off) for anything else. undefined turns -H off.
   */
  configureHeader(core: unknown, stampState: Uint32Array): boolean {
    if (core instanceof NativeHeaderCore) {
      this.native.configureHeader(core.handle, stampState, this.records);
      return true;
    }
    this.native.configureHeader(null);
    return core === undefined;
  }

  /** 20 bytes a peer: MAC, IPv4 and port big-endian, may-send flag, 3 zero bytes, send-until Unix s big-endian. */
  setPeers(table: Uint8Array, count: number): void {
    this.native.setPeers(table, count);
  }

  setEnabled(rx: boolean, tx: boolean): void {
    this.native.setEnabled(rx, tx);
  }

  /**
   * The pending peers reached through the supernode (20 bytes each, as setPeers, with the socket the supernode's
   * relayed PACKETs carry) and the supernode's IPv4 socket (6 bytes, address and port big-endian; null: none).
   */
  setRelay(table: Uint8Array, count: number, supernode: Uint8Array | null): void {
    this.native.setRelay(table, count, supernode, this.relayStats, this.snRecord);
  }

  /** In front of the socket's and the TAP's batches; false when either is closed. */
  attach(): boolean {
    return this.udp.setFastPath(this.native) && this.tap.setFastPath(this.native);
  }

  /** Off and away from the socket and the TAP (before either closes). */
  detach(): void {
    this.native.setEnabled(false, false);
    this.udp.setFastPath(null);
    this.tap.setFastPath(null);
  }
}

/**
 * The fast path for the native UDP socket `udp` and TAP `tap` with the native payload batch behind `batch`
 * (edge/payload.ts's NativeBatch), configured and attached but disabled; undefined when any of them is not native
 * or the addon lacks it.
 */
export function openFastPath(
  udp: UdpSocket,
  tap: TapDevice,
  batch: unknown,
  community20: Uint8Array,
  ownMac: Uint8Array,
  transform: number,
  devAddr: number,
  allowRouting: boolean,
): FastPathPort | undefined {
  const native = (batch as { native?: unknown } | undefined)?.native;
  if (!(native instanceof NativePayloadBatch) || !isHost(udp) || !isHost(tap)) return undefined;
  const ctor = loadAddon().FastPath;
  if (ctor === undefined) return undefined;
  const port = new FastPathPort(ctor, udp, tap);
  port.configure(community20, ownMac, transform, native, devAddr, allowRouting);
  if (!port.attach()) {
    port.detach();
    return undefined;
  }
  return port;
}
