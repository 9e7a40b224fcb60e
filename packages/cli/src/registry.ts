/**
 * Every plugin the CLI knows: one static list (explicit beats discovery). The config schema, `ruletrail
 * validate`, `ruletrail plugins` and `ruletrail run` are all built from it, so a new sink is its package plus
 * one line here (docs/plugin-contract.md). Ingest order is the auto-detection order: the first adapter whose
 * `sniff` accepts an input's head wins, so binary and strongly-marked formats come first, free text last.
 */
import type { PluginRegistry } from '@ruletrail/core';
import { kernelLogPlugin } from '@ruletrail/ingest-kernel-log';
import { nflogPcapPlugin } from '@ruletrail/ingest-nflog-pcap';
import { nftMonitorPlugin } from '@ruletrail/ingest-nft-monitor';
import { ulogdJsonPlugin } from '@ruletrail/ingest-ulogd-json';
import { wiresharkCsvPlugin } from '@ruletrail/ingest-wireshark-csv';
import { xtablesMonitorPlugin } from '@ruletrail/ingest-xtables-monitor';
import { elasticsearchSinkPlugin } from '@ruletrail/sink-elasticsearch';
import { fileSinkPlugin } from '@ruletrail/sink-file';
import { fluentdSinkPlugin } from '@ruletrail/sink-fluentd';
import { kafkaSinkPlugin } from '@ruletrail/sink-kafka';
import { fileSourcePlugin, stdinSourcePlugin } from '@ruletrail/source-file';
import { kafkaSourcePlugin } from '@ruletrail/source-kafka';
import { syslogSourcePlugin } from '@ruletrail/source-syslog';

export const REGISTRY: PluginRegistry = Object.freeze({
  ingest: [
    nflogPcapPlugin,
    ulogdJsonPlugin,
    xtablesMonitorPlugin,
    nftMonitorPlugin,
    wiresharkCsvPlugin,
    kernelLogPlugin,
  ],
  sources: [fileSourcePlugin, stdinSourcePlugin, syslogSourcePlugin, kafkaSourcePlugin],
  sinks: [fileSinkPlugin, kafkaSinkPlugin, elasticsearchSinkPlugin, fluentdSinkPlugin],
});
