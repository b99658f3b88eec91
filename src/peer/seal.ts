// Sealing an outgoing control message: header encryption with a fresh stamp, and the user/password trailer.
import { type AuthSecret, computeTrailer } from '../transform/auth.js';
import { AUTH_TRAILER_BYTES, encryptHeader, type HeaderKeys } from '../transform/header.js';
import type { Stamp, StampGenerator } from '../transform/stamp.js';
import type { Random } from '../util/random.js';

/**
 * Encrypts headers in place with the process's one stamp generator (spec §6: every sender needs a single,
 * strictly increasing generator for all message types) and appends trailers. Shared by edge and supernode.
 */
export class HeaderSealer {
  readonly stamps: StampGenerator;
  private readonly random: Random;
  private readonly stamp: Stamp = { hi: 0, lo: 0 };
  /** sealBatch's stamps (hi, lo per datagram) and random words; grown to the largest batch once. */
  private batchStamps = new Uint32Array(0);
  private batchRands = new Uint32Array(0);

  constructor(stamps: StampGenerator, random: Random) {
    this.stamps = stamps;
    this.random = random;
  }

  /** Encrypts buf[off, off+len) in place; `hl` = bytes covered by the CTR (headerLength(); all of it for control messages). */
  seal(buf: Uint8Array, off: number, len: number, keys: HeaderKeys, hl = len): void {
    encryptHeader(buf, off, len, hl, this.stamps.next(this.stamp), this.random.u32(), keys);
  }

  /**
   * Seals datagram j = buf[offs[j], +lens[j]) with hl = hls[j], for j < count, in order: the same stamps and
   * random words as `seal` one by one, in one native call when the keys have a core (up to 32 datagrams'
   * checksums and header blocks together).
   */
  sealBatch(
    buf: Uint8Array,
    offs: Uint32Array,
    lens: Uint32Array,
    hls: Uint32Array,
    count: number,
    keys: HeaderKeys,
  ): void {
    const core = keys.core;
    if (core === undefined) {
      for (let j = 0; j < count; j++) this.seal(buf, offs[j], lens[j], keys, hls[j]);
      return;
    }
    if (this.batchRands.length < count) {
      this.batchRands = new Uint32Array(count);
      this.batchStamps = new Uint32Array(2 * count);
    }
    for (let j = 0; j < count; j++) {
      this.stamps.next(this.stamp);
      this.batchStamps[2 * j] = this.stamp.hi;
      this.batchStamps[2 * j + 1] = this.stamp.lo;
      this.batchRands[j] = this.random.u32();
    }
    core.sealBatch(buf, offs, lens, hls, this.batchStamps, this.batchRands, count);
  }

  /**
   * Appends the 16-byte user/password trailer E_SS(H128(buf[off, off+len))) right after the (already
   * encrypted) datagram and returns the new length. The buffer needs 16 spare bytes.
   */
  appendTrailer(buf: Uint8Array, off: number, len: number, secret: AuthSecret): number {
    computeTrailer(buf, off, len, secret, buf, off + len);
    return len + AUTH_TRAILER_BYTES;
  }

  /** Appends 16 random bytes where a trailer is expected but meaningless (REGISTER_SUPER_NAK, spec §4.8). */
  appendJunkTrailer(buf: Uint8Array, off: number, len: number): number {
    this.random.fill(buf, off + len, AUTH_TRAILER_BYTES);
    return len + AUTH_TRAILER_BYTES;
  }
}
