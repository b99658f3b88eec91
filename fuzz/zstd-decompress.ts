// Fuzz target: zstd decompression of hostile frames through decompressPayload (the -z2 receive path): bounded output.
import { loadZstd } from '../src/io/zstd.js';
import { decompressPayload, MAX_DECOMPRESSED_BYTES, ZSTD_LEVEL } from '../src/transform/compression.js';
import { equalBytes, fromHex } from '../src/util/bytes.js';
import { CompressionId } from '../src/wire/types.js';
import { captures, check, distinct, vectorFile } from './common.js';

const zstd = loadZstd();
if (zstd === undefined) throw new Error('zstd-decompress: no zstd codec (zstd-napi not built)');
const codec = zstd;
/** Offset of the payload in the captured zstd PACKET (PACKET header with no socket, null transform). */
const ZSTD_PACKET_PAYLOAD_OFFSET = 38;
const GUARD_BYTES = 64;
const GUARD = 0xa5;
const out = new Uint8Array(MAX_DECOMPRESSED_BYTES + GUARD_BYTES);
const packed = new Uint8Array(2 * MAX_DECOMPRESSED_BYTES);

/** C n2n's zstd PACKET payload (test/vectors/c311-zstd-packet.hex) and every captured datagram, compressed. */
export function seeds(): Uint8Array[] {
  const c311 = fromHex(vectorFile('c311-zstd-packet.hex').trim()).subarray(ZSTD_PACKET_PAYLOAD_OFFSET);
  const own = captures().flatMap((c) =>
    c.datagrams.map((d) => {
      const n = codec.compress(d.plain, 0, d.plain.length, packed, 0, ZSTD_LEVEL);
      return packed.slice(0, n);
    }),
  );
  return distinct([c311, ...own]);
}

export function fuzz(data: Buffer): void {
  out.fill(GUARD);
  const n = decompressPayload(
    CompressionId.ZSTD,
    data,
    0,
    data.length,
    out,
    0,
    MAX_DECOMPRESSED_BYTES,
    codec,
  );
  check(n >= -1 && n <= MAX_DECOMPRESSED_BYTES, `decompressPayload returned ${n}`);
  for (let i = MAX_DECOMPRESSED_BYTES; i < out.length; i++) check(out[i] === GUARD, 'wrote past maxOut');
  if (data.length === 0 || data.length > MAX_DECOMPRESSED_BYTES) return;
  const c = codec.compress(data, 0, data.length, packed, 0, ZSTD_LEVEL);
  check(c > 0, `compress returned ${c}`);
  const d = decompressPayload(CompressionId.ZSTD, packed, 0, c, out, 0, MAX_DECOMPRESSED_BYTES, codec);
  check(
    d === data.length && equalBytes(out.subarray(0, d), data),
    'compress then decompress is not identity',
  );
}
