/**
 * `ruletrail run` against the real services (services/start.sh: Kafka 4, Elasticsearch), with
 * RUN_SERVICE_TESTS=1; skipped with the reason otherwise.
 *
 * 1. The full run: tail a capture and receive syslog over loopback → Kafka explained topic + Elasticsearch.
 * 2. Scale-out on Kafka: raw lines and snapshots keyed by host; two instances in one consumer group share the
 *    partitions; one is SIGKILLed mid-stream (a rebalance) and a third joins: no packet is lost.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AssignerProtocol, Kafka, logLevel, type Consumer } from 'kafkajs';
import {
  BIN,
  INCIDENT,
  collectStderr,
  dropPacket,
  exited,
  explainedSeqs,
  killChildren,
  seqOf,
  startRun,
  tempDir,
  waitFor,
  writeConfig,
} from './pipeline-helpers';
import { requireServices } from '../../../test/support/services';

async function topics(brokers: string, specs: { topic: string; numPartitions: number }[]): Promise<void> {
  const admin = new Kafka({ brokers: [brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({
    topics: specs.map((s) => ({ ...s, replicationFactor: 1 })),
    waitForLeaders: true,
  });
  await admin.disconnect();
}

/** Every message of a topic (from the beginning), as parsed JSON, collected in the background. */
async function collect(
  brokers: string,
  topic: string,
): Promise<{ values: Record<string, unknown>[]; consumer: Consumer }> {
  const consumer = new Kafka({ brokers: [brokers], logLevel: logLevel.NOTHING }).consumer({
    groupId: `test-${randomUUID()}`,
  });
  const values: Record<string, unknown>[] = [];
  await consumer.connect();
  // A topic just created may not be in every metadata answer yet (or the shared broker is restarting).
  for (let attempt = 1; ; attempt++) {
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      break;
    } catch (err) {
      if (attempt >= 20) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  await consumer.run({
    eachMessage: ({ message }) => {
      values.push(JSON.parse(message.value!.toString()) as Record<string, unknown>);
      return Promise.resolve();
    },
  });
  return { values, consumer };
}

describe('ruletrail run with the real Kafka and Elasticsearch', function () {
  this.timeout(180000);
  afterEach(killChildren);

  it('tails a capture and receives syslog into a Kafka topic and an Elasticsearch index', async function () {
    const env = requireServices(this, ['KAFKA_BROKERS', 'ES_URL']);
    const id = randomUUID().slice(0, 8);
    const explained = `rt-explained-${id}`;
    const index = `rt-packets-${id}`;
    await topics(env.KAFKA_BROKERS!, [
      { topic: explained, numPartitions: 3 },
      { topic: `${explained}.alerts`, numPartitions: 1 },
    ]);
    const dir = tempDir();
    const log = join(dir, 'kern.log');
    writeFileSync(log, [...dropPacket(0), ...dropPacket(1)].join('\n') + '\n');
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    const udpPort = sock.address().port;
    await new Promise<void>((r) => sock.close(() => r()));
    const esVersion = env.ES_VERSION ?? '8';
    const cfg = writeConfig(dir, {
      version: 1,
      dataDir: join(dir, 'state'),
      sources: [
        { id: 'kern', type: 'file', paths: [log], year: 2023, pollIntervalMs: 50 },
        { id: 'rsyslog', type: 'syslog', udp: `127.0.0.1:${udpPort}`, year: 2023, batchMs: 20 },
      ],
      snapshots: {
        files: ['cos74', 'node-b'].flatMap((host) => [
          { path: join(INCIDENT, 'iptables-save-0101.txt'), host },
          { path: join(INCIDENT, 'iptables-save-0103.txt'), host },
        ]),
      },
      sinks: [
        {
          id: 'kafka',
          type: 'kafka',
          options: { brokers: [env.KAFKA_BROKERS], topic: explained },
          runner: { batch: { maxWaitMs: 50 } },
        },
        {
          id: 'es',
          type: 'elasticsearch',
          records: ['explanation'],
          options: { nodes: [env.ES_URL], index, apiVersion: esVersion.startsWith('9.') ? 9 : 8 },
          runner: { batch: { maxWaitMs: 50 } },
        },
      ],
    });
    const child = startRun(cfg, [], 'ignore');
    const err = collectStderr(child);
    await waitFor(() => /Syslog receiver listening/.test(err.text), 30000, 'the pipeline to start');
    const udp = createSocket('udp4');
    for (const l of dropPacket(2, { host: 'node-b' }))
      await new Promise<void>((r) => udp.send(`<4>${l}`, udpPort, '127.0.0.1', () => r()));
    udp.close();

    const k = await collect(env.KAFKA_BROKERS!, explained);
    try {
      await waitFor(() => k.values.length === 3, 60000, 'three explanations on the Kafka topic');
      assert.deepEqual(
        k.values.map((v) => (v.packet as { tcpSeq: number }).tcpSeq).sort(),
        [seqOf(0), seqOf(1), seqOf(2)].sort(),
      );
      for (const v of k.values) assert.equal(v.verdict, 'DROP');
    } finally {
      await k.consumer.disconnect();
    }
    let count = 0;
    await waitFor(
      () => {
        void fetch(`${env.ES_URL}/${index}/_count`)
          .then((r) => r.json() as Promise<{ count?: number }>)
          .then((j) => (count = j.count ?? 0))
          .catch(() => undefined);
        return count === 3;
      },
      60000,
      'three documents in Elasticsearch',
    );
    const hits = (await (await fetch(`${env.ES_URL}/${index}/_search?q=packet.host:node-b`)).json()) as {
      hits: { hits: { _source: { verdict: string; kubernetes: { service: string } } }[] };
    };
    assert.equal(hits.hits.hits[0]!._source.verdict, 'DROP');
    assert.equal(hits.hits.hits[0]!._source.kubernetes.service, 'ootob9/ingress-nginx:http');
    child.kill('SIGTERM');
    assert.equal(await exited(child), 0, err.text);
  });

  it('scales out as one consumer group: hosts keyed, snapshots from a topic, a SIGKILLed member loses nothing', async function () {
    const env = requireServices(this, ['KAFKA_BROKERS']);
    const id = randomUUID().slice(0, 8);
    const raw = `rt-raw-${id}`;
    const snaps = `rt-snapshots-${id}`;
    await topics(env.KAFKA_BROKERS!, [
      { topic: raw, numPartitions: 4 },
      { topic: snaps, numPartitions: 4 },
    ]);
    const hosts = Array.from({ length: 8 }, (_, i) => `node-${i}`);
    const kafka = new Kafka({ brokers: [env.KAFKA_BROKERS!], logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    // The edge shippers: each host's snapshot (keyed by host) and its raw lines (keyed by host, one line per message).
    const save = readFileSync(join(INCIDENT, 'iptables-save-0101.txt'), 'utf8');
    const { makeEnvelope } = await import('@ruletrail/pipeline');
    await producer.send({
      topic: snaps,
      messages: hosts.map((h) => ({
        key: h,
        value: JSON.stringify(
          makeEnvelope({
            host: h,
            family: 'ipv4',
            format: 'iptables-save',
            takenAt: '2023-01-01T21:20:02Z',
            tool: 'iptables-save',
            content: save,
          }),
        ),
      })),
    });
    const N = 800;
    const send = async (from: number, to: number): Promise<void> => {
      for (let i = from; i < to; i += 50) {
        const messages = [];
        for (let j = i; j < Math.min(to, i + 50); j++) {
          const h = hosts[j % hosts.length]!;
          for (const l of dropPacket(j, { host: h })) messages.push({ key: h, value: l });
        }
        await producer.send({ topic: raw, messages });
      }
    };
    await send(0, N / 2);

    const dir = tempDir();
    const instance = (name: string) => {
      const out = join(dir, `${name}.ndjson`);
      const cfg = writeConfig(
        dir,
        {
          version: 1,
          sources: [
            {
              id: 'raw',
              type: 'kafka',
              brokers: [env.KAFKA_BROKERS],
              topic: raw,
              groupId: `rt-enrich-${id}`,
              year: 2023,
            },
          ],
          snapshots: { kafka: { brokers: [env.KAFKA_BROKERS], topic: snaps } },
          sinks: [{ id: 'out', type: 'file', path: out, records: ['explanation'] }],
          pipeline: { maxInFlight: 200 },
        },
        `${name}.yaml`,
      );
      const child = startRun(cfg, [], 'ignore');
      return { out, child, err: collectStderr(child) };
    };
    const a = instance('a');
    const b = instance('b');
    const all = () => new Set([...explainedSeqs(a.out), ...explainedSeqs(b.out)]);
    await waitFor(
      () => explainedSeqs(a.out).length + explainedSeqs(b.out).length > 0,
      60000,
      'the group to consume',
    );
    // Kill one member hard while the rest of the lines arrive; its partitions move (rebalance).
    await send(N / 2, N);
    a.child.kill('SIGKILL');
    const c = instance('c');
    await waitFor(() => new Set([...all(), ...explainedSeqs(c.out)]).size === N, 120000, `all ${N} packets`);
    await producer.disconnect();
    const seen = new Set([...all(), ...explainedSeqs(c.out)]);
    for (let i = 0; i < N; i++) assert.ok(seen.has(seqOf(i)), `packet ${i} lost`);
    // Each survivor explained complete, correct packets with its host's snapshot from the topic.
    for (const x of readFileSync(b.out, 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { verdict: string; flags: string[] }))
      assert.deepEqual([x.verdict, x.flags.includes('snapshot_mismatch')], ['DROP', false]);
    // The survivors share the work as one consumer group: both are members with partitions assigned. (Which
    // member explained which packets depends on when rebalances land against the backlog, so that is not asserted.)
    const admin = kafka.admin();
    await admin.connect();
    let sharing = 0;
    for (
      const deadline = Date.now() + 60_000;
      Date.now() < deadline;
      await new Promise((r) => setTimeout(r, 500))
    ) {
      const group = (await admin.describeGroups([`rt-enrich-${id}`])).groups[0];
      sharing =
        group?.members.filter((m) => {
          const assigned = AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment ?? {};
          return Object.values(assigned).some((partitions) => partitions.length > 0);
        }).length ?? 0;
      if (sharing >= 2) break;
    }
    await admin.disconnect();
    assert.ok(sharing >= 2, `${sharing} group member(s) with partitions, expected the two survivors`);
    for (const m of [b, c]) {
      m.child.kill('SIGTERM');
      assert.equal(await exited(m.child), 0, m.err.text);
    }
  });

  it('ships snapshots to a Kafka topic and an Elasticsearch index with `ruletrail snapshot ship`', async function () {
    const env = requireServices(this, ['KAFKA_BROKERS', 'ES_URL']);
    const id = randomUUID().slice(0, 8);
    const topic = `rt-snapshots-${id}`;
    const index = `rt-snapshots-${id}`;
    await topics(env.KAFKA_BROKERS!, [{ topic, numPartitions: 2 }]);
    const save = join(INCIDENT, 'iptables-save-0101.txt');
    for (const to of [`kafka:${env.KAFKA_BROKERS}/${topic}`, `es:${env.ES_URL}/${index}`]) {
      const r = spawnSync(
        process.execPath,
        [
          BIN,
          'snapshot',
          'ship',
          '--once',
          '--host',
          'edge-1',
          '--to',
          to,
          '--command',
          `ipv4=cat ${save}`,
          '--command',
          'ipv6=',
        ],
        {
          encoding: 'utf8',
        },
      );
      assert.equal(r.status, 0, r.stderr);
    }
    // Kafka: keyed by host, the envelope as value — what snapshots.kafka reads.
    const k = await collect(env.KAFKA_BROKERS!, topic);
    try {
      await waitFor(() => k.values.length === 1, 30000, 'the snapshot on the topic');
    } finally {
      await k.consumer.disconnect();
    }
    const sha = createHash('sha256').update(readFileSync(save)).digest('hex');
    assert.deepEqual([k.values[0]!.host, k.values[0]!.hash, k.values[0]!.family], ['edge-1', sha, 'ipv4']);
    // Elasticsearch: one document per snapshot, searchable by host and hash.
    await fetch(`${env.ES_URL}/${index}/_refresh`, { method: 'POST' });
    const hits = (await (await fetch(`${env.ES_URL}/${index}/_search?q=host:edge-1`)).json()) as {
      hits: { hits: { _source: { hash: string } }[] };
    };
    assert.equal(hits.hits.hits.length, 1);
    assert.equal(hits.hits.hits[0]!._source.hash, sha);
  });
});
