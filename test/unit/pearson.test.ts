// Pearson-B hashes against spec §15.1, upstream tests-hashing.expected and a BigInt reference.
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  pearsonHash16,
  pearsonHash32,
  pearsonHash64,
  pearsonHash64BigInt,
  pearsonHash64Bytes,
  pearsonHash128,
  pearsonHash256,
  type U64,
} from '../../src/crypto/pearson.js';
import { SeededRandom } from '../../src/util/random.js';
import { readExpectedSections, readExpectedValues } from './helpers/expected.js';

import { VECTORS } from './helpers/vectors.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

// Slow, obviously-correct reference written from spec §5.2 with BigInt.
const MASK = (1n << 64n) - 1n;
function mixRef(x: bigint): bigint {
  x ^= x >> 30n;
  x = (x * 0xbf58476d1ce4e5b9n) & MASK;
  x ^= x >> 27n;
  x = (x * 0x94d049bb133111ebn) & MASK;
  x ^= x >> 31n;
  return x;
}
function pearsonRef(data: Uint8Array, lanes: number): bigint[] {
  const h: bigint[] = new Array(lanes).fill(0n);
  const roundRef = (v: bigint): void => {
    for (let j = 0; j < lanes; j++) h[j] = mixRef(((h[j] ^ v) - BigInt(j + 1)) & MASK);
  };
  let p = 0;
  for (; p + 8 <= data.length; p += 8) {
    let w = 0n;
    for (let i = 7; i >= 0; i--) w = (w << 8n) | BigInt(data[p + i]);
    roundRef(w);
  }
  for (let j = 0; j < lanes; j++) h[j] = ~h[j] & MASK;
  for (; p < data.length; p++) roundRef(BigInt(data[p]));
  for (let j = 0; j < lanes; j++) h[j] = ~h[j] & MASK;
  roundRef(BigInt(data.length));
  return h;
}
function refBytes(data: Uint8Array, lanes: number): string {
  return pearsonRef(data, lanes)
    .reverse()
    .map((v) => v.toString(16).padStart(16, '0'))
    .join('');
}

// Spec §15.1.
const TABLE: [string, string, string, string][] = [
  [
    '',
    'b4d055fcf2cbbd7b',
    'da26e52fa3730902b4d055fcf2cbbd7b',
    '6c3e53de84464c171530a8f4452503cfda26e52fa3730902b4d055fcf2cbbd7b',
  ],
  [
    'a',
    '42a5b4d83042939e',
    'a4ff6ac309b06bf442a5b4d83042939e',
    '0548c4415b83b80085becc9f5b34dc5fa4ff6ac309b06bf442a5b4d83042939e',
  ],
  [
    'abc',
    '582b9df2877cecc8',
    'ddd72677a34de940582b9df2877cecc8',
    '1e217c823e460b8a3250f472071865d5ddd72677a34de940582b9df2877cecc8',
  ],
  [
    'n2n',
    '0c3cc37678291925',
    '3b34895bdd72c85f0c3cc37678291925',
    'd5833e595a43c1d1a672a4f1396e20cc3b34895bdd72c85f0c3cc37678291925',
  ],
  [
    'mynetwork',
    '43203eef5affc9db',
    '472272a65db1d22443203eef5affc9db',
    'c63020f26244641c6efb688b6c78c6b6472272a65db1d22443203eef5affc9db',
  ],
  [
    '0123456789abcdef0123',
    'ed9b52dacb16bc5e',
    '24e3f3cbf2c69749ed9b52dacb16bc5e',
    '45908a40b3afd57193d54a5de38a890124e3f3cbf2c69749ed9b52dacb16bc5e',
  ],
];

