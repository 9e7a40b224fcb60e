/** The nftMonitor ingest adapter as the CLI's registry knows it. */
import { defineIngest } from '@ruletrail/core';
import { nftMonitorAdapter } from './adapter';

/** Framing: `lines` (one `nft monitor trace` line per record). */
export const nftMonitorPlugin = defineIngest({ adapter: nftMonitorAdapter, framing: 'lines' });
