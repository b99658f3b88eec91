// Header encryption (`-H`, spec §7): key setup, in-place encrypt/decrypt, and the receiver's key order.
//
// header_encryption.c: packet_header_encrypt / packet_header_decrypt / packet_header_setup_key /
// packet_header_change_dynamic_key; edge_utils.c and sn_utils.c for the order in which keys are tried.
// Nothing here allocates per call: scratch blocks are module-level and keys are expanded once.
import { pearsonHash64, pearsonHash128, pearsonHash128Range, type U64 } from '../crypto/pearson.js';
import {
  type SpeckKey,
  speckCtr,
  speckDecryptBlock,
  speckEncryptBlock,
  speckExpandKey,
} from '../crypto/speck.js';
import { COMMON_HEADER_BYTES, COMMUNITY_BYTES, MsgType } from '../wire/types.js';
import type { Stamp } from './stamp.js';

/** "n2" in the top half of the magic word; the low half carries hl (spec §7.3 step 8). */
export const HE_MAGIC = 0x6e320000;
/** The IV block at the start of an encrypted datagram. */
export const HE_IV_BYTES = 16;
/** Datagrams shorter than the common header are never encrypted (spec §7.2). */
export const HE_MIN_BYTES = COMMON_HEADER_BYTES;
/** N2N_REG_SUP_HASH_CHECK_LEN: the user/password trailer E_SS(H128(...)) after the datagram. */
export const AUTH_TRAILER_BYTES = 16;
/** Size of a dynamic key DK (N2N_AUTH_CHALLENGE_SIZE). */
export const DYNAMIC_KEY_BYTES = 16;
/** In user/password communities the payload's cipher IV (up to 16 bytes) joins hl (spec §7.2). */
export const HE_PAYLOAD_IV_BYTES = 16;

// Offsets inside the datagram (spec §7.3).
const MAGIC_OFF = 16;
const MAGIC_BYTES = 4;
const MOVED_OFF = 20; // version/TTL/flags are parked in the last 4 community bytes
const MOVED_BYTES = 4;
const COMMUNITY_OFF = 4;
const STAMP_HI_OFF = 4;
const STAMP_LO_OFF = 8;
const RANDOM_OFF = 12;

/**
 * A header-encryption core for one key pair (the addon's, io/crypto-native.ts): the same bytes as the pure-TS
 * steps below, which stay the reference it is tested against. `open` writes {stamp hi, stamp lo, hl} to `out` and
 * leaves the buffer byte-identical when it returns false.
 */
export interface HeaderCore {
  seal(
    buf: Uint8Array,
    off: number,
    len: number,
    hl: number,
    stampHi: number,
    stampLo: number,
    rand: number,
  ): void;
  open(buf: Uint8Array, off: number, len: number, community20: Uint8Array, out: Uint32Array): boolean;
  /** seal for datagram i = buf[offs[i], +lens[i]) with hls[i], stamp (stamps[2i], stamps[2i+1]) and rands[i]. */
  sealBatch(
    buf: Uint8Array,
    offs: Uint32Array,
    lens: Uint32Array,
    hls: Uint32Array,
    stamps: Uint32Array,
    rands: Uint32Array,
    count: number,
  ): void;
  /**
   * open for datagram i = buf[offs[i], +lens[i]) (ranges not overlapping), for i < count: out[4i] = 1 and
   * out[4i+1..3] = {stamp hi, stamp lo, hl} when it opens, out[4i] = 0 and the datagram untouched when not.
   */
  openBatch(
    buf: Uint8Array,
    offs: Uint32Array,
    lens: Uint32Array,
    community20: Uint8Array,
    out: Uint32Array,
    count: number,
  ): void;
}

/** Makes header cores (io/crypto-native.ts's NativeCipherBackend); undefined where it has none. */
export interface HeaderBackend {
  headerCore(kh: Uint8Array, kiv: Uint8Array): HeaderCore | undefined;
}

/** Whether a cipher backend also offers header cores (matched structurally: transform/ may not import io/). */
export function asHeaderBackend(b: unknown): HeaderBackend | undefined {
  return typeof (b as Partial<HeaderBackend> | undefined)?.headerCore === 'function'
    ? (b as HeaderBackend)
    : undefined;
}

