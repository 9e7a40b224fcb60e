/**
 * No secret in any output (issue #15 item 7): `ruletrail run` is started with TLS, SASL and API-key secrets
 * configured — right and wrong — and every byte it writes (stdout, stderr JSON logs, output and dead-letter files,
 * the Prometheus text) is searched for each secret and its encodings (URL-encoded, base64, `user:pass` base64).
 *
 * Real parts: real TLS (a test CA from openssl), a real syslog-over-TLS client, the real metrics endpoint. The
 * Elasticsearch node is a hostile stand-in over HTTPS that answers 401 and echoes the Authorization header it
 * got in its error body (what a misbehaving proxy does) — the sink's error path is where a key would leak. With
 * RUN_SERVICE_TESTS=1 the same grep runs against the real Kafka SASL_SSL listener (SCRAM, right and wrong
 * password) and the real secured Elasticsearch (wrong password) from services/start.sh.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createServer as createHttpsServer, request as httpsRequest, type Server } from 'node:https';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { makeTestPki } from './test-pki';
import {
  INCIDENT,
  collectStderr,
  dropPacket,
  exited,
  freePort,
  killChildren,
  readNdjson,
  startRun,
  tempDir,
  waitFor,
  writeConfig,
} from './pipeline-helpers';
import { serviceEnv } from '../../../test/support/services';

/** Every form a secret could take in an output. */
function forms(secret: string): string[] {
  return [
    secret,
    encodeURIComponent(secret),
    Buffer.from(secret).toString('base64'),
    Buffer.from(secret).toString('base64url'),
  ];
}

/** Every file under `dir` except the inputs the test wrote (config, keys, certificates). */
function outputFiles(dir: string): string[] {
  const out: string[] = [];
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) out.push(...outputFiles(p));
    else if (!/\.(ya?ml|key|crt|csr|ext|srl|pem)$/.test(f)) out.push(p);
  }
  return out;
}

/** Fails naming the output and the form if any secret appears in any of `outputs`. */
function assertNoSecret(outputs: Record<string, string>, secrets: Record<string, string>): void {
  for (const [name, secret] of Object.entries(secrets))
    for (const f of forms(secret))
      for (const [where, text] of Object.entries(outputs))
        assert.ok(!text.includes(f), `secret ${name} (as ${JSON.stringify(f)}) appears in ${where}`);
}

/** Runs until exit (or SIGTERM after `maxMs`); returns every output. */
async function runAndCollect(
  dir: string,
  config: object,
  env: NodeJS.ProcessEnv,
  maxMs: number,
  whileRunning?: (stderr: { text: string }) => Promise<Record<string, string>>,
): Promise<{ code: number | string; outputs: Record<string, string> }> {
  const cfg = writeConfig(dir, config);
  chmodSync(cfg, 0o600);
  const child = startRun(cfg, [], 'pipe', [], env);
  let stdout = '';
  child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  const err = collectStderr(child);
  const timer = setTimeout(() => child.kill('SIGTERM'), maxMs);
  const extra = whileRunning ? await whileRunning(err) : {};
  if (whileRunning) child.kill('SIGTERM');
  const code = await exited(child);
  clearTimeout(timer);
  const outputs: Record<string, string> = { stdout, stderr: err.text, ...extra };
  for (const f of outputFiles(dir)) outputs[f] = readFileSync(f, 'latin1');
  return { code, outputs };
}

