#!/usr/bin/env node
// Sink throughput against the real services started by `services/start.sh kafka elasticsearch`:
//
//   node bench/sinks.bench.mjs [--kafka-events 300000] [--es-docs 200000] [--only kafka|elasticsearch] [--write]
//                              [--clients kafkajs,platformatic] [--consumer-messages 300000]
//                              [--kafka-configs 0,3]   (indexes into the Kafka configuration list, to save time)
//   node bench/sinks.bench.mjs --encoder-breakdown     (no services: µs per record for each stage of the Kafka path)
//
// Each configuration pushes pre-generated explained packets (the shape `ruletrail explain --format json` prints,
// 1.4 KB of JSON each on average) through the real SinkRunner and sink, from the built packages (run `npm run build`
// first), and measures wall time from the first push to the last acknowledgement (runner.close()).
//   Kafka:         acks=all on a 6-partition topic (single broker, so all ISRs = 1), key = host + packet; every
//                  configuration runs with each client library (kafkajs, @platformatic/kafka), interleaved.
//   Kafka consumer group: one member of a new group reads a 6-partition topic of raw kernel-log lines (one line per
//                  message, 180 bytes) from the beginning, through @ruletrail/kafka-client (what the Kafka source
//                  and the enrichment tier use), until every message was handed over.
//   Elasticsearch: bulk `create` into a data stream (1 shard, 0 replicas, refresh 5 s) on the single node.
// Record objects are built inside the timed loop (the JSON serialisation is the sink's cost); bodies are built before.
// Results: a table on stdout; with --write, the "Sinks" section in docs/benchmarks-sinks.md (merged into
// docs/benchmarks.md by bench/run.mjs). Services not running → that part is skipped with a message (exit 0).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const core = require(path.join(ROOT, 'packages/core/dist/index.js'));
const { KafkaSink } = require(path.join(ROOT, 'packages/sink-kafka/dist/index.js'));
const { createKafkaClient } = require(path.join(ROOT, 'packages/kafka-client/dist/index.js'));
const { ElasticsearchSink, setupElasticsearch, createEsClient } = require(
  path.join(ROOT, 'packages/sink-elasticsearch/dist/index.js'),
);

const KAFKA_TARGET = 100_000; // events/s, acks=all
const ES_TARGET = 30_000; // docs/s

