/**
 * Reading explained packets back: the NDJSON `ruletrail explain --format json` writes (docs/explain-json.md),
 * also as a file sink, Kafka topic dump or Elasticsearch export writes it. Tolerant of fields added to the
 * contract later; alert records (which carry `alert` and no `steps`) are recognised and skipped.
 */
import type { Explanation } from '@ruletrail/explain';

/** What one NDJSON line holds. */
export type ParsedRecord =
  | { readonly kind: 'explanation'; readonly value: Explanation }
  | { readonly kind: 'alert' }
  | { readonly kind: 'error'; readonly reason: string };

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses one line; never throws. */
export function parseExplanationLine(line: string): ParsedRecord {
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch (err) {
    return { kind: 'error', reason: `not JSON: ${(err as Error).message}` };
  }
  if (!isObject(o)) return { kind: 'error', reason: 'not a JSON object' };
  // An Elasticsearch export wraps documents in `_source`.
  if (isObject(o._source)) o = o._source;
  const r = o as Record<string, unknown>;
  if (isObject(r.alert) && !Array.isArray(r.steps)) return { kind: 'alert' };
  const missing: string[] = [];
  if (typeof r.verdict !== 'string') missing.push('verdict (string)');
  if (!isObject(r.packet)) missing.push('packet (object)');
  if (!Array.isArray(r.steps)) missing.push('steps (array)');
  if (missing.length)
    return { kind: 'error', reason: `not an explained packet: missing ${missing.join(', ')}` };
  const bad = (r.steps as unknown[]).findIndex(
    (s) => !isObject(s) || typeof s.table !== 'string' || typeof s.chain !== 'string',
  );
  if (bad >= 0) return { kind: 'error', reason: `steps[${bad}] has no table/chain` };
  return {
    kind: 'explanation',
    value: {
      ...(r as unknown as Explanation),
      // Fields the report reads as arrays/strings, defaulted so an older or partial record still renders.
      flags: Array.isArray(r.flags) ? (r.flags as Explanation['flags']) : [],
      nat: Array.isArray(r.nat) ? (r.nat as Explanation['nat']) : [],
      cause: typeof r.cause === 'string' ? r.cause : '',
    },
  };
}
