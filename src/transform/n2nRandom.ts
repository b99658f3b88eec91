// n2n's own deterministic generator (xorshift128+, splitmix64 seeding) as a Random, to reproduce upstream test output.
//
// random_numbers.c: the state (a, b) starts at fixed constants; n2n_rand() is xorshift128+ and
// n2n_srand(seed) reseeds with two splitmix64 outputs and then discards 32 values. The transforms
// draw their 16-byte preamble/IV as two n2n_rand() values written big-endian (transform_*.c:
// encode_uint64), which is exactly what fill() produces. Not a CSPRNG: tests only.
import type { Random } from '../util/random.js';

const MASK64 = (1n << 64n) - 1n;
// random_numbers.c: default state (taken from splitmix64 constants) used until n2n_srand().
const DEFAULT_A = 0x9e3779b97f4a7c15n;
const DEFAULT_B = 0xbf58476d1ce4e5b9n;
// splitmix64 increment and multipliers.
const SPLITMIX_GAMMA = 0x9e3779b97f4a7c15n;
const SPLITMIX_M1 = 0xbf58476d1ce4e5b9n;
const SPLITMIX_M2 = 0x94d049bb133111ebn;
// random_numbers.c: n2n_srand stabilises a weak state by discarding this many outputs.
const SEED_DISCARD = 32;
const U64_BYTES = 8;

/** xorshift128+ exactly as n2n 3.1.1 runs it; `fill` emits each 64-bit output big-endian. */
export class N2nRandom implements Random {
  private a = DEFAULT_A;
  private b = DEFAULT_B;

  /** Without a seed the generator starts in n2n's built-in default state (what the upstream tests use). */
  constructor(seed?: bigint) {
    if (seed !== undefined) this.seed(seed);
  }

  /** random_numbers.c: n2n_srand(seed). */
  seed(seed: bigint): void {
    let s = seed & MASK64;
    const next = (): bigint => {
      let z = s;
      s = (s + SPLITMIX_GAMMA) & MASK64;
      z = ((z ^ (z >> 30n)) * SPLITMIX_M1) & MASK64;
      z = ((z ^ (z >> 27n)) * SPLITMIX_M2) & MASK64;
      return z ^ (z >> 31n);
    };
    this.a = next();
    this.b = next();
    if (this.a === 0n && this.b === 0n) {
      this.a = DEFAULT_A;
      this.b = DEFAULT_B;
    }
    for (let i = 0; i < SEED_DISCARD; i++) this.next64();
  }

  /** random_numbers.c: n2n_rand(), one 64-bit output. */
  next64(): bigint {
    let t = this.a;
    const s = this.b;
    this.a = s;
    t ^= (t << 23n) & MASK64;
    t ^= t >> 17n;
    t ^= s ^ (s >> 26n);
    this.b = t;
    return (t + s) & MASK64;
  }

  /** The low 32 bits of one n2n_rand() output, as C's `(uint32_t)n2n_rand()`. */
  u32(): number {
    return Number(this.next64() & 0xffffffffn);
  }

  /** Whole 8-byte groups are BE64(n2n_rand()); a shorter tail takes the leading bytes of one more output. */
  fill(buf: Uint8Array, offset = 0, length = buf.length - offset): void {
    for (let p = 0; p < length; p += U64_BYTES) {
      const v = this.next64();
      const n = Math.min(U64_BYTES, length - p);
      for (let i = 0; i < n; i++) buf[offset + p + i] = Number((v >> BigInt(8 * (7 - i))) & 0xffn);
    }
  }
}
