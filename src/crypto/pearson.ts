// Pearson-B hashes (H64/H128/H256/H32/H16) of n2n 3.x with 64-bit lanes held as pairs of 32-bit ints.
import { checkRange } from './checks.js';
//
// Spec §5.2, pearson.c: every lane starts at 0; a round with value v sets h_j = mix((h_j ^ v) - j);
// whole 8-byte words are ingested little-endian, then all lanes are complemented, the 0..7 tail
// bytes are ingested one by one, lanes are complemented again and a final round takes the length.
// mix() is Stafford's Mix13 (the splitmix64 finaliser). Outputs are stored big-endian, lanes in
// reverse order, so H128 ends with H64 and H256 ends with H128.
//
// 64-bit values are (hi, lo) pairs of unsigned 32-bit numbers; no BigInt on this path and no
// allocation per call (the lane state lives in one module-level array).

/** A 64-bit value as two unsigned 32-bit halves. Callers pass a reusable one to avoid allocation. */
export interface U64 {
  hi: number;
  lo: number;
}

/** Output sizes in bytes. */
export const PEARSON_H64_BYTES = 8;
export const PEARSON_H128_BYTES = 16;
export const PEARSON_H256_BYTES = 32;

// Mix13 multipliers (pearson.c: permute64), split into 32-bit halves.
const M1_HI = 0xbf58476d;
const M1_LO = 0x1ce4e5b9;
const M2_HI = 0x94d049bb;
const M2_LO = 0x133111eb;

const MAX_LANES = 4;
const WORD_BYTES = 8;
const LOW16 = 0xffff;

// Lane state: lane j (0-based) at [2j] = hi, [2j+1] = lo.
const lanes = new Uint32Array(2 * MAX_LANES);

// Result registers of mix(); module-level so the hot loop allocates nothing.
let mixHi = 0;
let mixLo = 0;

/** Sets (mixHi, mixLo) = Mix13((hi, lo)). Inputs and outputs are unsigned 32-bit halves. */
function mix(hi: number, lo: number): void {
  // x ^= x >> 30
  lo = (lo ^ ((lo >>> 30) | (hi << 2))) >>> 0;
  hi = (hi ^ (hi >>> 30)) >>> 0;
  // x *= M1 (mod 2^64)
  mul64(hi, lo, M1_HI, M1_LO);
  hi = mixHi;
  lo = mixLo;
  // x ^= x >> 27
  lo = (lo ^ ((lo >>> 27) | (hi << 5))) >>> 0;
  hi = (hi ^ (hi >>> 27)) >>> 0;
  // x *= M2 (mod 2^64)
  mul64(hi, lo, M2_HI, M2_LO);
  hi = mixHi;
  lo = mixLo;
  // x ^= x >> 31
  mixLo = (lo ^ ((lo >>> 31) | (hi << 1))) >>> 0;
  mixHi = (hi ^ (hi >>> 31)) >>> 0;
}

/** Sets (mixHi, mixLo) = (ah:al) * (bh:bl) mod 2^64. */
function mul64(ah: number, al: number, bh: number, bl: number): void {
  // Full 32x32 -> 64 product of the low halves from 16-bit pieces (each partial product < 2^32).
  const a0 = al & LOW16;
  const a1 = al >>> 16;
  const b0 = bl & LOW16;
  const b1 = bl >>> 16;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = (p00 >>> 16) + (p01 & LOW16) + (p10 & LOW16);
  const lo = ((mid << 16) | (p00 & LOW16)) >>> 0;
  const carryHi = a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16);
  // Cross terms only affect the high half; Math.imul wraps mod 2^32 as required.
  mixHi = (carryHi + Math.imul(ah, bl) + Math.imul(al, bh)) >>> 0;
  mixLo = lo;
}

/** One round with value (vh, vl) on the first n lanes: h_j = mix((h_j ^ v) - j), j = 1..n. */
function round(n: number, vh: number, vl: number): void {
  for (let j = 0; j < n; j++) {
    const hi = (lanes[2 * j] ^ vh) >>> 0;
    const lo = (lanes[2 * j + 1] ^ vl) >>> 0;
    // Subtract the 1-based lane number with borrow.
    const sub = j + 1;
    const newLo = (lo - sub) >>> 0;
    const newHi = lo < sub ? (hi - 1) >>> 0 : hi;
    mix(newHi, newLo);
    lanes[2 * j] = mixHi;
    lanes[2 * j + 1] = mixLo;
  }
}

function complement(n: number): void {
  for (let i = 0; i < 2 * n; i++) lanes[i] = ~lanes[i];
}

