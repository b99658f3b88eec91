// Shared by the fuzz targets: the captured n2n 3.1.1 datagrams (test/vectors) as seeds, and the failure signal.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  decryptHeaderTryKeys,
  HeaderInfo,
  HeaderKeyUsed,
  staticHeaderKeys,
} from '../src/transform/header.js';
import { STAMP_USEC_SHIFT } from '../src/transform/stamp.js';
import { fromHex } from '../src/util/bytes.js';
import { communityBytes } from '../src/wire/common.js';

/** test/vectors, found from this file whether it runs from fuzz/ (typecheck) or dist-fuzz/fuzz/ (compiled). */
const VECTORS = fileURLToPath(
  new URL(
    import.meta.url.includes('/dist-fuzz/') ? '../../test/vectors/' : '../test/vectors/',
    import.meta.url,
  ),
);

/** One datagram of a capture. */
export interface CapturedDatagram {
  /** The bytes on the wire (header-encrypted when the scenario used -H). */
  wire: Uint8Array;
  /** The plaintext datagram (equal to `wire` without -H). */
  plain: Uint8Array;
  type: string;
  /** PACKET only: where the transform's output starts in `plain`, and the transform id. */
  payloadOffset?: number;
  transform?: number;
  /** Who sent and who received it: 'supernode', 'edge_a' or 'edge_b'. */
  from: string;
  to: string;
}

/** One capture file (a scenario of test/vectors/CAPTURES.md). */
export interface Capture {
  name: string;
  community: string;
  key: string;
  cipher: number;
  headerEncryption: boolean;
  datagrams: CapturedDatagram[];
}

interface VectorFile {
  scenario: { name: string; community: string; key: string; cipher: number; header_encryption: boolean };
  udp: {
    hex: string;
    type: string;
    from: string;
    to: string;
    decoded: { plain_hex?: string; payload_offset?: number; transform?: number };
  }[];
}

let cached: Capture[] | undefined;

/** Every A*.json capture, parsed once. */
export function captures(): Capture[] {
  if (cached !== undefined) return cached;
  cached = [];
  for (const f of readdirSync(VECTORS)
    .filter((n) => /^A.*\.json$/.test(n))
    .sort()) {
    const v = JSON.parse(readFileSync(VECTORS + f, 'utf8')) as VectorFile;
    const s = v.scenario;
    cached.push({
      name: s.name,
      community: s.community,
      key: s.key,
      cipher: s.cipher,
      headerEncryption: s.header_encryption,
      datagrams: v.udp.map((u) => ({
        wire: fromHex(u.hex),
        plain: fromHex(s.header_encryption ? (u.decoded.plain_hex ?? u.hex) : u.hex),
        type: u.type,
        payloadOffset: u.decoded.payload_offset,
        transform: u.decoded.transform,
        from: u.from,
        to: u.to,
      })),
    });
  }
  return cached;
}

const US_PER_MS = 1000;
const MS_PER_SECOND = 1000;

/** The wall-clock time (ms) of a -H capture: the stamp of its first datagram (seconds high, µs << 12 low). */
export function captureTimeMs(c: Capture): number {
  const keys = staticHeaderKeys(communityBytes(c.community));
  const info = new HeaderInfo();
  for (const d of c.datagrams) {
    const b = Uint8Array.from(d.wire);
    if (
      decryptHeaderTryKeys(b, 0, b.length, keys, keys, communityBytes(c.community), info) !==
      HeaderKeyUsed.NONE
    )
      return info.hi * MS_PER_SECOND + Math.floor((info.lo >>> STAMP_USEC_SHIFT) / US_PER_MS);
  }
  throw new Error(`no datagram of ${c.name} decrypts`);
}

/** The bytes of test/vectors/<name> (e.g. the zstd PACKET). */
export function vectorFile(name: string): string {
  return readFileSync(VECTORS + name, 'utf8');
}

/** Distinct byte strings, in first-seen order. */
export function distinct(list: Iterable<Uint8Array>): Uint8Array[] {
  const seen = new Set<string>();
  const out: Uint8Array[] = [];
  for (const b of list) {
    const k = Buffer.from(b).toString('hex');
    if (!seen.has(k)) {
      seen.add(k);
      out.push(b);
    }
  }
  return out;
}

/** A property of the code under test does not hold: libFuzzer records the input as a crash. */
export class FuzzFailure extends Error {
  override name = 'FuzzFailure';
}

export function check(ok: boolean, what: string): void {
  if (!ok) throw new FuzzFailure(what);
}
