// Twofish block cipher (128/192/256-bit keys) with full-keyed tables, plus zero-allocation CBC helpers.
import { checkBlocks, checkRange } from './checks.js';
//
// Source: B. Schneier et al., "Twofish: A 128-Bit Block Cipher" (1998); the § numbers in this file
// are the paper's. n2n uses Twofish-256 (tf.c; n2n-v3-wire.md sections 5.4, 5.5 and vectors 15.2).
//
// Everything is derived from the paper's definitions at load / key-setup time:
// * q0, q1 (§4.3.5) from their four 4-bit permutations t0..t3;
// * the MDS matrix (§4.2) over GF(2^8) mod x^8+x^6+x^5+x^3+1;
// * the RS matrix (§4.3.3) over GF(2^8) mod x^8+x^6+x^3+x^2+1;
// * the function h (§4.3.2), the S-box words (§4.3.3) and the expanded key words (§4.3.4).
// At key setup the key-dependent S-boxes are folded into the MDS columns ("full keying", §5.1),
// so g(X) costs four table look-ups and three XORs.

/** Block size in bytes. */
export const TWOFISH_BLOCK_BYTES = 16;
/** Accepted key sizes in bytes (§4.3: N = 128, 192 or 256 bits). */
export const TWOFISH_KEY_BYTES = [16, 24, 32] as const;

const ROUNDS = 16;
// §4.3.4: 4 input-whitening + 4 output-whitening + 2 per round = 40 words.
const SUBKEY_WORDS = 40;
const ROUND_KEY_BASE = 8;
const OUTPUT_WHITEN = 4;
// §4.3.4: rho = 2^24 + 2^16 + 2^8 + 2^0.
const RHO = 0x01010101;
// Reduction polynomials (low 8 bits with the x^8 term): MDS 0x169 (§4.2), RS 0x14d (§4.3.3).
const MDS_POLY = 0x169;
const RS_POLY = 0x14d;
const BYTE_VALUES = 256;

/** Multiplication in GF(2^8) modulo `poly` (a polynomial with its x^8 bit set). */
function gfMul(a: number, b: number, poly: number): number {
  let r = 0;
  while (b !== 0) {
    if (b & 1) r ^= a;
    a <<= 1;
    if (a & 0x100) a ^= poly;
    b >>>= 1;
  }
  return r;
}

// §4.3.5: the 4-bit permutations for q0 and q1, rows t0..t3.
const Q0_T = [
  [0x8, 0x1, 0x7, 0xd, 0x6, 0xf, 0x3, 0x2, 0x0, 0xb, 0x5, 0x9, 0xe, 0xc, 0xa, 0x4],
  [0xe, 0xc, 0xb, 0x8, 0x1, 0x2, 0x3, 0x5, 0xf, 0x4, 0xa, 0x6, 0x7, 0x0, 0x9, 0xd],
  [0xb, 0xa, 0x5, 0xe, 0x6, 0xd, 0x9, 0x0, 0xc, 0x8, 0xf, 0x3, 0x2, 0x4, 0x7, 0x1],
  [0xd, 0x7, 0xf, 0x4, 0x1, 0x2, 0x6, 0xe, 0x9, 0xb, 0x3, 0x0, 0x8, 0x5, 0xc, 0xa],
] as const;
const Q1_T = [
  [0x2, 0x8, 0xb, 0xd, 0xf, 0x7, 0x6, 0xe, 0x3, 0x1, 0x9, 0x4, 0x0, 0xa, 0xc, 0x5],
  [0x1, 0xe, 0x2, 0xb, 0x4, 0xc, 0x3, 0x7, 0x6, 0xd, 0xa, 0x5, 0xf, 0x9, 0x0, 0x8],
  [0x4, 0xc, 0x7, 0x5, 0x1, 0x6, 0x9, 0xa, 0x0, 0xe, 0xd, 0x8, 0x2, 0xb, 0x3, 0xf],
  [0xb, 0x9, 0x5, 0x1, 0xc, 0x3, 0xd, 0xe, 0x6, 0x4, 0x7, 0xf, 0x2, 0x0, 0x8, 0xa],
] as const;

