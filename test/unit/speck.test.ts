// Speck128/128, Speck128/256 and n2n's CTR mode against spec §15.2 and a BigInt reference.
import { describe, expect, it } from 'vitest';
import {
  SPECK_ROUNDS_128,
  SPECK_ROUNDS_256,
  SpeckKey,
  speckCtr,
  speckDecryptBlock,
  speckEncryptBlock,
  speckExpandKey,
} from '../../src/crypto/speck.js';
import { SeededRandom } from '../../src/util/random.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s/g, ''), 'hex'));
const seq = (n: number, start = 0): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (start + i) & 0xff);

// Reference from spec §5.3 with BigInt.
const M = (1n << 64n) - 1n;
const ror = (x: bigint, r: bigint): bigint => ((x >> r) | (x << (64n - r))) & M;
const rol = (x: bigint, r: bigint): bigint => ((x << r) | (x >> (64n - r))) & M;
const le64 = (b: Uint8Array, p: number): bigint => {
  let v = 0n;
  for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(b[p + i]);
  return v;
};
const putLe64 = (b: Uint8Array, p: number, v: bigint): void => {
  for (let i = 0; i < 8; i++) b[p + i] = Number((v >> BigInt(8 * i)) & 0xffn);
};
function refSchedule(key: Uint8Array): bigint[] {
  const m = key.length / 8;
  const rounds = m === 2 ? 32 : 34;
  let k = le64(key, 0);
  const l: bigint[] = [];
  for (let j = 1; j < m; j++) l.push(le64(key, 8 * j));
  const rk: bigint[] = [];
  for (let i = 0; i < rounds; i++) {
    rk.push(k);
    const nl = ((ror(l[i], 8n) + k) & M) ^ BigInt(i);
    l.push(nl);
    k = rol(k, 3n) ^ nl;
  }
  return rk;
}
function refEncrypt(rk: bigint[], block: Uint8Array): Uint8Array {
  let y = le64(block, 0);
  let x = le64(block, 8);
  for (const k of rk) {
    x = ((ror(x, 8n) + y) & M) ^ k;
    y = rol(y, 3n) ^ x;
  }
  const out = new Uint8Array(16);
  putLe64(out, 0, y);
  putLe64(out, 8, x);
  return out;
}
function refCtr(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  const rk = refSchedule(key);
  const n0 = le64(iv, 0);
  const out = new Uint8Array(data.length);
  for (let i = 0; i * 16 < data.length; i++) {
    const blk = new Uint8Array(16);
    putLe64(blk, 0, (n0 + BigInt(i)) & M);
    blk.set(iv.subarray(8, 16), 8);
    const ks = refEncrypt(rk, blk);
    for (let j = 0; j < 16 && i * 16 + j < data.length; j++) out[i * 16 + j] = data[i * 16 + j] ^ ks[j];
  }
  return out;
}

/** CTR the simple way: one speckEncryptBlock per counter block (the block function is checked above). */
function blockwiseCtr(k: SpeckKey, iv: Uint8Array, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length);
  const blk = new Uint8Array(16);
  const n0 = le64(iv, 0);
  for (let i = 0; i * 16 < data.length; i++) {
    putLe64(blk, 0, (n0 + BigInt(i)) & M);
    blk.set(iv.subarray(8, 16), 8);
    speckEncryptBlock(k, blk);
    for (let j = 0; j < 16 && i * 16 + j < data.length; j++) out[i * 16 + j] = data[i * 16 + j] ^ blk[j];
  }
  return out;
}

