/**
 * Exposure of `ruletrail run` (issue #15 item 7), with real sockets and real TLS (a test CA made with openssl):
 *
 * - the syslog receiver and the metrics endpoint bind 127.0.0.1 when the address has no host (`:port`): a
 *   connection to the host's own non-loopback address is refused;
 * - syslog over TLS (RFC 5425, octet-counted frames) with client certificates from a CA: packets explained; a
 *   client without a certificate is refused in the handshake and counted;
 * - limits: connections beyond `maxConnections` are closed at once, a silent connection is closed after
 *   `idleTimeoutMs`, a frame over `maxMessageBytes` is cut — each counted in
 *   `ruletrail_component_discarded_events_total{reason=…}`; the metrics endpoint caps connections, idle time
 *   and header size and answers only GET;
 * - secret files: a TLS private key or a config with a literal password that every user can read is refused,
 *   naming the file and the mode, never the secret.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import {
  BIN,
  INCIDENT,
  collectStderr,
  dropPacket,
  exited,
  freePort,
  killChildren,
  readNdjson,
  seqOf,
  startRun,
  tempDir,
  waitFor,
  writeConfig,
} from './pipeline-helpers';
import { makeTestPki } from './test-pki';

/** RFC 5424 message for a kernel line (what rsyslog's RSYSLOG_SyslogProtocol23Format sends). */
function rfc5424(host: string, line: string): Buffer {
  const msg = line.replace(/^.*? kernel: /, '');
  return Buffer.from(`<4>1 2023-01-01T21:23:16.000000+00:00 ${host} kernel - - - ${msg}`);
}