/** §4.3.5: builds the 8-bit permutation q from its 4-bit tables. */
function buildQ(t: typeof Q0_T | typeof Q1_T): Uint8Array {
  const ror4 = (x: number): number => ((x >>> 1) | (x << 3)) & 0xf;
  const q = new Uint8Array(BYTE_VALUES);
  for (let x = 0; x < BYTE_VALUES; x++) {
    const a0 = x >>> 4;
    const b0 = x & 0xf;
    const a1 = a0 ^ b0;
    const b1 = a0 ^ ror4(b0) ^ ((8 * a0) & 0xf);
    const a2 = t[0][a1];
    const b2 = t[1][b1];
    const a3 = a2 ^ b2;
    const b3 = a2 ^ ror4(b2) ^ ((8 * a2) & 0xf);
    const a4 = t[2][a3];
    const b4 = t[3][b3];
    q[x] = (b4 << 4) | a4;
  }
  return q;
}

const Q0 = buildQ(Q0_T);
const Q1 = buildQ(Q1_T);

// §4.2: the MDS matrix, row-major.
const MDS = [
  [0x01, 0xef, 0x5b, 0x5b],
  [0x5b, 0xef, 0xef, 0x01],
  [0xef, 0x5b, 0x01, 0xef],
  [0xef, 0x01, 0xef, 0x5b],
] as const;

// §4.3.3: the RS matrix (4 x 8), row-major.
const RS = [
  [0x01, 0xa4, 0x55, 0x87, 0x5a, 0x58, 0xdb, 0x9e],
  [0xa4, 0x56, 0x82, 0xf3, 0x1e, 0xc6, 0x68, 0xe5],
  [0x02, 0xa1, 0xfc, 0xc1, 0x47, 0xae, 0x3d, 0x19],
  [0xa4, 0x55, 0x87, 0x5a, 0x58, 0xdb, 0x9e, 0x03],
] as const;

// MDS_COL[j][v] = column j of MDS times the byte v, as a little-endian word (z_i in byte i).
const MDS_COL: Uint32Array[] = [0, 1, 2, 3].map((j) => {
  const col = new Uint32Array(BYTE_VALUES);
  for (let v = 0; v < BYTE_VALUES; v++) {
    let w = 0;
    for (let i = 0; i < 4; i++) w |= gfMul(MDS[i][j], v, MDS_POLY) << (8 * i);
    col[v] = w >>> 0;
  }
  return col;
});

/** Byte j (0 = least significant) of the word w. */
function byteOf(w: number, j: number): number {
  return (w >>> (8 * j)) & 0xff;
}

/**
 * §4.3.2 the S-box chain of h for byte lane j: the input byte through the q permutations, XORed
 * with byte j of the list words L[k-1] .. L[0]. Returns the byte y_j that enters the MDS matrix.
 */
function hLane(x: number, j: number, list: ArrayLike<number>, k: number): number {
  let y = x;
  // Which q is used at each stage, per lane (§4.3.2, Figure 2).
  if (k === 4) y = (j === 0 || j === 3 ? Q1 : Q0)[y] ^ byteOf(list[3], j);
  if (k >= 3) y = (j === 0 || j === 1 ? Q1 : Q0)[y] ^ byteOf(list[2], j);
  const first = j === 0 || j === 2 ? Q0 : Q1;
  const second = j === 0 || j === 1 ? Q0 : Q1;
  const last = j === 0 || j === 2 ? Q1 : Q0;
  return last[second[first[y] ^ byteOf(list[1], j)] ^ byteOf(list[0], j)];
}

/** §4.3.2 the function h(X, L) with k list words. */
function h(x: number, list: ArrayLike<number>, k: number): number {
  let z = 0;
  for (let j = 0; j < 4; j++) z ^= MDS_COL[j][hLane(byteOf(x, j), j, list, k)];
  return z >>> 0;
}

function rol(x: number, n: number): number {
  return ((x << n) | (x >>> (32 - n))) >>> 0;
}

