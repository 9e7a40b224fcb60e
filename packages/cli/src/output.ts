/**
 * Buffered output with backpressure: results are appended to a buffer and written in large chunks; the
 * producer awaits `drain()` between input batches, so a slow reader of stdout slows the input instead of
 * growing memory.
 */
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { UsageError } from '@ruletrail/core';

const FLUSH_BYTES = 1 << 16;

/**
 * A line-oriented writer over a stream. Lines are encoded straight into a preallocated buffer (one UTF-8 write
 * per line, no joined string and no Buffer.from per chunk): the output of explain-all is larger than its input.
 */
export class LineWriter {
  private _buf = Buffer.allocUnsafe(FLUSH_BYTES);
  private _size = 0;
  private _waiting: Promise<void> | undefined;

  constructor(private readonly _stream: Writable) {}

  /** Queues one line (a newline is appended). */
  line(text: string): void {
    // A UTF-16 code unit takes at most 3 bytes in UTF-8.
    if (this._size + text.length * 3 + 1 > this._buf.length) {
      this._flush();
      if (text.length * 3 + 1 > this._buf.length) {
        this._write(Buffer.from(text + '\n'));
        return;
      }
    }
    this._size += this._buf.write(text, this._size);
    this._buf[this._size++] = 0x0a;
  }

  /** Queues bytes that already end in a newline (a line another thread encoded). */
  bytes(b: Uint8Array): void {
    if (this._size + b.length > this._buf.length) {
      this._flush();
      if (b.length > this._buf.length) {
        this._write(Buffer.from(b));
        return;
      }
    }
    this._buf.set(b, this._size);
    this._size += b.length;
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
    // The stream keeps the chunk until written: hand it over and start a new buffer.
    const chunk = this._buf.subarray(0, this._size);
    this._buf = Buffer.allocUnsafe(FLUSH_BYTES);
    this._size = 0;
    this._write(chunk);
  }

  private _write(chunk: Buffer): void {
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
