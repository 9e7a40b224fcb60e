/**
 * Elasticsearch sink units, and cases a real node cannot produce on demand, against a local HTTP mock:
 * a request-level 429 storm, 5xx answers, and the exact `Authorization: ApiKey` header and its redaction.
 * The real-server behaviour is covered by elasticsearch.integration.test.ts.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { MemorySinkDeadLetter, SinkRunner, explainedPacketRecord, type SinkRecord } from '@ruletrail/core';
import {
  ElasticsearchSink,
  autoCreateAllows,
  docJson,
  indexTemplate,
  itemOutcome,
  packetMappings,
  validateElasticsearchConfig,
} from '../src/index';
import { captureLogger, explainedPacket } from '../../../test/support/services';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A tiny HTTP server that answers like Elasticsearch (product header included) via `handler`. */
async function mockEs(
  handler: (req: Seen, n: number) => { status: number; body: unknown },
): Promise<{ url: string; seen: Seen[]; server: Server }> {
  const seen: Seen[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body =
        req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
      const s: Seen = { method: req.method!, url: req.url!, headers: req.headers, body };
      seen.push(s);
      const r = handler(s, seen.length);
      res.writeHead(r.status, { 'content-type': 'application/json', 'x-elastic-product': 'Elasticsearch' });
      res.end(JSON.stringify(r.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server };
}

/** A bulk response with every `create` answered `status`. */
function bulkOk(body: string, status = 201): unknown {
  const lines = body.trim().split('\n');
  const items = [];
  for (let i = 0; i < lines.length; i += 2) {
    const meta = JSON.parse(lines[i]!) as { create: { _index: string; _id: string } };
    items.push({ create: { _index: meta.create._index, _id: meta.create._id, status } });
  }
  return { took: 1, errors: status >= 300, items };
}

const recs = (n: number): SinkRecord[] =>
  Array.from({ length: n }, (_, i) => explainedPacketRecord(explainedPacket(i)));

describe('Elasticsearch sink (unit and mock server)', () => {
  const servers: Server[] = [];
  after(() => servers.forEach((s) => s.close()));

  it('maps bulk item statuses to outcomes', () => {
    assert.deepEqual(itemOutcome({ status: 201 }), { status: 'delivered' });
    assert.deepEqual(
      itemOutcome({ status: 409, error: { type: 'version_conflict_engine_exception', reason: 'exists' } }),
      { status: 'delivered', duplicate: true },
    );
    assert.equal(
      itemOutcome({ status: 429, error: { type: 'es_rejected_execution_exception', reason: 'queue full' } })
        .status,
      'retriable',
    );
    assert.equal(
      itemOutcome({ status: 503, error: { type: 'unavailable_shards_exception', reason: 'x' } }).status,
      'retriable',
    );
    assert.deepEqual(
      itemOutcome({
        status: 400,
        error: {
          type: 'document_parsing_exception',
          reason: 'failed to parse field [packet.src] of type [ip]',
          caused_by: { type: 'illegal_argument_exception', reason: "'x' is not an IP string literal." },
        },
      }),
      {
        status: 'rejected',
        reason:
          "400 document_parsing_exception: failed to parse field [packet.src] of type [ip] (illegal_argument_exception: 'x' is not an IP string literal.)",
      },
    );
    assert.equal(itemOutcome(undefined).status, 'retriable');
  });

  it('adds @timestamp to documents that lack one, without re-serialising the body', () => {
    const withTs = explainedPacketRecord(explainedPacket(1));
    assert.equal(docJson(withTs), JSON.stringify(withTs.body));
    const noTs: SinkRecord = {
      id: 'x',
      key: 'k',
      kind: 'packet',
      body: { packet: { firstSeen: '2023-01-01T21:23:16+00:00' }, verdict: 'DROP' },
    };
    assert.deepEqual(JSON.parse(docJson(noTs)), {
      '@timestamp': '2023-01-01T21:23:16+00:00',
      packet: { firstSeen: '2023-01-01T21:23:16+00:00' },
      verdict: 'DROP',
    });
    assert.deepEqual(
      JSON.parse(docJson({ id: 'y', key: 'k', kind: 'alert', timestamp: '2026-01-01T00:00:00Z', body: {} })),
      { '@timestamp': '2026-01-01T00:00:00Z' },
    );
  });

  it('adds ECS host.name from packet.host or alert.host when the body has no host', () => {
    const packet: SinkRecord = {
      id: 'p',
      key: 'k',
      kind: 'packet',
      body: { '@timestamp': 't', packet: { host: 'node-7' }, verdict: 'DROP' },
    };
    assert.deepEqual(JSON.parse(docJson(packet)), {
      host: { name: 'node-7' },
      '@timestamp': 't',
      packet: { host: 'node-7' },
      verdict: 'DROP',
    });
    const alert: SinkRecord = {
      id: 'a',
      key: 'k',
      kind: 'alert',
      body: { '@timestamp': 't', alert: { host: 'node-8' } },
    };
    assert.deepEqual((JSON.parse(docJson(alert)) as { host: unknown }).host, { name: 'node-8' });
    // A body that already has `host` is sent byte for byte, and no host at all adds nothing.
    const own = explainedPacketRecord({ '@timestamp': 't', host: { name: 'x' }, packet: { host: 'y' } });
    assert.equal(docJson(own), JSON.stringify(own.body));
    assert.equal(
      docJson({ id: 'n', key: 'k', kind: 'packet', body: { '@timestamp': 't' } }),
      '{"@timestamp":"t"}',
    );
  });

  it('builds a data-stream template with the mapping', () => {
    const t = indexTemplate('ruletrail-packets', packetMappings(), { replicas: 0 });
    assert.deepEqual(t.index_patterns, ['ruletrail-packets']);
    assert.deepEqual(t.data_stream, {});
    assert.deepEqual((t.template as { settings: unknown }).settings, {
      number_of_shards: 1,
      number_of_replicas: 0,
      refresh_interval: '5s',
    });
    const plain = indexTemplate('ruletrail-packets', packetMappings(), { mode: 'index' });
    assert.deepEqual(plain.index_patterns, ['ruletrail-packets*']);
    assert.equal(plain.data_stream, undefined);
  });

  it('validates configs', () => {
    assert.throws(() => validateElasticsearchConfig({ nodes: [] }), /nodes/);
    assert.throws(
      () => validateElasticsearchConfig({ nodes: ['https://elastic:changeme@es:9200'] }),
      (e: Error) => /credentials in auth/.test(e.message) && !e.message.includes('changeme'),
    );
    assert.throws(() => validateElasticsearchConfig({ nodes: ['http://es:9200'], index: 'Upper' }), /index/);
    assert.throws(
      () => validateElasticsearchConfig({ nodes: ['http://es:9200'], tls: { rejectUnauthorized: false } }),
      /allowInsecure/,
    );
  });

  it('a request-level 429 storm, then 503s, are retried with backoff until every record is delivered', async () => {
    const m = await mockEs((req, n) => {
      if (!req.url.startsWith('/_bulk')) return { status: 200, body: {} };
      if (n <= 6)
        return {
          status: 429,
          body: {
            error: { type: 'es_rejected_execution_exception', reason: 'rejected execution' },
            status: 429,
          },
        };
      if (n <= 8)
        return { status: 503, body: { error: { type: 'unavailable', reason: 'no master' }, status: 503 } };
      return { status: 200, body: bulkOk(req.body) };
    });
    servers.push(m.server);
    const lines: string[] = [];
    const runner = new SinkRunner(new ElasticsearchSink({ nodes: [m.url], compression: true }), {
      logger: captureLogger(lines),
      batch: { maxEvents: 50, maxBytes: 5e6, maxWaitMs: 5 },
      maxInFlight: 1,
      retry: { initialMs: 5, maxMs: 20 },
    });
    await runner.pushAll(recs(50));
    const c = await runner.close();
    assert.deepEqual(
      { sent: c.sent, retried: c.retried, failed: c.failed, writes: c.writes },
      { sent: 50, retried: 400, failed: 0, writes: 9 },
    );
    assert.ok(lines.some((l) => l.includes('429')));
    const bulk = m.seen.filter((s) => s.url.startsWith('/_bulk'));
    assert.equal(bulk.length, 9);
    assert.equal(bulk[0]!.headers['content-encoding'], 'gzip');
    assert.match(String(bulk[0]!.headers['content-type']), /x-ndjson; compatible-with=9/);
    // Every attempt sends the same create operations with the same ids.
    assert.equal(bulk[0]!.body, bulk[8]!.body);
    const first = JSON.parse(bulk[0]!.body.split('\n')[0]!) as { create: { _index: string; _id: string } };
    assert.deepEqual(first, { create: { _index: 'ruletrail-packets', _id: recs(1)[0]!.id } });
  });

  it('only per-item 429s are re-sent; rejected items go to the dead-letter output', async () => {
    const m = await mockEs((req, n) => {
      const lines = req.body.trim().split('\n');
      const items = [];
      for (let i = 0; i < lines.length; i += 2) {
        const id = (JSON.parse(lines[i]!) as { create: { _id: string } }).create._id;
        const k = i / 2;
        if (n === 1 && k === 1)
          items.push({
            create: {
              _id: id,
              status: 429,
              error: { type: 'es_rejected_execution_exception', reason: 'queue' },
            },
          });
        else if (n === 1 && k === 2)
          items.push({
            create: { _id: id, status: 400, error: { type: 'document_parsing_exception', reason: 'bad' } },
          });
        else items.push({ create: { _id: id, status: 201 } });
      }
      return { status: 200, body: { errors: true, items } };
    });
    servers.push(m.server);
    const dl = new MemorySinkDeadLetter();
    const runner = new SinkRunner(new ElasticsearchSink({ nodes: [m.url] }), {
      deadLetter: dl,
      batch: { maxEvents: 4, maxBytes: 5e6, maxWaitMs: 5 },
      retry: { initialMs: 1, maxMs: 5 },
    });
    const r = recs(4);
    await runner.pushAll(r);
    const c = await runner.close();
    assert.deepEqual(
      { sent: c.sent, rejected: c.rejected, retried: c.retried },
      { sent: 3, rejected: 1, retried: 1 },
    );
    assert.equal(dl.entries[0]!.id, r[2]!.id);
    assert.equal(m.seen.length, 2);
    assert.equal(m.seen[1]!.body.trim().split('\n').length, 2, 'the retry carries only the 429 item');
  });

  it('a 413 splits the batch until the oversized record stands alone', async () => {
    const m = await mockEs((req) =>
      req.body.includes('"huge"') && req.body.trim().split('\n').length > 2
        ? { status: 413, body: 'too large' }
        : req.body.includes('"huge"')
          ? { status: 413, body: 'too large' }
          : { status: 200, body: bulkOk(req.body) },
    );
    servers.push(m.server);
    const dl = new MemorySinkDeadLetter();
    const r = recs(7);
    const huge: SinkRecord = { id: 'huge-one', key: 'k', kind: 'packet', body: { huge: true } };
    const runner = new SinkRunner(new ElasticsearchSink({ nodes: [m.url] }), {
      deadLetter: dl,
      batch: { maxEvents: 8, maxBytes: 5e6, maxWaitMs: 5 },
    });
    await runner.pushAll([...r.slice(0, 3), huge, ...r.slice(3)]);
    const c = await runner.close();
    assert.deepEqual({ sent: c.sent, rejected: c.rejected }, { sent: 7, rejected: 1 });
    assert.equal(dl.entries[0]!.id, 'huge-one');
  });

  it('sends an API key as `Authorization: ApiKey` and never shows it in errors or logs', async () => {
    const m = await mockEs(() => ({
      status: 401,
      body: {
        error: { type: 'security_exception', reason: 'unable to authenticate with provided credentials' },
        status: 401,
      },
    }));
    servers.push(m.server);
    const apiKey = 'VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==';
    const idKey = { id: 'VuaCfGcBCdbkQm-e5aOx', api_key: 'ui2lp2axTNmsyakw9tvNnw' };
    for (const auth of [{ apiKey }, { apiKey: idKey }]) {
      const lines: string[] = [];
      const sink = new ElasticsearchSink({ nodes: [m.url], auth }, { logger: captureLogger(lines) });
      const runner = new SinkRunner(sink, { logger: captureLogger(lines), retry: { maxAttempts: 1 } });
      const err = await runner.start().then(
        () => undefined,
        (e: unknown) => e as Error & { retriable: boolean },
      );
      assert.ok(err);
      assert.equal(err.retriable, false);
      const sent = String(m.seen[m.seen.length - 1]!.headers.authorization);
      assert.equal(
        sent,
        typeof auth.apiKey === 'string'
          ? `ApiKey ${apiKey}`
          : `ApiKey ${Buffer.from(`${idKey.id}:${idKey.api_key}`).toString('base64')}`,
      );
      const encoded = sent.slice('ApiKey '.length);
      for (const s of [err.message, JSON.stringify(err), ...lines]) {
        assert.ok(!s.includes(encoded), `encoded key leaked: ${s}`);
        assert.ok(!s.includes(idKey.api_key), 'key secret leaked');
      }
    }
  });
});

describe('autoCreateAllows (action.auto_create_index, as Elasticsearch evaluates it)', () => {
  it('reads true/false and +/- wildcard patterns, the first match deciding and no match meaning no', () => {
    assert.equal(autoCreateAllows('true', 'rt-packets'), true);
    assert.equal(autoCreateAllows('false', 'rt-packets'), false);
    assert.equal(autoCreateAllows('-rt-noauto-*,+*', 'rt-noauto-1'), false);
    assert.equal(autoCreateAllows('-rt-noauto-*,+*', 'rt-packets'), true);
    assert.equal(autoCreateAllows('+logs-*', 'rt-packets'), false);
    assert.equal(autoCreateAllows('rt-*.x', 'rt-a.x'), true);
    assert.equal(autoCreateAllows('rt-*.x', 'rt-aXx'), false, 'a dot in a pattern is literal');
  });
});