function readLe32(b: Uint8Array, p: number): number {
  return b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24);
}

function writeLe32(b: Uint8Array, p: number, v: number): void {
  b[p] = v;
  b[p + 1] = v >>> 8;
  b[p + 2] = v >>> 16;
  b[p + 3] = v >>> 24;
}

/**
 * An expanded Twofish key: the 40 subkey words K0..K39 and the key-dependent g tables.
 * Build it once per key with {@link twofishExpandKey}; it is immutable afterwards.
 */
export class TwofishKey {
  /** K0..K39 (§4.3). */
  readonly subkeys: Int32Array;
  /** g(X) = sbox[b0] ^ sbox[256 + b1] ^ sbox[512 + b2] ^ sbox[768 + b3] (full keying). */
  readonly sbox: Int32Array;

  constructor(subkeys: Int32Array, sbox: Int32Array) {
    this.subkeys = subkeys;
    this.sbox = sbox;
  }
}

/**
 * §4.3 key schedule: expands a 16-, 24- or 32-byte key (key[keyOff, keyOff+keyBytes)).
 * Throws RangeError for any other size.
 */
export function twofishExpandKey(key: Uint8Array, keyOff = 0, keyBytes = key.length - keyOff): TwofishKey {
  if (keyBytes !== 16 && keyBytes !== 24 && keyBytes !== 32) {
    throw new RangeError(`twofish: key must be 16, 24 or 32 bytes, got ${keyBytes}`);
  }
  if (keyOff < 0 || keyOff + keyBytes > key.length) {
    throw new RangeError(`twofish: key range ${keyOff}+${keyBytes} outside ${key.length} bytes`);
  }
  const k = keyBytes / 8;
  // M_i little-endian words; Me = even-indexed, Mo = odd-indexed.
  const me: number[] = [];
  const mo: number[] = [];
  for (let i = 0; i < 2 * k; i++) (i % 2 === 0 ? me : mo).push(readLe32(key, keyOff + 4 * i) >>> 0);
  // S_i = RS * (m_8i .. m_8i+7); the list S = (S_{k-1}, ..., S_0), i.e. list[j] = S_{k-1-j}.
  const s: number[] = new Array(k);
  for (let i = 0; i < k; i++) {
    let w = 0;
    for (let row = 0; row < 4; row++) {
      let acc = 0;
      for (let col = 0; col < 8; col++) acc ^= gfMul(RS[row][col], key[keyOff + 8 * i + col], RS_POLY);
      w |= acc << (8 * row);
    }
    s[k - 1 - i] = w >>> 0;
  }
  const subkeys = new Int32Array(SUBKEY_WORDS);
  for (let i = 0; i < SUBKEY_WORDS / 2; i++) {
    const a = h(Math.imul(2 * i, RHO) >>> 0, me, k);
    const b = rol(h(Math.imul(2 * i + 1, RHO) >>> 0, mo, k), 8);
    subkeys[2 * i] = (a + b) | 0;
    subkeys[2 * i + 1] = rol((a + 2 * b) >>> 0, 9);
  }
  const sbox = new Int32Array(4 * BYTE_VALUES);
  for (let j = 0; j < 4; j++) {
    for (let x = 0; x < BYTE_VALUES; x++) sbox[j * BYTE_VALUES + x] = MDS_COL[j][hLane(x, j, s, k)];
  }
  return new TwofishKey(subkeys, sbox);
}

// Output registers of the word-level block functions (module-level: nothing allocated per block).
let o0 = 0;
let o1 = 0;
let o2 = 0;
let o3 = 0;

