/**
 * Plumbing for the chaos harness and the soak: the ledger (which of the N packets reached a sink, how often),
 * readers for each sink (NDJSON file, Kafka topic, Elasticsearch index), `ruletrail run` as a child process with
 * its metrics endpoint, and the services of services/start.sh (read from services/.env.ports).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { stringify } from 'yaml';
import { REPO_ROOT, packetNumber } from './traffic';

export const BIN = join(REPO_ROOT, 'packages/cli/bin/ruletrail.js');

// --------------------------------------------------------------------------------------------------- ledger

/** What one sink holds of packets 0..N-1. */
export interface LedgerCount {
  readonly packets: number;
  /** Packets present at least once. */
  readonly delivered: number;
  /** Extra copies (a packet present 3 times counts 2). */
  readonly duplicated: number;
  /** Packets not present at all: must be 0. */
  readonly lost: number;
  /** The first few lost packet numbers (for the report). */
  readonly missing: readonly number[];
  /** Records that are no packet of the set (must be 0: nothing invented). */
  readonly foreign: number;
}

/** Counts packet numbers (one per record found in a sink) against the set 0..n-1. */
export function ledger(n: number, found: Iterable<number | undefined>): LedgerCount {
  const seen = new Uint32Array(n);
  let foreign = 0;
  for (const k of found) {
    if (k === undefined || k < 0 || k >= n) foreign++;
    else seen[k]!++;
  }
  let delivered = 0;
  let duplicated = 0;
  const missing: number[] = [];
  for (let i = 0; i < n; i++) {
    if (seen[i]! > 0) {
      delivered++;
      duplicated += seen[i]! - 1;
    } else if (missing.length < 20) missing.push(i);
  }
  return { packets: n, delivered, duplicated, lost: n - delivered, missing, foreign };
}

// ---------------------------------------------------------------------------------------------- sink readers

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Rec = Record<string, any>;

/** Packet numbers of the explanations in an NDJSON file sink (a torn last line is skipped). */
export function fileSinkPackets(path: string): (number | undefined)[] {
  if (!existsSync(path)) return [];
  const out: (number | undefined)[] = [];
  for (const l of readFileSync(path, 'utf8').split('\n')) {
    if (!l) continue;
    try {
      const r = JSON.parse(l) as Rec;
      if (r.verdict !== undefined) out.push(packetNumber(r));
    } catch {
      // the line being written right now
    }
  }
  return out;
}

