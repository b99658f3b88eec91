// zstd (-z2): round trips through the payload rules, a frame a C n2n built with zstd made, bounded bombs, junk input.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Edge } from '../../src/edge/edge.js';
import { MemoryTap } from '../../src/io/memory.js';
import { loadZstd, type ZstdCodec, zstdCodecFrom } from '../../src/io/zstd.js';
import {
  checkCompressionSupported,
  compressPayload,
  decompressPayload,
  MAX_DECOMPRESSED_BYTES,
  ZSTD_LEVEL,
} from '../../src/transform/compression.js';
import { SeededRandom } from '../../src/util/random.js';
import { decodeMessage } from '../../src/wire/messages.js';
import { CompressionId, MsgType, TransformId } from '../../src/wire/types.js';
import { FakeSupernode, ipv4Frame, makeWorld } from './edge-harness.js';
import { VECTORS } from './helpers/vectors.js';

/** A zstd frame's first four bytes (RFC 8878 §3.1.1: magic number 0xFD2FB528, little-endian). */
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
/** Room given to the compressor: a frame up to N2N_PKT_BUF_SIZE plus zstd's worst-case overhead. */
const OUT_ROOM_BYTES = 4096;

/** A typical IPv4/ICMP echo frame: headers then a repeating payload, as ping sends. */
function pingLikeFrame(len: number): Uint8Array {
  const f = new Uint8Array(len);
  for (let i = 0; i < len; i++) f[i] = i < 42 ? (i * 37) & 0xff : (i - 42) & 0x3f;
  return f;
}

const codec = loadZstd();
// zstd-napi is a dependency built from source at install; this Node (20) has no zlib zstd.
const napi = zstdCodecFrom('zstd-napi');
const zlibCodec = zstdCodecFrom('node:zlib');
const codecs: [string, ZstdCodec][] = [];
if (napi !== undefined) codecs.push(['zstd-napi', napi]);
if (zlibCodec !== undefined) codecs.push(['node:zlib', zlibCodec]);

