/**
 * The run-time's component contracts: sources hand *units* of raw input to the pipeline, the pipeline decodes
 * them with the same ingest adapters `ruletrail explain` uses, correlates and explains packets, and hands
 * *records* (explanations and alerts) to sinks. Each record's final status flows back to the units it came
 * from, so a source checkpoints a position only once everything derived from it reached every sink.
 */
import type { DecodeOptions, IngestAdapter, SinkRecord, SinkRecordKind } from '@ruletrail/core';
import type { Segment } from './acks';
import type { IngestChoice } from './adapters';
import type { Logger } from './log';
import type { ComponentMetrics } from './metrics';

/**
 * One piece of raw input. Text channels hand complete lines only (a unit never ends inside a line), so a
 * position after the unit is a safe resume point.
 */
export interface SourceUnit {
  /** Name of the input (file path, `syslog+udp://127.0.0.1:5514`, `kafka:topic/2`): origins and dead letters. */
  readonly origin: string;
  /** Complete lines, or (binary channels) the whole finite input as a chunk stream. */
  readonly data: Buffer | AsyncIterable<Buffer>;
  /** 1-based number of the first line of `data` in its input, so origins name the true line. Default 1. */
  readonly firstLine?: number;
  /** The adapter that decodes `data`. */
  readonly adapter: IngestAdapter;
  /** Host, year and time zone for framings that carry none. `file` is set from `origin`. */
  readonly decode?: Omit<DecodeOptions, 'file'>;
  /**
   * The acknowledgement handle for this unit: the pipeline retains it once per event it decodes and releases
   * it as each event's packet reaches a final status in every sink. Absent: nothing to acknowledge (stdin).
   */
  readonly segment?: Segment;
}

/** What the run-time gives a source. */
export interface SourceContext {
  readonly log: Logger;
  readonly metrics: ComponentMetrics;
  /** This source's slot in the checkpoint file; undefined when the config has no `dataDir`. */
  readonly checkpoint: CheckpointSlot | undefined;
  /**
   * The ingest adapter for an input of this source, its framing and decode options, from the source's
   * `format` / `formatOptions` / decode fields, or by sniffing `head` (files). Streams pass no head.
   * @throws UsageError when the format is unknown or nothing recognises the input.
   */
  ingest(head: Buffer | undefined, name: string): IngestChoice;
  /** Aborted on SIGTERM/SIGINT: stop reading, return from `run`. */
  readonly signal: AbortSignal;
  /** Hands one unit to the pipeline; resolves when the pipeline has room for more (backpressure). */
  emit(unit: SourceUnit): Promise<void>;
}

/** A persisted JSON value owned by one component (see checkpoints.ts). */
export interface CheckpointSlot {
  get(): unknown;
  /** Replaces the value; the store writes it atomically soon after (and at shutdown). */
  set(value: unknown): void;
}

/** Progress of a finite input, for the progress bar. */
export interface Progress {
  readonly done: number;
  readonly total: number;
}

/** A source of raw trace input. */
export interface Source {
  readonly id: string;
  /** Whether the input ends by itself (a file read once, stdin) — the run ends when every source is finite and done. */
  readonly finite: boolean;
  /** Runs until the input ends (finite sources) or `ctx.signal` aborts. Must not throw on bad records. */
  run(ctx: SourceContext): Promise<void>;
  /** Bytes done / total of a finite input, when known. */
  progress?(): Progress | undefined;
  /** Releases sockets, file handles and clients; called once after `run` returned. Commits what was acknowledged. */
  close(): Promise<void>;
}

/**
 * Final status of one record in one sink. `rejected` records also go to the dead-letter output.
 * `undelivered`: the sink gave up because the run is stopping (shutdown timeout) before the remote side
 * answered. The pipeline dead-letters it with the reason, does not checkpoint its input (a restart reads it
 * again when the source can replay) and the run exits non-zero: never a silent loss.
 */
export type FinalStatus = 'delivered' | 'rejected' | 'undelivered';

/**
 * A sink as the pipeline drives it: the sink runner of one configured sink (`RunnerSink`, which wraps the core
 * `Sink` its plugin built), or a test double. Records are the core `SinkRecord`, the one record type of every
 * sink.
 */
export interface RecordSink {
  readonly id: string;
  /** Record kinds this sink takes. */
  readonly kinds: ReadonlySet<SinkRecordKind>;
  /**
   * Queues one record. `done` is called at most once, after the remote side acknowledged it (`delivered`), after
   * it was refused for good (`rejected`, with the reason) or when the sink gave up at close (`undelivered`, with
   * the reason). Retries happen in the runner. A record whose `done` was never called when `close()` resolved
   * is dead-lettered by the pipeline as undelivered.
   */
  send(record: SinkRecord, done: (status: FinalStatus, reason?: string) => void): void;
  /** Reopens output files (SIGHUP, after an external rotation). Optional. */
  reopen?(): void;
  /** Resolves once everything queued reached a final status, or `timeoutMs` passed. */
  flush(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}