describe('Speck block cipher', () => {
  it('Speck128/128 official vector (§15.2) both ways', () => {
    const k = speckExpandKey(seq(16));
    expect(k.rounds).toBe(SPECK_ROUNDS_128);
    const b = unhex('206d616465206974206571756976616c');
    speckEncryptBlock(k, b);
    expect(hex(b)).toBe('180d575cdffe60786532787951985da6');
    speckDecryptBlock(k, b);
    expect(hex(b)).toBe('206d616465206974206571756976616c');
  });

  it('Speck128/256 official vector (§15.2) both ways', () => {
    const k = speckExpandKey(seq(32));
    expect(k.rounds).toBe(SPECK_ROUNDS_256);
    const b = unhex('706f6f6e65722e20496e2074686f7365');
    speckEncryptBlock(k, b);
    expect(hex(b)).toBe('438f189c8db4ee4e3ef5c00504010941');
    speckDecryptBlock(k, b);
    expect(hex(b)).toBe('706f6f6e65722e20496e2074686f7365');
  });

  it('matches the BigInt reference on random keys and blocks, at unaligned offsets', () => {
    const rnd = new SeededRandom(0xc0ffee);
    for (let n = 0; n < 200; n++) {
      const keyLen = n % 2 === 0 ? 16 : 32;
      const keyBuf = new Uint8Array(keyLen + 5);
      rnd.fill(keyBuf);
      const key = keyBuf.slice(3, 3 + keyLen);
      const k = speckExpandKey(keyBuf, 3, keyLen);
      const rk = refSchedule(key);
      for (let i = 0; i < k.rounds; i++) {
        const v = (BigInt(k.rk[2 * i] >>> 0) << 32n) | BigInt(k.rk[2 * i + 1] >>> 0);
        expect(v).toBe(rk[i]);
      }
      const buf = new Uint8Array(23);
      rnd.fill(buf);
      const off = 1 + (n % 7);
      const plain = buf.slice(off, off + 16);
      const before = buf.slice();
      speckEncryptBlock(k, buf, off);
      expect(hex(buf.subarray(off, off + 16))).toBe(hex(refEncrypt(rk, plain)));
      // Bytes outside the block are untouched.
      expect(hex(buf.subarray(0, off))).toBe(hex(before.subarray(0, off)));
      expect(hex(buf.subarray(off + 16))).toBe(hex(before.subarray(off + 16)));
      speckDecryptBlock(k, buf, off);
      expect(hex(buf)).toBe(hex(before));
    }
  });

  it('rejects bad key sizes and block ranges', () => {
    expect(() => speckExpandKey(new Uint8Array(24))).toThrow(RangeError);
    expect(() => speckExpandKey(new Uint8Array(16), 1, 16)).toThrow(RangeError);
    const k = speckExpandKey(new Uint8Array(16));
    expect(() => speckEncryptBlock(k, new Uint8Array(16), 1)).toThrow(RangeError);
    expect(() => speckDecryptBlock(k, new Uint8Array(15))).toThrow(RangeError);
  });
});

