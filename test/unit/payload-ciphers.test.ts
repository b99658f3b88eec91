// AesCbc (reused node:crypto contexts) and the ChaCha20 paths against fresh-context node:crypto and @noble/ciphers references.
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { cbc } from '@noble/ciphers/aes.js';
import { chacha20 } from '@noble/ciphers/chacha.js';
import { describe, expect, it } from 'vitest';
import { AesCbc } from '../../src/crypto/aes.js';
import {
  CHACHA20_BLOCK_BYTES,
  ChaCha20,
  ChaCha20Sender,
  chacha20XorPure,
} from '../../src/crypto/chacha20.js';
import { SeededRandom } from '../../src/util/random.js';

const rnd = new SeededRandom(0xc0ffee);
const bytes = (n: number): Uint8Array => {
  const b = new Uint8Array(n);
  rnd.fill(b);
  return b;
};
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Standard CBC with a fresh node:crypto context (the simple reference). */
function freshCbc(encrypt: boolean, key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  const bits = key.length * 8;
  const c = encrypt
    ? createCipheriv(`aes-${bits}-cbc`, key, iv).setAutoPadding(false)
    : createDecipheriv(`aes-${bits}-cbc`, key, iv).setAutoPadding(false);
  return new Uint8Array(Buffer.concat([c.update(data), c.final()]));
}

describe('AesCbc: reused contexts give exact CBC', () => {
  it.each([16, 24, 32])('AES-%i: random call sequences equal fresh-context and noble CBC', (keyBytes) => {
    const key = bytes(keyBytes);
    const aes = new AesCbc(key);
    for (let i = 0; i < 60; i++) {
      const len = 16 * (1 + (rnd.u32() % 90));
      const data = bytes(len);
      const iv = i % 3 === 0 ? new Uint8Array(16) : bytes(16);
      const want = freshCbc(true, key, iv, data);
      expect(hex(cbc(key, iv, { disablePadding: true }).encrypt(data))).toBe(hex(want));
      const out = new Uint8Array(len + 9);
      const srcBuf = new Uint8Array(len + 5);
      srcBuf.set(data, 5);
      if (i % 3 === 0) aes.encryptCbc(srcBuf, 5, len, out, 9 - (i % 2));
      else aes.encryptCbc(srcBuf, 5, len, out, 9 - (i % 2), iv, 0);
      expect(hex(out.subarray(9 - (i % 2), 9 - (i % 2) + len))).toBe(hex(want));
      const inPlace = data.slice();
      if (i % 3 === 0) aes.encryptCbc(inPlace, 0, len, inPlace, 0);
      else aes.encryptCbc(inPlace, 0, len, inPlace, 0, iv, 0);
      expect(hex(inPlace)).toBe(hex(want));
      // Decrypt through the other reused context, in place, interleaved with more encryptions.
      const buf = want.slice();
      if (i % 3 === 0) aes.decryptCbc(buf, 0, len, buf, 0);
      else aes.decryptCbc(buf, 0, len, buf, 0, iv, 0);
      expect(hex(buf)).toBe(hex(data));
      expect(hex(freshCbc(false, key, iv, want))).toBe(hex(data));
    }
  });

  it('single blocks match ECB, and bad sizes are RangeErrors', () => {
    const key = bytes(16);
    const aes = new AesCbc(key);
    const blk = bytes(16);
    const out = new Uint8Array(16);
    aes.encryptBlock(blk, 0, out, 0);
    const ecb = createCipheriv('aes-128-ecb', key, null).setAutoPadding(false);
    expect(hex(out)).toBe(hex(ecb.update(blk)));
    aes.decryptBlock(out, 0, out, 0);
    expect(out).toEqual(blk);
    expect(() => new AesCbc(new Uint8Array(20))).toThrow(RangeError);
    expect(() => aes.encryptCbc(new Uint8Array(20), 0, 20, new Uint8Array(20), 0)).toThrow(RangeError);
    expect(() => aes.decryptCbc(new Uint8Array(16), 1, 16, new Uint8Array(16), 0)).toThrow(RangeError);
  });
});

