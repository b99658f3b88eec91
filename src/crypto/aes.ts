// AES-128/192/256 (node:crypto) as exact CBC and single-block operations over long-lived cipher contexts.
//
// Creating a node:crypto cipher costs several microseconds, more than encrypting a whole 1400-byte
// frame, so this class keeps one CBC encryptor, one CBC decryptor and two ECB contexts for the life
// of the key (padding off, final() never called). A long-lived CBC context chains from the last
// ciphertext block it processed, not from the IV the caller wants. We track that block and correct
// for it, which gives byte-exact CBC with any IV on every call:
// * encrypt: the context computes C1 = E(X1 xor S) for its state S, so we feed X1 = P1 xor IV xor S
//   and get E(P1 xor IV), the standard first block; later blocks chain normally.
// * decrypt: the context yields D(C1) xor S for the first block; xoring S and the IV back gives
//   D(C1) xor IV, the standard first block; later blocks chain normally.
// The state is simply the last 16 ciphertext bytes of the previous call on that context.

import { createCipheriv, createDecipheriv } from 'node:crypto';
import { checkBlocks, checkRange } from './checks.js';

/** Block size in bytes. */
export const AES_BLOCK_BYTES = 16;
/** Accepted key sizes in bytes (FIPS-197). */
export const AES_KEY_BYTES = [16, 24, 32] as const;

// Initial scratch size: n2n payloads are at most N2N_PKT_BUF_SIZE (2048) plus one block.
const INITIAL_SCRATCH_BYTES = 2048 + 2 * AES_BLOCK_BYTES;
const ZERO_IV = new Uint8Array(AES_BLOCK_BYTES);

type CipherContext = ReturnType<typeof createCipheriv>;
type DecipherContext = ReturnType<typeof createDecipheriv>;

/** Copies one output Buffer of node:crypto into dst, checking the length contract once. */
function place(out: Uint8Array, expected: number, dst: Uint8Array, dstOff: number): void {
  if (out.length !== expected) {
    // With padding off and whole blocks, OpenSSL returns every byte at once; anything else is a bug.
    throw new Error(`aes: cipher returned ${out.length} bytes for ${expected}`);
  }
  dst.set(out, dstOff);
}

/**
 * An AES key with reusable contexts. Not safe to share between concurrent users that interleave
 * calls (there are none: the packet path is single-threaded and each call completes synchronously).
 */
export class AesCbc {
  /** 16, 24 or 32. */
  readonly keyBytes: number;
  private readonly cbcEnc: CipherContext;
  private readonly cbcDec: DecipherContext;
  private readonly ecbEnc: CipherContext;
  private readonly ecbDec: DecipherContext;
  /** Last ciphertext block the CBC encryptor / decryptor processed (their chaining value). */
  private readonly encState = new Uint8Array(AES_BLOCK_BYTES);
  private readonly decState = new Uint8Array(AES_BLOCK_BYTES);
  private readonly nextState = new Uint8Array(AES_BLOCK_BYTES);
  private scratch = new Uint8Array(INITIAL_SCRATCH_BYTES);

  /** key[keyOff, keyOff+keyBytes) must be 16, 24 or 32 bytes. */
  constructor(key: Uint8Array, keyOff = 0, keyBytes = key.length - keyOff) {
    if (keyBytes !== 16 && keyBytes !== 24 && keyBytes !== 32) {
      throw new RangeError(`aes: key must be 16, 24 or 32 bytes, got ${keyBytes}`);
    }
    checkRange('aes', key, keyOff, keyBytes, 'key');
    this.keyBytes = keyBytes;
    const k = key.subarray(keyOff, keyOff + keyBytes);
    const bits = keyBytes * 8;
    this.cbcEnc = createCipheriv(`aes-${bits}-cbc`, k, ZERO_IV).setAutoPadding(false);
    this.cbcDec = createDecipheriv(`aes-${bits}-cbc`, k, ZERO_IV).setAutoPadding(false);
    this.ecbEnc = createCipheriv(`aes-${bits}-ecb`, k, null).setAutoPadding(false);
    this.ecbDec = createDecipheriv(`aes-${bits}-ecb`, k, null).setAutoPadding(false);
  }

