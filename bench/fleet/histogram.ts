// Latency histogram in fixed buckets (10 µs below 100 ms, 1 ms up to 100 s): constant memory whatever the count.
const FINE_US = 10;
const FINE_LIMIT_MS = 100;
const COARSE_MS = 1;
const LIMIT_MS = 100_000;
const FINE_BUCKETS = (FINE_LIMIT_MS * 1000) / FINE_US;
const COARSE_BUCKETS = (LIMIT_MS - FINE_LIMIT_MS) / COARSE_MS;

export class Histogram {
  private readonly buckets = new Uint32Array(FINE_BUCKETS + COARSE_BUCKETS + 1);
  count = 0;
  max = 0;
  private sum = 0;

  /** Adds one value in milliseconds (negative ones count as 0, beyond 100 s as 100 s). */
  add(ms: number): void {
    const v = ms > 0 ? ms : 0;
    let i: number;
    if (v < FINE_LIMIT_MS) i = Math.floor((v * 1000) / FINE_US);
    else i = FINE_BUCKETS + Math.min(COARSE_BUCKETS, Math.floor((v - FINE_LIMIT_MS) / COARSE_MS));
    this.buckets[i]++;
    this.count++;
    this.sum += v;
    if (v > this.max) this.max = v;
  }

  get mean(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }

  /** The upper edge (ms) of the bucket holding quantile q (0..1); 0 when empty. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i];
      if (seen >= rank) {
        return i < FINE_BUCKETS
          ? ((i + 1) * FINE_US) / 1000
          : FINE_LIMIT_MS + (i - FINE_BUCKETS + 1) * COARSE_MS;
      }
    }
    return this.max;
  }
}
