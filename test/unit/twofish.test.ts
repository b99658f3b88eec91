// Twofish against the official vectors (spec §15.2, the paper's KAT and iterated tables) and CBC against a block-level reference.
import { describe, expect, it } from 'vitest';
import {
  TWOFISH_BLOCK_BYTES,
  TwofishCbc,
  twofishCbcDecrypt,
  twofishCbcEncrypt,
  twofishDecryptBlock,
  twofishEncryptBlock,
  twofishExpandKey,
  twofishQ,
} from '../../src/crypto/twofish.js';
import { SeededRandom } from '../../src/util/random.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s/g, ''), 'hex'));

// Known answers: spec §15.2 (Twofish-256) and the 128/192-bit vectors of the Twofish paper's
// appendix / ecb_tbl.txt (I=1 rows and the published "I=49" rows).
const KAT: [key: string, pt: string, ct: string][] = [
  ['00'.repeat(32), '00'.repeat(16), '57ff739d4dc92c1bd7fc01700cc8216f'],
  [
    '0123456789abcdeffedcba987654321000112233445566778899aabbccddeeff',
    '00'.repeat(16),
    '37527be0052334b89f0cfccae87cfa20',
  ],
  ['00'.repeat(16), '00'.repeat(16), '9f589f5cf6122c32b6bfec2f2ae8c35a'],
  ['0123456789abcdeffedcba98765432100011223344556677', '00'.repeat(16), 'cfd1d2e5a9be9cdf501f13b892bd2248'],
  [
    '248a7f3528b168acfdd1386e3f51e30c2e2158bc3e5fc714c1eeeca0ea696d48',
    '431058f4dbc7f734da4f02f04cc4f459',
    '37fe26ff1cf66175f5ddf4c33b97a205',
  ],
];

// ecb_tbl.txt chains 49 encryptions: the next plaintext is the ciphertext, the next key is
// (previous plaintext || previous key) cut to the key size. Result at I=49 per key size.
const ITERATED: Record<number, string> = {
  16: '5d9d4eeffa9151575524f115815a12e0',
  24: 'e75449212beef9f4a390bd860a640941',
  32: '37fe26ff1cf66175f5ddf4c33b97a205',
};

describe('twofish: tables', () => {
  it('q0 and q1 built from the 4-bit permutations start like the paper tables', () => {
    // Twofish paper §4.3.5 / reference code: q0 = a9 67 b3 e8 ..., q1 = 75 f3 c6 f4 ...
    expect(hex(twofishQ(0).subarray(0, 8))).toBe('a967b3e804fda376');
    expect(hex(twofishQ(1).subarray(0, 8))).toBe('75f3c6f4db7bfbc8');
    for (const which of [0, 1] as const) {
      expect(new Set(twofishQ(which)).size).toBe(256);
    }
  });
});

describe('twofish: official vectors', () => {
  it.each(KAT)('key %s pt %s', (k, pt, ct) => {
    const key = twofishExpandKey(unhex(k));
    const b = unhex(pt);
    twofishEncryptBlock(key, b, 0);
    expect(hex(b)).toBe(ct);
    twofishDecryptBlock(key, b, 0);
    expect(hex(b)).toBe(pt);
  });

  it.each([16, 24, 32])('iterated table, %i-byte key, I=49', (size) => {
    let key = new Uint8Array(size);
    let pt = new Uint8Array(16);
    for (let i = 0; i < 49; i++) {
      const ct = new Uint8Array(16);
      const expanded = twofishExpandKey(key);
      twofishEncryptBlock(expanded, pt, 0, ct, 0);
      const back = new Uint8Array(16);
      twofishDecryptBlock(expanded, ct, 0, back, 0);
      expect(back).toEqual(pt);
      const nextKey = new Uint8Array(size);
      nextKey.set(pt);
      nextKey.set(key.subarray(0, size - 16), 16);
      key = nextKey;
      pt = ct;
    }
    expect(hex(pt)).toBe(ITERATED[size]);
  });

  it('works at unaligned offsets inside larger buffers', () => {
    const key = twofishExpandKey(unhex(`ff${'00'.repeat(32)}`), 1, 32);
    const buf = new Uint8Array(40).fill(0xee);
    buf.fill(0, 7, 23);
    twofishEncryptBlock(key, buf, 7, buf, 21);
    expect(hex(buf.subarray(21, 37))).toBe('57ff739d4dc92c1bd7fc01700cc8216f');
    expect(buf[20]).toBe(0);
    expect(buf[37]).toBe(0xee);
  });

  it('rejects bad key sizes and ranges with RangeError', () => {
    expect(() => twofishExpandKey(new Uint8Array(20))).toThrow(RangeError);
    expect(() => twofishExpandKey(new Uint8Array(32), 4, 32)).toThrow(RangeError);
    const key = twofishExpandKey(new Uint8Array(32));
    expect(() => twofishEncryptBlock(key, new Uint8Array(16), 1)).toThrow(RangeError);
    expect(() => twofishCbcEncrypt(key, new Uint8Array(20), 0, 20, new Uint8Array(20), 0)).toThrow(
      RangeError,
    );
  });
});