/** An expanded header key pair: Kh (CTR key) and Kiv (IV block key), both Speck128/128. */
export class HeaderKeys {
  /** Kh = H128(seed). */
  readonly kh: Uint8Array;
  /** Kiv = H128(Kh). */
  readonly kiv: Uint8Array;
  readonly ctr: SpeckKey;
  readonly iv: SpeckKey;
  /** The backend's core for this pair, used instead of the TS steps when present. */
  readonly core: HeaderCore | undefined;

  constructor(kh: Uint8Array, kiv: Uint8Array, backend?: HeaderBackend) {
    this.kh = kh;
    this.kiv = kiv;
    this.ctr = speckExpandKey(kh);
    this.iv = speckExpandKey(kiv);
    this.core = backend?.headerCore(kh, kiv);
  }
}

/** Kh = H128(seed), Kiv = H128(Kh), expanded. */
export function headerKeysFromSeed(seed: Uint8Array, backend?: HeaderBackend): HeaderKeys {
  const kh = pearsonHash128(seed);
  return new HeaderKeys(kh, pearsonHash128(kh), backend);
}

/** Static keys from the 20-byte zero-padded community field (spec §7.1). */
export function staticHeaderKeys(community20: Uint8Array, backend?: HeaderBackend): HeaderKeys {
  if (community20.length !== COMMUNITY_BYTES) {
    throw new RangeError(
      `header keys: community field must be ${COMMUNITY_BYTES} bytes, got ${community20.length}`,
    );
  }
  return headerKeysFromSeed(community20, backend);
}

/** Dynamic keys from a 16-byte dynamic key DK (user/password communities, spec §7.1, §8.4). */
export function dynamicHeaderKeys(dk: Uint8Array, backend?: HeaderBackend): HeaderKeys {
  if (dk.length !== DYNAMIC_KEY_BYTES) {
    throw new RangeError(`header keys: dynamic key must be ${DYNAMIC_KEY_BYTES} bytes, got ${dk.length}`);
  }
  return headerKeysFromSeed(dk, backend);
}

/**
 * hl, the number of leading bytes covered by the CTR encryption (spec §7.2).
 * For PACKET: `headerLen` = the PACKET header (38/46), `payloadLen` = the transform output; in a
 * user/password community the first min(16, payloadLen) payload bytes (the cipher IV) are added.
 * For every other type the whole message is covered: headerLen + payloadLen (the user/password
 * trailer is appended after encryption and never counted).
 */
export function headerLength(
  type: number,
  headerLen: number,
  payloadLen: number,
  userPassword: boolean,
): number {
  if (type === MsgType.PACKET) {
    return headerLen + (userPassword ? Math.min(HE_PAYLOAD_IV_BYTES, payloadLen) : 0);
  }
  return headerLen + payloadLen;
}

function readBe32(b: Uint8Array, p: number): number {
  return ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
}

function writeBe32(b: Uint8Array, p: number, v: number): void {
  b[p] = v >>> 24;
  b[p + 1] = v >>> 16;
  b[p + 2] = v >>> 8;
  b[p + 3] = v;
}

/**
 * Optional richer output of decryptHeader: the stamp plus hl as found in the magic. Pass one of
 * these (reused) instead of a plain Stamp when the caller needs hl.
 */
export class HeaderInfo implements Stamp {
  hi = 0;
  lo = 0;
  /** Bytes covered by the CTR encryption, from the magic word. */
  hl = 0;
}

// Scratch state for the hot path.
const checksum: U64 = { hi: 0, lo: 0 };
const magicBlock = new Uint8Array(MAGIC_BYTES);
const savedIv = new Uint8Array(HE_IV_BYTES);
const savedPlain = new Uint8Array(COMMON_HEADER_BYTES - MAGIC_OFF);
/** HeaderCore.open's result: stamp hi, stamp lo, hl. */
const openOut = new Uint32Array(3);

/**
 * Encrypts buf[off, off+len) in place (spec §7.3). `hl` = headerLength(...); `stamp` comes from
 * the process's StampGenerator; `rand32` is any random 32-bit value, written big-endian to IV
 * bytes 12..15 (C writes n2n_rand() there; its byte order does not matter to receivers).
 * Throws RangeError only for impossible arguments (len < 24, hl outside [24, len]).
 */
