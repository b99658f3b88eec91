// Bounds-checked big-endian reader and writer helpers, hex and fixed-width string conversion.
import { truncated, WireError, WireErrorCode } from './errors.js';

/**
 * Sequential reader over `buf[offset, end)`. Every read checks the remaining length first
 * and throws a WireError(TRUNCATED) instead of reading out of range.
 */
export class Reader {
  buf: Uint8Array;
  pos: number;
  end: number;

  constructor(buf: Uint8Array, offset = 0, end = buf.length) {
    if (offset < 0 || end > buf.length || offset > end) {
      throw new WireError(WireErrorCode.TRUNCATED, `reader range ${offset}..${end} outside ${buf.length}`);
    }
    this.buf = buf;
    this.pos = offset;
    this.end = end;
  }

  /** Re-point the reader at another range without allocating. */
  reset(buf: Uint8Array, offset = 0, end = buf.length): this {
    if (offset < 0 || end > buf.length || offset > end) {
      throw new WireError(WireErrorCode.TRUNCATED, `reader range ${offset}..${end} outside ${buf.length}`);
    }
    this.buf = buf;
    this.pos = offset;
    this.end = end;
    return this;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  need(n: number, what: string): void {
    if (this.end - this.pos < n) throw truncated(what, n, this.end - this.pos);
  }

  u8(what = 'u8'): number {
    this.need(1, what);
    return this.buf[this.pos++];
  }

  u16(what = 'u16'): number {
    this.need(2, what);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 2;
    return (b[p] << 8) | b[p + 1];
  }

  u32(what = 'u32'): number {
    this.need(4, what);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 4;
    return ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
  }

  /** 48-bit MAC as a number (exact in a double); see util/mac.ts. */
  mac(what = 'mac'): number {
    this.need(6, what);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 6;
    return (
      (b[p] * 0x10000 + ((b[p + 1] << 8) | b[p + 2])) * 0x1000000 +
      ((b[p + 3] << 16) | (b[p + 4] << 8) | b[p + 5])
    );
  }

  /** A copy of the next n bytes (safe to keep after the datagram buffer is reused). */
  bytes(n: number, what = 'bytes'): Uint8Array {
    this.need(n, what);
    // Not buf.slice(): on a Buffer that is a view, and the datagram buffer gets reused.
    const out = new Uint8Array(n);
    out.set(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return out;
  }

  skip(n: number, what = 'skip'): void {
    this.need(n, what);
    this.pos += n;
  }
}

/** Write helpers return the offset after the written field. Callers size the buffer with encodedLength. */
export function writeU8(buf: Uint8Array, off: number, v: number): number {
  buf[off] = v & 0xff;
  return off + 1;
}

export function writeU16(buf: Uint8Array, off: number, v: number): number {
  buf[off] = (v >>> 8) & 0xff;
  buf[off + 1] = v & 0xff;
  return off + 2;
}

export function writeU32(buf: Uint8Array, off: number, v: number): number {
  buf[off] = (v >>> 24) & 0xff;
  buf[off + 1] = (v >>> 16) & 0xff;
  buf[off + 2] = (v >>> 8) & 0xff;
  buf[off + 3] = v & 0xff;
  return off + 4;
}

export function readU16(buf: Uint8Array, off: number): number {
  return (buf[off] << 8) | buf[off + 1];
}

export function readU32(buf: Uint8Array, off: number): number {
  return ((buf[off] << 24) | (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3]) >>> 0;
}

/** Copy `src` into `buf` at `off`, zero-filling up to `width` bytes; src longer than width is an error. */
export function writeFixed(buf: Uint8Array, off: number, src: Uint8Array, width: number): number {
  if (src.length > width) {
    throw new WireError(WireErrorCode.UNENCODABLE, `field of ${src.length} bytes does not fit ${width}`);
  }
  buf.set(src, off);
  buf.fill(0, off + src.length, off + width);
  return off + width;
}

const textEncoder = new TextEncoder();
const latin1 = new TextDecoder('latin1');

/** A string as a zero-padded fixed-width field, truncated to `maxChars` bytes (n2n keeps a NUL at the end). */
export function fixedString(s: string, width: number, maxChars = width - 1): Uint8Array {
  const enc = textEncoder.encode(s);
  const out = new Uint8Array(width);
  out.set(enc.subarray(0, Math.min(enc.length, maxChars)));
  return out;
}

/** The C string in a fixed field: bytes up to the first NUL. */
export function cString(field: Uint8Array): string {
  let n = field.indexOf(0);
  if (n < 0) n = field.length;
  return latin1.decode(field.subarray(0, n));
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

export function fromHex(s: string): Uint8Array {
  const clean = s.replace(/[\s:]/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) {
    throw new TypeError(`not a hex string: ${s.slice(0, 40)}`);
  }
  return new Uint8Array(Buffer.from(clean, 'hex'));
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
