/**
 * Dead-letter outputs: every record we could not process is kept with its position and reason, so nothing is
 * lost silently and an operator can replay or inspect it.
 */
import { closeSync, openSync, write } from 'node:fs';
import { escapeControl, escapeJsonControl } from './escape';
import { formatPosition, type InputError } from './errors';
import type { DeadLetterOutput } from './types';

/** One dead-letter record as written to NDJSON. A public format: keep it stable. */
export interface DeadLetterRecord {
  readonly file: string;
  readonly line?: number;
  readonly offset?: number;
  readonly code: string;
  readonly reason: string;
  readonly record?: string;
}

/** Converts an error to its NDJSON record. */
export function toDeadLetterRecord(e: InputError): DeadLetterRecord {
  return {
    file: e.position.file,
    ...(e.position.line !== undefined ? { line: e.position.line } : {}),
    ...(e.position.offset !== undefined ? { offset: e.position.offset } : {}),
    code: e.code,
    reason: e.reason,
    ...(e.record !== undefined ? { record: e.record } : {}),
  };
}

/** Options of `NdjsonDeadLetterFile`. */
export interface NdjsonDeadLetterOptions {
  /**
   * Called when a write fails (ENOSPC, EDQUOT, EIO…), once per failure streak, with the number of records held
   * in memory meanwhile. The records are kept and written when the file can be written again.
   */
  readonly onError?: (err: NodeJS.ErrnoException, pending: number) => void;
  /** Called when writing works again after a failure, with the records that had been held. */
  readonly onRecover?: (written: number) => void;
  /** Bytes held in memory while the file cannot be written (default 64 MiB); records past it are counted lost. */
  readonly maxPendingBytes?: number;
  /** Retry interval while the file cannot be written, ms (default 1000). */
  readonly retryMs?: number;
}

/**
 * Appends NDJSON records to a file. A full disk must not crash the process that reports bad input, nor lose the
 * reports silently: a failed write (ENOSPC…) keeps the records in memory (bounded) and retries every `retryMs`;
 * a partial write keeps the rest of the line, so the file never gets a torn record in the middle. What is still
 * not written at `close()` (or was over the memory bound) is counted in `unwritten`.
 */
export class NdjsonDeadLetterFile implements DeadLetterOutput {
  private readonly _fd: number;
  private _count = 0;
  /** Encoded records not yet written (the first may be the rest of a partly written one). */
  private readonly _pending: Buffer[] = [];
  /** Records whose last byte is in `_pending`. */
  private _pendingRecords = 0;
  private _pendingBytes = 0;
  private _dropped = 0;
  private _writing = false;
  private _failing: NodeJS.ErrnoException | undefined;
  private _heldInStreak = 0;
  private _retry: NodeJS.Timeout | undefined;
  private _closed = false;
  private _idle: (() => void)[] = [];
  private readonly _opts: NdjsonDeadLetterOptions;

  constructor(path: string, options: NdjsonDeadLetterOptions = {}) {
    // Opened now, so a path that cannot be opened fails at start with the error, not later in an event.
    this._fd = openSync(path, 'a');
    this._opts = options;
  }
  get count(): number {
    return this._count;
  }
  /** Records not in the file: over the memory bound while it could not be written, or still held at close. */
  get unwritten(): number {
    return this._dropped + (this._closed ? this._pendingRecords : 0);
  }
  /** The last write error, while writes fail. */
  get failing(): NodeJS.ErrnoException | undefined {
    return this._failing;
  }
  write(error: InputError): void {
    this._count++;
    const buf = Buffer.from(escapeJsonControl(JSON.stringify(toDeadLetterRecord(error))) + '\n');
    if (this._closed || this._pendingBytes + buf.length > (this._opts.maxPendingBytes ?? 64 * 2 ** 20)) {
      this._dropped++;
      return;
    }
    this._pending.push(buf);
    this._pendingRecords++;
    this._pendingBytes += buf.length;
    if (!this._failing) this._flush();
  }
  /** Writes what is pending, one write at a time (up to 1 MiB per write). */
  private _flush(): void {
    if (this._writing || this._pending.length === 0) return this._settled();
    this._writing = true;
    let n = 0;
    let bytes = 0;
    while (n < this._pending.length && (n === 0 || bytes + this._pending[n]!.length <= 2 ** 20))
      bytes += this._pending[n++]!.length;
    const chunk = n === 1 ? this._pending[0]! : Buffer.concat(this._pending.slice(0, n), bytes);
    write(this._fd, chunk, 0, chunk.length, null, (err, written) => {
      this._writing = false;
      this._consume(err ? 0 : written);
      if (err) {
        if (!this._failing) {
          this._heldInStreak = 0;
          this._opts.onError?.(err, this._pendingRecords);
        }
        this._failing = err;
        if (!this._closed) this._retry = setTimeout(() => this._flush(), this._opts.retryMs ?? 1000).unref();
        return this._settled();
      }
      if (this._failing) {
        this._failing = undefined;
        this._opts.onRecover?.(this._heldInStreak);
      }
      this._flush();
    });
  }
  /** Drops `bytes` written from the front of the pending buffers, counting the records completed. */
  private _consume(bytes: number): void {
    while (bytes > 0 && this._pending.length > 0) {
      const head = this._pending[0]!;
      if (bytes >= head.length) {
        bytes -= head.length;
        this._pendingBytes -= head.length;
        this._pending.shift();
        this._pendingRecords--;
        if (this._failing) this._heldInStreak++;
      } else {
        this._pending[0] = head.subarray(bytes);
        this._pendingBytes -= bytes;
        bytes = 0;
      }
    }
  }
  private _settled(): void {
    if (this._writing || (this._pending.length > 0 && !this._failing)) return;
    for (const f of this._idle.splice(0)) f();
  }
  /** Writes what is pending (one more try if writes were failing), then closes the file. */
  async close(): Promise<void> {
    if (this._closed) return;
    clearTimeout(this._retry);
    if (this._failing && this._pending.length > 0) {
      this._failing = undefined; // one last try
      this._flush();
    }
    await new Promise<void>((resolve) => {
      this._idle.push(resolve);
      this._settled();
    });
    this._closed = true;
    clearTimeout(this._retry);
    closeSync(this._fd);
  }
}

/**
 * Reports each error as one `file:line: reason` line on a stream (stderr by default), capped so a file of
 * garbage cannot flood the terminal; the count stays exact.
 */
export class StreamDeadLetter implements DeadLetterOutput {
  private _count = 0;
  constructor(
    private readonly _stream: NodeJS.WritableStream = process.stderr,
    private readonly _maxReported = 100,
  ) {}
  get count(): number {
    return this._count;
  }
  write(error: InputError): void {
    this._count++;
    if (this._count <= this._maxReported)
      // Position and reason can quote the input: never let its control characters reach the terminal.
      this._stream.write(
        `ruletrail: ${escapeControl(`${formatPosition(error.position)}: ${error.reason}`)}\n`,
      );
    else if (this._count === this._maxReported + 1)
      this._stream.write('ruletrail: more input errors; see the dead-letter file or the summary count\n');
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Writes every error to each of several outputs. */
export class TeeDeadLetter implements DeadLetterOutput {
  constructor(private readonly _outputs: DeadLetterOutput[]) {}
  get count(): number {
    return this._outputs[0]?.count ?? 0;
  }
  write(error: InputError): void {
    for (const o of this._outputs) o.write(error);
  }
  async close(): Promise<void> {
    await Promise.all(this._outputs.map((o) => o.close()));
  }
}
