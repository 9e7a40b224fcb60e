/** Kafka sink units that need no broker: error classification, config checks, secret hygiene. */
import assert from 'node:assert/strict';
import {
  KafkaJSConnectionError,
  KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
  KafkaJSSASLAuthenticationError,
} from 'kafkajs';
import { KafkaSink, classifyKafkaError, validateKafkaConfig } from '../src/index';
import { captureLogger } from '../../../test/support/services';

describe('Kafka sink (unit)', () => {
  it('classifies kafkajs errors, unwrapping retry wrappers', () => {
    const conn = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092');
    assert.equal(classifyKafkaError(conn), 'retriable');
    // kafkajs's typings declare one argument; the runtime (and kafkajs itself) passes { cause } too.
    // @ts-expect-error the second constructor argument is missing from kafkajs's .d.ts
    assert.equal(classifyKafkaError(new KafkaJSNonRetriableError(conn, { cause: conn })), 'retriable');
    assert.equal(
      classifyKafkaError(new KafkaJSNumberOfRetriesExceeded(conn, { retryCount: 5, retryTime: 1000 })),
      'retriable',
    );
    const tooLarge = new KafkaJSProtocolError({
      type: 'MESSAGE_TOO_LARGE',
      code: 10,
      retriable: false,
      message: 'too large',
    } as unknown as Error);
    assert.equal(classifyKafkaError(tooLarge), 'record');
    const seq = new KafkaJSProtocolError({
      type: 'OUT_OF_ORDER_SEQUENCE_NUMBER',
      code: 45,
      retriable: false,
      message: 'seq',
    } as unknown as Error);
    assert.equal(classifyKafkaError(seq), 'producer-state');
    const authz = new KafkaJSProtocolError({
      type: 'TOPIC_AUTHORIZATION_FAILED',
      code: 29,
      retriable: false,
      message: 'Not authorized',
    } as unknown as Error);
    assert.equal(classifyKafkaError(authz), 'fatal');
    const leader = new KafkaJSProtocolError({
      type: 'NOT_LEADER_OR_FOLLOWER',
      code: 6,
      retriable: true,
      message: 'not leader',
    } as unknown as Error);
    assert.equal(classifyKafkaError(leader), 'retriable');
    assert.equal(
      // @ts-expect-error kafkajs's .d.ts declares no constructor arguments for this error class
      classifyKafkaError(new KafkaJSSASLAuthenticationError('SASL SCRAM SHA512 authentication failed')),
      'fatal',
    );
  });

  it('validates configs with readable errors that never echo secrets', () => {
    assert.throws(() => validateKafkaConfig({ brokers: [], topic: 't' }), /brokers/);
    assert.throws(() => validateKafkaConfig({ brokers: ['localhost'], topic: 't' }), /host:port/);
    assert.throws(() => validateKafkaConfig({ brokers: ['h:1'], topic: '' }), /topic/);
    assert.throws(
      () =>
        validateKafkaConfig({
          brokers: ['h:1'],
          topic: 't',
          sasl: { mechanism: 'plain', username: 'u', password: 'hunter22' },
        }),
      (e: Error) => /PLAIN/.test(e.message) && !e.message.includes('hunter22'),
    );
    assert.throws(
      () => validateKafkaConfig({ brokers: ['h:1'], topic: 't', tls: { rejectUnauthorized: false } }),
      /allowInsecure/,
    );
    validateKafkaConfig({
      brokers: ['127.0.0.1:9092'],
      topic: 't',
      tls: { rejectUnauthorized: false, allowInsecure: true },
    });
  });

  it('an unreachable broker makes connect() fail retriably, without the password anywhere', async () => {
    const lines: string[] = [];
    const password = 'pa55-unreachable-SECRET';
    const sink = new KafkaSink(
      {
        brokers: ['127.0.0.1:1'],
        topic: 't',
        clientRetries: 0,
        connectionTimeoutMs: 500,
        tls: true,
        sasl: { mechanism: 'scram-sha-512', username: 'u', password },
      },
      { logger: captureLogger(lines) },
    );
    const err = await sink.connect().then(
      () => undefined,
      (e: unknown) => e as Error & { retriable: boolean },
    );
    assert.ok(err);
    assert.equal(err.retriable, true);
    assert.ok(!err.message.includes(password));
    for (const l of lines) assert.ok(!l.includes(password));
    await sink.close();
  });

  it('routes alerts to the alert topic', () => {
    const sink = new KafkaSink({ brokers: ['h:1'], topic: 'packets' });
    assert.equal(sink.topicFor({ id: 'a', key: 'k', kind: 'alert', body: {} }), 'packets.alerts');
    assert.equal(sink.topicFor({ id: 'a', key: 'k', kind: 'packet', body: {} }), 'packets');
    assert.equal(
      new KafkaSink({ brokers: ['h:1'], topic: 'p', alertTopic: 'al' }).topicFor({
        id: 'a',
        key: 'k',
        kind: 'alert',
        body: {},
      }),
      'al',
    );
  });
});
