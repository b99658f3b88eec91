// Shared by the transform-* fuzz targets: one payload transform's decrypt, pure TS against the native cores.
import { nativeCipherBackend } from '../src/io/crypto-native.js';
import {
  createTransform,
  MAX_TRANSFORM_PLAINTEXT_BYTES,
  type PayloadTransform,
} from '../src/transform/payload.js';
import { equalBytes } from '../src/util/bytes.js';
import { SeededRandom } from '../src/util/random.js';
import type { TransformId } from '../src/wire/types.js';
import { captures, check, distinct } from './common.js';

/** The captures' -k (test/vectors/CAPTURES.md). */
const KEY = 'goldenkey';
/** Output room: the largest plaintext plus a cipher's preamble and padding. */
const ROOM = MAX_TRANSFORM_PLAINTEXT_BYTES + 64;
const RANDOM_SEED = 0x6e32;

export interface PayloadTarget {
  seeds(): Uint8Array[];
  fuzz(data: Buffer): void;
}

/** The fuzz target of transform `id`: decrypt never throws, TS and native agree, encrypt→decrypt is identity. */
export function payloadTarget(id: TransformId): PayloadTarget {
  const native = nativeCipherBackend();
  if (native === undefined) throw new Error('transform targets: the native addon is not built');
  const pure: PayloadTransform = createTransform(id, KEY, new SeededRandom(RANDOM_SEED));
  const fast: PayloadTransform = createTransform(id, KEY, new SeededRandom(RANDOM_SEED), { backend: native });
  const outTs = new Uint8Array(ROOM);
  const outNative = new Uint8Array(ROOM);
  const sealed = new Uint8Array(ROOM);
  const opened = new Uint8Array(ROOM);
  return {
    seeds(): Uint8Array[] {
      return distinct(
        captures().flatMap((c) =>
          c.datagrams
            .filter((d) => d.transform === id && d.payloadOffset !== undefined)
            .map((d) => d.plain.subarray(d.payloadOffset)),
        ),
      );
    },
    fuzz(data: Buffer): void {
      const n = pure.decrypt(data, 0, data.length, outTs, 0);
      const m = fast.decrypt(data, 0, data.length, outNative, 0);
      check(n === m, `decrypt length: TS ${n}, native ${m}`);
      check(n >= -1 && n <= data.length, `decrypt returned ${n} for ${data.length} bytes`);
      if (n > 0)
        check(equalBytes(outTs.subarray(0, n), outNative.subarray(0, n)), 'TS and native plaintexts differ');
      // The same bytes as a plaintext: both senders' output opens to it on the other.
      if (data.length > MAX_TRANSFORM_PLAINTEXT_BYTES) return;
      for (const [enc, dec] of [
        [pure, fast],
        [fast, pure],
      ] as const) {
        const s = enc.encrypt(data, 0, data.length, sealed, 0);
        check(s === data.length + enc.overhead, `encrypt returned ${s} for ${data.length} bytes`);
        const o = dec.decrypt(sealed, 0, s, opened, 0);
        check(
          o === data.length && equalBytes(opened.subarray(0, o), data),
          'encrypt then decrypt is not identity',
        );
      }
    },
  };
}
