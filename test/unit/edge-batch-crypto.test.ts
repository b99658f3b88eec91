// The edge's payload batches (one native call per batch): same bytes as the per-payload transform, and edges using them interoperate with pure-TS edges.
import { afterEach, describe, expect, it } from 'vitest';
import { Edge as EdgeClass } from '../../src/edge/edge.js';
import type { Edge, EdgeOptions } from '../../src/edge/index.js';
import { BATCH_INVALID, createEdgePayload, MAX_BATCH_PLAINTEXT_BYTES } from '../../src/edge/payload.js';
import { nativeCipherBackend } from '../../src/io/crypto-native.js';
import { MemoryTap } from '../../src/io/index.js';
import { SeededRandom } from '../../src/util/random.js';
import { CompressionId, TransformId } from '../../src/wire/types.js';
import { FakeSupernode, ipv4Frame, makeWorld, type TestNode, type World } from './edge-harness.js';

const CIPHERS = [
  ['twofish', TransformId.TWOFISH],
  ['aes', TransformId.AES],
  ['chacha20', TransformId.CHACHA20],
  ['speck', TransformId.SPECK],
] as const;
const PREAMBLE = 16;
const SLOT = 2200;
const COUNT = 40;

function backend(): NonNullable<ReturnType<typeof nativeCipherBackend>> {
  const b = nativeCipherBackend();
  if (b === undefined) throw new Error('the addon (with its cipher cores) is not built: npm install');
  return b;
}

/** Lengths covering 0, block boundaries, odd sizes and the 2048-byte limit. */
function lengths(rnd: SeededRandom): number[] {
  const fixed = [0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 1290, 1304, MAX_BATCH_PLAINTEXT_BYTES];
  const out = [...fixed];
  while (out.length < COUNT) out.push(rnd.u32() % (MAX_BATCH_PLAINTEXT_BYTES + 1));
  return out;
}

describe('PayloadBatch against the per-payload transform', () => {
  for (const [name, id] of CIPHERS) {
    it(`${name}: same ciphertext in place and apart, decrypts back, refuses what the transform refuses`, () => {
      const rnd = new SeededRandom(id * 101);
      const key = `batch key ${name}`;
      // Two pipelines over identical random streams: one per payload, one batched.
      const single = createEdgePayload(id, key, CompressionId.NONE, new SeededRandom(7), backend());
      const batched = createEdgePayload(id, key, CompressionId.NONE, new SeededRandom(7), backend());
      expect(single.batch).toBeDefined();
      const batch = batched.batch!;
      const lens = lengths(rnd);
      const n = lens.length;
      const plain = new Uint8Array(n * SLOT + 7);
      rnd.fill(plain);
      const srcOffs = new Uint32Array(n);
      const lensA = Uint32Array.from(lens);
      // Odd offsets with 16 bytes of headroom in front of each payload.
      for (let i = 0; i < n; i++) srcOffs[i] = i * SLOT + PREAMBLE + 3;

      // Reference: the per-payload transform, in place with headroom.
      const ref = plain.slice();
      for (let i = 0; i < n; i++) {
        expect(single.encrypt(ref, srcOffs[i], lens[i], ref, srcOffs[i] - PREAMBLE)).toBe(lens[i] + PREAMBLE);
      }
      // Batch in place.
      const inPlace = plain.slice();
      const dstOffs = srcOffs.map((o) => o - PREAMBLE);
      const outLens = new Uint32Array(n);
      batch.encrypt(inPlace, srcOffs, lensA, inPlace, dstOffs, n, outLens);
      expect([...outLens]).toEqual(lens.map((l) => l + PREAMBLE));
      for (let i = 0; i < n; i++) {
        const o = dstOffs[i];
        expect(
          Buffer.from(inPlace.subarray(o, o + lens[i] + PREAMBLE)).equals(
            Buffer.from(ref.subarray(o, o + lens[i] + PREAMBLE)),
          ),
        ).toBe(true);
      }

      // Decrypt apart (into another buffer at other odd offsets) and in place.
      const ctLens = Uint32Array.from(lens, (l) => l + PREAMBLE);
      const out = new Uint8Array(n * SLOT + 11);
      const outOffs = Uint32Array.from({ length: n }, (_, i) => i * SLOT + 5);
      const plainLens = new Uint32Array(n);
      batch.decrypt(inPlace, dstOffs, ctLens, out, outOffs, n, plainLens);
      expect([...plainLens]).toEqual(lens);
      for (let i = 0; i < n; i++) {
        const a = out.subarray(outOffs[i], outOffs[i] + lens[i]);
        expect(Buffer.from(a).equals(Buffer.from(plain.subarray(srcOffs[i], srcOffs[i] + lens[i])))).toBe(
          true,
        );
      }
      const again = inPlace.slice();
      batch.decrypt(again, dstOffs, ctLens, again, srcOffs, n, plainLens);
      for (let i = 0; i < n; i++) {
        const a = again.subarray(srcOffs[i], srcOffs[i] + lens[i]);
        expect(Buffer.from(a).equals(Buffer.from(plain.subarray(srcOffs[i], srcOffs[i] + lens[i])))).toBe(
          true,
        );
      }

      // Mutated, short and over-long payloads: the batch says exactly what the transform says.
      const junk = new Uint8Array(n * SLOT);
      rnd.fill(junk);
      const jOffs = Uint32Array.from({ length: n }, (_, i) => i * SLOT);
      const jLens = Uint32Array.from({ length: n }, (_, i) => (i < 18 ? i : PREAMBLE + (rnd.u32() % 2100)));
      jLens[n - 1] = MAX_BATCH_PLAINTEXT_BYTES + PREAMBLE + 1;
      const jOut = new Uint8Array(n * SLOT + 64);
      const jRes = new Uint32Array(n);
      batch.decrypt(junk, jOffs, jLens, jOut, jOffs, n, jRes);
      const scratch = new Uint8Array(SLOT + 64);
      for (let i = 0; i < n; i++) {
        const want = single.decrypt(junk, jOffs[i], jLens[i], scratch, 0);
        expect(jRes[i]).toBe(want < 0 ? BATCH_INVALID : want);
        if (want >= 0) {
          expect(
            Buffer.from(jOut.subarray(jOffs[i], jOffs[i] + want)).equals(
              Buffer.from(scratch.subarray(0, want)),
            ),
          ).toBe(true);
        }
      }
    });
  }

  it('ranges outside a buffer throw before anything is written', () => {
    const p = createEdgePayload(TransformId.SPECK, 'k', CompressionId.NONE, new SeededRandom(1), backend());
    const buf = new Uint8Array(100);
    const out = new Uint32Array(1);
    expect(() =>
      p.batch!.encrypt(buf, Uint32Array.of(16), Uint32Array.of(90), buf, Uint32Array.of(0), 1, out),
    ).toThrow(RangeError);
    expect(() =>
      p.batch!.decrypt(buf, Uint32Array.of(0), Uint32Array.of(50), buf, Uint32Array.of(40), 1, out),
    ).toThrow(RangeError);
    expect(buf.every((b) => b === 0)).toBe(true);
  });

  it('the null transform has no batch', () => {
    expect(
      createEdgePayload(TransformId.NULL, undefined, CompressionId.NONE, new SeededRandom(1), backend())
        .batch,
    ).toBe(undefined);
  });
});

