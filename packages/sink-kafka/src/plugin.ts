/** The Kafka sink as the CLI's registry knows it (options schema, factory). */
import { KAFKA_PATH_OPTIONS, defineSink, problemsOf } from '@ruletrail/core';
import { KAFKA_SINK_OPTIONS_SCHEMA, validateKafkaConfig, type KafkaSinkConfig } from './config';
import { KafkaSink } from './sink';

/** `type: kafka`. Field meanings: `KafkaSinkConfig` in config.ts; the schema is the shared connection schema. */
export const kafkaSinkPlugin = defineSink<KafkaSinkConfig>({
  type: 'kafka',
  summary: 'Kafka topic (records keyed by host; acks=all, idempotent producer).',
  options: KAFKA_SINK_OPTIONS_SCHEMA,
  pathOptions: KAFKA_PATH_OPTIONS,
  check: problemsOf(validateKafkaConfig),
  create: (options, { logger, kinds }) => new KafkaSink(options, { logger, kinds }),
});
