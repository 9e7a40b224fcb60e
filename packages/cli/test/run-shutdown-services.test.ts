/**
 * No silent loss at shutdown (issue #15), against the real services (services/start.sh kafka elasticsearch,
 * RUN_SERVICE_TESTS=1; skipped with the reason otherwise):
 *
 * 1. A Kafka topic that does not exist (no createTopics) fails the sink's start at once, naming the topic and the
 *    fix — it used to be retried until the end of the input, then 15 records were logged "runner closed before
 *    delivery", 0 dead letters were written and the run exited 0.
 * 2. An Elasticsearch index that does not exist and that the cluster will not create (action.auto_create_index)
 *    fails the sink's start at once, naming the index and `ruletrail setup elasticsearch`.
 * 3. Records a sink cannot deliver when the run stops — an index with the flood-stage block Elasticsearch sets on a
 *    full disk (every write answered 429, retriable) — each reach the dead-letter file whole with the reason, the
 *    Kafka sink beside it delivers everything, and the run exits 3: at the end of a `mode: read` input, and on
 *    SIGTERM while tailing.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import {
  collectStderr,
  dropPacket,
  acceptPacket,
  exited,
  incidentSnapshots,
  killChildren,
  readNdjson,
  startRun,
  tempDir,
  waitFor,
  writeConfig,
} from './pipeline-helpers';
import { requireServices } from '../../../test/support/services';

async function createTopics(brokers: string, topics: string[]): Promise<void> {
  const admin = new Kafka({ brokers: [brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({
    topics: topics.map((topic) => ({ topic, numPartitions: 1, replicationFactor: 1 })),
    waitForLeaders: true,
  });
  await admin.disconnect();
}

async function topicCount(brokers: string, topic: string): Promise<number> {
  const admin = new Kafka({ brokers: [brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  } finally {
    await admin.disconnect();
  }
}

async function es(
  url: string,
  method: string,
  path: string,
  body?: object,
): Promise<Record<string, unknown>> {
  const r = await fetch(`${url}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const j = (await r.json()) as Record<string, unknown>;
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(j)}`);
  return j;
}

/** Ten distinct packets (five DROP, five ACCEPT) in one kernel log. */
function kernLog(dir: string): string {
  const p = join(dir, 'kern.log');
  const lines: string[] = [];
  for (let i = 0; i < 5; i++) lines.push(...dropPacket(2 * i), ...acceptPacket(2 * i + 1));
  writeFileSync(p, lines.join('\n') + '\n');
  return p;
}

