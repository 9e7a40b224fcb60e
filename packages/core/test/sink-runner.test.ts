/** The sink runner's delivery semantics, against scripted in-memory sinks, and the secret redactor. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  MemorySinkDeadLetter,
  NdjsonSinkDeadLetterFile,
  REDACTED,
  Redactor,
  SinkError,
  SinkRunner,
  backoffDelay,
  collectSecrets,
  explainedPacketRecord,
  isCertificateError,
  sinkRecordId,
  type Sink,
  type SinkLogger,
  type SinkOutcome,
  type SinkRecord,
} from '../src/index';
import { waitFor } from '../../../test/support/wait';

function rec(i: number, body: Record<string, unknown> = {}): SinkRecord {
  return { id: `id-${i}`, key: `k-${i % 7}`, kind: 'packet', body: { n: i, ...body } };
}

/** A sink whose answer per record is scripted; it remembers every call. */
class ScriptedSink implements Sink {
  readonly name = 'scripted';
  readonly calls: string[][] = [];
  delivered = new Set<string>();
  connectFailures = 0;
  closed = false;
  inFlight = 0;
  maxInFlightSeen = 0;
  constructor(
    private readonly _answer: (
      r: SinkRecord,
      attempt: number,
    ) => SinkOutcome | 'throw' | 'throw-fatal' = () => ({ status: 'delivered' }),
    private readonly _delayMs = 0,
  ) {}
  private _attempts = new Map<string, number>();
  connect(): Promise<void> {
    if (this.connectFailures-- > 0) return Promise.reject(new Error('ECONNREFUSED'));
    return Promise.resolve();
  }
  async write(records: readonly SinkRecord[]): Promise<SinkOutcome[]> {
    this.inFlight++;
    this.maxInFlightSeen = Math.max(this.maxInFlightSeen, this.inFlight);
    try {
      this.calls.push(records.map((r) => r.id));
      if (this._delayMs > 0) await new Promise((r) => setTimeout(r, this._delayMs));
      const out: SinkOutcome[] = [];
      for (const r of records) {
        const attempt = (this._attempts.get(r.id) ?? 0) + 1;
        this._attempts.set(r.id, attempt);
        const a = this._answer(r, attempt);
        if (a === 'throw') throw new Error('socket hang up');
        if (a === 'throw-fatal')
          throw new SinkError('RT_ERR_TEST', 'topic authorization failed', { retriable: false });
        if (a.status === 'delivered') this.delivered.add(r.id);
        out.push(a);
      }
      return out;
    } finally {
      this.inFlight--;
    }
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

const fastRetry = { initialMs: 1, maxMs: 5, multiplier: 2, jitter: 0 };

describe('SinkRunner', () => {
  it('batches by count and delivers every record once', async () => {
    const sink = new ScriptedSink();
    const runner = new SinkRunner(sink, {
      batch: { maxEvents: 10, maxBytes: 1e9, maxWaitMs: 10_000 },
      maxInFlight: 2,
    });
    await runner.start();
    await runner.pushAll(Array.from({ length: 95 }, (_, i) => rec(i)));
    const c = await runner.close();
    assert.equal(sink.delivered.size, 95);
    assert.deepEqual(
      sink.calls.map((c) => c.length),
      [10, 10, 10, 10, 10, 10, 10, 10, 10, 5],
    );
    assert.equal(c.sent, 95);
    assert.equal(c.received, 95);
    assert.equal(c.writes, 10);
    assert.ok(sink.closed);
  });

  it('cuts batches by bytes and sends an oversized record alone', async () => {
    const sink = new ScriptedSink();
    const runner = new SinkRunner(sink, { batch: { maxEvents: 1000, maxBytes: 1000, maxWaitMs: 10_000 } });
    await runner.pushAll([
      rec(1, { pad: 'x'.repeat(300) }),
      rec(2, { pad: 'x'.repeat(300) }),
      rec(3, { pad: 'x'.repeat(2000) }),
      rec(4),
    ]);
    await runner.close();
    assert.deepEqual(sink.calls, [['id-1', 'id-2'], ['id-3'], ['id-4']]);
  });

  it('flushes a partial batch after maxWaitMs', async () => {
    const sink = new ScriptedSink();
    const runner = new SinkRunner(sink, { batch: { maxEvents: 100, maxBytes: 1e9, maxWaitMs: 30 } });
    await runner.push(rec(1));
    await runner.push(rec(2));
    assert.equal(sink.calls.length, 0);
    // No third record and no close: only the maxWaitMs timer can start this write.
    await waitFor(() => sink.calls.length > 0, 5000, 'the partial batch');
    assert.deepEqual(sink.calls, [['id-1', 'id-2']]);
    await runner.close();
  });

  it('retries only the retriable records, with backoff, until delivered', async () => {
    const sink = new ScriptedSink((r, attempt) =>
      Number(r.body.n) % 3 === 0 && attempt < 3
        ? { status: 'retriable', reason: '429 Too Many Requests' }
        : { status: 'delivered' },
    );
    const slept: number[] = [];
    const runner = new SinkRunner(sink, {
      batch: { maxEvents: 9, maxBytes: 1e9, maxWaitMs: 10 },
      retry: { initialMs: 100, maxMs: 1000, multiplier: 2, jitter: 0 },
      sleep: (ms) => {
        slept.push(ms);
        return Promise.resolve();
      },
    });
    await runner.pushAll(Array.from({ length: 9 }, (_, i) => rec(i)));
    const c = await runner.close();
    assert.deepEqual(sink.calls, [
      ['id-0', 'id-1', 'id-2', 'id-3', 'id-4', 'id-5', 'id-6', 'id-7', 'id-8'],
      ['id-0', 'id-3', 'id-6'],
      ['id-0', 'id-3', 'id-6'],
    ]);
    assert.deepEqual(slept, [100, 200]);
    assert.equal(c.sent, 9);
    assert.equal(c.retried, 6);
    assert.equal(c.failed, 0);
  });

  it('treats a thrown error as retriable for the whole batch', async () => {
    const sink: ScriptedSink = new ScriptedSink(() =>
      sink.calls.length === 1 ? 'throw' : { status: 'delivered' },
    );
    const runner = new SinkRunner(sink, {
      batch: { maxEvents: 5, maxBytes: 1e9, maxWaitMs: 5 },
      retry: fastRetry,
    });
    await runner.pushAll([rec(1), rec(2)]);
    const c = await runner.close();
    assert.equal(c.sent, 2);
    assert.equal(c.retried, 2);
    assert.deepEqual(sink.calls, [
      ['id-1', 'id-2'],
      ['id-1', 'id-2'],
    ]);
  });

  it('routes rejected records to the dead-letter output with the reason, and delivers the rest', async () => {
    const dl = new MemorySinkDeadLetter();
    const sink = new ScriptedSink((r) =>
      r.id === 'id-2'
        ? {
            status: 'rejected',
            reason: 'mapper_parsing_exception: failed to parse field [packet.src] of type [ip]',
          }
        : { status: 'delivered' },
    );
    const runner = new SinkRunner(sink, {
      deadLetter: dl,
      batch: { maxEvents: 10, maxBytes: 1e9, maxWaitMs: 5 },
    });
    await runner.pushAll([rec(1), rec(2), rec(3)]);
    const c = await runner.close();
    assert.equal(c.sent, 2);
    assert.equal(c.rejected, 1);
    assert.equal(dl.entries.length, 1);
    assert.equal(dl.entries[0]!.id, 'id-2');
    assert.equal(dl.entries[0]!.outcome, 'rejected');
    assert.match(dl.entries[0]!.reason, /mapper_parsing_exception/);
    assert.deepEqual(dl.entries[0]!.record, { n: 2 });
  });

  it('a non-retriable thrown SinkError rejects the batch', async () => {
    const dl = new MemorySinkDeadLetter();
    const runner = new SinkRunner(new ScriptedSink(() => 'throw-fatal'), {
      deadLetter: dl,
      batch: { maxEvents: 10, maxBytes: 1e9, maxWaitMs: 5 },
    });
    await runner.pushAll([rec(1), rec(2)]);
    const c = await runner.close();
    assert.equal(c.rejected, 2);
    assert.equal(c.retried, 0);
    assert.match(dl.entries[0]!.reason, /topic authorization failed/);
  });

  it('gives up after maxAttempts and dead-letters the records as failed', async () => {
    const dl = new MemorySinkDeadLetter();
    const runner = new SinkRunner(
      new ScriptedSink(() => ({ status: 'retriable', reason: '503 Service Unavailable' })),
      {
        deadLetter: dl,
        batch: { maxEvents: 10, maxBytes: 1e9, maxWaitMs: 5 },
        retry: { ...fastRetry, maxAttempts: 3 },
      },
    );
    await runner.pushAll([rec(1)]);
    const c = await runner.close();
    assert.equal(c.failed, 1);
    assert.equal(c.retried, 2);
    assert.equal(dl.entries[0]!.outcome, 'failed');
    assert.equal(dl.entries[0]!.attempts, 3);
    assert.match(dl.entries[0]!.reason, /gave up after 3 attempts: 503/);
  });

  it('bounds concurrent writes by maxInFlight and applies backpressure to push()', async () => {
    const sink = new ScriptedSink(undefined, 20);
    const runner = new SinkRunner(sink, {
      batch: { maxEvents: 5, maxBytes: 1e9, maxWaitMs: 5 },
      maxInFlight: 3,
      bufferMaxEvents: 20,
    });
    let maxOutstanding = 0;
    for (let i = 0; i < 200; i++) {
      await runner.push(rec(i));
      maxOutstanding = Math.max(maxOutstanding, runner.outstanding);
    }
    await runner.close();
    assert.equal(sink.delivered.size, 200);
    assert.equal(sink.maxInFlightSeen, 3);
    assert.ok(maxOutstanding <= 20, `outstanding reached ${maxOutstanding}`);
  });

  it('never counts a record sent before the sink resolved', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let writing = false;
    const sink: Sink = {
      name: 'gated',
      connect: () => Promise.resolve(),
      write: async (records) => {
        writing = true;
        await gate;
        return records.map(() => ({ status: 'delivered' }) as const);
      },
      close: () => Promise.resolve(),
    };
    const runner = new SinkRunner(sink, { batch: { maxEvents: 2, maxBytes: 1e9, maxWaitMs: 5 } });
    await runner.pushAll([rec(1), rec(2)]);
    await waitFor(() => writing, 5000, 'the write to start');
    assert.equal(runner.counters.sent, 0);
    release();
    await runner.flush();
    assert.equal(runner.counters.sent, 2);
    await runner.close();
  });

  it('close() with a timeout stops retrying and dead-letters what is outstanding', async () => {
    const dl = new MemorySinkDeadLetter();
    const runner = new SinkRunner(
      new ScriptedSink(() => ({ status: 'retriable', reason: 'connection refused' })),
      {
        deadLetter: dl,
        batch: { maxEvents: 10, maxBytes: 1e9, maxWaitMs: 5 },
        retry: { initialMs: 50, maxMs: 50, multiplier: 1, jitter: 0 },
      },
    );
    await runner.pushAll([rec(1), rec(2)]);
    const c = await runner.close({ timeoutMs: 120 });
    assert.equal(c.failed, 2);
    assert.equal(runner.outstanding, 0);
    assert.match(dl.entries[0]!.reason, /runner closed before delivery/);
  });

  it('retries connect() with backoff', async () => {
    const sink = new ScriptedSink();
    sink.connectFailures = 2;
    const runner = new SinkRunner(sink, { retry: fastRetry });
    await runner.start();
    await runner.close();
  });

  it('counts duplicates (already delivered) as sent', async () => {
    const runner = new SinkRunner(
      new ScriptedSink((r) => ({ status: 'delivered', duplicate: r.id === 'id-1' })),
      { batch: { maxEvents: 10, maxBytes: 1e9, maxWaitMs: 5 } },
    );
    await runner.pushAll([rec(1), rec(2)]);
    const c = await runner.close();
    assert.equal(c.sent, 2);
    assert.equal(c.duplicates, 1);
  });

  it('a throwing onDelivered callback neither stalls nor loses delivery', async () => {
    const runner = new SinkRunner(new ScriptedSink(), {
      batch: { maxEvents: 2, maxBytes: 1e9, maxWaitMs: 5 },
      onDelivered: () => {
        throw new Error('checkpoint store down');
      },
    });
    await runner.pushAll([rec(1), rec(2), rec(3)]);
    const c = await runner.close({ timeoutMs: 2000 });
    assert.equal(c.sent, 3);
    assert.equal(runner.outstanding, 0);
  });

  it('writes NDJSON dead letters', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'rt-dl-')), 'dead.ndjson');
    const dl = new NdjsonSinkDeadLetterFile(file);
    const runner = new SinkRunner(new ScriptedSink(() => ({ status: 'rejected', reason: 'too large' })), {
      deadLetter: dl,
      batch: { maxEvents: 10, maxBytes: 1e9, maxWaitMs: 5 },
    });
    await runner.pushAll([rec(7)]);
    await runner.close();
    await dl.close();
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 1);
    assert.deepEqual(
      { id: lines[0]!.id, sink: lines[0]!.sink, reason: lines[0]!.reason },
      { id: 'id-7', sink: 'scripted', reason: 'too large' },
    );
  });
});

