import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kafkaConnectionProblems, kafkaTlsOptions } from '@ruletrail/core';
import { classifyPlatformaticError, createKafkaClient } from '../src/index';

describe('kafka-client (unit)', () => {
  it('classifies @platformatic/kafka errors built by the library itself', async () => {
    const plt = await import('@platformatic/kafka');
    const protocol = (id: string): Error => new plt.ProtocolError(id);
    assert.equal(classifyPlatformaticError(protocol('MESSAGE_TOO_LARGE')), 'record');
    assert.equal(classifyPlatformaticError(protocol('OUT_OF_ORDER_SEQUENCE_NUMBER')), 'producer-state');
    assert.equal(classifyPlatformaticError(protocol('NOT_LEADER_OR_FOLLOWER')), 'retriable');
    assert.equal(classifyPlatformaticError(protocol('TOPIC_AUTHORIZATION_FAILED')), 'fatal');
    const network = new plt.NetworkError('Connection to 127.0.0.1:1 failed.');
    assert.equal(classifyPlatformaticError(network), 'retriable');
    // Retries exhausted: an aggregate of the attempts; the worst class decides.
    assert.equal(
      classifyPlatformaticError(new plt.MultipleErrors('x failed 3 times.', [network, network])),
      'retriable',
    );
    assert.equal(
      classifyPlatformaticError(
        new plt.MultipleErrors('produce failed', [network, protocol('MESSAGE_TOO_LARGE')]),
      ),
      'record',
    );
    assert.equal(
      classifyPlatformaticError(new plt.AuthenticationError('SASL authentication failed.')),
      'fatal',
    );
  });

  it('checks connection configs and reads TLS files, naming the file that is missing', () => {
    assert.deepEqual(kafkaConnectionProblems({ brokers: ['127.0.0.1:9092'] }), []);
    const problems = kafkaConnectionProblems({
      brokers: ['nohost'],
      client: 'rdkafka' as never,
      sasl: { mechanism: 'plain', username: 'u', password: 'secret-pw' },
      tls: undefined,
    });
    assert.ok(problems.some((p) => p.includes('"nohost" is not host:port')));
    assert.ok(problems.some((p) => p.startsWith('client:')));
    assert.ok(problems.some((p) => p.includes('PLAIN')));
    assert.ok(!problems.join().includes('secret-pw'));
    assert.ok(
      kafkaConnectionProblems({ brokers: ['a:1'], tls: { certFile: '/x.pem' } }).some((p) =>
        p.includes('mutual TLS'),
      ),
    );
    const dir = mkdtempSync(join(tmpdir(), 'rt-kafka-tls-'));
    writeFileSync(join(dir, 'ca.pem'), 'PEM-CA');
    const o = kafkaTlsOptions({ tls: { caFile: join(dir, 'ca.pem') } });
    assert.equal(String(o?.ca), 'PEM-CA');
    assert.equal(o?.rejectUnauthorized, true);
    assert.deepEqual(kafkaTlsOptions({ ssl: true }), { rejectUnauthorized: true });
    assert.equal(kafkaTlsOptions({}), undefined);
    assert.throws(
      () => kafkaTlsOptions({ tls: { caFile: join(dir, 'missing.pem') } }),
      /tls\.caFile: cannot read .*missing\.pem/,
    );
  });

  it('an invalid config fails with RT_ERR_KAFKA_CONFIG before any client is made', async () => {
    await assert.rejects(createKafkaClient({ brokers: [] }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'RT_ERR_KAFKA_CONFIG');
      return true;
    });
  });
});
