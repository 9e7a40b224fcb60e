/** The `xtables-monitor` channel: the ingest adapter object the CLI registers. */
import {
  decodeStatefulLines,
  type DecodedBatch,
  type DecodeOptions,
  type IngestAdapter,
} from '@ruletrail/core';
import { ARRIVAL_STAMP, XtablesMonitorDecoder } from './decoder';
import { parsePacketLine, PacketSyntaxError } from './packet';
import { parseTraceLine, TraceSyntaxError } from './trace-line';

/** How much of the head `sniff` looks at. */
const SNIFF_BYTES = 16384;

/** `xtables-monitor --trace` output (iptables-nft's TRACE, read over nfnetlink). */
export const xtablesMonitorAdapter: IngestAdapter = {
  channel: 'xtables-monitor',
  summary:
    'xtables-monitor --trace output: iptables-nft TRACE steps (PACKET and TRACE lines with rule handle, verdict and rule text).',

  /**
   * True when a complete line of the head is a well-formed `PACKET: <family> <id> …` or
   * ` TRACE: <family> <id> <table>:<chain>:<rule|policy|return>…` line. A kernel-log `TRACE: raw:PREROUTING:…`
   * line never is (no family number and trace id), nor an `nft monitor trace` line (`trace id …`).
   */
  sniff(head: Buffer): boolean {
    const text = head.subarray(0, SNIFF_BYTES).toString('utf8');
    const lines = text.split('\n');
    if (lines.length > 1 && head.length >= SNIFF_BYTES) lines.pop();
    for (const raw of lines) {
      const line = (raw.endsWith('\r') ? raw.slice(0, -1) : raw).replace(ARRIVAL_STAMP, '');
      const s = line.trimStart();
      if (s.startsWith('PACKET: ') && !(parsePacketLine(line) instanceof PacketSyntaxError)) return true;
      if (s.startsWith('TRACE: ') && !(parseTraceLine(line) instanceof TraceSyntaxError)) return true;
    }
    return false;
  },

  /**
   * Streams the input. `lineFilter` is not applied: a step's packet fields are on an earlier PACKET line that
   * need not contain the needle, so pre-filtering would strip them (the caller re-checks what it selects).
   */
  decode(chunks: AsyncIterable<Buffer>, options: DecodeOptions): AsyncIterable<DecodedBatch> {
    return decodeXtablesMonitor(chunks, options);
  },
};

function decodeXtablesMonitor(
  chunks: AsyncIterable<Buffer>,
  options: DecodeOptions,
): AsyncIterable<DecodedBatch> {
  const decoder = new XtablesMonitorDecoder({
    file: options.file,
    ...(options.host !== undefined ? { host: options.host } : {}),
    ...(options.keepOriginal !== undefined ? { keepOriginal: options.keepOriginal } : {}),
  });
  return decodeStatefulLines(chunks, decoder, options.file);
}