describe('zstd codec', () => {
  it('is available here (zstd-napi builds from its bundled sources)', () => {
    expect(codec).toBeDefined();
    expect(codecs.length).toBeGreaterThan(0);
  });

  describe.each(codecs)('%s', (_name, z) => {
    it('round-trips frames of every size class through the payload rules, at an offset', () => {
      const rnd = new SeededRandom(7);
      for (const len of [1, 14, 60, 64, 100, 200, 576, 1000, 1514, 2048]) {
        const frame = pingLikeFrame(len);
        const src = new Uint8Array(len + 10);
        src.set(frame, 10);
        const out = new Uint8Array(OUT_ROOM_BYTES);
        const n = compressPayload(CompressionId.ZSTD, src, 10, len, out, 5, z);
        if (len <= 100) {
          // Too short to gain (zstd's frame header and the 42 distinct header bytes): sent as is (id NONE).
          expect(n).toBe(-1);
          continue;
        }
        expect(n).toBeGreaterThan(0);
        expect(n).toBeLessThan(len);
        expect(Array.from(out.subarray(5, 9))).toEqual(ZSTD_MAGIC);
        const back = new Uint8Array(MAX_DECOMPRESSED_BYTES + 3);
        expect(decompressPayload(CompressionId.ZSTD, out, 5, n, back, 3, MAX_DECOMPRESSED_BYTES, z)).toBe(
          len,
        );
        expect(back.subarray(3, 3 + len)).toEqual(frame);
      }
      // Random bytes do not shrink: the frame goes out uncompressed.
      const noise = new Uint8Array(1400);
      rnd.fill(noise);
      expect(
        compressPayload(CompressionId.ZSTD, noise, 0, noise.length, new Uint8Array(OUT_ROOM_BYTES), 0, z),
      ).toBe(-1);
    });

    it('never inflates past the frame limit (decompression bomb) and allocates only the caller buffer', () => {
      // 64 KiB of zeros compresses to a few bytes; it must be refused, not written or buffered.
      const big = new Uint8Array(64 * 1024);
      const out = new Uint8Array(OUT_ROOM_BYTES);
      const n = z.compress(big, 0, big.length, out, 0, ZSTD_LEVEL);
      expect(n).toBeGreaterThan(0);
      expect(n).toBeLessThan(100);
      const dst = new Uint8Array(MAX_DECOMPRESSED_BYTES + 16).fill(0xaa);
      expect(decompressPayload(CompressionId.ZSTD, out, 0, n, dst, 0, MAX_DECOMPRESSED_BYTES, z)).toBe(-1);
      expect(z.decompress(out, 0, n, dst, 0, MAX_DECOMPRESSED_BYTES)).toBe(-1);
      // Nothing past the limit was touched.
      expect(dst.subarray(MAX_DECOMPRESSED_BYTES).every((b) => b === 0xaa)).toBe(true);
      // One byte over the limit is refused too; exactly the limit passes.
      const over = new Uint8Array(MAX_DECOMPRESSED_BYTES + 1);
      const m = z.compress(over, 0, over.length, out, 0, ZSTD_LEVEL);
      expect(z.decompress(out, 0, m, dst, 0, MAX_DECOMPRESSED_BYTES)).toBe(-1);
      const exact = z.compress(over, 0, MAX_DECOMPRESSED_BYTES, out, 0, ZSTD_LEVEL);
      expect(z.decompress(out, 0, exact, dst, 0, MAX_DECOMPRESSED_BYTES)).toBe(MAX_DECOMPRESSED_BYTES);
    });

    it('fails cleanly on random bytes, truncated frames and a corrupted body', () => {
      const rnd = new SeededRandom(11);
      const dst = new Uint8Array(MAX_DECOMPRESSED_BYTES);
      for (let i = 0; i < 200; i++) {
        const junk = new Uint8Array(1 + (i % 300));
        rnd.fill(junk);
        expect(decompressPayload(CompressionId.ZSTD, junk, 0, junk.length, dst, 0, dst.length, z)).toBe(-1);
      }
      const frame = pingLikeFrame(1000);
      const out = new Uint8Array(OUT_ROOM_BYTES);
      const n = z.compress(frame, 0, frame.length, out, 0, ZSTD_LEVEL);
      for (const cut of [1, 4, 6, n - 1]) {
        expect(decompressPayload(CompressionId.ZSTD, out, 0, cut, dst, 0, dst.length, z)).toBe(-1);
      }
      // Magic number intact, everything after it random: an error or a short result, never a throw.
      const bad = out.slice(0, n);
      rnd.fill(bad.subarray(4));
      const r = decompressPayload(CompressionId.ZSTD, bad, 0, n, dst, 0, dst.length, z);
      expect(r === -1 || r <= dst.length).toBe(true);
      expect(decompressPayload(CompressionId.ZSTD, out, 0, 0, dst, 0, dst.length, z)).toBe(-1);
    });
  });

  it('an edge given no codec refuses -z2 with the clear error, and starts with -z2 when given one', () => {
    const world = makeWorld();
    const opts = { community: 'z', supernodes: ['10.0.0.1:7654'], compression: 'zstd' as const };
    const deps = world.deps('10.0.0.2', new MemoryTap(), 1);
    expect(() => new Edge(opts, deps)).toThrow(/^-z2: zstd compression is not supported here/);
    if (codec === undefined) return;
    expect(new Edge(opts, { ...deps, zstd: codec }).config.compression).toBe(CompressionId.ZSTD);
  });

  it('is accepted by -z2 only with a codec; without one zstd payloads are dropped', () => {
    expect(() => checkCompressionSupported(CompressionId.ZSTD)).toThrow(/not supported/);
    if (codec === undefined) return;
    expect(checkCompressionSupported(CompressionId.ZSTD, codec)).toBe(CompressionId.ZSTD);
    const frame = pingLikeFrame(500);
    const out = new Uint8Array(OUT_ROOM_BYTES);
    const n = compressPayload(CompressionId.ZSTD, frame, 0, frame.length, out, 0, codec);
    expect(n).toBeGreaterThan(0);
    expect(compressPayload(CompressionId.ZSTD, frame, 0, frame.length, out, 0)).toBe(-1);
    expect(decompressPayload(CompressionId.ZSTD, out, 0, n, new Uint8Array(2048), 0)).toBe(-1);
  });
});