export function encryptHeader(
  buf: Uint8Array,
  off: number,
  len: number,
  hl: number,
  stamp: Stamp,
  rand32: number,
  keys: HeaderKeys,
): void {
  if (!(len >= HE_MIN_BYTES && hl >= HE_MIN_BYTES && hl <= len && off >= 0 && off + len <= buf.length)) {
    throw new RangeError(`encryptHeader: bad range off=${off} len=${len} hl=${hl} in ${buf.length} bytes`);
  }
  if (keys.core !== undefined) {
    keys.core.seal(buf, off, len, hl, stamp.hi, stamp.lo, rand32 >>> 0);
    return;
  }
  // 1. Checksum over the whole plaintext datagram, community in place.
  pearsonHash64(buf, off, len, checksum);
  // 2. Park version/TTL/flags in community bytes 16..19.
  buf.copyWithin(off + MOVED_OFF, off, off + MOVED_BYTES);
  // 3.-6. Pre-IV: checksum, high stamp half XORed into the low checksum half, low stamp half, random.
  writeBe32(buf, off, checksum.hi);
  writeBe32(buf, off + STAMP_HI_OFF, checksum.lo ^ stamp.hi);
  writeBe32(buf, off + STAMP_LO_OFF, stamp.lo);
  writeBe32(buf, off + RANDOM_OFF, rand32);
  // 7. The IV is the pre-IV encrypted under Kiv.
  speckEncryptBlock(keys.iv, buf, off);
  // 8.-9. Magic "n2" + hl, then CTR over [16, hl) under Kh with that IV.
  writeBe32(buf, off + MAGIC_OFF, HE_MAGIC + hl);
  speckCtr(keys.ctr, buf, off, buf, off + MAGIC_OFF, hl - MAGIC_OFF);
}

/**
 * Tries to decrypt buf[off, off+len) in place with one key pair and candidate community name
 * (spec §7.4). Returns true when the magic and the checksum match: the plaintext datagram is then
 * restored in place (first 4 bytes and the community field) and the recovered stamp is written to
 * `outStamp` (check it with StampGenerator.verify; pass a HeaderInfo to also get hl). Returns false otherwise and then leaves the
 * buffer byte-identical, so the caller can try the next key. Never throws for any buffer content.
 */
export function decryptHeader(
  buf: Uint8Array,
  off: number,
  len: number,
  keys: HeaderKeys,
  community20: Uint8Array,
  outStamp: Stamp,
): boolean {
  if (!(off >= 0 && len >= 0 && off + len <= buf.length)) {
    throw new RangeError(`decryptHeader: range ${off}+${len} outside ${buf.length} bytes`);
  }
  if (community20.length !== COMMUNITY_BYTES) {
    throw new RangeError(`decryptHeader: community field must be ${COMMUNITY_BYTES} bytes`);
  }
  if (len < HE_MIN_BYTES) return false;
  if (keys.core !== undefined) {
    if (!keys.core.open(buf, off, len, community20, openOut)) return false;
    outStamp.hi = openOut[0];
    outStamp.lo = openOut[1];
    if (outStamp instanceof HeaderInfo) outStamp.hl = openOut[2];
    return true;
  }
  // 1.-2. Decrypt only the magic word into scratch; C accepts any hl <= len. We also need hl >= 24
  // (C would run CTR over a negative length there; no sender produces it).
  magicBlock[0] = buf[off + MAGIC_OFF];
  magicBlock[1] = buf[off + MAGIC_OFF + 1];
  magicBlock[2] = buf[off + MAGIC_OFF + 2];
  magicBlock[3] = buf[off + MAGIC_OFF + 3];
  speckCtr(keys.ctr, buf, off, magicBlock, 0, MAGIC_BYTES);
  const hl = (readBe32(magicBlock, 0) - HE_MAGIC) >>> 0;
  if (hl > len || hl < HE_MIN_BYTES) return false;
  // Keep what is needed to undo everything if the checksum fails.
  for (let i = 0; i < HE_IV_BYTES; i++) savedIv[i] = buf[off + i];
  // 3. CTR-decrypt [16, hl), 4. block-decrypt the IV.
  speckCtr(keys.ctr, savedIv, 0, buf, off + MAGIC_OFF, hl - MAGIC_OFF);
  speckDecryptBlock(keys.iv, buf, off);
  // 5. Checksum high half and the stamp (still XORed with the low checksum half).
  const csHigh = readBe32(buf, off);
  const stampHi = readBe32(buf, off + STAMP_HI_OFF);
  const stampLo = readBe32(buf, off + STAMP_LO_OFF);
  // 6. Restore the plaintext header.
  for (let i = 0; i < savedPlain.length; i++) savedPlain[i] = buf[off + MAGIC_OFF + i];
  buf.copyWithin(off, off + MOVED_OFF, off + MOVED_OFF + MOVED_BYTES);
  buf.set(community20, off + COMMUNITY_OFF);
  // 7. Verify the checksum over the whole length.
  pearsonHash64(buf, off, len, checksum);
  if (checksum.hi !== csHigh) {
    // Undo: put back the decrypted bytes 16..23, re-encrypt [16, hl), restore the IV.
    buf.set(savedPlain, off + MAGIC_OFF);
    speckCtr(keys.ctr, savedIv, 0, buf, off + MAGIC_OFF, hl - MAGIC_OFF);
    buf.set(savedIv, off);
    return false;
  }
  // 8. s = s' XOR (cs << 32).
  outStamp.hi = (stampHi ^ checksum.lo) >>> 0;
  outStamp.lo = stampLo;
  if (outStamp instanceof HeaderInfo) outStamp.hl = hl;
  return true;
}

