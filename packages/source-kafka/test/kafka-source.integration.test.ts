/**
 * The Kafka source and the snapshot feed against the real broker of services/start.sh kafka (RUN_SERVICE_TESTS=1),
 * with each client library, connecting over SASL_SSL (SCRAM-SHA-512) and verifying the broker's certificate with
 * the test's private CA: the same connection config as the sink (`@ruletrail/core` kafka-config.ts).
 */
import assert from 'node:assert/strict';
import { KAFKA_CLIENT_NAMES, type KafkaConnectionConfig } from '@ruletrail/core';
import { createKafkaClient } from '@ruletrail/kafka-client';
import { kernelLogPlugin } from '@ruletrail/ingest-kernel-log';
import {
  IngestResolver,
  JsonLogger,
  type ComponentMetrics,
  type SourceContext,
  type SourceUnit,
} from '@ruletrail/pipeline';
import { KafkaSource } from '../src/index';
import { requireServices } from '../../../test/support/services';

const NOOP_METRICS: ComponentMetrics = {
  received() {},
  sent() {},
  error() {},
  discarded() {},
  lag() {},
};

for (const client of KAFKA_CLIENT_NAMES)
  describe(`Kafka source over SASL_SSL with a private CA (real broker, client ${client})`, function () {
    this.timeout(120_000);
    let plain: KafkaConnectionConfig;
    let secure: KafkaConnectionConfig;

    before(function () {
      const env = requireServices(this, [
        'KAFKA_BROKERS',
        'KAFKA_SASL_SSL_BROKERS',
        'KAFKA_SCRAM_USERNAME',
        'KAFKA_SCRAM_PASSWORD',
        'RULETRAIL_TEST_CA',
      ]);
      plain = { brokers: [env.KAFKA_BROKERS!] };
      secure = {
        client,
        brokers: [env.KAFKA_SASL_SSL_BROKERS!],
        tls: { caFile: env.RULETRAIL_TEST_CA! },
        sasl: {
          mechanism: 'scram-sha-512',
          username: env.KAFKA_SCRAM_USERNAME!,
          password: env.KAFKA_SCRAM_PASSWORD!,
        },
      };
    });

    it('consumes every line of a 3-partition topic and commits the acknowledged offsets', async () => {
      const topic = `rt-src-${client}-${Date.now()}`;
      const groupId = `${topic}-group`;
      const total = 3000;
      const setup = await createKafkaClient(plain);
      const admin = setup.admin();
      await admin.createTopics([topic], { numPartitions: 3, replicationFactor: 1 });
      const producer = setup.producer({ idempotent: true, compression: 'none', ackTimeoutMs: 30_000 });
      await producer.connect();
      const sent = Array.from({ length: total }, (_, i) => `line ${i} host-${i % 7}`);
      for (let i = 0; i < total; i += 500)
        await producer.send(
          sent
            .slice(i, i + 500)
            .map((value, j) => ({ topic, key: `host-${(i + j) % 7}`, value, headers: {} })),
        );
      await producer.close();

      const got: string[] = [];
      const abort = new AbortController();
      let allIn!: () => void;
      const received = new Promise<void>((r) => (allIn = r));
      const ctx: SourceContext = {
        log: new JsonLogger('warn'),
        metrics: NOOP_METRICS,
        checkpoint: undefined,
        ingest: (head, name) =>
          new IngestResolver([kernelLogPlugin], { format: 'kernel-log' }).choose(head, name),
        signal: abort.signal,
        emit: (unit: SourceUnit) => {
          assert.match(unit.origin, new RegExp(`^kafka:${topic}/[0-2]$`));
          const text = (unit.data as Buffer).toString('utf8');
          got.push(...text.split('\n').filter((l) => l.length > 0));
          // Nothing retains these lines in this test: the segment is acknowledged as soon as it is decoded.
          unit.segment?.seal();
          if (got.length >= total) allIn();
          return Promise.resolve();
        },
      };
      const source = new KafkaSource({
        ...secure,
        id: 'kafka',
        type: 'kafka',
        clientId: 'ruletrail-test',
        topic,
        groupId,
        fromBeginning: true,
        format: 'kernel-log',
      });
      const running = source.run(ctx);
      await Promise.race([received, running]);
      abort.abort();
      await running;
      await source.close();
      assert.deepEqual([...got].sort(), [...sent].sort());

      // What the group committed: every partition's end, so a restart re-reads nothing.
      const ends = await admin.topicOffsets(topic);
      const committed = await committedOffsets(plain, groupId, topic);
      for (const e of ends) assert.equal(committed.get(e.partition), e.high, `partition ${e.partition}`);
      await admin.close();
    });

    it('a wrong password: the source fails with RT_ERR_KAFKA_AUTH, without the password', async () => {
      const wrong = 'Wr0ng-password-x';
      const source = new KafkaSource({
        ...secure,
        sasl: { ...secure.sasl!, password: wrong },
        clientRetries: 0,
        id: 'kafka',
        type: 'kafka',
        clientId: 'ruletrail-test',
        topic: 'rt-never',
        groupId: 'rt-never',
        fromBeginning: true,
        format: 'kernel-log',
      });
      const abort = new AbortController();
      const ctx = {
        log: new JsonLogger('error'),
        metrics: NOOP_METRICS,
        checkpoint: undefined,
        ingest: (head, name) =>
          new IngestResolver([kernelLogPlugin], { format: 'kernel-log' }).choose(head, name),
        signal: abort.signal,
        emit: () => Promise.resolve(),
      } satisfies SourceContext;
      await assert.rejects(source.run(ctx), (e: Error & { code?: string; retriable?: boolean }) => {
        assert.equal(e.code, 'RT_ERR_KAFKA_AUTH');
        assert.equal(e.retriable, false);
        assert.ok(!e.message.includes(wrong), 'password leaked');
        return true;
      });
      await source.close();
    });
  });

/** The group's committed positions, read with kafkajs's admin directly (independent of the code under test). */
async function committedOffsets(
  c: KafkaConnectionConfig,
  groupId: string,
  topic: string,
): Promise<Map<number, number>> {
  const { Kafka, logLevel } = await import('kafkajs');
  const admin = new Kafka({ brokers: [...c.brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return new Map((t?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
  } finally {
    await admin.disconnect();
  }
}
