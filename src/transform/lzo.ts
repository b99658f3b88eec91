// LZO1X-1 compressor (same output as minilzo 2.10's lzo1x_1_compress on x86-64) and a bounds-checked LZO1X decompressor.
//
// Stream format (LZO1X, as decoded by minilzo's lzo1x_decompress): a sequence of literal runs and
// matches; the low two bits of a match's offset byte say how many literals (0..3) follow it.
// * first byte > 17: a literal run of (byte - 17) bytes opens the stream;
// * 0..15 after a match with no trailing literals: literal run of (t + 3), t = 0 extends with zero
//   bytes (+255 each) and a final byte (+15 + byte);
// * 0..15 right after a literal run of 4+: 3-byte match at distance 0x801 + (t >> 2) + (next << 2);
// * 0..15 after 1..3 trailing literals: 2-byte match at distance 1 + (t >> 2) + (next << 2);
// * 64..255 (M2): length (t >> 5) + 1, distance 1 + ((t >> 2) & 7) + (next << 3);
// * 32..63 (M3): length (t & 31) + 2 (0 extends, base 33), distance 1 + (LE16 >> 2), up to 16 KiB;
// * 16..31 (M4): length (t & 7) + 2 (0 extends, base 9), distance 16 KiB + ((t & 8) << 11) +
//   (LE16 >> 2); distance exactly 16 KiB (i.e. the bytes 0x11 0x00 0x00) ends the stream.
//
// The compressor follows lzo1x_1_compress (minilzo.c: do_compress and its caller): 14-bit hash
// dictionary of 16-bit positions, multiplicative hash 0x1824429d of 4 bytes, literal skipping that
// speeds up as a literal run grows, 49152-byte chunks, last 20 bytes always literal. Match lengths
// are extended 8 bytes at a time and stop counting once they reach the last 20 bytes, as the
// 64-bit little-endian build does; that makes the output byte-identical to the C edges' output.
// (Matching the C output is not required for interoperability, spec §5.1, but it lets us test
// against upstream's tests-compress.expected.)

// minilzo.c: D_BITS, the dictionary hash multiplier.
const D_BITS = 14;
const D_SIZE = 1 << D_BITS;
const D_MUL = 0x1824429d;
// minilzo.c: lzo1x_1_compress works in chunks of at most this many bytes.
const CHUNK_BYTES = 49152;
// minilzo.c: inputs (and chunk tails) of up to this many bytes are stored as literals.
const TAIL_LITERALS = 20;
// LZO1X match classes (minilzo.c: M2_MAX_LEN ... M4_MARKER).
const M2_MAX_LEN = 8;
const M3_MAX_LEN = 33;
const M4_MAX_LEN = 9;
const M2_MAX_OFFSET = 0x0800;
const M3_MAX_OFFSET = 0x4000;
const M3_MARKER = 32;
const M4_MARKER = 16;
// A literal run right at the start of the stream can be coded in one byte up to this length.
const FIRST_RUN_MAX = 238;
const FIRST_RUN_BIAS = 17;
const EOF_BYTES = 3;
const RUN_EXTEND = 255;

/** Worst-case compressed size of `len` input bytes (minilzo's documented bound). */
export function lzoCompressBound(len: number): number {
  return len + (len >>> 4) + 64 + 3;
}

// Dictionary of positions relative to the chunk start (the C build's 16-bit lzo_dict_t).
const dict = new Uint16Array(D_SIZE);
// Where compressChunk left the output position; module-level so nothing is allocated per call.
let chunkOp = 0;

function readLe32(b: Uint8Array, p: number): number {
  return b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24);
}

/** Bytes needed to code a literal-run header for t literals (t > 18) or a long match remainder. */
function extendBytes(rest: number): number {
  // One final byte plus one zero byte for every full 255 beyond the first.
  return 1 + Math.floor((rest - 1) / RUN_EXTEND);
}

