// Injected randomness: a batched CSPRNG for production, a seeded generator for reproducible tests.
import { randomFillSync } from 'node:crypto';

export interface Random {
  /** Fills `buf[offset, offset+length)` with random bytes. */
  fill(buf: Uint8Array, offset?: number, length?: number): void;
  /** A random unsigned 32-bit integer. */
  u32(): number;
}

const POOL_BYTES = 4096;

/** OS randomness drawn in 4 KiB batches so a per-packet IV costs a copy, not a syscall. */
export class SystemRandom implements Random {
  private pool = new Uint8Array(POOL_BYTES);
  private pos = POOL_BYTES;

  fill(buf: Uint8Array, offset = 0, length = buf.length - offset): void {
    let off = offset;
    let left = length;
    while (left > 0) {
      if (this.pos === POOL_BYTES) {
        randomFillSync(this.pool);
        this.pos = 0;
      }
      const n = Math.min(left, POOL_BYTES - this.pos);
      buf.set(this.pool.subarray(this.pos, this.pos + n), off);
      // Used bytes are wiped so a later memory disclosure cannot replay them.
      this.pool.fill(0, this.pos, this.pos + n);
      this.pos += n;
      off += n;
      left -= n;
    }
  }

  u32(): number {
    if (POOL_BYTES - this.pos < 4) {
      randomFillSync(this.pool);
      this.pos = 0;
    }
    const p = this.pool;
    const i = this.pos;
    this.pos += 4;
    return ((p[i] << 24) | (p[i + 1] << 16) | (p[i + 2] << 8) | p[i + 3]) >>> 0;
  }
}

/** Deterministic xorshift32 generator for tests (not n2n's generator; see transform for that one). */
export class SeededRandom implements Random {
  private s: number;
  constructor(seed = 0x2545f491) {
    this.s = seed >>> 0 || 1;
  }
  u32(): number {
    let x = this.s;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    this.s = x;
    return x;
  }
  fill(buf: Uint8Array, offset = 0, length = buf.length - offset): void {
    for (let i = 0; i < length; i++) buf[offset + i] = this.u32() & 0xff;
  }
}
