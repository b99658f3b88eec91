// Replay-protection stamps: layout (§15.6), strict monotonicity, the ±16 s window and jitter (§6).
import { describe, expect, it } from 'vitest';
import {
  STAMP_JITTER,
  type Stamp,
  StampGenerator,
  StampRecord,
  stampFields,
  stampFromBigInt,
  stampToBigInt,
  stampToHex,
} from '../../src/transform/stamp.js';
import { FakeClock } from '../../src/util/clock.js';

const FRAME = 1n << 36n;
const JITTER = BigInt(STAMP_JITTER);
const SEC = 0x6b081094;
const USEC = 0xafb61;

function setup(): { clock: FakeClock; gen: StampGenerator; now: bigint } {
  // Half a microsecond past the target so float rounding cannot move the microsecond.
  const clock = new FakeClock(SEC * 1000 + USEC / 1000 + 0.0005);
  const gen = new StampGenerator(clock);
  return { clock, gen, now: (BigInt(SEC) << 32n) | (BigInt(USEC) << 12n) };
}
const s = (v: bigint): Stamp => stampFromBigInt(v & ((1n << 64n) - 1n));
const rec = (v: bigint): StampRecord => {
  const r = new StampRecord();
  stampFromBigInt(v, r);
  return r;
};

describe('stamp layout', () => {
  it('spec §15.6: 6b081094afb61000 from the clock', () => {
    const { gen } = setup();
    const out = gen.current({ hi: 0, lo: 0 });
    expect(stampToHex(out)).toBe('6b081094afb61000');
    expect(stampFields(out)).toEqual({ seconds: 0x6b081094, micros: 719713, counter: 0, counterOnly: false });
    expect(stampToBigInt(out)).toBe(0x6b081094afb61000n);
    expect(stampToHex(stampFromBigInt(0x6b081094afb61000n))).toBe('6b081094afb61000');
  });
});

describe('StampGenerator.next', () => {
  it('is strictly increasing on a frozen clock (counter steps of 16, carrying into µs and s)', () => {
    const { gen, now } = setup();
    const out: Stamp = { hi: 0, lo: 0 };
    let prev = -1n;
    for (let i = 0; i < 600; i++) {
      const v = stampToBigInt(gen.next(out));
      expect(v).toBeGreaterThan(prev);
      if (prev >= 0n) expect(v - prev).toBe(16n);
      prev = v;
    }
    expect(prev).toBe(now + 599n * 16n);
    // The flag bit is never set and bits 3..1 stay 0.
    expect(Number(prev & 0xfn)).toBe(0);
  });

  it('follows the clock forward and stays increasing when the clock goes back', () => {
    const { clock, gen, now } = setup();
    const out: Stamp = { hi: 0, lo: 0 };
    expect(stampToBigInt(gen.next(out))).toBe(now);
    clock.advance(2.5);
    const later = stampToBigInt(gen.next(out));
    expect(later).toBe(now + (2500n << 12n));
    clock.set(clock.now() - 5000);
    expect(stampToBigInt(gen.next(out))).toBe(later + 16n);
    expect(stampToBigInt(gen.next(out))).toBe(later + 32n);
  });

  it('keeps increasing when the counter overflows into the microseconds at the end of a second', () => {
    const clock = new FakeClock(5000 + 999.9995);
    const gen = new StampGenerator(clock);
    const out: Stamp = { hi: 0, lo: 0 };
    const first = stampToBigInt(gen.next(out));
    expect(first).toBe((5n << 32n) | (999999n << 12n));
    for (let i = 0; i < 300; i++) gen.next(out);
    expect(stampToBigInt(out)).toBe(first + 300n * 16n);
    // A later clock reading (next second) is larger again and is taken as is.
    clock.advance(0.002);
    expect(stampToBigInt(gen.next(out))).toBe((6n << 32n) | (1n << 12n));
  });
});

