// The addon's cipher cores as a CipherBackend (crypto/backend.ts, matched structurally: io may not import crypto).
//
// Each object holds one native key handle; calls go straight to the addon with the caller's
// buffers (no copies, nothing allocated per call). The addon checks every range in C++ and throws
// RangeError / TypeError, so a wrong call can never touch memory outside the buffers.
import {
  CipherKind,
  loadAddon,
  type NativeAddon,
  type NativeCipherKey,
  type NativeHeaderKey,
} from './addon.js';

const BLOCK_BYTES = 16;
const ZERO_IV = new Uint8Array(BLOCK_BYTES);
// Twofish material: 40 subkey words and 4 x 256 table words, LE32 (native/src/crypto.cc).
const TWOFISH_SUBKEYS = 40;
const TWOFISH_TABLE_WORDS = 1024;
const WORD_BYTES = 4;

/** CBC (Twofish or AES) over one native key. */
class NativeCbc {
  private readonly addon: NativeAddon;
  /** @internal For NativeCipherBackend.payloadBatch. */
  readonly key: NativeCipherKey;

  constructor(addon: NativeAddon, key: NativeCipherKey) {
    this.addon = addon;
    this.key = key;
  }

  encryptCbc(
    src: Uint8Array,
    srcOff: number,
    len: number,
    dst: Uint8Array,
    dstOff: number,
    iv?: Uint8Array,
    ivOff = 0,
  ): void {
    if (iv === undefined) this.addon.cbcEncrypt(this.key, src, srcOff, len, dst, dstOff, ZERO_IV, 0);
    else this.addon.cbcEncrypt(this.key, src, srcOff, len, dst, dstOff, iv, ivOff);
  }

  decryptCbc(
    src: Uint8Array,
    srcOff: number,
    len: number,
    dst: Uint8Array,
    dstOff: number,
    iv?: Uint8Array,
    ivOff = 0,
  ): void {
    if (iv === undefined) this.addon.cbcDecrypt(this.key, src, srcOff, len, dst, dstOff, ZERO_IV, 0);
    else this.addon.cbcDecrypt(this.key, src, srcOff, len, dst, dstOff, iv, ivOff);
  }

  /** One block: CBC with a zero IV is the plain block decryption. */
  decryptBlock(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number): void {
    this.addon.cbcDecrypt(this.key, src, srcOff, BLOCK_BYTES, dst, dstOff, ZERO_IV, 0);
  }
}

/** A keystream cipher (Speck-CTR or ChaCha20) over one native key. */
class NativeStream {
  private readonly addon: NativeAddon;
  /** @internal For NativeCipherBackend.payloadBatch. */
  readonly key: NativeCipherKey;

  constructor(addon: NativeAddon, key: NativeCipherKey) {
    this.addon = addon;
    this.key = key;
  }

  xor(
    iv: Uint8Array,
    ivOff: number,
    src: Uint8Array,
    srcOff: number,
    len: number,
    dst: Uint8Array,
    dstOff: number,
  ): void {
    this.addon.streamXor(this.key, src, srcOff, len, dst, dstOff, iv, ivOff);
  }
}

/**
 * A payload transform over a batch in one native call (the addon's payloadEncrypt / payloadDecrypt): the framing of
 * spec §5.5-§5.7 with the key of one core. The caller supplies the random preambles and decides what to process.
 */
export class NativePayloadBatch {
  private readonly addon: NativeAddon;
  /** @internal For the native fast path (io/fastpath.ts). */
  readonly key: NativeCipherKey;

  constructor(addon: NativeAddon, key: NativeCipherKey) {
    this.addon = addon;
    this.key = key;
  }

  /** Payload i = src[srcOffs[i], +lens[i]) → random[16 i, +16) || ciphertext at dst[dstOffs[i]]; outLens[i] = its length. */
  encrypt(
    src: Uint8Array,
    srcOffs: Uint32Array,
    lens: Uint32Array,
    dst: Uint8Array,
    dstOffs: Uint32Array,
    count: number,
    random: Uint8Array,
    outLens: Uint32Array,
  ): void {
    this.addon.payloadEncrypt(this.key, src, srcOffs, lens, dst, dstOffs, count, random, outLens);
  }

  /** Payload i → its plaintext at dst[dstOffs[i]]; outLens[i] = its length or INVALID_PAYLOAD. */
  decrypt(
    src: Uint8Array,
    srcOffs: Uint32Array,
    lens: Uint32Array,
    dst: Uint8Array,
    dstOffs: Uint32Array,
    count: number,
    outLens: Uint32Array,
  ): void {
    this.addon.payloadDecrypt(this.key, src, srcOffs, lens, dst, dstOffs, count, null, outLens);
  }
}

/** Header encryption (-H) for one key pair in one native call per datagram; shape of transform/header.ts's HeaderCore. */
export class NativeHeaderCore {
  private readonly addon: NativeAddon;
  private readonly key: NativeHeaderKey;

  constructor(addon: NativeAddon, key: NativeHeaderKey) {
    this.addon = addon;
    this.key = key;
  }

  /** The addon's handle of this key pair (the fast path seals and opens with it). */
  get handle(): NativeHeaderKey {
    return this.key;
  }