describe('backoffDelay', () => {
  const r = { initialMs: 100, maxMs: 1000, multiplier: 2, jitter: 0.5, maxAttempts: Infinity };
  it('grows exponentially and is capped', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, r, () => 0.5)),
      [100, 200, 400, 800, 1000, 1000],
    );
  });
  it('applies jitter within ±jitter', () => {
    assert.equal(
      backoffDelay(2, r, () => 0),
      100,
    );
    assert.equal(
      backoffDelay(2, r, () => 1),
      300,
    );
  });
});

describe('Redactor', () => {
  const secrets = ['s3cr3t-Pa55', 'VnVYY2hKTUJ1M2JfTl9QcWFBOkdPU2E'];
  const red = new Redactor(secrets);

  it('removes configured secrets from text, including URL-encoded forms', () => {
    const out = red.text(
      'login failed for user ruletrail with password s3cr3t-Pa55 at https://u:s3cr3t-Pa55@es:9200 key=VnVYY2hKTUJ1M2JfTl9QcWFBOkdPU2E',
    );
    assert.ok(!out.includes('s3cr3t-Pa55'));
    assert.ok(!out.includes('VnVYY2hKTUJ1M2JfTl9QcWFBOkdPU2E'));
    assert.ok(out.includes(REDACTED));
    assert.equal(new Redactor(['a/b c']).text('x a%2Fb%20c y'), `x ${REDACTED} y`);
  });

  it('masks userinfo in URLs and Authorization header values it does not know', () => {
    assert.equal(
      new Redactor().text('GET http://bob:hunter2@127.0.0.1:9200/_bulk'),
      `GET http://bob:${REDACTED}@127.0.0.1:9200/_bulk`,
    );
    assert.equal(
      new Redactor().text('authorization: ApiKey abcDEF123=='),
      `authorization: ApiKey ${REDACTED}`,
    );
    assert.equal(
      new Redactor().text('{"Authorization":"Basic dXNlcjpwYXNz"}'),
      `{"Authorization":"Basic ${REDACTED}"}`,
    );
  });

  it('masks secret-named keys in structures and walks errors, arrays and cycles', () => {
    const cyclic: Record<string, unknown> = {
      sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'pw-123' },
      auth: { apiKey: 'k-123' },
    };
    cyclic.self = cyclic;
    const out = red.value({
      config: cyclic,
      errors: [new Error('bad s3cr3t-Pa55')],
      headers: { authorization: 'Bearer t0k3n' },
    }) as {
      config: { sasl: unknown; auth: { apiKey: unknown }; self: unknown };
      headers: { authorization: unknown };
      errors: { message: string }[];
    };
    assert.equal(out.config.sasl, REDACTED);
    assert.equal(out.config.auth.apiKey, REDACTED);
    assert.equal(out.headers.authorization, REDACTED);
    assert.equal(out.errors[0]!.message, `bad ${REDACTED}`);
    assert.equal(out.config.self, '[…]');
    assert.ok(!JSON.stringify(out).includes('pw-123'));
  });

  it('collects the secrets of a config', () => {
    const found = collectSecrets({
      brokers: ['h:1'],
      sasl: { mechanism: 'scram-sha-256', username: 'u', password: 'p1' },
      auth: { apiKey: 'k2' },
      tls: { key: 'PEM', ca: 'CA' },
    });
    assert.deepEqual(found.sort(), ['PEM', 'k2', 'p1']);
  });

  it('wraps a logger: nothing secret reaches a log line from the runner', async () => {
    const lines: string[] = [];
    const logger: SinkLogger = {
      debug: (m, f) => lines.push(m + JSON.stringify(f)),
      info: (m, f) => lines.push(m + JSON.stringify(f)),
      warn: (m, f) => lines.push(m + JSON.stringify(f)),
      error: (m, f) => lines.push(m + JSON.stringify(f)),
    };
    const sink = new ScriptedSink((_r, attempt) =>
      attempt === 1
        ? { status: 'retriable', reason: 'auth failed for password s3cr3t-Pa55' }
        : { status: 'delivered' },
    );
    sink.connectFailures = 1;
    const dl = new MemorySinkDeadLetter();
    const runner = new SinkRunner(sink, {
      logger,
      redactor: red,
      deadLetter: dl,
      retry: fastRetry,
      batch: { maxEvents: 1, maxBytes: 1e9, maxWaitMs: 1 },
    });
    await runner.start();
    await runner.push(rec(1));
    await runner.close();
    assert.ok(lines.some((l) => l.includes('Retriable failure')));
    for (const l of lines) assert.ok(!l.includes('s3cr3t-Pa55'), l);
  });
});

