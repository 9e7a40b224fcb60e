/** The `nft-monitor` channel: the ingest adapter object the CLI registers. */
import {
  decodeStatefulLines,
  type DecodedBatch,
  type DecodeOptions,
  type IngestAdapter,
} from '@ruletrail/core';
import { ARRIVAL_STAMP, NftMonitorDecoder } from './decoder';
import { parseNftTraceLine, NftLineSyntaxError } from './trace-line';

/** How much of the head `sniff` looks at. */
const SNIFF_BYTES = 16384;

/** `nft monitor trace` output (nftables `meta nftrace`, read over nfnetlink). */
export const nftMonitorAdapter: IngestAdapter = {
  channel: 'nft-monitor',
  summary:
    'nft monitor trace output: nftables trace steps (packet, rule with verdict, policy and return lines per trace id).',

  /**
   * True when a complete line of the head is a well-formed `trace id <8 hex> <family> <table> <chain> …` line.
   * No other channel's lines start with `trace id `.
   */
  sniff(head: Buffer): boolean {
    const text = head.subarray(0, SNIFF_BYTES).toString('utf8');
    const lines = text.split('\n');
    if (lines.length > 1 && head.length >= SNIFF_BYTES) lines.pop();
    for (const raw of lines) {
      const line = (raw.endsWith('\r') ? raw.slice(0, -1) : raw).replace(ARRIVAL_STAMP, '');
      const r = parseNftTraceLine(line);
      if (r !== undefined && !(r instanceof NftLineSyntaxError)) return true;
    }
    return false;
  },

  /**
   * Streams the input. `lineFilter` is not applied: a step's packet fields are on an earlier `packet:` line
   * that need not contain the needle (the caller re-checks what it selects).
   */
  decode(chunks: AsyncIterable<Buffer>, options: DecodeOptions): AsyncIterable<DecodedBatch> {
    return decodeNftMonitor(chunks, options);
  },
};

function decodeNftMonitor(
  chunks: AsyncIterable<Buffer>,
  options: DecodeOptions,
): AsyncIterable<DecodedBatch> {
  const decoder = new NftMonitorDecoder({
    file: options.file,
    ...(options.host !== undefined ? { host: options.host } : {}),
    ...(options.keepOriginal !== undefined ? { keepOriginal: options.keepOriginal } : {}),
  });
  return decodeStatefulLines(chunks, decoder, options.file);
}
