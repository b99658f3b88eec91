// The addon's cipher cores against the pure-TS references: random lengths, odd offsets, in place, errors, spec §15.2/§15.3 through createTransform.
import { spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cbc } from '@noble/ciphers/aes.js';
import { describe, expect, it } from 'vitest';
import { AesCbc } from '../../src/crypto/aes.js';
import type { CbcCore, CipherBackend, StreamCore } from '../../src/crypto/backend.js';
import { chacha20XorPure } from '../../src/crypto/chacha20.js';
import { speckCtr, speckExpandKey } from '../../src/crypto/speck.js';
import {
  twofishCbcDecrypt,
  twofishCbcEncrypt,
  twofishDecryptBlock,
  twofishExpandKey,
} from '../../src/crypto/twofish.js';
import { CipherKind, loadAddon, type NativeAddon } from '../../src/io/addon.js';
import { nativeCipherBackend } from '../../src/io/crypto-native.js';
import { N2nRandom } from '../../src/transform/n2nRandom.js';
import { createTransform, type PayloadTransform } from '../../src/transform/payload.js';
import { type Random, SeededRandom } from '../../src/util/random.js';
import { TransformId } from '../../src/wire/types.js';
import { readExpectedSections, readExpectedValues } from './helpers/expected.js';
import { SPEC_15_3_R, SPEC_15_3_ROWS } from './helpers/spec-transform-vectors.js';

import { VECTORS } from './helpers/vectors.js';

const ADDON = resolve(dirname(fileURLToPath(import.meta.url)), '../../native/build/Release/tsn2n_io.node');
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s/g, ''), 'hex'));
const seq = (n: number, start = 0): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (start + i) & 0xff);

const MAX_LEN = 2000;
const GUARD = 0xa5;

/** Hands out the same fixed bytes on every fill: injects the preamble / IV R of §15.3. */
class FixedRandom implements Random {
  constructor(private readonly bytes: Uint8Array) {}
  fill(buf: Uint8Array, offset = 0, length = buf.length - offset): void {
    for (let i = 0; i < length; i++) buf[offset + i] = this.bytes[i % this.bytes.length];
  }
  u32(): number {
    return Buffer.from(this.bytes).readUInt32BE(0);
  }
}

function backend(): CipherBackend {
  const b = nativeCipherBackend();
  if (b === undefined) throw new Error('the addon (with its cipher cores) is not built: npm install');
  return b;
}

/** A view at an odd byteOffset inside a larger buffer, filled with random bytes. */
function oddView(rnd: SeededRandom, len: number): Uint8Array {
  const back = new Uint8Array(len + 3);
  rnd.fill(back);
  return back.subarray(1, 1 + len);
}

/** Runs `op` out of place (odd offsets, guard bytes checked) and in place; returns both outputs. */
function outputs(
  rnd: SeededRandom,
  input: Uint8Array,
  op: (src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number) => void,
): { out: Uint8Array; inPlace: Uint8Array } {
  const len = input.length;
  const srcOff = 1 + 2 * (rnd.u32() % 4);
  const dstOff = 1 + 2 * (rnd.u32() % 4);
  const src = oddView(rnd, srcOff + len + 2);
  src.set(input, srcOff);
  const before = src.slice();
  const dst = new Uint8Array(dstOff + len + 2).fill(GUARD);
  op(src, srcOff, dst, dstOff);
  expect(src).toEqual(before);
  expect(dst.subarray(0, dstOff).every((b) => b === GUARD)).toBe(true);
  expect(dst.subarray(dstOff + len).every((b) => b === GUARD)).toBe(true);
  op(src, srcOff, src, srcOff);
  return { out: dst.slice(dstOff, dstOff + len), inPlace: src.slice(srcOff, srcOff + len) };
}

function randomLength(rnd: SeededRandom, n: number, multipleOf = 1): number {
  const len = n < 4 ? n * multipleOf : rnd.u32() % (MAX_LEN + 1);
  return len - (len % multipleOf);
}

/** The raw addon calls the AES lanes test makes (also as source text in a child process). */
type AesAddon = Pick<NativeAddon, 'cipherKey' | 'payloadEncrypt' | 'payloadDecrypt'>;

