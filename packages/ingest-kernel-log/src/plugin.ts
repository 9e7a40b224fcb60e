/** The kernelLog ingest adapter as the CLI's registry knows it. */
import { defineIngest } from '@ruletrail/core';
import { kernelLogAdapter } from './adapter';

/** Framing: `lines` (syslog or journal export, one kernel message per line). */
export const kernelLogPlugin = defineIngest({ adapter: kernelLogAdapter, framing: 'lines' });
