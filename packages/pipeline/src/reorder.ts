/**
 * A small per-host reorder buffer in front of the correlator, so lines that arrive out of order — UDP syslog,
 * several relays, a Kafka topic merged from several producers — still reach the correlator in log-time order
 * when they are at most `windowMs` late. Lines are held until the host's log time has moved `windowMs` past
 * them, or the host has been quiet for `windowMs` of wall-clock time (so a quiet host's last packet is not held
 * back). Only sub-second timestamps are ordered: whole-second stamps (RFC 3164) pass straight through, since
 * every line of a burst ties. A line later than the window goes through as it comes. Memory: what arrives within
 * one window, capped at the pipeline's `maxInFlight` lines.
 */
import type { NetfilterEvent } from '@ruletrail/event';

interface Held {
  readonly e: NetfilterEvent;
  /** Event time in µs (the kernel and rsyslog stamp microseconds; Date.parse keeps only ms). */
  readonly t: number;
}

/** Orders one host's events by log time within a window. */
export class ReorderBuffer {
  private _held: Held[] = [];
  private _newest = -Infinity;
  private _lastArrival = 0;

  constructor(
    private readonly _windowMs: number,
    private readonly _out: (e: NetfilterEvent) => void,
    /** Most lines held; beyond it the oldest go on (keeps the pipeline's in-flight bound meaningful). */
    private readonly _maxHeld = 10_000,
  ) {}

  get size(): number {
    return this._held.length;
  }

  /** Adds an event that arrived at wall-clock `now`. */
  push(e: NetfilterEvent, now: number): void {
    this._lastArrival = now;
    const ts = e['@timestamp'];
    // Only sub-second stamps can order lines: with whole seconds (RFC 3164) every line of a burst ties.
    const fine = ts !== undefined ? ts.charCodeAt(19) === 46 /* . */ : e.ruletrail.uptime !== undefined;
    const t = !fine ? NaN : ts !== undefined ? micros(ts) : Math.round(e.ruletrail.uptime! * 1e6);
    if (this._windowMs <= 0 || Number.isNaN(t)) {
      // Nothing to order by (or ordering off): everything held before it goes first, then it.
      this.releaseAll();
      this._out(e);
      return;
    }
    let i = this._held.length;
    while (i > 0 && this._held[i - 1]!.t > t) i--;
    this._held.splice(i, 0, { e, t });
    if (t > this._newest) this._newest = t;
    const limit = this._newest - this._windowMs * 1000;
    let n = 0;
    while (n < this._held.length && (this._held[n]!.t <= limit || this._held.length - n > this._maxHeld)) n++;
    if (n) this._release(n);
  }

  /** Releases everything when the host has been quiet for the window (wall clock). */
  releaseIfQuiet(now: number): void {
    if (this._held.length && now - this._lastArrival >= this._windowMs) this.releaseAll();
  }

  releaseAll(): void {
    if (this._held.length) this._release(this._held.length);
  }

  private _release(n: number): void {
    const out = this._held.slice(0, n);
    this._held = this._held.slice(n);
    for (const h of out) this._out(h.e);
  }
}

/** RFC 3339 with a fraction → µs since the epoch (digits past the millisecond kept). */
function micros(ts: string): number {
  let end = 20;
  while (end < ts.length && ts.charCodeAt(end) >= 48 && ts.charCodeAt(end) <= 57) end++;
  const sub = ts.slice(23, Math.min(end, 26)).padEnd(3, '0');
  return Date.parse(ts) * 1000 + Number(sub);
}
