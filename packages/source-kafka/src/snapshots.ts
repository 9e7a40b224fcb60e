/**
 * Snapshots over Kafka: `ruletrail snapshot ship --to kafka:…` produces envelopes keyed by host; every
 * `ruletrail run` instance reads the snapshot topic from the beginning (a throw-away consumer group, nothing
 * committed) into its bounded per-host store, and keeps following it. Use a compacted or size-bounded topic:
 * what an instance reads at start is what it can join with.
 */
import { randomUUID } from 'node:crypto';
import { InputError, type DeadLetterOutput } from '@ruletrail/core';
import type { Consumer, Producer } from 'kafkajs';
import {
  parseEnvelope,
  type KafkaClientConfig,
  type Logger,
  type SnapshotEnvelope,
  type SnapshotFeed,
  type SnapshotStore,
} from '@ruletrail/pipeline';
import { kafkaClient } from './client';

/** How long `start` waits to catch up with the topic before the pipeline starts anyway. */
const CATCH_UP_MS = 60_000;

/** Follows a snapshot topic into the store. */
export class KafkaSnapshotFeed implements SnapshotFeed {
  private _consumer: Consumer | undefined;

  constructor(
    private readonly _config: KafkaClientConfig & { readonly topic: string },
    private readonly _store: SnapshotStore,
    private readonly _log: Logger,
    private readonly _deadLetter: DeadLetterOutput,
  ) {}

  async start(): Promise<void> {
    const c = this._config;
    const kafka = kafkaClient(c, this._log);
    const admin = kafka.admin();
    await admin.connect();
    const ends = new Map<number, number>();
    try {
      for (const o of await admin.fetchTopicOffsets(c.topic))
        if (Number(o.high) > Number(o.low)) ends.set(o.partition, Number(o.high));
    } finally {
      await admin.disconnect();
    }
    const consumer = kafka.consumer({ groupId: `${c.clientId}-snapshots-${randomUUID()}` });
    this._consumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topic: c.topic, fromBeginning: true });
    let caughtUp!: () => void;
    const done = new Promise<void>((r) => (caughtUp = r));
    const check = (): void => {
      if (ends.size === 0) caughtUp();
    };
    await consumer.run({
      autoCommit: false,
      eachMessage: ({ partition, message }) => {
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
            new InputError('RT_ERR_SNAPSHOT_INVALID', { file: where }, (err as Error).message),
          );
        }
        const end = ends.get(partition);
        if (end !== undefined && Number(message.offset) + 1 >= end) {
          ends.delete(partition);
          check();
        }
        return Promise.resolve();
      },
    });
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
    await this._consumer?.disconnect();
    this._consumer = undefined;
  }
}

/** Produces envelopes to a snapshot topic, keyed by host, acknowledged by all in-sync replicas. */
export class KafkaSnapshotPublisher {
  private _producer: Producer | undefined;

  constructor(
    private readonly _config: KafkaClientConfig & { readonly topic: string },
    private readonly _log: Logger,
  ) {}

  async connect(): Promise<void> {
    this._producer = kafkaClient(this._config, this._log).producer({
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await this._producer.connect();
  }

  async publish(env: SnapshotEnvelope): Promise<void> {
    if (!this._producer) await this.connect();
    await this._producer!.send({
      topic: this._config.topic,
      acks: -1,
      messages: [{ key: env.host, value: JSON.stringify(env), headers: { 'ruletrail-schema': env.schema } }],
    });
  }

  async close(): Promise<void> {
    await this._producer?.disconnect();
    this._producer = undefined;
  }
}
