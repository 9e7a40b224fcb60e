/** `@ruletrail/source-kafka`: raw lines from a Kafka topic (consumer group), and snapshots over Kafka. */
export { KafkaSource } from './kafka-source';
export { KafkaSnapshotFeed, KafkaSnapshotPublisher } from './snapshots';
export { kafkaClient } from './client';
export { kafkaSourcePlugin } from './plugin';
