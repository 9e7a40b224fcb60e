/**
 * The sink runner: everything about delivery that is not specific to one remote system.
 *
 *   push(record) ──► pending ──(maxEvents | maxBytes | maxWaitMs)──► ready batches ──► ≤ maxInFlight tasks
 *        ▲                                                                               │
 *        └── waits while bufferMaxEvents records are outstanding (backpressure)           ▼
 *                                                                              sink.write(batch, signal)
 *                                                                                        │ one outcome per record
 *                      delivered ◄───────────────────────────────────────────────────────┤
 *                      rejected ──► dead-letter (reason)                                  │
 *                      retriable ──► backoff (exponential, jitter) ──► write the retriable subset again
 *                                    … after maxAttempts ──► failed ──► dead-letter
 *
 * A task keeps its in-flight slot while it backs off, so a remote outage fills the slots, then the buffer, and
 * then `push()` waits: nothing is dropped and memory stays bounded. A record is counted `sent` only after the
 * sink reported it delivered, i.e. after the remote acknowledgement.
 *
 * Ordering: records of one batch keep their order in the sink call. With `maxInFlight > 1` two batches can
 * complete in either order, and a retried subset is written after the batches that overtook it; use
 * `maxInFlight: 1` when strict per-key order across batches matters.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { NOOP_LOGGER, type SinkLogger } from './log';
import { Redactor, SinkError, recordSize, type Sink, type SinkOutcome, type SinkRecord } from './sink';

export interface SinkBatchOptions {
  /** Records per `write()` call at most. */
  readonly maxEvents: number;
  /** Approximate bytes (body JSON + id + key) per `write()` call at most; a single larger record still goes alone. */
  readonly maxBytes: number;
  /** How long the first record of a partial batch waits for company before the batch is sent anyway. */
  readonly maxWaitMs: number;
}

export interface SinkRetryOptions {
  /** First backoff delay. */
  readonly initialMs: number;
  /** Backoff ceiling. */
  readonly maxMs: number;
  readonly multiplier: number;
  /** 0..1: the delay is scaled by a random factor in [1 - jitter, 1 + jitter] (then capped at maxMs). */
  readonly jitter: number;
  /** Attempts per record, the first one included. `Infinity` (the default) never gives up. */
  readonly maxAttempts: number;
}

/** One record the runner could not deliver, with the reason. */
export interface SinkDeadLetterEntry {
  readonly sink: string;
  readonly id: string;
  readonly key: string;
  readonly kind: SinkRecord['kind'];
  /** `rejected` by the remote side, or `failed` after the retries ran out / the runner was closed. */
  readonly outcome: 'rejected' | 'failed';
  readonly reason: string;
  readonly attempts: number;
  readonly time: string;
  readonly record: SinkRecord['body'];
}

/** Where undeliverable records go. `write` must not throw; a returned promise is awaited before the task ends. */
export interface SinkDeadLetter {
  write(entry: SinkDeadLetterEntry): void | Promise<void>;
  close?(): Promise<void>;
}

export interface SinkCounters {
  /** Records pushed. */
  received: number;
  /** Records the remote side acknowledged (duplicates included). */
  sent: number;
  /** Of `sent`: acknowledged as already present (e.g. ES 409 on `create` after a retry). */
  duplicates: number;
  /** Record re-attempts (a record retried three times counts three). */
  retried: number;
  /** Records the remote side refused for good; each went to the dead-letter output. */
  rejected: number;
  /** Records given up after `maxAttempts` or at close; each went to the dead-letter output. */
  failed: number;
  /** `write()` calls made. */
  writes: number;
}