describe('Pearson-B', () => {
  it.each(TABLE)('spec §15.1 vector %j', (input, h64, h128, h256) => {
    const d = ascii(input);
    expect(hex(pearsonHash64Bytes(d))).toBe(h64);
    expect(hex(pearsonHash128(d))).toBe(h128);
    expect(hex(pearsonHash256(d))).toBe(h256);
    const r = pearsonHash64(d);
    expect(r.hi.toString(16).padStart(8, '0') + r.lo.toString(16).padStart(8, '0')).toBe(h64);
    expect(pearsonHash64BigInt(d)).toBe(BigInt(`0x${h64}`));
    expect(pearsonHash32(d)).toBe(Number.parseInt(h64.slice(8), 16));
    expect(pearsonHash16(d)).toBe(Number.parseInt(h64.slice(12), 16));
    // The reference agrees with the table too (it is what the random cross-check trusts).
    expect(refBytes(d, 4)).toBe(h256);
  });

  it('matches upstream tests-hashing.expected', () => {
    const file = resolve(VECTORS, 'upstream-tests/tests-hashing.expected');
    const sections = readExpectedSections(file);
    const values = readExpectedValues(file);
    const input = sections.get('environment: input size = 0x200')!;
    expect(input.length).toBe(0x200);
    expect(hex(pearsonHash256(input))).toBe(hex(sections.get('pearson_hash_256: output')!));
    expect(hex(pearsonHash128(input))).toBe(hex(sections.get('pearson_hash_128: output')!));
    expect(pearsonHash64BigInt(input)).toBe(BigInt(values.get('pearson_hash_64: output')!));
    expect(pearsonHash32(input)).toBe(Number(values.get('pearson_hash_32: output')));
    expect(pearsonHash16(input)).toBe(Number(values.get('pearson_hash_16: output')));
    expect(hex(pearsonHash64Bytes(input))).toBe('b2d98fa82ea108be');
  });

  it('agrees with the BigInt reference on random inputs of every length 0..80 and beyond', () => {
    const rnd = new SeededRandom(0x9e3779b9);
    const lengths = [...Array.from({ length: 81 }, (_, i) => i), 127, 128, 129, 1400, 1500];
    for (const len of lengths) {
      const d = new Uint8Array(len);
      rnd.fill(d);
      expect(hex(pearsonHash256(d))).toBe(refBytes(d, 4));
      expect(hex(pearsonHash128(d))).toBe(refBytes(d, 2));
      expect(hex(pearsonHash64Bytes(d))).toBe(refBytes(d, 1));
    }
  });

  it('exercises 0xff-heavy inputs (borrows and carries in the 32-bit halves)', () => {
    for (const fill of [0x00, 0xff, 0x80, 0x01]) {
      for (const len of [1, 7, 8, 9, 16, 33]) {
        const d = new Uint8Array(len).fill(fill);
        expect(hex(pearsonHash256(d))).toBe(refBytes(d, 4));
      }
    }
  });

  it('hashes a range at a non-zero offset and writes output at an offset', () => {
    const rnd = new SeededRandom(7);
    const big = new Uint8Array(300);
    rnd.fill(big);
    for (const [off, len] of [
      [1, 0],
      [3, 13],
      [5, 200],
      [17, 283],
    ]) {
      const view = big.slice(off, off + len);
      const expected = refBytes(view, 1);
      const out = new Uint8Array(20).fill(0xee);
      pearsonHash64Bytes(big, off, len, out, 7);
      expect(hex(out.subarray(7, 15))).toBe(expected);
      expect(out[6]).toBe(0xee);
      expect(out[15]).toBe(0xee);
      const reused: U64 = { hi: 1, lo: 2 };
      expect(pearsonHash64(big, off, len, reused)).toBe(reused);
      expect(reused.hi.toString(16).padStart(8, '0') + reused.lo.toString(16).padStart(8, '0')).toBe(
        expected,
      );
      expect(pearsonHash32(big, off, len)).toBe(Number.parseInt(expected.slice(8), 16));
      // H128/H256 take subarrays (views, not copies) and write at an output offset.
      const o2 = new Uint8Array(40);
      pearsonHash128(big.subarray(off, off + len), o2, 3);
      expect(hex(o2.subarray(3, 19))).toBe(refBytes(view, 2));
      pearsonHash256(big.subarray(off, off + len), o2, 8);
      expect(hex(o2.subarray(8, 40))).toBe(refBytes(view, 4));
    }
  });

  it('rejects ranges outside the buffer', () => {
    const d = new Uint8Array(8);
    expect(() => pearsonHash64(d, 4, 5)).toThrow(RangeError);
    expect(() => pearsonHash64Bytes(d, -1, 2)).toThrow(RangeError);
  });
});
