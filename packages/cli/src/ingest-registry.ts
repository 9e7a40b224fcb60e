/**
 * The ingest adapters the CLI knows (part of the registry in registry.ts), kept apart so `ruletrail explain`
 * (bundled, see scripts/bundle-cli.mjs) loads no Kafka / Elasticsearch / Fluentd client. Order is the
 * auto-detection order: the first adapter whose `sniff` accepts an input's head wins, so binary and
 * strongly-marked formats come first, free text last.
 */
import type { PluginRegistry } from '@ruletrail/core';
import { kernelLogPlugin } from '@ruletrail/ingest-kernel-log';
import { nflogPcapPlugin } from '@ruletrail/ingest-nflog-pcap';
import { nftMonitorPlugin } from '@ruletrail/ingest-nft-monitor';
import { ulogdJsonPlugin } from '@ruletrail/ingest-ulogd-json';
import { wiresharkCsvPlugin } from '@ruletrail/ingest-wireshark-csv';
import { xtablesMonitorPlugin } from '@ruletrail/ingest-xtables-monitor';

export const INGEST_PLUGINS: PluginRegistry['ingest'] = Object.freeze([
  nflogPcapPlugin,
  ulogdJsonPlugin,
  xtablesMonitorPlugin,
  nftMonitorPlugin,
  wiresharkCsvPlugin,
  kernelLogPlugin,
]);
