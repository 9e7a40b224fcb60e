/**
 * The ingest adapters of the registry (ingest-registry.ts), for `ruletrail explain`: in detection order, by name, and
 * configured with run options.
 */
import type { IngestAdapter } from '@ruletrail/core';
import { INGEST_PLUGINS } from './ingest-registry';

/** Every registered adapter, in detection order. */
export const ADAPTERS: readonly IngestAdapter[] = INGEST_PLUGINS.map((p) => p.adapter);

/** Adapter by channel name (`--input-format`). */
export function adapterByName(name: string): IngestAdapter | undefined {
  return ADAPTERS.find((a) => a.channel === name);
}

/**
 * The adapter to use for a channel given run options: an adapter whose plugin takes an `ifNames` option (NFLOG
 * carries interface indexes only) is configured with the ifindex → name map (`--if-names`).
 */
export function withInterfaceNames(
  adapter: IngestAdapter,
  ifNames: ReadonlyMap<number, string> | undefined,
): IngestAdapter {
  const plugin = INGEST_PLUGINS.find((p) => p.type === adapter.channel);
  return ifNames && plugin && 'ifNames' in plugin.options.properties
    ? plugin.configure({ ifNames } as never)
    : adapter;
}
