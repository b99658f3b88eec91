// PACKET payload transforms of spec §5.5-§5.8 (null, Twofish-CTS, AES-CTS, ChaCha20, Speck-CTR) behind one interface.
//
// Framing (transform_*.c):
// * Twofish / AES: A = R || M with R = 16 random bytes, zero-padded to whole blocks, CBC with an
//   all-zero IV; when |A| is not a multiple of 16 the last two ciphertext blocks are swapped and
//   the output is cut to |A| (ciphertext stealing). Output length = 16 + |M|.
// * ChaCha20 / Speck-CTR: IV (16 bytes) || keystream xor M. Output length = 16 + |M|.
// * null: the bytes themselves.
// Buffers: every transform writes into caller-owned memory at an offset and allocates nothing per
// packet (node:crypto's output buffers excepted). Source and destination may overlap in any way,
// in particular in place with headroom (encrypt to dstOff = srcOff - overhead, decrypt to
// dstOff = srcOff + overhead or to srcOff itself).
// Errors: encrypt and decrypt return -1 instead of throwing (bad range, no room, too long, too
// short): the packet path drops and counts.
// Cipher cores: pure TS / node:crypto by default; a CipherBackend (crypto/backend.ts, e.g. the
// native addon's, passed by the edge) replaces the core of each cipher it offers, the framing stays here.
import { AesCbc } from '../crypto/aes.js';
import type { CbcCore, CipherBackend, StreamCore } from '../crypto/backend.js';
import { CHACHA20_BLOCK_BYTES, ChaCha20, ChaCha20Sender } from '../crypto/chacha20.js';
import { type SpeckKey, speckCtr, speckExpandKey } from '../crypto/speck.js';
import { TwofishCbc, twofishExpandKey } from '../crypto/twofish.js';
import { ConfigError } from '../util/errors.js';
import type { Random } from '../util/random.js';
import { TransformId } from '../wire/types.js';
import { deriveAesKey, deriveKeyMaterial } from './keys.js';

/** Bytes every cipher transform adds: the random first block or the IV (spec §5.1 table). */
export const PREAMBLE_BYTES = 16;
/** n2n_define.h: N2N_PKT_BUF_SIZE; cipher transforms refuse longer plaintexts (transform_*.c). */
export const MAX_TRANSFORM_PLAINTEXT_BYTES = 2048;

const BLOCK_BYTES = 16;
// ChaCha20's 32-bit block counter space, and how often a wrapping random IV is drawn again.
const CHACHA20_COUNTER_SPACE = 0x100000000;
const IV_REDRAWS = 8;
const SCRATCH_BYTES = MAX_TRANSFORM_PLAINTEXT_BYTES + 2 * BLOCK_BYTES;

/** One configured payload transform (one per edge: one key, spec §5.1). */
export interface PayloadTransform {
  readonly id: TransformId;
  /** Bytes added by encrypt (0 or 16). */
  readonly overhead: number;
  /**
   * Encrypts src[srcOff, srcOff+len) into dst at dstOff; returns bytes written (len + overhead), or
   * -1 (range outside a buffer, no room in dst, len over 2048 for ciphers). dst may be src with
   * dstOff = srcOff - overhead (in place with headroom); any other overlap works as well.
   */
  encrypt(src: Uint8Array, srcOff: number, len: number, dst: Uint8Array, dstOff: number): number;
  /**
   * Decrypts; returns the plaintext length written at dst[dstOff], or -1 if the input is invalid
   * (too short, too long, bad CTS padding, no room). Never throws on bad input. Any overlap of src
   * and dst works.
   */
  decrypt(src: Uint8Array, srcOff: number, len: number, dst: Uint8Array, dstOff: number): number;
}

/** Options for {@link createTransform}. */
export interface TransformOptions {
  /**
   * How the ChaCha20 sender picks IVs. 'counter' (default): one long-lived cipher context per random
   * 96-bit nonce, IV = (block counter, nonce), unique and never reusing keystream; about 2.5x faster
   * than 'random'. 'random': 16 random bytes per packet as the C edge does (needed to reproduce
   * upstream's test output). Receivers accept both. With a backend that has ChaCha20, IVs are random
   * (as C): a native call costs the same for any IV, so the counter scheme has nothing to gain.
   */
  chacha20Iv?: 'counter' | 'random';
  /**
   * Faster cipher cores (the edge passes the native addon's when it is built). Each cipher the
   * backend lacks uses the pure-TS / node:crypto core; results are byte-identical either way.
   */
  backend?: CipherBackend;
}

function inRange(buf: Uint8Array, off: number, len: number): boolean {
  return Number.isInteger(off) && Number.isInteger(len) && off >= 0 && len >= 0 && off + len <= buf.length;
}

