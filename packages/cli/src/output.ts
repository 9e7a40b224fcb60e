/**
 * Buffered output with backpressure: results are appended to a buffer and written in large chunks; the
 * producer awaits `drain()` between input batches, so a slow reader of stdout slows the input instead of
 * growing memory.
 */
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { UsageError } from '@ruletrail/core';

const FLUSH_BYTES = 1 << 16;

/** A line-oriented writer over a stream. */
export class LineWriter {
  private _buf: string[] = [];
  private _size = 0;
  private _waiting: Promise<void> | undefined;

  constructor(private readonly _stream: Writable) {}

  /** Queues one line (a newline is appended). */
  line(text: string): void {
    this._buf.push(text, '\n');
    this._size += text.length + 1;
    if (this._size >= FLUSH_BYTES) this._flush();
  }

  /** Resolves when the stream can take more (call between input batches). */
  async drain(): Promise<void> {
    if (this._waiting) await this._waiting;
  }

  /** Writes everything queued and waits for the stream to accept it. */
  async end(): Promise<void> {
    this._flush();
    await this.drain();
  }

  private _flush(): void {
    if (this._size === 0) return;
    const chunk = this._buf.join('');
    this._buf = [];
    this._size = 0;
    if (!this._stream.write(chunk) && !this._waiting) {
      this._waiting = new Promise((resolve) =>
        this._stream.once('drain', () => {
          this._waiting = undefined;
          resolve();
        }),
      );
    }
  }
}

/** `-o FILE` or stdout; `close` waits until the file is written (stdout is left open). */
export async function openOutput(
  path: string | undefined,
): Promise<{ stream: Writable; close: () => Promise<void> }> {
  if (path === undefined || path === '-') return { stream: process.stdout, close: async () => {} };
  const stream = createWriteStream(path);
  await new Promise<void>((resolve, reject) =>
    stream
      .once('open', () => resolve())
      .once('error', (err) => reject(new UsageError(`${path}: ${err.message}`))),
  );
  return {
    stream,
    close: () =>
      new Promise<void>((resolve, reject) =>
        stream.end((err?: Error | null) => (err ? reject(err) : resolve())),
      ),
  };
}
