/**
 * The Fluentd sink against a real Fluent forward receiver (the OpenTelemetry Collector's fluentforward receiver,
 * which acknowledges chunks, started by services/start.sh fluentd with RUN_SERVICE_TESTS=1). The receiver writes
 * what it got to a JSON-lines file (OTLP JSON); the tests read it back. The receiver has no TLS listener: the TLS
 * tests go through stunnel (started by the same script), which terminates TLS with the test CA's server
 * certificate (SAN IP:127.0.0.1, DNS:localhost) and forwards the plain stream to the receiver.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemorySinkDeadLetter, SinkRunner, explainedPacketRecord, type SinkRecord } from '@ruletrail/core';
import { FluentdSink, fluentdPayload, type FluentdSinkConfig, type FluentdTlsConfig } from '../src/index';
import {
  alertBody,
  alertRecord,
  captureLogger,
  explainedPacket,
  requireServices,
  servicesScript,
} from '../../../test/support/services';

interface AnyValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
  bytesValue?: string;
  arrayValue?: { values?: AnyValue[] };
  kvlistValue?: { values?: { key: string; value: AnyValue }[] };
}

/** OTLP JSON AnyValue → plain JS. */
function plain(v: AnyValue): unknown {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(plain);
  if (v.kvlistValue !== undefined)
    return Object.fromEntries((v.kvlistValue.values ?? []).map((kv) => [kv.key, plain(kv.value)]));
  if (v.bytesValue !== undefined) return Buffer.from(v.bytesValue, 'base64').toString('utf8');
  return null;
}

interface Received {
  tag: string;
  timeMs: number;
  record: Record<string, unknown>;
}

/** Every log record the receiver wrote, as `{ tag, time, record }`. */
function received(file: string): Received[] {
  if (!existsSync(file)) return [];
  const out: Received[] = [];
  const lines = readFileSync(file, 'utf8').split('\n');
  // The last line may still be being written: only complete lines are read.
  lines.pop();
  for (const line of lines) {
    if (!line.trim()) continue;
    const req = JSON.parse(line) as {
      resourceLogs: {
        scopeLogs: {
          logRecords: { timeUnixNano: string; attributes?: { key: string; value: AnyValue }[] }[];
        }[];
      }[];
    };
    for (const rl of req.resourceLogs)
      for (const sl of rl.scopeLogs)
        for (const lr of sl.logRecords) {
          const record: Record<string, unknown> = {};
          let tag = '';
          for (const a of lr.attributes ?? []) {
            if (a.key === 'fluent.tag') tag = String(plain(a.value));
            else record[a.key] = plain(a.value);
          }
          out.push({ tag, timeMs: Math.round(Number(BigInt(lr.timeUnixNano) / 1000000n)), record });
        }
  }
  return out;
}

