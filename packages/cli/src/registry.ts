/**
 * Every plugin the CLI knows: one static list (explicit beats discovery). The config schema, `ruletrail
 * validate`, `ruletrail plugins` and `ruletrail run` are all built from it, so a new sink is its package plus
 * one line here (docs/plugin-contract.md). The ingest adapters are listed in ingest-registry.ts, which the
 * bundled explain path loads without the sources' and sinks' third-party clients.
 */
import type { PluginRegistry } from '@ruletrail/core';
import { elasticsearchSinkPlugin } from '@ruletrail/sink-elasticsearch';
import { fileSinkPlugin } from '@ruletrail/sink-file';
import { fluentdSinkPlugin } from '@ruletrail/sink-fluentd';
import { kafkaSinkPlugin } from '@ruletrail/sink-kafka';
import { fileSourcePlugin, stdinSourcePlugin } from '@ruletrail/source-file';
import { kafkaSourcePlugin } from '@ruletrail/source-kafka';
import { syslogSourcePlugin } from '@ruletrail/source-syslog';
import { INGEST_PLUGINS } from './ingest-registry';

export const REGISTRY: PluginRegistry = Object.freeze({
  ingest: INGEST_PLUGINS,
  sources: [fileSourcePlugin, stdinSourcePlugin, syslogSourcePlugin, kafkaSourcePlugin],
  sinks: [fileSinkPlugin, kafkaSinkPlugin, elasticsearchSinkPlugin, fluentdSinkPlugin],
});
