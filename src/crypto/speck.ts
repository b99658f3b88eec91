// Speck128/128 and Speck128/256: key expansion, single-block encrypt/decrypt and n2n's CTR mode.
//
// Spec §5.3, speck.c. A block is y = LE64(B[0..8)), x = LE64(B[8..16)); an encryption round with
// round key k is x = (ROR64(x,8) + y) ^ k; y = ROL64(y,3) ^ x. The key schedule reuses the same
// round with the key word k and the l-words, the round index as the "key". CTR mode encrypts
// (y = n0 + i, x = n1) where n0/n1 are the LE64 halves of the IV; only n0 counts (mod 2^64), there
// is no carry into n1.
//
// 64-bit words are (hi, lo) pairs of 32-bit ints. No BigInt, and nothing is allocated per call.

/** Block size in bytes. */
export const SPECK_BLOCK_BYTES = 16;
/** Key sizes in bytes. */
export const SPECK_KEY128_BYTES = 16;
export const SPECK_KEY256_BYTES = 32;
/** Round counts (speck.c: 32 for 128-bit keys, 34 for 256-bit keys). */
export const SPECK_ROUNDS_128 = 32;
export const SPECK_ROUNDS_256 = 34;

/** Expanded Speck key: `rk[2i]` / `rk[2i+1]` are the high / low 32 bits of round key i. */
export class SpeckKey {
  readonly rounds: number;
  readonly rk: Int32Array;

  constructor(rounds: number, rk: Int32Array) {
    this.rounds = rounds;
    this.rk = rk;
  }
}

// Result registers of the block functions (module-level so nothing is allocated per block).
let outYh = 0;
let outYl = 0;
let outXh = 0;
let outXl = 0;

/** Carry out of the 32-bit sum s = a + b, branch-free (keeps V8 on int32 arithmetic). */
function carry(a: number, b: number, s: number): number {
  return ((a & b) | ((a | b) & ~s)) >>> 31;
}

/** Borrow out of the 32-bit difference d = a - b, branch-free. */
function borrow(a: number, b: number, d: number): number {
  return ((~a & b) | (~(a ^ b) & d)) >>> 31;
}

/** Encrypts (y, x) with the first `rounds` round keys; the result lands in outY*, outX*. */
function encryptWords(rk: Int32Array, rounds: number, yh: number, yl: number, xh: number, xl: number): void {
  for (let i = 0; i < 2 * rounds; i += 2) {
    // x = ROR64(x, 8)
    const rh = (xh >>> 8) | (xl << 24);
    const rl = (xl >>> 8) | (xh << 24);
    // x = (x + y) ^ k
    const sl = (rl + yl) | 0;
    xh = ((rh + yh + carry(rl, yl, sl)) | 0) ^ rk[i];
    xl = sl ^ rk[i + 1];
    // y = ROL64(y, 3) ^ x
    const th = (yh << 3) | (yl >>> 29);
    yl = ((yl << 3) | (yh >>> 29)) ^ xl;
    yh = th ^ xh;
  }
  outYh = yh;
  outYl = yl;
  outXh = xh;
  outXl = xl;
}

/** Inverse of encryptWords. */
function decryptWords(rk: Int32Array, rounds: number, yh: number, yl: number, xh: number, xl: number): void {
  for (let i = 2 * rounds - 2; i >= 0; i -= 2) {
    // y = ROR64(y ^ x, 3)
    const uh = yh ^ xh;
    const ul = yl ^ xl;
    yh = (uh >>> 3) | (ul << 29);
    yl = (ul >>> 3) | (uh << 29);
    // x = ROL64((x ^ k) - y, 8)
    const kh = xh ^ rk[i];
    const kl = xl ^ rk[i + 1];
    const dl = (kl - yl) | 0;
    const dh = (kh - yh - borrow(kl, yl, dl)) | 0;
    xh = (dh << 8) | (dl >>> 24);
    xl = (dl << 8) | (dh >>> 24);
  }
  outYh = yh;
  outYl = yl;
  outXh = xh;
  outXl = xl;
}

function readLo(b: Uint8Array, p: number): number {
  return b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24);
}

function writeLe32(b: Uint8Array, p: number, v: number): void {
  b[p] = v;
  b[p + 1] = v >>> 8;
  b[p + 2] = v >>> 16;
  b[p + 3] = v >>> 24;
}

/**
 * Expands a 16- or 32-byte key (key[keyOff, keyOff+keyBytes)) into round keys. Do this once per
 * key, not per packet.
 */