/** §4 (Figure 1) and §4.1: encryption of the words (p0..p3); the result lands in o0..o3. */
function encryptWords(key: TwofishKey, p0: number, p1: number, p2: number, p3: number): void {
  const s = key.sbox;
  const k = key.subkeys;
  let a = p0 ^ k[0];
  let b = p1 ^ k[1];
  let c = p2 ^ k[2];
  let d = p3 ^ k[3];
  // Two rounds per iteration so the halves never need swapping.
  for (let r = ROUND_KEY_BASE; r < ROUND_KEY_BASE + 2 * ROUNDS; r += 4) {
    let t0 = s[a & 0xff] ^ s[256 | ((a >>> 8) & 0xff)] ^ s[512 | ((a >>> 16) & 0xff)] ^ s[768 | (a >>> 24)];
    let t1 = s[b >>> 24] ^ s[256 | (b & 0xff)] ^ s[512 | ((b >>> 8) & 0xff)] ^ s[768 | ((b >>> 16) & 0xff)];
    c ^= (t0 + t1 + k[r]) | 0;
    c = (c >>> 1) | (c << 31);
    d = ((d << 1) | (d >>> 31)) ^ ((t0 + 2 * t1 + k[r + 1]) | 0);
    t0 = s[c & 0xff] ^ s[256 | ((c >>> 8) & 0xff)] ^ s[512 | ((c >>> 16) & 0xff)] ^ s[768 | (c >>> 24)];
    t1 = s[d >>> 24] ^ s[256 | (d & 0xff)] ^ s[512 | ((d >>> 8) & 0xff)] ^ s[768 | ((d >>> 16) & 0xff)];
    a ^= (t0 + t1 + k[r + 2]) | 0;
    a = (a >>> 1) | (a << 31);
    b = ((b << 1) | (b >>> 31)) ^ ((t0 + 2 * t1 + k[r + 3]) | 0);
  }
  // Undo the last swap and whiten (§4: C_i = R_16,(i+2) mod 4 xor K_(i+4)).
  o0 = c ^ k[OUTPUT_WHITEN];
  o1 = d ^ k[OUTPUT_WHITEN + 1];
  o2 = a ^ k[OUTPUT_WHITEN + 2];
  o3 = b ^ k[OUTPUT_WHITEN + 3];
}

/** Inverse of encryptWords: decrypts (c0..c3); the result lands in o0..o3. */
function decryptWords(key: TwofishKey, c0: number, c1: number, c2: number, c3: number): void {
  const s = key.sbox;
  const k = key.subkeys;
  let c = c0 ^ k[OUTPUT_WHITEN];
  let d = c1 ^ k[OUTPUT_WHITEN + 1];
  let a = c2 ^ k[OUTPUT_WHITEN + 2];
  let b = c3 ^ k[OUTPUT_WHITEN + 3];
  for (let r = ROUND_KEY_BASE + 2 * ROUNDS - 4; r >= ROUND_KEY_BASE; r -= 4) {
    let t0 = s[c & 0xff] ^ s[256 | ((c >>> 8) & 0xff)] ^ s[512 | ((c >>> 16) & 0xff)] ^ s[768 | (c >>> 24)];
    let t1 = s[d >>> 24] ^ s[256 | (d & 0xff)] ^ s[512 | ((d >>> 8) & 0xff)] ^ s[768 | ((d >>> 16) & 0xff)];
    a = ((a << 1) | (a >>> 31)) ^ ((t0 + t1 + k[r + 2]) | 0);
    b ^= (t0 + 2 * t1 + k[r + 3]) | 0;
    b = (b >>> 1) | (b << 31);
    t0 = s[a & 0xff] ^ s[256 | ((a >>> 8) & 0xff)] ^ s[512 | ((a >>> 16) & 0xff)] ^ s[768 | (a >>> 24)];
    t1 = s[b >>> 24] ^ s[256 | (b & 0xff)] ^ s[512 | ((b >>> 8) & 0xff)] ^ s[768 | ((b >>> 16) & 0xff)];
    c = ((c << 1) | (c >>> 31)) ^ ((t0 + t1 + k[r]) | 0);
    d ^= (t0 + 2 * t1 + k[r + 1]) | 0;
    d = (d >>> 1) | (d << 31);
  }
  o0 = a ^ k[0];
  o1 = b ^ k[1];
  o2 = c ^ k[2];
  o3 = d ^ k[3];
}