describe('record helpers', () => {
  it('explainedPacketRecord reads the CLI output shape (packet.host, steps[].time, packet.firstSeen)', () => {
    const body = {
      packet: {
        host: 'cos74',
        family: 'ipv4',
        proto: 'tcp',
        src: '172.28.129.2',
        dst: '172.28.129.4',
        sport: 55694,
        dport: 52000,
        firstSeen: '2023-01-01T21:23:16+00:00',
      },
      verdict: 'DROP',
      steps: [{ table: 'raw', chain: 'PREROUTING', time: '2023-01-01T21:23:16+00:00' }],
    };
    const r = explainedPacketRecord(body);
    assert.equal(r.key, 'cos74|tcp|172.28.129.2|55694|172.28.129.4|52000');
    assert.equal(r.timestamp, '2023-01-01T21:23:16+00:00');
    assert.equal(
      r.id,
      sinkRecordId(
        'packet',
        'cos74',
        'tcp|172.28.129.2|55694|172.28.129.4|52000',
        '2023-01-01T21:23:16+00:00',
      ),
    );
  });

  it('sinkRecordId is deterministic and separates parts', () => {
    assert.equal(sinkRecordId('a', 'b'), sinkRecordId('a', 'b'));
    assert.notEqual(sinkRecordId('ab', ''), sinkRecordId('a', 'b'));
    assert.match(sinkRecordId('x'), /^[0-9a-f]{32}$/);
  });

  it('explainedPacketRecord keys by host + 5-tuple and hashes the first step time', () => {
    const body = {
      '@timestamp': '2026-01-01T00:00:01.000Z',
      host: { name: 'node-1' },
      packet: { src: '10.0.0.1', dst: '10.0.0.2', proto: 'tcp', sport: 1234, dport: 443 },
      steps: [{ '@timestamp': '2026-01-01T00:00:00.000Z' }],
    };
    const r = explainedPacketRecord(body);
    assert.equal(r.key, 'node-1|tcp|10.0.0.1|1234|10.0.0.2|443');
    assert.equal(r.kind, 'packet');
    assert.equal(r.timestamp, '2026-01-01T00:00:01.000Z');
    assert.equal(r.id, explainedPacketRecord({ ...body }).id);
    assert.notEqual(
      r.id,
      explainedPacketRecord({ ...body, steps: [{ '@timestamp': '2026-01-01T00:00:02.000Z' }] }).id,
    );
  });
});

