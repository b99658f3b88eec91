// The addon's header-encryption core (-H) against the pure-TS reference: captured 3.1.1 datagrams, random lengths, odd offsets, forgeries.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { pearsonHash64 } from '../../src/crypto/pearson.js';
import { loadAddon, type NativeAddon } from '../../src/io/addon.js';
import { nativeCipherBackend } from '../../src/io/crypto-native.js';
import { HeaderSealer } from '../../src/peer/seal.js';
import {
  asHeaderBackend,
  decryptHeader,
  decryptHeaderBatch,
  dynamicHeaderKeys,
  encryptHeader,
  HeaderInfo,
  type HeaderKeys,
  headerLength,
  OPEN_BATCH_WORDS,
  staticHeaderKeys,
} from '../../src/transform/header.js';
import { StampGenerator, stampToHex } from '../../src/transform/stamp.js';
import { FakeClock } from '../../src/util/clock.js';
import { SeededRandom } from '../../src/util/random.js';
import { MsgType } from '../../src/wire/types.js';
import { VECTORS } from './helpers/vectors.js';

/** A whole number in [0, n) from the seeded generator. */
const below = (rnd: SeededRandom, n: number): number => rnd.u32() % n;
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const field20 = (s: string): Uint8Array => {
  const f = new Uint8Array(20);
  f.set(new TextEncoder().encode(s));
  return f;
};

function backend() {
  const b = asHeaderBackend(nativeCipherBackend());
  if (b === undefined) throw new Error('the addon (with its header cores) is not built: npm install');
  return b;
}

const COMMUNITY = field20('goldencomm');
const tsKeys = staticHeaderKeys(COMMUNITY);
const nativeKeys = staticHeaderKeys(COMMUNITY, backend());

interface Datagram {
  i: number;
  hex: string;
  pc: number;
  decoded: { he_ok?: boolean; he_stamp?: string; plain_hex?: string; consumed?: number };
}

const ADDON = resolve(dirname(fileURLToPath(import.meta.url)), '../../native/build/Release/tsn2n_io.node');

/** Batch sizes: every one up to 19, and some around and past header.cc's 32-datagram groups. */
const BATCH_SIZES = [...Array.from({ length: 19 }, (_, j) => j + 1), 24, 31, 32, 33, 40, 64, 70];

/** The raw addon calls sealRuns makes (the lanes are chosen per process). */
type SealAddon = Required<Pick<NativeAddon, 'headerKey' | 'headerSealBatch'>>;

/**
 * Seals batches of 1..19 datagrams and some larger (up to 70: several of header.cc's 32-datagram groups; lengths
 * 24..1,523, odd offsets) with the raw addon and returns their hex. It is also run as source text in a child
 * process, so it uses nothing from outside its body.
 */
function sealRuns(a: SealAddon): string[] {
  const key = a.headerKey(
    Uint8Array.from({ length: 16 }, (_, j) => j * 17 + 1),
    Uint8Array.from({ length: 16 }, (_, j) => j * 29 + 3),
  );
  const out: string[] = [];
  const counts = [...Array.from({ length: 19 }, (_, j) => j + 1), 24, 31, 32, 33, 40, 64, 70];
  for (const count of counts) {
    const slot = 1600;
    const buf = Uint8Array.from({ length: count * slot + 5 }, (_, j) => (j * 131 + count) & 0xff);
    const offs = new Uint32Array(count);
    const lens = new Uint32Array(count);
    const hls = new Uint32Array(count);
    const stamps = new Uint32Array(2 * count);
    const rands = new Uint32Array(count);
    for (let j = 0; j < count; j++) {
      offs[j] = j * slot + 1 + (j % 3);
      lens[j] = 24 + ((j * 397 + count * 61) % 1500);
      hls[j] = 24 + ((j * 13) % (lens[j] - 23));
      stamps[2 * j] = j * 7919 + count;
      stamps[2 * j + 1] = j * 104729;
      rands[j] = j * 65537 + 1;
    }
    a.headerSealBatch(key, buf, offs, lens, hls, stamps, rands, count);
    out.push(Buffer.from(buf).toString('hex'));
  }
  return out;
}