export interface SinkRunnerOptions {
  readonly batch?: Partial<SinkBatchOptions>;
  /** Concurrent `write()` calls (tasks, including those backing off). */
  readonly maxInFlight?: number;
  /** Records accepted but not yet final before `push()` waits. */
  readonly bufferMaxEvents?: number;
  readonly retry?: Partial<SinkRetryOptions>;
  readonly deadLetter?: SinkDeadLetter;
  readonly logger?: SinkLogger;
  /** Secrets to strip from every log line and dead-letter reason. */
  readonly redactor?: Redactor;
  /** Called with the records of each write that the remote side acknowledged (for checkpointing). */
  readonly onDelivered?: (records: readonly SinkRecord[]) => void;
  /** Test seams. */
  readonly random?: () => number;
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export const DEFAULT_BATCH: SinkBatchOptions = Object.freeze({
  maxEvents: 2000,
  maxBytes: 5_000_000,
  maxWaitMs: 1000,
});
export const DEFAULT_RETRY: SinkRetryOptions = Object.freeze({
  initialMs: 200,
  maxMs: 30_000,
  multiplier: 2,
  jitter: 0.2,
  maxAttempts: Infinity,
});

/** Backoff before attempt `attempt + 1` (attempt ≥ 1). Exported for tests. */
export function backoffDelay(
  attempt: number,
  r: SinkRetryOptions,
  random: () => number = Math.random,
): number {
  const base = Math.min(r.maxMs, r.initialMs * Math.pow(r.multiplier, Math.max(0, attempt - 1)));
  const factor = 1 - r.jitter + 2 * r.jitter * random();
  return Math.max(0, Math.min(r.maxMs, Math.round(base * factor)));
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects): a wait a stop can cut short. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const onAbort = (): void => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

interface Waiter {
  resolve(): void;
}

export class SinkRunner {
  readonly counters: SinkCounters = {
    received: 0,
    sent: 0,
    duplicates: 0,
    retried: 0,
    rejected: 0,
    failed: 0,
    writes: 0,
  };

  private readonly _batch: SinkBatchOptions;
  private readonly _retry: SinkRetryOptions;
  private readonly _maxInFlight: number;
  private readonly _bufferMax: number;
  private readonly _log: SinkLogger;
  private readonly _redactor: Redactor;
  private readonly _random: () => number;
  private readonly _sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  private readonly _abort = new AbortController();

  private _pending: SinkRecord[] = [];
  private _pendingBytes = 0;
  private _ready: SinkRecord[][] = [];
  private _timer: NodeJS.Timeout | undefined;
  private _inFlight = 0;
  private _outstanding = 0;
  private _closing = false;
  private _spaceWaiters: Waiter[] = [];
  private _idleWaiters: Waiter[] = [];

  constructor(
    private readonly _sink: Sink,
    private readonly _options: SinkRunnerOptions = {},
  ) {
    this._batch = { ...DEFAULT_BATCH, ..._options.batch };
    this._retry = { ...DEFAULT_RETRY, ..._options.retry };
    this._maxInFlight = Math.max(1, _options.maxInFlight ?? 4);
    this._bufferMax = Math.max(
      this._batch.maxEvents,
      _options.bufferMaxEvents ?? this._batch.maxEvents * (this._maxInFlight + 2),
    );
    this._redactor = _options.redactor ?? new Redactor();
    this._log = this._redactor.logger(_options.logger ?? NOOP_LOGGER);
    this._random = _options.random ?? Math.random;
    this._sleep = _options.sleep ?? abortableSleep;
  }

  /** Records accepted but not yet delivered, rejected or failed. */
  get outstanding(): number {
    return this._outstanding;
  }

  get inFlight(): number {
    return this._inFlight;
  }

