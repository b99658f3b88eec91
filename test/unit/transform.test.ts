// Payload transforms: spec §15.3 both ways, upstream tests-transform.expected byte for byte, key derivation, offsets, in place, garbage.
import { resolve } from 'node:path';
import { cbc } from '@noble/ciphers/aes.js';
import { describe, expect, it } from 'vitest';
import { deriveAesKey, deriveKeyMaterial, deriveTransformKey } from '../../src/transform/keys.js';
import { lzoCompress, lzoCompressBound } from '../../src/transform/lzo.js';
import { N2nRandom } from '../../src/transform/n2nRandom.js';
import {
  createTransform,
  MAX_TRANSFORM_PLAINTEXT_BYTES,
  type PayloadTransform,
  transformName,
} from '../../src/transform/payload.js';
import { ConfigError } from '../../src/util/errors.js';
import { type Random, SeededRandom } from '../../src/util/random.js';
import { TransformId } from '../../src/wire/types.js';
import { readExpectedSections, readExpectedValues } from './helpers/expected.js';
import { SPEC_15_3_R, SPEC_15_3_ROWS } from './helpers/spec-transform-vectors.js';

import { VECTORS } from './helpers/vectors.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

/** Hands out the same fixed bytes on every fill: injects the preamble / IV R. */
class FixedRandom implements Random {
  constructor(private readonly bytes: Uint8Array) {}
  fill(buf: Uint8Array, offset = 0, length = buf.length - offset): void {
    for (let i = 0; i < length; i++) buf[offset + i] = this.bytes[i % this.bytes.length];
  }
  u32(): number {
    return Buffer.from(this.bytes).readUInt32BE(0);
  }
}

const CIPHERS = [TransformId.TWOFISH, TransformId.AES, TransformId.CHACHA20, TransformId.SPECK] as const;
const ALL = [TransformId.NULL, ...CIPHERS] as const;

describe('key derivation (spec §5.4, §15.3)', () => {
  it('H256 of the key string and the AES key sizes chosen by its length', () => {
    expect(hex(deriveKeyMaterial('mysecretpass'))).toBe(
      '5558f60b6bf0a26cbc49c6484ba92c5adfcb9a9fcf820d42ca3f5916edb53c7d',
    );
    expect(hex(deriveAesKey('mysecretpass'))).toBe('dfcb9a9fcf820d42ca3f5916edb53c7d');
    expect(hex(deriveAesKey('mysecretpassword_23chars'))).toBe(
      '7c9c0f86005c46e38f6411cea006be383b0b3b5de51ccea8',
    );
    expect(hex(deriveAesKey('a_33_character_long_password_abcd'))).toBe(
      '58878f41226c00a2a8ad1edb1aab00d335211f138ab4e0d8654dfa4d035ad73c',
    );
    // Boundaries: 22 → 128, 23 → 192, 32 → 192, 33 → 256 bits.
    expect(deriveAesKey('x'.repeat(22)).length).toBe(16);
    expect(deriveAesKey('x'.repeat(23)).length).toBe(24);
    expect(deriveAesKey('x'.repeat(32)).length).toBe(24);
    expect(deriveAesKey('x'.repeat(33)).length).toBe(32);
    expect(deriveTransformKey(TransformId.SPECK, 'mysecretpass')).toEqual(deriveKeyMaterial('mysecretpass'));
    expect(deriveTransformKey(TransformId.AES, new TextEncoder().encode('mysecretpass'))).toEqual(
      deriveAesKey('mysecretpass'),
    );
    expect(deriveTransformKey(TransformId.NULL, 'x').length).toBe(0);
  });
});

describe('spec §15.3 vectors, both ways', () => {
  const R = SPEC_15_3_R;
  const rows = SPEC_15_3_ROWS;

  it.each(rows)('-k %s, transform %i', (key, id, m, out) => {
    const t = createTransform(id, key, new FixedRandom(R), { chacha20Iv: 'random' });
    // Twice in a row: the reused AES contexts must not let one packet influence the next.
    for (let round = 0; round < 2; round++) {
      const dst = new Uint8Array(200);
      const n = t.encrypt(m, 0, m.length, dst, 7);
      expect(n).toBe(m.length + 16);
      expect(hex(dst.subarray(7, 7 + n))).toBe(out);
      const back = new Uint8Array(100);
      expect(t.decrypt(unhex(out), 0, out.length / 2, back, 3)).toBe(m.length);
      expect(back.subarray(3, 3 + m.length)).toEqual(m);
    }
  });
});