describe('StampGenerator.verify', () => {
  it('accepts stamps within ±16 s of the clock and refuses the edges of the window', () => {
    const { gen, now } = setup();
    for (const d of [0n, 1n, -1n, FRAME - 1n, -(FRAME - 1n), 12345678n]) {
      expect(gen.verify(s(now + d), null, false)).toBe(true);
    }
    for (const d of [FRAME, -FRAME, FRAME + 1n, -FRAME - 1n, 1n << 40n, -(1n << 40n), 1n << 63n]) {
      expect(gen.verify(s(now + d), undefined, true)).toBe(false);
    }
  });

  it('without jitter requires a strictly newer stamp and raises the record', () => {
    const { gen, now } = setup();
    const r = rec(now - 1000n);
    expect(gen.verify(s(now - 1000n), r, false)).toBe(false);
    expect(gen.verify(s(now - 2000n), r, false)).toBe(false);
    expect(stampToBigInt(r)).toBe(now - 1000n);
    expect(gen.verify(s(now - 999n), r, false)).toBe(true);
    expect(stampToBigInt(r)).toBe(now - 999n);
  });

  it('with jitter tolerates up to 160 ms older stamps without lowering the record', () => {
    const { gen, now } = setup();
    const r = rec(now);
    expect(gen.verify(s(now - JITTER + 1n), r, true)).toBe(true);
    expect(stampToBigInt(r)).toBe(now);
    expect(gen.verify(s(now - JITTER), r, true)).toBe(false);
    expect(gen.verify(s(now - JITTER + 1n), r, false)).toBe(false);
    expect(gen.verify(s(now + 5n), r, true)).toBe(true);
    expect(stampToBigInt(r)).toBe(now + 5n);
  });

  it('counter-only stamps (bit 0) get the jitter shifted by 8 (≈ 39 s)', () => {
    const { gen, now } = setup();
    const big = JITTER << 8n;
    // The window check still bounds the stamp to ±16 s, so test with a record far in the future.
    const r = rec(now + big - 16n);
    expect(gen.verify(s(now | 1n), r, true)).toBe(true);
    expect(stampToBigInt(r)).toBe(now + big - 16n);
    const r2 = rec(now + big + 16n);
    expect(gen.verify(s(now | 1n), r2, true)).toBe(false);
    // Without the flag the same distance is far beyond 160 ms.
    expect(gen.verify(s(now), rec(now + JITTER + 16n), true)).toBe(false);
  });

  it('handles wrap-around in the signed difference like C (int64)', () => {
    const { gen, now } = setup();
    // A record above the stamp by more than 2^63 makes stamp − record positive in int64.
    const r = rec(now + (1n << 63n) + 5n);
    expect(gen.verify(s(now), r, false)).toBe(true);
    // max() is unsigned: the record keeps the larger value.
    expect(stampToBigInt(r)).toBe(now + (1n << 63n) + 5n);
  });

  it('initialRecord is now − 2^36 and the first fresh stamp passes it', () => {
    const { gen, now } = setup();
    const r = gen.initialRecord();
    expect(stampToBigInt(r)).toBe(now - FRAME);
    const out: Stamp = { hi: 0, lo: 0 };
    expect(gen.verify(gen.next(out), r, false)).toBe(true);
    expect(stampToBigInt(r)).toBe(now);
    // Replaying the same stamp fails — with jitter too (stricter than C, which takes it: docs/reliability.md).
    expect(gen.verify(out, r, false)).toBe(false);
    expect(gen.verify(out, r, true)).toBe(false);
  });

  it('stamps from one generator verify in order at a receiver with another clock 10 s off', () => {
    const a = setup();
    const bClock = new FakeClock(a.clock.now() + 10_000);
    const b = new StampGenerator(bClock);
    const r = b.initialRecord();
    const out: Stamp = { hi: 0, lo: 0 };
    for (let i = 0; i < 50; i++) {
      a.clock.advance(0.3);
      bClock.advance(0.3);
      expect(b.verify(a.gen.next(out), r, false)).toBe(true);
    }
    expect(b.verify(out, r, false)).toBe(false);
  });
});
