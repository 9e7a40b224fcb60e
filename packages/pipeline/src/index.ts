/**
 * `@ruletrail/pipeline`: the `ruletrail run` run-time. Sources, sinks and the CLI build on the contracts in
 * types.ts; the CLI assembles a run from a config (see docs/pipeline.md).
 */
export type * from './types';
export { Segment, OffsetTracker } from './acks';
export { CheckpointStore } from './checkpoints';
export { loadConfig, parseConfig } from './config';
export { formatProblem, ConfigError, type ConfigProblem } from './config-problems';
export { MAX_CONFIG_CHARS, MAX_CONFIG_ALIASES, MAX_CONFIG_PROBLEMS } from './config-yaml';
export type {
  PipelineConfig,
  SourceConfig,
  FileSourceConfig,
  StdinSourceConfig,
  SyslogSourceConfig,
  SyslogTlsConfig,
  MetricsConfig,
  KafkaSourceConfig,
  KafkaClientConfig,
  SinkConfig,
  PluginSourceConfig,
  AlertRuleConfig,
  RecordKindName,
  DecodeFields,
} from './config-types';
export { buildConfigSchema, positiveInt, hostPort, DECODE_FIELDS } from './config-schema';
export { JsonLogger, SILENT, type Logger, type LogLevel } from './log';
export { PipelineMetrics, NO_METRICS, splitHostPort, type ComponentMetrics } from './metrics';
export { AlertEngine, snapshotRule, usedSnapshot, type AlertInfo, type AlertRecord } from './alerts';
export { SnapshotStore, HostSnapshots, type AddResult } from './snapshot-store';
export {
  SNAPSHOT_INVALID,
  SNAPSHOT_SCHEMA,
  makeEnvelope,
  parseEnvelope,
  snapshotHash,
  type SnapshotEnvelope,
  type SnapshotFormat,
} from './snapshot-envelope';
export { SnapshotDirectoryFeed, loadStaticSnapshots, type SnapshotFeed } from './snapshot-feeds';
export { Pipeline, type PipelineParts, type RunSummary } from './pipeline';
export { ProgressBar } from './progress';
export { IngestResolver, type IngestChoice } from './adapters';
export { RunnerSink, sinkRecordKind } from './runner-sink';
export { alertRecord, packetRecord, type RecordOrigin } from './records';
export { checkSource, type SourceCheck } from './conformance';
