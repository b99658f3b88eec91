// The zstd codec for -z2: the zstd-napi binding when built, else Node's own zlib zstd when this Node has it, else none.
import { createRequire } from 'node:module';
import * as zlib from 'node:zlib';

/**
 * One-shot zstd on caller buffers, never throwing: both calls return the number of bytes written at `dstOff`,
 * or -1 (compression error or no room; corrupt input, or output that would pass `maxOut`).
 */
export interface ZstdCodec {
  /** Where the implementation comes from: 'node:zlib' or 'zstd-napi'. */
  readonly source: string;
  compress(src: Uint8Array, off: number, len: number, dst: Uint8Array, dstOff: number, level: number): number;
  /** Never writes or allocates more than `maxOut` bytes of output, whatever the frame header claims. */
  decompress(
    src: Uint8Array,
    off: number,
    len: number,
    dst: Uint8Array,
    dstOff: number,
    maxOut: number,
  ): number;
}

/** The part of zstd-napi's low-level binding (its `binding` module) used here. */
interface NapiBinding {
  CCtx: new () => { compress(dst: Uint8Array, src: Uint8Array, level: number): number };
  DCtx: new () => { decompress(dst: Uint8Array, src: Uint8Array): number };
}

/** Node ≥ 22.15's zlib zstd API (absent from Node 20's typings, so described here). */
interface ZlibZstd {
  zstdCompressSync(buf: Uint8Array, options: { params: Record<number, number> }): Buffer;
  zstdDecompressSync(buf: Uint8Array, options: { maxOutputLength: number }): Buffer;
  constants: { ZSTD_c_compressionLevel?: number };
}

/** zstd-napi over one compression and one decompression context, reused for every call. */
class NapiZstd implements ZstdCodec {
  readonly source = 'zstd-napi';
  private readonly cctx: InstanceType<NapiBinding['CCtx']>;
  private readonly dctx: InstanceType<NapiBinding['DCtx']>;

  constructor(b: NapiBinding) {
    this.cctx = new b.CCtx();
    this.dctx = new b.DCtx();
  }

  compress(
    src: Uint8Array,
    off: number,
    len: number,
    dst: Uint8Array,
    dstOff: number,
    level: number,
  ): number {
    try {
      return this.cctx.compress(dst.subarray(dstOff), src.subarray(off, off + len), level);
    } catch {
      return -1;
    }
  }

  decompress(
    src: Uint8Array,
    off: number,
    len: number,
    dst: Uint8Array,
    dstOff: number,
    maxOut: number,
  ): number {
    // ZSTD_decompressDCtx stops with an error as soon as the output would pass the buffer it is given.
    const room = Math.min(maxOut, dst.length - dstOff);
    if (room < 0) return -1;
    try {
      return this.dctx.decompress(dst.subarray(dstOff, dstOff + room), src.subarray(off, off + len));
    } catch {
      return -1;
    }
  }
}

/** node:zlib's one-shot zstd (allocates a result Buffer per call, which is then copied). */
class ZlibZstdCodec implements ZstdCodec {
  readonly source = 'node:zlib';
  constructor(private readonly z: ZlibZstd) {}

  compress(
    src: Uint8Array,
    off: number,
    len: number,
    dst: Uint8Array,
    dstOff: number,
    level: number,
  ): number {
    try {
      const key = this.z.constants.ZSTD_c_compressionLevel ?? ZSTD_C_COMPRESSION_LEVEL;
      const out = this.z.zstdCompressSync(src.subarray(off, off + len), { params: { [key]: level } });
      if (out.length > dst.length - dstOff) return -1;
      dst.set(out, dstOff);
      return out.length;
    } catch {
      return -1;
    }
  }

  decompress(
    src: Uint8Array,
    off: number,
    len: number,
    dst: Uint8Array,
    dstOff: number,
    maxOut: number,
  ): number {
    const room = Math.min(maxOut, dst.length - dstOff);
    if (room < 0) return -1;
    try {
      // maxOutputLength makes zlib stop (RangeError) instead of growing its output past `room`.
      const out = this.z.zstdDecompressSync(src.subarray(off, off + len), {
        maxOutputLength: Math.max(room, 1),
      });
      if (out.length > room) return -1;
      dst.set(out, dstOff);
      return out.length;
    } catch {
      return -1;
    }
  }
}

/** zstd.h: ZSTD_c_compressionLevel's parameter number (used if zlib's constants lack it). */
const ZSTD_C_COMPRESSION_LEVEL = 100;

/** The zlib zstd API when this Node has it (feature-detected, never by version number). */
export function zlibZstd(): ZlibZstd | undefined {
  const z = zlib as unknown as Partial<ZlibZstd>;
  if (typeof z.zstdCompressSync === 'function' && typeof z.zstdDecompressSync === 'function') {
    return z as ZlibZstd;
  }
  return undefined;
}

/** zstd-napi's binding when the package is installed and its native part was built; undefined otherwise. */
export function napiZstdBinding(): NapiBinding | undefined {
  try {
    const require = createRequire(import.meta.url);
    const b = require('zstd-napi/binding.js') as Partial<NapiBinding>;
    return typeof b.CCtx === 'function' && typeof b.DCtx === 'function' ? (b as NapiBinding) : undefined;
  } catch {
    return undefined;
  }
}

let cached: ZstdCodec | null | undefined;

/**
 * The zstd codec of this process, or undefined when there is none: zstd-napi's when it is installed and built,
 * else node:zlib's when the running Node has zstd (≥ 22.15). Looked up once.
 */
export function loadZstd(): ZstdCodec | undefined {
  if (cached === undefined) {
    // zstd-napi first: it works on the caller's buffers, zlib allocates a Buffer per call.
    const b = napiZstdBinding();
    if (b !== undefined) cached = new NapiZstd(b);
    else {
      const z = zlibZstd();
      cached = z === undefined ? null : new ZlibZstdCodec(z);
    }
  }
  return cached ?? undefined;
}

/** A codec on one given implementation, for tests that compare both where both exist. */
export function zstdCodecFrom(kind: 'node:zlib' | 'zstd-napi'): ZstdCodec | undefined {
  if (kind === 'node:zlib') {
    const z = zlibZstd();
    return z === undefined ? undefined : new ZlibZstdCodec(z);
  }
  const b = napiZstdBinding();
  return b === undefined ? undefined : new NapiZstd(b);
}