  /** Connects the sink, retrying with backoff until it works or the runner is closed. */
  async start(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this._sink.connect(this._abort.signal);
        this._log.info('Sink connected.', { sink: this._sink.name, attempt });
        return;
      } catch (err) {
        const retriable = !(err instanceof SinkError && !err.retriable);
        if (!retriable || this._abort.signal.aborted || attempt >= this._retry.maxAttempts) {
          // A sink's own configuration error (e.g. a missing topic / index) keeps its code and words.
          const own = err instanceof SinkError && !err.retriable && err.code !== 'RT_ERR_SINK_CONNECT';
          throw new SinkError(
            own ? err.code : 'RT_ERR_SINK_CONNECT',
            `${this._sink.name}: ${own ? 'cannot start' : 'cannot connect'}: ${this._redactor.error(err)}`,
            { retriable },
          );
        }
        const delay = backoffDelay(attempt, this._retry, this._random);
        this._log.warn('Sink connect failed; retrying.', {
          sink: this._sink.name,
          attempt,
          delayMs: delay,
          error: this._redactor.error(err),
        });
        await this._sleep(delay, this._abort.signal);
      }
    }
  }

  /** Accepts one record; resolves once it is buffered (waits while the buffer is full). */
  async push(record: SinkRecord): Promise<void> {
    if (this._closing)
      throw new SinkError('RT_ERR_SINK_CLOSED', `${this._sink.name}: push after close`, { retriable: false });
    while (this._outstanding >= this._bufferMax)
      await new Promise<void>((resolve) => this._spaceWaiters.push({ resolve }));
    this.counters.received++;
    this._outstanding++;
    this._pending.push(record);
    this._pendingBytes += recordSize(record);
    if (this._pending.length >= this._batch.maxEvents || this._pendingBytes >= this._batch.maxBytes)
      this._cut(false);
    else if (this._timer === undefined)
      this._timer = setTimeout(() => this._onTimer(), this._batch.maxWaitMs);
  }

  /** Pushes many records in order. */
  async pushAll(records: Iterable<SinkRecord>): Promise<void> {
    for (const r of records) await this.push(r);
  }

  /** Sends what is pending now and resolves when every record pushed so far reached a final status. */
  async flush(): Promise<void> {
    this._cut(true);
    if (this._outstanding === 0) return;
    await new Promise<void>((resolve) => this._idleWaiters.push({ resolve }));
  }

  /**
   * Flushes, then closes the sink. After `timeoutMs` the runner stops retrying: records still outstanding are
   * counted `failed` and go to the dead-letter output with reason "runner closed".
   */
  async close(opts: { timeoutMs?: number } = {}): Promise<SinkCounters> {
    this._closing = true;
    const timeoutMs = opts.timeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.flush().then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this._log.error('Sink close timed out; giving up on outstanding records.', {
        sink: this._sink.name,
        outstanding: this._outstanding,
      });
      this._abort.abort();
      // Retry loops end at their next step; a write the sink does not abort is waited for a little longer.
      await Promise.race([this.flush(), new Promise((r) => setTimeout(r, 5000))]);
    }
    try {
      await this._sink.close();
    } catch (err) {
      this._log.warn('Sink close failed.', { sink: this._sink.name, error: this._redactor.error(err) });
    }
    this._log.info('Sink closed.', { sink: this._sink.name, ...this.counters });
    return { ...this.counters };
  }

  // --------------------------------------------------------------------------------------------------- internals

  private _onTimer(): void {
    this._timer = undefined;
    this._cut(true);
  }

  /** Moves pending records into ready batches: full batches only, or everything when `all`. */
  private _cut(all: boolean): void {
    if (this._timer !== undefined) {
      clearTimeout(this._timer);
      this._timer = undefined;
    }
    while (this._pending.length > 0) {
      let n = 0;
      let bytes = 0;
      while (n < this._pending.length && n < this._batch.maxEvents) {
        const size = recordSize(this._pending[n]!);
        if (n > 0 && bytes + size > this._batch.maxBytes) break;
        bytes += size;
        n++;
      }
      const full = n === this._batch.maxEvents || n < this._pending.length || bytes >= this._batch.maxBytes;
      if (!full && !all) break;
      this._ready.push(this._pending.splice(0, n));
      this._pendingBytes -= bytes;
    }
    if (this._pending.length > 0 && this._timer === undefined)
      this._timer = setTimeout(() => this._onTimer(), this._batch.maxWaitMs);
    if (this._pending.length === 0) this._pendingBytes = 0;
    this._pump();
  }

  private _pump(): void {
    while (this._inFlight < this._maxInFlight && this._ready.length > 0) {
      const batch = this._ready.shift()!;
      this._inFlight++;
      void this._task(batch)
        .catch((err: unknown) =>
          this._log.error('Sink task failed unexpectedly.', {
            sink: this._sink.name,
            error: this._redactor.error(err),
          }),
        )
        .finally(() => {
          this._inFlight--;
          this._pump();
        });
    }
  }

  private async _task(batch: SinkRecord[]): Promise<void> {
    let todo = batch;
    for (let attempt = 1; todo.length > 0; attempt++) {
      const outcomes = await this._write(todo);
      const retry: SinkRecord[] = [];
      const delivered: SinkRecord[] = [];
      let lastReason = '';
      for (let i = 0; i < todo.length; i++) {
        const rec = todo[i]!;
        const o = outcomes[i]!;
        if (o.status === 'delivered') {
          delivered.push(rec);
          this.counters.sent++;
          if (o.duplicate) this.counters.duplicates++;
        } else if (o.status === 'rejected') {
          this.counters.rejected++;
          await this._deadLetter(rec, 'rejected', o.reason, attempt);
        } else {
          retry.push(rec);
          lastReason = o.reason;
        }
      }
      if (delivered.length > 0) {
        this._settle(delivered.length);
        try {
          this._options.onDelivered?.(delivered);
        } catch (err) {
          // A failing checkpoint callback must not stall delivery (the records are delivered either way).
          this._log.error('onDelivered callback failed.', {
            sink: this._sink.name,
            error: this._redactor.error(err),
          });
        }
      }
      if (retry.length === 0) break;
      if (attempt < this._retry.maxAttempts && !this._abort.signal.aborted) {
        const delay = backoffDelay(attempt, this._retry, this._random);
        this._log.warn('Retriable failure; backing off.', {
          sink: this._sink.name,
          records: retry.length,
          attempt,
          delayMs: delay,
          reason: lastReason,
        });
        await this._sleep(delay, this._abort.signal);
        // Closed while backing off: give up with the remote side's own last error, not the abort's.
        if (!this._abort.signal.aborted) {
          this.counters.retried += retry.length;
          todo = retry;
          continue;
        }
      }
      const why = this._abort.signal.aborted
        ? `runner closed before delivery (last error: ${lastReason})`
        : `gave up after ${attempt} attempts: ${lastReason}`;
      this._log.error('Records not delivered.', {
        sink: this._sink.name,
        records: retry.length,
        reason: why,
      });
      for (const rec of retry) {
        this.counters.failed++;
        await this._deadLetter(rec, 'failed', why, attempt);
      }
      break;
    }
  }

  /** Calls the sink; a throw becomes one outcome per record. Outcomes are checked, reasons redacted. */
  private async _write(records: SinkRecord[]): Promise<SinkOutcome[]> {
    this.counters.writes++;
    try {
      const out = await this._sink.write(records, this._abort.signal);
      if (out.length !== records.length) {
        throw new SinkError(
          'RT_ERR_SINK_CONTRACT',
          `${this._sink.name} returned ${out.length} outcomes for ${records.length} records`,
          { retriable: true },
        );
      }
      return out.map((o) =>
        o.status === 'delivered' ? o : { status: o.status, reason: this._redactor.text(o.reason) },
      );
    } catch (err) {
      const reason = this._redactor.error(err);
      const outcome: SinkOutcome =
        err instanceof SinkError && !err.retriable
          ? { status: 'rejected', reason }
          : { status: 'retriable', reason };
      return records.map(() => outcome);
    }
  }

  private async _deadLetter(
    rec: SinkRecord,
    outcome: 'rejected' | 'failed',
    reason: string,
    attempts: number,
  ): Promise<void> {
    const dl = this._options.deadLetter;
    if (dl !== undefined) {
      try {
        await dl.write({
          sink: this._sink.name,
          id: rec.id,
          key: rec.key,
          kind: rec.kind,
          outcome,
          reason: this._redactor.text(reason),
          attempts,
          time: new Date().toISOString(),
          record: rec.body,
        });
      } catch (err) {
        this._log.error('Dead-letter write failed.', {
          sink: this._sink.name,
          id: rec.id,
          error: this._redactor.error(err),
        });
      }
    } else {
      this._log.error('Record not delivered and no dead-letter output is configured.', {
        sink: this._sink.name,
        id: rec.id,
        outcome,
        reason,
      });
    }
    this._settle(1);
  }

  private _settle(n: number): void {
    this._outstanding -= n;
    while (this._spaceWaiters.length > 0 && this._outstanding < this._bufferMax)
      this._spaceWaiters.shift()!.resolve();
    if (this._outstanding === 0 && this._pending.length === 0) {
      const waiters = this._idleWaiters;
      this._idleWaiters = [];
      for (const w of waiters) w.resolve();
    }
  }
}

/** Dead-letter output that appends one JSON line per undeliverable record to a file. */
export class NdjsonSinkDeadLetterFile implements SinkDeadLetter {
  private readonly _out: WriteStream;
  count = 0;
  constructor(path: string) {
    this._out = createWriteStream(path, { flags: 'a', mode: 0o600 });
  }
  write(entry: SinkDeadLetterEntry): void {
    this.count++;
    this._out.write(JSON.stringify(entry) + '\n');
  }
  close(): Promise<void> {
    return new Promise((resolve, reject) =>
      this._out.end((err?: Error | null) => (err ? reject(err) : resolve())),
    );
  }
}

/** Dead-letter output that keeps entries in memory (tests, small runs). */
export class MemorySinkDeadLetter implements SinkDeadLetter {
  readonly entries: SinkDeadLetterEntry[] = [];
  write(entry: SinkDeadLetterEntry): void {
    this.entries.push(entry);
  }
}
