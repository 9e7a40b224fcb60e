/** `@ruletrail/source-kafka`: raw lines from a Kafka topic (consumer group), and snapshots over Kafka. */
export { KafkaSource } from './kafka-source';
export { KafkaSnapshotFeed, KafkaSnapshotPublisher } from './snapshots';
export { KAFKA_SOURCE_OPTIONS_SCHEMA, kafkaSourcePlugin } from './plugin';
