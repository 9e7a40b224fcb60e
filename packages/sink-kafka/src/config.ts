/** Configuration of the Kafka sink. Every field is documented here; docs/sinks.md shows examples. */

/** TLS to the brokers. Certificates are PEM strings or Buffers (read the files yourself, e.g. with `readFileSync`). */
export interface KafkaTlsConfig {
  /** CA bundle that signed the brokers' certificates; the system CAs are used when absent. */
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
  /** Client certificate and key for mutual TLS. */
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
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

export type KafkaCompression = 'none' | 'gzip';

export interface KafkaSinkConfig {
  /** Bootstrap brokers, `host:port`. Use `127.0.0.1` rather than `localhost` (Node resolves it to ::1 first). */
  readonly brokers: readonly string[];
  /** Kafka client id (broker logs, quotas). Default `ruletrail`. */
  readonly clientId?: string;
  /** Topic for explained packets. */
  readonly topic: string;
  /** Topic for alerts. Default `<topic>.alerts`. */
  readonly alertTopic?: string;
  /**
   * Batch compression. Default `gzip` (the only codec built into kafkajs; the broker keeps the producer's codec
   * with `compression.type=producer`, its default).
   */
  readonly compression?: KafkaCompression;
  /**
   * Idempotent producer (acks=all, producer id + sequence numbers: the broker drops a retried batch it already has).
   * Default true. kafkajs calls it experimental and does not track sequences across concurrent sends, so the sink
   * then sends one batch at a time per producer; see docs/sinks.md for the measured cost.
   */
  readonly idempotent?: boolean;
  /** How long the leader waits for all in-sync replicas (acks=all) before answering. Default 30 000 ms. */
  readonly ackTimeoutMs?: number;
  /** Client-side request timeout. Default 30 000 ms. */
  readonly requestTimeoutMs?: number;
  /** TCP/TLS connect timeout. Default 10 000 ms. */
  readonly connectionTimeoutMs?: number;
  /**
   * Records whose JSON value is larger are rejected (dead-lettered) without being sent. Keep it ≤ the broker's
   * `message.max.bytes` (default 1 MiB). Default 1 000 000.
   */
  readonly maxMessageBytes?: number;
  /** Retries inside kafkajs for one send, before the runner's own backoff takes over. Default 5. */
  readonly clientRetries?: number;
  /** `true` (or TLS options) to connect with TLS. */
  readonly tls?: boolean | KafkaTlsConfig;
  readonly sasl?: KafkaSaslConfig;
  /**
   * Create missing topics on connect with these settings (needs the CreateTopics ACL). Default: off; topics are
   * then expected to exist (or the broker auto-creates them).
   */
  readonly createTopics?: { readonly numPartitions?: number; readonly replicationFactor?: number };
}

export const KAFKA_DEFAULTS: Readonly<{
  clientId: string;
  compression: KafkaCompression;
  idempotent: boolean;
  ackTimeoutMs: number;
  requestTimeoutMs: number;
  connectionTimeoutMs: number;
  maxMessageBytes: number;
  clientRetries: number;
}> = Object.freeze({
  clientId: 'ruletrail',
  compression: 'gzip',
  idempotent: true,
  ackTimeoutMs: 30_000,
  requestTimeoutMs: 30_000,
  connectionTimeoutMs: 10_000,
  maxMessageBytes: 1_000_000,
  clientRetries: 5,
});

/**
 * Message headers every record carries (names are part of the public contract). The value is always UTF-8 JSON,
 * so there is no content-type header: each header costs kafkajs several buffer allocations per message.
 */
export const KAFKA_HEADERS = Object.freeze({
  schema: 'ruletrail-schema',
  kind: 'ruletrail-kind',
  id: 'ruletrail-id',
});

/** Checks a config and throws a readable error (never including a secret value). */
export function validateKafkaConfig(c: KafkaSinkConfig): void {
  const problems: string[] = [];
  if (!Array.isArray(c.brokers) || c.brokers.length === 0)
    problems.push('brokers: at least one host:port is required');
  else
    for (const b of c.brokers)
      if (typeof b !== 'string' || !/^[^\s:]+:\d+$/.test(b))
        problems.push(`brokers: "${String(b)}" is not host:port`);
  if (typeof c.topic !== 'string' || c.topic.length === 0) problems.push('topic: required');
  if (c.compression !== undefined && c.compression !== 'none' && c.compression !== 'gzip')
    problems.push('compression: one of none, gzip');
  if (c.sasl !== undefined) {
    if (!['scram-sha-256', 'scram-sha-512', 'plain'].includes(c.sasl.mechanism))
      problems.push('sasl.mechanism: one of scram-sha-256, scram-sha-512, plain');
    if (!c.sasl.username) problems.push('sasl.username: required');
    if (!c.sasl.password) problems.push('sasl.password: required');
    if (c.sasl.mechanism === 'plain' && !c.tls)
      problems.push('sasl: PLAIN sends the password in clear text; enable tls');
  }
  if (typeof c.tls === 'object' && c.tls.rejectUnauthorized === false && c.tls.allowInsecure !== true) {
    problems.push('tls.rejectUnauthorized: false needs tls.allowInsecure: true as well');
  }
  if (problems.length > 0) throw new Error(`Invalid Kafka sink config: ${problems.join('; ')}`);
}