describe('ruletrail run: no silent loss at shutdown, against the real Kafka and Elasticsearch', function () {
  this.timeout(120000);
  afterEach(killChildren);

  it('fails at start, naming the topic and createTopics, when the Kafka topic does not exist', async function () {
    const env = requireServices(this, ['KAFKA_BROKERS', 'ES_URL']);
    const id = randomUUID().slice(0, 8);
    const dir = tempDir();
    const topic = `rt-missing-${id}`;
    const cfg = writeConfig(dir, {
      version: 1,
      sources: [{ id: 'kern', type: 'file', paths: [kernLog(dir)], mode: 'read', year: 2023 }],
      snapshots: incidentSnapshots(),
      deadLetter: { path: join(dir, 'dead.ndjson') },
      sinks: [
        {
          id: 'kafka',
          type: 'kafka',
          records: ['explanation'],
          options: { brokers: [env.KAFKA_BROKERS], topic },
        },
        {
          id: 'es',
          type: 'elasticsearch',
          records: ['explanation'],
          options: { nodes: [env.ES_URL], index: `rt-shut-${id}` },
        },
      ],
    });
    const t0 = Date.now();
    const child = startRun(cfg);
    const err = collectStderr(child);
    const code = await exited(child);
    assert.notEqual(code, 0, err.text);
    assert.ok(Date.now() - t0 < 30000, `took ${Date.now() - t0} ms: the start was retried`);
    assert.match(err.text, new RegExp(`topic '${topic}' does not exist`));
    assert.match(err.text, /createTopics/);
    assert.match(err.text, /RT_ERR_KAFKA_TOPIC_MISSING|does not exist/);
    // Only the packet topic is required of a sink that takes explanations only.
    assert.doesNotMatch(err.text, new RegExp(`${topic}\\.alerts`));
  });

  it('fails at start, naming the index and `ruletrail setup elasticsearch`, when the cluster will not create it', async function () {
    const env = requireServices(this, ['ES_URL']);
    const id = randomUUID().slice(0, 8);
    const index = `rt-noauto-${id}`;
    const dir = tempDir();
    // Only this test's prefix is refused, so other tests on the same cluster are unaffected even mid-test.
    await es(env.ES_URL!, 'PUT', '/_cluster/settings', {
      persistent: { 'action.auto_create_index': '-rt-noauto-*,+*' },
    });
    try {
      const cfg = writeConfig(dir, {
        version: 1,
        sources: [{ id: 'kern', type: 'file', paths: [kernLog(dir)], mode: 'read', year: 2023 }],
        snapshots: incidentSnapshots(),
        sinks: [
          {
            id: 'es',
            type: 'elasticsearch',
            records: ['explanation'],
            options: { nodes: [env.ES_URL], index },
          },
        ],
      });
      const child = startRun(cfg);
      const err = collectStderr(child);
      assert.notEqual(await exited(child), 0, err.text);
      assert.match(err.text, new RegExp(`index '${index}' does not exist and will not be created`));
      assert.match(err.text, /ruletrail setup elasticsearch/);
    } finally {
      await es(env.ES_URL!, 'PUT', '/_cluster/settings', {
        persistent: { 'action.auto_create_index': null },
      });
    }
  });

  for (const stop of ['end of a mode: read input', 'SIGTERM while tailing'] as const) {
    it(`dead-letters every record Elasticsearch has not accepted at the ${stop}, and exits 3`, async function () {
      const env = requireServices(this, ['KAFKA_BROKERS', 'ES_URL']);
      const id = randomUUID().slice(0, 8);
      const topic = `rt-shut-${id}`;
      const index = `rt-blocked-${id}`;
      await createTopics(env.KAFKA_BROKERS!, [topic]);
      // The block Elasticsearch itself sets when a disk passes the flood-stage watermark: writes answer 429.
      await es(env.ES_URL!, 'PUT', `/${index}`, { settings: { number_of_replicas: 0 } });
      await es(env.ES_URL!, 'PUT', `/${index}/_settings`, { 'index.blocks.read_only_allow_delete': true });
      const dir = tempDir();
      const dead = join(dir, 'dead.ndjson');
      const tail = stop === 'SIGTERM while tailing';
      const cfg = writeConfig(dir, {
        version: 1,
        dataDir: join(dir, 'state'),
        sources: [
          {
            id: 'kern',
            type: 'file',
            paths: [kernLog(dir)],
            mode: tail ? 'tail' : 'read',
            startAt: 'beginning',
            year: 2023,
            pollIntervalMs: 50,
          },
        ],
        snapshots: incidentSnapshots(),
        deadLetter: { path: dead },
        pipeline: { shutdownTimeoutMs: 3000 },
        sinks: [
          {
            id: 'kafka',
            type: 'kafka',
            records: ['explanation'],
            options: { brokers: [env.KAFKA_BROKERS], topic },
            runner: { batch: { maxWaitMs: 50 } },
          },
          {
            id: 'es',
            type: 'elasticsearch',
            records: ['explanation'],
            options: { nodes: [env.ES_URL], index },
            runner: { batch: { maxWaitMs: 50 }, retry: { initialMs: 100, maxMs: 500 } },
          },
        ],
      });
      try {
        const child = startRun(cfg);
        const err = collectStderr(child);
        if (tail) {
          await waitFor(
            () => /Retriable failure; backing off/.test(err.text),
            60000,
            'the blocked index to refuse',
          );
          await waitFor(
            async () => (await topicCount(env.KAFKA_BROKERS!, topic)) === 10,
            30000,
            'Kafka to get all',
          );
          child.kill('SIGTERM');
        }
        const code = await exited(child);
        assert.equal(code, 3, err.text);
        assert.equal(await topicCount(env.KAFKA_BROKERS!, topic), 10, 'the Kafka sink beside lost records');
        const entries = readNdjson(dead);
        assert.equal(entries.length, 10, JSON.stringify(entries.map((e) => e.reason)));
        for (const e of entries) {
          assert.equal(e.code, 'RT_ERR_SINK_UNDELIVERED');
          assert.equal(e.file, 'sink:es');
          // The remote side's last answer (429 from the block) — or, on a slow machine where the first bulk
          // request was still in flight at the shutdown timeout, that request's abort.
          assert.match(
            e.reason as string,
            /runner closed before delivery \(last error: .*(429|cluster_block_exception|TOO_MANY_REQUESTS|RequestAbortedError)/i,
          );
        }
        // Each entry holds the whole explanation: replayable from the dead-letter file alone.
        const seqs = entries.map(
          (e) => (JSON.parse(e.record as string) as { packet: { tcpSeq: number } }).packet.tcpSeq,
        );
        assert.equal(new Set(seqs).size, 10);
        assert.match(err.text, /"undelivered":10/);
      } finally {
        await es(env.ES_URL!, 'DELETE', `/${index}`);
      }
    });
  }
});