/** True if the two ranges share memory but do not start at the same byte. */
function overlapsShifted(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number, len: number): boolean {
  if (a.buffer !== b.buffer) return false;
  const as = a.byteOffset + aOff;
  const bs = b.byteOffset + bOff;
  return as !== bs && as < bs + len && bs < as + len;
}

class NullTransform implements PayloadTransform {
  readonly id = TransformId.NULL;
  readonly overhead = 0;

  encrypt(src: Uint8Array, srcOff: number, len: number, dst: Uint8Array, dstOff: number): number {
    return this.copy(src, srcOff, len, dst, dstOff);
  }

  decrypt(src: Uint8Array, srcOff: number, len: number, dst: Uint8Array, dstOff: number): number {
    return this.copy(src, srcOff, len, dst, dstOff);
  }

  private copy(src: Uint8Array, srcOff: number, len: number, dst: Uint8Array, dstOff: number): number {
    if (!inRange(src, srcOff, len) || !inRange(dst, dstOff, len)) return -1;
    // TypedArray.set copies through a temporary when both views share a buffer, so overlap is safe.
    if (src !== dst || srcOff !== dstOff) dst.set(src.subarray(srcOff, srcOff + len), dstOff);
    return len;
  }
}

/** transform_aes.c / transform_tf.c: random block || M, CBC with zero IV, swap of the last two blocks. */
class CbcCtsTransform implements PayloadTransform {
  readonly id: TransformId;
  readonly overhead = PREAMBLE_BYTES;
  private readonly cipher: CbcCore;
  private readonly random: Random;
  private readonly scratch = new Uint8Array(SCRATCH_BYTES);

  /** `cipher`: AesCbc, TwofishCbc or a backend's core (all calls are in place or into scratch). */
  constructor(id: TransformId, cipher: CbcCore, random: Random) {
    this.id = id;
    this.cipher = cipher;
    this.random = random;
  }

  encrypt(src: Uint8Array, srcOff: number, len: number, dst: Uint8Array, dstOff: number): number {
    const total = PREAMBLE_BYTES + len;
    if (!inRange(src, srcOff, len) || !inRange(dst, dstOff, total) || len > MAX_TRANSFORM_PLAINTEXT_BYTES) {
      return -1;
    }
    const padded = Math.ceil(total / BLOCK_BYTES) * BLOCK_BYTES;
    const s = this.scratch;
    // Assembled in scratch first, so dst may overlap src in any way.
    this.random.fill(s, 0, PREAMBLE_BYTES);
    s.set(src.subarray(srcOff, srcOff + len), PREAMBLE_BYTES);
    s.fill(0, total, padded);
    this.cipher.encryptCbc(s, 0, padded, s, 0);
    const rest = total % BLOCK_BYTES;
    if (rest === 0) {
      dst.set(s.subarray(0, total), dstOff);
    } else {
      // Ciphertext stealing: ... C(m-2), C(m), first `rest` bytes of C(m-1).
      const last = padded - BLOCK_BYTES;
      const penultimate = last - BLOCK_BYTES;
      dst.set(s.subarray(0, penultimate), dstOff);
      dst.set(s.subarray(last, padded), dstOff + penultimate);
      dst.set(s.subarray(penultimate, penultimate + rest), dstOff + last);
    }
    return total;
  }

  decrypt(src: Uint8Array, srcOff: number, len: number, dst: Uint8Array, dstOff: number): number {
    const plain = len - PREAMBLE_BYTES;
    if (
      !inRange(src, srcOff, len) ||
      plain < 0 ||
      plain > MAX_TRANSFORM_PLAINTEXT_BYTES ||
      !inRange(dst, dstOff, plain)
    ) {
      return -1;
    }
    const s = this.scratch;
    const rest = len % BLOCK_BYTES;
    if (rest === 0) {
      this.cipher.decryptCbc(src, srcOff, len, s, 0);
    } else {
      // Rebuild the CBC ciphertext: Z[0..p) || T || Z[p..p+16) where T = D(Z[p..p+16)) with its
      // first `rest` bytes replaced by the stolen tail (spec §5.5 decryption step 2).
      const p = (Math.floor(len / BLOCK_BYTES) - 1) * BLOCK_BYTES;
      s.set(src.subarray(srcOff, srcOff + p));
      this.cipher.decryptBlock(src, srcOff + p, s, p);
      s.set(src.subarray(srcOff + len - rest, srcOff + len), p);
      s.set(src.subarray(srcOff + p, srcOff + p + BLOCK_BYTES), p + BLOCK_BYTES);
      const rebuilt = p + 2 * BLOCK_BYTES;
      this.cipher.decryptCbc(s, 0, rebuilt, s, 0);
      // transform_aes.c checks that the stolen bytes decrypt to the zero padding.
      for (let i = len; i < rebuilt; i++) if (s[i] !== 0) return -1;
    }
    dst.set(s.subarray(PREAMBLE_BYTES, len), dstOff);
    return plain;
  }
}

