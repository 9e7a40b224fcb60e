/**
 * Snapshots over Kafka: `ruletrail snapshot ship --to kafka:…` produces envelopes keyed by host; every
 * `ruletrail run` instance reads the snapshot topic from the beginning (a throw-away consumer group, nothing
 * committed) into its bounded per-host store, and keeps following it. Use a compacted or size-bounded topic:
 * what an instance reads at start is what it can join with.
 */
import { randomUUID } from 'node:crypto';
import { InputError, type DeadLetterOutput } from '@ruletrail/core';
import {
  createKafkaClient,
  kafkaConnectError,
  type KafkaGroupConsumer,
  type KafkaProducer,
} from '@ruletrail/kafka-client';
import {
  SNAPSHOT_INVALID,
  parseEnvelope,
  type KafkaClientConfig,
  type Logger,
  type SnapshotEnvelope,
  type SnapshotFeed,
  type SnapshotStore,
} from '@ruletrail/pipeline';

/** How long `start` waits to catch up with the topic before the pipeline starts anyway. */
const CATCH_UP_MS = 60_000;

/** Follows a snapshot topic into the store. */
export class KafkaSnapshotFeed implements SnapshotFeed {
  private _consumer: KafkaGroupConsumer | undefined;

  constructor(
    private readonly _config: KafkaClientConfig & { readonly topic: string },
    private readonly _store: SnapshotStore,
    private readonly _log: Logger,
    private readonly _deadLetter: DeadLetterOutput,
  ) {}

  async start(): Promise<void> {
    const c = this._config;
    const client = await createKafkaClient(c, this._log);
    const ends = new Map<number, number>();
    const consumer = client.groupConsumer({ groupId: `${c.clientId}-snapshots-${randomUUID()}` });
    let caughtUp!: () => void;
    const done = new Promise<void>((r) => (caughtUp = r));
    const check = (): void => {
      if (ends.size === 0) caughtUp();
    };
    try {
      const admin = client.admin();
      try {
        for (const o of await admin.topicOffsets(c.topic)) if (o.high > o.low) ends.set(o.partition, o.high);
      } finally {
        await admin.close().catch(() => undefined);
      }
      this._consumer = consumer;
      await consumer.start({
        topic: c.topic,
        fromBeginning: true,
        onFatal: (err) => this._log.error('Snapshot topic consumer failed.', { topic: c.topic, error: err }),
        onBatch: ({ partition, messages }) => {
          for (const message of messages) {
            const where = `kafka:${c.topic}/${partition}@${message.offset}`;
            try {
              const env: SnapshotEnvelope = parseEnvelope(message.value?.toString('utf8') ?? '');
              const r = this._store.add(env);
              this._log.debug('Snapshot received.', {
                host: env.host,
                family: env.family,
                takenAt: env.takenAt,
                result: r,
              });
            } catch (err) {
              this._deadLetter.write(
                new InputError(SNAPSHOT_INVALID, { file: where }, (err as Error).message),
              );
            }
            const end = ends.get(partition);
            if (end !== undefined && message.offset + 1 >= end) {
              ends.delete(partition);
              check();
            }
          }
          return Promise.resolve(undefined);
        },
      });
    } catch (err) {
      await consumer.close().catch(() => undefined);
      this._consumer = undefined;
      throw kafkaConnectError(client, c.brokers, err, (e) => (e instanceof Error ? e.message : String(e)));
    }
    check();
    let t: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      done.then(() => false),
      new Promise<boolean>((r) => (t = setTimeout(() => r(true), CATCH_UP_MS))),
    ]);
    clearTimeout(t);
    if (timedOut) this._log.warn('Snapshot topic not fully read yet; starting anyway.', { topic: c.topic });
  }

  async stop(): Promise<void> {
    await this._consumer?.close();
    this._consumer = undefined;
  }
}

/** Produces envelopes to a snapshot topic, keyed by host, acknowledged by all in-sync replicas. */
export class KafkaSnapshotPublisher {
  private _producer: KafkaProducer | undefined;

  constructor(
    private readonly _config: KafkaClientConfig & { readonly topic: string },
    private readonly _log: Logger,
  ) {}

  async connect(): Promise<void> {
    const client = await createKafkaClient(this._config, this._log);
    const p = client.producer({ idempotent: true, compression: 'none', ackTimeoutMs: 30_000 });
    try {
      await p.connect();
    } catch (err) {
      await p.close().catch(() => undefined);
      throw kafkaConnectError(client, this._config.brokers, err, (e) =>
        e instanceof Error ? e.message : String(e),
      );
    }
    this._producer = p;
  }

  async publish(env: SnapshotEnvelope): Promise<void> {
    if (!this._producer) await this.connect();
    await this._producer!.send([
      {
        topic: this._config.topic,
        key: env.host,
        value: JSON.stringify(env),
        headers: { 'ruletrail-schema': String(env.schema) },
      },
    ]);
  }

  async close(): Promise<void> {
    await this._producer?.close();
    this._producer = undefined;
  }
}
