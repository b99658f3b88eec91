// Replay-protection time stamps (spec §6): a strictly increasing generator and per-sender checks.
//
// Representation: a 64-bit stamp is a pair of unsigned 32-bit numbers `{ hi, lo }` (the `U64`
// shape of crypto/pearson.ts). hi = Unix seconds; lo = microseconds << 12 | counter << 4 | flag.
// Stamps travel big-endian inside the header-encryption IV block. All operations write into
// caller-owned objects so the packet path allocates nothing.
//
// n2n.c: time_stamp / time_stamp_verify_and_update / initial_time_stamp.
import type { U64 } from '../crypto/pearson.js';
import type { Clock } from '../util/clock.js';

/** A 64-bit stamp as unsigned 32-bit halves (hi = seconds, lo = µs << 12 | counter << 4 | flag). */
export type Stamp = U64;

/** Bit position of the microseconds inside the low half. */
export const STAMP_USEC_SHIFT = 12;
/** One step of the 8-bit counter (bits 11..4); used to keep stamps strictly increasing. */
export const STAMP_COUNTER_STEP = 0x10;
/** Bit 0: C's "counter-only" mode flag; we never set it but honour it on receipt. */
export const STAMP_COUNTER_ONLY_FLAG = 0x1;
/** TIME_STAMP_FRAME = 2^36 (±16 s): high half of the allowed clock difference. */
export const STAMP_FRAME_HI = 0x10;
/** TIME_STAMP_JITTER = 0x27100000 (160 ms: 0x27100 µs << 12), low half. */
export const STAMP_JITTER = 0x27100000;

/**
 * Accepted stamps a record remembers for the duplicate check of the jitter rule (stricter than C, which takes
 * any stamp within 160 ms of the newest again, an exact replay included): 16 × 8 bytes, allocated the first time
 * the record is verified (only -H senders are).
 */
export const STAMP_RECENT = 16;

const MICROS_PER_MS = 1000;
const MICROS_PER_SECOND = 1_000_000;
const U32_RANGE = 0x100000000;

/**
 * The previous valid stamp of one sender (peer, edge or supernode). Create it with
 * `StampGenerator.initialRecord()` when the sender's entry is created (p = now − 2^36).
 */
export class StampRecord implements Stamp {
  hi = 0;
  lo = 0;
  /** The last STAMP_RECENT accepted stamps as hi, lo pairs (a ring); undefined until the first check. */
  recent: Uint32Array | undefined;
  /** Entries of `recent` in use, and where the next one goes. */
  recentCount = 0;
  recentPos = 0;
}

/**
 * A StampRecord as words of a Uint32Array shared with the addon (native/src/stamps.h): the newest stamp (hi, lo),
 * ring entries in use, the ring's next position, then the STAMP_RECENT (hi, lo) pairs.
 */
export const RECORD_WORDS = 4 + 2 * STAMP_RECENT;
const REC_HI = 0;
const REC_LO = 1;
const REC_COUNT = 2;
const REC_POS = 3;
const REC_RING = 4;

/** Copies record `i` of `words` (RECORD_WORDS each) into `rec`. */
export function recordFromWords(words: Uint32Array, i: number, rec: StampRecord): void {
  const o = i * RECORD_WORDS;
  rec.hi = words[o + REC_HI];
  rec.lo = words[o + REC_LO];
  rec.recentCount = words[o + REC_COUNT];
  rec.recentPos = words[o + REC_POS];
  if (rec.recentCount > 0) {
    rec.recent ??= new Uint32Array(2 * STAMP_RECENT);
    rec.recent.set(words.subarray(o + REC_RING, o + REC_RING + 2 * STAMP_RECENT));
  }
}