/** transform_cc20.c: IV || ChaCha20(key, IV, M). */
class ChaCha20Transform implements PayloadTransform {
  readonly id = TransformId.CHACHA20;
  readonly overhead = PREAMBLE_BYTES;
  private readonly cipher: ChaCha20 | StreamCore;
  private readonly sender: ChaCha20Sender | null;
  private readonly random: Random;
  private readonly iv = new Uint8Array(PREAMBLE_BYTES);
  /** Only with a backend core (its contract: dst exactly src or disjoint). */
  private readonly scratch: Uint8Array | null;

  /** `core`: a backend's ChaCha20, or undefined for node:crypto contexts (ChaCha20 / ChaCha20Sender). */
  constructor(key: Uint8Array, random: Random, ivMode: 'counter' | 'random', core: StreamCore | undefined) {
    this.cipher = core ?? new ChaCha20(key);
    this.sender = core === undefined && ivMode === 'counter' ? new ChaCha20Sender(key, random) : null;
    this.scratch = core === undefined ? null : new Uint8Array(SCRATCH_BYTES);
    this.random = random;
  }

  encrypt(src: Uint8Array, srcOff: number, len: number, dst: Uint8Array, dstOff: number): number {
    const total = PREAMBLE_BYTES + len;
    if (!inRange(src, srcOff, len) || !inRange(dst, dstOff, total) || len > MAX_TRANSFORM_PLAINTEXT_BYTES) {
      return -1;
    }
    if (this.sender !== null) {
      // The sender reads src completely before writing the ciphertext and then the IV.
      this.sender.encrypt(src, srcOff, len, dst, dstOff + PREAMBLE_BYTES, dst, dstOff);
    } else {
      // Spec §5.6: an IV whose 32-bit counter would wrap inside this packet is decrypted differently
      // by OpenSSL builds (carry) and default builds (no carry); draw again (bounded, so a broken
      // generator cannot loop forever; the no-carry result is what default C builds expect).
      const blocks = Math.ceil(len / CHACHA20_BLOCK_BYTES);
      for (let attempt = 0; attempt < IV_REDRAWS; attempt++) {
        this.random.fill(this.iv, 0, PREAMBLE_BYTES);
        const iv = this.iv;
        const counter = (iv[0] | (iv[1] << 8) | (iv[2] << 16)) + iv[3] * 2 ** 24;
        if (counter + blocks <= CHACHA20_COUNTER_SPACE) break;
      }
      this.crypt(src, srcOff, len, dst, dstOff + PREAMBLE_BYTES);
      // Written last: the IV's place may overlap the plaintext, which has been consumed by now.
      dst.set(this.iv, dstOff);
    }
    return total;
  }

  decrypt(src: Uint8Array, srcOff: number, len: number, dst: Uint8Array, dstOff: number): number {
    const plain = takeStreamIv(src, srcOff, len, dst, dstOff, this.iv);
    if (plain >= 0) this.crypt(src, srcOff + PREAMBLE_BYTES, plain, dst, dstOff);
    return plain;
  }

  /** XOR with this.iv. ChaCha20 takes any overlap; a backend core gets shifted overlaps through scratch. */
  private crypt(src: Uint8Array, srcOff: number, len: number, dst: Uint8Array, dstOff: number): void {
    const s = this.scratch;
    if (s !== null && overlapsShifted(src, srcOff, dst, dstOff, len)) {
      s.set(src.subarray(srcOff, srcOff + len));
      this.cipher.xor(this.iv, 0, s, 0, len, dst, dstOff);
    } else {
      this.cipher.xor(this.iv, 0, src, srcOff, len, dst, dstOff);
    }
  }
}

/**
 * Checks an IV || stream-ciphertext payload (ChaCha20, Speck) and copies its IV into `iv` first, since the
 * output may overwrite the IV's place. Returns the plaintext length, or -1 when the payload or output is invalid.
 */
function takeStreamIv(
  src: Uint8Array,
  srcOff: number,
  len: number,
  dst: Uint8Array,
  dstOff: number,
  iv: Uint8Array,
): number {
  const plain = len - PREAMBLE_BYTES;
  if (
    !inRange(src, srcOff, len) ||
    plain < 0 ||
    plain > MAX_TRANSFORM_PLAINTEXT_BYTES ||
    !inRange(dst, dstOff, plain)
  ) {
    return -1;
  }
  iv.set(src.subarray(srcOff, srcOff + PREAMBLE_BYTES));
  return plain;
}

