// The edge's payload pipeline: its one transform (cipher) and optional LZO or zstd compression, on caller buffers.
import type { CipherBackend } from '../crypto/backend.js';
import { CHACHA20_BLOCK_BYTES } from '../crypto/chacha20.js';
import { twofishExpandKey } from '../crypto/twofish.js';
import type { NativePayloadBatch } from '../io/crypto-native.js';
import {
  checkCompressionSupported,
  compressPayload,
  decompressPayload,
  MAX_DECOMPRESSED_BYTES,
  type ZstdCoder,
} from '../transform/compression.js';
import { deriveTransformKey } from '../transform/keys.js';
import {
  createTransform,
  MAX_TRANSFORM_PLAINTEXT_BYTES,
  type PayloadTransform,
  PREAMBLE_BYTES,
} from '../transform/payload.js';
import type { Random } from '../util/random.js';
import { TransformId } from '../wire/types.js';

/** ChaCha20's 32-bit block counter space, and how often a wrapping random IV is drawn again (as transform/payload.ts). */
const CHACHA20_COUNTER_SPACE = 0x1_0000_0000;
const IV_REDRAWS = 8;
/** Payloads per batch call the random buffer is first sized for (it grows when asked for more). */
const BATCH_RANDOM_PAYLOADS = 64;

/**
 * The transform over a whole batch in one native call: the same framing and output as `encrypt` / `decrypt`
 * (spec §5.5-§5.7), without a JS call per payload. Only with the native backend, for the cipher transforms.
 */
export interface PayloadBatch {
  /**
   * Payload i = src[srcOffs[i], +lens[i]) (lens[i] <= MAX_BATCH_PLAINTEXT_BYTES) → preamble + ciphertext at
   * dst[dstOffs[i]], outLens[i] = lens[i] + overhead. In place with headroom (dstOffs[i] = srcOffs[i] − overhead)
   * or apart. Throws only for a wrong call (range outside a buffer): the caller checks ranges first.
   */
  encrypt(
    src: Uint8Array,
    srcOffs: Uint32Array,
    lens: Uint32Array,
    dst: Uint8Array,
    dstOffs: Uint32Array,
    count: number,
    outLens: Uint32Array,
  ): void;
  /** Payload i → plaintext at dst[dstOffs[i]], outLens[i] = its length or BATCH_INVALID. Apart or in place. */
  decrypt(
    src: Uint8Array,
    srcOffs: Uint32Array,
    lens: Uint32Array,
    dst: Uint8Array,
    dstOffs: Uint32Array,
    count: number,
    outLens: Uint32Array,
  ): void;
}

/** outLens entry of PayloadBatch.decrypt for a payload that does not decrypt (too short or long, bad padding). */
export const BATCH_INVALID = 0xffffffff;
/** Largest plaintext PayloadBatch.encrypt takes (the transforms' limit, n2n's N2N_PKT_BUF_SIZE). */
export const MAX_BATCH_PLAINTEXT_BYTES = MAX_TRANSFORM_PLAINTEXT_BYTES;

/** What the packet path needs: encrypt/decrypt and (de)compress between caller-owned buffers, never throwing. */
export interface EdgePayload {
  readonly transformId: number;
  /** Bytes the transform puts in front of the ciphertext (0 or 16). */
  readonly overhead: number;
  /** CompressionId.NONE or LZO. */
  readonly compression: number;
  /** The batch path of the same transform, when the native backend offers it (undefined: per payload only). */
  readonly batch: PayloadBatch | undefined;
  /**
   * Writes preamble + ciphertext of src[srcOff, +len) at dst[dstOff]; returns the length or -1.
   * In place with headroom works: dst = src, dstOff = srcOff − overhead.
   */
  encrypt(src: Uint8Array, srcOff: number, len: number, dst: Uint8Array, dstOff: number): number;
  /** Writes the plaintext of src[srcOff, +len) at dst[dstOff]; returns its length or -1 when invalid. */
  decrypt(src: Uint8Array, srcOff: number, len: number, dst: Uint8Array, dstOff: number): number;
  /** Compresses with the configured algorithm; returns the length when strictly shorter, else -1. */
  compress(src: Uint8Array, srcOff: number, len: number, dst: Uint8Array, dstOff: number): number;
  /** Decompresses with algorithm `id`; returns the length or -1. */
  decompress(
    id: number,
    src: Uint8Array,
    srcOff: number,
    len: number,
    dst: Uint8Array,
    dstOff: number,
  ): number;
}

/** A backend that can also run payload batches (io/crypto-native.ts's NativeCipherBackend). */
interface BatchingBackend extends CipherBackend {
  payloadBatch(core: unknown): NativePayloadBatch | undefined;
}

function isBatching(b: CipherBackend | undefined): b is BatchingBackend {
  return typeof (b as Partial<BatchingBackend> | undefined)?.payloadBatch === 'function';
}

/** PayloadBatch over the addon: draws the preambles (one fill per batch), redraws wrapping ChaCha20 IVs. */
class NativeBatch implements PayloadBatch {
  /** @internal The addon batch (its key also drives the native fast path, io/fastpath.ts). */
  readonly native: NativePayloadBatch;
  private readonly random: Random;
  private readonly chacha: boolean;
  private rnd = new Uint8Array(BATCH_RANDOM_PAYLOADS * PREAMBLE_BYTES);

