/**
 * The Fluentd sink against a real Fluent forward receiver (the OpenTelemetry Collector's fluentforward receiver,
 * which acknowledges chunks, started by services/start.sh fluentd with RUN_SERVICE_TESTS=1). The receiver writes
 * what it got to a JSON-lines file (OTLP JSON); the tests read it back.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import {
  MemorySinkDeadLetter,
  SinkRunner,
  explainedPacketRecord,
  sinkRecordId,
  type SinkRecord,
} from '@ruletrail/core';
import { FluentdSink, fluentdPayload } from '../src/index';
import { alertBody, explainedPacket, requireServices, servicesScript } from '../../../test/support/services';

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

describe('Fluentd sink (real forward receiver)', function () {
  this.timeout(120_000);
  let env: Record<string, string>;
  before(function () {
    env = requireServices(this, ['FLUENTD_PORT', 'FLUENTD_RECEIVED_FILE']);
  });

  it('round trip: every record arrives acknowledged, tagged per kind, field by field', async () => {
    const tag = `rt.rt${Date.now()}`;
    const packets = Array.from({ length: 400 }, (_, i) => explainedPacketRecord(explainedPacket(i)));
    const alerts: SinkRecord[] = Array.from({ length: 10 }, (_, i) => ({
      id: sinkRecordId('alert', i),
      key: `a${i}`,
      kind: 'alert',
      body: alertBody(i),
    }));
    const runner = new SinkRunner(
      new FluentdSink({ host: '127.0.0.1', port: Number(env.FLUENTD_PORT), tag }),
      { batch: { maxEvents: 100, maxBytes: 5e6, maxWaitMs: 10 }, maxInFlight: 2 },
    );
    await runner.start();
    await runner.pushAll([...packets, ...alerts]);
    const c = await runner.close();
    assert.deepEqual({ sent: c.sent, failed: c.failed }, { sent: 410, failed: 0 });

    // Acknowledged means the receiver has it; the file exporter may write it a moment later.
    const got = await waitFor('410 records in the receiver file', () => {
      const mine = received(env.FLUENTD_RECEIVED_FILE!).filter((r) => r.tag.startsWith(tag));
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
