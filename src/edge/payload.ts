// The edge's payload pipeline: its one transform (cipher) and optional LZO compression, on caller buffers.
import type { CipherBackend } from '../crypto/backend.js';
import { compressPayload, decompressPayload, MAX_DECOMPRESSED_BYTES } from '../transform/compression.js';
import { createTransform, type PayloadTransform } from '../transform/payload.js';
import type { Random } from '../util/random.js';
import type { TransformId } from '../wire/types.js';

/** What the packet path needs: encrypt/decrypt and (de)compress between caller-owned buffers, never throwing. */
export interface EdgePayload {
  readonly transformId: number;
  /** Bytes the transform puts in front of the ciphertext (0 or 16). */
  readonly overhead: number;
  /** CompressionId.NONE or LZO. */
  readonly compression: number;
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

class Pipeline implements EdgePayload {
  readonly transformId: number;
  readonly overhead: number;
  readonly compression: number;
  private readonly t: PayloadTransform;

  constructor(t: PayloadTransform, compression: number) {
    this.t = t;
    this.transformId = t.id;
    this.overhead = t.overhead;
    this.compression = compression;
  }

  encrypt(src: Uint8Array, srcOff: number, len: number, dst: Uint8Array, dstOff: number): number {
    return this.t.encrypt(src, srcOff, len, dst, dstOff);
  }

  decrypt(src: Uint8Array, srcOff: number, len: number, dst: Uint8Array, dstOff: number): number {
    return this.t.decrypt(src, srcOff, len, dst, dstOff);
  }

  compress(src: Uint8Array, srcOff: number, len: number, dst: Uint8Array, dstOff: number): number {
    return compressPayload(this.compression, src, srcOff, len, dst, dstOff);
  }

  decompress(
    id: number,
    src: Uint8Array,
    srcOff: number,
    len: number,
    dst: Uint8Array,
    dstOff: number,
  ): number {
    return decompressPayload(id, src, srcOff, len, dst, dstOff, MAX_DECOMPRESSED_BYTES);
  }
}

/** Builds the payload pipeline for a transform id, key and compression (ConfigError for a bad combination). */
export function createEdgePayload(
  transformId: TransformId,
  key: string | undefined,
  compression: number,
  random: Random,
  backend?: CipherBackend,
): EdgePayload {
  return new Pipeline(createTransform(transformId, key, random, { backend }), compression);
}
