/** The ulogdJson ingest adapter as the CLI's registry knows it. */
import { defineIngest } from '@ruletrail/core';
import { ulogdJsonAdapter } from './adapter';

/** Framing: `lines` (one JSON object per line). */
export const ulogdJsonPlugin = defineIngest({ adapter: ulogdJsonAdapter, framing: 'lines' });
