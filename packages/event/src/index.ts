/**
 * The one event every ingest adapter produces, whatever channel the record came through.
 *
 * The types and the validator are generated from `schemas/event/v1/event.schema.json` (run `npm run gen`);
 * this file only adds the hand-written helpers around them.
 */
import validateEventGenerated from './generated/validate-event';
import type { NetfilterEvent } from './generated/event';

export type * from './generated/event';

/** Event schema version carried in `ruletrail.schema` and in sink headers. */
export const EVENT_SCHEMA_VERSION = '1';
/** The schema's `$id`, for consumers that fetch or cache it. */
export const EVENT_SCHEMA_ID = 'https://ruletrail.dev/schemas/event/v1/event.schema.json';

/** A capture channel name, as carried in `ruletrail.channel`. */
export type Channel = NetfilterEvent['ruletrail']['channel'];
/** The TRACE step of an event (`netfilter.trace`). */
export type TraceStep = NonNullable<NonNullable<NetfilterEvent['netfilter']>['trace']>;

/** Result of validating an untrusted value against the event schema. */
export type ValidationResult = { ok: true; event: NetfilterEvent } | { ok: false; errors: string[] };

/**
 * Validates a value against the event schema with the validator precompiled at build time.
 * Errors are rendered as `<json pointer> <message>` so they can go straight into a dead-letter reason.
 */
export function validateEvent(value: unknown): ValidationResult {
  if (validateEventGenerated(value)) return { ok: true, event: value };
  const errors = (validateEventGenerated.errors ?? []).map(
    (e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}${formatParams(e.params)}`,
  );
  return { ok: false, errors };
}

function formatParams(params: Record<string, unknown>): string {
  if ('additionalProperty' in params) return ` (${String(params.additionalProperty)})`;
  if ('allowedValues' in params && Array.isArray(params.allowedValues))
    return ` (${params.allowedValues.map(String).join(', ')})`;
  return '';
}