/** RFC 5425 / 6587 octet counting: `LEN SP MSG`. */
function octet(m: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${m.length} `), m]);
}

/** The first IPv4 address of this host that is not loopback, if any. */
function externalIPv4(): string | undefined {
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return undefined;
}

function connectError(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = netConnect(port, host);
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

/** Resolves when the socket closes (by the server), with how long it took. */
function closedWithin(s: Socket): Promise<number> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    if (s.destroyed) resolve(0);
    s.once('close', () => resolve(Date.now() - t0));
    s.on('error', () => undefined);
  });
}

function openTcp(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

async function metricsText(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

function discarded(text: string, reason: string): number {
  const re = new RegExp(
    `ruletrail_component_discarded_events_total\\{component_id="rsyslog",component_kind="source",reason="${reason}"\\} (\\d+)`,
  );
  return Number(re.exec(text)?.[1] ?? 0);
}

describe('ruletrail run: exposure of the syslog receiver and the metrics endpoint (real sockets, real TLS)', function () {
  this.timeout(90000);
  afterEach(killChildren);

  it('binds loopback by default; TLS with client certificates; connection cap, idle timeout and frame cap, all counted', async () => {
    const dir = tempDir('ruletrail-exposure-');
    const pki = makeTestPki(dir);
    const out = join(dir, 'out.ndjson');
    const tcpPort = await freePort();
    const tlsPort = await freePort();
    const metricsPort = await freePort();
    const cfg = writeConfig(dir, {
      version: 1,
      sources: [
        {
          id: 'rsyslog',
          type: 'syslog',
          tcp: `:${tcpPort}`,
          tls: { listen: `:${tlsPort}`, certFile: pki.serverCert, keyFile: pki.serverKey, caFile: pki.ca },
          maxConnections: 3,
          idleTimeoutMs: 2000,
          maxMessageBytes: 2048,
          year: 2023,
          batchMs: 20,
        },
      ],
      snapshots: {
        files: [
          { path: join(INCIDENT, 'iptables-save-0101.txt'), host: 'node-tls' },
          { path: join(INCIDENT, 'iptables-save-0103.txt'), host: 'node-tls' },
        ],
      },
      sinks: [{ id: 'out', type: 'file', path: out, records: ['explanation'] }],
      metrics: { listen: `:${metricsPort}`, maxConnections: 2, idleTimeoutMs: 2000 },
    });
    const child = startRun(cfg, [], 'ignore');
    const err = collectStderr(child);
    await waitFor(() => /Syslog receiver listening/.test(err.text), 20000, 'the receiver');
    await waitFor(() => /Serving Prometheus metrics/.test(err.text), 20000, 'the metrics endpoint');

    // 1. Loopback only: the log names 127.0.0.1, and the host's other address refuses the connection.
    assert.match(err.text, new RegExp(`"tcp":"127\\.0\\.0\\.1:${tcpPort}"`));
    assert.match(err.text, new RegExp(`"tls":"127\\.0\\.0\\.1:${tlsPort}"`));
    const ext = externalIPv4();
    if (ext) {
      for (const port of [tcpPort, tlsPort, metricsPort])
        assert.equal(await connectError(ext, port), 'ECONNREFUSED', `${ext}:${port} must not be reachable`);
    } else console.log('      (no non-loopback IPv4 address on this host: the refusal check is skipped)');

    // 2. TLS with a client certificate: octet-counted RFC 5424 frames, one packet explained.
    const ca = readFileSync(pki.ca);
    const tlsClient = (withCert: boolean): Promise<TLSSocket> =>
      new Promise((resolve, reject) => {
        const s = tlsConnect({
          host: '127.0.0.1',
          port: tlsPort,
          ca,
          ...(withCert ? { cert: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey) } : {}),
        });
        s.once('secureConnect', () => resolve(s));
        s.once('error', reject);
      });
    const good = await tlsClient(true);
    assert.equal(good.authorized, true, String(good.authorizationError));
    for (const l of dropPacket(7, { host: 'node-tls' })) good.write(octet(rfc5424('node-tls', l)));
    // 3. A frame over maxMessageBytes (2048) is cut to it and counted, the next frame still arrives.
    good.write(octet(Buffer.from(`<4>1 2023-01-01T21:23:16Z node-tls kernel - - - ${'x'.repeat(10_000)}`)));
    good.end();
    await waitFor(() => readNdjson(out).length === 1, 30000, 'the packet sent over TLS');
    const ex = readNdjson(out)[0]!;
    assert.equal(ex.packet.host, 'node-tls');
    assert.equal(ex.packet.tcpSeq, seqOf(7));
    assert.match(ex.steps[0].origin.file, /syslog\+tls:\/\//);

    // A client with no certificate is refused during the handshake (the server requires one from the CA).
    const refused = await tlsClient(false).then(
      async (s) => {
        // TLS 1.3: the server's refusal arrives after the client's handshake finished.
        const code = await new Promise<string>((resolve) => {
          s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
          s.once('close', () => resolve('closed'));
          s.write(octet(rfc5424('intruder', 'x')));
        });
        return code;
      },
      (e: NodeJS.ErrnoException) => e.code ?? e.message,
    );

    // 4. Connection cap (3, TCP and TLS together): the fourth connection is closed at once.
    const held = [await openTcp(tcpPort), await openTcp(tcpPort), await openTcp(tcpPort)];
    const heldClosed = held.map(closedWithin);
    const fourth = await openTcp(tcpPort);
    const fourthMs = await closedWithin(fourth);
    assert.ok(fourthMs < 1500, `the fourth connection stayed open ${fourthMs} ms`);
    // 5. Idle timeout (2 s): the three silent connections are closed by the server.
    const idleMs = await Promise.all(heldClosed);
    for (const ms of idleMs) assert.ok(ms >= 1000 && ms < 20000, `idle connection closed after ${ms} ms`);

    // 6. The metrics endpoint: only GET, header size capped, connections capped, idle connections closed.
    const post = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    const bigHeader = await new Promise<string>((resolve) => {
      const s = netConnect(metricsPort, '127.0.0.1', () =>
        s.write(`GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`),
      );
      let got = '';
      s.on('data', (b: Buffer) => (got += b.toString('latin1')));
      s.on('close', () => resolve(got.split('\r\n')[0]!));
      s.on('error', () => undefined);
    });
    assert.equal(bigHeader, 'HTTP/1.1 431 Request Header Fields Too Large');
    const m1 = await openTcp(metricsPort);
    const m2 = await openTcp(metricsPort);
    const m1Closed = closedWithin(m1);
    const m2Closed = closedWithin(m2);
    const m3 = await openTcp(metricsPort);
    assert.ok((await closedWithin(m3)) < 1500, 'a third metrics connection must be closed at once');
    for (const ms of await Promise.all([m1Closed, m2Closed]))
      assert.ok(ms < 20000, `an idle metrics connection stayed ${ms} ms`);

    const text = await metricsText(metricsPort);
    assert.equal(discarded(text, 'truncated'), 1, text);
    assert.ok(discarded(text, 'too_many_connections') >= 1, text);
    assert.ok(discarded(text, 'idle_timeout') >= 3, text);
    assert.ok(discarded(text, 'tls_handshake_failed') >= 1, `refused client: ${refused}\n${text}`);

    // Nothing from the refused client reached the output.
    assert.equal(readNdjson(out).length, 1);
    child.kill('SIGTERM');
    assert.equal(await exited(child), 0, err.text);
  });

  it('refuses a TLS private key every user can read, naming the file and mode (never the key)', async () => {
    const dir = tempDir('ruletrail-exposure-');
    const pki = makeTestPki(dir);
    chmodSync(pki.serverKey, 0o644);
    const cfg = writeConfig(dir, {
      version: 1,
      sources: [
        {
          id: 'rsyslog',
          type: 'syslog',
          tls: { listen: `:${await freePort()}`, certFile: pki.serverCert, keyFile: pki.serverKey },
        },
      ],
      sinks: [{ id: 'out', type: 'file', path: join(dir, 'out.ndjson') }],
    });
    const child = startRun(cfg, [], 'ignore');
    const err = collectStderr(child);
    assert.notEqual(await exited(child), 0);
    assert.match(err.text, /syslog tls\.keyFile .*server\.key is accessible by every user \(mode 0644\)/);
    assert.match(err.text, /chmod 600/);
    const key = readFileSync(pki.serverKey, 'utf8');
    const body = key.split('\n').filter((l) => l && !l.startsWith('-----'));
    for (const l of body) assert.ok(!err.text.includes(l), 'a line of the key reached the output');

    // Group-readable (a service group) is accepted.
    chmodSync(pki.serverKey, 0o640);
    const ok = startRun(cfg, [], 'ignore');
    const okErr = collectStderr(ok);
    await waitFor(() => /Syslog receiver listening/.test(okErr.text), 20000, 'the receiver');
    ok.kill('SIGTERM');
    assert.equal(await exited(ok), 0, okErr.text);
  });

  it('refuses a config file that holds a literal password and every user can read; ${ENV} or chmod 600 fixes it', () => {
    const dir = tempDir('ruletrail-exposure-');
    const secret = 'Sup3r-s3cret-literal-pw';
    const cfgObj = (password: string) => ({
      version: 1,
      sources: [{ id: 'in', type: 'stdin' }],
      sinks: [
        {
          id: 'k',
          type: 'kafka',
          options: {
            brokers: ['127.0.0.1:9'],
            topic: 't',
            tls: true,
            sasl: { mechanism: 'scram-sha-512', username: 'u', password },
          },
        },
      ],
    });
    const validate = (file: string) =>
      spawnSync(process.execPath, [BIN, 'validate', file], {
        encoding: 'utf8',
        env: { ...process.env, RT_PW: secret },
      });
    const literal = writeConfig(dir, cfgObj(secret), 'literal.yaml');
    chmodSync(literal, 0o644);
    const r = validate(literal);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /holds 1 secret value .*every user can read it \(mode 0644\): chmod 600/);
    assert.ok(!(r.stdout + r.stderr).includes(secret), 'the secret reached the output');
    chmodSync(literal, 0o600);
    assert.equal(validate(literal).status, 0);
    const fromEnv = writeConfig(dir, cfgObj('${RT_PW}'), 'env.yaml');
    chmodSync(fromEnv, 0o644);
    const e = validate(fromEnv);
    assert.equal(e.status, 0, e.stderr);
  });
});
