/**
 * `@ruletrail/kafka-client`: one factory for Kafka clients (kafkajs or @platformatic/kafka) behind ruletrail's
 * own interfaces, used by the Kafka sink, the Kafka source and snapshot shipping. The connection config, its
 * JSON schema and the error codes live in `@ruletrail/core` (kafka-config.ts).
 */
export { createKafkaClient, kafkaConnectError, validateKafkaConnection } from './factory';
export { classifyKafkajsError } from './kafkajs';
export { classifyPlatformaticError } from './platformatic';
export type {
  KafkaAdmin,
  KafkaBatchControl,
  KafkaClient,
  KafkaConsumedBatch,
  KafkaConsumedMessage,
  KafkaErrorClass,
  KafkaGroupConsumeOptions,
  KafkaGroupConsumer,
  KafkaOutMessage,
  KafkaPartitionOffsets,
  KafkaProducer,
  KafkaProducerOptions,
} from './types';