/**
 * One chunk of lzo1x_1_compress (minilzo.c: do_compress). `ti` literals before `inStart` are still
 * pending from the previous chunk. Writes from `op`, never past `limit`; returns the number of
 * literals left pending at the end of the chunk, or -1 if the output would pass `limit`.
 */
function compressChunk(
  src: Uint8Array,
  inStart: number,
  inLen: number,
  dst: Uint8Array,
  op: number,
  limit: number,
  ti: number,
): number {
  const inEnd = inStart + inLen;
  const ipEnd = inEnd - TAIL_LITERALS;
  let ii = inStart;
  let ip = inStart + (ti < 4 ? 4 - ti : 0);
  // do_compress enters its loop through the literal step, so the first probe is one byte later.
  ip += 1 + ((ip - ii) >> 5);
  while (ip < ipEnd) {
    const dv = readLe32(src, ip);
    const h = Math.imul(D_MUL, dv) >>> (32 - D_BITS);
    const mPos = inStart + dict[h];
    dict[h] = ip - inStart;
    if (dv !== readLe32(src, mPos)) {
      // No match: skip ahead, faster the longer the current literal run is.
      ip += 1 + ((ip - ii) >> 5);
      continue;
    }
    // Flush the pending literals [ii, ip), including any carried over from the previous chunk.
    ii -= ti;
    ti = 0;
    const t = ip - ii;
    if (t !== 0) {
      const head = t <= 3 ? 0 : t <= 18 ? 1 : 1 + extendBytes(t - 18);
      if (op + head + t > limit) return -1;
      if (t <= 3) {
        // Up to 3 literals ride in the low bits of the previous match's offset byte.
        dst[op - 2] |= t;
      } else if (t <= 18) {
        dst[op++] = t - 3;
      } else {
        let tt = t - 18;
        dst[op++] = 0;
        while (tt > RUN_EXTEND) {
          tt -= RUN_EXTEND;
          dst[op++] = 0;
        }
        dst[op++] = tt;
      }
      dst.set(src.subarray(ii, ip), op);
      op += t;
    }
    // Match length: 4 known bytes, then 8-byte steps that stop counting inside the last 20 bytes.
    let mLen = 4;
    let same = 0;
    while (same < 8 && src[ip + mLen + same] === src[mPos + mLen + same]) same++;
    if (same === 8) {
      for (;;) {
        mLen += 8;
        same = 0;
        while (same < 8 && src[ip + mLen + same] === src[mPos + mLen + same]) same++;
        if (ip + mLen >= ipEnd) {
          same = 0;
          break;
        }
        if (same !== 8) break;
      }
    }
    mLen += same;
    let mOff = ip - mPos;
    ip += mLen;
    ii = ip;
    if (mLen <= M2_MAX_LEN && mOff <= M2_MAX_OFFSET) {
      if (op + 2 > limit) return -1;
      mOff -= 1;
      dst[op++] = ((mLen - 1) << 5) | ((mOff & 7) << 2);
      dst[op++] = mOff >>> 3;
    } else {
      const isM3 = mOff <= M3_MAX_OFFSET;
      const maxLen = isM3 ? M3_MAX_LEN : M4_MAX_LEN;
      const size = 3 + (mLen <= maxLen ? 0 : extendBytes(mLen - maxLen));
      if (op + size > limit) return -1;
      let marker: number;
      if (isM3) {
        mOff -= 1;
        marker = M3_MARKER;
      } else {
        mOff -= M3_MAX_OFFSET;
        marker = M4_MARKER | ((mOff >>> 11) & 8);
      }
      if (mLen <= maxLen) {
        dst[op++] = marker | (mLen - 2);
      } else {
        let rest = mLen - maxLen;
        dst[op++] = marker;
        while (rest > RUN_EXTEND) {
          rest -= RUN_EXTEND;
          dst[op++] = 0;
        }
        dst[op++] = rest;
      }
      dst[op++] = (mOff << 2) & 0xff;
      dst[op++] = (mOff >>> 6) & 0xff;
    }
  }
  chunkOp = op;
  return inEnd - (ii - ti);
}

