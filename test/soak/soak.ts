/**
 * Soak: steady traffic from the lab replayer (test/chaos/traffic.ts: the lab's real kernel-log captures, each
 * packet a distinct copy) appended to a tailed file, through `ruletrail run` into the real Kafka and
 * Elasticsearch of services/start.sh, for `--minutes`. Every `--interval` seconds the run's RSS, event-loop lag
 * and open file descriptors are sampled from its metrics endpoint (prom-client's process and nodejs metrics) and
 * from /proc. The tailed file is rotated by rename every `--rotate-minutes`, so a descriptor leak on rotation
 * would show. At the end every packet is counted in the topic and the index (the chaos ledger).
 *
 *   npm run soak -- [--minutes 30] [--rate 20] [--interval 10] [--rotate-minutes 5] [--write]
 *
 * `--write` writes docs/soak.svg and docs/soak.md (the full sample table); without it they go to the run's temp
 * folder (with samples.json). `--render samples.json` only draws the chart and the table again from a past run. Needs services/.env.ports with KAFKA_BROKERS and ES_URL (`services/start.sh kafka elasticsearch`).
 */
import { appendFileSync, existsSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  createTopics,
  esIndexPackets,
  freePort,
  kafkaTopicPackets,
  killRuns,
  ledger,
  metricValue,
  scrape,
  servicePorts,
  sinkDelivered,
  sleep,
  startRun,
  stopRun,
  tempDir,
  waitUntil,
  writeConfig,
  type LedgerCount,
} from '../chaos/harness';
import { REPO_ROOT, labSnapshots, packetLines } from '../chaos/traffic';
import { renderSoakSvg, renderSoakTable, type SoakSample } from './report';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '30' },
      rate: { type: 'string', default: '20' },
      interval: { type: 'string', default: '10' },
      'rotate-minutes': { type: 'string', default: '5' },
      write: { type: 'boolean', default: false },
      render: { type: 'string' },
    },
  });
  if (values.render) {
    const past = JSON.parse(readFileSync(values.render, 'utf8')) as {
      summary: { minutes: number; rate: number } & Record<string, unknown>;
      samples: SoakSample[];
    };
    const outDir = values.write ? join(REPO_ROOT, 'docs') : '.';
    writeFileSync(join(outDir, 'soak.svg'), renderSoakSvg(past.samples, past.summary));
    writeFileSync(join(outDir, 'soak.md'), renderSoakTable(past.samples, past.summary));
    return 0;
  }
  const minutes = Number(values.minutes);
  const rate = Number(values.rate);
  const intervalMs = Number(values.interval) * 1000;
  const rotateMs = Number(values['rotate-minutes']) * 60_000;
  const env = servicePorts();
  if (!env.KAFKA_BROKERS || !env.ES_URL) {
    console.error(
      'soak: services/.env.ports has no KAFKA_BROKERS / ES_URL: run services/start.sh kafka elasticsearch',
    );
    return 2;
  }
  const id = `${Date.now().toString(36)}`;
  const topic = `rt-soak-${id}`;
  const index = `rt-soak-${id}`;
  await createTopics(env.KAFKA_BROKERS, [
    { topic, numPartitions: 3 },
    { topic: `${topic}.alerts`, numPartitions: 1 },
  ]);
  const dir = tempDir('rt-soak-');
  const log = join(dir, 'kern.log');
  writeFileSync(log, '');
  const metricsPort = await freePort();
  const esMajor = (env.ES_VERSION ?? '9').split('.')[0];
  const cfg = writeConfig(dir, {
    version: 1,
    dataDir: join(dir, 'state'),
    sources: [{ id: 'kern', type: 'file', paths: [log], startAt: 'beginning' }],
    snapshots: { files: labSnapshots() },
    sinks: [
      { id: 'kafka', type: 'kafka', options: { brokers: [env.KAFKA_BROKERS], topic } },
      {
        id: 'es',
        type: 'elasticsearch',
        records: ['explanation'],
        options: { nodes: [env.ES_URL], index, apiVersion: esMajor === '8' ? 8 : 9 },
      },
    ],
    deadLetter: { path: join(dir, 'dead-letter.ndjson') },
    metrics: { listen: `127.0.0.1:${metricsPort}` },
  });
  const run = startRun(cfg, join(dir, 'run.log'));
  const pid = run.child.pid!;
  console.error(`soak: ${minutes} min at ${rate} packets/s, pid ${pid}, folder ${dir}, topic/index ${topic}`);
  await waitUntil(async () => (await scrape(metricsPort)) !== undefined, 60_000, 'the metrics endpoint');

  // The writer: `rate` packets a second in 10 slices, stamped with the wall clock (log time = real time).
  let written = 0;
  let lastRotation = Date.now();
  let rotations = 0;
  const start = Date.now();
  const end = start + minutes * 60_000;
  const writer = (async () => {
    let due = start;
    while (Date.now() < end) {
      due += 100;
      const target = Math.floor(((due - start) / 1000) * rate);
      let text = '';
      for (; written < target; written++) text += packetLines(written, Date.now()).join('\n') + '\n';
      if (text) appendFileSync(log, text);
      if (Date.now() - lastRotation >= rotateMs) {
        // logrotate's rename: the old generation is replaced, the writer goes on in a new file.
        renameSync(log, `${log}.1`);
        writeFileSync(log, '');
        lastRotation = Date.now();
        rotations++;
      }
      await sleep(Math.max(0, due - Date.now()));
    }
  })();

  const samples: SoakSample[] = [];
  const sample = async (): Promise<void> => {
    const page = (await scrape(metricsPort)) ?? '';
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
    const s: SoakSample = {
      t: (Date.now() - start) / 1000,
      written,
      rssMb: metricValue(page, 'ruletrail_process_resident_memory_bytes') / 2 ** 20,
      procRssMb: rssKb / 1024,
      heapMb: metricValue(page, 'ruletrail_nodejs_heap_size_used_bytes') / 2 ** 20,
      lagMeanMs: metricValue(page, 'ruletrail_nodejs_eventloop_lag_mean_seconds') * 1000,
      lagP99Ms: metricValue(page, 'ruletrail_nodejs_eventloop_lag_p99_seconds') * 1000,
      lagMaxMs: metricValue(page, 'ruletrail_nodejs_eventloop_lag_max_seconds') * 1000,
      fds: metricValue(page, 'ruletrail_process_open_fds'),
      procFds: readdirSync(`/proc/${pid}/fd`).length,
      kafka: metricValue(page, 'ruletrail_component_sent_events_total', { component_id: 'kafka' }),
      es: metricValue(page, 'ruletrail_component_sent_events_total', { component_id: 'es' }),
      inFlight: metricValue(page, 'ruletrail_records_in_flight'),
    };
    samples.push(s);
    console.error(
      `soak: ${(s.t / 60).toFixed(1)} min written ${s.written} rss ${s.rssMb.toFixed(1)} MB heap ${s.heapMb.toFixed(1)} MB ` +
        `lag p99 ${s.lagP99Ms.toFixed(1)} ms fds ${s.fds} kafka ${s.kafka} es ${s.es} in-flight ${s.inFlight}`,
    );
  };
  // The first sample after one interval (the histogram covers the interval before the scrape).
  for (let next = start + intervalMs; next <= end + 1; next += intervalMs) {
    await sleep(Math.max(0, next - Date.now()));
    await sample();
  }
  await writer;
  const total = written;
  // Drain: both sinks have every explanation (each packet gives one; alerts go to the Kafka sink too).
  await waitUntil(
    async () => (await sinkDelivered(metricsPort, 'es')) >= total,
    300_000,
    `Elasticsearch to hold all ${total} explanations`,
    1000,
  );
  const status = await stopRun(run);
  const kafkaLedger = ledger(total, await kafkaTopicPackets(env.KAFKA_BROKERS, topic));
  const esLedger = ledger(total, await esIndexPackets(env.ES_URL, index));
  const deadLetters = existsSync(join(dir, 'dead-letter.ndjson'))
    ? readFileSync(join(dir, 'dead-letter.ndjson'), 'utf8').split('\n').filter(Boolean).length
    : 0;
  const summary = {
    minutes,
    rate,
    packets: total,
    rotations,
    exit: status,
    deadLetters,
    kafkaLedger,
    esLedger,
  };
  console.log(JSON.stringify(summary, null, 2));
  const outDir = values.write ? join(REPO_ROOT, 'docs') : dir;
  writeFileSync(join(outDir, 'soak.svg'), renderSoakSvg(samples, { minutes, rate }));
  writeFileSync(join(outDir, 'soak.md'), renderSoakTable(samples, summary));
  writeFileSync(join(dir, 'samples.json'), JSON.stringify({ summary, samples }, null, 1));
  console.error(`soak: wrote ${join(outDir, 'soak.svg')}, ${join(outDir, 'soak.md')}`);
  const ok = (l: LedgerCount) => l.lost === 0 && l.foreign === 0;
  return status === 0 && ok(kafkaLedger) && ok(esLedger) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    killRuns();
    console.error(err);
    process.exit(1);
  },
);
