/**
 * Line framing for the text channels. Splitting happens on the 0x0A byte before decoding, which is safe for
 * UTF-8 (0x0A never occurs inside a multi-byte sequence), and each chunk is decoded with one call and split
 * natively: far cheaper than a per-line decode.
 */
import type { DecodedBatch, DecodeOptions } from './types';
import { InputError } from './errors';
import { CODE_LINE_TOO_LONG, MAX_PARSED_LINE_CHARS } from './caps';
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

/**
 * The stream as regions of complete lines, each without its final `\n`, in order. Chunks are sliced, never
 * copied: only a line split across two chunks is joined (copying every chunk onto its predecessor's tail was a
 * measurable share of a one-packet query). `last` marks a final line with no newline after it.
 */
async function* lineRegions(chunks: AsyncIterable<Buffer>): AsyncIterable<{ region: Buffer; last: boolean }> {
  let carry: Buffer | null = null;
  for await (const chunk of chunks) {
    let start = 0;
    if (carry) {
      const nl = chunk.indexOf(0x0a);
      if (nl < 0) {
        // Still no end of line: keep at most MAX_LINE_BYTES of it.
        if (carry.length < MAX_LINE_BYTES) carry = Buffer.concat([carry, chunk]).subarray(0, MAX_LINE_BYTES);
        continue;
      }
      yield {
        region: Buffer.concat([carry, chunk.subarray(0, nl)]).subarray(0, MAX_LINE_BYTES),
        last: false,
      };
      carry = null;
      start = nl + 1;
    }
    const lastNl = chunk.lastIndexOf(0x0a);
    if (lastNl < start) {
      if (start < chunk.length) carry = Buffer.from(chunk.subarray(start, start + MAX_LINE_BYTES));
      continue;
    }
    yield { region: chunk.subarray(start, lastNl), last: false };
    carry = lastNl + 1 < chunk.length ? Buffer.from(chunk.subarray(lastNl + 1)) : null;
  }
  if (carry && carry.length > 0) yield { region: carry, last: true };
}

/** Splits a byte stream into lines (without `\n`, with a trailing `\r` removed). Memory: one chunk + one partial line. */
export async function* splitLines(chunks: AsyncIterable<Buffer>, firstLine = 1): AsyncIterable<LineBatch> {
  let lineNo = firstLine;
  for await (const { region } of lineRegions(chunks)) {
    const lines = region.toString('utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i]!;
      if (l.length > 0 && l.charCodeAt(l.length - 1) === 13) lines[i] = l.slice(0, -1);
    }
    yield { lines, firstLine: lineNo };
    lineNo += lines.length;
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
      ? splitLinesContaining(chunks, options.lineFilter, options.firstLine)
      : numbered(splitLines(chunks, options.firstLine));
  for await (const { lines, numbers } of source) {
    let events: NetfilterEvent[] = [];
    let errors: InputError[] = [];
    let skipped = 0;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (line.length === 0) continue;
      const r =
        line.length > MAX_PARSED_LINE_CHARS
          ? tooLong(line, numbers(i), options.file)
          : parseLine(line, numbers(i));
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

/** A line over the parse cap: dead-lettered with its length, never parsed (bounded cost per record). */
function tooLong(line: string, lineNo: number, file: string): InputError {
  return new InputError(
    CODE_LINE_TOO_LONG,
    { file, line: lineNo },
    `line is ${line.length} characters, over the cap of ${MAX_PARSED_LINE_CHARS} (not parsed)`,
    line,
    256,
  );
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
  firstLine = 1,
): AsyncIterable<NumberedLines> {
  const pattern = Buffer.from(needle, 'utf8');
  let lineNo = firstLine;
  for await (const { region } of lineRegions(chunks)) {
    const lines: string[] = [];
    const nums: number[] = [];
    let pos = 0;
    let hit = region.indexOf(pattern, 0);
    while (hit >= 0) {
      const start = region.lastIndexOf(0x0a, hit) + 1;
      let end = region.indexOf(0x0a, hit);
      if (end < 0) end = region.length;
      lineNo += countNewlines(region, pos, start);
      const stop = end > start && region[end - 1] === 13 ? end - 1 : end;
      lines.push(region.toString('utf8', start, stop));
      nums.push(lineNo);
      if (end >= region.length) {
        pos = region.length;
        break;
      }
      lineNo++;
      pos = end + 1;
      hit = region.indexOf(pattern, pos);
    }
    // lineNo is the number of the line at `pos`; the region holds countNewlines + 1 more lines from there
    // (its final newline was cut off), so the next region starts after them.
    lineNo += countNewlines(region, pos, region.length) + 1;
    if (lines.length) yield { lines, numbers: (i) => nums[i]! };
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
  file = '<input>',
): AsyncIterable<DecodedBatch> {
  for await (const { lines, firstLine } of splitLines(chunks)) {
    const out: LineOutput = { events: [], errors: [], skipped: 0 };
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (line.length > MAX_PARSED_LINE_CHARS) out.errors.push(tooLong(line, firstLine + i, file));
      else decoder.line(line, firstLine + i, out);
    }
    yield out;
  }
  const out: LineOutput = { events: [], errors: [], skipped: 0 };
  decoder.end(out);
  if (out.events.length || out.errors.length || out.skipped) yield out;
}
