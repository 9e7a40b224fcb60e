/**
 * The Elasticsearch sink and `setupElasticsearch` against real Elasticsearch nodes started by services/start.sh
 * (RUN_SERVICE_TESTS=1): `elasticsearch` (plain), `elasticsearch-throttled` (write queue of 1 → real 429s) and
 * `elasticsearch-secure` (TLS, file-realm users and real API keys). Everything is checked by searching back.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@elastic/elasticsearch';
import { MemorySinkDeadLetter, SinkRunner, explainedPacketRecord, type SinkRecord } from '@ruletrail/core';
import { createEsClient } from '../src/client';
import { ElasticsearchSink, setupElasticsearch, type ElasticsearchSinkConfig } from '../src/index';
import {
  REPO_ROOT,
  alertRecord,
  captureLogger,
  explainedPacket,
  requireServices,
} from '../../../test/support/services';

/** All documents of an index / data stream, by `_id`. */
async function allDocs(client: Client, index: string): Promise<Map<string, Record<string, unknown>>> {
  await client.indices.refresh({ index });
  const out = new Map<string, Record<string, unknown>>();
  let resp = await client.search<Record<string, unknown>>({
    index,
    size: 5000,
    scroll: '1m',
    query: { match_all: {} },
  });
  while (resp.hits.hits.length > 0) {
    for (const h of resp.hits.hits) out.set(h._id!, h._source!);
    resp = await client.scroll<Record<string, unknown>>({ scroll_id: resp._scroll_id!, scroll: '1m' });
  }
  if (resp._scroll_id) await client.clearScroll({ scroll_id: resp._scroll_id });
  return out;
}

async function count(client: Client, index: string): Promise<number> {
  await client.indices.refresh({ index });
  return (await client.count({ index })).count;
}

