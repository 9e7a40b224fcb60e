/**
 * The Kafka source: raw trace lines from a topic, consumed as one consumer group so several `ruletrail run`
 * instances share the partitions (the scale-out model: hosts are the message keys, so each host's lines — and,
 * with a co-partitioned snapshot topic, its snapshots — live on one instance).
 *
 * Offsets are committed by hand, only up to the first message not yet acknowledged: a message is acknowledged
 * when every packet that has a line in it reached a final status in every sink (see pipeline acks.ts). A
 * crash or a rebalance re-delivers what was not committed: at-least-once, no loss. Messages hold one line or
 * several (newline separated); origins are `kafka:<topic>/<partition>` with line = offset + 1 when each message
 * holds one line.
 */
import {
  createKafkaClient,
  kafkaConnectError,
  type KafkaBatchControl,
  type KafkaConsumedBatch,
  type KafkaGroupConsumer,
} from '@ruletrail/kafka-client';
import { Redactor, collectSecrets } from '@ruletrail/core';
import {
  OffsetTracker,
  type IngestChoice,
  type KafkaSourceConfig,
  type Source,
  type SourceContext,
} from '@ruletrail/pipeline';

/** Messages handed on as one unit at most (one decode call). */
const UNIT_MESSAGES = 500;
const UNIT_BYTES = 1 << 20;
/** Commits are coalesced per partition to at most one per this interval. */
const COMMIT_INTERVAL_MS = 1000;

interface PartitionState {
  readonly tracker: OffsetTracker;
  committed: number;
  toCommit: number | undefined;
}

/** `type: kafka`. */
export class KafkaSource implements Source {
  readonly id: string;
  readonly finite = false;
  private _consumer: KafkaGroupConsumer | undefined;
  private readonly _parts = new Map<number, PartitionState>();
  private _commitTimer: NodeJS.Timeout | undefined;
  private _ctx: SourceContext | undefined;

  constructor(private readonly _config: KafkaSourceConfig) {
    this.id = _config.id;
  }

  async run(ctx: SourceContext): Promise<void> {
    this._ctx = ctx;
    const c = this._config;
    const { adapter, decode } = ctx.ingest(undefined, this.id);
    const redactor = new Redactor(collectSecrets(c));
    const log = redactor.logger(ctx.log);
    const client = await createKafkaClient(c, log);
    const consumer = client.groupConsumer({ groupId: c.groupId });
    this._consumer = consumer;
    let fatal!: (err: unknown) => void;
    const stopped = new Promise<void>((resolve, reject) => {
      if (ctx.signal.aborted) resolve();
      else ctx.signal.addEventListener('abort', () => resolve(), { once: true });
      fatal = reject;
    });
    try {
      await consumer.start({
        topic: c.topic,
        fromBeginning: c.fromBeginning,
        // A new generation: positions of partitions we may no longer own are stale; start fresh from the broker's.
        onJoin: ({ assignment }) => {
          this._parts.clear();
          log.info('Joined the consumer group.', { groupId: c.groupId, assignment });
        },
        // A failure the client will not recover from must stop the run (exit 1) rather than leave a pipeline
        // that silently consumes nothing.
        onFatal: (err) => fatal(err),
        onBatch: (batch, control) => this._batch(batch, control, ctx, adapter, decode),
      });
    } catch (err) {
      await consumer.close().catch(() => undefined);
      this._consumer = undefined;
      throw kafkaConnectError(client, c.brokers, err, (e) => redactor.error(e));
    }
    this._commitTimer = setInterval(() => void this._commit(), COMMIT_INTERVAL_MS);
    ctx.log.info('Consuming.', { topic: c.topic, groupId: c.groupId, client: client.name });
    await stopped;
    // Stop fetching; what was handed on is acknowledged (or not) by the pipeline's shutdown, then committed in close().
    await consumer.stop();
  }

  async close(): Promise<void> {
    if (this._commitTimer) clearInterval(this._commitTimer);
    await this._commit();
    await this._consumer?.close();
    this._consumer = undefined;
  }

  private _part(partition: number, firstOffset: number): PartitionState {
    let p = this._parts.get(partition);
    if (!p) {
      const state: PartitionState = {
        tracker: new OffsetTracker(firstOffset, (pos) => {
          state.toCommit = pos;
        }),
        committed: firstOffset,
        toCommit: undefined,
      };
      p = state;
      this._parts.set(partition, p);
    }
    return p;
  }

  /** Hands a partition's messages on in units; returns the offset of the last one handed on. */
  private async _batch(
    batch: KafkaConsumedBatch,
    control: KafkaBatchControl,
    ctx: SourceContext,
    adapter: IngestChoice['adapter'],
    decode: IngestChoice['decode'],
  ): Promise<number | undefined> {
    if (batch.messages.length === 0) return undefined;
    const part = this._part(batch.partition, batch.messages[0]!.offset);
    const origin = `kafka:${batch.topic}/${batch.partition}`;
    // Waiting for room (backpressure) can take longer than the session timeout: keep the membership alive.
    const hb = setInterval(() => void control.heartbeat().catch(() => undefined), 3000);
    let handed = batch.messages[0]!.offset - 1;
    try {
      let parts: Buffer[] = [];
      let bytes = 0;
      let first = -1;
      let last = -1;
      const flush = async (): Promise<void> => {
        if (!parts.length) return;
        const data = Buffer.concat(parts);
        const n = parts.length / 2;
        parts = [];
        bytes = 0;
        ctx.metrics.received(n);
        await ctx.emit({
          origin,
          data,
          firstLine: first + 1,
          adapter,
          decode,
          segment: part.tracker.open(last + 1),
        });
        ctx.metrics.sent(n);
        handed = last;
      };
      for (const m of batch.messages) {
        if (!control.active() || ctx.signal.aborted) break;
        const off = m.offset;
        if (first < 0 || !parts.length) first = off;
        last = off;
        const v = m.value ?? EMPTY;
        parts.push(v, v.length && v[v.length - 1] === 0x0a ? EMPTY : NEWLINE);
        bytes += v.length + 1;
        if (parts.length / 2 >= UNIT_MESSAGES || bytes >= UNIT_BYTES) await flush();
      }
      await flush();
    } finally {
      clearInterval(hb);
    }
    return handed;
  }

  /** Commits acknowledged positions that moved. A failed commit (rebalance) only means a redelivery. */
  private async _commit(): Promise<void> {
    const consumer = this._consumer;
    if (!consumer) return;
    const offsets: { topic: string; partition: number; offset: number }[] = [];
    for (const [partition, p] of this._parts) {
      if (p.toCommit === undefined || p.toCommit <= p.committed) continue;
      offsets.push({ topic: this._config.topic, partition, offset: p.toCommit });
      p.committed = p.toCommit;
    }
    if (!offsets.length) return;
    try {
      await consumer.commit(offsets);
    } catch (err) {
      // Try these positions again at the next commit (or in close()).
      for (const o of offsets) {
        const p = this._parts.get(o.partition);
        if (p && p.committed === o.offset) p.committed = o.offset - 1;
      }
      this._ctx?.log.warn('Offset commit failed; the messages will be delivered again.', { error: err });
    }
  }
}

const NEWLINE = Buffer.from('\n');
const EMPTY = Buffer.alloc(0);
