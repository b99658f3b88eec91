// ChaCha20 with n2n's 16-byte IV (LE32 block counter + 96-bit nonce): node:crypto fast paths and a pure-TS core.
//
// Spec §5.6, cc20.c: the IV is loaded verbatim into state words 12..15, which is the RFC 7539 layout
// and exactly what node:crypto's 'chacha20' takes. The keystream starts at the IV's counter. When
// the counter passes 0xffffffff inside one message, n2n's default build wraps it to 0 without
// carrying into word 13, whereas OpenSSL carries; such messages are handled by the pure-TS core.
//
// Cost model (measured, see docs/performance.md): creating a node:crypto context costs more than
// encrypting a 1400-byte frame with it, and pure TS runs at about half of a fresh context's speed.
// Hence two context-reusing paths:
// * ChaCha20Sender chooses IVs itself: one context per random 96-bit nonce, with the counter
//   running on. Every message starts on a fresh 64-byte block (the unused keystream tail of the
//   previous message is discarded), so its IV is (block counter, nonce): unique, never overlapping
//   earlier keystream. A new nonce is drawn before the counter could wrap.
// * ChaCha20.xor keeps a few recently used contexts; a message whose IV continues exactly where a
//   cached context stands (consecutive messages of one such sender) reuses it. Any other IV gets a
//   fresh context. The output is the same either way: the keystream depends only on (key, IV).

import { createCipheriv } from 'node:crypto';
import type { Random } from '../util/random.js';
import { checkRange } from './checks.js';

/** Key size in bytes. */
export const CHACHA20_KEY_BYTES = 32;
/** n2n IV size in bytes: LE32 counter || 96-bit nonce. */
export const CHACHA20_IV_BYTES = 16;
/** Keystream block size in bytes. */
export const CHACHA20_BLOCK_BYTES = 64;

const STATE_WORDS = 16;
const DOUBLE_ROUNDS = 10;
const COUNTER_SPACE = 0x100000000;
// "expand 32-byte k" as little-endian words (RFC 7539 §2.3).
const SIGMA = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574] as const;
// Contexts kept by ChaCha20.xor; a handful covers the peers that send to us at the same time. The
// last slot is the probation slot: every new context goes there and moves into the others (least
// recently used first) only once a message continued it, so the throw-away contexts for random
// IVs (C senders) never push out a reused one. Contexts dropped from probation leave a "ghost"
// (nonce and next counter, no context): a message that continues a ghost proves its sender
// continuable, and its new context goes straight into a main slot.
const CACHED_CONTEXTS = 4;
const PROBATION = CACHED_CONTEXTS - 1;
const GHOSTS = 16;
const INITIAL_SCRATCH_BYTES = 2048 + CHACHA20_BLOCK_BYTES;

type CipherContext = ReturnType<typeof createCipheriv>;

function readLe32(b: Uint8Array, p: number): number {
  return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
}

function writeLe32(b: Uint8Array, p: number, v: number): void {
  b[p] = v;
  b[p + 1] = v >>> 8;
  b[p + 2] = v >>> 16;
  b[p + 3] = v >>> 24;
}

function checkKey(key: Uint8Array): void {
  if (key.length !== CHACHA20_KEY_BYTES) {
    throw new RangeError(`chacha20: key must be ${CHACHA20_KEY_BYTES} bytes, got ${key.length}`);
  }
}

function blocksFor(len: number): number {
  return Math.ceil(len / CHACHA20_BLOCK_BYTES);
}

/** RFC 7539 §2.1 quarter round on x[a], x[b], x[c], x[d]. */
function quarter(x: Uint32Array, a: number, b: number, c: number, d: number): void {
  let va = x[a];
  let vb = x[b];
  let vc = x[c];
  let vd = x[d];
  va = (va + vb) | 0;
  vd ^= va;
  vd = (vd << 16) | (vd >>> 16);
  vc = (vc + vd) | 0;
  vb ^= vc;
  vb = (vb << 12) | (vb >>> 20);
  va = (va + vb) | 0;
  vd ^= va;
  vd = (vd << 8) | (vd >>> 24);
  vc = (vc + vd) | 0;
  vb ^= vc;
  vb = (vb << 7) | (vb >>> 25);
  x[a] = va;
  x[b] = vb;
  x[c] = vc;
  x[d] = vd;
}

