/**
 * Bounded-memory aggregates for the summary: a report of a 1 GB capture must not hold one entry per packet.
 * `TopCounter` keeps at most `capacity` keys (heavy hitters survive, the tail is pruned and the counts marked
 * approximate), `TimeBuckets` keeps at most `maxBuckets` buckets by doubling their width as the time range grows.
 */

/** Counts per key, keeping at most `capacity` keys. */
export class TopCounter<V = undefined> {
  private readonly _m = new Map<string, { n: number; value: V }>();
  /** Largest count ever pruned: an upper bound on the undercount of any key still held. */
  private _pruned = 0;

  constructor(private readonly _capacity = 512) {}

  add(key: string, value: V, n = 1): void {
    const e = this._m.get(key);
    if (e) {
      e.n += n;
      return;
    }
    if (this._m.size >= this._capacity) this._prune();
    // A key that arrives after pruning may have been counted (and pruned) before: start it at the pruned bound
    // so a heavy key that was unlucky early is not ranked below the keys that stayed (lossy counting).
    this._m.set(key, { n: n + this._pruned, value });
  }

  /** True when some counts are estimates (more distinct keys arrived than `capacity`). */
  get approximate(): boolean {
    return this._pruned > 0;
  }

  /** The `n` largest, largest first (ties: first seen first). */
  top(n: number): { key: string; count: number; value: V }[] {
    return [...this._m]
      .map(([key, e]) => ({ key, count: e.n, value: e.value }))
      .sort((a, b) => b.count - a.count)
      .slice(0, n);
  }

  /** Drops the lower half by count: amortised O(1) per add, unlike evicting the minimum each time. */
  private _prune(): void {
    const counts = [...this._m.values()].map((e) => e.n).sort((a, b) => a - b);
    const cut = counts[Math.floor(counts.length / 2)]!;
    for (const [k, e] of this._m)
      if (e.n <= cut) {
        this._pruned = Math.max(this._pruned, e.n);
        this._m.delete(k);
      }
  }
}

/**
 * Bucket widths, each a multiple of the one before (so buckets merge exactly when widening) and readable on an
 * axis: 1 s … 1 day, then doubling.
 */
const WIDTHS_MS = [1, 2, 10, 30, 60, 120, 600, 1800, 3600, 7200, 21600, 43200, 86400].map((s) => s * 1000);

/** Packets per time bucket and per series (verdict); at most `maxBuckets` buckets, widened as the range grows. */
export class TimeBuckets {
  private _width: number;
  private _b = new Map<number, Map<string, number>>();
  private _min = Infinity;
  private _max = -Infinity;
  /** Packets without a usable time. */
  untimed = 0;

  constructor(private readonly _maxBuckets = 96) {
    this._width = WIDTHS_MS[0]!;
  }

  add(timeMs: number | undefined, series: string): void {
    if (timeMs === undefined || !Number.isFinite(timeMs)) {
      this.untimed++;
      return;
    }
    let i = Math.floor(timeMs / this._width);
    while (Math.max(this._max, i) - Math.min(this._min, i) + 1 > this._maxBuckets) {
      this._widen();
      i = Math.floor(timeMs / this._width);
    }
    this._min = Math.min(this._min, i);
    this._max = Math.max(this._max, i);
    let m = this._b.get(i);
    if (!m) this._b.set(i, (m = new Map<string, number>()));
    m.set(series, (m.get(series) ?? 0) + 1);
  }

  get widthMs(): number {
    return this._width;
  }

  /** Every bucket from the first to the last (empty ones included), oldest first. */
  buckets(): { startMs: number; counts: ReadonlyMap<string, number> }[] {
    const out: { startMs: number; counts: ReadonlyMap<string, number> }[] = [];
    if (this._b.size === 0) return out;
    for (let i = this._min; i <= this._max; i++)
      out.push({ startMs: i * this._width, counts: this._b.get(i) ?? new Map<string, number>() });
    return out;
  }

  private _widen(): void {
    const from = this._width;
    this._width = WIDTHS_MS.find((w) => w > from) ?? from * 2;
    const f = this._width / from;
    const old = this._b;
    this._b = new Map();
    for (const [i, m] of old) {
      const j = Math.floor(i / f);
      let n = this._b.get(j);
      if (!n) this._b.set(j, (n = new Map<string, number>()));
      for (const [k, v] of m) n.set(k, (n.get(k) ?? 0) + v);
    }
    this._min = Math.floor(this._min / f);
    this._max = Math.floor(this._max / f);
  }
}
