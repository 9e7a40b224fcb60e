/**
 * The types of a loaded `ruletrail run` config: every default applied (by the schema, config-schema.ts) and
 * every path absolute. config.ts loads one.
 */
import type { KafkaConnectionConfig, SinkRunnerDefaults } from '@ruletrail/core';

/** Fields every source has (see the schema for their meaning). */
export interface DecodeFields {
  readonly format?: string;
  /** Options of the ingest adapter `format` names, validated against its plugin's schema. */
  readonly formatOptions?: Record<string, unknown>;
  readonly host?: string;
  readonly year?: number;
  readonly utcOffsetMinutes?: number;
}

export interface FileSourceConfig extends DecodeFields {
  readonly id: string;
  readonly type: 'file';
  readonly paths: readonly string[];
  readonly mode: 'tail' | 'read';
  readonly startAt: 'beginning' | 'end';
  readonly pollIntervalMs: number;
}

export interface StdinSourceConfig extends DecodeFields {
  readonly id: string;
  readonly type: 'stdin';
}

export interface SyslogSourceConfig extends DecodeFields {
  readonly id: string;
  readonly type: 'syslog';
  readonly udp?: string;
  readonly tcp?: string;
  /** Syslog over TLS (RFC 5425). Paths are absolute once loaded. */
  readonly tls?: SyslogTlsConfig;
  readonly maxMessageBytes: number;
  readonly batchMs: number;
  readonly maxConnections: number;
  readonly idleTimeoutMs: number;
}

export interface SyslogTlsConfig {
  readonly listen: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly passphrase?: string;
  readonly caFile?: string;
}

/** The Prometheus endpoint (`metrics:`). */
export interface MetricsConfig {
  readonly listen: string;
  readonly maxConnections: number;
  readonly idleTimeoutMs: number;
}

/**
 * Kafka client settings of the Kafka source and the snapshot topic: the connection config every Kafka package
 * shares (`@ruletrail/core` kafka-config.ts: brokers, client, tls with a private CA or mutual TLS, sasl).
 */
export interface KafkaClientConfig extends KafkaConnectionConfig {
  readonly clientId: string;
}

export interface KafkaSourceConfig extends DecodeFields, KafkaClientConfig {
  readonly id: string;
  readonly type: 'kafka';
  readonly topic: string;
  readonly groupId: string;
  readonly fromBeginning: boolean;
}

/** A source of a type this package does not know: a registered plugin's options next to the decode fields. */
export interface PluginSourceConfig extends DecodeFields {
  readonly id: string;
  readonly type: string;
  readonly [option: string]: unknown;
}

export type SourceConfig =
  FileSourceConfig | StdinSourceConfig | SyslogSourceConfig | KafkaSourceConfig | PluginSourceConfig;

export type RecordKindName = 'explanation' | 'alert';

/** One sink of the config: the run-time's fields, and the options its plugin validated and defaulted. */
export interface SinkConfig {
  readonly id: string;
  readonly type: string;
  readonly records: readonly RecordKindName[];
  /** The plugin's options (written under `options:`, or inline for the file sink), paths resolved. */
  readonly options: Record<string, unknown>;
  /** Core sink-runner settings (batch, maxInFlight, bufferMaxEvents, retry). */
  readonly runner?: SinkRunnerDefaults;
}

/** A user alert rule. */
export interface AlertRuleConfig {
  readonly name: string;
  readonly table?: string;
  readonly chain?: string;
  readonly target?: string;
  readonly comment?: string;
  readonly verdict?: string;
  readonly on: 'any' | 'decision';
  readonly severity: 'info' | 'warning' | 'critical';
}

/** A validated config with every default applied and every path absolute. */
export interface PipelineConfig {
  readonly version: 1;
  /** Folder of the config file: what relative paths were resolved against. */
  readonly baseDir: string;
  readonly dataDir?: string;
  readonly sources: readonly SourceConfig[];
  readonly snapshots: {
    readonly directory?: string;
    readonly pollIntervalMs: number;
    readonly files: readonly { path: string; host: string; family?: 'ipv4' | 'ipv6'; takenAt?: string }[];
    readonly kafka?: KafkaClientConfig & { readonly topic: string };
    readonly historyPerHost: number;
  };
  readonly correlation: {
    readonly windowMs: number;
    readonly maxOpenPackets: number;
    readonly idleFlushMs: number;
    /** Lines of one host arriving at most this late are put back in log-time order (0 = off). */
    readonly reorderMs: number;
  };
  readonly alerts: {
    readonly builtin: { readonly kubeMarkDrop: boolean; readonly kubeNoEndpoints: boolean };
    readonly rules: readonly AlertRuleConfig[];
    readonly windowMs: number;
    readonly maxPerWindow: number;
  };
  readonly sinks: readonly SinkConfig[];
  readonly deadLetter?: { readonly path: string };
  readonly pipeline: {
    readonly maxInFlight: number;
    readonly shutdownTimeoutMs: number;
    readonly checkpointIntervalMs: number;
  };
  readonly metrics?: MetricsConfig;
  readonly log: {
    readonly level: 'debug' | 'info' | 'warn' | 'error';
    readonly progress: 'auto' | 'on' | 'off';
  };
}
