/** The xtablesMonitor ingest adapter as the CLI's registry knows it. */
import { defineIngest } from '@ruletrail/core';
import { xtablesMonitorAdapter } from './adapter';

/** Framing: `lines` (one `xtables-monitor --trace` line per record). */
export const xtablesMonitorPlugin = defineIngest({ adapter: xtablesMonitorAdapter, framing: 'lines' });