/** Words per datagram in openHeaderBatch's output: opened (1/0), stamp hi, stamp lo, hl. */
export const OPEN_BATCH_WORDS = 4;

const batchInfo = new HeaderInfo();

/**
 * decryptHeader with one key pair for datagram i = buf[offs[i], +lens[i]) (ranges not overlapping), i < count:
 * out[4i] = 1 and out[4i+1..3] = {stamp hi, stamp lo, hl} when it opens, else out[4i] = 0 and the datagram is
 * untouched. One native call (up to 32 datagrams' checksums and header blocks together) when the keys have a core;
 * one by one otherwise.
 */
export function decryptHeaderBatch(
  buf: Uint8Array,
  offs: Uint32Array,
  lens: Uint32Array,
  count: number,
  keys: HeaderKeys,
  community20: Uint8Array,
  out: Uint32Array,
): void {
  if (keys.core !== undefined) {
    keys.core.openBatch(buf, offs, lens, community20, out, count);
    return;
  }
  for (let i = 0; i < count; i++) {
    const o = i * OPEN_BATCH_WORDS;
    if (decryptHeader(buf, offs[i], lens[i], keys, community20, batchInfo)) {
      out[o] = 1;
      out[o + 1] = batchInfo.hi;
      out[o + 2] = batchInfo.lo;
      out[o + 3] = batchInfo.hl;
    } else {
      out[o] = 0;
    }
  }
}

/** Which key pair decrypted a header (values as C's `header_enc`: 1 = static, 2 = dynamic). */
export const HeaderKeyUsed = { NONE: 0, STATIC: 1, DYNAMIC: 2 } as const;
export type HeaderKeyUsed = (typeof HeaderKeyUsed)[keyof typeof HeaderKeyUsed];

/**
 * The receiver's key order (spec §7.6, edge_utils.c / sn_utils.c): the dynamic keys over the full
 * length, then the static keys over len − 16 (the user/password trailer is not covered). Before the
 * static attempt, H128 of the still-encrypted first len − 16 bytes is written to `trailerHash` if
 * given (needed to check the trailer of REGISTER_SUPER / _ACK). In communities without users pass
 * the same keys twice; C makes both attempts regardless. The buffer is unchanged on NONE.
 */
export function decryptHeaderTryKeys(
  buf: Uint8Array,
  off: number,
  len: number,
  dynamicKeys: HeaderKeys,
  staticKeys: HeaderKeys,
  community20: Uint8Array,
  outStamp: Stamp,
  trailerHash?: Uint8Array,
): HeaderKeyUsed {
  if (decryptHeader(buf, off, len, dynamicKeys, community20, outStamp)) return HeaderKeyUsed.DYNAMIC;
  const shortLen = Math.max(0, len - AUTH_TRAILER_BYTES);
  if (trailerHash) pearsonHash128Range(buf, off, shortLen, trailerHash, 0);
  if (decryptHeader(buf, off, shortLen, staticKeys, community20, outStamp)) return HeaderKeyUsed.STATIC;
  return HeaderKeyUsed.NONE;
}
