/**
 * The shared source conformance check (`checkSource`, pipeline conformance.ts) for every registered source, on
 * the bundled incident's real kernel log with one TRACE line made unreadable: file (read and tail), stdin,
 * syslog (TCP, newline framing) and — against the real broker when RUN_SERVICE_TESTS=1 — Kafka. Each source is
 * built by its registered plugin, as `ruletrail run` builds it.
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { Kafka, logLevel } from 'kafkajs';
import { NOOP_LOGGER } from '@ruletrail/core';
import { REGISTRY } from '@ruletrail/cli';
import { kernelLogAdapter } from '@ruletrail/ingest-kernel-log';
import { checkSource, type Source } from '@ruletrail/pipeline';
import { StdinSource } from '@ruletrail/source-file';
import type { SyslogSource } from '@ruletrail/source-syslog';
import { requireServices } from './support/services';

const LINES = readFileSync(join(__dirname, '../examples/incident/kern.log'), 'utf8').trimEnd().split('\n');
/** 1-based line made unreadable: a TRACE prefix without its rule number. */
const BAD = 4;
const MIXED = LINES.map((l, i) =>
  i + 1 === BAD ? l.replace(/cali-PREROUTING:rule:3/, 'cali-PREROUTING') : l,
);
assert.notEqual(MIXED[BAD - 1], LINES[BAD - 1]);
const TEXT = MIXED.join('\n') + '\n';
const FIELDS = { format: 'kernel-log', year: 2023 } as const;

/** Events the kernel-log adapter decodes from the mixed input read directly (what every source must deliver). */
async function expectedEvents(): Promise<number> {
  let n = 0;
  for await (const b of kernelLogAdapter.decode(Readable.from([Buffer.from(TEXT)]), {
    file: 'x',
    year: 2023,
  }))
    n += b.events.length;
  return n;
}

function build(type: string, config: Record<string, unknown>): Source {
  const plugin = REGISTRY.sources.find((p) => p.type === type)!;
  return plugin.create({ id: `conformance-${type}`, type, ...FIELDS, ...config } as never, {
    baseDir: __dirname,
    logger: NOOP_LOGGER,
    stop: () => undefined,
  }) as Source;
}

describe('source conformance', function () {
  this.timeout(120_000);
  let events = 0;
  before(async () => {
    events = await expectedEvents();
    assert.ok(events > 30);
  });
  const common = () => ({ ingest: REGISTRY.ingest, fields: FIELDS, events, badLines: [BAD] });

  it('file, mode read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rt-conf-src-'));
    writeFileSync(join(dir, 'kern.log'), TEXT);
    await checkSource(
      () =>
        build('file', {
          paths: [join(dir, '*.log')],
          mode: 'read',
          startAt: 'beginning',
          pollIntervalMs: 50,
        }),
      common(),
    );
  });

  it('file, mode tail: lines appended after the start, split mid-line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rt-conf-src-'));
    const path = join(dir, 'kern.log');
    writeFileSync(path, '');
    await checkSource(
      () => build('file', { paths: [path], mode: 'tail', startAt: 'beginning', pollIntervalMs: 20 }),
      {
        ...common(),
        feed: async () => {
          // Half a line first: the source must wait for its end before handing it on.
          const cut = TEXT.indexOf('\n', TEXT.length >> 1) + 20;
          appendFileSync(path, TEXT.slice(0, cut));
          await new Promise((r) => setImmediate(r));
          appendFileSync(path, TEXT.slice(cut));
        },
      },
    );
  });

  it('stdin (a stream in chunks that cut lines)', async () => {
    const input = new PassThrough();
    await checkSource(() => new StdinSource({ id: 'conformance-stdin', type: 'stdin', ...FIELDS }, input), {
      ...common(),
      feed: async () => {
        for (let i = 0; i < TEXT.length; i += 97) input.write(TEXT.slice(i, i + 97));
        input.end();
        await Promise.resolve();
      },
    });
  });

  it('syslog over TCP (one message per line)', async () => {
    let source!: SyslogSource;
    await checkSource(
      () =>
        (source = build('syslog', {
          tcp: '127.0.0.1:0',
          maxMessageBytes: 65536,
          batchMs: 20,
          maxConnections: 4,
          idleTimeoutMs: 60_000,
        }) as SyslogSource),
      {
        ...common(),
        feed: async () => {
          await source.ready();
          const [host, port] = source.addresses().tcp!.split(':');
          const sock = connect(Number(port), host);
          await new Promise<void>((r) => sock.once('connect', () => r()));
          await new Promise<void>((r) => sock.end(TEXT, () => r()));
        },
      },
    );
  });

  it('kafka (real broker, one line per message)', async function () {
    const env = requireServices(this, ['KAFKA_BROKERS']);
    const topic = `rt-conf-src-${Date.now()}`;
    const kafka = new Kafka({
      brokers: [env.KAFKA_BROKERS!],
      clientId: 'rt-conformance',
      logLevel: logLevel.NOTHING,
    });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: MIXED.map((value) => ({ key: 'cos74', value })) });
    await producer.disconnect();
    await checkSource(
      () =>
        build('kafka', {
          brokers: [env.KAFKA_BROKERS!],
          topic,
          groupId: `rt-conf-${Date.now()}`,
          fromBeginning: true,
          clientId: 'rt-conformance',
        }),
      { ...common(), timeoutMs: 60_000 },
    );
  });
});
