/**
 * The ingest adapters built into the CLI: a static list (explicit beats discovery). Auto-detection asks each
 * in this order; the first whose `sniff` accepts the file's head wins. Binary and strongly-marked formats come
 * first, free text last.
 */
import type { IngestAdapter } from '@ruletrail/core';
import { kernelLogAdapter } from '@ruletrail/ingest-kernel-log';
import { createNflogPcapAdapter, nflogPcapAdapter } from '@ruletrail/ingest-nflog-pcap';
import { nftMonitorAdapter } from '@ruletrail/ingest-nft-monitor';
import { ulogdJsonAdapter } from '@ruletrail/ingest-ulogd-json';
import { wiresharkCsvAdapter } from '@ruletrail/ingest-wireshark-csv';
import { xtablesMonitorAdapter } from '@ruletrail/ingest-xtables-monitor';

/** Every built-in adapter, in detection order. */
export const ADAPTERS: readonly IngestAdapter[] = [
  nflogPcapAdapter,
  ulogdJsonAdapter,
  xtablesMonitorAdapter,
  nftMonitorAdapter,
  wiresharkCsvAdapter,
  kernelLogAdapter,
];

/** Adapter by channel name (`--input-format`). */
export function adapterByName(name: string): IngestAdapter | undefined {
  return ADAPTERS.find((a) => a.channel === name);
}

/**
 * The adapter to use for a channel given run options: NFLOG carries interface indexes only, so with an
 * ifindex → name map (`--if-names`) the pcap adapter is rebuilt to fill the names in.
 */
export function withInterfaceNames(
  adapter: IngestAdapter,
  ifNames: ReadonlyMap<number, string> | undefined,
): IngestAdapter {
  return ifNames && adapter.channel === 'nflog-pcap' ? createNflogPcapAdapter({ ifNames }) : adapter;
}
