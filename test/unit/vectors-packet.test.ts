// Captured 3.1.1 PACKET payloads (test/vectors/A*.json) decrypt with our transforms to the logged frames and TAP captures.
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTransform } from '../../src/transform/payload.js';
import { SeededRandom } from '../../src/util/random.js';
import type { TransformId } from '../../src/wire/types.js';

import { VECTORS } from './helpers/vectors.js';

interface Datagram {
  i: number;
  type: string;
  hex: string;
  decoded: {
    payload_offset: number | string;
    transform: number | string;
    frame_hex: string;
    plain_hex?: string;
  };
  frame_matches_tap?: string[];
}
interface TapFrame {
  i: number;
  dir: string;
  hex: string;
}
interface VectorFile {
  scenario: { cipher: number; key: string | null; header_encryption: boolean };
  udp: Datagram[];
  tap_frames: Record<string, TapFrame[]>;
}

const files = readdirSync(VECTORS)
  .filter((f) => /^A.*\.json$/.test(f))
  .sort();

describe('captured PACKET payloads', () => {
  it('finds the golden vector files', () => {
    expect(files.length).toBe(14);
  });

  it.each(files)('%s', (file) => {
    const v = JSON.parse(readFileSync(resolve(VECTORS, file), 'utf8')) as VectorFile;
    const { cipher, key, header_encryption: he } = v.scenario;
    const t = createTransform(cipher as TransformId, key ?? undefined, new SeededRandom(1));
    const packets = v.udp.filter((d) => d.type === 'PACKET');
    expect(packets.length).toBeGreaterThan(0);
    let tapChecked = 0;
    for (const d of packets) {
      // With -H the header is encrypted; plain_hex is the datagram with the header decrypted.
      const wire = Buffer.from(he ? (d.decoded.plain_hex as string) : d.hex, 'hex');
      const off = Number(d.decoded.payload_offset);
      expect(Number(d.decoded.transform)).toBe(cipher);
      expect(wire[off - 1]).toBe(cipher);
      const out = new Uint8Array(wire.length);
      const n = t.decrypt(wire, off, wire.length - off, out, 0);
      const frame = Buffer.from(out.subarray(0, n)).toString('hex');
      expect(frame, `${file} datagram ${d.i}`).toBe(d.decoded.frame_hex);
      for (const ref of d.frame_matches_tap ?? []) {
        const m = /^(\w+)#(\d+):(in|out)$/.exec(ref);
        expect(m, ref).not.toBeNull();
        const [, edge, idx, dir] = m as RegExpExecArray;
        const tap = v.tap_frames[edge].find((f) => f.i === Number(idx) && f.dir === dir);
        expect(tap?.hex, `${file} ${ref}`).toBe(frame);
        tapChecked++;
      }
    }
    // Every scenario pings across the tunnel, so TAP frames must have been compared.
    expect(tapChecked).toBeGreaterThan(0);
  });
});
