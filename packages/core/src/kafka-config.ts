/**
 * The one Kafka connection configuration shared by the Kafka sink, the Kafka source and snapshot shipping:
 * brokers, the client library, TLS (private CA, mutual TLS) and SASL (PLAIN, SCRAM-SHA-256/512). The factory that
 * turns it into a client lives in `@ruletrail/kafka-client`; this module has no third-party imports so the config
 * schema and validation can be used without loading a Kafka client.
 */
import { readFileSync } from 'node:fs';
import { readSecretFileSync } from './secret-file';
import type { ConnectionOptions } from 'node:tls';

/** Which Kafka client library does the talking. Both sit behind `@ruletrail/kafka-client`'s interfaces. */
export type KafkaClientName = 'kafkajs' | 'platformatic';
export const KAFKA_CLIENT_NAMES: readonly KafkaClientName[] = Object.freeze(['kafkajs', 'platformatic']);

/** TLS to the brokers. PEM content (`ca`, `cert`, `key`) or file paths (`caFile`, `certFile`, `keyFile`). */
export interface KafkaTlsConfig {
  /** CA bundle that signed the brokers' certificates; the system CAs are used when absent. */
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
  readonly caFile?: string;
  /** Client certificate and key for mutual TLS. */
  readonly cert?: string | Buffer;
  readonly certFile?: string;
  readonly key?: string | Buffer;
  readonly keyFile?: string;
  readonly passphrase?: string;
  /** Server name for SNI and certificate checks when it differs from the broker host. */
  readonly servername?: string;
  /**
   * Verify the brokers' certificates. Default true. Setting false is refused unless
   * `allowInsecure: true` is also set, so an example config cannot switch verification off by accident.
   */
  readonly rejectUnauthorized?: boolean;
  readonly allowInsecure?: boolean;
}

/** SASL authentication. SCRAM is preferred; PLAIN sends the password itself, so it requires TLS. */
export interface KafkaSaslConfig {
  readonly mechanism: 'scram-sha-256' | 'scram-sha-512' | 'plain';
  readonly username: string;
  readonly password: string;
}

/** How to reach and authenticate to the brokers: the same fields for the sink, the source and snapshots. */
export interface KafkaConnectionConfig {
  /** Bootstrap brokers, `host:port`. Use `127.0.0.1` rather than `localhost` (Node resolves it to ::1 first). */
  readonly brokers: readonly string[];
  /** Kafka client id (broker logs, quotas). Default `ruletrail`. */
  readonly clientId?: string;
  /** Client library. Default `kafkajs` (see docs/sinks.md for why). */
  readonly client?: KafkaClientName;
  /** `true` (system CAs) or TLS options to connect with TLS. */
  readonly tls?: boolean | KafkaTlsConfig;
  /** Older spelling of `tls: true`, still accepted for the source and snapshot topic. */
  readonly ssl?: boolean;
  readonly sasl?: KafkaSaslConfig;
  /** Client-side request timeout. Default 30 000 ms. */
  readonly requestTimeoutMs?: number;
  /** TCP/TLS connect timeout. Default 10 000 ms. */
  readonly connectionTimeoutMs?: number;
  /** Retries inside the client library for one request, before ruletrail's own backoff takes over. Default 5. */
  readonly clientRetries?: number;
}

export const KAFKA_CONNECTION_DEFAULTS: Readonly<{
  clientId: string;
  client: KafkaClientName;
  requestTimeoutMs: number;
  connectionTimeoutMs: number;
  clientRetries: number;
}> = Object.freeze({
  clientId: 'ruletrail',
  client: 'kafkajs',
  requestTimeoutMs: 30_000,
  connectionTimeoutMs: 10_000,
  clientRetries: 5,
});

/**
 * Error codes every Kafka package raises for the same failure (docs/sinks.md#error-codes is the catalogue).
 * They are defined here, next to `kafkaConnectErrorCode`, which picks between them.
 */
export const KAFKA_ERROR_CODES = Object.freeze({
  /** Brokers unreachable, timed out, or the connection dropped: retriable. */
  connect: 'RT_ERR_KAFKA_CONNECT',
  /** The broker's certificate was refused (unknown CA, name mismatch, expired): a config error, not retriable. */
  tls: 'RT_ERR_KAFKA_TLS',
  /** SASL authentication failed (wrong mechanism, user or password): a config error, not retriable. */
  auth: 'RT_ERR_KAFKA_AUTH',
  /** The config itself is invalid (reported before connecting). */
  config: 'RT_ERR_KAFKA_CONFIG',
});
export type KafkaErrorCode = (typeof KAFKA_ERROR_CODES)[keyof typeof KAFKA_ERROR_CODES];

