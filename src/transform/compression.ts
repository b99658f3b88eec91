// PACKET payload compression rules of spec §5.1: LZO1X-1 when it strictly shrinks the frame, zstd not supported.
//
// edge_utils.c (edge_send_packet2net): the compressed form is used only if compression succeeded
// and the result is strictly shorter than the frame; otherwise the frame goes out as is with
// compression id NONE. handle_PACKET: ids other than NONE and the supported ones are dropped, and
// the decompressed size may not exceed N2N_PKT_BUF_SIZE.
// zstd (id 3) needs node:zlib's zstd support, which Node 20 lacks: configuring it is a ConfigError
// and received zstd payloads are dropped (as C edges built without zstd do).
import { ConfigError } from '../util/errors.js';
import { CompressionId } from '../wire/types.js';
import { lzoCompress, lzoDecompress } from './lzo.js';

/** n2n_define.h: N2N_PKT_BUF_SIZE, the largest frame after decompression. */
export const MAX_DECOMPRESSED_BYTES = 2048;
/** transform_lzo.c: inputs larger than this are neither compressed nor decompressed. */
export const MAX_COMPRESS_INPUT_BYTES = 2048;

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
 * Validates a configured compression method (`-z`): NONE and LZO are accepted; zstd throws a
 * ConfigError (not available on this Node), anything else too.
 */
export function checkCompressionSupported(id: number): CompressionId {
  if (id === CompressionId.NONE || id === CompressionId.LZO) return id;
  if (id === CompressionId.ZSTD) {
    throw new ConfigError(
      'zstd compression (-z2) is not supported by this build (Node 20 has no zstd); use -z1',
    );
  }
  throw new ConfigError(`unknown compression id ${id}`);
}

/**
 * Compresses the frame src[off, +len) with `method` into dst[dstOff..] (room for `len - 1` bytes is
 * enough). Returns the compressed length when it is strictly shorter than the frame, in which case
 * the PACKET carries compression id `method`; returns -1 when the frame must be sent as is with
 * id NONE (method NONE, frame too large, or no gain). Never throws for a valid method and range.
 */
export function compressPayload(
  method: number,
  src: Uint8Array,
  off: number,
  len: number,
  dst: Uint8Array,
  dstOff: number,
): number {
  if (method !== CompressionId.LZO || len > MAX_COMPRESS_INPUT_BYTES || len === 0) return -1;
  // Giving the compressor only len - 1 bytes of room makes it stop as soon as there is no gain.
  return lzoCompress(src, off, len, dst, dstOff, Math.min(len - 1, dst.length - dstOff));
}

/**
 * Undoes compression id `id` on src[off, +len) into dst[dstOff..], writing at most `maxOut` bytes.
 * NONE copies the bytes (callers on the hot path use the payload in place instead); LZO
 * decompresses. Returns the frame length, or -1 to drop: invalid id 0, zstd, unknown ids, corrupt
 * data, an input larger than N2N_PKT_BUF_SIZE, or a result larger than `maxOut`. Never throws.
 */
export function decompressPayload(
  id: number,
  src: Uint8Array,
  off: number,
  len: number,
  dst: Uint8Array,
  dstOff: number,
  maxOut: number = MAX_DECOMPRESSED_BYTES,
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
  return -1;
}
