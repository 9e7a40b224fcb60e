/**
 * The shared conformance check every source's tests run (next to core's `checkIngestAdapter` and `checkSink`;
 * it lives here because the source contract, `Source`, is the run-time's). A plain async function that throws
 * an `AssertionError` naming the broken rule.
 *
 * The source runs against a context that decodes each unit with the adapter the source chose, numbering lines
 * from the unit's `firstLine` exactly as the pipeline does, and acknowledges every unit at once. Checked: every
 * good record of the input arrives as an event, each bad line becomes an `InputError` with the source's origin
 * and its true line number (so a dead letter names where it was read), the good lines next to it still arrive,
 * a unit never ends inside a line, and `close` can be called twice.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { InputError, type IngestPlugin } from '@ruletrail/core';
import type { NetfilterEvent } from '@ruletrail/event';
import { IngestResolver } from './adapters';
import type { DecodeFields } from './config-types';
import { SILENT } from './log';
import { NO_METRICS } from './metrics';
import type { Source, SourceContext } from './types';

/** What the check feeds and expects. */
export interface SourceCheck {
  /** The ingest plugins the run-time knows, and the source's decode fields (`format`, `year`, …). */
  readonly ingest: readonly IngestPlugin<never>[];
  readonly fields: DecodeFields;
  /** Events the good records decode to. */
  readonly events: number;
  /** 1-based line numbers of the bad lines in the input as the source reads it. */
  readonly badLines: readonly number[];
  /**
   * Sends the input to a listening / consuming source once it runs (syslog, Kafka); absent for sources that
   * read their input themselves (files, a stream).
   */
  readonly feed?: () => Promise<void>;
  /** How long to wait for everything to arrive before failing. Default 30 s. */
  readonly timeoutMs?: number;
}

export async function checkSource(make: () => Source, check: SourceCheck): Promise<void> {
  const source = make();
  const resolver = new IngestResolver(check.ingest, check.fields);
  const events: NetfilterEvent[] = [];
  const errors: { origin: string; error: InputError }[] = [];
  const abort = new AbortController();
  let arrived!: () => void;
  const allIn = new Promise<void>((r) => (arrived = r));
  const ctx: SourceContext = {
    log: SILENT,
    metrics: NO_METRICS,
    checkpoint: undefined,
    ingest: (head, name) => resolver.choose(head, name),
    signal: abort.signal,
    emit: async (unit) => {
      assert.ok(unit.origin.length > 0, `${source.id}: a unit without an origin`);
      if (Buffer.isBuffer(unit.data) && resolver.choose(undefined, unit.origin).framing === 'lines')
        assert.ok(
          unit.data.length === 0 || unit.data[unit.data.length - 1] === 0x0a || unit.data.indexOf(0x0a) < 0,
          `${source.id}: a unit ends inside a line`,
        );
      const base = (unit.firstLine ?? 1) - 1;
      const chunks = Buffer.isBuffer(unit.data) ? Readable.from([unit.data]) : unit.data;
      for await (const b of unit.adapter.decode(chunks, { ...unit.decode, file: unit.origin })) {
        events.push(...b.events);
        for (const e of b.errors)
          errors.push({
            origin: unit.origin,
            error:
              e.position.line !== undefined
                ? new InputError(e.code, { ...e.position, line: e.position.line + base }, e.reason, e.record)
                : e,
          });
      }
      unit.segment?.seal();
      if (events.length >= check.events && errors.length >= check.badLines.length) arrived();
    },
  };
  const running = source.run(ctx);
  await check.feed?.();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<void>((r) => (timer = setTimeout(r, check.timeoutMs ?? 30_000)));
  // A finite source ends by itself; a streaming one is stopped once everything arrived (or the time is up).
  await Promise.race([source.finite ? running : allIn, timedOut]);
  clearTimeout(timer);
  abort.abort();
  await running;
  assert.equal(events.length, check.events, `${source.id}: ${events.length} events of ${check.events}`);
  assert.deepEqual(
    errors.map((e) => e.error.position.line),
    [...check.badLines],
    `${source.id}: bad lines reported at the wrong lines: ${errors.map((e) => e.error.message).join('; ')}`,
  );
  for (const { origin, error } of errors) {
    assert.match(error.code, /^RT_ERR_[A-Z0-9_]+$/, `${source.id}: error code ${error.code}`);
    assert.equal(error.position.file, origin, `${source.id}: an error names another input than its unit`);
  }
  await source.close();
  await source.close(); // a second close must not throw
}
