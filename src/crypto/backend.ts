// The seam for faster cipher cores (the native addon's, built in src/io): interfaces only, injected into the transforms.
//
// The transforms (src/transform/payload.ts) keep the n2n framing and use a backend's core for the
// ciphers it offers; every cipher it lacks stays on the pure-TS / node:crypto code. A backend must
// give byte-identical results to crypto/{twofish,aes,chacha20,speck}.ts (test/unit/crypto-native.test.ts
// checks the native one).
//
// Overlap contract of every method: dst is exactly the input range (in place) or does not overlap
// it; the IV is read before anything is written. Methods throw RangeError for ranges outside the
// buffers (the transforms check ranges first, so they never do on the packet path).

/** CBC over whole blocks plus single-block decryption: what the CTS framing (spec §5.5) needs. */
export interface CbcCore {
  /** CBC-encrypts src[srcOff, +len) (len a multiple of 16) into dst[dstOff, +len); IV all-zero when omitted. */
  encryptCbc(
    src: Uint8Array,
    srcOff: number,
    len: number,
    dst: Uint8Array,
    dstOff: number,
    iv?: Uint8Array,
    ivOff?: number,
  ): void;
  /** CBC-decrypts src[srcOff, +len) (len a multiple of 16) into dst[dstOff, +len); IV all-zero when omitted. */
  decryptCbc(
    src: Uint8Array,
    srcOff: number,
    len: number,
    dst: Uint8Array,
    dstOff: number,
    iv?: Uint8Array,
    ivOff?: number,
  ): void;
  /** Decrypts the one block src[srcOff, +16) into dst[dstOff, +16). */
  decryptBlock(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number): void;
}

/** A keystream cipher with a 16-byte IV, in n2n's counter convention for that cipher. */
export interface StreamCore {
  /** XORs src[srcOff, +len) with the keystream of the IV iv[ivOff, +16) into dst[dstOff, +len). */
  xor(
    iv: Uint8Array,
    ivOff: number,
    src: Uint8Array,
    srcOff: number,
    len: number,
    dst: Uint8Array,
    dstOff: number,
  ): void;
}

/** An expanded Twofish key as crypto/twofish.ts builds it (TwofishKey fits). */
export interface TwofishTables {
  /** K0..K39 of the paper's §4.3. */
  readonly subkeys: Int32Array;
  /** The full-keyed g tables: 4 x 256 words. */
  readonly sbox: Int32Array;
}

/** Cipher cores by name; each factory is called once per key (at transform creation). */
export interface CipherBackend {
  /** For logs and benchmarks, e.g. 'native (speck avx2, OpenSSL 3.0.19)'. */
  readonly name: string;
  /** Twofish-CBC over the tables of twofishExpandKey. */
  twofishCbc?(key: TwofishTables): CbcCore;
  /** AES-CBC with a 16-, 24- or 32-byte key. */
  aesCbc?(key: Uint8Array): CbcCore;
  /** ChaCha20 with a 32-byte key; IV = LE32 block counter || 96-bit nonce, the counter wraps without carry (spec §5.6). */
  chacha20?(key: Uint8Array): StreamCore;
  /** Speck128/128 or /256 CTR (16- or 32-byte key); the IV's low LE64 word counts, no carry into the high one (spec §5.3). */
  speckCtr?(key: Uint8Array): StreamCore;
}