function args(argv) {
  const o = {
    kafkaEvents: 200_000,
    esDocs: 200_000,
    consumerMessages: 300_000,
    clients: ['kafkajs', 'platformatic'],
    runs: 3,
    only: undefined,
    write: false,
  };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--kafka-events') o.kafkaEvents = Number(argv[++i]);
    else if (a === '--es-docs') o.esDocs = Number(argv[++i]);
    else if (a === '--only') o.only = argv[++i];
    else if (a === '--clients') o.clients = argv[++i].split(',');
    else if (a === '--kafka-configs') o.kafkaConfigs = argv[++i].split(',').map(Number);
    else if (a === '--consumer-messages') o.consumerMessages = Number(argv[++i]);
    else if (a === '--runs') o.runs = Number(argv[++i]);
    else if (a === '--write') o.write = true;
    else if (a === '--encoder-breakdown') o.encoderBreakdown = true;
    else if (a === '--quick') {
      o.kafkaEvents = 50_000;
      o.esDocs = 30_000;
      o.consumerMessages = 60_000;
      o.runs = 1;
    } else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

function portsFile() {
  const f = process.env.RULETRAIL_PORTS_FILE ?? path.join(ROOT, 'services/.env.ports');
  if (!fs.existsSync(f)) return {};
  return Object.fromEntries(
    fs
      .readFileSync(f, 'utf8')
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

/** Mean JSON size of the benchmark's bodies, in KB with one decimal (for the report header). */
function meanBodyKb() {
  const sample = bodies(3000);
  return (sample.reduce((n, b) => n + JSON.stringify(b).length, 0) / sample.length / 1000).toFixed(1);
}

/** Explained-packet bodies like the CLI's JSON output. */
function bodies(n) {
  const out = new Array(n);
  for (let i = 0; i < n; i++) {
    const ts = new Date(Date.UTC(2026, 0, 1) + i).toISOString();
    const drop = i % 3 === 0;
    out[i] = {
      '@timestamp': ts,
      host: { name: `node-${i % 50}` },
      packet: {
        host: `node-${i % 50}`,
        family: 'ipv4',
        proto: 'tcp',
        src: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
        dst: '172.28.129.4',
        sport: 1024 + (i % 60000),
        dport: drop ? 52000 : 443,
        ipId: i % 65536,
        len: 60,
        tcpFlags: ['SYN'],
        in: 'eth0',
        firstSeen: ts,
        channel: 'kernel-log',
      },
      verdict: drop ? 'DROP' : 'ACCEPT',
      decidedBy: drop
        ? {
            table: 'filter',
            chain: 'KUBE-FIREWALL',
            kind: 'rule',
            rulenum: 1,
            target: 'DROP',
            rule: '-A KUBE-FIREWALL -m mark --mark 0x8000/0x8000 -j DROP',
            path: [{ table: 'filter', chain: 'INPUT', rulenum: 1 }],
          }
        : { table: 'filter', chain: 'INPUT', kind: 'policy', target: 'ACCEPT', path: [] },
      markSetBy: drop
        ? [
            {
              table: 'nat',
              chain: 'KUBE-MARK-DROP',
              rulenum: 1,
              mark: '0x8000/0x8000',
              rule: '-A KUBE-MARK-DROP -j MARK --set-xmark 0x8000/0x8000',
              path: [],
            },
          ]
        : [],
      nat: [],
      kubernetes: drop
        ? {
            service: 'ootob9/ingress-nginx:http',
            namespace: 'ootob9',
            name: 'ingress-nginx',
            port: 'http',
            reason: 'has no local endpoints',
          }
        : {},
      flags: drop ? ['kube_mark_drop', 'kube_no_endpoints'] : [],
      cause: drop
        ? 'dropped by filter KUBE-FIREWALL rule 1 (mark 0x8000/0x8000), mark set by nat KUBE-MARK-DROP rule 1'
        : 'accepted by filter INPUT policy',
      snapshot: {
        source: 'iptables-save-0101.txt',
        hash: 'e56e7e4231e9afc1582ec90b423278b128262446c890d2ee4e9c839ec2937c81',
        family: 'ipv4',
      },
      steps: [
        { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 3, effect: 'accept', time: ts },
        {
          table: 'mangle',
          chain: 'PREROUTING',
          kind: 'rule',
          rulenum: 1,
          effect: 'jump',
          target: 'cali-PREROUTING',
          time: ts,
        },
        {
          table: 'nat',
          chain: 'PREROUTING',
          kind: 'rule',
          rulenum: 2,
          effect: 'jump',
          target: 'KUBE-SERVICES',
          time: ts,
        },
        {
          table: 'filter',
          chain: 'INPUT',
          kind: 'rule',
          rulenum: 1,
          effect: 'jump',
          target: 'KUBE-FIREWALL',
          time: ts,
        },
      ],
    };
  }
  return out;
}

async function run(label, sink, bodyList, runnerOpts) {
  const runner = new core.SinkRunner(sink, runnerOpts);
  await runner.start();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < bodyList.length; i++)
    await runner.push(core.explainedPacketRecord(bodyList[i], String(i)));
  const c = await runner.close({ timeoutMs: 600_000 });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const r = {
    label,
    events: bodyList.length,
    seconds: s,
    perSecond: bodyList.length / s,
    nodeCpu: (cpu.user + cpu.system) / 1e6 / s,
    sent: c.sent,
    retried: c.retried,
    failed: c.failed + c.rejected,
    writes: c.writes,
  };
  console.log(
    `${label.padEnd(58)} ${String(Math.round(r.perSecond)).padStart(8)} /s  ${s.toFixed(2)} s  node CPU ${(r.nodeCpu * 100).toFixed(0)}%  sent ${c.sent} retried ${c.retried} failed ${r.failed}`,
  );
  if (c.sent !== bodyList.length)
    throw new Error(`${label}: only ${c.sent} of ${bodyList.length} acknowledged`);
  return r;
}

/** The median run by throughput, with the spread of all runs. */
function median(runs) {
  const sorted = [...runs].sort((a, b) => a.perSecond - b.perSecond);
  const m = sorted[Math.floor(sorted.length / 2)];
  return { ...m, min: sorted[0].perSecond, max: sorted[sorted.length - 1].perSecond, runs: runs.length };
}

/** kafkajs's own record encoding (RecordBatch of 5000 records, 3 headers, no compression, no network): the ceiling. */
async function kafkajsEncodeOnly(list) {
  const kafkajs = path.dirname(
    require.resolve('kafkajs/package.json', { paths: [path.join(ROOT, 'packages/sink-kafka')] }),
  );
  const Record = require(path.join(kafkajs, 'src/protocol/recordBatch/record/v0'));
  const { RecordBatch } = require(path.join(kafkajs, 'src/protocol/recordBatch/v0'));
  const runs = [];
  for (let k = 0; k < o.runs; k++) {
    const t0 = process.hrtime.bigint();
    for (let start = 0; start < list.length; start += 5000) {
      const records = [];
      for (let i = start; i < Math.min(list.length, start + 5000); i++) {
        const r = core.explainedPacketRecord(list[i], String(i));
        records.push(
          Record({
            offsetDelta: i - start,
            timestampDelta: 0,
            key: Buffer.from(r.key),
            value: Buffer.from(core.bodyJson(r)),
            headers: { 'ruletrail-schema': '1', 'ruletrail-kind': r.kind, 'ruletrail-id': r.id },
          }),
        );
      }
      await RecordBatch({ compression: 0, records, firstOffset: 0 });
    }
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    runs.push({
      label:
        'kafkajs record encoding only (record ids, JSON, kafkajs RecordBatch + CRC; no broker, no compression)',
      events: list.length,
      seconds: s,
      perSecond: list.length / s,
      nodeCpu: 1,
      sent: list.length,
      retried: 0,
      failed: 0,
      writes: 0,
    });
  }
  const m = median(runs);
  console.log(`${m.label.padEnd(58)} ${String(Math.round(m.perSecond)).padStart(8)} /s`);
  return m;
}

async function benchKafka(env, n) {
  const brokers = [env.KAFKA_BROKERS];
  const list = bodies(n);
  const smallList = list.map((b, i) => ({
    '@timestamp': b['@timestamp'],
    host: b.host,
    alert: { name: 'kube_no_endpoints', severity: 'high' },
    seq: i,
  }));
  const results = [];
  const configs = [
    [
      'idempotent, gzip (defaults), batch 5000, 1 in flight',
      { idempotent: true, compression: 'gzip' },
      { maxEvents: 5000, maxInFlight: 1 },
    ],
    [
      'idempotent, no compression, batch 5000',
      { idempotent: true, compression: 'none' },
      { maxEvents: 5000, maxInFlight: 1 },
    ],
    [
      'not idempotent, gzip, batch 2000, 4 in flight',
      { idempotent: false, compression: 'gzip' },
      { maxEvents: 2000, maxInFlight: 4 },
    ],
    [
      'not idempotent, no compression, batch 2000, 4 in flight',
      { idempotent: false, compression: 'none' },
      { maxEvents: 2000, maxInFlight: 4 },
    ],
    [
      'idempotent, gzip, batch 5000 (alerts of ~150 bytes)',
      { idempotent: true, compression: 'gzip' },
      { maxEvents: 5000, maxInFlight: 1, small: true },
    ],
  ];
  // Warm-up (connections, JIT, topic metadata), once per client.
  for (const client of o.clients)
    await run(
      `kafka warm-up (${client})`,
      new KafkaSink({
        client,
        brokers,
        topic: `bench-warm-${Date.now()}`,
        createTopics: { numPartitions: 6 },
      }),
      list.slice(0, 20_000),
      { batch: { maxEvents: 2000, maxBytes: 16e6, maxWaitMs: 50 } },
    );
  const chosen = o.kafkaConfigs ? configs.filter((_, i) => o.kafkaConfigs.includes(i)) : configs;
  for (const [label, cfg, rt] of chosen) {
    // Runs of the clients alternate, so a change in machine load hits both alike.
    const runs = new Map(o.clients.map((c) => [c, []]));
    for (let k = 0; k < o.runs; k++)
      for (const client of o.clients) {
        const topic = `bench-${Date.now()}`;
        const sink = new KafkaSink({ client, brokers, topic, createTopics: { numPartitions: 6 }, ...cfg });
        runs.get(client).push(
          await run(`kafka acks=all (${client}): ${label}`, sink, rt.small ? smallList : list, {
            batch: { maxEvents: rt.maxEvents, maxBytes: 32e6, maxWaitMs: 50 },
            maxInFlight: rt.maxInFlight,
          }),
        );
      }
    for (const client of o.clients) results.push(median(runs.get(client)));
  }
  results.push(await kafkajsEncodeOnly(list));
  return results;
}

/** Consumer-group throughput of each client: one member reads a pre-filled 6-partition topic from the start. */
async function benchKafkaConsumer(env, n) {
  const brokers = [env.KAFKA_BROKERS];
  const topic = `bench-consume-${Date.now()}`;
  const setup = await createKafkaClient({ brokers, client: 'kafkajs' });
  const admin = setup.admin();
  await admin.createTopics([topic], { numPartitions: 6, replicationFactor: 1 });
  await admin.close();
  const producer = setup.producer({ idempotent: false, compression: 'none', ackTimeoutMs: 30_000 });
  await producer.connect();
  const line = (i) =>
    `Jan  1 00:00:00 node-${i % 50} kernel: [ 1234.567890] TRACE: filter:INPUT:rule:1 IN=eth0 OUT= MAC=00:00:00:00:00:00 SRC=10.0.${(i >> 8) & 255}.${i & 255} DST=172.28.129.4 LEN=60 ID=${i % 65536} PROTO=TCP SPT=${1024 + (i % 60000)} DPT=443 SYN`;
  for (let i = 0; i < n; i += 5000)
    await producer.send(
      Array.from({ length: Math.min(5000, n - i) }, (_, j) => ({
        topic,
        key: `node-${(i + j) % 50}`,
        value: line(i + j),
        headers: {},
      })),
    );
  await producer.close();
  const results = [];
  const runs = new Map(o.clients.map((c) => [c, []]));
  for (let k = 0; k < o.runs; k++)
    for (const client of o.clients) {
      const kafka = await createKafkaClient({ brokers, client });
      const consumer = kafka.groupConsumer({ groupId: `bench-group-${client}-${Date.now()}` });
      let got = 0;
      let bytes = 0;
      let done;
      const all = new Promise((r) => (done = r));
      const cpu0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      await consumer.start({
        topic,
        fromBeginning: true,
        onFatal: (err) => console.error(err),
        onBatch: (batch) => {
          got += batch.messages.length;
          for (const m of batch.messages) bytes += m.value?.length ?? 0;
          if (got >= n) done();
          return Promise.resolve(undefined);
        },
      });
      await all;
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      const cpu = process.cpuUsage(cpu0);
      await consumer.close();
      const r = {
        label: `kafka consumer group (${client}): one member, 6 partitions, ${Math.round(bytes / got)}-byte lines, from the beginning (incl. group join)`,
        events: n,
        seconds: s,
        perSecond: n / s,
        nodeCpu: (cpu.user + cpu.system) / 1e6 / s,
        sent: n,
        retried: 0,
        failed: 0,
        writes: 0,
      };
      console.log(
        `${r.label.padEnd(58)} ${String(Math.round(r.perSecond)).padStart(8)} /s  ${s.toFixed(2)} s`,
      );
      runs.get(client).push(r);
    }
  for (const client of o.clients) results.push(median(runs.get(client)));
  return results;
}

async function benchEs(env, n) {
  const base = { nodes: [env.ES_URL], apiVersion: env.ES_VERSION?.startsWith('9.') ? 9 : 8 };
  const list = bodies(n);
  const results = [];
  const configs = [
    ['warm-up', 1000, 4, false],
    ['batch 1000, 4 in flight, gzip requests', 1000, 4, true],
    ['batch 1000, 4 in flight (defaults: no request compression)', 1000, 4, false],
    ['batch 1000, 8 in flight, no request compression', 1000, 8, false],
    ['batch 2500, 8 in flight, no request compression', 2500, 8, false],
    ['batch 2500, 8 in flight, no request compression, translog async (opt-in)', 2500, 8, false, 'async'],
  ];
  for (const [label, maxEvents, maxInFlight, compression, translogDurability] of configs) {
    let index = `ruletrail-bench-${Date.now()}`;
    await setupElasticsearch(
      { ...base, index, alertIndex: `${index}-alerts` },
      { replicas: 0, ...(translogDurability ? { translogDurability } : {}) },
    );
    const sink = new ElasticsearchSink({ ...base, index, alertIndex: `${index}-alerts`, compression });
    const docs = label === 'warm-up' ? list.slice(0, 20_000) : list;
    const runs = [];
    for (let k = 0; k < (label === 'warm-up' ? 1 : o.runs); k++) {
      if (k > 0) {
        index = `ruletrail-bench-${Date.now()}`;
        await setupElasticsearch(
          { ...base, index, alertIndex: `${index}-alerts` },
          { replicas: 0, ...(translogDurability ? { translogDurability } : {}) },
        );
      }
      const sinkK =
        k === 0
          ? sink
          : new ElasticsearchSink({ ...base, index, alertIndex: `${index}-alerts`, compression });
      runs.push(
        await run(`elasticsearch bulk create: ${label}`, sinkK, docs, {
          batch: { maxEvents, maxBytes: 20e6, maxWaitMs: 50 },
          maxInFlight,
        }),
      );
    }
    if (label !== 'warm-up') results.push(median(runs));
  }
  return results;
}

function markdown(results, o, env) {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const k1 = (x) => `${(x / 1000).toFixed(1)}k`;
  const row = (r) =>
    `| ${r.label} | ${r.events.toLocaleString('en')} | **${Math.round(r.perSecond).toLocaleString('en')}** | ${k1(r.min)}–${k1(r.max)} (${r.runs}) | ${(r.nodeCpu * 100).toFixed(0)}% | ${r.retried} |`;
  // Opt-in durability trade-offs (translog async), small-record rows and the no-broker encoding ceiling do not
  // count toward the targets: only delivered, acknowledged default-size records do.
  const best = (p) =>
    Math.max(
      0,
      ...results
        .filter(
          (r) =>
            r.label.startsWith(p) && !/translog async|bytes\)|encoding only|consumer group/.test(r.label),
        )
        .map((r) => r.perSecond),
    );
  const k = best('kafka');
  const perClient = o.clients
    .map((c) => `${c} ${Math.round(best(`kafka acks=all (${c})`)).toLocaleString('en')}/s`)
    .join(', ');
  const e = best('elasticsearch');
  return [
    '## Sinks',
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} by \`node bench/sinks.bench.mjs${o.write ? ' --write' : ''}\` on this machine (${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB), Node ${process.version}, against the services of \`services/start.sh\`: Kafka ${env.KAFKA_VERSION ?? '4.4.0'} (single KRaft node, heap 512 MiB) and Elasticsearch ${env.ES_VERSION ?? '?'} (integ-test-zip, heap 1 GiB), all on the same 2 cores as the benchmark.`,
    `Wall time from the first \`push()\` to the last acknowledgement (\`runner.close()\`); explained packets of ${meanBodyKb()} KB JSON on average; \`node CPU\` = the benchmark process (user+system) per wall second; median of the runs, spread = slowest–fastest.`,
    `Load average when the run started: ${LOAD_AT_START}; when it ended: ${os
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(' / ')} (other work shares these 2 cores; expect ±40 % between runs).`,
    '',
    '| configuration | events per run | events/s (median) | spread (runs) | node CPU | record retries |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...results.map(row),
    '',
    `Targets: Kafka acks=all ≥ ${KAFKA_TARGET.toLocaleString('en')}/s — best ${Math.round(k).toLocaleString('en')}/s (${perClient}) ${k >= KAFKA_TARGET ? '(met)' : '(**not met**)'}; Elasticsearch ≥ ${ES_TARGET.toLocaleString('en')} docs/s — best ${Math.round(e).toLocaleString('en')}/s ${e >= ES_TARGET ? '(met)' : '(**not met**)'}.`,
    '',
  ].join('\n');
}

