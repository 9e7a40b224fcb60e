/** The Kafka sink as the CLI's registry knows it (options schema, factory). */
import { defineSink, problemsOf, tlsOptionsSchema } from '@ruletrail/core';
import { KAFKA_DEFAULTS, validateKafkaConfig, type KafkaSinkConfig } from './config';
import { KafkaSink } from './sink';

const ms = { type: 'integer', minimum: 1 } as const;

/** `type: kafka`. Field meanings: `KafkaSinkConfig` in config.ts. */
export const kafkaSinkPlugin = defineSink<KafkaSinkConfig>({
  type: 'kafka',
  summary: 'Kafka topic (records keyed by host; acks=all, idempotent producer).',
  options: {
    type: 'object',
    additionalProperties: false,
    required: ['brokers', 'topic'],
    properties: {
      brokers: {
        type: 'array',
        minItems: 1,
        items: { type: 'string', pattern: '^[^\\s:]+:\\d+$' },
        description: 'Bootstrap brokers, host:port.',
      },
      clientId: { type: 'string', minLength: 1, default: KAFKA_DEFAULTS.clientId },
      topic: { type: 'string', minLength: 1, description: 'Topic for explained packets.' },
      alertTopic: { type: 'string', minLength: 1, description: 'Topic for alerts; default <topic>.alerts.' },
      compression: { enum: ['none', 'gzip'], default: KAFKA_DEFAULTS.compression },
      idempotent: { type: 'boolean', default: KAFKA_DEFAULTS.idempotent },
      ackTimeoutMs: { ...ms, default: KAFKA_DEFAULTS.ackTimeoutMs },
      requestTimeoutMs: { ...ms, default: KAFKA_DEFAULTS.requestTimeoutMs },
      connectionTimeoutMs: { ...ms, default: KAFKA_DEFAULTS.connectionTimeoutMs },
      maxMessageBytes: { ...ms, default: KAFKA_DEFAULTS.maxMessageBytes },
      clientRetries: { type: 'integer', minimum: 0, default: KAFKA_DEFAULTS.clientRetries },
      tls: {
        ...tlsOptionsSchema('true, or TLS options, to connect with TLS.', {
          passphrase: { type: 'string' },
          servername: { type: 'string', minLength: 1 },
        }),
        type: ['boolean', 'object'],
      },
      sasl: {
        type: 'object',
        additionalProperties: false,
        required: ['mechanism', 'username', 'password'],
        properties: {
          mechanism: { enum: ['scram-sha-256', 'scram-sha-512', 'plain'] },
          username: { type: 'string', minLength: 1 },
          password: { type: 'string', minLength: 1, description: 'Use ${ENV_VAR}.' },
        },
      },
      createTopics: {
        type: 'object',
        additionalProperties: false,
        properties: { numPartitions: ms, replicationFactor: ms },
      },
    },
  },
  check: problemsOf(validateKafkaConfig),
  create: (options, { logger }) => new KafkaSink(options, { logger }),
});
