/** Configuration of the Kafka sink. Every field is documented here; docs/sinks.md shows examples. */
import {
  KAFKA_CONNECTION_DEFAULTS,
  KAFKA_CONNECTION_SCHEMA_PROPERTIES,
  KAFKA_ERROR_CODES,
  SinkError,
  kafkaConnectionProblems,
  type KafkaClientName,
  type KafkaConnectionConfig,
} from '@ruletrail/core';

export type { KafkaSaslConfig, KafkaTlsConfig } from '@ruletrail/core';

export type KafkaCompression = 'none' | 'gzip';

/** The sink's options: the shared connection fields (brokers, client, tls, sasl, timeouts) plus these. */
export interface KafkaSinkConfig extends KafkaConnectionConfig {
  /** Topic for explained packets. */
  readonly topic: string;
  /** Topic for alerts. Default `<topic>.alerts`. */
  readonly alertTopic?: string;
  /**
   * Batch compression. Default `gzip` (the only codec built into kafkajs; the broker keeps the producer's codec
   * with `compression.type=producer`, its default).
   */
  readonly compression?: KafkaCompression;
  /**
   * Idempotent producer (acks=all, producer id + sequence numbers: the broker drops a retried batch it already has).
   * Default true. kafkajs calls it experimental and does not track sequences across concurrent sends, so the sink
   * then sends one batch at a time per producer; see docs/sinks.md for the measured cost.
   */
  readonly idempotent?: boolean;
  /** How long the leader waits for all in-sync replicas (acks=all) before answering. Default 30 000 ms. */
  readonly ackTimeoutMs?: number;
  /**
   * Records whose JSON value is larger are rejected (dead-lettered) without being sent. Keep it ≤ the broker's
   * `message.max.bytes` (default 1 MiB). Default 1 000 000.
   */
  readonly maxMessageBytes?: number;
  /**
   * Create missing topics on connect with these settings (needs the CreateTopics ACL). Default: off; topics are
   * then expected to exist (or the broker auto-creates them).
   */
  readonly createTopics?: { readonly numPartitions?: number; readonly replicationFactor?: number };
}

export const KAFKA_DEFAULTS: Readonly<{
  clientId: string;
  client: KafkaClientName;
  compression: KafkaCompression;
  idempotent: boolean;
  ackTimeoutMs: number;
  requestTimeoutMs: number;
  connectionTimeoutMs: number;
  maxMessageBytes: number;
  clientRetries: number;
}> = Object.freeze({
  clientId: KAFKA_CONNECTION_DEFAULTS.clientId,
  client: KAFKA_CONNECTION_DEFAULTS.client,
  compression: 'gzip',
  idempotent: true,
  ackTimeoutMs: 30_000,
  requestTimeoutMs: KAFKA_CONNECTION_DEFAULTS.requestTimeoutMs,
  connectionTimeoutMs: KAFKA_CONNECTION_DEFAULTS.connectionTimeoutMs,
  maxMessageBytes: 1_000_000,
  clientRetries: KAFKA_CONNECTION_DEFAULTS.clientRetries,
});

/**
 * Message headers every record carries (names are part of the public contract). The value is always UTF-8 JSON,
 * so there is no content-type header: each header costs kafkajs several buffer allocations per message.
 */
export const KAFKA_HEADERS = Object.freeze({
  schema: 'ruletrail-schema',
  kind: 'ruletrail-kind',
  id: 'ruletrail-id',
});

/** Checks a config and throws `RT_ERR_KAFKA_CONFIG` with a readable error (never including a secret value). */
export function validateKafkaConfig(c: KafkaSinkConfig): void {
  const problems = kafkaConnectionProblems(c);
  if (typeof c.topic !== 'string' || c.topic.length === 0) problems.push('topic: required');
  if (c.compression !== undefined && c.compression !== 'none' && c.compression !== 'gzip')
    problems.push('compression: one of none, gzip');
  if (problems.length > 0)
    throw new SinkError(KAFKA_ERROR_CODES.config, `Invalid Kafka sink config: ${problems.join('; ')}`, {
      retriable: false,
    });
}

/**
 * JSON Schema of the sink's `options` (`additionalProperties: false`), for the plugin registry and `validate`;
 * docs/sinks.md describes the same fields.
 */
export const KAFKA_SINK_OPTIONS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['brokers', 'topic'],
  properties: {
    ...KAFKA_CONNECTION_SCHEMA_PROPERTIES,
    topic: { type: 'string', minLength: 1, description: 'Topic for explained packets.' },
    alertTopic: { type: 'string', minLength: 1, description: 'Topic for alerts. Default <topic>.alerts.' },
    compression: { enum: ['none', 'gzip'], default: 'gzip' },
    idempotent: { type: 'boolean', default: true },
    ackTimeoutMs: { type: 'integer', minimum: 1, default: 30_000 },
    maxMessageBytes: { type: 'integer', minimum: 1, default: 1_000_000 },
    createTopics: {
      type: 'object',
      additionalProperties: false,
      properties: {
        numPartitions: { type: 'integer', minimum: 1, default: 6 },
        replicationFactor: { type: 'integer', minimum: -1, default: -1 },
      },
    },
  },
} as const;
