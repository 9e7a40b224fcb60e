/** The syslog source as the CLI's registry knows it (options schema, factory). */
import { defineSource } from '@ruletrail/core';
import { hostPort, positiveInt, type Source, type SyslogSourceConfig } from '@ruletrail/pipeline';
import { SyslogSource } from './syslog-source';

/** `type: syslog`. */
export const syslogSourcePlugin = defineSource<SyslogSourceConfig, Source>({
  type: 'syslog',
  summary:
    'Receives syslog (RFC 3164 / 5424) over UDP and/or TCP (newline or octet-counting framing), e.g. from rsyslog omfwd.',
  options: {
    type: 'object',
    additionalProperties: false,
    properties: {
      udp: { ...hostPort, description: 'UDP address to listen on, e.g. 127.0.0.1:5514.' },
      tcp: { ...hostPort, description: 'TCP address to listen on, e.g. 127.0.0.1:5514.' },
      maxMessageBytes: {
        ...positiveInt,
        default: 65536,
        description: 'Longest message; longer ones are cut and flagged.',
      },
      batchMs: {
        ...positiveInt,
        default: 100,
        description: 'Messages are handed on in batches at least this often.',
      },
      maxConnections: { ...positiveInt, default: 1024, description: 'Concurrent TCP connections accepted.' },
    },
  },
  check: (config) => (config.udp === undefined && config.tcp === undefined ? ['needs udp, tcp or both'] : []),
  create: (config) => new SyslogSource(config),
});