describe('AES-CTS over reused contexts equals a fresh-context reference', () => {
  /** Spec §5.5 encryption with @noble/ciphers CBC (a new cipher object per packet). */
  function refEncrypt(key: Uint8Array, r: Uint8Array, m: Uint8Array): Uint8Array {
    const total = 16 + m.length;
    const padded = Math.ceil(total / 16) * 16;
    const a = new Uint8Array(padded);
    a.set(r);
    a.set(m, 16);
    const c = cbc(key, new Uint8Array(16), { disablePadding: true }).encrypt(a);
    if (total % 16 !== 0) {
      const last = c.slice(padded - 16);
      c.copyWithin(padded - 16, padded - 32, padded - 16);
      c.set(last, padded - 32);
    }
    return c.subarray(0, total);
  }

  it.each(['short', 'mysecretpassword_23chars', 'a_33_character_long_password_abcd'])('-k %s', (k) => {
    const key = deriveAesKey(k);
    const t = createTransform(TransformId.AES, k, new SeededRandom(5));
    const refRandom = new SeededRandom(5);
    const rnd = new SeededRandom(6);
    for (let i = 0; i < 200; i++) {
      const len = i < 40 ? i : rnd.u32() % 1500;
      const m = new Uint8Array(len);
      rnd.fill(m);
      const r = new Uint8Array(16);
      refRandom.fill(r);
      const want = refEncrypt(key, r, m);
      const out = new Uint8Array(len + 16);
      expect(t.encrypt(m, 0, len, out, 0)).toBe(len + 16);
      expect(hex(out)).toBe(hex(want));
      const back = new Uint8Array(len);
      expect(t.decrypt(want, 0, want.length, back, 0)).toBe(len);
      expect(hex(back)).toBe(hex(m));
    }
  });
});

describe('upstream tests-transform.expected', () => {
  const file = resolve(VECTORS, 'upstream-tests/tests-transform.expected');
  const sections = readExpectedSections(file);
  const values = readExpectedValues(file);
  const key = JSON.parse(values.get('environment: encrypt_key') as string) as string;
  const input = sections.get('environment: input size = 0x200') as Uint8Array;
  const HEADER_BYTES = 38;
  // The order of the C test: each cipher draws two n2n_rand() values from the shared generator.
  const order: [name: string, id: TransformId][] = [
    ['null', TransformId.NULL],
    ['tf', TransformId.TWOFISH],
    ['aes', TransformId.AES],
    ['cc20', TransformId.CHACHA20],
    ['speck', TransformId.SPECK],
  ];

  it('has the documented environment', () => {
    expect(key).toBe('SoMEVer!S$cUREPassWORD');
    expect(input.length).toBe(0x200);
  });

  it('every output decrypts to the input', () => {
    for (const [name, id] of order) {
      const size = id === TransformId.NULL ? 0x226 : 0x236;
      const dump = sections.get(`${name}: output size = 0x${size.toString(16)}`) as Uint8Array;
      expect(dump.length).toBe(size);
      const t = createTransform(id, key, new SeededRandom(1));
      const out = new Uint8Array(1024);
      expect(t.decrypt(dump, HEADER_BYTES, dump.length - HEADER_BYTES, out, 0)).toBe(input.length);
      expect(out.subarray(0, input.length)).toEqual(input);
    }
  });

  it("with n2n's default generator injected, encrypts to the identical bytes", () => {
    const rng = new N2nRandom();
    for (const [name, id] of order) {
      const size = id === TransformId.NULL ? 0x226 : 0x236;
      const dump = sections.get(`${name}: output size = 0x${size.toString(16)}`) as Uint8Array;
      const t = createTransform(id, key, rng, { chacha20Iv: 'random' });
      const out = new Uint8Array(1024);
      const n = t.encrypt(input, 0, input.length, out, 0);
      expect(n).toBe(dump.length - HEADER_BYTES);
      expect(hex(out.subarray(0, n))).toBe(hex(dump.subarray(HEADER_BYTES)));
    }
  });

  it('the lzo section is the header plus our LZO1X-1 output', () => {
    const dump = sections.get('lzo: output size = 0x55') as Uint8Array;
    const out = new Uint8Array(lzoCompressBound(input.length));
    const n = lzoCompress(input, 0, input.length, out, 0);
    expect(hex(out.subarray(0, n))).toBe(hex(dump.subarray(HEADER_BYTES)));
  });

  it('N2nRandom reproduces n2n_srand seeding deterministically', () => {
    const a = new N2nRandom(12345n);
    const b = new N2nRandom(12345n);
    const c = new N2nRandom();
    expect(a.next64()).toBe(b.next64());
    expect(a.u32()).toBe(b.u32());
    expect(new N2nRandom(12345n).next64()).not.toBe(c.next64());
    const buf = new Uint8Array(11);
    new N2nRandom().fill(buf);
    const first = new N2nRandom().next64();
    expect(Buffer.from(buf).readBigUInt64BE(0)).toBe(first);
  });
});

