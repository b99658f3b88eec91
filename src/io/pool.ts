// A free list of equal-sized Buffers for outgoing datagrams, each with a release callback made once, not per send.

/** One pooled buffer. `release` is bound once at creation, so passing it as a send callback allocates nothing. */
export interface PooledBuffer {
  readonly buf: Buffer;
  /** Returns the buffer to its pool; an error argument (from a send callback) is counted. Idempotent. */
  readonly release: (err?: unknown) => void;
}

export interface BufferPoolStats {
  /** Buffers created; grows only while the free list is empty. */
  created: number;
  acquired: number;
  released: number;
  /** Releases that carried an error (a failed send). */
  errors: number;
  /** Acquisitions served by an unpooled buffer because `maxBuffers` were all in use. */
  overflow: number;
}

class Entry implements PooledBuffer {
  readonly buf: Buffer;
  readonly release: (err?: unknown) => void;
  isFree = false;

  constructor(buf: Buffer, pool: BufferPool) {
    this.buf = buf;
    this.release = (err?: unknown): void => pool.giveBack(this, err);
  }
}

/**
 * Buffers of `bufferBytes` each, at most `maxBuffers` kept. Buffers are not cleared on release: they carry
 * ciphertext on its way out, and clearing would cost a memset per datagram.
 */
export class BufferPool {
  readonly bufferBytes: number;
  readonly maxBuffers: number;
  readonly stats: BufferPoolStats = { created: 0, acquired: 0, released: 0, errors: 0, overflow: 0 };
  private readonly free: Entry[] = [];
  private pooled = 0;

  constructor(bufferBytes: number, maxBuffers: number) {
    if (!Number.isInteger(bufferBytes) || bufferBytes <= 0) throw new RangeError('bufferBytes must be > 0');
    if (!Number.isInteger(maxBuffers) || maxBuffers < 0) throw new RangeError('maxBuffers must be >= 0');
    this.bufferBytes = bufferBytes;
    this.maxBuffers = maxBuffers;
  }

  /** Buffers waiting in the free list. */
  get available(): number {
    return this.free.length;
  }

  /** Pooled buffers handed out and not yet released. */
  get inUse(): number {
    return this.pooled - this.free.length;
  }

  acquire(): PooledBuffer {
    this.stats.acquired++;
    const e = this.free.pop();
    if (e !== undefined) {
      e.isFree = false;
      return e;
    }
    this.stats.created++;
    // allocUnsafeSlow: a buffer of its own, not a slice of Node's shared 8 KiB pool.
    const entry = new Entry(Buffer.allocUnsafeSlow(this.bufferBytes), this);
    if (this.pooled >= this.maxBuffers) {
      this.stats.overflow++;
      // Never enters the free list: marking it free makes its release a no-op.
      entry.isFree = true;
      return entry;
    }
    this.pooled++;
    return entry;
  }

  /** @internal Called by an entry's release. */
  giveBack(e: Entry, err: unknown): void {
    if (err !== undefined && err !== null) this.stats.errors++;
    if (e.isFree) return;
    e.isFree = true;
    this.stats.released++;
    this.free.push(e);
  }
}

/** Slabs kept for reuse per cache; more than this many closed devices' slabs are left to the GC. */
const SLAB_CACHE_MAX = 8;

/**
 * Receive slabs of closed devices, handed to the next device that needs the same size. Opening and closing a
 * device then allocates nothing, and the C heap is spared large short-lived blocks that it would not return
 * to the system (glibc keeps freed 100 KiB+ blocks once its mmap threshold has grown).
 */
export class SlabCache {
  private readonly free: Buffer[] = [];

  /** A zeroed slab of exactly `bytes`. */
  take(bytes: number): Buffer {
    const i = this.free.findIndex((b) => b.length === bytes);
    if (i < 0) return Buffer.alloc(bytes);
    const b = this.free.splice(i, 1)[0];
    b.fill(0);
    return b;
  }

  /** Returns a slab nobody reads or writes any more. */
  give(slab: Buffer): void {
    if (this.free.length < SLAB_CACHE_MAX && !this.free.includes(slab)) this.free.push(slab);
  }

  get size(): number {
    return this.free.length;
  }
}

/** The cache the TAP devices and native UDP sockets share. */
export const sharedSlabs: SlabCache = new SlabCache();
