/** The syslog source as the CLI's registry knows it (options schema, factory). */
import { defineSource } from '@ruletrail/core';
import { hostPort, positiveInt, type Source, type SyslogSourceConfig } from '@ruletrail/pipeline';
import { SyslogSource } from './syslog-source';

/** `type: syslog`. */
export const syslogSourcePlugin = defineSource<SyslogSourceConfig, Source>({
  type: 'syslog',
  summary:
    'Receives syslog (RFC 3164 / 5424) over UDP, TCP (newline or octet-counting framing) and/or TLS (RFC 5425), e.g. from rsyslog omfwd. An address without a host (`:5514`) binds 127.0.0.1: listening on other interfaces must be written out (`0.0.0.0:5514`).',
  pathOptions: ['tls.certFile', 'tls.keyFile', 'tls.caFile'],
  options: {
    type: 'object',
    additionalProperties: false,
    properties: {
      udp: { ...hostPort, description: 'UDP address to listen on, e.g. 127.0.0.1:5514.' },
      tcp: { ...hostPort, description: 'TCP address to listen on, e.g. 127.0.0.1:5514.' },
      tls: {
        type: 'object',
        additionalProperties: false,
        required: ['listen', 'certFile', 'keyFile'],
        description:
          'Syslog over TLS (RFC 5425: octet-counted frames over TLS 1.2+), e.g. rsyslog omfwd with StreamDriver="gtls".',
        properties: {
          listen: { ...hostPort, description: 'TLS address to listen on, e.g. 127.0.0.1:6514.' },
          certFile: {
            type: 'string',
            minLength: 1,
            description: 'Server certificate (PEM), chain included.',
          },
          keyFile: {
            type: 'string',
            minLength: 1,
            description: 'Server private key (PEM). Refused when every user can read it (chmod 600 or 640).',
          },
          passphrase: {
            type: 'string',
            description: "The key's passphrase, if it is encrypted (use ${ENV}).",
          },
          caFile: {
            type: 'string',
            minLength: 1,
            description:
              'CA (PEM) that client certificates must chain to; with it, clients must present one.',
          },
        },
      },
      maxMessageBytes: {
        ...positiveInt,
        default: 65536,
        description:
          'Largest message (frame) on any transport; longer ones are cut to this size and counted (discarded{reason="truncated"}).',
      },
      idleTimeoutMs: {
        ...positiveInt,
        default: 300000,
        description:
          'A TCP or TLS connection that sends nothing for this long is closed (senders such as rsyslog reconnect).',
      },
      batchMs: {
        ...positiveInt,
        default: 100,
        description: 'Messages are handed on in batches at least this often.',
      },
      maxConnections: {
        ...positiveInt,
        default: 1024,
        description: 'Concurrent TCP and TLS connections accepted (together); more are closed at once.',
      },
    },
  },
  check: (config) =>
    config.udp === undefined && config.tcp === undefined && config.tls === undefined
      ? ['needs udp, tcp, tls or several']
      : [],
  create: (config) => new SyslogSource(config),
});
