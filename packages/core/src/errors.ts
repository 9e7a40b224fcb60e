/**
 * Errors about the input a user handed us. They always name where the bad record is (file, and a 1-based
 * line or a byte offset) and why it was refused, so the message alone lets an operator find the record.
 */

/** Where a record sits in its input. `line` for text formats, `offset` (bytes) for binary ones. */
export interface InputPosition {
  readonly file: string;
  readonly line?: number;
  readonly offset?: number;
}

/** A record we could not read. Never thrown across the pipeline: it goes to the dead-letter output. */
export class InputError extends Error {
  override readonly name = 'InputError';
  /** Stable, bounded code (safe as a metric label), e.g. `RT_ERR_NFLOG_MALFORMED`. */
  readonly code: string;
  readonly position: InputPosition;
  /** Human reason without the position, e.g. `TRACE prefix has no rule number`. */
  readonly reason: string;
  /** The offending record (a line, or a hex excerpt of bytes), possibly shortened. */
  readonly record: string | undefined;

  /**
   * `maxRecordChars` (default 2048) bounds the kept record: an input excerpt only needs to be findable, but a
   * record a sink could not deliver is kept whole (the pipeline passes a larger bound) so it can be replayed.
   */
  constructor(code: string, position: InputPosition, reason: string, record?: string, maxRecordChars = 2048) {
    // One per bad record (a garbage input makes tens of thousands): the stack trace would be most of its cost
    // (fuzzing, issue #15) and says nothing the position does not.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(`${formatPosition(position)}: ${reason}`);
    Error.stackTraceLimit = limit;
    this.code = code;
    this.position = position;
    this.reason = reason;
    this.record = record === undefined ? undefined : shorten(record, maxRecordChars);
  }
}

/** `file:line`, `file@offset`, or `file`. */
export function formatPosition(p: InputPosition): string {
  if (p.line !== undefined) return `${p.file}:${p.line}`;
  if (p.offset !== undefined) return `${p.file}@${p.offset}`;
  return p.file;
}

/** A whole input we cannot process at all (unknown format, unreadable file). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

function shorten(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}…(${s.length - max} more chars)`;
}
