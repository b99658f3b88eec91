// Injected time: a Clock gives wall time and timers; the fake one makes protocol tests deterministic.

/** Cancels a timer created by a Clock. */
export type Cancel = () => void;

export interface Clock {
  /** Milliseconds since the Unix epoch; may carry a fractional (sub-millisecond) part. */
  now(): number;
  /** Runs `fn` every `intervalMs` until cancelled. Protocol code uses one coarse tick, not a timer per peer. */
  every(intervalMs: number, fn: () => void): Cancel;
  /** Runs `fn` once after `delayMs`. */
  after(delayMs: number, fn: () => void): Cancel;
}

/** Wall-clock time from the system with microsecond resolution (performance.timeOrigin + now()). */
export class SystemClock implements Clock {
  now(): number {
    return performance.timeOrigin + performance.now();
  }
  every(intervalMs: number, fn: () => void): Cancel {
    const t = setInterval(fn, intervalMs);
    t.unref?.();
    return () => clearInterval(t);
  }
  after(delayMs: number, fn: () => void): Cancel {
    const t = setTimeout(fn, delayMs);
    t.unref?.();
    return () => clearTimeout(t);
  }
}

interface FakeTimer {
  id: number;
  due: number;
  interval: number;
  fn: () => void;
}

/** Manually advanced clock: `advance(ms)` fires due timers in order. */
export class FakeClock implements Clock {
  private t: number;
  private timers: FakeTimer[] = [];
  private nextId = 1;

  constructor(startMs = 1_700_000_000_000) {
    this.t = startMs;
  }

  now(): number {
    return this.t;
  }

  every(intervalMs: number, fn: () => void): Cancel {
    return this.add(intervalMs, intervalMs, fn);
  }

  after(delayMs: number, fn: () => void): Cancel {
    return this.add(delayMs, 0, fn);
  }

  private add(delay: number, interval: number, fn: () => void): Cancel {
    const timer: FakeTimer = { id: this.nextId++, due: this.t + delay, interval, fn };
    this.timers.push(timer);
    return () => {
      const i = this.timers.indexOf(timer);
      if (i >= 0) this.timers.splice(i, 1);
    };
  }

  /** Moves time forward by `ms`, firing every timer that falls due, earliest first. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: FakeTimer | undefined;
      for (const tm of this.timers) if (tm.due <= end && (!next || tm.due < next.due)) next = tm;
      if (!next) break;
      this.t = Math.max(this.t, next.due);
      if (next.interval > 0) next.due += next.interval;
      else this.timers.splice(this.timers.indexOf(next), 1);
      next.fn();
    }
    this.t = end;
  }

  /** Sets the wall time without firing timers (for clock-skew tests). */
  set(ms: number): void {
    this.t = ms;
  }
}
