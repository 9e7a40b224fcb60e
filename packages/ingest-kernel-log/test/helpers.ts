/** Shared test helpers: fixture loading and a parse that insists every event validates against the schema. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError, type DecodeOptions, type LineResult } from '@ruletrail/core';
import { validateEvent, type NetfilterEvent } from '@ruletrail/event';
import { createKernelLogParser } from '../src/index';

export const FIXTURES = join(__dirname, 'fixtures');

/** The clock the year inference sees in tests: 2026-11-27T12:00:00Z (the day the genuine lines were taken). */
export const TEST_NOW = Date.UTC(2026, 10, 27, 12, 0, 0);

/** Lines of a fixture file (the final newline does not make an extra line). */
export function fixtureLines(rel: string): string[] {
  const text = readFileSync(join(FIXTURES, rel), 'utf8');
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Every line of a fixture through one parser; every event is checked against the event schema. */
export function parseFixture(rel: string, options: Partial<DecodeOptions> = {}): LineResult[] {
  const file = rel.split('/').pop()!;
  const parse = createKernelLogParser({ file, ...options }, { nowMs: TEST_NOW });
  return fixtureLines(rel).map((line, i) => {
    const r = parse(line, i + 1);
    if (r !== null && !(r instanceof InputError)) assertValid(r);
    return r;
  });
}

export function assertValid(ev: NetfilterEvent): void {
  const v = validateEvent(ev);
  assert.ok(v.ok, `event does not validate: ${v.ok ? '' : v.errors.join('; ')}\n${JSON.stringify(ev)}`);
}

/** The result must be an event. */
export function event(r: LineResult | undefined): NetfilterEvent {
  assert.ok(
    r !== null && r !== undefined && !(r instanceof InputError),
    `expected an event, got ${r instanceof InputError ? r.message : JSON.stringify(r)}`,
  );
  return r;
}

/** The result must be an input error. */
export function inputError(r: LineResult | undefined): InputError {
  assert.ok(r instanceof InputError, `expected an InputError, got ${JSON.stringify(r)}`);
  return r;
}

/** `observer` for IN/OUT. */
export function io(inDev: string, outDev: string): NonNullable<NetfilterEvent['observer']> {
  return { ingress: { interface: { name: inDev } }, egress: { interface: { name: outDev } } };
}

/** The part of an event the nf_log payload and the prefix determine (no framing metadata). */
export function payload(
  ev: NetfilterEvent,
): Omit<NetfilterEvent, 'ruletrail' | 'event' | '@timestamp' | 'host'> {
  const rest: Omit<NetfilterEvent, 'ruletrail' | 'event' | '@timestamp' | 'host'> & Partial<NetfilterEvent> =
    {
      ...ev,
    };
  delete rest.ruletrail;
  delete rest.event;
  delete rest['@timestamp'];
  delete rest.host;
  return rest;
}

/** Framing-derived fields of one line; `null` = not a netfilter line (skipped). */
export interface Framed {
  ts?: string;
  host?: string;
  uptime?: number;
  /** `ruletrail.timestampHasYear: false` */
  noYear?: true;
  prefix: string;
}

/** What the framing and the prefix of a line gave: the part of an event that is not the payload. */
export function framed(r: LineResult): Framed | null {
  if (r === null) return null;
  const e = event(r);
  const f: Framed = { prefix: e.netfilter.prefix! };
  if (e['@timestamp'] !== undefined) f.ts = e['@timestamp'];
  if (e.host !== undefined) f.host = e.host.name;
  if (e.ruletrail.uptime !== undefined) f.uptime = e.ruletrail.uptime;
  if (e.ruletrail.timestampHasYear === false) f.noYear = true;
  return f;
}