describe('round trips', () => {
  const rnd = new SeededRandom(0xabcdef);
  const transforms = (): PayloadTransform[] =>
    ALL.map((id) => createTransform(id, 'round-trip key', new SeededRandom(id)));
  const lengths = [...Array.from({ length: 70 }, (_, i) => i), 127, 128, 129, 1399, 1400, 1401, 2048];

  it('at odd offsets, every length from 0', () => {
    for (const t of transforms()) {
      for (const len of lengths) {
        const data = new Uint8Array(len);
        rnd.fill(data);
        const src = new Uint8Array(len + 5);
        src.set(data, 5);
        const enc = new Uint8Array(len + t.overhead + 3);
        expect(t.encrypt(src, 5, len, enc, 3)).toBe(len + t.overhead);
        const dec = new Uint8Array(len + 9);
        expect(t.decrypt(enc, 3, len + t.overhead, dec, 9)).toBe(len);
        expect(dec.subarray(9)).toEqual(data);
      }
    }
  });

  it('in place: encrypt into headroom, decrypt back to the frame position or to the front', () => {
    for (const t of transforms()) {
      for (const len of [0, 1, 15, 16, 17, 33, 100, 1400, 2048]) {
        const data = new Uint8Array(len);
        rnd.fill(data);
        const frameOff = 64;
        const buf = new Uint8Array(frameOff + len + 8);
        buf.set(data, frameOff);
        const start = frameOff - t.overhead;
        expect(t.encrypt(buf, frameOff, len, buf, start)).toBe(len + t.overhead);
        const copy = buf.slice(start, start + len + t.overhead);
        expect(t.decrypt(buf, start, len + t.overhead, buf, frameOff)).toBe(len);
        expect(buf.subarray(frameOff, frameOff + len)).toEqual(data);
        buf.set(copy, start);
        expect(t.decrypt(buf, start, len + t.overhead, buf, start)).toBe(len);
        expect(buf.subarray(start, start + len)).toEqual(data);
      }
    }
  });

  it('ciphers never emit the same ciphertext twice for the same frame', () => {
    for (const id of CIPHERS) {
      const t = createTransform(id, 'k', new SeededRandom(11));
      const data = new Uint8Array(100);
      const a = new Uint8Array(116);
      const b = new Uint8Array(116);
      t.encrypt(data, 0, 100, a, 0);
      t.encrypt(data, 0, 100, b, 0);
      expect(hex(a)).not.toBe(hex(b));
    }
  });

  it('random-IV ChaCha20 draws again when the IV counter would wrap inside the packet (spec §5.6)', () => {
    const wrapping = unhex('ffffffff000102030405060708090a0b');
    const fine = unhex('00000010000102030405060708090a0b');
    let calls = 0;
    const seq: Random = {
      fill(buf, offset = 0, length = buf.length - offset) {
        buf.set((calls++ === 0 ? wrapping : fine).subarray(0, length), offset);
      },
      u32: () => 0,
    };
    const t = createTransform(TransformId.CHACHA20, 'k', seq, { chacha20Iv: 'random' });
    const data = new Uint8Array(200).fill(7);
    const out = new Uint8Array(216);
    t.encrypt(data, 0, 200, out, 0);
    expect(hex(out.subarray(0, 16))).toBe(hex(fine));
    expect(calls).toBe(2);
    // A generator that only yields wrapping IVs is used after a bounded number of draws; the
    // packet still decrypts (no-carry keystream, like default C builds).
    const stuck = createTransform(TransformId.CHACHA20, 'k', new FixedRandom(wrapping), {
      chacha20Iv: 'random',
    });
    expect(stuck.encrypt(data, 0, 200, out, 0)).toBe(216);
    expect(hex(out.subarray(0, 16))).toBe(hex(wrapping));
    const back = new Uint8Array(200);
    expect(t.decrypt(out, 0, 216, back, 0)).toBe(200);
    expect(back).toEqual(data);
    // A 1-byte packet with the same IV does not wrap: no second draw.
    expect(stuck.encrypt(data, 0, 1, out, 0)).toBe(17);
  });

  it('the two ChaCha20 IV modes interoperate', () => {
    const fast = createTransform(TransformId.CHACHA20, 'k', new SeededRandom(1));
    const c = createTransform(TransformId.CHACHA20, 'k', new SeededRandom(2), { chacha20Iv: 'random' });
    for (const len of [0, 1, 64, 65, 1400]) {
      const data = new Uint8Array(len);
      rnd.fill(data);
      for (const [a, b] of [
        [fast, c],
        [c, fast],
      ]) {
        const enc = new Uint8Array(len + 16);
        a.encrypt(data, 0, len, enc, 0);
        const dec = new Uint8Array(len);
        expect(b.decrypt(enc, 0, len + 16, dec, 0)).toBe(len);
        expect(dec).toEqual(data);
      }
    }
  });
});

