/**
 * The ingest adapters built into the CLI: a static list (explicit beats discovery). Auto-detection asks each
 * in this order; the first whose `sniff` accepts the file's head wins. Binary and strongly-marked formats come
 * first, free text last.
 */
import type { IngestAdapter } from '@ruletrail/core';
import { kernelLogAdapter } from '@ruletrail/ingest-kernel-log';
import { nftMonitorAdapter } from '@ruletrail/ingest-nft-monitor';
import { ulogdJsonAdapter } from '@ruletrail/ingest-ulogd-json';
import { xtablesMonitorAdapter } from '@ruletrail/ingest-xtables-monitor';

/** Every built-in adapter, in detection order. */
export const ADAPTERS: readonly IngestAdapter[] = [
  ulogdJsonAdapter,
  xtablesMonitorAdapter,
  nftMonitorAdapter,
  kernelLogAdapter,
];

/** Adapter by channel name (`--input-format`). */
export function adapterByName(name: string): IngestAdapter | undefined {
  return ADAPTERS.find((a) => a.channel === name);
}