describe('Speck CTR (n2n)', () => {
  it('Speck128/128-CTR keystream (§15.2)', () => {
    const k = speckExpandKey(seq(16));
    const iv = seq(16, 0xf0);
    const ks = speckCtr(k, iv, 0, new Uint8Array(32), 0, 32);
    expect(hex(ks)).toBe('b54adc309ad6ab76e470ee41a64c40b58eb302fb4a06848541c7dc231696c521');
  });

  it('Speck128/256-CTR with an all-ff IV wraps the counter without carry (§15.2)', () => {
    const k = speckExpandKey(seq(32));
    const iv = new Uint8Array(16).fill(0xff);
    const ks = speckCtr(k, iv, 0, new Uint8Array(48), 0, 48);
    expect(hex(ks)).toBe(
      '76bc78f885f2f7d62fa88192352313ec6a248f29e568acac03de91f68a2d21ff7ff9188ef78bf8ad611f10cf4a13f13c',
    );
    expect(hex(ks)).toBe(hex(refCtr(seq(32), iv, new Uint8Array(48))));
  });

  it('carries inside the low counter word (IV bytes 0..7) but never into bytes 8..15', () => {
    const key = seq(32);
    const k = speckExpandKey(key);
    const iv = unhex('ffffffff00000000 0102030405060708'.replace(' ', ''));
    const got = speckCtr(k, iv, 0, new Uint8Array(64), 0, 64);
    expect(hex(got)).toBe(hex(refCtr(key, iv, new Uint8Array(64))));
  });

  it('matches the reference for every length 0..70, unaligned, in place and out of place', () => {
    const rnd = new SeededRandom(42);
    for (let len = 0; len <= 70; len++) {
      const keyLen = len % 3 === 0 ? 16 : 32;
      const key = new Uint8Array(keyLen);
      rnd.fill(key);
      const k = speckExpandKey(key);
      const ivBuf = new Uint8Array(19);
      rnd.fill(ivBuf);
      const iv = ivBuf.slice(3);
      const data = new Uint8Array(len + 9);
      rnd.fill(data);
      const plain = data.slice(5, 5 + len);
      const expected = hex(refCtr(key, iv, plain));
      // Out of place, at an odd output offset.
      const out = new Uint8Array(len + 11).fill(0xaa);
      speckCtr(k, ivBuf, 3, data, 5, len, out, 7);
      expect(hex(out.subarray(7, 7 + len))).toBe(expected);
      expect(out[6]).toBe(0xaa);
      expect(out[7 + len]).toBe(0xaa);
      expect(hex(data.subarray(5, 5 + len))).toBe(hex(plain));
      // In place; applying twice restores the plaintext.
      speckCtr(k, ivBuf, 3, data, 5, len);
      expect(hex(data.subarray(5, 5 + len))).toBe(expected);
      speckCtr(k, ivBuf, 3, data, 5, len);
      expect(hex(data.subarray(5, 5 + len))).toBe(hex(plain));
    }
  });

  it('the unrolled CTR loop matches the block-at-a-time CTR on random lengths 0..2000 and offsets', () => {
    const rnd = new SeededRandom(0x5eed);
    for (let n = 0; n < 120; n++) {
      const keyLen = n % 4 === 0 ? 16 : 32;
      const key = new Uint8Array(keyLen);
      rnd.fill(key);
      const k = speckExpandKey(key);
      const len = n < 3 ? n : rnd.u32() % 2001;
      const ivOff = rnd.u32() % 5;
      const ivBuf = new Uint8Array(16 + ivOff + 2);
      rnd.fill(ivBuf);
      // Every few rounds, a counter about to carry within or out of its low 32 / 64 bits.
      if (n % 5 === 1) ivBuf.fill(0xff, ivOff, ivOff + 4);
      if (n % 5 === 2) ivBuf.fill(0xff, ivOff, ivOff + 8);
      const iv = ivBuf.slice(ivOff, ivOff + 16);
      const off = rnd.u32() % 9;
      const outOff = rnd.u32() % 9;
      // A view that does not start at its buffer's first byte.
      const data = new Uint8Array(1 + off + len + 3).subarray(1);
      rnd.fill(data);
      const plain = data.slice(off, off + len);
      const expected = hex(blockwiseCtr(k, iv, plain));
      const out = new Uint8Array(outOff + len + 3).fill(0x5a);
      speckCtr(k, ivBuf, ivOff, data, off, len, out, outOff);
      expect(hex(out.subarray(outOff, outOff + len))).toBe(expected);
      expect(hex(out.subarray(0, outOff))).toBe('5a'.repeat(outOff));
      expect(hex(out.subarray(outOff + len))).toBe('5a5a5a');
      // In place.
      speckCtr(k, ivBuf, ivOff, data, off, len);
      expect(hex(data.subarray(off, off + len))).toBe(expected);
      if (n % 10 === 0) expect(expected).toBe(hex(refCtr(key, iv, plain)));
    }
  });

  it('a hand-built key with another round count takes the generic loop and still matches', () => {
    const rnd = new SeededRandom(7);
    for (const rounds of [1, 5, 27, 33]) {
      const rk = new Int32Array(2 * rounds);
      for (let i = 0; i < rk.length; i++) rk[i] = rnd.u32() | 0;
      const k = new SpeckKey(rounds, rk);
      const iv = new Uint8Array(16);
      rnd.fill(iv);
      const data = new Uint8Array(77);
      rnd.fill(data);
      expect(hex(speckCtr(k, iv, 0, data, 0, 77, new Uint8Array(77), 0))).toBe(
        hex(blockwiseCtr(k, iv, data)),
      );
    }
  });

  it('rejects out-of-range arguments', () => {
    const k = speckExpandKey(new Uint8Array(32));
    const iv = new Uint8Array(16);
    expect(() => speckCtr(k, iv, 1, new Uint8Array(4), 0, 4)).toThrow(RangeError);
    expect(() => speckCtr(k, iv, 0, new Uint8Array(4), 1, 4)).toThrow(RangeError);
    expect(() => speckCtr(k, iv, 0, new Uint8Array(4), 0, 4, new Uint8Array(3), 0)).toThrow(RangeError);
  });
});
