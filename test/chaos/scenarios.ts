/**
 * The chaos scenarios (issue #15, item 4). Each feeds a known set of N traced packets (test/chaos/traffic.ts)
 * through a real `ruletrail run`, injects one kind of fault while the packets flow, and counts at the end, in the
 * sink itself, which packets arrived and how often (the ledger): lost must be 0; duplicates are allowed only from
 * the unacknowledged window (what was delivered after the last checkpoint / offset commit before a crash).
 *
 *   kill           `ruletrail run` SIGKILLed at random points and restarted, tailing a file with checkpoints
 *                  while it is rotated by rename and by copytruncate
 *   kafka          the broker killed -9 and restarted while the enrichment consumer group (Kafka source) and
 *                  the Kafka sink run
 *   elasticsearch  Elasticsearch stopped for 30 s mid-bulk, then restarted on the same data
 *   network        Toxiproxy between the pipeline and Kafka and Elasticsearch: latency, connection resets, a
 *                  half-open connection (data swallowed, no FIN/RST), the service unreachable
 *   enospc         the dead-letter file on a small tmpfs that fills up (ENOSPC), then grows again
 */
import {
  appendFileSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import {
  createTopics,
  esIndexPackets,
  fileSinkPackets,
  freePort,
  kafkaTopicPackets,
  ledger,
  livePid,
  servicePorts,
  servicesStart,
  sinkBacklog,
  sinkDelivered,
  sleep,
  startRun,
  stopRun,
  tempDir,
  timeToDeliver,
  waitGone,
  waitUntil,
  writeConfig,
  type LedgerCount,
} from './harness';
import { labSnapshots, packetLines, packetsText } from './traffic';

/** What one scenario reports (docs/reliability.md's chaos table). */
export interface ScenarioResult {
  readonly scenario: string;
  /** One ledger per sink checked. */
  readonly sinks: Record<string, LedgerCount>;
  /** Faults injected. */
  readonly faults: number;
  /** Time from the end of each fault (process restarted, service back, toxic removed) to the next delivery. */
  readonly recoveryMs: readonly number[];
  /** `ruletrail run`'s exit status at the final SIGTERM. */
  readonly exit: number | string;
  readonly seconds: number;
  readonly notes: string[];
  /** The scenario's folder (configs, logs, sink files). */
  readonly dir: string;
}

export interface ScenarioOptions {
  /** Packets in the set. */
  readonly packets?: number;
  /** Seed of the random fault points. */
  readonly seed?: number;
  /** Progress lines (stderr). */
  readonly log?: (msg: string) => void;
  /** ES stop duration (scenario elasticsearch), ms. */
  readonly esDownMs?: number;
  /** How long each network fault lasts (scenario network), ms. */
  readonly faultMs?: number;
}

/** mulberry32: a small seeded PRNG, so a failing run can be repeated with its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const noLog = (): void => undefined;

function esApiVersion(env: Record<string, string>): 8 | 9 {
  return (env.ES_VERSION ?? '9').startsWith('8') ? 8 : 9;
}

function need(env: Record<string, string>, keys: string[]): void {
  const missing = keys.filter((k) => !env[k]);
  if (missing.length)
    throw new Error(
      `services/.env.ports lacks ${missing.join(', ')}: start the services (services/start.sh)`,
    );
}

/** A writer appending packets [0, n) to `path` at `perSecond`, in 50 ms slices; resolves when all are written. */
function writePackets(
  path: string,
  n: number,
  perSecond: number,
  onSlice?: () => void,
): { done: Promise<void>; written: () => number } {
  let written = 0;
  const done = (async () => {
    const start = Date.now();
    while (written < n) {
      const target = Math.min(n, Math.floor(((Date.now() - start) / 1000) * perSecond) + 1);
      if (target > written) {
        appendFileSync(path, packetsText(written, target));
        written = target;
      }
      onSlice?.();
      await sleep(50);
    }
  })();
  return { done, written: () => written };
}

// ------------------------------------------------------------------------------------------------------ kill

/**
 * `ruletrail run` tailing `kern.log*` with checkpoints, SIGKILLed every 1.5–4 s (random, seeded) while the
 * packets are written (~25 s) and restarted 0.1–0.8 s later, while the writer appends packets and rotates the file every 0.7–2 s, alternately by rename
 * (a new `kern.log`) and by copytruncate (copy to `kern.log.<k>`, truncate in place). The glob is what the docs
 * recommend: it also matches the rotated generations, so a rotation while ruletrail is down is caught up.
 */
export async function killScenario(opts: ScenarioOptions = {}): Promise<ScenarioResult> {
  const n = opts.packets ?? 3000;
  const log = opts.log ?? noLog;
  const random = rng(opts.seed ?? 15);
  const dir = tempDir('rt-chaos-kill-');
  const kern = join(dir, 'kern.log');
  writeFileSync(kern, '');
  const out = join(dir, 'out.ndjson');
  const metricsPort = await freePort();
  const cfg = writeConfig(dir, {
    version: 1,
    dataDir: join(dir, 'state'),
    sources: [{ id: 'kern', type: 'file', paths: [`${kern}*`], pollIntervalMs: 50 }],
    snapshots: { files: labSnapshots() },
    sinks: [{ id: 'out', type: 'file', path: out, records: ['explanation'] }],
    deadLetter: { path: join(dir, 'dead-letter.ndjson') },
    metrics: { listen: `127.0.0.1:${metricsPort}` },
    pipeline: { checkpointIntervalMs: 200 },
  });
  const t0 = Date.now();
  let run = startRun(cfg, join(dir, 'run.log'));
  let generation = 0;
  let rotations = 0;
  let nextRotation = Date.now() + 700 + random() * 1300;
  const rotate = (): void => {
    if (Date.now() < nextRotation) return;
    generation++;
    rotations++;
    if (generation % 2 === 1) {
      renameSync(kern, `${kern}.${generation}`);
      writeFileSync(kern, '');
    } else {
      // copytruncate with nothing written between the copy and the truncation (no window of our own).
      copyFileSync(kern, `${kern}.${generation}`);
      truncateSync(kern, 0);
    }
    nextRotation = Date.now() + 700 + random() * 1300;
  };
  // Spread over ~25 s so that several kills land while packets flow.
  const perSecond = Math.max(20, Math.round(n / 25));
  const writer = writePackets(kern, n, perSecond, rotate);
  const recoveryMs: number[] = [];
  let kills = 0;
  let writing = true;
  void writer.done.then(() => (writing = false));
  // Kill only while the writer runs: a kill after everything was delivered has nothing to lose or recover.
  while (writing) {
    await sleep(1500 + random() * 2500);
    // The writer may have finished during the sleep: a kill now could find everything delivered and checkpointed,
    // with nothing to recover (seen in CI as a "never recovered" kill after 1500/1500 were written).
    if (!writing) break;
    run.child.kill('SIGKILL');
    await run.exited;
    kills++;
    await sleep(100 + random() * 700);
    const restarted = Date.now();
    run = startRun(cfg, join(dir, 'run.log'));
    // NaN = never delivered again; unless the sink already holds every packet (the kill came after the last
    // delivery and its checkpoint), there was nothing to recover: 0.
    const ms = await timeToDeliver(metricsPort, 'out', 0, restarted, 120_000).catch(() =>
      ledger(n, fileSinkPackets(out)).lost === 0 ? 0 : NaN,
    );
    recoveryMs.push(ms);
    log(`kill ${kills}: written ${writer.written()}/${n}, delivering again after ${ms} ms`);
  }
  await writer.done;
  await waitUntil(
    () => ledger(n, fileSinkPackets(out)).lost === 0,
    180_000,
    `all ${n} packets in the sink`,
    500,
  );
  const exit = await stopRun(run);
  return {
    scenario: 'kill',
    sinks: { file: ledger(n, fileSinkPackets(out)) },
    faults: kills,
    recoveryMs,
    exit,
    seconds: (Date.now() - t0) / 1000,
    notes: [`${kills} SIGKILLs, ${rotations} rotations (rename and copytruncate alternating)`],
    dir,
  };
}

// ----------------------------------------------------------------------------------------------------- kafka

/**
 * The enrichment tier: raw lines in a 3-partition topic keyed by host, one `ruletrail run` consuming them as a
 * consumer group (Kafka source) and writing explanations to a topic (Kafka sink). The broker is killed -9 when
 * about a quarter of the packets were delivered, and restarted (same data dir) after 5 s.
 */
export async function kafkaScenario(opts: ScenarioOptions = {}): Promise<ScenarioResult> {
  const n = opts.packets ?? 3000;
  const log = opts.log ?? noLog;
  const env = servicePorts();
  need(env, ['KAFKA_BROKERS', 'KAFKA_PID_FILE']);
  const brokers = env.KAFKA_BROKERS!;
  const id = Date.now().toString(36);
  const raw = `rt-chaos-raw-${id}`;
  const explained = `rt-chaos-explained-${id}`;
  await createTopics(brokers, [
    { topic: raw, numPartitions: 3 },
    { topic: explained, numPartitions: 3 },
    { topic: `${explained}.alerts`, numPartitions: 1 },
  ]);
  // The edge: every packet's lines, keyed by host (one line per message), produced before the run starts.
  const producer = new Kafka({ brokers: [brokers], logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  for (let i = 0; i < n; i += 100) {
    const messages = [];
    for (let j = i; j < Math.min(n, i + 100); j++)
      for (const l of packetLines(j)) messages.push({ key: l.split(' ')[1]!, value: l });
    await producer.send({ topic: raw, messages });
  }
  await producer.disconnect();
  const dir = tempDir('rt-chaos-kafka-');
  const metricsPort = await freePort();
  const cfg = writeConfig(dir, {
    version: 1,
    sources: [{ id: 'raw', type: 'kafka', brokers: [brokers], topic: raw, groupId: `rt-chaos-${id}` }],
    snapshots: { files: labSnapshots() },
    sinks: [{ id: 'kafka', type: 'kafka', options: { brokers: [brokers], topic: explained } }],
    deadLetter: { path: join(dir, 'dead-letter.ndjson') },
    metrics: { listen: `127.0.0.1:${metricsPort}` },
    pipeline: { maxInFlight: 500 },
  });
  const t0 = Date.now();
  const run = startRun(cfg, join(dir, 'run.log'));
  await waitUntil(async () => (await sinkDelivered(metricsPort, 'kafka')) >= n / 4, 180_000, 'a quarter');
  const pid = livePid(env.KAFKA_PID_FILE!);
  if (pid === undefined) throw new Error('the Kafka broker is not running');
  process.kill(pid, 'SIGKILL');
  const killed = Date.now();
  await waitGone(pid, 30_000);
  const before = await sinkDelivered(metricsPort, 'kafka');
  log(`broker killed -9 at ${before} delivered`);
  await sleep(5000);
  await servicesStart('kafka-restart');
  const back = Date.now();
  const ms = await timeToDeliver(metricsPort, 'kafka', before, back, 300_000).catch(() => NaN);
  log(`broker back; delivering again after ${ms} ms`);
  // Done when the group committed the end of every raw partition: offsets are committed only after the sink
  // acknowledged every record of the lines before them (the delivered counter also counts re-deliveries).
  await waitUntil(
    () => groupCaughtUp(brokers, `rt-chaos-${id}`, raw),
    300_000,
    'the group to commit the end',
    1000,
  );
  const exit = await stopRun(run);
  return {
    scenario: 'kafka',
    sinks: { kafka: ledger(n, await kafkaTopicPackets(brokers, explained)) },
    faults: 1,
    recoveryMs: [ms],
    exit,
    seconds: (Date.now() - t0) / 1000,
    notes: [
      `broker killed ${((killed - t0) / 1000).toFixed(0)} s into the run, back ${((back - killed) / 1000).toFixed(0)} s later (5 s dead plus its restart)`,
    ],
    dir,
  };
}

/** Whether a consumer group's committed offsets reached the end of every partition of a topic. */
async function groupCaughtUp(brokers: string, groupId: string, topic: string): Promise<boolean> {
  const admin = new Kafka({ brokers: [brokers], logLevel: logLevel.NOTHING }).admin();
  try {
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(topic);
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return ends.every((e) => {
      const c = committed?.partitions.find((p) => p.partition === e.partition);
      return c !== undefined && Number(c.offset) >= Number(e.high);
    });
  } catch {
    return false; // the broker is restarting
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

// --------------------------------------------------------------------------------------------- elasticsearch

/**
 * A tailed file → the Elasticsearch sink (bulk batches of 200). When a fifth of the packets were delivered the
 * node is stopped (SIGTERM, as `systemctl stop` does), kept down for 30 s while bulks are in flight and
 * retried, and restarted on the same data (`services/start.sh elasticsearch-restart`).
 */
export async function elasticsearchScenario(opts: ScenarioOptions = {}): Promise<ScenarioResult> {
  const n = opts.packets ?? 4000;
  const log = opts.log ?? noLog;
  const downMs = opts.esDownMs ?? 30_000;
  const env = servicePorts();
  need(env, ['ES_URL']);
  const esPid =
    env.ES_PID_FILE ??
    join(process.env.RULETRAIL_SERVICES_DIR ?? '/tmp/ruletrail-services', 'elasticsearch/es.pid');
  const index = `rt-chaos-${Date.now().toString(36)}`;
  const dir = tempDir('rt-chaos-es-');
  const kern = join(dir, 'kern.log');
  writeFileSync(kern, '');
  const metricsPort = await freePort();
  const cfg = writeConfig(dir, {
    version: 1,
    dataDir: join(dir, 'state'),
    sources: [{ id: 'kern', type: 'file', paths: [kern], pollIntervalMs: 50 }],
    snapshots: { files: labSnapshots() },
    sinks: [
      {
        id: 'es',
        type: 'elasticsearch',
        records: ['explanation'],
        options: { nodes: [env.ES_URL], index, apiVersion: esApiVersion(env), requestTimeoutMs: 10_000 },
        runner: { batch: { maxEvents: 200 } },
      },
    ],
    deadLetter: { path: join(dir, 'dead-letter.ndjson') },
    metrics: { listen: `127.0.0.1:${metricsPort}` },
  });
  const t0 = Date.now();
  const run = startRun(cfg, join(dir, 'run.log'));
  const writer = writePackets(kern, n, Math.max(50, Math.round(n / 40)));
  await waitUntil(async () => (await sinkDelivered(metricsPort, 'es')) >= n / 5, 180_000, 'a fifth');
  const pid = livePid(esPid);
  if (pid === undefined) throw new Error(`Elasticsearch is not running (${esPid})`);
  process.kill(pid, 'SIGTERM');
  await waitGone(pid, 60_000);
  const stopped = Date.now();
  const before = await sinkDelivered(metricsPort, 'es');
  log(`Elasticsearch stopped at ${before} delivered, written ${writer.written()}/${n}`);
  await sleep(Math.max(0, downMs - (Date.now() - stopped)));
  await servicesStart('elasticsearch-restart');
  const back = Date.now();
  const ms = await timeToDeliver(metricsPort, 'es', before, back, 300_000).catch(() => NaN);
  log(`Elasticsearch back after ${((back - stopped) / 1000).toFixed(0)} s; delivering again after ${ms} ms`);
  await writer.done;
  await waitUntil(
    async () => (await sinkDelivered(metricsPort, 'es')) >= n,
    300_000,
    `all ${n} explanations delivered`,
    500,
  );
  const exit = await stopRun(run);
  return {
    scenario: 'elasticsearch',
    sinks: { elasticsearch: ledger(n, await esIndexPackets(env.ES_URL!, index)) },
    faults: 1,
    recoveryMs: [ms],
    exit,
    seconds: (Date.now() - t0) / 1000,
    notes: [
      `stopped ${downMs / 1000} s, down ${((back - stopped) / 1000).toFixed(0)} s in all (with the restart)`,
    ],
    dir,
  };
}

// --------------------------------------------------------------------------------------------------- network

interface Toxiproxy {
  readonly url: string;
  proxy(name: string, listen: string, upstream: string): Promise<void>;
  toxic(proxy: string, name: string, type: string, attributes: Record<string, number>): Promise<void>;
  clear(proxy: string, name: string): Promise<void>;
  enable(proxy: string, enabled: boolean): Promise<void>;
  remove(proxy: string): Promise<void>;
}

function toxiproxy(url: string): Toxiproxy {
  const call = async (method: string, path: string, body?: unknown): Promise<void> => {
    const r = await fetch(`${url}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    if (!r.ok && !(method === 'DELETE' && r.status === 404))
      throw new Error(`toxiproxy ${method} ${path}: ${r.status} ${await r.text()}`);
  };
  return {
    url,
    proxy: (name, listen, upstream) => call('POST', '/proxies', { name, listen, upstream, enabled: true }),
    toxic: (proxy, name, type, attributes) =>
      call('POST', `/proxies/${proxy}/toxics`, { name, type, stream: 'downstream', toxicity: 1, attributes }),
    clear: (proxy, name) => call('DELETE', `/proxies/${proxy}/toxics/${name}`),
    enable: (proxy, enabled) => call('POST', `/proxies/${proxy}`, { enabled }),
    remove: (proxy) => call('DELETE', `/proxies/${proxy}`),
  };
}

/**
 * A tailed file → Kafka sink + Elasticsearch sink, both through Toxiproxy (Kafka through the broker's PROXIED
 * listener, whose advertised address is the proxy, so metadata does not route around it). Faults, one after the
 * other on both proxies while packets flow: latency (400 ± 200 ms each way), connection resets (reset_peer),
 * a half-open connection (the `timeout` toxic with timeout 0: bytes are swallowed, nothing is closed), and the
 * proxy disabled (connection refused). Each lasts `faultMs`; recovery is measured per sink after each.
 */
export async function networkScenario(opts: ScenarioOptions = {}): Promise<ScenarioResult> {
  const n = opts.packets ?? 4000;
  const log = opts.log ?? noLog;
  const env = servicePorts();
  need(env, ['ES_URL', 'TOXIPROXY_URL', 'KAFKA_PROXIED_BROKERS', 'KAFKA_PROXIED_UPSTREAM']);
  const tp = toxiproxy(env.TOXIPROXY_URL!);
  const id = Date.now().toString(36);
  const kafkaProxy = `rt-chaos-kafka-${id}`;
  const esProxy = `rt-chaos-es-${id}`;
  const esPort = await freePort();
  await tp.proxy(kafkaProxy, env.KAFKA_PROXIED_BROKERS!, env.KAFKA_PROXIED_UPSTREAM!);
  await tp.proxy(esProxy, `127.0.0.1:${esPort}`, new URL(env.ES_URL!).host);
  const topic = `rt-chaos-net-${id}`;
  const index = `rt-chaos-net-${id}`;
  const dir = tempDir('rt-chaos-net-');
  const notes: string[] = [];
  try {
    await createTopics(env.KAFKA_PROXIED_BROKERS!, [
      { topic, numPartitions: 3 },
      { topic: `${topic}.alerts`, numPartitions: 1 },
    ]);
    const kern = join(dir, 'kern.log');
    writeFileSync(kern, '');
    const metricsPort = await freePort();
    const cfg = writeConfig(dir, {
      version: 1,
      dataDir: join(dir, 'state'),
      sources: [{ id: 'kern', type: 'file', paths: [kern], pollIntervalMs: 50 }],
      snapshots: { files: labSnapshots() },
      sinks: [
        {
          id: 'kafka',
          type: 'kafka',
          records: ['explanation'],
          options: { brokers: [env.KAFKA_PROXIED_BROKERS], topic, requestTimeoutMs: 10_000 },
        },
        {
          id: 'es',
          type: 'elasticsearch',
          records: ['explanation'],
          options: {
            nodes: [`http://127.0.0.1:${esPort}`],
            index,
            apiVersion: esApiVersion(env),
            requestTimeoutMs: 10_000,
          },
        },
      ],
      deadLetter: { path: join(dir, 'dead-letter.ndjson') },
      metrics: { listen: `127.0.0.1:${metricsPort}` },
    });
    const t0 = Date.now();
    const run = startRun(cfg, join(dir, 'run.log'));
    const faults: { name: string; type: string; attributes: Record<string, number> }[] = [
      { name: 'latency', type: 'latency', attributes: { latency: 400, jitter: 200 } },
      { name: 'reset', type: 'reset_peer', attributes: { timeout: 0 } },
      { name: 'half-open', type: 'timeout', attributes: { timeout: 0 } },
      { name: 'refused', type: 'disabled', attributes: {} },
    ];
    const faultMs = opts.faultMs ?? 8000;
    // The packets are written in 2 × faults + 1 equal shares: one before the first fault, then one during each
    // fault (spread over it), so every fault has records queued behind it whatever the machine's speed.
    const shares = faults.length * 2 + 1;
    let written = 0;
    const writeShare = async (spreadMs: number): Promise<void> => {
      const end = Math.min(n, written + Math.ceil(n / shares));
      const steps = 10;
      const from = written;
      for (let i = 1; i <= steps; i++) {
        const to = from + Math.round(((end - from) * i) / steps);
        appendFileSync(kern, packetsText(written, to));
        written = to;
        await sleep(spreadMs / steps);
      }
    };
    await writeShare(1000);
    await waitUntil(async () => (await sinkDelivered(metricsPort, 'es')) > 0, 120_000, 'a first delivery');
    const recoveryMs: number[] = [];
    for (const proxy of [kafkaProxy, esProxy]) {
      const sinkId = proxy === kafkaProxy ? 'kafka' : 'es';
      for (const f of faults) {
        if (f.type === 'disabled') await tp.enable(proxy, false);
        else await tp.toxic(proxy, f.name, f.type, f.attributes);
        await writeShare(faultMs);
        const before = await sinkDelivered(metricsPort, sinkId);
        const backlog = await sinkBacklog(metricsPort, sinkId);
        if (f.type === 'disabled') await tp.enable(proxy, true);
        else await tp.clear(proxy, f.name);
        const ended = Date.now();
        // Records queued behind the fault: recovery is the first delivery after it ended. None queued (latency
        // slows delivery without stopping it): nothing to recover from, 0.
        const ms =
          backlog > 0 ? await timeToDeliver(metricsPort, sinkId, before, ended, 180_000).catch(() => NaN) : 0;
        recoveryMs.push(ms);
        notes.push(`${sinkId} ${f.name}: delivering again ${ms} ms after the fault ended`);
        log(`${sinkId} ${f.name} (${faultMs} ms): delivering again after ${ms} ms; written ${written}/${n}`);
        await sleep(3000);
      }
    }
    if (written < n) appendFileSync(kern, packetsText(written, n));
    for (const s of ['kafka', 'es'])
      await waitUntil(
        async () => (await sinkDelivered(metricsPort, s)) >= n,
        300_000,
        `all ${n} explanations in ${s}`,
        500,
      );
    const exit = await stopRun(run);
    return {
      scenario: 'network',
      sinks: {
        kafka: ledger(n, await kafkaTopicPackets(env.KAFKA_PROXIED_BROKERS!, topic)),
        elasticsearch: ledger(n, await esIndexPackets(env.ES_URL!, index)),
      },
      faults: recoveryMs.length,
      recoveryMs,
      exit,
      seconds: (Date.now() - t0) / 1000,
      notes,
      dir,
    };
  } finally {
    await tp.remove(kafkaProxy).catch(() => undefined);
    await tp.remove(esProxy).catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------------- enospc

/** The bad line of number k: a TRACE prefix not followed by `IN=` (dead-lettered, RT_ERR_KLOG_TRACE_PREFIX). */
function badLine(k: number): string {
  return `${new Date(Date.UTC(2026, 11, 4, 13, 0, 0) + k).toISOString()} lab-incident kernel: TRACE: raw:PREROUTING:policy:4 bad-line-${k}`;
}

/**
 * The dead-letter file on a 64 KiB tmpfs (created here, unmounted at the end; needs root). A tailed file gets
 * packets with one bad line after every fourth packet; the dead letters fill the tmpfs (ENOSPC) after a
 * hundred or so; 10 s later the tmpfs is grown to 16 MiB (`mount -o remount,size=16m`). Two ledgers: the
 * packets in the sink, and the bad lines in the dead-letter file (a dead letter is data too).
 */
export async function enospcScenario(opts: ScenarioOptions = {}): Promise<ScenarioResult> {
  const n = opts.packets ?? 2000;
  const log = opts.log ?? noLog;
  if (process.getuid?.() !== 0) throw new Error('the enospc scenario mounts a tmpfs: run it as root');
  const dir = tempDir('rt-chaos-enospc-');
  const mnt = join(dir, 'dl-tmpfs');
  mkdirSync(mnt);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0755', 'rt-chaos-enospc', mnt]);
  const notes: string[] = [];
  try {
    const kern = join(dir, 'kern.log');
    writeFileSync(kern, '');
    const out = join(dir, 'out.ndjson');
    const dl = join(mnt, 'dead-letter.ndjson');
    const metricsPort = await freePort();
    const cfg = writeConfig(dir, {
      version: 1,
      dataDir: join(dir, 'state'),
      sources: [{ id: 'kern', type: 'file', paths: [kern], pollIntervalMs: 50, format: 'kernel-log' }],
      snapshots: { files: labSnapshots() },
      sinks: [{ id: 'out', type: 'file', path: out, records: ['explanation'] }],
      deadLetter: { path: dl },
      metrics: { listen: `127.0.0.1:${metricsPort}` },
    });
    const t0 = Date.now();
    const run = startRun(cfg, join(dir, 'run.log'));
    const bad = Math.floor(n / 4);
    let written = 0;
    const perSecond = Math.max(50, Math.round(n / 20));
    const writer = (async () => {
      const start = Date.now();
      while (written < n) {
        const target = Math.min(n, Math.floor(((Date.now() - start) / 1000) * perSecond) + 1);
        let text = '';
        for (; written < target; written++) {
          text += packetLines(written).join('\n') + '\n';
          if (written % 4 === 3) text += badLine(Math.floor(written / 4)) + '\n';
        }
        appendFileSync(kern, text);
        await sleep(50);
      }
    })();
    const dlCount = (): number =>
      existsSync(dl)
        ? readFileSync(dl, 'utf8')
            .split('\n')
            .filter((l) => l.endsWith('}')).length
        : 0;
    // Full: the run reports its first failed write (ENOSPC).
    const runLog = join(dir, 'run.log');
    const logged = (re: RegExp) => (): boolean => existsSync(runLog) && re.test(readFileSync(runLog, 'utf8'));
    await waitUntil(
      logged(/Cannot write the dead-letter file/),
      120_000,
      'ENOSPC on the dead-letter file',
      100,
    );
    const full = Date.now();
    log(`dead-letter file full (${dlCount()} dead letters in it); written ${written}/${n}`);
    await sleep(10_000);
    const exitedMeanwhile = run.child.exitCode ?? run.child.signalCode;
    if (exitedMeanwhile !== null)
      notes.push(`ruletrail run exited while the disk was full: ${exitedMeanwhile}`);
    execFileSync('mount', ['-o', 'remount,size=16m', mnt]);
    const grown = Date.now();
    // Recovered: the held dead letters are written (the run says so after its next retry).
    const recovered = await waitUntil(logged(/dead-letter file can be written again/), 60_000, 'recovery', 50)
      .then(() => Date.now() - grown)
      .catch(() => NaN);
    notes.push(`dead-letter file full for ${((grown - full) / 1000).toFixed(0)} s`);
    log(
      `tmpfs grown after ${((grown - full) / 1000).toFixed(0)} s full; dead letters written again after ${recovered} ms`,
    );
    await writer;
    await waitUntil(() => ledger(n, fileSinkPackets(out)).lost === 0, 120_000, `all ${n} packets`, 500).catch(
      (e: Error) => notes.push(e.message),
    );
    await waitUntil(() => dlCount() >= bad, 60_000, `all ${bad} dead letters`, 500).catch((e: Error) =>
      notes.push(e.message),
    );
    const exit =
      run.child.exitCode === null && run.child.signalCode === null ? await stopRun(run) : await run.exited;
    const dlLines = existsSync(dl) ? readFileSync(dl, 'utf8').split('\n') : [];
    const dlNumbers = dlLines
      .map((l) => /bad-line-(\d+)/.exec(l)?.[1])
      .filter((k): k is string => k !== undefined)
      .map(Number);
    return {
      scenario: 'enospc',
      sinks: { file: ledger(n, fileSinkPackets(out)), 'dead-letter': ledger(bad, dlNumbers) },
      faults: 1,
      recoveryMs: [recovered],
      exit,
      seconds: (Date.now() - t0) / 1000,
      notes,
      dir,
    };
  } finally {
    try {
      execFileSync('umount', [mnt]);
      rmdirSync(mnt);
    } catch (err) {
      notes.push(`umount ${mnt}: ${(err as Error).message}`);
    }
  }
}

export const SCENARIOS = {
  kill: killScenario,
  kafka: kafkaScenario,
  elasticsearch: elasticsearchScenario,
  network: networkScenario,
  enospc: enospcScenario,
} as const;
export type ScenarioName = keyof typeof SCENARIOS;