/**
 * LZO1X-1 compression of src[off, off+len) into dst from dstOff. Returns the number of bytes
 * written, or -1 if they would exceed `maxOut` (default: the room left in dst; pass a smaller value
 * to give up early on data that does not compress). Never writes past dstOff + maxOut.
 * lzoCompressBound(len) bytes of room always suffice. Throws RangeError only for a bad src range.
 */
export function lzoCompress(
  src: Uint8Array,
  off: number,
  len: number,
  dst: Uint8Array,
  dstOff: number,
  maxOut: number = dst.length - dstOff,
): number {
  if (!(off >= 0 && len >= 0 && off + len <= src.length)) {
    throw new RangeError(`lzo: input range ${off}+${len} outside ${src.length} bytes`);
  }
  if (!(dstOff >= 0 && dstOff <= dst.length)) {
    throw new RangeError(`lzo: output offset ${dstOff} outside ${dst.length} bytes`);
  }
  const limit = dstOff + Math.max(0, Math.min(maxOut, dst.length - dstOff));
  let op = dstOff;
  let ip = off;
  let left = len;
  let t = 0;
  while (left > TAIL_LITERALS) {
    const ll = Math.min(left, CHUNK_BYTES);
    dict.fill(0);
    t = compressChunk(src, ip, ll, dst, op, limit, t);
    if (t < 0) return -1;
    op = chunkOp;
    ip += ll;
    left -= ll;
  }
  t += left;
  if (t > 0) {
    const ii = off + len - t;
    const atStart = op === dstOff;
    const head = atStart && t <= FIRST_RUN_MAX ? 1 : t <= 3 ? 0 : t <= 18 ? 1 : 1 + extendBytes(t - 18);
    if (op + head + t > limit) return -1;
    if (atStart && t <= FIRST_RUN_MAX) {
      dst[op++] = FIRST_RUN_BIAS + t;
    } else if (t <= 3) {
      dst[op - 2] |= t;
    } else if (t <= 18) {
      dst[op++] = t - 3;
    } else {
      let tt = t - 18;
      dst[op++] = 0;
      while (tt > RUN_EXTEND) {
        tt -= RUN_EXTEND;
        dst[op++] = 0;
      }
      dst[op++] = tt;
    }
    dst.set(src.subarray(ii, ii + t), op);
    op += t;
  }
  if (op + EOF_BYTES > limit) return -1;
  // End of stream: an M4 match of distance 16 KiB (minilzo.c: M4_MARKER | 1, 0, 0).
  dst[op++] = M4_MARKER | 1;
  dst[op++] = 0;
  dst[op++] = 0;
  return op - dstOff;
}

// Decoder states (the labels of minilzo's lzo1x_decompress).
const S_INSTRUCTION = 0; // after a match without trailing literals: literal run or match
const S_AFTER_RUN = 1; // right after a literal run of 4+: a match, 0..15 = 3-byte short match
const S_MATCH = 2; // t holds a match instruction (0..15 = 2-byte short match)
const S_TRAILING = 3; // t holds 1..3 literals that follow a match

/**
 * Decompresses the LZO1X stream src[off, off+len) into dst from dstOff, writing at most `maxOut`
 * bytes. Returns the decompressed length, or -1 if the stream is corrupt, truncated, has bytes after
 * its end marker, refers before the start of the output, or would exceed `maxOut`. Every read and
 * write is bounds-checked; it never throws for any input bytes.
 */