/** Encrypts the block src[srcOff, +16) into dst[dstOff, +16) (may be the same bytes). */
export function twofishEncryptBlock(
  key: TwofishKey,
  src: Uint8Array,
  srcOff: number,
  dst: Uint8Array = src,
  dstOff: number = srcOff,
): void {
  checkRange('twofish', src, srcOff, TWOFISH_BLOCK_BYTES, 'input');
  checkRange('twofish', dst, dstOff, TWOFISH_BLOCK_BYTES, 'output');
  encryptWords(
    key,
    readLe32(src, srcOff),
    readLe32(src, srcOff + 4),
    readLe32(src, srcOff + 8),
    readLe32(src, srcOff + 12),
  );
  writeLe32(dst, dstOff, o0);
  writeLe32(dst, dstOff + 4, o1);
  writeLe32(dst, dstOff + 8, o2);
  writeLe32(dst, dstOff + 12, o3);
}

/** Decrypts the block src[srcOff, +16) into dst[dstOff, +16) (may be the same bytes). */
export function twofishDecryptBlock(
  key: TwofishKey,
  src: Uint8Array,
  srcOff: number,
  dst: Uint8Array = src,
  dstOff: number = srcOff,
): void {
  checkRange('twofish', src, srcOff, TWOFISH_BLOCK_BYTES, 'input');
  checkRange('twofish', dst, dstOff, TWOFISH_BLOCK_BYTES, 'output');
  decryptWords(
    key,
    readLe32(src, srcOff),
    readLe32(src, srcOff + 4),
    readLe32(src, srcOff + 8),
    readLe32(src, srcOff + 12),
  );
  writeLe32(dst, dstOff, o0);
  writeLe32(dst, dstOff + 4, o1);
  writeLe32(dst, dstOff + 8, o2);
  writeLe32(dst, dstOff + 12, o3);
}

// Two-entry cache of DataViews over whole ArrayBuffers: the CBC loops read and write 32-bit
// little-endian words through them at any alignment, and nothing is allocated per call once the
// caller's buffers have been seen.
const views: [ArrayBufferLike | null, DataView | null, ArrayBufferLike | null, DataView | null] = [
  null,
  null,
  null,
  null,
];
let viewVictim = 0;

function viewOf(buf: Uint8Array): DataView {
  const ab = buf.buffer;
  if (views[0] === ab) return views[1] as DataView;
  if (views[2] === ab) return views[3] as DataView;
  const v = new DataView(ab);
  views[viewVictim] = ab;
  views[viewVictim + 1] = v;
  viewVictim ^= 2;
  return v;
}

/**
 * CBC-encrypts src[srcOff, +len) (len a multiple of 16) into dst[dstOff, +len) with the 16-byte IV
 * iv[ivOff..] (all-zero when `iv` is omitted, as n2n uses it). dst may be exactly the input range
 * or start before it.
 */