describe('a -z2 PACKET from a C n2n 3.1.1 built with zstd (test/vectors/c311-zstd-packet.hex)', () => {
  const datagram = Buffer.from(readFileSync(resolve(VECTORS, 'c311-zstd-packet.hex'), 'utf8').trim(), 'hex');
  /** The captured ping: `ping -b -s 1000 -p 6e326e`, so 14 Ethernet + 20 IP + 8 ICMP + 1000 bytes. */
  const FRAME_BYTES = 1042;
  const ICMP_DATA_OFFSET = 42;
  /** ping puts a 16-byte timeval first, then the -p pattern repeated. */
  const PING_TIMESTAMP_BYTES = 16;
  const PATTERN = [0x6e, 0x32, 0x6e];

  it('decodes as a zstd PACKET and inflates to the broadcast ICMP echo it carried', () => {
    expect(codec).toBeDefined();
    if (codec === undefined) return;
    const m = decodeMessage(datagram);
    expect(m.type).toBe(MsgType.PACKET);
    if (m.type !== MsgType.PACKET) return;
    expect(m.body.compression).toBe(CompressionId.ZSTD);
    expect(m.body.transform).toBe(TransformId.NULL);
    const out = new Uint8Array(MAX_DECOMPRESSED_BYTES);
    const n = decompressPayload(
      CompressionId.ZSTD,
      datagram,
      m.payloadOffset,
      m.payloadLength,
      out,
      0,
      MAX_DECOMPRESSED_BYTES,
      codec,
    );
    expect(n).toBe(FRAME_BYTES);
    const f = Buffer.from(out.subarray(0, n));
    expect(f.subarray(0, 6).toString('hex')).toBe('ffffffffffff');
    expect(f.subarray(6, 12).toString('hex')).toBe('021122334455');
    expect(f.readUInt16BE(12)).toBe(0x0800);
    expect([...f.subarray(26, 34)]).toEqual([10, 99, 0, 1, 10, 99, 0, 255]);
    const data = f.subarray(ICMP_DATA_OFFSET + PING_TIMESTAMP_BYTES);
    expect([...data].every((b, i) => b === PATTERN[(i + PING_TIMESTAMP_BYTES) % PATTERN.length])).toBe(true);
    // Ours at the same level (7) makes a frame of the same size (byte equality would tie the test to a libzstd version).
    const again = new Uint8Array(OUT_ROOM_BYTES);
    const z = compressPayload(CompressionId.ZSTD, f, 0, n, again, 0, codec);
    expect(z).toBeGreaterThan(0);
    expect(Math.abs(z - m.payloadLength)).toBeLessThan(16);
  });
});

describe('edge -z2 between two edges (in-memory network, relayed)', () => {
  const MAC_A = 0x02_00_00_00_00_0a;
  const MAC_B = 0x02_00_00_00_00_0b;
  /** A frame whose repeating payload zstd shrinks well. */
  const FRAME_PAYLOAD_BYTES = 1200;

  it('sends compressible frames as zstd PACKETs; a receiver without zstd drops and counts them', async () => {
    expect(codec).toBeDefined();
    if (codec === undefined) return;
    const w = makeWorld();
    // Relays between the edges (registered on the in-memory network by its constructor).
    new FakeSupernode(w, '198.51.100.1', 7654, { community: 'znet' });
    const base = {
      community: 'znet',
      supernodes: ['198.51.100.1:7654'],
      transform: 'aes',
      key: 'k',
      p2p: false,
    };
    const tapA = new MemoryTap();
    const tapB = new MemoryTap();
    const tapC = new MemoryTap();
    const a = new Edge(
      { ...base, compression: 'zstd', address: '10.1.0.1/24', mac: '02:00:00:00:00:0a' },
      { ...w.deps('192.0.2.1', tapA, 1), zstd: codec },
    );
    const b = new Edge(
      { ...base, address: '10.1.0.2/24', mac: '02:00:00:00:00:0b' },
      { ...w.deps('192.0.2.2', tapB, 2), zstd: codec },
    );
    // C has the same MAC as B on another host: it replaces B at the supernode later, and has no zstd.
    const c = new Edge(
      { ...base, address: '10.1.0.2/24', mac: '02:00:00:00:00:0b' },
      w.deps('192.0.2.3', tapC, 3),
    );
    const ids: number[] = [];
    w.net.observe((d) => {
      // PACKET (type 3) towards the supernode from A: byte 36 of the header is the compression id.
      if (d.from.address === '192.0.2.1' && d.data[3] === 3) ids.push(d.data[36]);
    });
    try {
      for (const e of [a, b]) await e.start();
      await w.settle();
      const f = ipv4Frame(MAC_B, MAC_A, '10.1.0.1', '10.1.0.2', FRAME_PAYLOAD_BYTES);
      tapA.inject(f);
      await w.settle();
      expect(ids).toContain(CompressionId.ZSTD);
      expect(tapB.takeWritten().some((x) => Buffer.from(x).equals(Buffer.from(f)))).toBe(true);
      await b.stop();
      await c.start();
      await w.settle();
      const before = c.drops.rxCompression;
      tapA.inject(f);
      await w.settle();
      expect(c.drops.rxCompression).toBe(before + 1);
      expect(tapC.takeWritten().some((x) => Buffer.from(x).equals(Buffer.from(f)))).toBe(false);
    } finally {
      for (const e of [a, b, c]) await e.stop();
    }
  });
});
