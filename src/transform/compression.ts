// PACKET payload compression rules of spec §5.1: LZO1X-1 or zstd (level 7) when it strictly shrinks the frame.
//
// edge_utils.c (edge_send_packet2net): the compressed form is used only if compression succeeded
// and the result is strictly shorter than the frame; otherwise the frame goes out as is with
// compression id NONE. handle_PACKET: ids other than NONE and the supported ones are dropped, and
// the decompressed size may not exceed N2N_PKT_BUF_SIZE.
// zstd (id 3) needs a codec from io/zstd.ts (zstd-napi, or node:zlib where Node has zstd), passed in by the
// caller: without one, configuring it is a ConfigError and received zstd payloads are dropped (as C edges
// built without zstd do). transform_zstd.c compresses at ZSTD_COMPRESSION_LEVEL and decompresses into an
// N2N_PKT_BUF_SIZE buffer, so a frame that would inflate past it fails there, as here.
import { ConfigError } from '../util/errors.js';
import { CompressionId } from '../wire/types.js';
import { lzoCompress, lzoDecompress } from './lzo.js';

/** n2n_define.h: N2N_PKT_BUF_SIZE, the largest frame after decompression. */
export const MAX_DECOMPRESSED_BYTES = 2048;
/** transform_lzo.c: inputs larger than this are neither compressed nor decompressed. */
export const MAX_COMPRESS_INPUT_BYTES = 2048;

/** n2n_define.h: ZSTD_COMPRESSION_LEVEL, the level a C edge compresses at. */
export const ZSTD_LEVEL = 7;

/** A zstd implementation on caller buffers (io/zstd.ts provides one); both calls return a length or -1. */
export interface ZstdCoder {
  compress(src: Uint8Array, off: number, len: number, dst: Uint8Array, dstOff: number, level: number): number;
  /** Must never write or allocate more than `maxOut` bytes of output. */
  decompress(
    src: Uint8Array,
    off: number,
    len: number,
    dst: Uint8Array,
    dstOff: number,
    maxOut: number,
  ): number;
}

/** Human-readable name of a compression id (edge_utils.c: compression_str). */
export function compressionName(id: number): string {
  switch (id) {
    case CompressionId.NONE:
      return 'none';
    case CompressionId.LZO:
      return 'lzo1x';
    case CompressionId.ZSTD:
      return 'zstd';
    default:
      return 'invalid';
  }
}

/**
 * Validates a configured compression method (`-z`): NONE and LZO are accepted, zstd when a codec is given;
 * zstd without one throws a ConfigError (no zstd here), anything else too.
 */
export function checkCompressionSupported(id: number, zstd?: ZstdCoder): CompressionId {
  if (id === CompressionId.NONE || id === CompressionId.LZO) return id;
  if (id === CompressionId.ZSTD) {
    if (zstd !== undefined) return id;
    throw new ConfigError(
      'zstd compression (-z2) is not supported by this build (neither the zstd-napi binding nor a Node with zlib zstd); use -z1',
    );
  }
  throw new ConfigError(`unknown compression id ${id}`);
}

/**
 * Compresses the frame src[off, +len) with `method` into dst[dstOff..] (room for `len - 1` bytes is
 * enough). Returns the compressed length when it is strictly shorter than the frame, in which case
 * the PACKET carries compression id `method`; returns -1 when the frame must be sent as is with
 * id NONE (method NONE, zstd without `zstd`, frame too large, or no gain). Never throws for a valid method and range.
 */
export function compressPayload(
  method: number,
  src: Uint8Array,
  off: number,
  len: number,
  dst: Uint8Array,
  dstOff: number,
  zstd?: ZstdCoder,
): number {
  if (len > MAX_COMPRESS_INPUT_BYTES || len === 0) return -1;
  if (method === CompressionId.ZSTD) {
    if (zstd === undefined) return -1;
    // Unlike LZO, zstd is given room for its worst case; a result that does not shrink the frame is not used.
    const z = zstd.compress(src, off, len, dst, dstOff, ZSTD_LEVEL);
    return z > 0 && z < len ? z : -1;
  }
  if (method !== CompressionId.LZO) return -1;
  // Giving the compressor only len - 1 bytes of room makes it stop as soon as there is no gain.
  return lzoCompress(src, off, len, dst, dstOff, Math.min(len - 1, dst.length - dstOff));
}

/**
 * Undoes compression id `id` on src[off, +len) into dst[dstOff..], writing at most `maxOut` bytes.
 * NONE copies the bytes (callers on the hot path use the payload in place instead); LZO
 * and zstd (with `zstd`) decompress. Returns the frame length, or -1 to drop: invalid id 0, zstd without
 * `zstd`, unknown ids, corrupt data, an input larger than N2N_PKT_BUF_SIZE, or a result larger than `maxOut`
 * (zstd never inflates past it: a decompression bomb stops there). Never throws.
 */
export function decompressPayload(
  id: number,
  src: Uint8Array,
  off: number,
  len: number,
  dst: Uint8Array,
  dstOff: number,
  maxOut: number = MAX_DECOMPRESSED_BYTES,
  zstd?: ZstdCoder,
): number {
  if (!(off >= 0 && len >= 0 && off + len <= src.length && dstOff >= 0 && dstOff <= dst.length)) return -1;
  const room = Math.min(maxOut, MAX_DECOMPRESSED_BYTES, dst.length - dstOff);
  if (id === CompressionId.NONE) {
    if (len > room) return -1;
    if (src !== dst || off !== dstOff) dst.set(src.subarray(off, off + len), dstOff);
    return len;
  }
  if (id === CompressionId.LZO) {
    if (len > MAX_COMPRESS_INPUT_BYTES) return -1;
    return lzoDecompress(src, off, len, dst, dstOff, room);
  }
  if (id === CompressionId.ZSTD && zstd !== undefined) {
    if (len > MAX_COMPRESS_INPUT_BYTES || len === 0) return -1;
    const n = zstd.decompress(src, off, len, dst, dstOff, room);
    return n >= 0 && n <= room ? n : -1;
  }
  return -1;
}