describe('ChaCha20 with n2n IVs', () => {
  const key = bytes(32);

  /** noble's RFC 7539 ChaCha20 with the n2n IV split into counter and nonce (no wrap allowed). */
  function noble(iv: Uint8Array, data: Uint8Array): Uint8Array {
    const counter = Buffer.from(iv).readUInt32LE(0);
    return chacha20(key, iv.subarray(4), data, undefined, counter);
  }

  /**
   * The no-carry definition, block by block: block i uses counter (c + i) mod 2^32 and the same
   * nonce, each through its own fresh node:crypto context (one block never carries).
   */
  function noCarry(iv: Uint8Array, data: Uint8Array): Uint8Array {
    const out = new Uint8Array(data.length);
    const start = Buffer.from(iv).readUInt32LE(0);
    for (let p = 0, i = 0; p < data.length; p += CHACHA20_BLOCK_BYTES, i++) {
      const blockIv = Buffer.from(iv);
      blockIv.writeUInt32LE((start + i) % 0x100000000, 0);
      const c = createCipheriv('chacha20', key, blockIv);
      out.set(c.update(data.subarray(p, p + CHACHA20_BLOCK_BYTES)), p);
    }
    return out;
  }

  it('pure TS, node:crypto path and noble agree for random IVs and lengths', () => {
    const cc = new ChaCha20(key);
    for (let i = 0; i < 80; i++) {
      const len = rnd.u32() % 1500;
      const iv = bytes(16);
      // Keep the counter away from the wrap for noble's sake (tested separately).
      iv[3] &= 0x7f;
      const data = bytes(len);
      const want = noble(iv, data);
      const pure = new Uint8Array(len);
      chacha20XorPure(key, iv, 0, data, 0, len, pure, 0);
      expect(hex(pure)).toBe(hex(want));
      const out = new Uint8Array(len + 3);
      cc.xor(iv, 0, data, 0, len, out, 3);
      expect(hex(out.subarray(3))).toBe(hex(want));
    }
  });

  it('a counter that wraps inside a message continues at 0 with no carry (spec §5.6)', () => {
    const cc = new ChaCha20(key);
    for (const start of [0xffffffff, 0xfffffffe, 0xffffffe0]) {
      const iv = bytes(16);
      Buffer.from(iv.buffer).writeUInt32LE(start, 0);
      const len = 40 * CHACHA20_BLOCK_BYTES + 13;
      const data = bytes(len);
      const want = noCarry(iv, data);
      const out = new Uint8Array(len);
      cc.xor(iv, 0, data, 0, len, out, 0);
      expect(hex(out)).toBe(hex(want));
      const pure = new Uint8Array(len);
      chacha20XorPure(key, iv, 0, data, 0, len, pure, 0);
      expect(hex(pure)).toBe(hex(want));
    }
  });

  it('node:crypto itself carries into word 13, which is why wrapping messages take the pure path', () => {
    const iv = Buffer.from(bytes(16));
    iv.writeUInt32LE(0xffffffff, 0);
    const zeros = new Uint8Array(2 * CHACHA20_BLOCK_BYTES);
    const whole = createCipheriv('chacha20', key, iv).update(zeros);
    const carried = Buffer.from(iv);
    carried.writeUInt32LE(0, 0);
    carried.writeUInt32LE((iv.readUInt32LE(4) + 1) % 0x100000000, 4);
    const second = createCipheriv('chacha20', key, carried).update(zeros.subarray(0, CHACHA20_BLOCK_BYTES));
    expect(hex(whole.subarray(CHACHA20_BLOCK_BYTES))).toBe(hex(second));
    expect(hex(whole)).not.toBe(hex(noCarry(iv, zeros)));
  });

  it('a context whose next block would be 2^32 is not reused (it would carry)', () => {
    const cc = new ChaCha20(key);
    const iv = bytes(16);
    Buffer.from(iv.buffer).writeUInt32LE(0xfffffffe, 0);
    const data = bytes(2 * CHACHA20_BLOCK_BYTES);
    const out = new Uint8Array(data.length);
    cc.xor(iv, 0, data, 0, data.length, out, 0);
    expect(hex(out)).toBe(hex(noCarry(iv, data)));
    const iv2 = iv.slice();
    Buffer.from(iv2.buffer).writeUInt32LE(0, 0);
    cc.xor(iv2, 0, data, 0, data.length, out, 0);
    expect(hex(out)).toBe(hex(noble(iv2, data)));
    expect(cc.reused).toBe(0);
  });

  it('sender IVs are unique block positions; receivers reuse contexts and decrypt exactly', () => {
    const sender = new ChaCha20Sender(key, new SeededRandom(3));
    const rx = new ChaCha20(key);
    const seen = new Set<string>();
    let expectCounter = 0;
    for (let i = 0; i < 50; i++) {
      const len = i === 7 ? 0 : 1 + (rnd.u32() % 1500);
      const data = bytes(len);
      const pkt = new Uint8Array(16 + len);
      sender.encrypt(data, 0, len, pkt, 16, pkt, 0);
      const iv = pkt.subarray(0, 16);
      expect(Buffer.from(iv).readUInt32LE(0)).toBe(expectCounter);
      expectCounter += Math.ceil(len / CHACHA20_BLOCK_BYTES);
      if (len > 0) {
        expect(seen.has(hex(iv))).toBe(false);
        seen.add(hex(iv));
      }
      expect(hex(pkt.subarray(16))).toBe(hex(noble(iv, data)));
      const back = new Uint8Array(len);
      rx.xor(pkt, 0, pkt, 16, len, back, 0);
      expect(back).toEqual(data);
    }
    expect(sender.rekeys).toBe(1);
    // Every message after the first continued a cached context (the empty one does not count).
    expect(rx.reused).toBe(48);
  });

  it('random-IV traffic from other senders does not evict contexts that are being continued', () => {
    const rx = new ChaCha20(key);
    const senders = [
      new ChaCha20Sender(key, new SeededRandom(21)),
      new ChaCha20Sender(key, new SeededRandom(22)),
    ];
    const rounds = 20;
    for (let i = 0; i < rounds; i++) {
      for (const sender of senders) {
        const data = bytes(100 + i);
        const pkt = new Uint8Array(16 + data.length);
        sender.encrypt(data, 0, data.length, pkt, 16, pkt, 0);
        const back = new Uint8Array(data.length);
        rx.xor(pkt, 0, pkt, 16, data.length, back, 0);
        expect(back).toEqual(data);
      }
      // Five packets with fresh random IVs (a C edge) in between.
      for (let j = 0; j < 5; j++) {
        const iv = bytes(16);
        iv[3] &= 0x7f;
        const data = bytes(64);
        const back = new Uint8Array(64);
        rx.xor(iv, 0, noble(iv, data), 0, 64, back, 0);
        expect(back).toEqual(data);
      }
    }
    // Round 0 meets each sender once (probation, then pushed out to a ghost); round 1 continues a
    // ghost and gets a main slot; from round 2 on every message reuses its context.
    expect(rx.reused).toBe(2 * (rounds - 2));
  });

  it('the sender draws a new nonce before its counter space runs out', () => {
    const blocksPerNonce = 44;
    const sender = new ChaCha20Sender(key, new SeededRandom(4), blocksPerNonce);
    const nonces = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const len = 1400;
      const data = bytes(len);
      const pkt = new Uint8Array(16 + len);
      sender.encrypt(data, 0, len, pkt, 16, pkt, 0);
      const counter = Buffer.from(pkt).readUInt32LE(0);
      expect(counter + Math.ceil(len / 64)).toBeLessThanOrEqual(blocksPerNonce);
      nonces.add(hex(pkt.subarray(4, 16)));
      expect(hex(pkt.subarray(16))).toBe(hex(noble(pkt.subarray(0, 16), data)));
    }
    expect(sender.rekeys).toBe(15);
    expect(nonces.size).toBe(15);
  });

  it('works with overlapping buffers', () => {
    const cc = new ChaCha20(key);
    const iv = bytes(16);
    iv[3] = 0;
    const data = bytes(300);
    const want = noble(iv, data);
    for (const shift of [-17, -1, 0, 1, 33]) {
      const buf = new Uint8Array(400);
      buf.set(data, 50);
      cc.xor(iv, 0, buf, 50, 300, buf, 50 + shift);
      expect(hex(buf.subarray(50 + shift, 350 + shift))).toBe(hex(want));
    }
  });
});
