/**
 * The shared conformance checks every plugin's tests run (docs/plugin-contract.md): plain async functions that
 * throw an `AssertionError` naming the broken rule, so any test framework can call them.
 *
 * Ingest adapters: every event validates against the event schema; a bad record becomes an `InputError` with a
 * position (line or byte offset) and a code, and the good records around it still decode. Sinks, driven by the
 * core sink runner: every record is acknowledged exactly once, never before the remote side has it (the
 * caller's `received` reads the remote side back inside the acknowledgement), a refused record reaches the
 * dead-letter output, and `close` can be called twice.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { validateEvent } from '@ruletrail/event';
import { InputError } from './errors';
import type { Sink, SinkRecord } from './sink';
import { MemorySinkDeadLetter, SinkRunner } from './sink-runner';
import type { IngestAdapter } from './types';

/** Decodes `input` whole; returns the events and errors. */
async function decodeAll(adapter: IngestAdapter, input: Buffer, file: string) {
  const events = [];
  const errors: InputError[] = [];
  for await (const b of adapter.decode(Readable.from([input]), { file })) {
    events.push(...b.events);
    errors.push(...b.errors);
  }
  return { events, errors };
}

/**
 * Checks an ingest adapter on real input: `good` decodes to valid events without errors and is recognised by
 * `sniff`; `mixed` (good records around at least one bad one) yields `InputError`s with a position and a code
 * and still the events of its good records.
 */
export async function checkIngestAdapter(
  adapter: IngestAdapter,
  input: { readonly good: Buffer; readonly mixed: Buffer; readonly file?: string },
): Promise<void> {
  const file = input.file ?? `conformance.${adapter.channel}`;
  assert.ok(
    adapter.sniff(input.good.subarray(0, 4096), file),
    `${adapter.channel}: sniff refuses its own input`,
  );
  const good = await decodeAll(adapter, input.good, file);
  assert.ok(good.events.length > 0, `${adapter.channel}: no events from good input`);
  assert.deepEqual(
    good.errors.map((e) => e.message),
    [],
    `${adapter.channel}: errors on good input`,
  );
  for (const e of good.events) {
    const v = validateEvent(e);
    assert.ok(v.ok, `${adapter.channel}: invalid event: ${v.ok ? '' : v.errors.join('; ')}`);
  }
  const mixed = await decodeAll(adapter, input.mixed, file);
  assert.ok(mixed.errors.length > 0, `${adapter.channel}: a bad record gave no InputError`);
  for (const e of mixed.errors) {
    assert.ok(e instanceof InputError, `${adapter.channel}: not an InputError: ${String(e)}`);
    assert.match(e.code, /^RT_ERR_[A-Z0-9_]+$/, `${adapter.channel}: error code ${e.code}`);
    assert.equal(e.position.file, file);
    assert.ok(
      e.position.line !== undefined || e.position.offset !== undefined,
      `${adapter.channel}: error without a line or offset: ${e.message}`,
    );
  }
  assert.ok(mixed.events.length > 0, `${adapter.channel}: the good records next to a bad one were lost`);
}

/**
 * Checks a sink through the core runner: `records` are all delivered, each acknowledged once and only once the
 * remote side has it (`received(ids)` returns the ids the remote side holds, read back when the runner reports
 * `ids` acknowledged; a remote store that is only eventually readable, such as a topic read by a consumer, may
 * wait there, bounded, for those ids); `rejected` (optional) is refused into the dead-letter output while its
 * neighbours are delivered; `close` is idempotent.
 */
export async function checkSink(
  make: () => Sink,
  records: readonly SinkRecord[],
  received: (ids: readonly string[]) => Promise<ReadonlySet<string>> | ReadonlySet<string>,
  rejected?: SinkRecord,
): Promise<void> {
  const sink = make();
  const deadLetter = new MemorySinkDeadLetter();
  const acked: string[] = [];
  const early: string[] = [];
  const checks: Promise<void>[] = [];
  const runner = new SinkRunner(sink, {
    deadLetter,
    batch: { maxWaitMs: 5 },
    retry: { maxAttempts: 3, initialMs: 10, maxMs: 10 },
    onDelivered: (rs) => {
      const ids = rs.map((r) => r.id);
      acked.push(...ids);
      checks.push(
        Promise.resolve(received(ids)).then((have) => {
          for (const id of ids) if (!have.has(id)) early.push(id);
        }),
      );
    },
  });
  await runner.start();
  const all = rejected ? [...records.slice(0, 1), rejected, ...records.slice(1)] : records;
  for (const r of all) await runner.push(r);
  await runner.flush();
  await Promise.all(checks);
  assert.deepEqual(early, [], `${sink.name}: acknowledged before the remote side had it`);
  assert.deepEqual(
    [...acked].sort(),
    records.map((r) => r.id).sort(),
    `${sink.name}: not every record acknowledged exactly once`,
  );
  if (rejected)
    assert.deepEqual(
      deadLetter.entries.map((e) => e.id),
      [rejected.id],
      `${sink.name}: the refused record did not reach the dead-letter output`,
    );
  await runner.close({ timeoutMs: 1000 });
  await sink.close(); // a second close must not throw
}
