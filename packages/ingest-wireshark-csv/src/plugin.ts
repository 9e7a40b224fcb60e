/** The Wireshark CSV ingest adapter as the CLI's registry knows it. */
import { defineIngest } from '@ruletrail/core';
import { wiresharkCsvAdapter } from './adapter';

/**
 * Framing: `whole-file`. The header row names the columns, so a CSV export only decodes from its start: a
 * source hands the whole file as one unit (a tailed CSV cut at line boundaries would lose its header).
 */
export const wiresharkCsvPlugin = defineIngest({ adapter: wiresharkCsvAdapter, framing: 'whole-file' });
