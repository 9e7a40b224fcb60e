/** The Kafka source as the CLI's registry knows it (options schema, factory). */
import { defineSource } from '@ruletrail/core';
import { KAFKA_CLIENT_OPTIONS, type KafkaSourceConfig, type Source } from '@ruletrail/pipeline';
import { KafkaSource } from './kafka-source';

/** `type: kafka`. */
export const kafkaSourcePlugin = defineSource<KafkaSourceConfig, Source>({
  type: 'kafka',
  summary:
    'Consumes raw trace lines from a topic as one consumer group (scale-out: run several instances with the same groupId); offsets are committed only after acknowledgement.',
  options: {
    type: 'object',
    additionalProperties: false,
    required: ['brokers', 'topic', 'groupId'],
    properties: {
      ...KAFKA_CLIENT_OPTIONS,
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
  },
  create: (config) => new KafkaSource(config),
});
