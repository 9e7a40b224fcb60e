/**
 * Standard input as a source: read until it ends, in chunks cut at line boundaries. Nothing is checkpointed —
 * what was read from a pipe cannot be read again — so a crash loses what was in flight; use a file or Kafka
 * source where that matters.
 */
import type { Readable } from 'node:stream';
import { MAX_LINE_BYTES } from '@ruletrail/core';
import { pickAdapter, type Source, type SourceContext, type StdinSourceConfig } from '@ruletrail/pipeline';

/** `type: stdin`. */
export class StdinSource implements Source {
  readonly id: string;
  readonly finite = true;

  constructor(
    private readonly _config: StdinSourceConfig,
    private readonly _input: Readable = process.stdin,
  ) {
    this.id = _config.id;
  }

  async run(ctx: SourceContext): Promise<void> {
    const c = this._config;
    const adapter = pickAdapter(
      ctx.adapters,
      c.format === 'auto' ? 'kernel-log' : c.format,
      undefined,
      'stdin',
    );
    const decode = {
      ...(c.host !== undefined ? { host: c.host } : {}),
      ...(c.year !== undefined ? { year: c.year } : {}),
      ...(c.utcOffsetMinutes !== undefined ? { utcOffsetMinutes: c.utcOffsetMinutes } : {}),
    };
    let carry: Buffer | undefined;
    /** Inside a line longer than MAX_LINE_BYTES: its head is in `carry`, the rest is dropped up to its newline. */
    let skipping = false;
    let line = 1;
    const onAbort = (): void => {
      this._input.destroy();
    };
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const input of this._input as AsyncIterable<Buffer>) {
        let chunk = input;
        if (skipping) {
          // A line with no end in sight was held to MAX_LINE_BYTES (unbounded before, issue #15): it ends at the
          // next newline, and goes on as one line (the adapter's line cap dead-letters it).
          const nl = chunk.indexOf(0x0a);
          if (nl < 0) continue;
          skipping = false;
          chunk = Buffer.concat([carry!, chunk.subarray(nl)]);
          carry = undefined;
        }
        const buf = carry ? Buffer.concat([carry, chunk]) : chunk;
        const last = buf.lastIndexOf(0x0a);
        if (last < 0) {
          carry = buf.length > MAX_LINE_BYTES ? Buffer.from(buf.subarray(0, MAX_LINE_BYTES)) : buf;
          skipping = buf.length > MAX_LINE_BYTES;
          continue;
        }
        carry = last + 1 < buf.length ? Buffer.from(buf.subarray(last + 1)) : undefined;
        const data = buf.subarray(0, last + 1);
        const n = count(data);
        ctx.metrics.received(n);
        await ctx.emit({ origin: 'stdin', data, firstLine: line, adapter, decode });
        line += n;
      }
    } catch (err) {
      if (!ctx.signal.aborted) throw err;
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
    }
    if (carry?.length) await ctx.emit({ origin: 'stdin', data: carry, firstLine: line, adapter, decode });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

function count(b: Buffer): number {
  let n = 0;
  for (let p = b.indexOf(0x0a); p >= 0; p = b.indexOf(0x0a, p + 1)) n++;
  return n;
}