describe('native cipher backend', () => {
  it('loads from the built addon and names its Speck path and OpenSSL', () => {
    const b = backend();
    expect(b.name).toMatch(/^native \(Speck (avx2|portable), Pearson (avx512|portable), OpenSSL \d/);
    expect(b).toBe(nativeCipherBackend());
  });

  it('Speck-CTR equals speckCtr on random keys, IVs (with counter carries), lengths 0..2000, offsets, in place', () => {
    const rnd = new SeededRandom(0x5bec);
    for (let n = 0; n < 150; n++) {
      const key = new Uint8Array(n % 3 === 0 ? 16 : 32);
      rnd.fill(key);
      const core = backend().speckCtr?.(key) as StreamCore;
      const iv = oddView(rnd, 16);
      // Counters that carry out of the low 32 bits, and wrap the low 64 bits (no carry into n1).
      if (n % 5 === 1) iv.fill(0xff, 0, 4);
      if (n % 5 === 2) iv.fill(0xff, 0, 8);
      const input = new Uint8Array(randomLength(rnd, n));
      rnd.fill(input);
      const want = speckCtr(
        speckExpandKey(key),
        iv,
        0,
        input,
        0,
        input.length,
        new Uint8Array(input.length),
        0,
      );
      const got = outputs(rnd, input, (s, so, d, dO) => core.xor(iv, 0, s, so, input.length, d, dO));
      expect(hex(got.out)).toBe(hex(want));
      expect(hex(got.inPlace)).toBe(hex(want));
    }
  });

  it('AES payloads encrypted side by side (VAES, AES-NI) and decrypted through ECB equal OpenSSL CBC one at a time (TSN2N_AES_PORTABLE), 128/192/256', () => {
    // Child processes run OpenSSL's path and the 128-bit AES-NI lanes (TSN2N_AES_VAES=0), since the choice is made
    // once per process; this process takes the widest lanes the CPU has. Batches of 1..19 payloads and some past
    // the 16-lane groups, of 0..1,500 bytes at odd offsets, in place.
    const runs = (a: AesAddon): string[] => {
      const out: string[] = [];
      for (const keyBytes of [16, 24, 32]) {
        const key = a.cipherKey(
          3,
          Uint8Array.from({ length: keyBytes }, (_, j) => j * 11 + keyBytes),
          0,
          keyBytes,
        );
        for (const count of [...Array.from({ length: 19 }, (_, j) => j + 1), 31, 32, 33, 40]) {
          const slot = 1600;
          const buf = Uint8Array.from({ length: count * slot + 3 }, (_, j) => (j * 7 + count) & 0xff);
          const lens = Uint32Array.from(
            { length: count },
            (_, j) => (j * 389 + count * 97 + keyBytes) % 1501,
          );
          const srcOffs = Uint32Array.from({ length: count }, (_, j) => j * slot + 16 + 1 + (j % 3));
          const dstOffs = srcOffs.map((o) => o - 16);
          const rnd = Uint8Array.from({ length: 16 * count }, (_, j) => (j * 29 + count) & 0xff);
          const outLens = new Uint32Array(count);
          a.payloadEncrypt(key, buf, srcOffs, lens, buf, dstOffs, count, rnd, outLens);
          out.push(`${[...outLens].join('.')}:${Buffer.from(buf).toString('hex')}`);
          // Back again, then with a byte flipped in every ciphertext, then cut by one byte (garbage or refused,
          // the same on every path).
          for (const change of ['none', 'flip', 'cut'] as const) {
            const src = buf.slice();
            const decLens = outLens.slice();
            for (let j = 0; j < count; j++) {
              if (change === 'flip') src[dstOffs[j] + ((j * 53) % outLens[j])] ^= 0x20;
              if (change === 'cut') decLens[j] = Math.max(0, outLens[j] - 1);
            }
            const plain = new Uint8Array(count * slot + 3);
            const plainOffs = Uint32Array.from({ length: count }, (_, j) => j * slot + 1);
            const plainLens = new Uint32Array(count);
            a.payloadDecrypt(key, src, dstOffs, decLens, plain, plainOffs, count, null, plainLens);
            out.push(`${change} ${[...plainLens].join('.')}:${Buffer.from(plain).toString('hex')}`);
          }
        }
      }
      return out;
    };
    const script = `
      const a = require(${JSON.stringify(ADDON)});
      const runs = ${runs.toString()};
      console.log([a.cryptoInfo().aesLanes, ...runs(a)].join(','));`;
    const want = runs(loadAddon());
    const paths: [Record<string, string>, string][] = [
      [{ TSN2N_AES_PORTABLE: '1' }, 'openssl'],
      [{ TSN2N_AES_VAES: '0' }, loadAddon().cryptoInfo().aesLanes === 'openssl' ? 'openssl' : 'aesni'],
    ];
    for (const [env, path] of paths) {
      const r = spawnSync(process.execPath, ['-e', script], {
        env: { ...process.env, ...env },
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
      });
      expect(r.stderr).toBe('');
      const [impl, ...got] = r.stdout.trim().split(',');
      expect(impl).toBe(path);
      expect(got).toHaveLength(want.length);
      for (let i = 0; i < want.length; i++) expect(got[i], `${path} run ${i}`).toBe(want[i]);
    }
  });

  it('the portable Speck path (forced by TSN2N_SPECK_PORTABLE) equals speckCtr as well', () => {
    // A child process, since the path is chosen once per process. Keys, IVs and lengths follow i.
    const script = `
      const a = require(${JSON.stringify(ADDON)});
      const out = [a.cryptoInfo().speck];
      for (let i = 0; i < 40; i++) {
        const key = Uint8Array.from({ length: i % 2 ? 32 : 16 }, (_, j) => (i * 31 + j * 7) & 0xff);
        const iv = Uint8Array.from({ length: 16 }, (_, j) => (i % 3 === 0 && j < 8 ? 0xff : (i + j * 13) & 0xff));
        const len = (i * 97) % 300;
        const data = Uint8Array.from({ length: len }, (_, j) => (j * 5 + i) & 0xff);
        a.streamXor(a.cipherKey(5, key, 0, key.length), data, 0, len, data, 0, iv, 0);
        out.push(Buffer.from(data).toString('hex'));
      }
      console.log(out.join(','));`;
    const r = spawnSync(process.execPath, ['-e', script], {
      env: { ...process.env, TSN2N_SPECK_PORTABLE: '1' },
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    const [impl, ...got] = r.stdout.trim().split(',');
    expect(impl).toBe('portable');
    expect(got.length).toBe(40);
    for (let i = 0; i < 40; i++) {
      const key = Uint8Array.from({ length: i % 2 ? 32 : 16 }, (_, j) => (i * 31 + j * 7) & 0xff);
      const iv = Uint8Array.from({ length: 16 }, (_, j) =>
        i % 3 === 0 && j < 8 ? 0xff : (i + j * 13) & 0xff,
      );
      const len = (i * 97) % 300;
      const data = Uint8Array.from({ length: len }, (_, j) => (j * 5 + i) & 0xff);
      speckCtr(speckExpandKey(key), iv, 0, data, 0, len);
      expect(got[i]).toBe(hex(data));
    }
  });

  it('Speck keys give the §15.2 keystreams (128- and 256-bit, IV all ff wraps without carry)', () => {
    const s128 = backend().speckCtr?.(seq(16)) as StreamCore;
    const ks = new Uint8Array(32);
    s128.xor(seq(16, 0xf0), 0, new Uint8Array(32), 0, 32, ks, 0);
    expect(hex(ks)).toBe('b54adc309ad6ab76e470ee41a64c40b58eb302fb4a06848541c7dc231696c521');
    const s256 = backend().speckCtr?.(seq(32)) as StreamCore;
    const ks2 = new Uint8Array(48);
    s256.xor(new Uint8Array(16).fill(0xff), 0, new Uint8Array(48), 0, 48, ks2, 0);
    expect(hex(ks2)).toBe(
      '76bc78f885f2f7d62fa88192352313ec6a248f29e568acac03de91f68a2d21ff7ff9188ef78bf8ad611f10cf4a13f13c',
    );
  });

  it('ChaCha20 equals chacha20XorPure, including IVs whose 32-bit counter wraps inside the message', () => {
    const rnd = new SeededRandom(0xcc20);
    for (let n = 0; n < 150; n++) {
      const key = new Uint8Array(32);
      rnd.fill(key);
      const core = backend().chacha20?.(key) as StreamCore;
      const iv = oddView(rnd, 16);
      if (n % 4 === 1) iv.fill(0xff, 0, 4);
      if (n % 4 === 2) iv.set([0xfe - (n % 7), 0xff, 0xff, 0xff], 0);
      const input = new Uint8Array(randomLength(rnd, n));
      rnd.fill(input);
      const want = new Uint8Array(input.length);
      chacha20XorPure(key, iv, 0, input, 0, input.length, want, 0);
      const got = outputs(rnd, input, (s, so, d, dO) => core.xor(iv, 0, s, so, input.length, d, dO));
      expect(hex(got.out)).toBe(hex(want));
      expect(hex(got.inPlace)).toBe(hex(want));
    }
  });

  it('Twofish-CBC equals twofishCbcEncrypt/Decrypt (zero and random IVs), and decryptBlock the block function', () => {
    const rnd = new SeededRandom(0x2f15);
    for (let n = 0; n < 100; n++) {
      const key = new Uint8Array(32);
      rnd.fill(key);
      const tk = twofishExpandKey(key);
      const core = backend().twofishCbc?.(tk) as CbcCore;
      const iv = n % 2 === 0 ? undefined : oddView(rnd, 16);
      const input = new Uint8Array(randomLength(rnd, n, 16));
      rnd.fill(input);
      const len = input.length;
      const wantEnc = new Uint8Array(len);
      twofishCbcEncrypt(tk, input, 0, len, wantEnc, 0, iv);
      const wantDec = new Uint8Array(len);
      twofishCbcDecrypt(tk, input, 0, len, wantDec, 0, iv);
      const enc = outputs(rnd, input, (s, so, d, dO) => core.encryptCbc(s, so, len, d, dO, iv, 0));
      const dec = outputs(rnd, input, (s, so, d, dO) => core.decryptCbc(s, so, len, d, dO, iv, 0));
      expect(hex(enc.out)).toBe(hex(wantEnc));
      expect(hex(enc.inPlace)).toBe(hex(wantEnc));
      expect(hex(dec.out)).toBe(hex(wantDec));
      expect(hex(dec.inPlace)).toBe(hex(wantDec));
      const block = input.subarray(0, 16);
      if (block.length === 16) {
        const want = new Uint8Array(16);
        twofishDecryptBlock(tk, block, 0, want, 0);
        const got = new Uint8Array(19);
        core.decryptBlock(block, 0, got, 3);
        expect(hex(got.subarray(3))).toBe(hex(want));
      }
    }
  });

  it('Twofish-256 §15.2 vectors through the native core', () => {
    const cases: [string, string][] = [
      ['00'.repeat(32), '57ff739d4dc92c1bd7fc01700cc8216f'],
      [
        '0123456789abcdeffedcba987654321000112233445566778899aabbccddeeff',
        '37527be0052334b89f0cfccae87cfa20',
      ],
    ];
    for (const [key, ct] of cases) {
      const core = backend().twofishCbc?.(twofishExpandKey(unhex(key))) as CbcCore;
      const out = new Uint8Array(16);
      core.encryptCbc(new Uint8Array(16), 0, 16, out, 0);
      expect(hex(out)).toBe(ct);
      core.decryptBlock(out, 0, out, 0);
      expect(hex(out)).toBe('00'.repeat(16));
    }
  });

  it('AES-128/192/256-CBC equals AesCbc (node:crypto) and @noble/ciphers', () => {
    const rnd = new SeededRandom(0xae5);
    for (let n = 0; n < 120; n++) {
      const key = new Uint8Array([16, 24, 32][n % 3]);
      rnd.fill(key);
      const core = backend().aesCbc?.(key) as CbcCore;
      const ref = new AesCbc(key);
      const iv = n % 2 === 0 ? undefined : oddView(rnd, 16);
      const input = new Uint8Array(randomLength(rnd, n, 16));
      rnd.fill(input);
      const len = input.length;
      const wantEnc = new Uint8Array(len);
      ref.encryptCbc(input, 0, len, wantEnc, 0, iv);
      const wantDec = new Uint8Array(len);
      ref.decryptCbc(input, 0, len, wantDec, 0, iv);
      if (len > 0 && n % 10 === 0) {
        const nobleIv = iv === undefined ? new Uint8Array(16) : iv.slice();
        expect(hex(cbc(key, nobleIv, { disablePadding: true }).encrypt(input))).toBe(hex(wantEnc));
      }
      const enc = outputs(rnd, input, (s, so, d, dO) => core.encryptCbc(s, so, len, d, dO, iv, 0));
      const dec = outputs(rnd, input, (s, so, d, dO) => core.decryptCbc(s, so, len, d, dO, iv, 0));
      expect(hex(enc.out)).toBe(hex(wantEnc));
      expect(hex(enc.inPlace)).toBe(hex(wantEnc));
      expect(hex(dec.out)).toBe(hex(wantDec));
      expect(hex(dec.inPlace)).toBe(hex(wantDec));
    }
  });
});

describe('native cipher functions refuse bad calls', () => {
  const a = loadAddon();
  const speck = a.cipherKey(CipherKind.SPECK, new Uint8Array(32), 0, 32);
  const aes = a.cipherKey(CipherKind.AES, new Uint8Array(16), 0, 16);
  const buf = new Uint8Array(64);
  const iv = new Uint8Array(16);

  it('keys: unknown kind or wrong material length → RangeError; wrong types → TypeError', () => {
    expect(() => a.cipherKey(CipherKind.SPECK, new Uint8Array(24), 0, 24)).toThrow(RangeError);
    expect(() => a.cipherKey(CipherKind.AES, new Uint8Array(20), 0, 20)).toThrow(RangeError);
    expect(() => a.cipherKey(CipherKind.CHACHA20, new Uint8Array(16), 0, 16)).toThrow(RangeError);
    expect(() => a.cipherKey(CipherKind.TWOFISH, new Uint8Array(32), 0, 32)).toThrow(RangeError);
    expect(() => a.cipherKey(9 as CipherKind, new Uint8Array(32), 0, 32)).toThrow(RangeError);
    expect(() => a.cipherKey(CipherKind.SPECK, new Uint8Array(32), 1, 32)).toThrow(RangeError);
    expect(() => a.cipherKey(CipherKind.SPECK, 'key' as unknown as Uint8Array, 0, 3)).toThrow(TypeError);
  });

  it('ranges outside a buffer → RangeError, nothing written; CBC lengths must be whole blocks', () => {
    const dst = new Uint8Array(16).fill(GUARD);
    expect(() => a.streamXor(speck, buf, 60, 5, dst, 0, iv, 0)).toThrow(RangeError);
    expect(() => a.streamXor(speck, buf, 0, 17, dst, 0, iv, 0)).toThrow(RangeError);
    expect(() => a.streamXor(speck, buf, 0, 1, dst, 16, iv, 0)).toThrow(RangeError);
    expect(() => a.streamXor(speck, buf, 0, 1, dst, 0, iv, 1)).toThrow(RangeError);
    expect(() => a.cbcEncrypt(aes, buf, 0, 17, buf, 0, iv, 0)).toThrow(RangeError);
    expect(() => a.cbcDecrypt(aes, buf, 0, 32, dst, 0, iv, 0)).toThrow(RangeError);
    expect(dst.every((b) => b === GUARD)).toBe(true);
  });

  it('a key of the wrong family, a non-key, or non-integer offsets → TypeError "Usage: …"', () => {
    const calls: (() => void)[] = [
      () => a.cbcEncrypt(speck, buf, 0, 16, buf, 0, iv, 0),
      () => a.streamXor(aes, buf, 0, 16, buf, 0, iv, 0),
      () => a.streamXor({} as typeof speck, buf, 0, 16, buf, 0, iv, 0),
      () => a.streamXor(7 as unknown as typeof speck, buf, 0, 16, buf, 0, iv, 0),
      () => a.streamXor(speck, buf, 0.5, 1, buf, 0, iv, 0),
      () => a.streamXor(speck, buf, -1, 1, buf, 0, iv, 0),
      () => a.streamXor(speck, new Uint16Array(8) as unknown as Uint8Array, 0, 1, buf, 0, iv, 0),
      () => (a.streamXor as unknown as (...x: unknown[]) => void)(speck, buf, 0, 1, buf, 0, iv),
    ];
    for (const call of calls) expect(call).toThrow(/^Usage: /);
    for (const call of calls) expect(call).toThrow(TypeError);
  });
});

describe('createTransform with the native backend', () => {
  const R = SPEC_15_3_R;
  const rows = SPEC_15_3_ROWS;

  // The default ChaCha20 IV mode ('counter') turns into random IVs with a backend core, so the
  // vector comes out without asking for 'random'.
  it.each(rows)('§15.3: -k %s, transform %i, both ways', (key, id, m, out) => {
    const t = createTransform(id, key, new FixedRandom(R), { backend: backend() });
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

  it("upstream tests-transform.expected: n2n's generator injected gives the identical bytes", () => {
    const file = resolve(VECTORS, 'upstream-tests/tests-transform.expected');
    const sections = readExpectedSections(file);
    const key = JSON.parse(readExpectedValues(file).get('environment: encrypt_key') as string) as string;
    const input = sections.get('environment: input size = 0x200') as Uint8Array;
    const rng = new N2nRandom();
    const order: [string, TransformId][] = [
      ['null', TransformId.NULL],
      ['tf', TransformId.TWOFISH],
      ['aes', TransformId.AES],
      ['cc20', TransformId.CHACHA20],
      ['speck', TransformId.SPECK],
    ];
    for (const [name, id] of order) {
      const size = id === TransformId.NULL ? 0x226 : 0x236;
      const dump = sections.get(`${name}: output size = 0x${size.toString(16)}`) as Uint8Array;
      const t = createTransform(id, key, rng, { backend: backend() });
      const out = new Uint8Array(1024);
      const n = t.encrypt(input, 0, input.length, out, 0);
      expect(hex(out.subarray(0, n))).toBe(hex(dump.subarray(38)));
    }
  });

  it('native and pure-TS transforms decrypt each other, at odd offsets, in place and shifted', () => {
    const rnd = new SeededRandom(0x7a7);
    for (const id of [TransformId.TWOFISH, TransformId.AES, TransformId.CHACHA20, TransformId.SPECK]) {
      const pairs: [PayloadTransform, PayloadTransform][] = [
        [
          createTransform(id, 'cross key', new SeededRandom(id), { backend: backend() }),
          createTransform(id, 'cross key', new SeededRandom(id + 10)),
        ],
      ];
      pairs.push([pairs[0][1], pairs[0][0]]);
      for (const [enc, dec] of pairs) {
        for (let n = 0; n < 40; n++) {
          const len = n < 20 ? n : rnd.u32() % 2049;
          const data = new Uint8Array(len);
          rnd.fill(data);
          const src = new Uint8Array(len + 5);
          src.set(data, 5);
          const wire = new Uint8Array(len + 16 + 3);
          expect(enc.encrypt(src, 5, len, wire, 3)).toBe(len + 16);
          const back = new Uint8Array(len + 9);
          expect(dec.decrypt(wire, 3, len + 16, back, 9)).toBe(len);
          expect(back.subarray(9)).toEqual(data);
          // In place with headroom, then decrypt to the front (a shifted overlap) and in place.
          const buf = new Uint8Array(32 + len);
          buf.set(data, 32);
          expect(enc.encrypt(buf, 32, len, buf, 16)).toBe(len + 16);
          const copy = buf.slice(16, 32 + len);
          expect(dec.decrypt(buf, 16, len + 16, buf, 16)).toBe(len);
          expect(buf.subarray(16, 16 + len)).toEqual(data);
          buf.set(copy, 16);
          expect(dec.decrypt(buf, 16, len + 16, buf, 32)).toBe(len);
          expect(buf.subarray(32, 32 + len)).toEqual(data);
        }
      }
    }
  });

  it('a backend without some ciphers leaves those on the pure-TS cores', () => {
    const only: CipherBackend = {
      name: 'speck only',
      speckCtr: (k) => backend().speckCtr?.(k) as StreamCore,
    };
    for (const id of [TransformId.TWOFISH, TransformId.AES, TransformId.CHACHA20, TransformId.SPECK]) {
      const t = createTransform(id, 'partial', new SeededRandom(3), { backend: only, chacha20Iv: 'random' });
      const ref = createTransform(id, 'partial', new SeededRandom(3), { chacha20Iv: 'random' });
      const data = seq(300);
      const a = new Uint8Array(316);
      const b = new Uint8Array(316);
      t.encrypt(data, 0, 300, a, 0);
      ref.encrypt(data, 0, 300, b, 0);
      expect(hex(a)).toBe(hex(b));
    }
  });
});