function unique(prefix: string): string {
  return `ruletrail-${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}

describe('Elasticsearch sink (real node)', function () {
  this.timeout(300_000);
  let base: ElasticsearchSinkConfig;
  let client: Client;

  before(function () {
    const env = requireServices(this, ['ES_URL']);
    // services/start.sh runs 9.x by default; ES_VERSION=8.19.21 runs the same suite against an 8.x node.
    base = { nodes: [env.ES_URL!], apiVersion: env.ES_VERSION?.startsWith('9.') ? 9 : 8 };
    client = createEsClient(base);
  });
  after(async () => {
    await client?.close();
  });

  it('setup installs templates and data streams with the ECS-style mapping, and is re-runnable', async () => {
    const cfg = { ...base, index: unique('packets'), alertIndex: unique('alerts') };
    const r1 = await setupElasticsearch(cfg, { replicas: 0 });
    assert.deepEqual(
      [...r1.createdDataStreams, ...r1.deferredDataStreams].sort(),
      [cfg.index, cfg.alertIndex].sort(),
    );
    assert.deepEqual(r1.templates, { [cfg.index]: cfg.index, [cfg.alertIndex]: cfg.alertIndex });
    const r2 = await setupElasticsearch(cfg, { replicas: 0 });
    assert.deepEqual(r2.createdDataStreams, []);
    // One write creates the data stream from the template (where setup could not create it already).
    const sink = new ElasticsearchSink(cfg);
    assert.equal(
      (await sink.write([explainedPacketRecord(explainedPacket(1))], new AbortController().signal))[0]!
        .status,
      'delivered',
    );
    await sink.close();
    const fields = [
      '@timestamp',
      'host.name',
      'packet.src',
      'packet.dst',
      'packet.dport',
      'packet.sport',
      'verdict',
      'decidedBy.table',
      'decidedBy.chain',
      'decidedBy.rulenum',
      'flags',
      'kubernetes.service',
      'cause',
      'steps',
    ];
    const caps = await client.fieldCaps({ index: cfg.index, fields });
    const type = (f: string) => Object.keys(caps.fields[f] ?? {})[0];
    assert.deepEqual(Object.fromEntries(fields.map((f) => [f, type(f)])), {
      '@timestamp': 'date',
      'host.name': 'keyword',
      'packet.src': 'ip',
      'packet.dst': 'ip',
      'packet.dport': 'long',
      'packet.sport': 'long',
      verdict: 'keyword',
      'decidedBy.table': 'keyword',
      'decidedBy.chain': 'keyword',
      'decidedBy.rulenum': 'long',
      flags: 'keyword',
      'kubernetes.service': 'keyword',
      cause: 'text',
      steps: undefined, // stored in _source, not indexed
    });
    const idx = await client.indices.get({ index: cfg.index });
    const backing = Object.keys(idx)[0]!;
    assert.match(backing, new RegExp(`^\\.ds-${cfg.index}-`), 'writes go to a data stream backing index');
  });

  it('round trip: bulk create into data streams, search back and compare field by field', async () => {
    const cfg = { ...base, index: unique('packets'), alertIndex: unique('alerts') };
    await setupElasticsearch(cfg, { replicas: 0 });
    const packets = Array.from({ length: 1500 }, (_, i) => explainedPacketRecord(explainedPacket(i)));
    const alerts: SinkRecord[] = Array.from({ length: 30 }, (_, i) => alertRecord(i));
    const runner = new SinkRunner(new ElasticsearchSink(cfg), {
      batch: { maxEvents: 250, maxBytes: 5e6, maxWaitMs: 50 },
      maxInFlight: 3,
    });
    await runner.start();
    await runner.pushAll([...packets, ...alerts]);
    const c = await runner.close();
    assert.deepEqual(
      { sent: c.sent, rejected: c.rejected, failed: c.failed },
      { sent: 1530, rejected: 0, failed: 0 },
    );

    const docs = await allDocs(client, cfg.index);
    assert.equal(docs.size, 1500);
    for (const r of packets) assert.deepEqual(docs.get(r.id), r.body, `document ${r.id}`);
    const alertDocs = await allDocs(client, cfg.alertIndex);
    assert.equal(alertDocs.size, 30);
    for (const r of alerts) assert.deepEqual(alertDocs.get(r.id), r.body);

    // The mapping is usable: CIDR on ip, terms on keyword, range on long.
    await client.indices.refresh({ index: cfg.index });
    const q = await client.count({
      index: cfg.index,
      query: {
        bool: {
          filter: [
            { term: { 'packet.src': '10.0.0.0/24' } },
            { term: { verdict: 'DROP' } },
            { term: { 'decidedBy.chain': 'KUBE-FIREWALL' } },
            { range: { 'packet.dport': { gte: 50000 } } },
          ],
        },
      },
    });
    const expected = packets.filter((r) => {
      const b = r.body as { packet: { src: string; dport: number }; verdict: string };
      return b.packet.src.startsWith('10.0.0.') && b.verdict === 'DROP' && b.packet.dport >= 50000;
    }).length;
    assert.ok(expected > 0);
    assert.equal(q.count, expected);
  });

  it('indexes real `ruletrail explain --format json` output (the bundled incident) without rejects', async function () {
    const bin = join(REPO_ROOT, 'packages/cli/bin/ruletrail.js');
    const ex = join(REPO_ROOT, 'examples/incident');
    if (!existsSync(bin) || !existsSync(join(REPO_ROOT, 'packages/cli/dist'))) this.skip();
    const r = spawnSync(
      process.execPath,
      [
        bin,
        'explain',
        '--year',
        '2023',
        '--rules',
        join(ex, 'iptables-save-0101.txt'),
        '--rules',
        join(ex, 'iptables-save-0103.txt'),
        '--format',
        'json',
        join(ex, 'kern.log'),
      ],
      { encoding: 'utf8' },
    );
    if (r.status !== 0) this.skip();
    const bodies = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(bodies.length > 0);
    const cfg = { ...base, index: unique('real') };
    await setupElasticsearch(cfg, { replicas: 0 });
    const recs = bodies.map((b) => explainedPacketRecord(b));
    const dl = new MemorySinkDeadLetter();
    const runner = new SinkRunner(new ElasticsearchSink(cfg), {
      deadLetter: dl,
      batch: { maxEvents: 100, maxBytes: 5e6, maxWaitMs: 5 },
    });
    await runner.pushAll(recs);
    const c = await runner.close();
    assert.deepEqual(dl.entries, []);
    assert.equal(c.sent, recs.length);
    const docs = await allDocs(client, cfg.index);
    for (const rec of recs) {
      // The CLI's output has neither @timestamp nor host: the document gets packet.firstSeen (data streams need
      // a time) and ECS host.name from packet.host.
      const packet = rec.body.packet as { firstSeen: string; host: string };
      assert.ok(!('@timestamp' in rec.body) && !('host' in rec.body));
      assert.deepEqual(docs.get(rec.id), {
        '@timestamp': packet.firstSeen,
        host: { name: packet.host },
        ...rec.body,
      });
    }
  });

  it('retries are idempotent: re-sending the same records yields 409 = already delivered, no second document', async () => {
    const cfg = { ...base, index: unique('packets') };
    await setupElasticsearch(cfg, { replicas: 0 });
    const recs = Array.from({ length: 200 }, (_, i) => explainedPacketRecord(explainedPacket(i)));
    const sink = new ElasticsearchSink(cfg);
    const first = await sink.write(recs, new AbortController().signal);
    assert.ok(first.every((o) => o.status === 'delivered' && !o.duplicate));
    const runner = new SinkRunner(sink, { batch: { maxEvents: 500, maxBytes: 5e6, maxWaitMs: 10 } });
    await runner.pushAll(recs);
    const c = await runner.close();
    assert.equal(c.sent, 200);
    assert.equal(c.duplicates, 200);
    assert.equal(await count(client, cfg.index), 200);
  });

  it('per-item rejects (mapping conflicts) go to the dead-letter output with the reason; the rest index', async () => {
    const cfg = { ...base, index: unique('packets') };
    await setupElasticsearch(cfg, { replicas: 0 });
    const good = Array.from({ length: 100 }, (_, i) => explainedPacketRecord(explainedPacket(i)));
    const badIp = explainedPacket(1000);
    (badIp.packet as Record<string, unknown>).src = 'not-an-ip';
    const badPort = explainedPacket(1001);
    (badPort.packet as Record<string, unknown>).dport = 'https';
    const bad = [explainedPacketRecord(badIp), explainedPacketRecord(badPort)];
    const dl = new MemorySinkDeadLetter();
    const runner = new SinkRunner(new ElasticsearchSink(cfg), {
      deadLetter: dl,
      batch: { maxEvents: 50, maxBytes: 5e6, maxWaitMs: 10 },
    });
    await runner.pushAll([...good.slice(0, 30), bad[0]!, ...good.slice(30, 70), bad[1]!, ...good.slice(70)]);
    const c = await runner.close();
    assert.deepEqual(
      { sent: c.sent, rejected: c.rejected, retried: c.retried },
      { sent: 100, rejected: 2, retried: 0 },
    );
    assert.deepEqual(dl.entries.map((e) => e.id).sort(), bad.map((b) => b.id).sort());
    for (const e of dl.entries) {
      assert.equal(e.outcome, 'rejected');
      assert.match(e.reason, /^400 (document_parsing_exception|mapper_parsing_exception)/);
    }
    assert.match(dl.entries.find((e) => e.id === bad[0]!.id)!.reason, /packet\.src/);
    assert.deepEqual(dl.entries.find((e) => e.id === bad[0]!.id)!.record, badIp);
    assert.equal(await count(client, cfg.index), 100);
  });

  describe('429 storm (write queue of 1)', function () {
    let throttled: ElasticsearchSinkConfig;
    before(function () {
      const env = requireServices(this, ['ES_THROTTLED_URL']);
      throttled = { nodes: [env.ES_THROTTLED_URL!], apiVersion: base.apiVersion ?? 8 };
    });

    it('rides out es_rejected_execution_exception without loss or duplicates', async () => {
      const cfg = { ...throttled, index: unique('storm') };
      await setupElasticsearch(cfg, { replicas: 0, shards: 3 });
      const n = 6_000;
      const recs = Array.from({ length: n }, (_, i) => explainedPacketRecord(explainedPacket(i)));
      const lines: string[] = [];
      const runner = new SinkRunner(new ElasticsearchSink(cfg), {
        logger: captureLogger(lines),
        batch: { maxEvents: 200, maxBytes: 5e6, maxWaitMs: 10 },
        maxInFlight: 8,
        retry: { initialMs: 50, maxMs: 1000 },
      });
      await runner.pushAll(recs);
      const c = await runner.close({ timeoutMs: 240_000 });
      console.log(`      429 storm: ${n} docs, ${c.writes} bulk requests, ${c.retried} record retries`);
      assert.ok(c.retried > 0, 'the throttled node must have answered 429');
      assert.ok(
        lines.some((l) => /429 es_rejected_execution_exception/.test(l)),
        'a 429 reason was logged',
      );
      assert.deepEqual(
        { sent: c.sent, rejected: c.rejected, failed: c.failed },
        { sent: n, rejected: 0, failed: 0 },
      );
      const es = createEsClient(cfg);
      try {
        assert.equal(await count(es, cfg.index), n);
      } finally {
        await es.close();
      }
    });
  });

  describe('TLS + authentication', function () {
    let secure: {
      url: string;
      ca: Buffer;
      admin: { username: string; password: string };
      writer: { username: string; password: string };
    };
    before(function () {
      const e = requireServices(this, [
        'ES_SECURE_URL',
        'ES_SECURE_CA',
        'ES_SECURE_ADMIN_PASSWORD',
        'ES_SECURE_WRITER_PASSWORD',
      ]);
      secure = {
        url: e.ES_SECURE_URL!,
        ca: readFileSync(e.ES_SECURE_CA!),
        admin: { username: e.ES_SECURE_ADMIN_USERNAME!, password: e.ES_SECURE_ADMIN_PASSWORD! },
        writer: { username: e.ES_SECURE_WRITER_USERNAME!, password: e.ES_SECURE_WRITER_PASSWORD! },
      };
    });
    const conf = (auth: { username: string; password: string }, index: string): ElasticsearchSinkConfig => ({
      nodes: [secure.url],
      apiVersion: base.apiVersion ?? 8,
      tls: { ca: secure.ca },
      auth,
      index,
      alertIndex: `${index}-alerts`,
    });

    it('setup with the admin user, delivery with the least-privilege writer over verified TLS', async () => {
      const index = unique('secure');
      await setupElasticsearch(conf(secure.admin, index), { replicas: 0 });
      const lines: string[] = [];
      const runner = new SinkRunner(
        new ElasticsearchSink(conf(secure.writer, index), { logger: captureLogger(lines) }),
        { logger: captureLogger(lines), batch: { maxEvents: 100, maxBytes: 5e6, maxWaitMs: 10 } },
      );
      await runner.start();
      const recs = Array.from({ length: 300 }, (_, i) =>
        explainedPacketRecord(explainedPacket(i, 'secure-host')),
      );
      await runner.pushAll(recs);
      const c = await runner.close();
      assert.equal(c.sent, 300);
      const admin = createEsClient(conf(secure.admin, index));
      try {
        const docs = await allDocs(admin, index);
        for (const r of recs) assert.deepEqual(docs.get(r.id), r.body);
      } finally {
        await admin.close();
      }
      for (const l of lines) assert.ok(!l.includes(secure.writer.password));
    });

    it('the writer cannot write outside ruletrail-*: per-item 403 is rejected to the dead-letter output', async () => {
      const dl = new MemorySinkDeadLetter();
      const runner = new SinkRunner(
        new ElasticsearchSink({ ...conf(secure.writer, 'ruletrail-x'), index: 'other-index' }),
        { deadLetter: dl, batch: { maxEvents: 10, maxBytes: 5e6, maxWaitMs: 5 } },
      );
      await runner.pushAll([explainedPacketRecord(explainedPacket(1))]);
      const c = await runner.close();
      assert.equal(c.rejected, 1);
      assert.match(dl.entries[0]!.reason, /^403 security_exception/);
      assert.ok(!dl.entries[0]!.reason.includes(secure.writer.password));
    });

    it('a wrong password fails connect() (not retriable) with no secret in the error or the logs', async () => {
      const wrong = `${secure.writer.password}-WRONG-x1`;
      const lines: string[] = [];
      const sink = new ElasticsearchSink(
        conf({ username: secure.writer.username, password: wrong }, 'ruletrail-x'),
        { logger: captureLogger(lines) },
      );
      const runner = new SinkRunner(sink, { logger: captureLogger(lines) });
      const err = await runner.start().then(
        () => undefined,
        (e: unknown) => e as Error & { retriable: boolean },
      );
      assert.ok(err);
      assert.equal(err.retriable, false);
      assert.match(err.message, /401|security_exception|unable to authenticate/i);
      const basic = Buffer.from(`${secure.writer.username}:${wrong}`).toString('base64');
      for (const s of [err.message, JSON.stringify(err), ...lines]) {
        assert.ok(!s.includes(wrong), 'password leaked');
        assert.ok(!s.includes(basic), 'Basic header leaked');
      }
      await sink.close();
    });

    /** A real API key created by the admin through the security API, limited like a Filebeat publishing key. */
    async function createWriterApiKey(
      index: string,
    ): Promise<{ id: string; api_key: string; encoded: string }> {
      const admin = createEsClient(conf(secure.admin, index));
      try {
        const k = await admin.security.createApiKey({
          name: `ruletrail-writer-${index}`,
          expiration: '1h',
          role_descriptors: {
            ruletrail_writer: {
              cluster: ['monitor'],
              indices: [
                {
                  names: ['ruletrail-*'],
                  privileges: ['create_doc', 'auto_configure', 'view_index_metadata'],
                },
              ],
            },
          },
        });
        return { id: k.id, api_key: k.api_key, encoded: k.encoded };
      } finally {
        await admin.close();
      }
    }

    it('delivers with a real API key (encoded and id/key forms); per-item 403 outside its indices is rejected', async () => {
      const index = unique('apikey');
      await setupElasticsearch(conf(secure.admin, index), { replicas: 0 });
      const key = await createWriterApiKey(index);
      const lines: string[] = [];
      const withKey = (
        apiKey: string | { id: string; api_key: string },
        idx: string,
      ): ElasticsearchSinkConfig => ({
        ...conf(secure.admin, idx),
        auth: { apiKey },
      });
      const recs = Array.from({ length: 200 }, (_, i) =>
        explainedPacketRecord(explainedPacket(i, 'apikey-host')),
      );
      for (const [form, apiKey] of [
        ['encoded', key.encoded],
        ['id/key', { id: key.id, api_key: key.api_key }],
      ] as const) {
        const half = form === 'encoded' ? recs.slice(0, 100) : recs.slice(100);
        const runner = new SinkRunner(
          new ElasticsearchSink(withKey(apiKey, index), { logger: captureLogger(lines) }),
          {
            logger: captureLogger(lines),
            batch: { maxEvents: 50, maxBytes: 5e6, maxWaitMs: 10 },
          },
        );
        await runner.start();
        await runner.pushAll(half);
        const c = await runner.close();
        assert.deepEqual(
          { sent: c.sent, rejected: c.rejected, failed: c.failed },
          { sent: 100, rejected: 0, failed: 0 },
          form,
        );
      }
      const admin = createEsClient(conf(secure.admin, index));
      try {
        const docs = await allDocs(admin, index);
        assert.equal(docs.size, 200);
        for (const r of recs) assert.deepEqual(docs.get(r.id), r.body);
        // The key really authenticated as an API key (not through some fallback realm).
        const who = createEsClient(withKey(key.encoded, index));
        try {
          const auth = await who.security.authenticate();
          assert.equal(auth.authentication_type, 'api_key');
          assert.equal(auth.api_key?.id, key.id);
        } finally {
          await who.close();
        }
      } finally {
        await admin.close();
      }
      const dl = new MemorySinkDeadLetter();
      const outside = new SinkRunner(
        new ElasticsearchSink({ ...withKey(key.encoded, index), index: 'other-index' }),
        {
          deadLetter: dl,
          logger: captureLogger(lines),
          batch: { maxEvents: 10, maxBytes: 5e6, maxWaitMs: 5 },
        },
      );
      await outside.pushAll([explainedPacketRecord(explainedPacket(1))]);
      assert.equal((await outside.close()).rejected, 1);
      assert.match(dl.entries[0]!.reason, /^403 security_exception/);
      for (const s of [...lines, dl.entries[0]!.reason]) {
        assert.ok(!s.includes(key.api_key), 'API key secret leaked');
        assert.ok(!s.includes(key.encoded), 'encoded API key leaked');
      }
    });

    it('an invalidated API key fails connect() (not retriable) with no secret in the error or the logs', async () => {
      const index = unique('apikey-revoked');
      const key = await createWriterApiKey(index);
      const admin = createEsClient(conf(secure.admin, index));
      try {
        const inv = await admin.security.invalidateApiKey({ ids: [key.id] });
        assert.deepEqual(inv.invalidated_api_keys, [key.id]);
      } finally {
        await admin.close();
      }
      const lines: string[] = [];
      const sink = new ElasticsearchSink(
        { ...conf(secure.admin, index), auth: { apiKey: { id: key.id, api_key: key.api_key } } },
        { logger: captureLogger(lines) },
      );
      const err = await new SinkRunner(sink, { logger: captureLogger(lines) }).start().then(
        () => undefined,
        (e: unknown) => e as Error & { retriable: boolean },
      );
      assert.ok(err, 'an invalidated key must not connect');
      assert.equal(err.retriable, false);
      assert.match(err.message, /401|security_exception|unable to authenticate/i);
      for (const s of [err.message, JSON.stringify(err), ...lines]) {
        assert.ok(!s.includes(key.api_key), 'API key secret leaked');
        assert.ok(!s.includes(key.encoded), 'encoded API key leaked');
      }
      await sink.close();
    });

    it('refuses the node certificate without the CA: not retriable (a config error), no secret in the error', async () => {
      const sink = new ElasticsearchSink({
        nodes: [secure.url],
        apiVersion: base.apiVersion ?? 8,
        auth: secure.writer,
      });
      await assert.rejects(sink.connect(), (e: Error & { retriable?: boolean; code?: string }) => {
        assert.match(e.message, /certificate|self.signed|CERT/i);
        assert.equal(e.retriable, false);
        assert.equal(e.code, 'RT_ERR_ES_TLS');
        assert.ok(!e.message.includes(secure.writer.password), 'password leaked');
        return true;
      });
      await sink.close();
    });
  });
});