export function lzoDecompress(
  src: Uint8Array,
  off: number,
  len: number,
  dst: Uint8Array,
  dstOff: number,
  maxOut: number,
): number {
  if (!(off >= 0 && len >= 0 && off + len <= src.length && dstOff >= 0 && dstOff <= dst.length)) return -1;
  const ipEnd = off + len;
  const opEnd = dstOff + Math.max(0, Math.min(maxOut, dst.length - dstOff));
  let ip = off;
  let op = dstOff;
  let t = 0;
  let state = S_INSTRUCTION;
  if (ip >= ipEnd) return -1;
  if (src[ip] > FIRST_RUN_BIAS) {
    t = src[ip++] - FIRST_RUN_BIAS;
    if (t < 4) {
      state = S_TRAILING;
    } else {
      if (ip + t > ipEnd || op + t > opEnd) return -1;
      dst.set(src.subarray(ip, ip + t), op);
      ip += t;
      op += t;
      state = S_AFTER_RUN;
    }
  }
  for (;;) {
    let mPos: number;
    let mLen: number;
    if (state === S_INSTRUCTION || state === S_AFTER_RUN) {
      if (ip >= ipEnd) return -1;
      t = src[ip++];
      if (t < 16) {
        if (state === S_AFTER_RUN) {
          // A 3-byte match just beyond M2's reach.
          if (ip >= ipEnd) return -1;
          mPos = op - (1 + M2_MAX_OFFSET) - (t >> 2) - (src[ip++] << 2);
          mLen = 3;
        } else {
          // Literal run of t + 3 bytes.
          if (t === 0) {
            while (ip < ipEnd && src[ip] === 0) {
              t += RUN_EXTEND;
              ip++;
            }
            if (ip >= ipEnd) return -1;
            t += 15 + src[ip++];
          }
          t += 3;
          if (ip + t > ipEnd || op + t > opEnd) return -1;
          dst.set(src.subarray(ip, ip + t), op);
          ip += t;
          op += t;
          state = S_AFTER_RUN;
          continue;
        }
      } else {
        state = S_MATCH;
        continue;
      }
    } else if (state === S_TRAILING) {
      if (ip + t > ipEnd || op + t > opEnd) return -1;
      for (let i = 0; i < t; i++) dst[op++] = src[ip++];
      if (ip >= ipEnd) return -1;
      t = src[ip++];
      state = S_MATCH;
      continue;
    } else {
      // S_MATCH: t is the instruction byte.
      if (t >= 64) {
        if (ip >= ipEnd) return -1;
        mPos = op - 1 - ((t >> 2) & 7) - (src[ip++] << 3);
        mLen = (t >> 5) + 1;
      } else if (t >= M3_MARKER) {
        mLen = t & 31;
        if (mLen === 0) {
          while (ip < ipEnd && src[ip] === 0) {
            mLen += RUN_EXTEND;
            ip++;
          }
          if (ip >= ipEnd) return -1;
          mLen += 31 + src[ip++];
        }
        mLen += 2;
        if (ip + 2 > ipEnd) return -1;
        mPos = op - 1 - ((src[ip] | (src[ip + 1] << 8)) >> 2);
        ip += 2;
      } else if (t >= M4_MARKER) {
        mPos = op - ((t & 8) << 11);
        mLen = t & 7;
        if (mLen === 0) {
          while (ip < ipEnd && src[ip] === 0) {
            mLen += RUN_EXTEND;
            ip++;
          }
          if (ip >= ipEnd) return -1;
          mLen += 7 + src[ip++];
        }
        mLen += 2;
        if (ip + 2 > ipEnd) return -1;
        mPos -= (src[ip] | (src[ip + 1] << 8)) >> 2;
        ip += 2;
        if (mPos === op) {
          // End marker: the whole input must have been consumed.
          return ip === ipEnd ? op - dstOff : -1;
        }
        mPos -= M3_MAX_OFFSET;
      } else {
        // A 2-byte match after trailing literals.
        if (ip >= ipEnd) return -1;
        mPos = op - 1 - (t >> 2) - (src[ip++] << 2);
        mLen = 2;
      }
    }
    // Copy the match (byte by byte: source and destination may overlap for short distances).
    if (mPos < dstOff || op + mLen > opEnd) return -1;
    for (let i = 0; i < mLen; i++) dst[op++] = dst[mPos++];
    // The low two bits of the byte two before the current position count trailing literals.
    t = src[ip - 2] & 3;
    state = t === 0 ? S_INSTRUCTION : S_TRAILING;
  }
}