/** Copies `rec` into record `i` of `words`. */
export function recordToWords(words: Uint32Array, i: number, rec: StampRecord): void {
  const o = i * RECORD_WORDS;
  words[o + REC_HI] = rec.hi;
  words[o + REC_LO] = rec.lo;
  words[o + REC_COUNT] = rec.recentCount;
  words[o + REC_POS] = rec.recentPos;
  if (rec.recent !== undefined) words.set(rec.recent, o + REC_RING);
}

/** Whether `rec` accepted hi:lo before (exact duplicate) or hi:lo is older than every stamp it remembers. */
function seenOrTooOld(rec: StampRecord, hi: number, lo: number): boolean {
  const r = rec.recent;
  if (r === undefined) return false;
  let older = rec.recentCount === STAMP_RECENT;
  for (let i = 0; i < 2 * rec.recentCount; i += 2) {
    if (r[i] === hi && r[i + 1] === lo) return true;
    if (!greaterU64(r[i], r[i + 1], hi, lo)) older = false;
  }
  return older;
}

/** Remembers an accepted stamp in `rec`'s ring. */
function remember(rec: StampRecord, hi: number, lo: number): void {
  rec.recent ??= new Uint32Array(2 * STAMP_RECENT);
  const i = 2 * rec.recentPos;
  rec.recent[i] = hi;
  rec.recent[i + 1] = lo;
  rec.recentPos = (rec.recentPos + 1) % STAMP_RECENT;
  if (rec.recentCount < STAMP_RECENT) rec.recentCount++;
}

/** Signed comparison helper: is the 64-bit value (hi signed, lo unsigned) <= 0? */
function isNonPositive(hi: number, lo: number): boolean {
  return hi < 0 || (hi === 0 && lo === 0);
}

/** Unsigned 64-bit comparison: a > b. */
function greaterU64(aHi: number, aLo: number, bHi: number, bLo: number): boolean {
  return aHi > bHi || (aHi === bHi && aLo > bLo);
}

/**
 * One generator per process (edge and supernode in one process should share it): every stamp it
 * issues is strictly greater than the previous one, whatever the injected clock does. Within one
 * microsecond (or if the clock goes back) it adds one counter step (16) to the last stamp instead
 * of C's counter-only mode; receivers only compare stamps as 64-bit numbers, so this is compatible.
 */
export class StampGenerator {
  private readonly clock: Clock;
  /**
   * The last stamp issued (hi, lo). An array, so that the edge's native fast path (native/src/fastpath.cc), which
   * seals -H packets without calling JS, issues its stamps from the same sequence.
   */
  readonly state = new Uint32Array(2);
  private readonly scratch: Stamp = { hi: 0, lo: 0 };

  constructor(clock: Clock) {
    this.clock = clock;
  }

  /** The clock's current time as a stamp (counter 0, flag 0), without advancing the generator. */
  current(out: Stamp): Stamp {
    const micros = Math.floor(this.clock.now() * MICROS_PER_MS);
    const seconds = Math.floor(micros / MICROS_PER_SECOND);
    const usec = micros - seconds * MICROS_PER_SECOND;
    out.hi = seconds >>> 0;
    out.lo = (usec << STAMP_USEC_SHIFT) >>> 0;
    return out;
  }

  /** Issues the next stamp into `out`: max(now, last + 16). */
  next(out: Stamp): Stamp {
    this.current(out);
    const last = this.state;
    if (!greaterU64(out.hi, out.lo, last[0], last[1])) {
      const lo = last[1] + STAMP_COUNTER_STEP;
      out.lo = lo >>> 0;
      out.hi = (last[0] + (lo >= U32_RANGE ? 1 : 0)) >>> 0;
    }
    last[0] = out.hi;
    last[1] = out.lo;
    return out;
  }

  /** Initialises a new sender's record to now − 2^36 (initial_time_stamp). */
  initialRecord(rec: StampRecord = new StampRecord()): StampRecord {
    this.current(rec);
    rec.hi = (rec.hi - STAMP_FRAME_HI) >>> 0;
    return rec;
  }

