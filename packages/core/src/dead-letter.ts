/**
 * Dead-letter outputs: every record we could not process is kept with its position and reason, so nothing is
 * lost silently and an operator can replay or inspect it.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
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

/** Appends NDJSON records to a file. */
export class NdjsonDeadLetterFile implements DeadLetterOutput {
  private readonly _out: WriteStream;
  private _count = 0;
  constructor(path: string) {
    this._out = createWriteStream(path, { flags: 'a' });
  }
  get count(): number {
    return this._count;
  }
  write(error: InputError): void {
    this._count++;
    this._out.write(escapeJsonControl(JSON.stringify(toDeadLetterRecord(error))) + '\n');
  }
  close(): Promise<void> {
    return new Promise((resolve, reject) =>
      this._out.end((err?: Error | null) => (err ? reject(err) : resolve())),
    );
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
