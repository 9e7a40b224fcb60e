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

/** Most events per decoded batch (see decodeLines). */
export const MAX_BATCH_EVENTS = 256;

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
  const source =
    options.lineFilter !== undefined && options.lineFilter !== ''
      ? splitLinesContaining(chunks, options.lineFilter)
      : numbered(splitLines(chunks));
  for await (const { lines, numbers } of source) {
    let events: NetfilterEvent[] = [];
    let errors: InputError[] = [];
    let skipped = 0;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (line.length === 0) continue;
      const r = parseLine(line, numbers(i));
      if (r === null) skipped++;
      else if (r instanceof InputError) errors.push(r);
      else events.push(r);
      // Small batches: a 1 MiB chunk holds ~3000 events, and keeping them all alive until the consumer is done
      // with the batch pushes them into the old generation, which costs far more GC time than the extra yields.
      if (events.length >= MAX_BATCH_EVENTS) {
        yield { events, errors, skipped };
        events = [];
        errors = [];
        skipped = 0;
      }
    }
    yield { events, errors, skipped };
  }
}

/** Lines plus a way to get each one's 1-based number. */
export interface NumberedLines {
  readonly lines: string[];
  readonly numbers: (index: number) => number;
}

async function* numbered(batches: AsyncIterable<LineBatch>): AsyncIterable<NumberedLines> {
  for await (const { lines, firstLine } of batches) yield { lines, numbers: (i) => firstLine + i };
}

/**
 * Only the lines that contain `needle`, with their true line numbers. The search runs on raw bytes
 * (Buffer.indexOf is a memmem), so lines that cannot match are never decoded: what makes a one-packet query
 * cost a scan of the file rather than a parse of it.
 */
export async function* splitLinesContaining(
  chunks: AsyncIterable<Buffer>,
  needle: string,
): AsyncIterable<NumberedLines> {
  const pattern = Buffer.from(needle, 'utf8');
  let carry: Buffer | null = null;
  let lineNo = 1;
  for await (const chunk of chunks) {
    const buf: Buffer = carry ? Buffer.concat([carry, chunk]) : chunk;
    const last = buf.lastIndexOf(0x0a);
    if (last < 0) {
      carry = buf.length > MAX_LINE_BYTES ? buf.subarray(0, MAX_LINE_BYTES) : buf;
      continue;
    }
    const lines: string[] = [];
    const nums: number[] = [];
    let pos = 0;
    let hit = buf.indexOf(pattern, 0);
    while (hit >= 0 && hit < last) {
      const start = buf.lastIndexOf(0x0a, hit) + 1;
      const end = buf.indexOf(0x0a, hit);
      lineNo += countNewlines(buf, pos, start);
      const stop = end > start && buf[end - 1] === 13 ? end - 1 : end;
      lines.push(buf.toString('utf8', start, stop));
      nums.push(lineNo);
      lineNo++;
      pos = end + 1;
      hit = buf.indexOf(pattern, pos);
    }
    lineNo += countNewlines(buf, pos, last + 1);
    carry = last + 1 < buf.length ? Buffer.from(buf.subarray(last + 1)) : null;
    if (lines.length) yield { lines, numbers: (i) => nums[i]! };
  }
  if (carry && carry.length > 0 && carry.indexOf(pattern) >= 0) {
    let l = carry.toString('utf8');
    if (l.charCodeAt(l.length - 1) === 13) l = l.slice(0, -1);
    yield { lines: [l], numbers: () => lineNo };
  }
}

function countNewlines(buf: Buffer, from: number, to: number): number {
  let n = 0;
  let p = buf.indexOf(0x0a, from);
  while (p >= 0 && p < to) {
    n++;
    p = buf.indexOf(0x0a, p + 1);
  }
  return n;
}

/** A decoder's output for one batch, filled in place. */
export interface LineOutput {
  events: NetfilterEvent[];
  errors: InputError[];
  skipped: number;
}

/**
 * A line decoder that keeps state across lines: channels whose steps need an earlier line (xtables-monitor's
 * and nft's `packet:` line carries the fields its trace lines omit).
 */
export interface StatefulLineDecoder {
  line(line: string, lineNo: number, out: LineOutput): void;
  /** End of input: emit what is still held. */
  end(out: LineOutput): void;
}

/** Drives a {@link StatefulLineDecoder} over a byte stream, one batch per chunk. */
export async function* decodeStatefulLines(
  chunks: AsyncIterable<Buffer>,
  decoder: StatefulLineDecoder,
): AsyncIterable<DecodedBatch> {
  for await (const { lines, firstLine } of splitLines(chunks)) {
    const out: LineOutput = { events: [], errors: [], skipped: 0 };
    for (let i = 0; i < lines.length; i++) decoder.line(lines[i]!, firstLine + i, out);
    yield out;
  }
  const out: LineOutput = { events: [], errors: [], skipped: 0 };
  decoder.end(out);
  if (out.events.length || out.errors.length || out.skipped) yield out;
}
