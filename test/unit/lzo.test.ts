// LZO1X-1: byte-identical to upstream tests-compress.expected, round trips, and a decompressor that survives any input.
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  checkCompressionSupported,
  compressionName,
  compressPayload,
  decompressPayload,
  MAX_DECOMPRESSED_BYTES,
} from '../../src/transform/compression.js';
import { lzoCompress, lzoCompressBound, lzoDecompress } from '../../src/transform/lzo.js';
import { ConfigError } from '../../src/util/errors.js';
import { SeededRandom } from '../../src/util/random.js';
import { CompressionId } from '../../src/wire/types.js';
import { readExpectedSections } from './helpers/expected.js';

import { VECTORS } from './helpers/vectors.js';

const expected = readExpectedSections(resolve(VECTORS, 'upstream-tests/tests-compress.expected'));

function compress(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(lzoCompressBound(data.length));
  const n = lzoCompress(data, 0, data.length, out, 0);
  expect(n).toBeGreaterThan(0);
  return out.slice(0, n);
}

function decompress(data: Uint8Array, maxOut = 1 << 20): Uint8Array | null {
  const out = new Uint8Array(maxOut);
  const n = lzoDecompress(data, 0, data.length, out, 0, maxOut);
  return n < 0 ? null : out.slice(0, n);
}

function roundTrip(data: Uint8Array): Uint8Array {
  const c = compress(data);
  expect(c.length).toBeLessThanOrEqual(lzoCompressBound(data.length));
  const back = decompress(c, data.length);
  // Buffer.equals: vitest's deep equality is slow on 100 KiB arrays.
  expect(back !== null && Buffer.from(back).equals(Buffer.from(data))).toBe(true);
  return c;
}

/** Text-like data with repeats at all distances (exercises M2, M3 and M4 matches). */
function repetitive(n: number, rnd: SeededRandom): Uint8Array {
  const words = ['n2n ', 'edge ', 'supernode ', 'community ', '\x00\x00\x00\x00', 'ping 172.29.0.2 '];
  const out = new Uint8Array(n);
  let p = 0;
  while (p < n) {
    const r = rnd.u32();
    if (r % 7 === 0 && p > 40) {
      // Copy from a random earlier distance (up to 48 KiB back).
      const dist = 1 + (rnd.u32() % Math.min(p, 49_000));
      const len = 3 + (rnd.u32() % 300);
      for (let i = 0; i < len && p < n; i++, p++) out[p] = out[p - dist];
    } else if (r % 5 === 0) {
      out[p++] = rnd.u32() & 0xff;
    } else {
      const w = words[r % words.length];
      for (let i = 0; i < w.length && p < n; i++) out[p++] = w.charCodeAt(i);
    }
  }
  return out;
}

describe('lzo1x-1: upstream vector', () => {
  it('compresses the 512-byte pattern exactly like minilzo (tests-compress.expected)', () => {
    const input = expected.get('original: input size = 0x200');
    const want = expected.get('lzo1x: output size = 0x2f');
    expect(input?.length).toBe(0x200);
    expect(want?.length).toBe(0x2f);
    const got = compress(input as Uint8Array);
    expect(Buffer.from(got).toString('hex')).toBe(Buffer.from(want as Uint8Array).toString('hex'));
    expect(decompress(want as Uint8Array)).toEqual(input);
  });

  it('writes at a non-zero offset and decompresses from one', () => {
    const input = expected.get('original: input size = 0x200') as Uint8Array;
    const src = new Uint8Array(input.length + 7);
    src.set(input, 7);
    const out = new Uint8Array(200);
    const n = lzoCompress(src, 7, input.length, out, 11);
    expect(n).toBe(0x2f);
    const back = new Uint8Array(600);
    expect(lzoDecompress(out, 11, n, back, 5, 512)).toBe(512);
    expect(back.subarray(5, 517)).toEqual(input);
    expect(back[4]).toBe(0);
    expect(back[517]).toBe(0);
  });
});

describe('lzo1x-1: round trips', () => {
  const rnd = new SeededRandom(0x1234);

  it('short inputs are stored as a single literal run', () => {
    for (const n of [0, 1, 3, 4, 17, 20]) {
      const data = new Uint8Array(n);
      rnd.fill(data);
      const c = roundTrip(data);
      expect(c.length).toBe(n === 0 ? 3 : 1 + n + 3);
    }
  });

  it('random data (incompressible) of many sizes', () => {
    for (const n of [21, 22, 50, 64, 255, 256, 1000, 1400, 2048, 5000, 70_000]) {
      const data = new Uint8Array(n);
      rnd.fill(data);
      roundTrip(data);
    }
  });

  it('repetitive data, including inputs spanning several 48 KiB chunks', () => {
    for (const n of [21, 100, 1400, 2048, 49_152, 49_153, 49_173, 120_000]) {
      const data = repetitive(n, rnd);
      const c = roundTrip(data);
      if (n >= 1400) expect(c.length).toBeLessThan(n);
    }
  });

  it('long runs of one byte and long literal runs', () => {
    const zeros = new Uint8Array(70_000);
    const c = roundTrip(zeros);
    expect(c.length).toBeLessThan(600);
    const mixed = new Uint8Array(3000);
    rnd.fill(mixed.subarray(0, 1000));
    mixed.fill(0x41, 1000, 2500);
    rnd.fill(mixed.subarray(2500));
    roundTrip(mixed);
  });

  it('stops with -1 when the output would exceed maxOut, without writing past it', () => {
    const data = new Uint8Array(1400);
    rnd.fill(data);
    const out = new Uint8Array(2000).fill(0xaa);
    expect(lzoCompress(data, 0, data.length, out, 10, 1399)).toBe(-1);
    expect(out.subarray(1409).every((b) => b === 0xaa)).toBe(true);
    expect(out.subarray(0, 10).every((b) => b === 0xaa)).toBe(true);
    const rep = repetitive(1400, rnd);
    const full = compress(rep);
    expect(lzoCompress(rep, 0, rep.length, out, 0, full.length)).toBe(full.length);
    expect(lzoCompress(rep, 0, rep.length, out, 0, full.length - 1)).toBe(-1);
  });
});