/** Every message of a topic from the beginning up to its current end, as packet numbers. */
export async function kafkaTopicPackets(brokers: string, topic: string): Promise<(number | undefined)[]> {
  const kafka = new Kafka({ brokers: [brokers], clientId: 'rt-chaos-ledger', logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const want = offsets.reduce((s, o) => s + (Number(o.high) - Number(o.low)), 0);
  const out: (number | undefined)[] = [];
  if (want === 0) return out;
  const consumer = kafka.consumer({ groupId: `rt-chaos-ledger-${process.pid}-${Date.now()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: ({ message }) => {
      out.push(packetNumber(JSON.parse(message.value!.toString()) as Rec));
      return Promise.resolve();
    },
  });
  try {
    await waitUntil(() => out.length >= want, 120_000, `${want} messages of ${topic}`);
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** Every document of an index (refreshed first), as packet numbers. */
export async function esIndexPackets(url: string, index: string): Promise<(number | undefined)[]> {
  await fetch(`${url}/${index}/_refresh`, { method: 'POST' });
  const out: (number | undefined)[] = [];
  let after: unknown[] | undefined;
  for (;;) {
    const r = await fetch(`${url}/${index}/_search`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        size: 5000,
        _source: ['packet.tcpSeq'],
        sort: [{ _doc: 'asc' }],
        ...(after ? { search_after: after } : {}),
      }),
    });
    if (!r.ok) throw new Error(`search ${index}: ${r.status} ${await r.text()}`);
    const hits = ((await r.json()) as { hits: { hits: { _source: Rec; sort: unknown[] }[] } }).hits.hits;
    if (hits.length === 0) return out;
    for (const h of hits) out.push(packetNumber(h._source));
    after = hits[hits.length - 1]!.sort;
  }
}

// ------------------------------------------------------------------------------------------ ruletrail run

/** A fresh temp folder for one scenario. */
export function tempDir(prefix = 'rt-chaos-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Writes a config object as YAML; returns its path. */
export function writeConfig(dir: string, config: object, name = 'pipeline.yaml'): string {
  const p = join(dir, name);
  writeFileSync(p, stringify(config));
  return p;
}

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** A running `ruletrail run`, its stderr appended to `log`. */
export interface Run {
  readonly child: ChildProcess;
  readonly exited: Promise<number | string>;
}

const running = new Set<ChildProcess>();

/** Starts `ruletrail run --config` (stdout ignored, stderr appended to `logPath`). */
export function startRun(config: string, logPath: string, nodeArgs: string[] = []): Run {
  const child = spawn(process.execPath, [...nodeArgs, BIN, 'run', '--config', config, '--no-progress'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  const log = createWriteStream(logPath, { flags: 'a' });
  child.stderr.pipe(log);
  running.add(child);
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve(code ?? signal ?? -1);
    }),
  );
  return { child, exited };
}

/** SIGKILLs every `ruletrail run` this process started and that still runs (on failure paths). */
export function killRuns(): void {
  for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  running.clear();
}

/** SIGTERM, then the exit status (SIGKILL after `ms`). */
export async function stopRun(run: Run, ms = 60_000): Promise<number | string> {
  run.child.kill('SIGTERM');
  const t = setTimeout(() => run.child.kill('SIGKILL'), ms);
  try {
    return await run.exited;
  } finally {
    clearTimeout(t);
  }
}

/** One sample of a metric family from a Prometheus text page, summed over the series matching `labels`. */
export function metricValue(page: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  let found = false;
  for (const line of page.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    if (!Object.entries(labels).every(([k, v]) => rest.includes(`${k}="${v}"`))) continue;
    const v = Number(rest.slice(rest.lastIndexOf(' ') + 1));
    if (Number.isFinite(v)) {
      sum += v;
      found = true;
    }
  }
  return found ? sum : NaN;
}

/** The metrics page of a run (undefined while it is not up). */
export async function scrape(port: number): Promise<string | undefined> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) });
    return r.ok ? await r.text() : undefined;
  } catch {
    return undefined;
  }
}

/** Records a sink delivered, per its metrics (NaN while the endpoint is down). */
export async function sinkDelivered(port: number, sinkId: string): Promise<number> {
  const page = await scrape(port);
  if (page === undefined) return NaN;
  return metricValue(page, 'ruletrail_component_sent_events_total', {
    component_id: sinkId,
    component_kind: 'sink',
  });
}

/** Records handed to a sink and not yet delivered (NaN while the endpoint is down). */
export async function sinkBacklog(port: number, sinkId: string): Promise<number> {
  const page = await scrape(port);
  if (page === undefined) return NaN;
  const l = { component_id: sinkId, component_kind: 'sink' };
  const errors = metricValue(page, 'ruletrail_component_errors_total', l);
  return (
    metricValue(page, 'ruletrail_component_received_events_total', l) -
    metricValue(page, 'ruletrail_component_sent_events_total', l) -
    (Number.isFinite(errors) ? errors : 0)
  );
}

/** Polls `cond` every `intervalMs` until it is true, or throws after `ms`. */
export async function waitUntil(
  cond: () => boolean | Promise<boolean>,
  ms: number,
  what: string,
  intervalMs = 100,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Time from `since` until the sink's delivered counter first grows past `baseline` (the recovery time of a
 * fault that ended at `since`).
 */
export async function timeToDeliver(
  port: number,
  sinkId: string,
  baseline: number,
  since: number,
  ms = 300_000,
): Promise<number> {
  await waitUntil(
    async () => {
      const v = await sinkDelivered(port, sinkId);
      return Number.isFinite(v) && v > baseline;
    },
    ms,
    `sink ${sinkId} to deliver again`,
    50,
  );
  return Date.now() - since;
}

// ---------------------------------------------------------------------------------------------- services

const PORTS_FILE = process.env.RULETRAIL_PORTS_FILE ?? join(REPO_ROOT, 'services/.env.ports');

/** services/.env.ports as a map (empty when missing). */
export function servicePorts(): Record<string, string> {
  const env: Record<string, string> = {};
  if (!existsSync(PORTS_FILE)) return env;
  for (const line of readFileSync(PORTS_FILE, 'utf8').split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}

/** Runs services/start.sh with arguments (e.g. `kafka-restart`); resolves when it succeeded. */
export function servicesStart(...args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn('bash', [join(REPO_ROOT, 'services/start.sh'), ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    c.stderr.on('data', (b: Buffer) => (err += b.toString()));
    c.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`services/start.sh ${args.join(' ')}: ${err}`)),
    );
  });
}

/** The pid in a pid file, if that process is alive. */
export function livePid(pidFile: string): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

/** Waits until a pid is gone. */
export async function waitGone(pid: number, ms: number): Promise<void> {
  await waitUntil(
    () => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    },
    ms,
    `pid ${pid} to exit`,
  );
}

/** Creates Kafka topics (idempotent) and waits for their leaders. */
export async function createTopics(brokers: string, topics: { topic: string; numPartitions: number }[]) {
  const admin = new Kafka({ brokers: [brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: topics.map((t) => ({ ...t, replicationFactor: 1 })),
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
}