describe('ruletrail run: no secret in any output (TLS, SASL, API key)', function () {
  this.timeout(120000);
  afterEach(killChildren);
  let dir: string;
  let pki: ReturnType<typeof makeTestPki>;
  before(() => {
    dir = tempDir('ruletrail-secrets-');
    pki = makeTestPki(dir);
  });

  it('Elasticsearch API key: a node that echoes the Authorization header in its 401 body leaks nothing', async () => {
    const apiKey = 'VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==';
    const seen: string[] = [];
    const node: Server = createHttpsServer(
      { cert: readFileSync(pki.serverCert), key: readFileSync(pki.serverKey) },
      (req, res) => {
        seen.push(String(req.headers.authorization));
        req.resume();
        res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'ApiKey' }).end(
          JSON.stringify({
            error: {
              type: 'security_exception',
              reason: `unable to authenticate with provided credentials [${String(req.headers.authorization)}]`,
            },
            status: 401,
          }),
        );
      },
    );
    await new Promise<void>((r) => node.listen(0, '127.0.0.1', r));
    const port = (node.address() as { port: number }).port;
    try {
      const d = tempDir('ruletrail-secrets-es-');
      const { code, outputs } = await runAndCollect(
        d,
        {
          version: 1,
          sources: [
            { id: 'kern', type: 'file', paths: [join(INCIDENT, 'kern.log')], mode: 'read', year: 2023 },
          ],
          snapshots: { files: [{ path: join(INCIDENT, 'iptables-save-0101.txt'), host: 'cos74' }] },
          sinks: [
            {
              id: 'es',
              type: 'elasticsearch',
              options: {
                nodes: [`https://127.0.0.1:${port}`],
                auth: { apiKey: '${RT_TEST_ES_KEY}' },
                tls: { ca: readFileSync(pki.ca, 'utf8') },
              },
            },
          ],
          deadLetter: { path: join(d, 'dead.ndjson') },
        },
        { RT_TEST_ES_KEY: apiKey },
        60000,
      );
      assert.notEqual(code, 0, outputs.stderr);
      // The key was really in play: the node received it, and its echo came back in the 401 body.
      assert.ok(seen.includes(`ApiKey ${apiKey}`), `the node saw: ${seen.join(', ')}`);
      assert.match(outputs.stderr!, /401|security_exception|authenticat/);
      assertNoSecret(outputs, { apiKey });
    } finally {
      await new Promise((r) => node.close(r));
    }
  });

  it('syslog over TLS with an encrypted key: the passphrase is in no output, right or wrong', async () => {
    const passphrase = 'tls-key-passphrase-9f2c1e';
    const encKey = join(dir, 'server.enc.key');
    execFileSync('openssl', [
      'pkcs8',
      '-topk8',
      '-v2',
      'aes-256-cbc',
      '-in',
      pki.serverKey,
      '-passout',
      `pass:${passphrase}`,
      '-out',
      encKey,
    ]);
    chmodSync(encKey, 0o600);
    const config = (d: string, tlsPort: number, metricsPort: number) => ({
      version: 1,
      sources: [
        {
          id: 'rsyslog',
          type: 'syslog',
          tls: {
            listen: `127.0.0.1:${tlsPort}`,
            certFile: pki.serverCert,
            keyFile: encKey,
            passphrase: '${RT_TEST_PASSPHRASE}',
          },
          year: 2023,
          batchMs: 20,
        },
      ],
      snapshots: { files: [{ path: join(INCIDENT, 'iptables-save-0101.txt'), host: 'node-tls' }] },
      sinks: [{ id: 'out', type: 'file', path: join(d, 'out.ndjson'), records: ['explanation'] }],
      metrics: { listen: `127.0.0.1:${metricsPort}` },
      log: { level: 'debug' },
    });

    // Right passphrase: one packet over TLS, the metrics scraped, then SIGTERM.
    const d = tempDir('ruletrail-secrets-tls-');
    const tlsPort = await freePort();
    const metricsPort = await freePort();
    const ok = await runAndCollect(
      d,
      config(d, tlsPort, metricsPort),
      { RT_TEST_PASSPHRASE: passphrase },
      60000,
      async (err) => {
        await waitFor(() => /Syslog receiver listening/.test(err.text), 20000, 'the receiver');
        const s = tlsConnect({ host: '127.0.0.1', port: tlsPort, ca: readFileSync(pki.ca) });
        await new Promise<void>((r, j) => s.once('secureConnect', r).once('error', j));
        for (const l of dropPacket(3, { host: 'node-tls' })) {
          const m = Buffer.from(
            `<4>1 2023-01-01T21:23:16Z node-tls kernel - - - ${l.replace(/^.*? kernel: /, '')}`,
          );
          s.write(`${m.length} `);
          s.write(m);
        }
        s.end();
        await waitFor(() => readNdjson(join(d, 'out.ndjson')).length === 1, 30000, 'the packet');
        const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
        return { metrics };
      },
    );
    assert.equal(ok.code, 0, ok.outputs.stderr);
    assertNoSecret(ok.outputs, { passphrase });

    // Wrong passphrase: start fails (bad decrypt), and neither passphrase is printed.
    const d2 = tempDir('ruletrail-secrets-tls-');
    const wrong = 'not-the-passphrase-4471';
    const bad = await runAndCollect(
      d2,
      config(d2, await freePort(), await freePort()),
      { RT_TEST_PASSPHRASE: wrong },
      30000,
    );
    assert.notEqual(bad.code, 0);
    assert.match(bad.outputs.stderr!, /decrypt|passphrase|key/i);
    assertNoSecret(bad.outputs, { passphrase, wrong });
  });

  it('real services (RUN_SERVICE_TESTS=1): Kafka SASL_SSL SCRAM right and wrong password; secured Elasticsearch wrong password, real API key right and wrong', async function () {
    const e = serviceEnv([
      'KAFKA_SASL_SSL_BROKERS',
      'KAFKA_SCRAM_USERNAME',
      'KAFKA_SCRAM_PASSWORD',
      'RULETRAIL_TEST_CA',
      'ES_SECURE_URL',
      'ES_SECURE_CA',
      'ES_SECURE_WRITER_USERNAME',
      'ES_SECURE_WRITER_PASSWORD',
      'ES_SECURE_ADMIN_USERNAME',
      'ES_SECURE_ADMIN_PASSWORD',
    ]);
    if ('skip' in e) {
      console.log(`      skipped: ${e.skip}`);
      this.skip();
    }
    const secrets = {
      kafka: e.KAFKA_SCRAM_PASSWORD!,
      es: e.ES_SECURE_WRITER_PASSWORD!,
      esAdmin: e.ES_SECURE_ADMIN_PASSWORD!,
    };
    const kafkaSink = (password: string) => ({
      id: 'kafka',
      type: 'kafka',
      options: {
        brokers: [e.KAFKA_SASL_SSL_BROKERS!],
        topic: `rt-secrets-${Date.now()}`,
        createTopics: { numPartitions: 1 },
        tls: { caFile: e.RULETRAIL_TEST_CA! },
        sasl: { mechanism: 'scram-sha-512', username: e.KAFKA_SCRAM_USERNAME!, password },
      },
    });
    const base = (d: string, sinks: object[]) => ({
      version: 1,
      sources: [{ id: 'kern', type: 'file', paths: [join(INCIDENT, 'kern.log')], mode: 'read', year: 2023 }],
      snapshots: { files: [{ path: join(INCIDENT, 'iptables-save-0101.txt'), host: 'cos74' }] },
      sinks,
      deadLetter: { path: join(d, 'dead.ndjson') },
    });
    // Right SCRAM password: delivered, exit 0.
    const d1 = tempDir('ruletrail-secrets-kafka-');
    const right = await runAndCollect(d1, base(d1, [kafkaSink('${RT_PW}')]), { RT_PW: secrets.kafka }, 90000);
    assert.equal(right.code, 0, right.outputs.stderr);
    assertNoSecret(right.outputs, secrets);
    // Wrong SCRAM password: refused (a config error), nothing leaks — neither the right nor the wrong one.
    const d2 = tempDir('ruletrail-secrets-kafka-');
    const wrongPw = 'wrong-scram-password-8812';
    const wrong = await runAndCollect(d2, base(d2, [kafkaSink('${RT_PW}')]), { RT_PW: wrongPw }, 90000);
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.outputs.stderr!, /SASL|authenticat/i);
    assertNoSecret(wrong.outputs, { ...secrets, wrongPw });
    // Elasticsearch with basic auth and a wrong password.
    const d3 = tempDir('ruletrail-secrets-es-');
    const esWrong = 'wrong-es-password-5531';
    const es = await runAndCollect(
      d3,
      base(d3, [
        {
          id: 'es',
          type: 'elasticsearch',
          options: {
            nodes: [e.ES_SECURE_URL!],
            auth: { username: e.ES_SECURE_WRITER_USERNAME!, password: '${RT_PW}' },
            tls: { ca: readFileSync(e.ES_SECURE_CA!, 'utf8') },
          },
        },
      ]),
      { RT_PW: esWrong },
      90000,
    );
    assert.notEqual(es.code, 0);
    assert.match(es.outputs.stderr!, /security_exception|401|authenticat/i);
    assertNoSecret(es.outputs, { ...secrets, esWrong, basic: `${e.ES_SECURE_WRITER_USERNAME!}:${esWrong}` });

    // A real API key (created by the admin through the security API): delivered; the key in no output.
    const ca = readFileSync(e.ES_SECURE_CA!, 'utf8');
    const created = await new Promise<{ id: string; api_key: string; encoded: string }>((resolve, reject) => {
      const url = new URL('/_security/api_key', e.ES_SECURE_URL);
      const body = JSON.stringify({
        name: `ruletrail-secrets-${Date.now()}`,
        expiration: '1h',
        role_descriptors: {
          w: {
            cluster: ['monitor'],
            indices: [
              {
                names: ['rt-secrets-*'],
                privileges: ['create_doc', 'auto_configure', 'view_index_metadata', 'create_index'],
              },
            ],
          },
        },
      });
      const req = httpsRequest(
        url,
        {
          method: 'POST',
          ca,
          auth: `${e.ES_SECURE_ADMIN_USERNAME!}:${e.ES_SECURE_ADMIN_PASSWORD!}`,
          headers: { 'content-type': 'application/json' },
        },
        (res) => {
          let t = '';
          res.on('data', (b: Buffer) => (t += b.toString()));
          res.on('end', () =>
            res.statusCode === 200
              ? resolve(JSON.parse(t) as never)
              : reject(new Error(`${res.statusCode}: ${t}`)),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    const esSink = (index: string) => ({
      id: 'es',
      type: 'elasticsearch',
      options: { nodes: [e.ES_SECURE_URL!], auth: { apiKey: '${RT_KEY}' }, tls: { ca }, index },
      records: ['explanation'],
    });
    const d4 = tempDir('ruletrail-secrets-es-');
    const index = `rt-secrets-${Date.now()}`;
    const keyRun = await runAndCollect(d4, base(d4, [esSink(index)]), { RT_KEY: created.encoded }, 90000);
    assert.equal(keyRun.code, 0, keyRun.outputs.stderr);
    assertNoSecret(keyRun.outputs, { ...secrets, apiKey: created.encoded, apiKeySecret: created.api_key });
    // The same key id with a wrong secret: refused, neither secret printed.
    const d5 = tempDir('ruletrail-secrets-es-');
    const badKey = Buffer.from(`${created.id}:not-the-api-key-secret`).toString('base64');
    const badRun = await runAndCollect(d5, base(d5, [esSink(index)]), { RT_KEY: badKey }, 90000);
    assert.notEqual(badRun.code, 0);
    assertNoSecret(badRun.outputs, {
      ...secrets,
      apiKey: created.encoded,
      apiKeySecret: created.api_key,
      badKey,
    });
  });
});