export function speckExpandKey(key: Uint8Array, keyOff = 0, keyBytes = key.length - keyOff): SpeckKey {
  if (keyBytes !== SPECK_KEY128_BYTES && keyBytes !== SPECK_KEY256_BYTES) {
    throw new RangeError(`speck: key must be 16 or 32 bytes, got ${keyBytes}`);
  }
  if (keyOff < 0 || keyOff + keyBytes > key.length) {
    throw new RangeError(`speck: key range ${keyOff}+${keyBytes} outside ${key.length} bytes`);
  }
  const words = keyBytes / 8;
  const rounds = words === 2 ? SPECK_ROUNDS_128 : SPECK_ROUNDS_256;
  // k = key word 0; l = the other words, used round robin (l_{i+m-1} is derived from l_i).
  let kh = readLo(key, keyOff + 4);
  let kl = readLo(key, keyOff);
  const lh = new Int32Array(words - 1);
  const ll = new Int32Array(words - 1);
  for (let j = 1; j < words; j++) {
    lh[j - 1] = readLo(key, keyOff + 8 * j + 4);
    ll[j - 1] = readLo(key, keyOff + 8 * j);
  }
  const rk = new Int32Array(2 * rounds);
  for (let i = 0; i < rounds; i++) {
    rk[2 * i] = kh;
    rk[2 * i + 1] = kl;
    if (i === rounds - 1) break;
    // One Speck round on (x = l_j, y = k) with the round index as key (speck.c: speck_expand_key).
    const j = i % (words - 1);
    let xh = lh[j];
    let xl = ll[j];
    const rh = (xh >>> 8) | (xl << 24);
    const rl = (xl >>> 8) | (xh << 24);
    const sl = (rl + kl) | 0;
    xh = (rh + kh + carry(rl, kl, sl)) | 0;
    xl = sl ^ i;
    lh[j] = xh;
    ll[j] = xl;
    const th = (kh << 3) | (kl >>> 29);
    kl = ((kl << 3) | (kh >>> 29)) ^ xl;
    kh = th ^ xh;
  }
  return new SpeckKey(rounds, rk);
}

function checkBlock(buf: Uint8Array, off: number, what: string): void {
  if (!(off >= 0 && off + SPECK_BLOCK_BYTES <= buf.length)) {
    throw new RangeError(`speck: ${what} block at ${off} outside ${buf.length} bytes`);
  }
}

/** Encrypts the 16-byte block buf[off, off+16) in place. */
export function speckEncryptBlock(key: SpeckKey, buf: Uint8Array, off = 0): void {
  checkBlock(buf, off, 'encrypt');
  encryptWords(
    key.rk,
    key.rounds,
    readLo(buf, off + 4),
    readLo(buf, off),
    readLo(buf, off + 12),
    readLo(buf, off + 8),
  );
  writeLe32(buf, off, outYl);
  writeLe32(buf, off + 4, outYh);
  writeLe32(buf, off + 8, outXl);
  writeLe32(buf, off + 12, outXh);
}

/** Decrypts the 16-byte block buf[off, off+16) in place. */
export function speckDecryptBlock(key: SpeckKey, buf: Uint8Array, off = 0): void {
  checkBlock(buf, off, 'decrypt');
  decryptWords(
    key.rk,
    key.rounds,
    readLo(buf, off + 4),
    readLo(buf, off),
    readLo(buf, off + 12),
    readLo(buf, off + 8),
  );
  writeLe32(buf, off, outYl);
  writeLe32(buf, off + 4, outYh);
  writeLe32(buf, off + 8, outXl);
  writeLe32(buf, off + 12, outXh);
}

/**
 * n2n's Speck CTR (speck.c: speck_ctr): XORs data[off, off+len) with the keystream for the 16-byte
 * IV iv[ivOff..] and writes the result to out[outOff..]. Encryption and decryption are the same
 * operation. `out` may be exactly the input range (in place); other overlaps are not supported.
 * Returns `out`.
 */
export function speckCtr(
  key: SpeckKey,
  iv: Uint8Array,
  ivOff: number,
  data: Uint8Array,
  off: number,
  len: number,
  out: Uint8Array = data,
  outOff: number = off,
): Uint8Array {
  if (!(ivOff >= 0 && ivOff + SPECK_BLOCK_BYTES <= iv.length)) {
    throw new RangeError(`speck: IV at ${ivOff} outside ${iv.length} bytes`);
  }
  if (!(off >= 0 && len >= 0 && off + len <= data.length && outOff >= 0 && outOff + len <= out.length)) {
    throw new RangeError(`speck: CTR range ${off}+${len} -> ${outOff} outside the buffers`);
  }
  const rk = key.rk;
  const rounds = key.rounds;
  // n0 (the counter) and n1 (fixed) as LE64 halves of the IV.
  let ch = readLo(iv, ivOff + 4);
  let cl = readLo(iv, ivOff);
  const nh = readLo(iv, ivOff + 12);
  const nl = readLo(iv, ivOff + 8);
  let p = off;
  let o = outOff;
  const fullEnd = off + (len - (len % SPECK_BLOCK_BYTES));
  for (; p < fullEnd; p += SPECK_BLOCK_BYTES, o += SPECK_BLOCK_BYTES) {
    encryptWords(rk, rounds, ch, cl, nh, nl);
    // Counter += 1 within the low 64-bit word only.
    cl = (cl + 1) | 0;
    if (cl === 0) ch = (ch + 1) | 0;
    const w0 = readLo(data, p) ^ outYl;
    const w1 = readLo(data, p + 4) ^ outYh;
    const w2 = readLo(data, p + 8) ^ outXl;
    const w3 = readLo(data, p + 12) ^ outXh;
    writeLe32(out, o, w0);
    writeLe32(out, o + 4, w1);
    writeLe32(out, o + 8, w2);
    writeLe32(out, o + 12, w3);
  }
  const tail = off + len - p;
  if (tail > 0) {
    encryptWords(rk, rounds, ch, cl, nh, nl);
    // Keystream bytes in output order: LE64(y) || LE64(x), truncated to the tail.
    for (let i = 0; i < tail; i++) {
      const w = i < 4 ? outYl : i < 8 ? outYh : i < 12 ? outXl : outXh;
      out[o + i] = data[p + i] ^ (w >>> (8 * (i & 3)));
    }
  }
  return out;
}
