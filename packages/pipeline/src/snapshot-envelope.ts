/**
 * The shipped snapshot: what `ruletrail snapshot ship` writes to a directory, a Kafka topic or an index, and
 * what the enrichment stage reads back. One JSON document per snapshot, stamped with the host it was taken on,
 * the time and the sha256 of the content, so every consumer can order a host's history and skip repeats
 * without parsing the rules.
 */
import { createHash } from 'node:crypto';
import { hostFactsFromJson, type HostFactsDocument } from '@ruletrail/ruleset';
import { CODE_JSON_TOO_DEEP, MAX_JSON_DEPTH, jsonDepthExceeds } from '@ruletrail/core';

/** Identifies the envelope format; bumped only on an incompatible change. */
export const SNAPSHOT_SCHEMA = 'ruletrail.snapshot/v1';

/** What produced the content. Only `iptables-save` output is joined with traces today. */
export type SnapshotFormat = 'iptables-save' | 'nft-json';

/** One shipped snapshot. */
export interface SnapshotEnvelope {
  readonly schema: typeof SNAPSHOT_SCHEMA;
  /** Host name as it appears in the host's trace lines (the syslog HOSTNAME). */
  readonly host: string;
  /** `ipv4` for iptables-save, `ipv6` for ip6tables-save; absent for nft (both families in one ruleset). */
  readonly family?: 'ipv4' | 'ipv6';
  readonly format: SnapshotFormat;
  /** When the command ran (ISO 8601, UTC). */
  readonly takenAt: string;
  /** sha256 of `content`, hex. */
  readonly hash: string;
  /** The command that produced it, e.g. `iptables-save`. */
  readonly tool: string;
  /** The command's output, as is. */
  readonly content: string;
  /**
   * The host's addresses and interfaces when the snapshot was taken (`ip -j addr`, `ip -j link`): a host-facts
   * document with its own `version` (1; packages/ruleset/src/host-facts.ts, docs/pipeline.md). Optional: envelopes
   * shipped before facts existed, or with `--command addr=`, have none. Not covered by `hash` (the rules' hash).
   */
  readonly facts?: HostFactsDocument;
}

/** sha256 of a snapshot's text, hex — the same hash the ruleset parser stamps. */
export function snapshotHash(content: string): string {
  return createHash('sha256').update(content, 'utf8').digest('hex');
}

/** Builds an envelope (computes the hash). */
export function makeEnvelope(fields: Omit<SnapshotEnvelope, 'schema' | 'hash'>): SnapshotEnvelope {
  return { schema: SNAPSHOT_SCHEMA, ...fields, hash: snapshotHash(fields.content) };
}

/**
 * Reads an envelope from JSON text. @throws Error naming the first problem (the caller adds where it came
 * from): a bad envelope is dead-lettered, never half-used.
 */
/** Dead-letter code of a snapshot that cannot be used (unreadable envelope, bad ruleset), from every feed. */
export const SNAPSHOT_INVALID = 'RT_ERR_SNAPSHOT_INVALID';

export function parseEnvelope(text: string): SnapshotEnvelope {
  let v: unknown;
  if (jsonDepthExceeds(text, MAX_JSON_DEPTH))
    throw new Error(`JSON nested deeper than ${MAX_JSON_DEPTH} levels (${CODE_JSON_TOO_DEEP})`);
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new Error(`not JSON: ${(err as Error).message}`);
  }
  const o = v as Partial<Record<keyof SnapshotEnvelope, unknown>>;
  if (typeof v !== 'object' || v === null) throw new Error('not a JSON object');
  if (o.schema !== SNAPSHOT_SCHEMA) throw new Error(`schema is not '${SNAPSHOT_SCHEMA}'`);
  for (const k of ['host', 'takenAt', 'hash', 'tool', 'content'] as const)
    if (typeof o[k] !== 'string' || o[k] === '') throw new Error(`'${k}' is missing or not a string`);
  if (o.format !== 'iptables-save' && o.format !== 'nft-json')
    throw new Error(`unknown format '${String(o.format)}'`);
  if (o.family !== undefined && o.family !== 'ipv4' && o.family !== 'ipv6')
    throw new Error(`unknown family ${JSON.stringify(o.family)}`);
  if (Number.isNaN(Date.parse(o.takenAt as string)))
    throw new Error(`takenAt '${String(o.takenAt)}' is not a date`);
  if (snapshotHash(o.content as string) !== o.hash) throw new Error('hash does not match the content');
  if (o.facts !== undefined) {
    try {
      hostFactsFromJson(o.facts, 'facts');
    } catch (err) {
      throw new Error(`'facts' cannot be read: ${(err as Error).message}`);
    }
  }
  return o as SnapshotEnvelope;
}