async function waitFor<T>(what: string, fn: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Sends 400 explained packets and 10 alerts through a runner with `config`, then checks every one was acknowledged
 * and arrived at the receiver exactly as sent: tag per kind, every field, the event time.
 */
async function roundTrip(receivedFile: string, config: FluentdSinkConfig): Promise<void> {
  const tag = config.tag;
  const packets = Array.from({ length: 400 }, (_, i) => explainedPacketRecord(explainedPacket(i)));
  const alerts: SinkRecord[] = Array.from({ length: 10 }, (_, i) => alertRecord(i));
  const runner = new SinkRunner(new FluentdSink(config), {
    batch: { maxEvents: 100, maxBytes: 5e6, maxWaitMs: 10 },
    maxInFlight: 2,
  });
  await runner.start();
  await runner.pushAll([...packets, ...alerts]);
  const c = await runner.close();
  assert.deepEqual({ sent: c.sent, failed: c.failed }, { sent: 410, failed: 0 });

  // Acknowledged means the receiver has it; the file exporter may write it a moment later.
  const got = await waitFor('410 records in the receiver file', () => {
    const mine = received(receivedFile).filter((r) => r.tag.startsWith(`${tag}.`));
    return mine.length >= 410 ? mine : undefined;
  });
  assert.equal(got.length, 410);
  const byId = new Map(got.map((g) => [(g.record.ruletrail as { id: string }).id, g]));
  for (const r of [...packets, ...alerts]) {
    const g = byId.get(r.id);
    assert.ok(g, `record ${r.id} missing`);
    assert.equal(g.tag, `${tag}.${r.kind}`);
    assert.deepEqual(g.record, fluentdPayload(r));
    assert.equal(g.timeMs, Date.parse(String(r.body['@timestamp'])));
  }
}

describe('Fluentd sink (real forward receiver)', function () {
  this.timeout(120_000);
  let env: Record<string, string>;
  before(function () {
    env = requireServices(this, ['FLUENTD_PORT', 'FLUENTD_RECEIVED_FILE']);
  });

  it('round trip: every record arrives acknowledged, tagged per kind, field by field', async () => {
    await roundTrip(env.FLUENTD_RECEIVED_FILE!, {
      host: '127.0.0.1',
      port: Number(env.FLUENTD_PORT),
      tag: `rt.rt${Date.now()}`,
    });
  });

  it('receiver restart: writes fail retriably while it is down, then every record arrives', async () => {
    const tag = `rt.restart${Date.now()}`;
    const n = 3000;
    const dl = new MemorySinkDeadLetter();
    const runner = new SinkRunner(
      new FluentdSink({ port: Number(env.FLUENTD_PORT), tag, ackTimeoutMs: 5000 }),
      {
        deadLetter: dl,
        batch: { maxEvents: 100, maxBytes: 5e6, maxWaitMs: 5 },
        maxInFlight: 2,
        retry: { initialMs: 100, maxMs: 1000 },
      },
    );
    await runner.start();
    let restarted: Promise<void> | undefined;
    for (let i = 0; i < n; i++) {
      await runner.push({ id: `f-${i}`, key: `k${i % 13}`, kind: 'packet', body: { i, verdict: 'DROP' } });
      if (i === 1000) {
        const pid = Number(readFileSync(env.FLUENTD_PID_FILE!, 'utf8').trim());
        // SIGTERM: the receiver acknowledges once its exporter took the chunk, and only a graceful stop
        // guarantees the exporter's file buffer is flushed (SIGKILL would lose acknowledged data there,
        // which is the receiver's durability, not the sink's).
        process.kill(pid, 'SIGTERM');
        await waitFor('receiver gone', () => {
          try {
            process.kill(pid, 0);
            return undefined;
          } catch {
            return true;
          }
        });
        restarted = new Promise((r) => setTimeout(r, 1500)).then(() =>
          servicesScript('start.sh', 'fluentd-restart'),
        );
      }
    }
    await restarted;
    const c = await runner.close({ timeoutMs: 60_000 });
    assert.deepEqual(
      { sent: c.sent, failed: c.failed, rejected: c.rejected },
      { sent: n, failed: 0, rejected: 0 },
    );
    assert.ok(c.retried > 0, 'the outage must have caused retries');
    const got = await waitFor(`${n} distinct ids`, () => {
      const mine = received(env.FLUENTD_RECEIVED_FILE!).filter((r) => r.tag === `${tag}.packet`);
      const ids = new Set(mine.map((m) => (m.record.ruletrail as { id: string }).id));
      return ids.size >= n ? mine : undefined;
    });
    console.log(
      `      receiver restart: ${n} records, ${c.retried} record retries, ${got.length - n} duplicates (at-least-once)`,
    );
  });

  it('an unreachable receiver gives retriable outcomes, not a hang', async () => {
    const sink = new FluentdSink({ port: 1, tag: 'rt.none', ackTimeoutMs: 2000 });
    await assert.rejects(
      sink.connect(),
      (e: Error & { retriable?: boolean }) => e.retriable === true && /ECONNREFUSED/.test(e.message),
    );
    const out = await sink.write(
      [{ id: 'x', key: 'k', kind: 'packet', body: {} }],
      new AbortController().signal,
    );
    assert.equal(out[0]!.status, 'retriable');
    await sink.close();
  });
});

describe('Fluentd sink over TLS (stunnel in front of the real forward receiver)', function () {
  this.timeout(120_000);
  let env: Record<string, string>;
  let ca: Buffer;
  let tmp: string;
  // A client certificate and key (what an mTLS `<transport tls>` would want) and a shared key: configured secrets
  // that must never appear in an outcome, a dead-letter reason or a log line. The TLS handshake fails before the
  // forward-protocol handshake would start, so the shared key is never used on the wire here.
  let client: { cert: string; key: string; sharedKey: string };

  before(function () {
    env = requireServices(this, [
      'FLUENTD_TLS_PORT',
      'FLUENTD_TLS_CA',
      'FLUENTD_PORT',
      'FLUENTD_RECEIVED_FILE',
    ]);
    ca = readFileSync(env.FLUENTD_TLS_CA!);
    tmp = mkdtempSync(join(tmpdir(), 'rt-fluentd-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
      ].concat([
        '-subj',
        '/CN=ruletrail test client',
        '-keyout',
        join(tmp, 'client.key'),
        '-out',
        join(tmp, 'client.crt'),
      ]),
      { stdio: 'ignore' },
    );
    client = {
      cert: readFileSync(join(tmp, 'client.crt'), 'utf8'),
      key: readFileSync(join(tmp, 'client.key'), 'utf8'),
      sharedKey: `shared-${Date.now()}-do-not-log`,
    };
  });
  after(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  /** Every string that would be a leak: the shared key, the client key (whole PEM and each base64 line), the cert. */
  function secrets(): string[] {
    const lines = client.key.split('\n').filter((l) => l.length >= 16 && !l.startsWith('-----'));
    return [client.sharedKey, client.key.trim(), client.cert.trim(), ...lines];
  }

  /**
   * `tls` must make the handshake fail. Checks: one direct write gives a retriable outcome per record naming the
   * certificate problem (a certificate can change under a running sink); the runner's start() (the sink's
   * connect() handshake) fails at once as not retriable; the receiver never got a record under the tag (a marker
   * sent over the plain port afterwards does arrive); no secret anywhere in outcomes, errors or log lines.
   */
  async function expectTlsRefused(tag: string, tls: FluentdTlsConfig, error: RegExp): Promise<void> {
    const lines: string[] = [];
    const logger = captureLogger(lines);
    const config: FluentdSinkConfig = {
      port: Number(env.FLUENTD_TLS_PORT),
      tag,
      ackTimeoutMs: 10_000,
      tls: { ...tls, cert: client.cert, key: client.key },
      security: { selfHostname: 'node-1', sharedKey: client.sharedKey },
    };
    const records: SinkRecord[] = Array.from({ length: 20 }, (_, i) =>
      explainedPacketRecord(explainedPacket(i)),
    );

    const sink = new FluentdSink(config, { logger });
    const t0 = Date.now();
    const out = await sink.write(records.slice(0, 3), new AbortController().signal);
    await sink.close();
    assert.ok(Date.now() - t0 < 5000, 'a certificate error must fail the write at once, not by ack timeout');
    assert.deepEqual(
      out.map((o) => o.status),
      ['retriable', 'retriable', 'retriable'],
    );
    for (const o of out) assert.match(o.status === 'retriable' ? o.reason : '', error);

    // Through the runner the refusal is a configuration error: start() fails at once, not retriable, no retries.
    const runner = new SinkRunner(new FluentdSink(config, { logger }), {
      logger,
      retry: { initialMs: 20, maxMs: 100, maxAttempts: 5 },
    });
    const startErr = await runner.start().then(
      () => undefined,
      (e: unknown) => e as Error & { retriable?: boolean; code?: string },
    );
    assert.ok(startErr, 'start() must refuse a receiver certificate the sink will never accept');
    assert.equal(startErr.retriable, false);
    assert.match(startErr.message, error);
    assert.ok(!lines.some((l) => /retrying/i.test(l)), 'a certificate error must not be retried');
    await runner.close({ timeoutMs: 5_000 });

    // The receiver got nothing under this tag: a marker sent over the plain port afterwards arrives alone.
    const marker = new FluentdSink({ port: Number(env.FLUENTD_PORT), tag });
    const [m] = await marker.write(
      [{ id: `marker-${tag}`, key: 'm', kind: 'alert', body: alertBody(0) }],
      new AbortController().signal,
    );
    await marker.close();
    assert.equal(m!.status, 'delivered');
    const mine = await waitFor('the marker in the receiver file', () => {
      const got = received(env.FLUENTD_RECEIVED_FILE!).filter((r) => r.tag.startsWith(`${tag}.`));
      return got.some((g) => g.tag === `${tag}.alert`) ? got : undefined;
    });
    assert.deepEqual(
      mine.map((g) => g.tag),
      [`${tag}.alert`],
    );

    const texts = [
      ...out.map((o) => JSON.stringify(o)),
      startErr.message,
      JSON.stringify(startErr),
      ...lines,
    ];
    assert.ok(lines.length > 0, 'the failures must have been logged');
    for (const t of texts)
      for (const s of secrets()) assert.ok(!t.includes(s), `secret in ${JSON.stringify(t.slice(0, 200))}`);
  }

  it('round trip with tls.ca = the test CA: every record arrives acknowledged, field by field', async () => {
    await roundTrip(env.FLUENTD_RECEIVED_FILE!, {
      host: '127.0.0.1',
      port: Number(env.FLUENTD_TLS_PORT),
      tag: `rt.tls${Date.now()}`,
      tls: { ca },
    });
  });

  it('without the test CA (default trust store) the certificate is refused: start() fails, not retriable; never delivered; no secret in any text', async () => {
    await expectTlsRefused(
      `rt.tlsnoca${Date.now()}`,
      {},
      /unable to verify the first certificate|UNABLE_TO_VERIFY_LEAF_SIGNATURE/,
    );
  });

  it('a servername the certificate does not name is refused likewise (and the name it does carry works)', async () => {
    await expectTlsRefused(
      `rt.tlsname${Date.now()}`,
      { ca, servername: 'fluentd.example' },
      /ERR_TLS_CERT_ALTNAME_INVALID|does not match certificate's altnames/,
    );
    // Control: the same CA with a name that is in the certificate (DNS:localhost) delivers, so the failure above
    // is the hostname check and nothing else.
    const sink = new FluentdSink({
      port: Number(env.FLUENTD_TLS_PORT),
      tag: `rt.tlsname${Date.now()}`,
      tls: { ca, servername: 'localhost' },
    });
    const out = await sink.write(
      [{ id: 'name-ok', key: 'k', kind: 'packet', body: explainedPacket(1) }],
      new AbortController().signal,
    );
    await sink.close();
    assert.deepEqual(out, [{ status: 'delivered' }]);
  });
});
