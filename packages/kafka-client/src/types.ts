/**
 * ruletrail's own Kafka interfaces. The sink, the source and snapshot shipping use only these; the two client
 * libraries (kafkajs, @platformatic/kafka) are adapters behind them (kafkajs.ts, platformatic.ts).
 */
import type { KafkaClientName } from '@ruletrail/core';

/** One message to produce. `value` is UTF-8 text (our records are JSON). */
export interface KafkaOutMessage {
  readonly topic: string;
  readonly key: string;
  readonly value: string;
  /** Milliseconds since the epoch; the broker's append time is used when absent. */
  readonly timestamp?: number;
  readonly headers: Readonly<Record<string, string>>;
}

export interface KafkaProducerOptions {
  /** Idempotent producer (producer id + sequence numbers; implies acks=all). */
  readonly idempotent: boolean;
  readonly compression: 'none' | 'gzip';
  /** How long the leader waits for all in-sync replicas (acks=all) before answering. */
  readonly ackTimeoutMs: number;
}

/** A producer with acks=all: `send` resolves only when the leader answered after every in-sync replica had it. */
export interface KafkaProducer {
  connect(): Promise<void>;
  /** Sends the messages (any topics) as one request per broker. Keys map to partitions as Java's client does. */
  send(messages: readonly KafkaOutMessage[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * What a client error means for the messages of a failed send:
 *   - `retriable`: connection, timeout, leader change… (send again later);
 *   - `record`: one of the messages is refused (too large, corrupt): find it and reject it alone;
 *   - `producer-state`: idempotence bookkeeping broke (sequence, producer id): new producer, then retry;
 *   - `fatal`: authorization, invalid topic… (retrying cannot help).
 */
export type KafkaErrorClass = 'retriable' | 'record' | 'producer-state' | 'fatal';

export interface KafkaPartitionOffsets {
  readonly partition: number;
  /** First offset still on the broker. */
  readonly low: number;
  /** Offset the next message will get. */
  readonly high: number;
}

export interface KafkaAdmin {
  listTopics(): Promise<string[]>;
  createTopics(
    topics: readonly string[],
    o: { readonly numPartitions: number; readonly replicationFactor: number },
  ): Promise<void>;
  topicOffsets(topic: string): Promise<KafkaPartitionOffsets[]>;
  close(): Promise<void>;
}

export interface KafkaConsumedMessage {
  readonly offset: number;
  readonly value: Buffer | null;
}

/** Messages of one partition, in offset order. */
export interface KafkaConsumedBatch {
  readonly topic: string;
  readonly partition: number;
  readonly messages: readonly KafkaConsumedMessage[];
}

export interface KafkaBatchControl {
  /** False once the batch should not be processed further (stopping, or partitions reassigned). */
  active(): boolean;
  /** Keeps the group membership alive during long processing (a no-op where the client does it by itself). */
  heartbeat(): Promise<void>;
}

export interface KafkaGroupConsumeOptions {
  readonly topic: string;
  /** Where a group without committed offsets starts. */
  readonly fromBeginning: boolean;
  /**
   * Processes a batch; returns the offset of the last message it handed on (the rest is fetched again), or
   * undefined when it handed on all of them. Batches of one partition are never processed concurrently.
   */
  onBatch(batch: KafkaConsumedBatch, control: KafkaBatchControl): Promise<number | undefined>;
  /** The group was (re)joined: positions of partitions this member may no longer own are stale. */
  onJoin?(info: { readonly assignment: unknown }): void;
  /** A failure the client will not recover from by itself: the consumer no longer consumes. */
  onFatal(err: unknown): void;
}

/** A consumer-group member. Offsets are committed only by `commit` (never automatically). */
export interface KafkaGroupConsumer {
  /** Connects, joins the group and starts fetching; resolves once consuming has started. */
  start(o: KafkaGroupConsumeOptions): Promise<void>;
  /** Commits positions (the offset of the next message to read) per partition. */
  commit(offsets: readonly { topic: string; partition: number; offset: number }[]): Promise<void>;
  /** Stops fetching; the membership stays until `close`. */
  stop(): Promise<void>;
  close(): Promise<void>;
}

/** A client for one connection config: the factory of producers, consumers and admin clients. */
export interface KafkaClient {
  readonly name: KafkaClientName;
  producer(o: KafkaProducerOptions): KafkaProducer;
  groupConsumer(o: { readonly groupId: string }): KafkaGroupConsumer;
  admin(): KafkaAdmin;
  /** What an error from this client's `send` means for its messages. */
  classify(err: unknown): KafkaErrorClass;
  /** True when the error is a failed SASL authentication (wrong credentials: a config error). */
  isAuthError(err: unknown): boolean;
}
