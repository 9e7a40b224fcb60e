/**
 * Drives a `@ruletrail/core` `Sink` (file/stdout, Kafka, Elasticsearch, Fluentd: every sink) through the core `SinkRunner` — which owns
 * batching, bounded concurrency, retries with backoff — and turns its callbacks back into one final status per
 * record for the pipeline's acknowledgements:
 *  - acknowledged by the remote side (`onDelivered`) → `delivered`;
 *  - refused for good (`rejected`, or `failed` after `retry.maxAttempts`) → `rejected` (it is in the sink's
 *    dead-letter output with the reason);
 *  - given up because the runner was closed before the remote side answered → `undelivered` with the reason:
 *    the pipeline dead-letters it, does not checkpoint its input (read again after a restart when the source can
 *    replay) and the run exits non-zero (issue #15: a `mode: read` run used to lose such records with exit 0).
 */
import {
  SinkRunner,
  type Sink,
  type SinkDeadLetter,
  type SinkDeadLetterEntry,
  type SinkRecord,
  type SinkRecordKind,
  type SinkRunnerOptions,
} from '@ruletrail/core';
import type { RecordKindName } from './config-types';
import type { FinalStatus, RecordSink } from './types';

const KIND_OF: Readonly<Record<RecordKindName, SinkRecordKind>> = { explanation: 'packet', alert: 'alert' };

/** A config record name (`records: [explanation, alert]`) → the record kind sinks see. */
export function sinkRecordKind(name: RecordKindName): SinkRecordKind {
  return KIND_OF[name];
}

type Done = (status: FinalStatus, reason?: string) => void;

/** A core sink behind the pipeline's `RecordSink`. */
export class RunnerSink implements RecordSink {
  readonly kinds: ReadonlySet<SinkRecordKind>;
  private readonly _runner: SinkRunner;
  private readonly _dones = new Map<string, Done[]>();
  private _closing = false;
  /** Resolved when the sink's output is gone for good (see `outputGone`). */
  private readonly _gone: Promise<void>;
  private _markGone: () => void = () => undefined;

  constructor(
    readonly id: string,
    kinds: readonly RecordKindName[],
    private readonly _sink: Sink,
    options: Omit<SinkRunnerOptions, 'onDelivered' | 'deadLetter'> = {},
    /** The sink's own dead-letter output (every rejected/failed record, with the reason). */
    private readonly _deadLetter?: SinkDeadLetter,
  ) {
    this.kinds = new Set(kinds.map(sinkRecordKind));
    this._gone = new Promise((resolve) => (this._markGone = resolve));
    this._runner = new SinkRunner(_sink, {
      ...options,
      onDelivered: (records) => {
        for (const r of records) this._settle(r.id, 'delivered');
      },
      deadLetter: {
        write: (e: SinkDeadLetterEntry) => {
          // Given up at close: `undelivered` (dead-lettered, input not checkpointed, so replayed after a restart).
          if (this._closing && e.outcome === 'failed') this._settle(e.id, 'undelivered', e.reason);
          else this._settle(e.id, 'rejected', `${e.outcome}: ${e.reason}`);
          return this._deadLetter?.write(e);
        },
      },
    });
  }

  /** Connects (the runner retries with backoff until it works, or throws for a non-retriable error). */
  start(): Promise<void> {
    return this._runner.start();
  }

  send(rec: SinkRecord, done: Done): void {
    const list = this._dones.get(rec.id);
    if (list) list.push(done);
    else this._dones.set(rec.id, [done]);
    // The pipeline bounds what is in flight; the runner's own buffer bound only delays the push.
    this._runner.push(rec).catch((err: Error) => this._settle(rec.id, 'rejected', err.message));
  }

  reopen(): void {
    this._sink.reopen?.();
  }

  /**
   * The sink's output is gone for good (its plugin asked the run to stop, e.g. stdout closed): waiting for what
   * is outstanding cannot succeed, so `flush` stops waiting, and `close` leaves those records without a status
   * (their input is read again after a restart).
   */
  outputGone(): void {
    this._markGone();
  }

  async flush(timeoutMs: number): Promise<void> {
    let t: NodeJS.Timeout | undefined;
    await Promise.race([
      this._runner.flush(),
      this._gone,
      new Promise<void>((r) => (t = setTimeout(r, timeoutMs))),
    ]);
    clearTimeout(t);
  }

  async close(): Promise<void> {
    this._closing = true;
    await this._runner.close({ timeoutMs: 1000 });
    await this._deadLetter?.close?.();
  }

  private _settle(id: string, status: FinalStatus, reason?: string): void {
    const list = this._dones.get(id);
    const d = list?.shift();
    if (!d) return;
    if (list!.length === 0) this._dones.delete(id);
    d(status, reason);
  }
}
