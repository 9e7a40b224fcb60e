/**
 * The one Kafka client factory for the sink, the source and snapshot shipping: a connection config in, a
 * `KafkaClient` of the chosen library out. The library is loaded only when chosen.
 */
import {
  KAFKA_CONNECTION_DEFAULTS,
  KAFKA_ERROR_CODES,
  NOOP_LOGGER,
  SinkError,
  isCertificateError,
  kafkaConnectionProblems,
  type KafkaConnectionConfig,
  type SinkLogger,
} from '@ruletrail/core';
import { kafkajsClient } from './kafkajs';
import { platformaticClient } from './platformatic';
import type { KafkaClient } from './types';

/** A client for the config (validated first: an invalid config throws `RT_ERR_KAFKA_CONFIG`). */
export async function createKafkaClient(
  config: KafkaConnectionConfig,
  log: SinkLogger = NOOP_LOGGER,
): Promise<KafkaClient> {
  validateKafkaConnection(config);
  const name = config.client ?? KAFKA_CONNECTION_DEFAULTS.client;
  if (name === 'platformatic') {
    // An ES module: `import()` keeps it out of start-up unless chosen.
    const plt = await import('@platformatic/kafka');
    return platformaticClient(plt, config, log);
  }
  return kafkajsClient(config, log);
}

/** Throws `RT_ERR_KAFKA_CONFIG` listing every problem of the connection config (never a secret value). */
export function validateKafkaConnection(config: KafkaConnectionConfig, what = 'Kafka'): void {
  const problems = kafkaConnectionProblems(config);
  if (problems.length > 0)
    throw new SinkError(KAFKA_ERROR_CODES.config, `Invalid ${what} config: ${problems.join('; ')}`, {
      retriable: false,
    });
}

/**
 * The error every Kafka package raises when it cannot connect: `RT_ERR_KAFKA_TLS` (certificate refused) and
 * `RT_ERR_KAFKA_AUTH` (SASL failed) are config errors, not retriable; `RT_ERR_KAFKA_CONNECT` is retriable.
 * `describe` turns the cause into text without secrets (a `Redactor`).
 */
export function kafkaConnectError(
  client: KafkaClient,
  brokers: readonly string[],
  err: unknown,
  describe: (err: unknown) => string,
): SinkError {
  const nodes = errorTree(err);
  const code = nodes.some((e) => isCertificateError(e))
    ? KAFKA_ERROR_CODES.tls
    : nodes.some((e) => client.isAuthError(e))
      ? KAFKA_ERROR_CODES.auth
      : KAFKA_ERROR_CODES.connect;
  // Aggregates ("metadata failed 3 times") say little: name the innermost cause as well.
  const leaf = nodes[nodes.length - 1];
  const reason = leaf !== undefined && leaf !== err ? `${describe(err)}: ${describe(leaf)}` : describe(err);
  return new SinkError(code, `Kafka: cannot connect to ${brokers.join(',')}: ${reason}`, {
    retriable: code === KAFKA_ERROR_CODES.connect,
  });
}

/** An error and what it wraps (`cause`, kafkajs's `originalError`, an aggregate's first error), outermost first. */
function errorTree(err: unknown): unknown[] {
  const out: unknown[] = [];
  for (let e = err; e !== null && typeof e === 'object' && out.length < 8;) {
    out.push(e);
    const x = e as { cause?: unknown; originalError?: unknown; errors?: unknown[] };
    e = x.cause ?? x.originalError ?? (Array.isArray(x.errors) ? x.errors[0] : undefined);
  }
  return out;
}
