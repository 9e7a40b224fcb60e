/**
 * A one-line progress bar on stderr for finite inputs (files read once, pcaps), only on a TTY: bytes done of
 * the total, packets explained and alerts, redrawn a few times a second; the final state stays on its line.
 * Only drawn where the operator asked for it (`log.progress: on`) or stderr is a terminal (`auto`).
 */
import type { Progress, Source } from './types';

/** Draws and erases the bar. */
export class ProgressBar {
  private _timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly _stream: NodeJS.WriteStream,
    private readonly _sources: readonly Source[],
    private readonly _counts: () => { packets: number; alerts: number },
  ) {}

  start(): void {
    this._draw();
    this._timer = setInterval(() => this._draw(), 200);
    this._timer.unref();
  }

  stop(): void {
    if (this._timer) clearInterval(this._timer);
    this._timer = undefined;
    this._draw();
    this._stream.write('\n');
  }

  private _draw(): void {
    let done = 0;
    let total = 0;
    for (const s of this._sources) {
      const p: Progress | undefined = s.progress?.();
      if (p) {
        done += p.done;
        total += p.total;
      }
    }
    const width = 30;
    const frac = total > 0 ? Math.min(1, done / total) : 0;
    const fill = Math.round(frac * width);
    const c = this._counts();
    const line = `[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${(frac * 100).toFixed(0).padStart(3)}% ${mb(done)}/${mb(total)} MB  ${c.packets} packets  ${c.alerts} alerts`;
    this._stream.write(`\r${line.slice(0, (this._stream.columns || 100) - 1)}\x1b[K`);
  }
}

function mb(n: number): string {
  return (n / 1048576).toFixed(1);
}
