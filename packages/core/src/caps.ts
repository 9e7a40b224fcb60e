/**
 * Per-record caps (issue #15): no input can make one record cost more than a bounded amount of memory or time.
 * Each cap is documented in docs/reliability.md; a record over a cap goes to the dead-letter output with its
 * position and the cap's code, and the pipeline counts it in `ruletrail_component_errors_total{error_code}`.
 *
 *   line length   MAX_LINE_BYTES (1 MiB) framing cut + MAX_PARSED_LINE_CHARS (64 Ki chars) parse cap → RT_ERR_LINE_TOO_LONG
 *   JSON depth    MAX_JSON_DEPTH (32) for one-record JSON lines (ulogd) and snapshot envelopes   → RT_ERR_JSON_TOO_DEEP
 *   CSV record    1 MiB per record (quoted fields may span lines) in ingest-wireshark-csv
 *   TLV / record  16 MiB per pcap record (ingest-nflog-pcap), TLV lengths checked against their record
 */

/** Longest line a line parser is given: kernel TRACE lines are ~1 KiB, monitor lines a few KiB. */
export const MAX_PARSED_LINE_CHARS = 64 * 1024;

/** Deepest JSON nesting accepted for one-record JSON (ulogd lines, snapshot envelopes are 1–2 levels deep). */
export const MAX_JSON_DEPTH = 32;

export const CODE_LINE_TOO_LONG = 'RT_ERR_LINE_TOO_LONG';
export const CODE_JSON_TOO_DEEP = 'RT_ERR_JSON_TOO_DEEP';

/**
 * The nesting depth of a JSON text, scanning no further than needed to exceed `limit` (strings skipped, escapes
 * honoured). Cheap (one pass, no allocation): run it before JSON.parse so a `[[[[…` line is refused before
 * anything walks the parsed value recursively.
 */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}