describe('twofish: CBC', () => {
  const rnd = new SeededRandom(7);
  const rawKey = new Uint8Array(32);
  rnd.fill(rawKey);
  const key = twofishExpandKey(rawKey);

  /** CBC from single blocks, the textbook definition. */
  function refCbc(data: Uint8Array, iv: Uint8Array): Uint8Array {
    const out = new Uint8Array(data.length);
    let prev = iv;
    for (let i = 0; i < data.length; i += 16) {
      const x = data.slice(i, i + 16);
      for (let j = 0; j < 16; j++) x[j] ^= prev[j];
      twofishEncryptBlock(key, x, 0);
      out.set(x, i);
      prev = x;
    }
    return out;
  }

  it('matches block-by-block CBC, with and without IV, at odd offsets, and decrypts back', () => {
    for (const blocks of [1, 2, 5, 88]) {
      const len = blocks * TWOFISH_BLOCK_BYTES;
      const data = new Uint8Array(len);
      rnd.fill(data);
      const iv = new Uint8Array(16);
      rnd.fill(iv);
      const zero = new Uint8Array(16);

      const src = new Uint8Array(len + 3);
      src.set(data, 3);
      const dst = new Uint8Array(len + 5);
      twofishCbcEncrypt(key, src, 3, len, dst, 5);
      expect(dst.subarray(5)).toEqual(refCbc(data, zero));

      const ivBuf = new Uint8Array(17);
      ivBuf.set(iv, 1);
      twofishCbcEncrypt(key, src, 3, len, dst, 5, ivBuf, 1);
      expect(dst.subarray(5)).toEqual(refCbc(data, iv));

      const back = new Uint8Array(len + 1);
      twofishCbcDecrypt(key, dst, 5, len, back, 1, ivBuf, 1);
      expect(back.subarray(1)).toEqual(data);
    }
  });

  it('works in place and shifted down by one block', () => {
    const data = new Uint8Array(160);
    rnd.fill(data);
    const expect0 = refCbc(data, new Uint8Array(16));
    const buf = new Uint8Array(16 + 160);
    buf.set(data, 16);
    twofishCbcEncrypt(key, buf, 16, 160, buf, 16);
    expect(buf.subarray(16)).toEqual(expect0);
    twofishCbcDecrypt(key, buf, 16, 160, buf, 0);
    expect(buf.subarray(0, 160)).toEqual(data);
  });

  it('TwofishCbc offers the same operations', () => {
    const cbc = new TwofishCbc(rawKey);
    const data = new Uint8Array(64);
    rnd.fill(data);
    const out = new Uint8Array(64);
    cbc.encryptCbc(data, 0, 64, out, 0);
    expect(out).toEqual(refCbc(data, new Uint8Array(16)));
    const back = new Uint8Array(64);
    cbc.decryptCbc(out, 0, 64, back, 0);
    expect(back).toEqual(data);
    const blk = new Uint8Array(16);
    cbc.encryptBlock(data, 0, blk, 0);
    cbc.decryptBlock(blk, 0, blk, 0);
    expect(blk).toEqual(data.subarray(0, 16));
  });
});
