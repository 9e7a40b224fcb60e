/** Kafka sink (kafkajs or @platformatic/kafka) behind the ruletrail sink interface. See docs/sinks.md. */
export { KafkaSink, classifyKafkaError, type KafkaErrorClass, type KafkaSinkOptions } from './sink';
export {
  KAFKA_DEFAULTS,
  KAFKA_HEADERS,
  KAFKA_SINK_OPTIONS_SCHEMA,
  validateKafkaConfig,
  type KafkaCompression,
  type KafkaSaslConfig,
  type KafkaSinkConfig,
  type KafkaTlsConfig,
} from './config';
export { kafkaSinkPlugin } from './plugin';
