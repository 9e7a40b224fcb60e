/** The ulogd2 JSON adapter: sniffing, and decoding line batches with `parseUlogdLine` (record.ts). */
import {
  splitLines,
  InputError,
  type DecodedBatch,
  type DecodeOptions,
  type IngestAdapter,
} from '@ruletrail/core';
import type { NetfilterEvent } from '@ruletrail/event';
import { BATCH_EVENTS, parseUlogdLine, type FileState } from './record';

/** Whether `head` looks like ulogd JSON: its first non-empty line is an object with ulogd's NFLOG keys. */
export function sniffUlogdJson(head: Buffer): boolean {
  const text = head.toString('utf8');
  const first = text.split('\n').find((l) => l.trim() !== '');
  if (!first || !first.trimStart().startsWith('{')) return false;
  return /"(oob\.prefix|raw\.pktlen|oob\.family)"\s*:/.test(first);
}

/** The ulogd2 JSON adapter. */
export const ulogdJsonAdapter: IngestAdapter = {
  channel: 'ulogd-json',
  summary:
    'ulogd2 JSON output (NFLOG/BASE/IFINDEX/IP2STR/HWHDR stack, one object per line): TRACE steps and NFLOG packet logs.',
  sniff(head: Buffer): boolean {
    return sniffUlogdJson(head);
  },
  async *decode(chunks: AsyncIterable<Buffer>, options: DecodeOptions): AsyncIterable<DecodedBatch> {
    const state: FileState = { sawAddresses: false };
    // core's decodeLines, but yielding every BATCH_EVENTS events: a whole 1 MiB chunk of events held at once
    // survives the young-generation GC and triples the GC cost.
    for await (const { lines, firstLine } of splitLines(chunks)) {
      let events: NetfilterEvent[] = [];
      let errors: InputError[] = [];
      let skipped = 0;
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i]!;
        if (line.length === 0) continue;
        const r = parseUlogdLine(line, firstLine + i, options, state);
        if (r === null) skipped++;
        else if (r instanceof InputError) errors.push(r);
        else events.push(r);
        if (events.length >= BATCH_EVENTS) {
          yield { events, errors, skipped };
          events = [];
          errors = [];
          skipped = 0;
        }
      }
      if (events.length || errors.length || skipped) yield { events, errors, skipped };
    }
  },
};
export default ulogdJsonAdapter;
