/** Fluentd sink units: payload envelope, config checks, ack semantics against a scripted forward server. */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { SINK_SCHEMA_VERSION, type SinkRecord } from '@ruletrail/core';
import { FluentdSink, fluentdPayload, validateFluentdConfig } from '../src/index';
import { captureLogger } from '../../../test/support/services';

/** A TCP server that reads forward-protocol frames and never answers (a receiver that lost its output). */
async function silentServer(): Promise<{ port: number; server: Server; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = createServer((s) => {
    sockets.push(s);
    s.on('data', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, server, sockets };
}

describe('Fluentd sink (unit)', () => {
  it('wraps the body with a ruletrail envelope', () => {
    const r: SinkRecord = { id: 'i1', key: 'h|p', kind: 'alert', body: { verdict: 'DROP' } };
    assert.deepEqual(fluentdPayload(r), {
      verdict: 'DROP',
      ruletrail: { id: 'i1', key: 'h|p', kind: 'alert', schema: SINK_SCHEMA_VERSION },
    });
  });

  it('validates configs without echoing the shared key', () => {
    assert.throws(() => validateFluentdConfig({ tag: 'bad tag' }), /tag/);
    assert.throws(() => validateFluentdConfig({ tag: 't', port: 70000 }), /port/);
    assert.throws(
      () => validateFluentdConfig({ tag: 't', tls: { rejectUnauthorized: false } }),
      /allowInsecure/,
    );
    assert.throws(
      () => validateFluentdConfig({ tag: 't', security: { selfHostname: '', sharedKey: 'very-secret-key' } }),
      (e: Error) => /security/.test(e.message) && !e.message.includes('very-secret-key'),
    );
  });

  it('never reports delivery without an ack: a silent receiver yields retriable outcomes after ackTimeoutMs', async () => {
    const srv = await silentServer();
    const lines: string[] = [];
    const sink = new FluentdSink(
      { port: srv.port, tag: 'rt.unit', ackTimeoutMs: 300 },
      { logger: captureLogger(lines) },
    );
    await sink.connect();
    const t0 = Date.now();
    const out = await sink.write(
      [
        { id: 'a', key: 'k', kind: 'packet', body: { n: 1 } },
        { id: 'b', key: 'k', kind: 'packet', body: { n: 2 } },
      ],
      new AbortController().signal,
    );
    assert.ok(Date.now() - t0 >= 280);
    assert.deepEqual(
      out.map((o) => o.status),
      ['retriable', 'retriable'],
    );
    assert.ok(lines.some((l) => l.includes('reconnecting on the next write')));
    await sink.close();
    srv.sockets.forEach((s) => s.destroy());
    srv.server.close();
  });
});
