// Fuzz target: LZO1X decompression of hostile streams (bounds, output limit) and the compress→decompress round trip.
import { MAX_DECOMPRESSED_BYTES } from '../src/transform/compression.js';
import { lzoCompress, lzoCompressBound, lzoDecompress } from '../src/transform/lzo.js';
import { equalBytes } from '../src/util/bytes.js';
import { captures, check, distinct } from './common.js';

/** Output room beyond the limit, to see a decompressor writing past `maxOut`. */
const GUARD_BYTES = 64;
const GUARD = 0xa5;
const out = new Uint8Array(MAX_DECOMPRESSED_BYTES + GUARD_BYTES);
const packed = new Uint8Array(lzoCompressBound(MAX_DECOMPRESSED_BYTES));

/** Every captured plaintext datagram, LZO-compressed (what a -z1 peer would send). */
export function seeds(): Uint8Array[] {
  return distinct(
    captures().flatMap((c) =>
      c.datagrams.map((d) => {
        const n = lzoCompress(d.plain, 0, d.plain.length, packed, 0);
        return packed.slice(0, n);
      }),
    ),
  );
}

export function fuzz(data: Buffer): void {
  out.fill(GUARD);
  const n = lzoDecompress(data, 0, data.length, out, 0, MAX_DECOMPRESSED_BYTES);
  check(n >= -1 && n <= MAX_DECOMPRESSED_BYTES, `lzoDecompress returned ${n}`);
  for (let i = MAX_DECOMPRESSED_BYTES; i < out.length; i++) check(out[i] === GUARD, 'wrote past maxOut');
  // The same bytes as a frame: compression must round-trip.
  if (data.length > MAX_DECOMPRESSED_BYTES) return;
  const c = lzoCompress(data, 0, data.length, packed, 0);
  check(c > 0 && c <= lzoCompressBound(data.length), `lzoCompress returned ${c}`);
  const d = lzoDecompress(packed, 0, c, out, 0, MAX_DECOMPRESSED_BYTES);
  check(
    d === data.length && equalBytes(out.subarray(0, d), data),
    'compress then decompress is not identity',
  );
}