export function twofishCbcEncrypt(
  key: TwofishKey,
  src: Uint8Array,
  srcOff: number,
  len: number,
  dst: Uint8Array,
  dstOff: number,
  iv?: Uint8Array,
  ivOff = 0,
): void {
  checkBlocks('twofish', len, TWOFISH_BLOCK_BYTES);
  checkRange('twofish', src, srcOff, len, 'input');
  checkRange('twofish', dst, dstOff, len, 'output');
  let x0 = 0;
  let x1 = 0;
  let x2 = 0;
  let x3 = 0;
  if (iv !== undefined) {
    checkRange('twofish', iv, ivOff, TWOFISH_BLOCK_BYTES, 'IV');
    x0 = readLe32(iv, ivOff);
    x1 = readLe32(iv, ivOff + 4);
    x2 = readLe32(iv, ivOff + 8);
    x3 = readLe32(iv, ivOff + 12);
  }
  const sv = viewOf(src);
  const dv = viewOf(dst);
  const s = key.sbox;
  const k = key.subkeys;
  const end = src.byteOffset + srcOff + len;
  // The rounds of encryptWords, inlined: this loop is the Twofish data path.
  for (let p = src.byteOffset + srcOff, q = dst.byteOffset + dstOff; p < end; p += 16, q += 16) {
    let a = sv.getInt32(p, true) ^ x0 ^ k[0];
    let b = sv.getInt32(p + 4, true) ^ x1 ^ k[1];
    let c = sv.getInt32(p + 8, true) ^ x2 ^ k[2];
    let d = sv.getInt32(p + 12, true) ^ x3 ^ k[3];
    for (let r = ROUND_KEY_BASE; r < ROUND_KEY_BASE + 2 * ROUNDS; r += 4) {
      let t0 = s[a & 0xff] ^ s[256 | ((a >>> 8) & 0xff)] ^ s[512 | ((a >>> 16) & 0xff)] ^ s[768 | (a >>> 24)];
      let t1 = s[b >>> 24] ^ s[256 | (b & 0xff)] ^ s[512 | ((b >>> 8) & 0xff)] ^ s[768 | ((b >>> 16) & 0xff)];
      c ^= (t0 + t1 + k[r]) | 0;
      c = (c >>> 1) | (c << 31);
      d = ((d << 1) | (d >>> 31)) ^ ((t0 + 2 * t1 + k[r + 1]) | 0);
      t0 = s[c & 0xff] ^ s[256 | ((c >>> 8) & 0xff)] ^ s[512 | ((c >>> 16) & 0xff)] ^ s[768 | (c >>> 24)];
      t1 = s[d >>> 24] ^ s[256 | (d & 0xff)] ^ s[512 | ((d >>> 8) & 0xff)] ^ s[768 | ((d >>> 16) & 0xff)];
      a ^= (t0 + t1 + k[r + 2]) | 0;
      a = (a >>> 1) | (a << 31);
      b = ((b << 1) | (b >>> 31)) ^ ((t0 + 2 * t1 + k[r + 3]) | 0);
    }
    x0 = c ^ k[OUTPUT_WHITEN];
    x1 = d ^ k[OUTPUT_WHITEN + 1];
    x2 = a ^ k[OUTPUT_WHITEN + 2];
    x3 = b ^ k[OUTPUT_WHITEN + 3];
    dv.setInt32(q, x0, true);
    dv.setInt32(q + 4, x1, true);
    dv.setInt32(q + 8, x2, true);
    dv.setInt32(q + 12, x3, true);
  }
}

/**
 * CBC-decrypts src[srcOff, +len) (len a multiple of 16) into dst[dstOff, +len) with the 16-byte IV
 * iv[ivOff..] (all-zero when omitted). dst may be exactly the input range or start before it.
 */