  seal(
    buf: Uint8Array,
    off: number,
    len: number,
    hl: number,
    stampHi: number,
    stampLo: number,
    rand: number,
  ): void {
    this.addon.headerSeal!(this.key, buf, off, len, hl, stampHi, stampLo, rand);
  }

  open(buf: Uint8Array, off: number, len: number, community20: Uint8Array, out: Uint32Array): boolean {
    return this.addon.headerOpen!(this.key, buf, off, len, community20, out);
  }

  sealBatch(
    buf: Uint8Array,
    offs: Uint32Array,
    lens: Uint32Array,
    hls: Uint32Array,
    stamps: Uint32Array,
    rands: Uint32Array,
    count: number,
  ): void {
    this.addon.headerSealBatch!(this.key, buf, offs, lens, hls, stamps, rands, count);
  }

  openBatch(
    buf: Uint8Array,
    offs: Uint32Array,
    lens: Uint32Array,
    community20: Uint8Array,
    out: Uint32Array,
    count: number,
  ): void {
    this.addon.headerOpenBatch!(this.key, buf, offs, lens, community20, out, count);
  }
}

/** outLens entry of NativePayloadBatch.decrypt for a payload that does not decrypt. */
export const INVALID_PAYLOAD = 0xffffffff;

/** Every cipher core of the addon; shape of crypto/backend.ts's CipherBackend. */
export class NativeCipherBackend {
  readonly name: string;
  private readonly addon: NativeAddon;

  constructor(addon: NativeAddon) {
    this.addon = addon;
    const info = addon.cryptoInfo();
    this.name = `native (Speck ${info.speck}, Pearson ${info.pearson}, ${info.openssl})`;
  }

  /** Twofish-CBC over an expanded key (subkeys K0..K39 and the 4 x 256 g tables of crypto/twofish.ts). */
  twofishCbc(key: { readonly subkeys: Int32Array; readonly sbox: Int32Array }): NativeCbc {
    if (key.subkeys.length !== TWOFISH_SUBKEYS || key.sbox.length !== TWOFISH_TABLE_WORDS) {
      throw new RangeError('native twofish: expected 40 subkeys and 1024 table words');
    }
    const material = new Uint8Array((TWOFISH_SUBKEYS + TWOFISH_TABLE_WORDS) * WORD_BYTES);
    const view = new DataView(material.buffer);
    for (let i = 0; i < TWOFISH_SUBKEYS; i++) view.setInt32(WORD_BYTES * i, key.subkeys[i], true);
    for (let i = 0; i < TWOFISH_TABLE_WORDS; i++) {
      view.setInt32(WORD_BYTES * (TWOFISH_SUBKEYS + i), key.sbox[i], true);
    }
    return new NativeCbc(this.addon, this.addon.cipherKey(CipherKind.TWOFISH, material, 0, material.length));
  }

  /** AES-CBC (OpenSSL) with a 16-, 24- or 32-byte key. */
  aesCbc(key: Uint8Array): NativeCbc {
    return new NativeCbc(this.addon, this.addon.cipherKey(CipherKind.AES, key, 0, key.length));
  }

  /** ChaCha20 (OpenSSL) with n2n's no-carry counter; 32-byte key. */
  chacha20(key: Uint8Array): NativeStream {
    return new NativeStream(this.addon, this.addon.cipherKey(CipherKind.CHACHA20, key, 0, key.length));
  }

  /** Speck128-CTR in n2n's counter convention; 16- or 32-byte key. */
  speckCtr(key: Uint8Array): NativeStream {
    return new NativeStream(this.addon, this.addon.cipherKey(CipherKind.SPECK, key, 0, key.length));
  }

  /** The header-encryption core for Kh, Kiv (16 bytes each), or undefined for an addon without one. */
  headerCore(kh: Uint8Array, kiv: Uint8Array): NativeHeaderCore | undefined {
    if (
      typeof this.addon.headerKey !== 'function' ||
      typeof this.addon.headerSealBatch !== 'function' ||
      typeof this.addon.headerOpenBatch !== 'function'
    )
      return undefined;
    return new NativeHeaderCore(this.addon, this.addon.headerKey(kh, kiv));
  }

  /**
   * The batch payload transform over the key of `core` (one this backend made), or undefined for another object
   * or an addon without payload batches.
   */
  payloadBatch(core: unknown): NativePayloadBatch | undefined {
    if (typeof this.addon.payloadEncrypt !== 'function') return undefined;
    if (!(core instanceof NativeStream) && !(core instanceof NativeCbc)) return undefined;
    return new NativePayloadBatch(this.addon, core.key);
  }
}

let cached: NativeCipherBackend | null | undefined;

/**
 * The addon's cipher backend, or undefined when the addon is not built, does not load on this
 * platform, or predates the cipher cores (then the transforms stay pure TS / node:crypto).
 */
export function nativeCipherBackend(): NativeCipherBackend | undefined {
  if (cached === undefined) {
    cached = null;
    try {
      const addon = loadAddon();
      if (typeof addon.cipherKey === 'function' && typeof addon.streamXor === 'function') {
        cached = new NativeCipherBackend(addon);
      }
    } catch {
      // Not built or not loadable here: the pure-TS paths serve.
    }
  }
  return cached ?? undefined;
}