/**
 * Where the Kafka sink's time goes per record, without a broker: building the sink record, JSON, kafkajs's
 * `Record` encoder with and without our three headers, and a whole `RecordBatch` (CRC included).
 */
async function kafkaEncoderBreakdown(list) {
  const kafkajs = path.dirname(
    require.resolve('kafkajs/package.json', { paths: [path.join(ROOT, 'packages/sink-kafka')] }),
  );
  const Record = require(path.join(kafkajs, 'src/protocol/recordBatch/record/v0'));
  const { RecordBatch } = require(path.join(kafkajs, 'src/protocol/recordBatch/v0'));
  const n = list.length;
  const time = (label, fn) => {
    const t0 = process.hrtime.bigint();
    fn();
    const us = Number(process.hrtime.bigint() - t0) / 1e3 / n;
    console.log(`${label.padEnd(58)} ${us.toFixed(2).padStart(6)} µs/record`);
  };
  let recs = [];
  time('sink record (id hash, key)', () => {
    recs = list.map((b, i) => core.explainedPacketRecord(b, String(i)));
  });
  let values = [];
  time(`JSON body (${Math.round(core.bodyJson(recs[0]).length)} bytes)`, () => {
    values = recs.map((r) => Buffer.from(core.bodyJson(r)));
  });
  const headers = (r) => ({ 'ruletrail-schema': '1', 'ruletrail-kind': r.kind, 'ruletrail-id': r.id });
  for (const withHeaders of [false, true])
    time(`kafkajs Record encoder, ${withHeaders ? 'three headers' : 'no headers'}`, () => {
      for (let i = 0; i < n; i++)
        Record({
          offsetDelta: i % 5000,
          timestampDelta: 0,
          key: Buffer.from(recs[i].key),
          value: values[i],
          headers: withHeaders ? headers(recs[i]) : {},
        });
    });
  const t0 = process.hrtime.bigint();
  for (let start = 0; start < n; start += 5000) {
    const batch = [];
    for (let i = start; i < Math.min(n, start + 5000); i++)
      batch.push(
        Record({
          offsetDelta: i - start,
          timestampDelta: 0,
          key: Buffer.from(recs[i].key),
          value: values[i],
          headers: headers(recs[i]),
        }),
      );
    await RecordBatch({ compression: 0, records: batch, firstOffset: 0 });
  }
  const us = Number(process.hrtime.bigint() - t0) / 1e3 / n;
  console.log(
    `${'kafkajs Record (three headers) + RecordBatch + CRC-32C'.padEnd(58)} ${us.toFixed(2).padStart(6)} µs/record`,
  );
}