/** transform_speck.c: IV || Speck128/256-CTR(key, IV, M). */
class SpeckTransform implements PayloadTransform {
  readonly id = TransformId.SPECK;
  readonly overhead = PREAMBLE_BYTES;
  private readonly key: SpeckKey;
  /** A backend's Speck-CTR, used instead of speckCtr when given. */
  private readonly core: StreamCore | undefined;
  private readonly random: Random;
  private readonly iv = new Uint8Array(PREAMBLE_BYTES);
  private readonly scratch = new Uint8Array(SCRATCH_BYTES);

  constructor(key: Uint8Array, random: Random, core: StreamCore | undefined) {
    this.key = speckExpandKey(key);
    this.core = core;
    this.random = random;
  }

  encrypt(src: Uint8Array, srcOff: number, len: number, dst: Uint8Array, dstOff: number): number {
    const total = PREAMBLE_BYTES + len;
    if (!inRange(src, srcOff, len) || !inRange(dst, dstOff, total) || len > MAX_TRANSFORM_PLAINTEXT_BYTES) {
      return -1;
    }
    const iv = this.iv;
    this.random.fill(iv, 0, PREAMBLE_BYTES);
    this.crypt(src, srcOff, len, dst, dstOff + PREAMBLE_BYTES);
    // Written last: the IV's place may overlap the plaintext, which has been consumed by now.
    dst.set(iv, dstOff);
    return total;
  }

  decrypt(src: Uint8Array, srcOff: number, len: number, dst: Uint8Array, dstOff: number): number {
    const plain = takeStreamIv(src, srcOff, len, dst, dstOff, this.iv);
    if (plain >= 0) this.crypt(src, srcOff + PREAMBLE_BYTES, plain, dst, dstOff);
    return plain;
  }

  /** CTR with this.iv; both cores handle exact in-place, shifted overlaps go through scratch. */
  private crypt(src: Uint8Array, srcOff: number, len: number, dst: Uint8Array, dstOff: number): void {
    let s = src;
    let sOff = srcOff;
    if (overlapsShifted(src, srcOff, dst, dstOff, len)) {
      s = this.scratch;
      sOff = 0;
      s.set(src.subarray(srcOff, srcOff + len));
    }
    if (this.core === undefined) speckCtr(this.key, this.iv, 0, s, sOff, len, dst, dstOff);
    else this.core.xor(this.iv, 0, s, sOff, len, dst, dstOff);
  }
}

/**
 * Builds the transform `id` for the -k key (a string, or its bytes). The null transform ignores
 * the key; every cipher requires one. `random` supplies preambles and IVs (inject a seeded one for
 * reproducible output). `options.backend` supplies faster cipher cores. Throws ConfigError for an
 * unsupported id or a missing key.
 */
export function createTransform(
  id: TransformId,
  key: string | Uint8Array | undefined,
  random: Random,
  options: TransformOptions = {},
): PayloadTransform {
  if (id === TransformId.NULL) return new NullTransform();
  if (
    id !== TransformId.TWOFISH &&
    id !== TransformId.AES &&
    id !== TransformId.CHACHA20 &&
    id !== TransformId.SPECK
  ) {
    throw new ConfigError(`unsupported transform id ${id} (use 1..5)`);
  }
  if (key === undefined || key.length === 0) {
    throw new ConfigError(`transform ${transformName(id)} needs a key (-k)`);
  }
  const b = options.backend;
  switch (id) {
    case TransformId.TWOFISH: {
      const material = deriveKeyMaterial(key);
      const core = b?.twofishCbc?.(twofishExpandKey(material)) ?? new TwofishCbc(material);
      return new CbcCtsTransform(id, core, random);
    }
    case TransformId.AES: {
      const aesKey = deriveAesKey(key);
      return new CbcCtsTransform(id, b?.aesCbc?.(aesKey) ?? new AesCbc(aesKey), random);
    }
    case TransformId.CHACHA20: {
      const material = deriveKeyMaterial(key);
      const core = b?.chacha20?.(material);
      return new ChaCha20Transform(material, random, options.chacha20Iv ?? 'counter', core);
    }
    default: {
      const material = deriveKeyMaterial(key);
      return new SpeckTransform(material, random, b?.speckCtr?.(material));
    }
  }
}

/** Name of a transform id as n2n prints it (edge_utils.c: transop_str). */
export function transformName(id: number): string {
  switch (id) {
    case TransformId.NULL:
      return 'null';
    case TransformId.TWOFISH:
      return 'Twofish';
    case TransformId.AES:
      return 'AES';
    case TransformId.CHACHA20:
      return 'ChaCha20';
    case TransformId.SPECK:
      return 'Speck';
    default:
      return 'invalid';
  }
}
