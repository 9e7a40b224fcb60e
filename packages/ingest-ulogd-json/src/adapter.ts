/** The ulogd2 JSON adapter: sniffing, and decoding line batches with `parseUlogdLine` (record.ts). */
import { decodeLines, type DecodedBatch, type DecodeOptions, type IngestAdapter } from '@ruletrail/core';
import { parseUlogdLine, type FileState } from './record';

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
    yield* decodeLines(chunks, options, (line, lineNo) => parseUlogdLine(line, lineNo, options, state));
  },
};
export default ulogdJsonAdapter;
