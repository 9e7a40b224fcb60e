/** The Fluentd sink as the CLI's registry knows it (options schema, factory). */
import { defineSink, problemsOf, tlsOptionsSchema } from '@ruletrail/core';
import { FLUENTD_DEFAULTS, validateFluentdConfig, type FluentdSinkConfig } from './config';
import { FluentdSink } from './sink';

/** `type: fluentd`. Field meanings: `FluentdSinkConfig` in config.ts. */
export const fluentdSinkPlugin = defineSink<FluentdSinkConfig>({
  type: 'fluentd',
  summary: 'Fluentd forward protocol, acknowledged (require_ack_response).',
  options: {
    type: 'object',
    additionalProperties: false,
    required: ['tag'],
    properties: {
      host: { type: 'string', minLength: 1, description: 'Receiver host; default 127.0.0.1.' },
      port: { type: 'integer', minimum: 1, maximum: 65535, default: FLUENTD_DEFAULTS.port },
      path: { type: 'string', minLength: 1, description: 'Unix socket instead of host and port.' },
      tag: {
        type: 'string',
        pattern: '^[A-Za-z0-9_.-]+$',
        description: 'Tag prefix: <tag>.packet and <tag>.alert.',
      },
      ackTimeoutMs: { type: 'integer', minimum: 1, default: FLUENTD_DEFAULTS.ackTimeoutMs },
      eventMode: { enum: ['PackedForward', 'CompressedPackedForward'], default: FLUENTD_DEFAULTS.eventMode },
      tls: tlsOptionsSchema('TLS to the receiver.', { servername: { type: 'string', minLength: 1 } }),
      security: {
        type: 'object',
        additionalProperties: false,
        required: ['selfHostname', 'sharedKey'],
        properties: {
          selfHostname: { type: 'string', minLength: 1 },
          sharedKey: { type: 'string', minLength: 1 },
          username: { type: 'string' },
          password: { type: 'string' },
        },
      },
    },
  },
  check: problemsOf(validateFluentdConfig),
  create: (options, { logger }) => new FluentdSink(options, { logger }),
});