const refState = new Uint32Array(STATE_WORDS);
const refWork = new Uint32Array(STATE_WORDS);

/**
 * Pure-TS ChaCha20 with n2n semantics (cc20.c): XORs src[srcOff, +len) with the keystream of
 * (key, iv[ivOff, +16)) into dst[dstOff, +len). The 32-bit block counter wraps to 0 with no carry.
 * dst may be the input range itself or start before it. Slow (no node:crypto); used where the
 * counter wraps and as the reference in tests.
 */
export function chacha20XorPure(
  key: Uint8Array,
  iv: Uint8Array,
  ivOff: number,
  src: Uint8Array,
  srcOff: number,
  len: number,
  dst: Uint8Array,
  dstOff: number,
): void {
  checkKey(key);
  checkRange('chacha20', iv, ivOff, CHACHA20_IV_BYTES, 'IV');
  checkRange('chacha20', src, srcOff, len, 'input');
  checkRange('chacha20', dst, dstOff, len, 'output');
  const st = refState;
  const x = refWork;
  for (let i = 0; i < 4; i++) st[i] = SIGMA[i];
  for (let i = 0; i < 8; i++) st[4 + i] = readLe32(key, 4 * i);
  for (let i = 0; i < 4; i++) st[12 + i] = readLe32(iv, ivOff + 4 * i);
  for (let done = 0; done < len; done += CHACHA20_BLOCK_BYTES) {
    x.set(st);
    for (let r = 0; r < DOUBLE_ROUNDS; r++) {
      quarter(x, 0, 4, 8, 12);
      quarter(x, 1, 5, 9, 13);
      quarter(x, 2, 6, 10, 14);
      quarter(x, 3, 7, 11, 15);
      quarter(x, 0, 5, 10, 15);
      quarter(x, 1, 6, 11, 12);
      quarter(x, 2, 7, 8, 13);
      quarter(x, 3, 4, 9, 14);
    }
    const n = Math.min(CHACHA20_BLOCK_BYTES, len - done);
    for (let i = 0; i < n; i++) {
      const w = (x[i >>> 2] + st[i >>> 2]) >>> (8 * (i & 3));
      dst[dstOff + done + i] = src[srcOff + done + i] ^ w;
    }
    // cc20.c: only word 12 counts; no carry into word 13.
    st[12] = (st[12] + 1) >>> 0;
  }
}

/** Pads a message to whole keystream blocks in `scratch`, runs it through ctx and places len bytes. */
function runPadded(
  ctx: CipherContext,
  scratch: Uint8Array,
  src: Uint8Array,
  srcOff: number,
  len: number,
  dst: Uint8Array,
  dstOff: number,
): void {
  const padded = blocksFor(len) * CHACHA20_BLOCK_BYTES;
  scratch.set(src.subarray(srcOff, srcOff + len));
  // The padding bytes only advance the context to the next block boundary; their output is dropped.
  const out = ctx.update(scratch.subarray(0, padded));
  if (out.length !== padded) throw new Error(`chacha20: cipher returned ${out.length} bytes for ${padded}`);
  dst.set(out.subarray(0, len), dstOff);
}

/**
 * ChaCha20 under one key with any IV per message (receivers, and senders with random IVs).
 * Results are identical to {@link chacha20XorPure}.
 */
export class ChaCha20 {
  private readonly key: Uint8Array;
  private readonly ctx: (CipherContext | null)[] = new Array(CACHED_CONTEXTS).fill(null);
  // Per cached context: its nonce words and the counter of the block it will produce next.
  private readonly nonce = new Uint32Array(3 * CACHED_CONTEXTS);
  private readonly next = new Float64Array(CACHED_CONTEXTS);
  private readonly lastUse = new Float64Array(CACHED_CONTEXTS);
  private tick = 0;
  private readonly ghostNonce = new Uint32Array(3 * GHOSTS);
  private readonly ghostNext = new Float64Array(GHOSTS).fill(-1);
  private ghostPos = 0;
  private scratch = new Uint8Array(INITIAL_SCRATCH_BYTES);
  private readonly wrapIv = new Uint8Array(CHACHA20_IV_BYTES);
  /** How many messages reused a cached context (for tests and the benchmark). */
  reused = 0;