/** The problems with a connection config, as `field: reason` strings (never including a secret value). */
export function kafkaConnectionProblems(c: KafkaConnectionConfig): string[] {
  const problems: string[] = [];
  if (!Array.isArray(c.brokers) || c.brokers.length === 0)
    problems.push('brokers: at least one host:port is required');
  else
    for (const b of c.brokers)
      if (typeof b !== 'string' || !/^[^\s:]+:\d+$/.test(b))
        problems.push(`brokers: "${String(b)}" is not host:port`);
  if (c.client !== undefined && !KAFKA_CLIENT_NAMES.includes(c.client))
    problems.push(`client: one of ${KAFKA_CLIENT_NAMES.join(', ')}`);
  if (c.sasl !== undefined) {
    if (!['scram-sha-256', 'scram-sha-512', 'plain'].includes(c.sasl.mechanism))
      problems.push('sasl.mechanism: one of scram-sha-256, scram-sha-512, plain');
    if (!c.sasl.username) problems.push('sasl.username: required');
    if (!c.sasl.password) problems.push('sasl.password: required');
    if (c.sasl.mechanism === 'plain' && !c.tls && !c.ssl)
      problems.push('sasl: PLAIN sends the password in clear text; enable tls');
  }
  if (typeof c.tls === 'object') {
    const t = c.tls;
    if (t.rejectUnauthorized === false && t.allowInsecure !== true)
      problems.push('tls.rejectUnauthorized: false needs tls.allowInsecure: true as well');
    if (t.ca !== undefined && t.caFile !== undefined) problems.push('tls: give ca or caFile, not both');
    if (t.cert !== undefined && t.certFile !== undefined)
      problems.push('tls: give cert or certFile, not both');
    if (t.key !== undefined && t.keyFile !== undefined) problems.push('tls: give key or keyFile, not both');
    const hasCert = t.cert !== undefined || t.certFile !== undefined;
    const hasKey = t.key !== undefined || t.keyFile !== undefined;
    if (hasCert !== hasKey) problems.push('tls: mutual TLS needs both a client certificate and its key');
  }
  return problems;
}

/** Node TLS options for the config, with `*File` fields read now (a missing file throws, naming it). */
export function kafkaTlsOptions(
  c: Pick<KafkaConnectionConfig, 'tls' | 'ssl'>,
): ConnectionOptions | undefined {
  const tls = c.tls ?? (c.ssl === true ? true : undefined);
  if (tls === undefined || tls === false) return undefined;
  if (tls === true) return { rejectUnauthorized: true };
  const read = (field: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`Kafka tls.${field}: cannot read ${path}: ${(err as Error).message}`);
    }
  };
  const out: ConnectionOptions = { rejectUnauthorized: tls.rejectUnauthorized !== false };
  if (tls.ca !== undefined)
    out.ca = Array.isArray(tls.ca) ? [...(tls.ca as (string | Buffer)[])] : (tls.ca as string | Buffer);
  if (tls.caFile !== undefined) out.ca = read('caFile', tls.caFile);
  if (tls.cert !== undefined) out.cert = tls.cert;
  if (tls.certFile !== undefined) out.cert = read('certFile', tls.certFile);
  if (tls.key !== undefined) out.key = tls.key;
  // The private key is a secret: refused when every user can read it (secret-file.ts).
  if (tls.keyFile !== undefined) out.key = readSecretFileSync(tls.keyFile, 'Kafka tls.keyFile');
  if (tls.passphrase !== undefined) out.passphrase = tls.passphrase;
  if (tls.servername !== undefined) out.servername = tls.servername;
  return out;
}

/**
 * JSON Schema properties of `KafkaConnectionConfig` (for the pipeline config and a plugin registry). Spread them
 * into an object schema with `additionalProperties: false`; `brokers` is required.
 */
export const KAFKA_CONNECTION_SCHEMA_PROPERTIES = {
  brokers: {
    type: 'array',
    minItems: 1,
    items: { type: 'string', pattern: '^[^\\s:]+:\\d+$' },
    description: 'Bootstrap brokers, host:port.',
  },
  clientId: { type: 'string', default: 'ruletrail', description: 'Kafka client id.' },
  client: {
    enum: ['kafkajs', 'platformatic'],
    default: 'kafkajs',
    description: 'Client library: kafkajs (default) or @platformatic/kafka.',
  },
  tls: {
    description: 'TLS to the brokers: true (system CAs) or options.',
    oneOf: [
      { type: 'boolean' },
      {
        type: 'object',
        additionalProperties: false,
        properties: {
          ca: { type: 'string', description: 'PEM CA bundle that signed the brokers’ certificates.' },
          caFile: { type: 'string', description: 'Path of that PEM CA bundle.' },
          cert: { type: 'string', description: 'PEM client certificate (mutual TLS).' },
          certFile: { type: 'string' },
          key: { type: 'string', description: 'PEM client key (mutual TLS).' },
          keyFile: { type: 'string' },
          passphrase: { type: 'string' },
          servername: {
            type: 'string',
            description: 'SNI / certificate name when it differs from the host.',
          },
          rejectUnauthorized: { type: 'boolean', default: true },
          allowInsecure: {
            type: 'boolean',
            description: 'Must be true as well for rejectUnauthorized: false to be accepted.',
          },
        },
      },
    ],
  },
  ssl: { type: 'boolean', description: 'Older spelling of tls: true.' },
  sasl: {
    type: 'object',
    additionalProperties: false,
    required: ['mechanism', 'username', 'password'],
    properties: {
      mechanism: { enum: ['plain', 'scram-sha-256', 'scram-sha-512'] },
      username: { type: 'string' },
      password: {
        type: 'string',
        description: 'Use ${ENV_VAR}: the config loader substitutes environment variables.',
      },
    },
  },
  requestTimeoutMs: { type: 'integer', minimum: 1, default: 30_000 },
  connectionTimeoutMs: { type: 'integer', minimum: 1, default: 10_000 },
  clientRetries: { type: 'integer', minimum: 0, default: 5 },
} as const;
