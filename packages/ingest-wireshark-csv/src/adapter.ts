/** The Wireshark CSV adapter: sniffing, and joining quoted multi-line rows before row.ts maps each one. */
import {
  InputError,
  splitLines,
  type DecodedBatch,
  type DecodeOptions,
  type IngestAdapter,
} from '@ruletrail/core';
import type { NetfilterEvent } from '@ruletrail/event';
import { parseCsvRecord } from './csv';
import {
  CODE_ROW,
  CODE_RECORD_TOO_LONG,
  handleRecord,
  mapHeader,
  missingRequired,
  type CsvState,
} from './row';

/** Whether `head` is a CSV whose header names a prefix column and Source/ip.src. */
export function sniffWiresharkCsv(head: Buffer): boolean {
  const first = head
    .toString('utf8')
    .split('\n', 1)[0]!
    .replace(/\r$/, '')
    .replace(/^\uFEFF/, '');
  if (!first.includes(',')) return false;
  const fields = parseCsvRecord(first);
  if (!fields) return false;
  const cols = mapHeader(fields);
  return (
    missingRequired(cols).length === 0 ||
    (cols.no !== undefined && cols.info !== undefined && cols.protocol !== undefined)
  );
}

/** The Wireshark CSV adapter. */
export const wiresharkCsvAdapter: IngestAdapter = {
  channel: 'wireshark-csv',
  summary: 'Wireshark/tshark CSV exports of an NFLOG capture with the NFLOG prefix as a column.',
  sniff(head: Buffer): boolean {
    return sniffWiresharkCsv(head);
  },
  async *decode(chunks: AsyncIterable<Buffer>, options: DecodeOptions): AsyncIterable<DecodedBatch> {
    const st: CsvState = {
      header: null,
      cols: {},
      fileDegraded: [],
      v4Degraded: [],
      v6Degraded: [],
      pending: null,
      pendingLine: 0,
    };
    for await (const { lines, firstLine } of splitLines(chunks)) {
      const out = { events: [] as NetfilterEvent[], errors: [] as InputError[], skipped: 0 };
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i]!;
        const lineNo = firstLine + i;
        const text = st.pending !== null ? `${st.pending}\n${line}` : line;
        const start = st.pending !== null ? st.pendingLine : lineNo;
        if (parseCsvRecord(text) === null) {
          // a quoted field continues on the next line; a runaway quote is cut off by the size cap
          if (text.length > 1 << 20) {
            out.errors.push(
              new InputError(
                CODE_RECORD_TOO_LONG,
                { file: options.file, line: start },
                'unterminated quoted field (over 1 MiB)',
                text.slice(0, 256),
              ),
            );
            st.pending = null;
          } else {
            st.pending = text;
            st.pendingLine = start;
          }
          continue;
        }
        st.pending = null;
        if (text.length === 0) continue;
        handleRecord(text, start, st, options, out);
      }
      if (out.events.length || out.errors.length || out.skipped) yield out;
    }
    if (st.pending !== null)
      yield {
        events: [],
        errors: [
          new InputError(
            CODE_ROW,
            { file: options.file, line: st.pendingLine },
            'file ends inside a quoted field',
            st.pending.slice(0, 256),
          ),
        ],
        skipped: 0,
      };
  },
};
export default wiresharkCsvAdapter;
