/**
 * The Kafka sink against a real Apache Kafka 4.x broker started by services/start.sh kafka
 * (RUN_SERVICE_TESTS=1). Everything is checked by consuming the topics back.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Kafka, logLevel, type KafkaMessage } from 'kafkajs';
import {
  KAFKA_CLIENT_NAMES,
  MemorySinkDeadLetter,
  SinkRunner,
  explainedPacketRecord,
  type SinkRecord,
} from '@ruletrail/core';
import { KAFKA_HEADERS, KafkaSink, type KafkaSinkConfig } from '../src/index';
import {
  alertRecord,
  captureLogger,
  explainedPacket,
  requireServices,
  servicesScript,
} from '../../../test/support/services';

interface Consumed {
  topic: string;
  partition: number;
  offset: string;
  message: KafkaMessage;
}

/** Reads topics from the beginning until `done(all)` says stop, or the timeout. */
async function consume(
  brokers: string[],
  topics: string[],
  done: (all: Consumed[]) => boolean,
  timeoutMs = 60_000,
): Promise<Consumed[]> {
  const kafka = new Kafka({ brokers, clientId: 'ruletrail-test-consumer', logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({
    groupId: `rt-test-${Date.now()}-${Math.random()}`,
    maxBytesPerPartition: 4 << 20,
  });
  const all: Consumed[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`consumed ${all.length} messages before the ${timeoutMs} ms timeout`)),
        timeoutMs,
      );
      consumer
        .run({
          eachBatch: async ({ batch }) => {
            for (const message of batch.messages)
              all.push({ topic: batch.topic, partition: batch.partition, offset: message.offset, message });
            if (done(all)) {
              clearTimeout(timer);
              resolve();
            }
            await Promise.resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return all;
}

function header(m: KafkaMessage, name: string): string | undefined {
  const v = m.headers?.[name];
  return v === undefined ? undefined : String(v);
}

for (const client of KAFKA_CLIENT_NAMES)
  describe(`Kafka sink (real broker, client ${client})`, function () {
    this.timeout(300_000);
    let env: Record<string, string>;
    let brokers: string[];

    before(function () {
      env = requireServices(this, ['KAFKA_BROKERS']);
      brokers = [env.KAFKA_BROKERS!];
    });

    it('round trip: every packet and alert comes back field by field, keyed per packet, with headers', async () => {
      const topic = `rt-${client}-packets-${Date.now()}`;
      const config: KafkaSinkConfig = {
        client,
        brokers,
        topic,
        createTopics: { numPartitions: 6, replicationFactor: 1 },
      };
      const packets = Array.from({ length: 600 }, (_, i) => explainedPacketRecord(explainedPacket(i)));
      const alerts: SinkRecord[] = Array.from({ length: 25 }, (_, i) => alertRecord(i, `node-1|alert-${i}`));
      const runner = new SinkRunner(new KafkaSink(config), {
        batch: { maxEvents: 100, maxBytes: 1e6, maxWaitMs: 50 },
        maxInFlight: 2,
      });
      await runner.start();
      await runner.pushAll([...packets.slice(0, 300), ...alerts, ...packets.slice(300)]);
      const counters = await runner.close();
      assert.equal(counters.sent, 625);
      assert.equal(counters.rejected + counters.failed, 0);

      const got = await consume(brokers, [topic, `${topic}.alerts`], (all) => all.length >= 625);
      assert.equal(got.length, 625);
      const byId = new Map(got.map((c) => [header(c.message, KAFKA_HEADERS.id)!, c]));
      for (const r of [...packets, ...alerts]) {
        const c = byId.get(r.id);
        assert.ok(c, `record ${r.id} missing`);
        assert.equal(c.topic, r.kind === 'alert' ? `${topic}.alerts` : topic);
        assert.equal(c.message.key?.toString(), r.key);
        assert.deepEqual(JSON.parse(c.message.value!.toString()), r.body);
        assert.equal(header(c.message, KAFKA_HEADERS.schema), '1');
        assert.equal(header(c.message, KAFKA_HEADERS.kind), r.kind);
        assert.deepEqual(Object.keys(c.message.headers ?? {}).sort(), Object.values(KAFKA_HEADERS).sort());
        if (r.timestamp) assert.equal(Number(c.message.timestamp), Date.parse(r.timestamp));
      }
      // Same key → same partition (per-packet ordering).
      const partitionOfKey = new Map<string, number>();
      for (const c of got) {
        const k = c.message.key!.toString();
        const p = partitionOfKey.get(k);
        if (p !== undefined) assert.equal(c.partition, p);
        partitionOfKey.set(k, c.partition);
      }
      assert.ok(
        new Set(got.filter((c) => c.topic === topic).map((c) => c.partition)).size > 1,
        'packets spread over partitions',
      );
    });

    it('keeps the order of one key within its partition', async () => {
      const topic = `rt-${client}-order-${Date.now()}`;
      const runner = new SinkRunner(
        new KafkaSink({
          client,
          brokers,
          topic,
          createTopics: { numPartitions: 3 },
        }),
        {
          batch: { maxEvents: 50, maxBytes: 1e6, maxWaitMs: 20 },
          maxInFlight: 1,
        },
      );
      await runner.start();
      const recs: SinkRecord[] = Array.from({ length: 300 }, (_, i) => ({
        id: `o-${i}`,
        key: `k-${i % 4}`,
        kind: 'packet',
        body: { seq: i },
      }));
      await runner.pushAll(recs);
      await runner.close();
      const got = await consume(brokers, [topic], (all) => all.length >= 300);
      const lastSeq = new Map<string, number>();
      for (const c of got.sort((a, b) => a.partition - b.partition || Number(a.offset) - Number(b.offset))) {
        const k = c.message.key!.toString();
        const seq = (JSON.parse(c.message.value!.toString()) as { seq: number }).seq;
        assert.ok(seq > (lastSeq.get(k) ?? -1), `key ${k}: ${seq} after ${lastSeq.get(k)}`);
        lastSeq.set(k, seq);
      }
    });

    it('dead-letters a record over maxMessageBytes and delivers the rest', async () => {
      const topic = `rt-${client}-big-${Date.now()}`;
      const dl = new MemorySinkDeadLetter();
      const runner = new SinkRunner(
        new KafkaSink({
          client,
          brokers,
          topic,
          createTopics: {},
          maxMessageBytes: 10_000,
        }),
        { deadLetter: dl, batch: { maxEvents: 10, maxBytes: 1e6, maxWaitMs: 10 } },
      );
      await runner.start();
      await runner.pushAll([
        { id: 'small-1', key: 'a', kind: 'packet', body: { x: 1 } },
        { id: 'big', key: 'a', kind: 'packet', body: { pad: 'x'.repeat(20_000) } },
        { id: 'small-2', key: 'a', kind: 'packet', body: { x: 2 } },
      ]);
      const c = await runner.close();
      assert.equal(c.sent, 2);
      assert.equal(c.rejected, 1);
      assert.equal(dl.entries[0]!.id, 'big');
      assert.match(dl.entries[0]!.reason, /over maxMessageBytes/);
      const got = await consume(brokers, [topic], (all) => all.length >= 2);
      assert.deepEqual(got.map((g) => header(g.message, KAFKA_HEADERS.id)).sort(), ['small-1', 'small-2']);
    });

    describe('TLS + SASL/SCRAM', function () {
      let sasl: { brokers: string[]; ca: Buffer; username: string; password: string };
      before(function () {
        const e = requireServices(this, [
          'KAFKA_SASL_SSL_BROKERS',
          'KAFKA_SCRAM_USERNAME',
          'KAFKA_SCRAM_PASSWORD',
          'RULETRAIL_TEST_CA',
        ]);
        sasl = {
          brokers: [e.KAFKA_SASL_SSL_BROKERS!],
          ca: readFileSync(e.RULETRAIL_TEST_CA!),
          username: e.KAFKA_SCRAM_USERNAME!,
          password: e.KAFKA_SCRAM_PASSWORD!,
        };
      });

      for (const mechanism of ['scram-sha-512', 'scram-sha-256'] as const) {
        it(`delivers over SASL_SSL with ${mechanism}, verifying the broker certificate`, async () => {
          const topic = `rt-${client}-scram-${mechanism}-${Date.now()}`;
          const lines: string[] = [];
          const sink = new KafkaSink(
            {
              client,
              brokers: sasl.brokers,
              topic,
              createTopics: {},
              tls: { ca: sasl.ca },
              sasl: { mechanism, username: sasl.username, password: sasl.password },
            },
            { logger: captureLogger(lines) },
          );
          const runner = new SinkRunner(sink, {
            logger: captureLogger(lines),
            batch: { maxEvents: 20, maxBytes: 1e6, maxWaitMs: 10 },
          });
          await runner.start();
          const recs = Array.from({ length: 40 }, (_, i) =>
            explainedPacketRecord(explainedPacket(i, 'scram-host')),
          );
          await runner.pushAll(recs);
          const c = await runner.close();
          assert.equal(c.sent, 40);
          const got = await consume(brokers, [topic], (all) => all.length >= 40);
          assert.deepEqual(
            new Set(got.map((g) => header(g.message, KAFKA_HEADERS.id))),
            new Set(recs.map((r) => r.id)),
          );
          for (const l of lines) assert.ok(!l.includes(sasl.password), 'password in a log line');
        });
      }

      it('a wrong password fails connect() without the password in the error or the logs', async () => {
        const wrong = `Wr0ng-${sasl.password}-x`;
        const lines: string[] = [];
        const sink = new KafkaSink(
          {
            client,
            brokers: sasl.brokers,
            topic: 'rt-never',
            tls: { ca: sasl.ca },
            sasl: { mechanism: 'scram-sha-512', username: sasl.username, password: wrong },
            clientRetries: 0,
          },
          { logger: captureLogger(lines) },
        );
        const runner = new SinkRunner(sink, { logger: captureLogger(lines), retry: { maxAttempts: 1 } });
        const err = await runner.start().then(
          () => undefined,
          (e: unknown) => e as Error,
        );
        assert.ok(err, 'connect must fail');
        assert.match(err.message, /SASL|authenticat/i);
        assert.ok(!err.message.includes(wrong) && !err.message.includes(sasl.password));
        assert.ok(!JSON.stringify(err).includes(wrong));
        for (const l of lines) assert.ok(!l.includes(wrong), `secret in log line: ${l}`);
        // The sink's own error (what the runner wraps) has the same code with every client: a config error.
        await assert.rejects(sink.connect(), (e: Error & { retriable?: boolean; code?: string }) => {
          assert.equal(e.code, 'RT_ERR_KAFKA_AUTH');
          assert.equal(e.retriable, false);
          assert.ok(!e.message.includes(wrong));
          return true;
        });
        await sink.close();
      });

      it('refuses a broker certificate from an unknown CA: not retriable (a config error), no secret in the error', async () => {
        const sink = new KafkaSink({
          client,
          brokers: sasl.brokers,
          topic: 'rt-never',
          tls: {},
          sasl: { mechanism: 'scram-sha-512', username: sasl.username, password: sasl.password },
          clientRetries: 0,
          connectionTimeoutMs: 3000,
        });
        await assert.rejects(sink.connect(), (e: Error & { retriable?: boolean; code?: string }) => {
          assert.match(e.message, /certificate|self.signed|CERT/i);
          assert.equal(e.retriable, false);
          assert.equal(e.code, 'RT_ERR_KAFKA_TLS');
          assert.ok(!e.message.includes(sasl.password), 'password leaked');
          return true;
        });
        await sink.close();
      });
    });

    it('broker kill -9 in the middle of a 100k-event run: every id arrives, duplicates only from the in-flight window', async function () {
      const pidFile = env.KAFKA_PID_FILE;
      if (!pidFile) this.skip();
      const topic = `rt-${client}-kill-${Date.now()}`;
      const total = 100_000;
      const batch = { maxEvents: 2000, maxBytes: 4e6, maxWaitMs: 20 };
      const maxInFlight = 2;
      const lines: string[] = [];
      const sink = new KafkaSink(
        {
          client,
          brokers,
          topic,
          createTopics: { numPartitions: 6 },
          requestTimeoutMs: 5000,
          connectionTimeoutMs: 2000,
          clientRetries: 2,
        },
        { logger: captureLogger(lines) },
      );
      const dl = new MemorySinkDeadLetter();
      const runner = new SinkRunner(sink, {
        batch,
        maxInFlight,
        deadLetter: dl,
        retry: { initialMs: 200, maxMs: 2000 },
      });
      await runner.start();
      let killedAt = -1;
      let restarted: Promise<void> | undefined;
      for (let i = 0; i < total; i++) {
        await runner.push({
          id: `e-${i}`,
          key: `host-${i % 97}|pkt-${i}`,
          kind: 'packet',
          body: { i, verdict: i % 2 ? 'DROP' : 'ACCEPT', src: '10.0.0.1', dport: 443 },
        });
        if (i === 40_000) {
          const pid = Number(readFileSync(pidFile, 'utf8').trim());
          process.kill(pid, 'SIGKILL');
          killedAt = runner.counters.sent;
          // Restart after a pause, while the producer keeps pushing and retrying.
          restarted = new Promise((r) => setTimeout(r, 3000)).then(() =>
            servicesScript('start.sh', 'kafka-restart'),
          );
        }
      }
      await restarted;
      const c = await runner.close({ timeoutMs: 180_000 });
      assert.ok(killedAt >= 0 && killedAt < total);
      assert.equal(c.sent, total, `${JSON.stringify(c)} ${dl.entries[0]?.reason}`);
      assert.equal(c.failed + c.rejected, 0);
      assert.ok(c.retried > 0, 'the outage must have caused retries');

      const counts = new Map<number, number>();
      const seen = new Set<string>();
      let scanned = 0;
      const got = await consume(
        brokers,
        [topic],
        (all) => {
          for (; scanned < all.length; scanned++) seen.add(header(all[scanned]!.message, KAFKA_HEADERS.id)!);
          return seen.size >= total;
        },
        180_000,
      );
      for (const g of got) {
        const i = (JSON.parse(g.message.value!.toString()) as { i: number }).i;
        counts.set(i, (counts.get(i) ?? 0) + 1);
      }
      const missing = [];
      for (let i = 0; i < total; i++) if (!counts.has(i)) missing.push(i);
      assert.deepEqual(missing.slice(0, 10), [], `${missing.length} ids missing`);
      const duplicates = got.length - counts.size;
      // A duplicate can only come from a batch that was in flight (or being retried) when the broker died:
      // at most maxInFlight batches, each resent by kafkajs and by the runner.
      const window = maxInFlight * batch.maxEvents * 2;
      console.log(
        `      kill -9 run: ${total} events, killed after ${killedAt} acked, ${c.retried} record retries, ${duplicates} duplicates (window ${window})`,
      );
      assert.ok(duplicates <= window, `${duplicates} duplicates exceed the in-flight window ${window}`);
    });
  });