export function twofishCbcDecrypt(
  key: TwofishKey,
  src: Uint8Array,
  srcOff: number,
  len: number,
  dst: Uint8Array,
  dstOff: number,
  iv?: Uint8Array,
  ivOff = 0,
): void {
  checkBlocks('twofish', len, TWOFISH_BLOCK_BYTES);
  checkRange('twofish', src, srcOff, len, 'input');
  checkRange('twofish', dst, dstOff, len, 'output');
  let x0 = 0;
  let x1 = 0;
  let x2 = 0;
  let x3 = 0;
  if (iv !== undefined) {
    checkRange('twofish', iv, ivOff, TWOFISH_BLOCK_BYTES, 'IV');
    x0 = readLe32(iv, ivOff);
    x1 = readLe32(iv, ivOff + 4);
    x2 = readLe32(iv, ivOff + 8);
    x3 = readLe32(iv, ivOff + 12);
  }
  const sv = viewOf(src);
  const dv = viewOf(dst);
  const s = key.sbox;
  const k = key.subkeys;
  const end = src.byteOffset + srcOff + len;
  // The rounds of decryptWords, inlined.
  for (let p = src.byteOffset + srcOff, q = dst.byteOffset + dstOff; p < end; p += 16, q += 16) {
    // The whole ciphertext block is read before writing, so in-place and shifted-down output work.
    const c0 = sv.getInt32(p, true);
    const c1 = sv.getInt32(p + 4, true);
    const c2 = sv.getInt32(p + 8, true);
    const c3 = sv.getInt32(p + 12, true);
    let c = c0 ^ k[OUTPUT_WHITEN];
    let d = c1 ^ k[OUTPUT_WHITEN + 1];
    let a = c2 ^ k[OUTPUT_WHITEN + 2];
    let b = c3 ^ k[OUTPUT_WHITEN + 3];
    for (let r = ROUND_KEY_BASE + 2 * ROUNDS - 4; r >= ROUND_KEY_BASE; r -= 4) {
      let t0 = s[c & 0xff] ^ s[256 | ((c >>> 8) & 0xff)] ^ s[512 | ((c >>> 16) & 0xff)] ^ s[768 | (c >>> 24)];
      let t1 = s[d >>> 24] ^ s[256 | (d & 0xff)] ^ s[512 | ((d >>> 8) & 0xff)] ^ s[768 | ((d >>> 16) & 0xff)];
      a = ((a << 1) | (a >>> 31)) ^ ((t0 + t1 + k[r + 2]) | 0);
      b ^= (t0 + 2 * t1 + k[r + 3]) | 0;
      b = (b >>> 1) | (b << 31);
      t0 = s[a & 0xff] ^ s[256 | ((a >>> 8) & 0xff)] ^ s[512 | ((a >>> 16) & 0xff)] ^ s[768 | (a >>> 24)];
      t1 = s[b >>> 24] ^ s[256 | (b & 0xff)] ^ s[512 | ((b >>> 8) & 0xff)] ^ s[768 | ((b >>> 16) & 0xff)];
      c = ((c << 1) | (c >>> 31)) ^ ((t0 + t1 + k[r]) | 0);
      d ^= (t0 + 2 * t1 + k[r + 1]) | 0;
      d = (d >>> 1) | (d << 31);
    }
    dv.setInt32(q, a ^ k[0] ^ x0, true);
    dv.setInt32(q + 4, b ^ k[1] ^ x1, true);
    dv.setInt32(q + 8, c ^ k[2] ^ x2, true);
    dv.setInt32(q + 12, d ^ k[3] ^ x3, true);
    x0 = c0;
    x1 = c1;
    x2 = c2;
    x3 = c3;
  }
}

/** The q0 / q1 permutations of §4.3.5 (read-only copies, for tests against the published tables). */
export function twofishQ(which: 0 | 1): Uint8Array {
  return (which === 0 ? Q0 : Q1).slice();
}

/**
 * A Twofish key with the same CBC / single-block surface as AesCbc, so the CBC-CTS framing can use
 * either cipher. Pure TS: no state besides the expanded key.
 */
export class TwofishCbc {
  readonly key: TwofishKey;

  /** key[keyOff, keyOff+keyBytes) must be 16, 24 or 32 bytes. */
  constructor(key: Uint8Array, keyOff = 0, keyBytes = key.length - keyOff) {
    this.key = twofishExpandKey(key, keyOff, keyBytes);
  }

  /** CBC-encrypts len bytes (whole blocks); IV all-zero when omitted. dst may equal src or start before it. */
  encryptCbc(
    src: Uint8Array,
    srcOff: number,
    len: number,
    dst: Uint8Array,
    dstOff: number,
    iv?: Uint8Array,
    ivOff = 0,
  ): void {
    twofishCbcEncrypt(this.key, src, srcOff, len, dst, dstOff, iv, ivOff);
  }

  /** CBC-decrypts len bytes (whole blocks); IV all-zero when omitted. dst may equal src or start before it. */
  decryptCbc(
    src: Uint8Array,
    srcOff: number,
    len: number,
    dst: Uint8Array,
    dstOff: number,
    iv?: Uint8Array,
    ivOff = 0,
  ): void {
    twofishCbcDecrypt(this.key, src, srcOff, len, dst, dstOff, iv, ivOff);
  }

  /** Encrypts one block. */
  encryptBlock(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number): void {
    twofishEncryptBlock(this.key, src, srcOff, dst, dstOff);
  }

  /** Decrypts one block. */
  decryptBlock(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number): void {
    twofishDecryptBlock(this.key, src, srcOff, dst, dstOff);
  }
}
