/** The `kernel-log` channel: the ingest adapter object the CLI registers. */
import {
  decodeLines,
  InputError,
  type DecodedBatch,
  type DecodeOptions,
  type IngestAdapter,
} from '@ruletrail/core';
import { createKernelLogParser } from './line';

/** How much of the head `sniff` looks at. */
const SNIFF_BYTES = 16384;

export const kernelLogAdapter: IngestAdapter = {
  channel: 'kernel-log',
  summary:
    'Kernel nf_log text (TRACE steps, -j LOG lines) from syslog (RFC 3164/5424), journald, dmesg or /dev/kmsg.',

  /**
   * True when a complete line of the head parses as a netfilter record (an `IN=… OUT=…` payload in one of the
   * accepted framings). A JSON, CSV or binary head never does: its lines do not start like any framing and do
   * not follow the payload grammar to the end of the line.
   */
  sniff(head: Buffer, fileName: string): boolean {
    const text = head.subarray(0, SNIFF_BYTES).toString('utf8');
    const lines = text.split('\n');
    // The last piece may be a line cut by the head's size; only judge complete lines (or a one-line head).
    if (lines.length > 1 && head.length >= SNIFF_BYTES) lines.pop();
    const parse = createKernelLogParser({ file: fileName });
    for (let i = 0; i < lines.length; i++) {
      let line = lines[i]!;
      if (line.endsWith('\r')) line = line.slice(0, -1);
      const c = line.charCodeAt(0);
      if (c === 123 /* { */ || c === 34 /* " */) continue;
      if (line.indexOf('IN=') < 0 || line.indexOf(' OUT=') < 0) continue;
      const r = parse(line, i + 1);
      if (r !== null && !(r instanceof InputError)) return true;
    }
    return false;
  },

  decode(chunks: AsyncIterable<Buffer>, options: DecodeOptions): AsyncIterable<DecodedBatch> {
    return decodeLines(chunks, options, createKernelLogParser(options));
  },
};