  constructor(key: Uint8Array) {
    checkKey(key);
    this.key = key.slice();
  }

  /**
   * XORs src[srcOff, +len) with the keystream of the IV iv[ivOff, +16) into dst[dstOff, +len).
   * Any overlap of src and dst is allowed; the IV may lie inside src or dst (it is read first).
   */
  xor(
    iv: Uint8Array,
    ivOff: number,
    src: Uint8Array,
    srcOff: number,
    len: number,
    dst: Uint8Array,
    dstOff: number,
  ): void {
    checkRange('chacha20', iv, ivOff, CHACHA20_IV_BYTES, 'IV');
    checkRange('chacha20', src, srcOff, len, 'input');
    checkRange('chacha20', dst, dstOff, len, 'output');
    if (len === 0) return;
    const counter = readLe32(iv, ivOff);
    const n0 = readLe32(iv, ivOff + 4);
    const n1 = readLe32(iv, ivOff + 8);
    const n2 = readLe32(iv, ivOff + 12);
    const blocks = blocksFor(len);
    if (this.scratch.length < blocks * CHACHA20_BLOCK_BYTES) {
      this.scratch = new Uint8Array(blocks * CHACHA20_BLOCK_BYTES);
    }
    if (counter + blocks > COUNTER_SPACE) {
      // The counter wraps inside this message: n2n wraps without carry, OpenSSL would carry.
      // Through scratch so that any overlap of src and dst works; the IV is copied first.
      const s = this.scratch;
      s.set(src.subarray(srcOff, srcOff + len));
      this.wrapIv.set(iv.subarray(ivOff, ivOff + CHACHA20_IV_BYTES));
      chacha20XorPure(this.key, this.wrapIv, 0, s, 0, len, dst, dstOff);
      return;
    }
    let slot = -1;
    for (let i = 0; i < CACHED_CONTEXTS; i++) {
      if (
        this.next[i] === counter &&
        this.ctx[i] !== null &&
        this.nonce[3 * i] === n0 &&
        this.nonce[3 * i + 1] === n1 &&
        this.nonce[3 * i + 2] === n2
      ) {
        slot = i;
        this.reused++;
        break;
      }
    }
    if (slot === PROBATION) {
      slot = this.promote();
    } else if (slot < 0) {
      if (this.unghost(counter, n0, n1, n2)) {
        slot = this.leastRecentlyUsed();
        this.ghost(slot);
      } else {
        this.ghost(PROBATION);
        slot = PROBATION;
      }
      this.ctx[slot] = createCipheriv('chacha20', this.key, iv.subarray(ivOff, ivOff + CHACHA20_IV_BYTES));
      this.nonce[3 * slot] = n0;
      this.nonce[3 * slot + 1] = n1;
      this.nonce[3 * slot + 2] = n2;
    }
    this.lastUse[slot] = ++this.tick;
    const ctx = this.ctx[slot] as CipherContext;
    runPadded(ctx, this.scratch, src, srcOff, len, dst, dstOff);
    const after = counter + blocks;
    if (after >= COUNTER_SPACE) {
      // The context would carry on its next block: never reuse it.
      this.ctx[slot] = null;
    } else {
      this.next[slot] = after;
    }
  }

  /** The main slot used least recently (empty slots first). */
  private leastRecentlyUsed(): number {
    let lru = 0;
    for (let i = 1; i < PROBATION; i++) if (this.lastUse[i] < this.lastUse[lru]) lru = i;
    return lru;
  }

  /** Remembers where the context in `slot` stands, without keeping the context. */
  private ghost(slot: number): void {
    if (this.ctx[slot] === null) return;
    const g = this.ghostPos;
    this.ghostPos = (g + 1) % GHOSTS;
    this.ghostNonce[3 * g] = this.nonce[3 * slot];
    this.ghostNonce[3 * g + 1] = this.nonce[3 * slot + 1];
    this.ghostNonce[3 * g + 2] = this.nonce[3 * slot + 2];
    this.ghostNext[g] = this.next[slot];
  }

  /** True (and forgets it) if a ghost stands exactly at (counter, nonce). */
  private unghost(counter: number, n0: number, n1: number, n2: number): boolean {
    for (let g = 0; g < GHOSTS; g++) {
      if (
        this.ghostNext[g] === counter &&
        this.ghostNonce[3 * g] === n0 &&
        this.ghostNonce[3 * g + 1] === n1 &&
        this.ghostNonce[3 * g + 2] === n2
      ) {
        this.ghostNext[g] = -1;
        return true;
      }
    }
    return false;
  }