/** Runs the Pearson-B algorithm with n lanes over data[off, off+len); the result stays in `lanes`. */
function run(n: number, data: Uint8Array, off: number, len: number): void {
  lanes.fill(0, 0, 2 * n);
  const end = off + len;
  const wordsEnd = off + (len - (len % WORD_BYTES));
  let p = off;
  if (n === 1) {
    // Specialised single-lane loop: H64 runs over every datagram for the header checksum.
    let hi = 0;
    let lo = 0;
    for (; p < wordsEnd; p += WORD_BYTES) {
      const wl = data[p] | (data[p + 1] << 8) | (data[p + 2] << 16) | (data[p + 3] << 24);
      const wh = data[p + 4] | (data[p + 5] << 8) | (data[p + 6] << 16) | (data[p + 7] << 24);
      const xl = (lo ^ wl) >>> 0;
      const xh = (hi ^ wh) >>> 0;
      mix(xl === 0 ? (xh - 1) >>> 0 : xh, (xl - 1) >>> 0);
      hi = mixHi;
      lo = mixLo;
    }
    lanes[0] = hi;
    lanes[1] = lo;
  } else {
    for (; p < wordsEnd; p += WORD_BYTES) {
      const wl = (data[p] | (data[p + 1] << 8) | (data[p + 2] << 16) | (data[p + 3] << 24)) >>> 0;
      const wh = (data[p + 4] | (data[p + 5] << 8) | (data[p + 6] << 16) | (data[p + 7] << 24)) >>> 0;
      round(n, wh, wl);
    }
  }
  complement(n);
  for (; p < end; p++) round(n, 0, data[p]);
  complement(n);
  // The length as a 64-bit value; datagrams never reach 2^32 bytes but stay exact up to 2^53.
  round(n, Math.floor(len / 0x100000000) >>> 0, len >>> 0);
}

function storeLanes(n: number, out: Uint8Array, outOff: number): void {
  // Lane n first, lane 1 last, each big-endian.
  let o = outOff;
  for (let j = n - 1; j >= 0; j--) {
    const hi = lanes[2 * j];
    const lo = lanes[2 * j + 1];
    out[o] = hi >>> 24;
    out[o + 1] = hi >>> 16;
    out[o + 2] = hi >>> 8;
    out[o + 3] = hi;
    out[o + 4] = lo >>> 24;
    out[o + 5] = lo >>> 16;
    out[o + 6] = lo >>> 8;
    out[o + 7] = lo;
    o += WORD_BYTES;
  }
}

/**
 * H64 of data[off, off+len) as (hi, lo) halves, written into `out` (pass a reusable object on hot
 * paths: nothing is allocated then).
 */
export function pearsonHash64(data: Uint8Array, off = 0, len = data.length - off, out?: U64): U64 {
  checkRange('pearson', data, off, len, 'data');
  run(1, data, off, len);
  const r = out ?? { hi: 0, lo: 0 };
  r.hi = lanes[0];
  r.lo = lanes[1];
  return r;
}

/** H64 of data[off, off+len) stored big-endian (8 bytes) into out[outOff..]. Returns `out`. */
export function pearsonHash64Bytes(
  data: Uint8Array,
  off = 0,
  len = data.length - off,
  out: Uint8Array = new Uint8Array(PEARSON_H64_BYTES),
  outOff = 0,
): Uint8Array {
  checkRange('pearson', data, off, len, 'data');
  run(1, data, off, len);
  storeLanes(1, out, outOff);
  return out;
}

/** H64 as a BigInt (convenience for cold paths such as the management password hash). */
export function pearsonHash64BigInt(data: Uint8Array): bigint {
  run(1, data, 0, data.length);
  return (BigInt(lanes[0]) << 32n) | BigInt(lanes[1]);
}

/** H32 = the low 32 bits of H64, as an unsigned number. */
export function pearsonHash32(data: Uint8Array, off = 0, len = data.length - off): number {
  checkRange('pearson', data, off, len, 'data');
  run(1, data, off, len);
  return lanes[1];
}

/** H16 = the low 16 bits of H64. */
export function pearsonHash16(data: Uint8Array, off = 0, len = data.length - off): number {
  checkRange('pearson', data, off, len, 'data');
  run(1, data, off, len);
  return lanes[1] & LOW16;
}

/** H128 of the whole of `data` (use a subarray for a range), 16 bytes into out[outOff..]. */
export function pearsonHash128(
  data: Uint8Array,
  out: Uint8Array = new Uint8Array(PEARSON_H128_BYTES),
  outOff = 0,
): Uint8Array {
  run(2, data, 0, data.length);
  storeLanes(2, out, outOff);
  return out;
}

/** H256 of the whole of `data` (use a subarray for a range), 32 bytes into out[outOff..]. */
export function pearsonHash256(
  data: Uint8Array,
  out: Uint8Array = new Uint8Array(PEARSON_H256_BYTES),
  outOff = 0,
): Uint8Array {
  run(4, data, 0, data.length);
  storeLanes(4, out, outOff);
  return out;
}

/** H128 of data[off, off+len), 16 bytes into out[outOff..] (no subarray view needed). */
export function pearsonHash128Range(
  data: Uint8Array,
  off: number,
  len: number,
  out: Uint8Array = new Uint8Array(PEARSON_H128_BYTES),
  outOff = 0,
): Uint8Array {
  checkRange('pearson', data, off, len, 'data');
  run(2, data, off, len);
  storeLanes(2, out, outOff);
  return out;
}