  private scratchFor(len: number): Uint8Array {
    if (this.scratch.length < len) this.scratch = new Uint8Array(len);
    return this.scratch;
  }

  /**
   * CBC-encrypts src[srcOff, +len) (len a multiple of 16) into dst[dstOff, +len) with the IV
   * iv[ivOff, +16) (all-zero when omitted). Any overlap of src and dst is allowed; the IV must not
   * lie inside src.
   */
  encryptCbc(
    src: Uint8Array,
    srcOff: number,
    len: number,
    dst: Uint8Array,
    dstOff: number,
    iv?: Uint8Array,
    ivOff = 0,
  ): void {
    checkBlocks('aes', len, AES_BLOCK_BYTES);
    checkRange('aes', src, srcOff, len, 'input');
    checkRange('aes', dst, dstOff, len, 'output');
    if (len === 0) return;
    // In place the caller gives up the plaintext anyway, so the first block is corrected right
    // there; otherwise through scratch, leaving src untouched.
    let s = src;
    let sOff = srcOff;
    if (src !== dst || srcOff !== dstOff) {
      s = this.scratchFor(len);
      sOff = 0;
      s.set(src.subarray(srcOff, srcOff + len));
    }
    const st = this.encState;
    if (iv === undefined) {
      for (let i = 0; i < AES_BLOCK_BYTES; i++) s[sOff + i] ^= st[i];
    } else {
      checkRange('aes', iv, ivOff, AES_BLOCK_BYTES, 'IV');
      for (let i = 0; i < AES_BLOCK_BYTES; i++) s[sOff + i] ^= st[i] ^ iv[ivOff + i];
    }
    const out = this.cbcEnc.update(s.subarray(sOff, sOff + len));
    place(out, len, dst, dstOff);
    st.set(out.subarray(len - AES_BLOCK_BYTES, len));
  }

  /**
   * CBC-decrypts src[srcOff, +len) (len a multiple of 16) into dst[dstOff, +len) with the IV
   * iv[ivOff, +16) (all-zero when omitted). Any overlap of src and dst is allowed.
   */
  decryptCbc(
    src: Uint8Array,
    srcOff: number,
    len: number,
    dst: Uint8Array,
    dstOff: number,
    iv?: Uint8Array,
    ivOff = 0,
  ): void {
    checkBlocks('aes', len, AES_BLOCK_BYTES);
    checkRange('aes', src, srcOff, len, 'input');
    checkRange('aes', dst, dstOff, len, 'output');
    if (len === 0) return;
    if (iv !== undefined) checkRange('aes', iv, ivOff, AES_BLOCK_BYTES, 'IV');
    // The chaining value for the next call; saved before dst (which may alias src) is written.
    this.nextState.set(src.subarray(srcOff + len - AES_BLOCK_BYTES, srcOff + len));
    const out = this.cbcDec.update(src.subarray(srcOff, srcOff + len));
    place(out, len, dst, dstOff);
    const st = this.decState;
    if (iv === undefined) {
      for (let i = 0; i < AES_BLOCK_BYTES; i++) dst[dstOff + i] ^= st[i];
    } else {
      for (let i = 0; i < AES_BLOCK_BYTES; i++) dst[dstOff + i] ^= st[i] ^ iv[ivOff + i];
    }
    st.set(this.nextState);
  }

  /** Encrypts one block src[srcOff, +16) into dst[dstOff, +16) (AES-ECB). */
  encryptBlock(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number): void {
    checkRange('aes', src, srcOff, AES_BLOCK_BYTES, 'input');
    checkRange('aes', dst, dstOff, AES_BLOCK_BYTES, 'output');
    place(this.ecbEnc.update(src.subarray(srcOff, srcOff + AES_BLOCK_BYTES)), AES_BLOCK_BYTES, dst, dstOff);
  }

  /** Decrypts one block src[srcOff, +16) into dst[dstOff, +16) (AES-ECB). */
  decryptBlock(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number): void {
    checkRange('aes', src, srcOff, AES_BLOCK_BYTES, 'input');
    checkRange('aes', dst, dstOff, AES_BLOCK_BYTES, 'output');
    place(this.ecbDec.update(src.subarray(srcOff, srcOff + AES_BLOCK_BYTES)), AES_BLOCK_BYTES, dst, dstOff);
  }
}
