/** The Kafka source as the CLI's registry knows it (options schema, factory). */
import {
  KAFKA_CONNECTION_SCHEMA_PROPERTIES,
  KAFKA_PATH_OPTIONS,
  defineSource,
  kafkaConnectionProblems,
} from '@ruletrail/core';
import type { KafkaSourceConfig, Source } from '@ruletrail/pipeline';
import { KafkaSource } from './kafka-source';

/**
 * JSON Schema of the source's options (`additionalProperties: false`): the connection fields every Kafka package
 * shares (`@ruletrail/core` kafka-config.ts: brokers, client, tls with a private CA or mutual TLS, sasl) plus
 * the topic and consumer group. The run-time adds `id`, `type` and the decode fields.
 */
export const KAFKA_SOURCE_OPTIONS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['brokers', 'topic', 'groupId'],
  properties: {
    ...KAFKA_CONNECTION_SCHEMA_PROPERTIES,
    topic: {
      type: 'string',
      minLength: 1,
      description: 'Topic of raw lines (one or more lines per message), keyed by host.',
    },
    groupId: {
      type: 'string',
      minLength: 1,
      description: 'Consumer group shared by every ruletrail run instance of one pipeline.',
    },
    fromBeginning: { type: 'boolean', default: true, description: 'Where a new group starts.' },
  },
} as const;

/** `type: kafka`. */
export const kafkaSourcePlugin = defineSource<KafkaSourceConfig, Source>({
  type: 'kafka',
  summary:
    'Consumes raw trace lines from a topic as one consumer group (scale-out: run several instances with the same groupId); offsets are committed only after acknowledgement.',
  options: KAFKA_SOURCE_OPTIONS_SCHEMA,
  pathOptions: KAFKA_PATH_OPTIONS,
  check: kafkaConnectionProblems,
  create: (config) => new KafkaSource(config),
});
