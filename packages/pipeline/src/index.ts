/**
 * `@ruletrail/pipeline`: the `ruletrail run` run-time. Sources, sinks and the CLI build on the contracts in
 * types.ts; the CLI assembles a run from a config (see docs/pipeline.md).
 */
export type * from './types';
export { Segment, OffsetTracker } from './acks';
export { CheckpointStore } from './checkpoints';
export {
  loadConfig,
  parseConfig,
  formatProblem,
  ConfigError,
  MAX_CONFIG_CHARS,
  MAX_CONFIG_ALIASES,
  MAX_CONFIG_PROBLEMS,
  type ConfigProblem,
  type PipelineConfig,
  type SourceConfig,
  type FileSourceConfig,
  type StdinSourceConfig,
  type SyslogSourceConfig,
  type KafkaSourceConfig,
  type KafkaClientConfig,
  type SinkConfig,
  type FileSinkConfig,
  type PluginSinkConfig,
  type AlertRuleConfig,
  type DecodeFields,
} from './config';
export { CONFIG_SCHEMA } from './config-schema';
export { JsonLogger, SILENT, type Logger, type LogLevel } from './log';
export { PipelineMetrics, NO_METRICS, splitHostPort, type ComponentMetrics } from './metrics';
export { AlertEngine, snapshotRule, usedSnapshot, type AlertInfo, type AlertRecord } from './alerts';
export { SnapshotStore, HostSnapshots, type AddResult } from './snapshot-store';
export {
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
export { pickAdapter } from './adapters';
export { RunnerSink } from './runner-sink';