  constructor(native: NativePayloadBatch, random: Random, chacha: boolean) {
    this.native = native;
    this.random = random;
    this.chacha = chacha;
  }

  encrypt(
    src: Uint8Array,
    srcOffs: Uint32Array,
    lens: Uint32Array,
    dst: Uint8Array,
    dstOffs: Uint32Array,
    count: number,
    outLens: Uint32Array,
  ): void {
    if (count * PREAMBLE_BYTES > this.rnd.length) this.rnd = new Uint8Array(count * PREAMBLE_BYTES);
    const r = this.rnd;
    this.random.fill(r, 0, count * PREAMBLE_BYTES);
    if (this.chacha) {
      // Spec §5.6: an IV whose 32-bit counter would wrap inside the payload decrypts differently in OpenSSL and
      // default C builds; draw it again (bounded), as the per-payload transform does.
      for (let i = 0; i < count; i++) {
        const o = i * PREAMBLE_BYTES;
        const blocks = Math.ceil(lens[i] / CHACHA20_BLOCK_BYTES);
        for (let attempt = 0; attempt < IV_REDRAWS; attempt++) {
          const counter = (r[o] | (r[o + 1] << 8) | (r[o + 2] << 16)) + r[o + 3] * 2 ** 24;
          if (counter + blocks <= CHACHA20_COUNTER_SPACE) break;
          this.random.fill(r, o, PREAMBLE_BYTES);
        }
      }
    }
    this.native.encrypt(src, srcOffs, lens, dst, dstOffs, count, r, outLens);
  }

  decrypt(
    src: Uint8Array,
    srcOffs: Uint32Array,
    lens: Uint32Array,
    dst: Uint8Array,
    dstOffs: Uint32Array,
    count: number,
    outLens: Uint32Array,
  ): void {
    this.native.decrypt(src, srcOffs, lens, dst, dstOffs, count, outLens);
  }
}

/** The native batch of a cipher transform, keyed as createTransform keys its core; undefined when unavailable. */
function nativeBatch(
  id: TransformId,
  key: string | undefined,
  random: Random,
  backend: CipherBackend | undefined,
): PayloadBatch | undefined {
  if (!isBatching(backend) || key === undefined || key.length === 0) return undefined;
  let core: unknown;
  switch (id) {
    case TransformId.TWOFISH:
      core = backend.twofishCbc?.(twofishExpandKey(deriveTransformKey(id, key)));
      break;
    case TransformId.AES:
      core = backend.aesCbc?.(deriveTransformKey(id, key));
      break;
    case TransformId.CHACHA20:
      core = backend.chacha20?.(deriveTransformKey(id, key));
      break;
    case TransformId.SPECK:
      core = backend.speckCtr?.(deriveTransformKey(id, key));
      break;
    default:
      return undefined;
  }
  const native = backend.payloadBatch(core);
  return native === undefined ? undefined : new NativeBatch(native, random, id === TransformId.CHACHA20);
}

class Pipeline implements EdgePayload {
  readonly transformId: number;
  readonly overhead: number;
  readonly compression: number;
  readonly batch: PayloadBatch | undefined;
  private readonly t: PayloadTransform;

  private readonly zstd: ZstdCoder | undefined;

  constructor(
    t: PayloadTransform,
    compression: number,
    batch: PayloadBatch | undefined,
    zstd: ZstdCoder | undefined,
  ) {
    this.t = t;
    this.zstd = zstd;
    this.transformId = t.id;
    this.overhead = t.overhead;
    this.compression = compression;
    this.batch = batch;
  }

  encrypt(src: Uint8Array, srcOff: number, len: number, dst: Uint8Array, dstOff: number): number {
    return this.t.encrypt(src, srcOff, len, dst, dstOff);
  }

  decrypt(src: Uint8Array, srcOff: number, len: number, dst: Uint8Array, dstOff: number): number {
    return this.t.decrypt(src, srcOff, len, dst, dstOff);
  }

  compress(src: Uint8Array, srcOff: number, len: number, dst: Uint8Array, dstOff: number): number {
    return compressPayload(this.compression, src, srcOff, len, dst, dstOff, this.zstd);
  }

  decompress(
    id: number,
    src: Uint8Array,
    srcOff: number,
    len: number,
    dst: Uint8Array,
    dstOff: number,
  ): number {
    return decompressPayload(id, src, srcOff, len, dst, dstOff, MAX_DECOMPRESSED_BYTES, this.zstd);
  }
}

/**
 * Builds the payload pipeline for a transform id, key and compression (ConfigError for a bad combination, or
 * zstd without a codec). Received zstd payloads decompress only with `zstd`; without it they are dropped.
 */
export function createEdgePayload(
  transformId: TransformId,
  key: string | undefined,
  compression: number,
  random: Random,
  backend?: CipherBackend,
  zstd?: ZstdCoder,
): EdgePayload {
  checkCompressionSupported(compression, zstd);
  const t = createTransform(transformId, key, random, { backend });
  return new Pipeline(t, compression, nativeBatch(transformId, key, random, backend), zstd);
}