// ---------------------------------------------------------------- edges

const COMMUNITY = 'batchnet';
const MAC_A = 0x02_00_00_00_00_0a;
const MAC_B = 0x02_00_00_00_00_0b;

let running: Edge[] = [];
afterEach(async () => {
  for (const e of running) await e.stop();
  running = [];
});

/** An edge of the world; `native` gives it the addon's cipher backend (and with it the payload batches). */
function node(w: World, host: string, options: EdgeOptions, native: boolean, seed: number): TestNode {
  const tap = new MemoryTap();
  const deps = w.deps(host, tap, seed);
  const edge = new EdgeClass(options, native ? { ...deps, cipherBackend: backend() } : deps);
  return { edge, tap, logger: deps.logger as never, host };
}

/** Frames of assorted sizes; every third one's payload random (incompressible), the others a pattern. */
function frames(dst: number, src: number, from: string, to: string, n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const f = ipv4Frame(dst, src, from, to, 20 + ((i * 97) % 1250));
    if (i % 3 === 0) for (let j = 42; j < f.length; j++) f[j] = ((i + j) * 2654435761) >>> 24;
    out.push(f);
  }
  return out;
}

describe('edges with payload batches interoperate with per-payload edges', () => {
  for (const [name] of CIPHERS) {
    for (const he of [false, true]) {
      for (const compression of ['none', 'lzo'] as const) {
        it(`${name}${he ? ' -H' : ''}${compression === 'lzo' ? ' -z1' : ''}: batches of frames both ways, in order`, async () => {
          const w = makeWorld({ batch: true });
          const sn = new FakeSupernode(w, '198.51.100.1', 7654, {
            community: COMMUNITY,
            headerEncryption: he,
          });
          const base: EdgeOptions = {
            community: COMMUNITY,
            supernodes: [`${sn.host}:${sn.port}`],
            transform: name,
            key: 'a batch key',
            headerEncryption: he,
            compression,
          };
          const a = node(
            w,
            '192.0.2.1',
            { ...base, address: '10.1.0.1/24', mac: '02:00:00:00:00:0a' },
            true,
            11,
          );
          const b = node(
            w,
            '192.0.2.2',
            { ...base, address: '10.1.0.2/24', mac: '02:00:00:00:00:0b' },
            false,
            13,
          );
          for (const n of [a, b]) {
            running.push(n.edge);
            await n.edge.start();
          }
          await w.settle();
          // Relayed first, then P2P once the registration round punched through.
          for (const round of [0, 1]) {
            if (round === 1) await w.advance(21);
            const ab = frames(MAC_B, MAC_A, '10.1.0.1', '10.1.0.2', 30);
            const ba = frames(MAC_A, MAC_B, '10.1.0.2', '10.1.0.1', 30);
            b.tap.takeWritten();
            a.tap.takeWritten();
            a.tap.inject(ab);
            b.tap.inject(ba);
            await w.settle();
            const gotB = b.tap.takeWritten().filter((f) => f.length >= 34 && f[23] !== 1);
            const gotA = a.tap.takeWritten().filter((f) => f.length >= 34 && f[23] !== 1);
            expect(gotB.map((f) => Buffer.from(f).toString('hex'))).toEqual(
              ab.map((f) => Buffer.from(f).toString('hex')),
            );
            expect(gotA.map((f) => Buffer.from(f).toString('hex'))).toEqual(
              ba.map((f) => Buffer.from(f).toString('hex')),
            );
          }
          expect(a.edge.peerTables().known.map((p) => p.mac)).toEqual([MAC_B]);
          for (const n of [a, b]) {
            const d = n.edge.drops;
            expect(d.rxPayloadCrypto + d.rxHeaderCrypto + d.rxStamp + d.txTransform + d.rxCompression).toBe(
              0,
            );
          }
        });
      }
    }
  }
});
