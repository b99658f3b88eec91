// The edge's payload pipeline: its one transform (cipher) and optional LZO compression, on caller buffers.
import type { Random } from '../util/random.js';
import { CompressionId, TransformId } from '../wire/types.js';

/** What the packet path needs: encrypt/decrypt and (de)compress between caller-owned buffers, never throwing. */
export interface EdgePayload {
  readonly transformId: number;
  /** CompressionId.NONE or LZO. */
  readonly compression: number;
  /** Writes preamble + ciphertext of src[srcOff, +len) at dst[dstOff]; returns the length or -1. */
  encrypt(src: Uint8Array, srcOff: number, len: number, dst: Uint8Array, dstOff: number): number;
  /** Writes the plaintext of src[srcOff, +len) at dst[dstOff]; returns its length or -1 when invalid. */
  decrypt(src: Uint8Array, srcOff: number, len: number, dst: Uint8Array, dstOff: number): number;
  /** Compresses with the configured algorithm; returns the length, or -1 / 0 when it did not help. */
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

function copy(src: Uint8Array, srcOff: number, len: number, dst: Uint8Array, dstOff: number): number {
  if (dstOff + len > dst.length) return -1;
  dst.set(src.subarray(srcOff, srcOff + len), dstOff);
  return len;
}

/** Builds the payload pipeline for a transform id, key and compression. */
export function createEdgePayload(
  transformId: number,
  _key: string | undefined,
  compression: number,
  _random: Random,
): EdgePayload {
  if (transformId !== TransformId.NULL) throw new Error(`transform ${transformId} is not available yet`);
  return {
    transformId,
    compression,
    encrypt: copy,
    decrypt: copy,
    compress: () => -1,
    decompress: (id, src, srcOff, len, dst, dstOff) =>
      id === CompressionId.NONE ? copy(src, srcOff, len, dst, dstOff) : -1,
  };
}