describe('bad input', () => {
  it('encrypt refuses bad ranges, missing room and over-long frames with -1', () => {
    for (const id of ALL) {
      const t = createTransform(id, 'k', new SeededRandom(1));
      expect(t.encrypt(new Uint8Array(10), 5, 10, new Uint8Array(64), 0)).toBe(-1);
      expect(t.encrypt(new Uint8Array(10), 0, 10, new Uint8Array(10 + t.overhead - 1), 0)).toBe(-1);
      expect(t.encrypt(new Uint8Array(10), -1, 5, new Uint8Array(64), 0)).toBe(-1);
      const big = MAX_TRANSFORM_PLAINTEXT_BYTES + 1;
      const r = t.encrypt(new Uint8Array(big), 0, big, new Uint8Array(big + 16), 0);
      expect(r).toBe(id === TransformId.NULL ? big : -1);
    }
  });

  it('decrypt of random garbage returns -1 or a length and never throws', () => {
    const rnd = new SeededRandom(77);
    for (const id of ALL) {
      const t = createTransform(id, 'k', new SeededRandom(1));
      const out = new Uint8Array(3000);
      for (let i = 0; i < 300; i++) {
        const len = rnd.u32() % 2100;
        const g = new Uint8Array(len);
        rnd.fill(g);
        const n = t.decrypt(g, 0, len, out, 0);
        expect(n === -1 || n === len - t.overhead).toBe(true);
      }
      // No room for the plaintext, range outside the input, input beyond N2N_PKT_BUF_SIZE (+ 16).
      expect(t.decrypt(new Uint8Array(20), 0, 20, new Uint8Array(2), 0)).toBe(-1);
      expect(t.decrypt(new Uint8Array(20), 10, 20, out, 0)).toBe(-1);
      expect(t.decrypt(new Uint8Array(4000), 0, 4000, out, 0)).toBe(-1);
      if (id !== TransformId.NULL) {
        for (let len = 0; len < 16; len++) expect(t.decrypt(new Uint8Array(16), 0, len, out, 0)).toBe(-1);
      }
    }
  });

  it('createTransform rejects unknown ids and missing keys with ConfigError', () => {
    expect(() => createTransform(TransformId.INVALID, 'k', new SeededRandom())).toThrow(ConfigError);
    expect(() => createTransform(9 as TransformId, 'k', new SeededRandom())).toThrow(ConfigError);
    for (const id of CIPHERS) {
      expect(() => createTransform(id, undefined, new SeededRandom())).toThrow(ConfigError);
      expect(() => createTransform(id, '', new SeededRandom())).toThrow(ConfigError);
    }
    expect(createTransform(TransformId.NULL, undefined, new SeededRandom()).overhead).toBe(0);
    expect(transformName(TransformId.CHACHA20)).toBe('ChaCha20');
  });
});