describe('isCertificateError', () => {
  const withCode = (code: string, message = 'x'): Error => Object.assign(new Error(message), { code });
  it('recognises verification failures by code, also wrapped in cause / originalError', () => {
    assert.ok(isCertificateError(withCode('UNABLE_TO_VERIFY_LEAF_SIGNATURE')));
    assert.ok(isCertificateError(withCode('ERR_TLS_CERT_ALTNAME_INVALID')));
    assert.ok(isCertificateError(new Error('wrapped', { cause: withCode('CERT_HAS_EXPIRED') })));
    assert.ok(
      isCertificateError(
        Object.assign(new Error('kafkajs'), { originalError: withCode('SELF_SIGNED_CERT_IN_CHAIN') }),
      ),
    );
  });
  it('falls back to the OpenSSL message only when the wrapper dropped the code', () => {
    assert.ok(isCertificateError(new Error('unable to verify the first certificate')));
    assert.ok(
      isCertificateError(new Error("Hostname/IP does not match certificate's altnames: IP: 10.0.0.1")),
    );
    // A socket error that merely mentions a certificate but carries its own code is not one.
    assert.ok(
      !isCertificateError(withCode('ECONNRESET', 'reset while fetching the certificate has expired list')),
    );
  });
  it('is false for transient errors and non-errors', () => {
    for (const e of [
      withCode('ECONNREFUSED'),
      withCode('ETIMEDOUT'),
      new Error('socket hang up'),
      undefined,
      null,
      'CERT_HAS_EXPIRED',
      42,
    ])
      assert.ok(!isCertificateError(e), String(e));
  });
});
