/** The NFLOG capture ingest adapter as the CLI's registry knows it. */
import { defineIngest } from '@ruletrail/core';
import { createNflogPcapAdapter, nflogPcapAdapter } from './adapter';

/** Options a source (`formatOptions`) or `explain --if-names` gives this adapter. */
export interface NflogPcapOptions {
  /** ifindex → interface name on the traced host (`ip -j link`): NFLOG carries only indexes. */
  readonly ifNames?: Readonly<Record<string, string>> | ReadonlyMap<number, string>;
}

/** Framing: `whole-file` (a capture only decodes from its file header). */
export const nflogPcapPlugin = defineIngest<NflogPcapOptions>({
  adapter: nflogPcapAdapter,
  framing: 'whole-file',
  options: {
    type: 'object',
    additionalProperties: false,
    properties: {
      ifNames: {
        type: 'object',
        description:
          'ifindex → interface name on the traced host (from `ip -j link`), e.g. {"2": "eth0"}: NFLOG carries only indexes.',
        propertyNames: { pattern: '^[0-9]+$' },
        additionalProperties: { type: 'string' },
      },
    },
  },
  configure: (o) => (o.ifNames ? createNflogPcapAdapter({ ifNames: o.ifNames }) : nflogPcapAdapter),
});