describe('lzo1x decompressor: hostile input', () => {
  const rnd = new SeededRandom(99);

  it('rejects truncation, trailing garbage, output overflow and look-behind', () => {
    const data = repetitive(1400, rnd);
    const c = compress(data);
    for (let cut = 0; cut < c.length; cut++) expect(decompress(c.subarray(0, cut), 4096)).toBeNull();
    const longer = new Uint8Array(c.length + 1);
    longer.set(c);
    expect(decompress(longer, 4096)).toBeNull();
    expect(decompress(c, data.length - 1)).toBeNull();
    // A match that reaches before the start of the output: literal "ab" then M2 at distance 8.
    expect(decompress(Uint8Array.from([17 + 2, 0x61, 0x62, 0x60 | (7 << 2), 0, 0x11, 0, 0]))).toBeNull();
    expect(decompress(new Uint8Array(0))).toBeNull();
  });

  it('never throws and never writes outside its window on random or mutated input', () => {
    const base = compress(repetitive(1400, rnd));
    const out = new Uint8Array(3000);
    for (let i = 0; i < 4000; i++) {
      let input: Uint8Array;
      if (i % 2 === 0) {
        input = new Uint8Array(1 + (rnd.u32() % 300));
        rnd.fill(input);
      } else {
        input = base.slice();
        const flips = 1 + (rnd.u32() % 4);
        for (let f = 0; f < flips; f++) input[rnd.u32() % input.length] = rnd.u32() & 0xff;
      }
      out.fill(0xcc);
      const n = lzoDecompress(input, 0, input.length, out, 100, 2048);
      expect(n).toBeGreaterThanOrEqual(-1);
      expect(n).toBeLessThanOrEqual(2048);
      expect(out.subarray(0, 100).every((b) => b === 0xcc)).toBe(true);
      expect(out.subarray(2148).every((b) => b === 0xcc)).toBe(true);
    }
  });
});

describe('compression rules (spec §5.1)', () => {
  const rnd = new SeededRandom(5);

  it('uses LZO only when strictly shorter', () => {
    const frame = repetitive(1400, rnd);
    const dst = new Uint8Array(2048);
    const n = compressPayload(CompressionId.LZO, frame, 0, frame.length, dst, 4);
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThan(frame.length);
    const back = new Uint8Array(2048);
    expect(decompressPayload(CompressionId.LZO, dst, 4, n, back, 0)).toBe(1400);
    expect(back.subarray(0, 1400)).toEqual(frame);

    const noise = new Uint8Array(1400);
    rnd.fill(noise);
    expect(compressPayload(CompressionId.LZO, noise, 0, noise.length, dst, 0)).toBe(-1);
    expect(compressPayload(CompressionId.NONE, frame, 0, frame.length, dst, 0)).toBe(-1);
    expect(compressPayload(CompressionId.LZO, new Uint8Array(2049), 0, 2049, new Uint8Array(4096), 0)).toBe(
      -1,
    );
  });

  it('receivers drop invalid, zstd and unknown ids and oversized output', () => {
    const src = Uint8Array.from([1, 2, 3]);
    const dst = new Uint8Array(16);
    expect(decompressPayload(CompressionId.INVALID, src, 0, 3, dst, 0)).toBe(-1);
    expect(decompressPayload(CompressionId.ZSTD, src, 0, 3, dst, 0)).toBe(-1);
    expect(decompressPayload(9, src, 0, 3, dst, 0)).toBe(-1);
    expect(decompressPayload(CompressionId.NONE, src, 0, 3, dst, 2)).toBe(3);
    expect(dst.subarray(2, 5)).toEqual(src);
    const zeros = compress(new Uint8Array(MAX_DECOMPRESSED_BYTES + 1));
    expect(decompressPayload(CompressionId.LZO, zeros, 0, zeros.length, new Uint8Array(4096), 0, 4096)).toBe(
      -1,
    );
    expect(decompressPayload(CompressionId.LZO, src, 0, 3, dst, 0)).toBe(-1);
  });

  it('configuring zstd is a clear ConfigError', () => {
    expect(checkCompressionSupported(CompressionId.LZO)).toBe(CompressionId.LZO);
    expect(checkCompressionSupported(CompressionId.NONE)).toBe(CompressionId.NONE);
    expect(() => checkCompressionSupported(CompressionId.ZSTD)).toThrow(ConfigError);
    expect(() => checkCompressionSupported(CompressionId.ZSTD)).toThrow(/not supported/);
    expect(() => checkCompressionSupported(7)).toThrow(ConfigError);
    expect(compressionName(CompressionId.LZO)).toBe('lzo1x');
    expect(compressionName(0)).toBe('invalid');
  });
});
