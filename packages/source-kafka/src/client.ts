/**
 * One place that turns the config's Kafka client settings into a kafkajs client, with kafkajs's own logging
 * routed into ruletrail's structured logs (never its default console output, and never credentials).
 */
import { Kafka, logLevel, type SASLOptions } from 'kafkajs';
import type { KafkaClientConfig, Logger } from '@ruletrail/pipeline';

/** A kafkajs client for the config. */
export function kafkaClient(c: KafkaClientConfig, log: Logger): Kafka {
  return new Kafka({
    clientId: c.clientId,
    brokers: [...c.brokers],
    ssl: c.ssl,
    ...(c.sasl
      ? {
          sasl: {
            mechanism: c.sasl.mechanism,
            username: c.sasl.username,
            password: c.sasl.password,
          } as SASLOptions,
        }
      : {}),
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }) => {
        const { message, ...rest } = entry;
        // kafkajs messages are lower case fragments; keep them as they are, as a field.
        const fields = { kafka: message, broker: rest.broker as unknown, error: rest.error as unknown };
        if (level <= logLevel.ERROR) log.error('Kafka client error.', fields);
        else log.warn('Kafka client warning.', fields);
      },
  });
}