describe('native header core', () => {
  it('is used by keys made with the backend, and not without it', () => {
    expect(nativeKeys.core).toBeDefined();
    expect(tsKeys.core).toBeUndefined();
  });

  it('Pearson-B 64 equals the TS hash for every length 0..300 at odd offsets', () => {
    const addon = loadAddon();
    const rnd = new SeededRandom(3);
    const out = new Uint32Array(2);
    for (let n = 0; n <= 300; n++) {
      const buf = new Uint8Array(n + 8);
      rnd.fill(buf);
      addon.pearson64!(buf, 3, n, out);
      const ref = pearsonHash64(buf, 3, n);
      expect([out[0], out[1]], `len ${n}`).toEqual([ref.hi, ref.lo]);
    }
  });

  const files = readdirSync(VECTORS).filter((f) => /^A.*-he(-relay)?\.json$/.test(f));
  it.each(files)('%s: every captured -H datagram opens and re-seals byte-exactly', (file) => {
    const udp = (JSON.parse(readFileSync(resolve(VECTORS, file), 'utf8')) as { udp: Datagram[] }).udp;
    const ok = udp.filter((d) => d.decoded.he_ok);
    expect(ok.length).toBeGreaterThan(10);
    const info = new HeaderInfo();
    for (const d of ok) {
      const wire = unhex(d.hex);
      const n = wire.length;
      const buf = new Uint8Array(n + 20).fill(0x5a);
      buf.set(wire, 7);
      expect(decryptHeader(buf, 7, n, nativeKeys, COMMUNITY, info), `${file}#${d.i}`).toBe(true);
      expect(hex(buf.subarray(7, 7 + n))).toBe(d.decoded.plain_hex);
      expect(stampToHex(info)).toBe(d.decoded.he_stamp);
      const expectedHl =
        d.pc === MsgType.PACKET ? headerLength(d.pc, d.decoded.consumed!, n - d.decoded.consumed!, false) : n;
      expect(info.hl).toBe(expectedHl);
      // Bytes around the datagram are untouched.
      expect(buf[6]).toBe(0x5a);
      expect(buf[7 + n]).toBe(0x5a);
    }
  });

  it('seals exactly as the TS reference, and each opens the other, at random lengths and odd offsets', () => {
    const rnd = new SeededRandom(7);
    const a = new HeaderInfo();
    const b = new HeaderInfo();
    for (let iter = 0; iter < 600; iter++) {
      const n = 24 + below(rnd, 1500);
      const hl = 24 + below(rnd, n - 23);
      const off = below(rnd, 9);
      const plain = new Uint8Array(n);
      rnd.fill(plain);
      plain.set(COMMUNITY, 4);
      const stamp = { hi: rnd.u32(), lo: rnd.u32() };
      const r32 = rnd.u32();
      const x = new Uint8Array(off + n + 3);
      const y = new Uint8Array(off + n + 3);
      x.set(plain, off);
      y.set(plain, off);
      encryptHeader(x, off, n, hl, stamp, r32, tsKeys);
      encryptHeader(y, off, n, hl, stamp, r32, nativeKeys);
      expect(hex(y), `n=${n} hl=${hl}`).toBe(hex(x));
      expect(decryptHeader(x, off, n, nativeKeys, COMMUNITY, a)).toBe(true);
      expect(decryptHeader(y, off, n, tsKeys, COMMUNITY, b)).toBe(true);
      expect(hex(x.subarray(off, off + n))).toBe(hex(plain));
      expect(hex(y.subarray(off, off + n))).toBe(hex(plain));
      expect([a.hi, a.lo, a.hl]).toEqual([stamp.hi >>> 0, stamp.lo >>> 0, hl]);
      expect([b.hi, b.lo, b.hl]).toEqual([a.hi, a.lo, a.hl]);
    }
  });

  it('seals a batch (up to 32 checksums and header blocks side by side) exactly as one by one, for batch sizes 1..70', () => {
    const rnd = new SeededRandom(5);
    for (const count of BATCH_SIZES) {
      const slot = 1600;
      const x = new Uint8Array(count * slot + 7);
      rnd.fill(x);
      const y = x.slice();
      const offs = new Uint32Array(count);
      const lens = new Uint32Array(count);
      const hls = new Uint32Array(count);
      const stamps = new Uint32Array(2 * count);
      const rands = new Uint32Array(count);
      for (let j = 0; j < count; j++) {
        offs[j] = j * slot + 3;
        lens[j] = 24 + below(rnd, 1500);
        hls[j] = 24 + below(rnd, lens[j] - 23);
        stamps[2 * j] = rnd.u32();
        stamps[2 * j + 1] = rnd.u32();
        rands[j] = rnd.u32();
        x.set(COMMUNITY, offs[j] + 4);
        y.set(COMMUNITY, offs[j] + 4);
      }
      nativeKeys.core!.sealBatch(x, offs, lens, hls, stamps, rands, count);
      for (let j = 0; j < count; j++) {
        const stamp = { hi: stamps[2 * j], lo: stamps[2 * j + 1] };
        encryptHeader(y, offs[j], lens[j], hls[j], stamp, rands[j], tsKeys);
      }
      expect(hex(x), `count ${count}`).toBe(hex(y));
    }
  });

  it('seals batches the same on the portable Pearson lanes (forced by TSN2N_PEARSON_PORTABLE) as in this process', () => {
    // A child process, since the lanes are chosen once per process; this process's batches equal the TS reference
    // (above). Keys, lengths and contents follow the batch size.
    const script = `
      const a = require(${JSON.stringify(ADDON)});
      const run = ${sealRuns.toString()};
      console.log([a.cryptoInfo().pearson, ...run(a)].join(','));`;
    const r = spawnSync(process.execPath, ['-e', script], {
      env: { ...process.env, TSN2N_PEARSON_PORTABLE: '1' },
      encoding: 'utf8',
      // The batches' hex is several megabytes (spawnSync cuts stdout at 1 MiB by default).
      maxBuffer: 64 * 1024 * 1024,
    });
    expect(r.stderr).toBe('');
    const [impl, ...got] = r.stdout.trim().split(',');
    expect(impl).toBe('portable');
    const want = sealRuns(loadAddon() as SealAddon);
    expect(got).toHaveLength(want.length);
    expect(got).toEqual(want);
  });

  it('HeaderSealer.sealBatch draws the same stamps and random words as seal one by one', () => {
    const make = () =>
      new HeaderSealer(new StampGenerator(new FakeClock(1_700_000_000_000)), new SeededRandom(77));
    const a = make();
    const b = make();
    const buf1 = new Uint8Array(5 * 200);
    new SeededRandom(1).fill(buf1);
    const buf2 = buf1.slice();
    const offs = Uint32Array.from([0, 200, 400, 600, 800]);
    const lens = Uint32Array.from([60, 120, 199, 24, 77]);
    const hls = Uint32Array.from([38, 120, 46, 24, 60]);
    a.sealBatch(buf1, offs, lens, hls, 5, nativeKeys);
    for (let j = 0; j < 5; j++) b.seal(buf2, offs[j], lens[j], tsKeys, hls[j]);
    expect(hex(buf1)).toBe(hex(buf2));
  });

  /**
   * A batch in one slab at unaligned offsets: sealed datagrams of random lengths (some under the wrong key, some
   * with a flipped bit, some cut short or padded, some random bytes or shorter than the header), returned with the
   * expected one-by-one outcome computed on a copy with the TS reference.
   */
  function mixedBatch(rnd: SeededRandom, count: number, other: HeaderKeys) {
    const slot = 1601;
    const slab = new Uint8Array(count * slot + 5);
    rnd.fill(slab);
    const offs = new Uint32Array(count);
    const lens = new Uint32Array(count);
    for (let j = 0; j < count; j++) {
      const off = j * slot + 1 + below(rnd, 5);
      // 1 wrong key, 2 a flipped bit, 3 cut short, 4 padded, 5 random bytes under 24, 6 random bytes; else good.
      const kind = below(rnd, 11);
      let n = kind === 5 ? below(rnd, 24) : 24 + below(rnd, 1500);
      offs[j] = off;
      if (kind !== 5 && kind !== 6) {
        slab.set(COMMUNITY, off + 4);
        const hl = 24 + below(rnd, n - 23);
        encryptHeader(
          slab,
          off,
          n,
          hl,
          { hi: rnd.u32(), lo: rnd.u32() },
          rnd.u32(),
          kind === 1 ? other : tsKeys,
        );
        if (kind === 2) slab[off + below(rnd, n)] ^= 1 << below(rnd, 8);
        if (kind === 3) n = Math.max(0, n - 1 - below(rnd, 40));
        if (kind === 4) n = Math.min(n + 1 + below(rnd, 40), slot - 5);
      }
      lens[j] = n;
    }
    const expected = slab.slice();
    const want = new Uint32Array(count * OPEN_BATCH_WORDS);
    const info = new HeaderInfo();
    for (let j = 0; j < count; j++) {
      const o = j * OPEN_BATCH_WORDS;
      if (decryptHeader(expected, offs[j], lens[j], tsKeys, COMMUNITY, info)) {
        want.set([1, info.hi, info.lo, info.hl], o);
      }
    }
    return { slab, offs, lens, expected, want };
  }

  it('opens a batch (up to 32 checksums and header blocks side by side) exactly as one by one, with bad and short datagrams mixed in', () => {
    const rnd = new SeededRandom(11);
    const other = dynamicHeaderKeys(unhex('3517e3bbb26859d129cd685f382a2fb5'), backend());
    let opened = 0;
    let refused = 0;
    for (let iter = 0; iter < 60; iter++) {
      const count = BATCH_SIZES[iter % BATCH_SIZES.length];
      const { slab, offs, lens, expected, want } = mixedBatch(rnd, count, other);
      const ts = slab.slice();
      const out = new Uint32Array(count * OPEN_BATCH_WORDS).fill(0xdead);
      decryptHeaderBatch(slab, offs, lens, count, nativeKeys, COMMUNITY, out);
      const tsOut = new Uint32Array(count * OPEN_BATCH_WORDS).fill(0xdead);
      decryptHeaderBatch(ts, offs, lens, count, tsKeys, COMMUNITY, tsOut);
      for (let j = 0; j < count; j++) {
        const o = j * OPEN_BATCH_WORDS;
        const got = out[o] === 1 ? [...out.subarray(o, o + OPEN_BATCH_WORDS)] : [out[o]];
        const exp = want[o] === 1 ? [...want.subarray(o, o + OPEN_BATCH_WORDS)] : [0];
        const fromTs = tsOut[o] === 1 ? [...tsOut.subarray(o, o + OPEN_BATCH_WORDS)] : [tsOut[o]];
        expect(got, `batch ${iter} datagram ${j}`).toEqual(exp);
        expect(fromTs).toEqual(exp);
        if (exp[0] === 1) opened++;
        else refused++;
      }
      // Opened datagrams are plaintext in place, the refused ones and every byte around them untouched.
      expect(hex(slab), `batch ${iter}`).toBe(hex(expected));
      expect(hex(ts)).toBe(hex(expected));
    }
    expect(opened).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(100);
  });

  it('refuses wrong keys, flipped bits and random bytes, leaving the buffer byte-identical', () => {
    const rnd = new SeededRandom(9);
    const other = dynamicHeaderKeys(unhex('3517e3bbb26859d129cd685f382a2fb5'), backend());
    const info = new HeaderInfo();
    for (let iter = 0; iter < 2000; iter++) {
      const n = below(rnd, 200);
      const buf = new Uint8Array(n + 2);
      rnd.fill(buf);
      if (iter % 2 === 0 && n >= 24) {
        buf.set(COMMUNITY, 5);
        encryptHeader(buf, 1, n, 24 + below(rnd, n - 23), { hi: 1, lo: 2 }, 3, nativeKeys);
        buf[1 + below(rnd, n)] ^= 1 << below(rnd, 8);
      }
      const before = hex(buf);
      expect(decryptHeader(buf, 1, n, nativeKeys, COMMUNITY, info)).toBe(
        decryptHeader(buf.slice(), 1, n, tsKeys, COMMUNITY, info),
      );
      expect(hex(buf)).toBe(before);
      expect(decryptHeader(buf, 1, n, other, COMMUNITY, info)).toBe(false);
      expect(hex(buf)).toBe(before);
    }
  });

  it('checks its arguments in C++ (RangeError / TypeError), never touching memory outside the buffer', () => {
    const addon = loadAddon();
    const buf = new Uint8Array(64);
    const out = new Uint32Array(3);
    const key = addon.headerKey!(new Uint8Array(16), new Uint8Array(16));
    expect(() => addon.headerSeal!(key, buf, 50, 24, 24, 0, 0, 0)).toThrow(RangeError);
    expect(() => addon.headerSeal!(key, buf, 0, 40, 41, 0, 0, 0)).toThrow(RangeError);
    expect(() => addon.headerSeal!(key, buf, 0, 23, 23, 0, 0, 0)).toThrow(RangeError);
    expect(() => addon.headerOpen!(key, buf, 10, 60, new Uint8Array(20), out)).toThrow(RangeError);
    expect(() => addon.headerOpen!(key, buf, 0, 60, new Uint8Array(19), out)).toThrow(RangeError);
    expect(() => addon.headerOpen!({} as never, buf, 0, 60, new Uint8Array(20), out)).toThrow(TypeError);
    expect(() => addon.headerKey!(new Uint8Array(15), new Uint8Array(16))).toThrow(RangeError);
    const one = Uint32Array.of(0);
    const words = (v: number): Uint32Array => Uint32Array.of(v);
    // A batch checks every range before it writes anything.
    expect(() =>
      addon.headerSealBatch!(
        key,
        buf,
        Uint32Array.of(0, 50),
        Uint32Array.of(24, 24),
        Uint32Array.of(24, 24),
        new Uint32Array(4),
        new Uint32Array(2),
        2,
      ),
    ).toThrow(RangeError);
    expect(buf.every((v) => v === 0)).toBe(true);
    expect(() =>
      addon.headerSealBatch!(key, buf, one, words(24), words(24), new Uint32Array(1), one, 1),
    ).toThrow(RangeError);
    expect(() =>
      addon.headerSealBatch!(key, buf, one, words(24), words(25), new Uint32Array(2), one, 1),
    ).toThrow(RangeError);
    const c20 = new Uint8Array(20);
    expect(() =>
      addon.headerOpenBatch!(
        key,
        buf,
        Uint32Array.of(0, 41),
        Uint32Array.of(24, 24),
        c20,
        new Uint32Array(8),
        2,
      ),
    ).toThrow(RangeError);
    expect(() => addon.headerOpenBatch!(key, buf, one, words(24), c20, new Uint32Array(3), 1)).toThrow(
      RangeError,
    );
    expect(() =>
      addon.headerOpenBatch!(key, buf, one, words(24), new Uint8Array(19), new Uint32Array(4), 1),
    ).toThrow(RangeError);
    expect(() => addon.headerOpenBatch!(key, buf, one, words(24), c20, new Uint32Array(4), 2)).toThrow(
      RangeError,
    );
    expect(buf.every((v) => v === 0)).toBe(true);
  });
});