  /**
   * Checks a received stamp (spec §6): within ±16 s of the local clock and, if `record` is given,
   * newer than the sender's previous valid stamp (by more than −160 ms with `allowJitter`, or
   * −160 ms << 8 when the stamp has the counter-only flag) — and, stricter than C, not one of the last
   * STAMP_RECENT accepted stamps nor older than all of them. On success the record is raised to
   * max(record, stamp) and remembers the stamp. Returns false (record unchanged) otherwise.
   */
  verify(stamp: Stamp, record: StampRecord | null | undefined, allowJitter: boolean): boolean {
    const now = this.scratch;
    this.current(now);
    const sHi = stamp.hi >>> 0;
    const sLo = stamp.lo >>> 0;
    // diff = stamp − now as signed 64-bit; require |diff| < 2^36.
    let dLo = sLo - now.lo;
    let dHi = sHi - now.hi - (dLo < 0 ? 1 : 0);
    dLo >>>= 0;
    dHi |= 0;
    // diff in (−2^36, 2^36)  <=>  hi in [−16, 15], excluding exactly −2^36.
    if (dHi < -STAMP_FRAME_HI || dHi >= STAMP_FRAME_HI || (dHi === -STAMP_FRAME_HI && dLo === 0))
      return false;
    if (!record) return true;
    // diff = stamp − previous (+ jitter), signed 64-bit with wrap-around as in C.
    dLo = sLo - record.lo;
    dHi = sHi - record.hi - (dLo < 0 ? 1 : 0);
    dLo >>>= 0;
    if (allowJitter) {
      // TIME_STAMP_JITTER << 8 for counter-only stamps moves 0x27 into the high half.
      const counterOnly = (sLo & STAMP_COUNTER_ONLY_FLAG) !== 0;
      const jHi = counterOnly ? STAMP_JITTER >>> 24 : 0;
      const jLo = counterOnly ? (STAMP_JITTER << 8) >>> 0 : STAMP_JITTER;
      const sum = dLo + jLo;
      dLo = sum >>> 0;
      dHi += jHi + (sum >= U32_RANGE ? 1 : 0);
    }
    dHi |= 0;
    if (isNonPositive(dHi, dLo)) return false;
    if (greaterU64(sHi, sLo, record.hi, record.lo)) {
      record.hi = sHi;
      record.lo = sLo;
    } else if (seenOrTooOld(record, sHi, sLo)) {
      // Only the jitter rule lets a stamp not above the newest through: it must be one not seen before (a
      // reordered datagram), and not older than the last STAMP_RECENT accepted ones (then we cannot tell).
      return false;
    }
    remember(record, sHi, sLo);
    return true;
  }
}

/** The stamp as a BigInt (logs, tests). */
export function stampToBigInt(s: Stamp): bigint {
  return (BigInt(s.hi >>> 0) << 32n) | BigInt(s.lo >>> 0);
}

/** Sets `out` from a BigInt (taken mod 2^64). */
export function stampFromBigInt(v: bigint, out: Stamp = { hi: 0, lo: 0 }): Stamp {
  out.hi = Number((v >> 32n) & 0xffffffffn);
  out.lo = Number(v & 0xffffffffn);
  return out;
}

/** The stamp as 16 hex digits. */
export function stampToHex(s: Stamp): string {
  return (s.hi >>> 0).toString(16).padStart(8, '0') + (s.lo >>> 0).toString(16).padStart(8, '0');
}

/** The fields of a stamp (spec §6 layout). */
export function stampFields(s: Stamp): {
  seconds: number;
  micros: number;
  counter: number;
  counterOnly: boolean;
} {
  return {
    seconds: s.hi >>> 0,
    micros: s.lo >>> STAMP_USEC_SHIFT,
    counter: (s.lo >>> 4) & 0xff,
    counterOnly: (s.lo & STAMP_COUNTER_ONLY_FLAG) !== 0,
  };
}