  /** Moves the probation context into the least recently used main slot; returns that slot. */
  private promote(): number {
    const lru = this.leastRecentlyUsed();
    const ctx = this.ctx[lru];
    this.ctx[lru] = this.ctx[PROBATION];
    this.ctx[PROBATION] = ctx;
    const next = this.next[lru];
    this.next[lru] = this.next[PROBATION];
    this.next[PROBATION] = next;
    const used = this.lastUse[lru];
    this.lastUse[lru] = this.lastUse[PROBATION];
    this.lastUse[PROBATION] = used;
    for (let w = 0; w < 3; w++) {
      const t = this.nonce[3 * lru + w];
      this.nonce[3 * lru + w] = this.nonce[3 * PROBATION + w];
      this.nonce[3 * PROBATION + w] = t;
    }
    return lru;
  }
}

/**
 * Sender side with IVs chosen here: (running block counter, per-context random nonce), so one
 * node:crypto context serves many messages. Each message starts on a fresh keystream block, hence
 * IVs never repeat and keystream is never reused. Receivers need nothing special.
 */
export class ChaCha20Sender {
  private readonly key: Uint8Array;
  private readonly random: Random;
  private ctx: CipherContext | null = null;
  private readonly iv = new Uint8Array(CHACHA20_IV_BYTES);
  private counter = 0;
  private scratch = new Uint8Array(INITIAL_SCRATCH_BYTES);
  private readonly blocksPerNonce: number;
  /** How many nonces have been drawn (1 after the first message). */
  rekeys = 0;

  /**
   * `blocksPerNonce` is the counter space one nonce may use: 2^32 (the 32-bit counter must never
   * wrap inside a message). Tests pass a small value to exercise re-keying.
   */
  constructor(key: Uint8Array, random: Random, blocksPerNonce = COUNTER_SPACE) {
    checkKey(key);
    if (!(blocksPerNonce >= blocksFor(INITIAL_SCRATCH_BYTES) && blocksPerNonce <= COUNTER_SPACE)) {
      throw new RangeError(`chacha20: blocksPerNonce ${blocksPerNonce} out of range`);
    }
    this.key = key.slice();
    this.random = random;
    this.blocksPerNonce = blocksPerNonce;
  }

  /**
   * Encrypts src[srcOff, +len) into dst[dstOff, +len) and writes the IV used to ivOut[ivOutOff, +16).
   * src may overlap dst or ivOut in any way; ivOut must not overlap dst (it is written last).
   */
  encrypt(
    src: Uint8Array,
    srcOff: number,
    len: number,
    dst: Uint8Array,
    dstOff: number,
    ivOut: Uint8Array,
    ivOutOff: number,
  ): void {
    checkRange('chacha20', src, srcOff, len, 'input');
    checkRange('chacha20', dst, dstOff, len, 'output');
    checkRange('chacha20', ivOut, ivOutOff, CHACHA20_IV_BYTES, 'IV output');
    const blocks = blocksFor(len);
    // Re-key before the 32-bit counter could wrap inside a message (receivers disagree on the carry).
    if (this.ctx === null || this.counter + blocks > this.blocksPerNonce) this.rekey();
    const iv = this.iv;
    writeLe32(iv, 0, this.counter);
    const ctx = this.ctx as CipherContext;
    if (blocks > 0) {
      if (this.scratch.length < blocks * CHACHA20_BLOCK_BYTES) {
        this.scratch = new Uint8Array(blocks * CHACHA20_BLOCK_BYTES);
      }
      runPadded(ctx, this.scratch, src, srcOff, len, dst, dstOff);
      this.counter += blocks;
    }
    ivOut.set(iv, ivOutOff);
  }

  /** Draws a fresh nonce and starts a new context at counter 0. */
  private rekey(): void {
    const iv = this.iv;
    iv.fill(0, 0, 4);
    this.random.fill(iv, 4, CHACHA20_IV_BYTES - 4);
    this.counter = 0;
    this.ctx = createCipheriv('chacha20', this.key, iv);
    this.rekeys++;
  }
}