const o = args(process.argv);
const LOAD_AT_START = os
  .loadavg()
  .map((x) => x.toFixed(1))
  .join(' / ');
if (o.encoderBreakdown) {
  await kafkaEncoderBreakdown(bodies(200_000));
  process.exit(0);
}
const env = portsFile();
const results = [];
if (o.only !== 'elasticsearch') {
  if (env.KAFKA_BROKERS)
    results.push(...(await benchKafka(env, o.kafkaEvents)).filter((r) => !r.label.includes('warm-up')));
  if (env.KAFKA_BROKERS && o.consumerMessages > 0)
    results.push(...(await benchKafkaConsumer(env, o.consumerMessages)));
  else console.log('kafka: skipped (no KAFKA_BROKERS in services/.env.ports; run services/start.sh kafka)');
}
if (o.only !== 'kafka') {
  if (env.ES_URL) results.push(...(await benchEs(env, o.esDocs)));
  else
    console.log(
      'elasticsearch: skipped (no ES_URL in services/.env.ports; run services/start.sh elasticsearch)',
    );
}
const md = markdown(results, o, env);
console.log('\n' + md);
if (o.write && results.length > 0) {
  const doc = path.join(ROOT, 'docs/benchmarks-sinks.md');
  const old = fs.existsSync(doc) ? fs.readFileSync(doc, 'utf8') : '';
  // Keep the hand-written method/notes after the results marker.
  const marker = '<!-- end of generated results -->';
  const tail = old.includes(marker) ? old.slice(old.indexOf(marker)) : `${marker}\n`;
  fs.writeFileSync(doc, `${md}\n${tail}`);
  console.log(`wrote ${path.relative(ROOT, doc)}`);
}
