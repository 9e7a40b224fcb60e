/**
 * Line framing for the text channels. Splitting happens on the 0x0A byte before decoding, which is safe for
 * UTF-8 (0x0A never occurs inside a multi-byte sequence), and each chunk is decoded with one call and split
 * natively: far cheaper than a per-line decode.
 */
import type { DecodedBatch, DecodeOptions } from './types';
import { InputError } from './errors';
import type { NetfilterEvent } from '@ruletrail/event';

/** A run of complete lines and the 1-based number of the first one. */
export interface LineBatch {
  readonly lines: string[];
  readonly firstLine: number;
}

/** Longest line kept whole; longer lines are cut (the kernel itself never logs more than ~1 KiB). */
export const MAX_LINE_BYTES = 1 << 20;

/** Splits a byte stream into lines (without `\n`, with a trailing `\r` removed). Memory: one chunk + one partial line. */
export async function* splitLines(chunks: AsyncIterable<Buffer>): AsyncIterable<LineBatch> {
  let carry: Buffer | null = null;
  let lineNo = 1;
  for await (const chunk of chunks) {
    const buf: Buffer = carry ? Buffer.concat([carry, chunk]) : chunk;
    const last = buf.lastIndexOf(0x0a);
    if (last < 0) {
      carry = buf.length > MAX_LINE_BYTES ? buf.subarray(0, MAX_LINE_BYTES) : buf;
      continue;
    }
    const text = buf.toString('utf8', 0, last);
    carry = last + 1 < buf.length ? Buffer.from(buf.subarray(last + 1)) : null;
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i]!;
      if (l.length > 0 && l.charCodeAt(l.length - 1) === 13) lines[i] = l.slice(0, -1);
    }
    yield { lines, firstLine: lineNo };
    lineNo += lines.length;
  }
  if (carry && carry.length > 0) {
    let l = carry.toString('utf8');
    if (l.charCodeAt(l.length - 1) === 13) l = l.slice(0, -1);
    yield { lines: [l], firstLine: lineNo };
  }
}

/** What a line parser says about one line. */
export type LineResult = NetfilterEvent | InputError | null;

/**
 * Runs a per-line parser over a byte stream: `null` = not ours (skipped), an `InputError` = dead letter,
 * an event = decoded. The shared body of every line-oriented adapter's `decode`.
 */
export async function* decodeLines(
  chunks: AsyncIterable<Buffer>,
  options: DecodeOptions,
  parseLine: (line: string, lineNo: number) => LineResult,
): AsyncIterable<DecodedBatch> {
  for await (const { lines, firstLine } of splitLines(chunks)) {
    const events: NetfilterEvent[] = [];
    const errors: InputError[] = [];
    let skipped = 0;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (line.length === 0) continue;
      const r = parseLine(line, firstLine + i);
      if (r === null) skipped++;
      else if (r instanceof InputError) errors.push(r);
      else events.push(r);
    }
    void options;
    yield { events, errors, skipped };
  }
}
