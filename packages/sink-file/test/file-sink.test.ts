/**
 * The NDJSON file sink, driven by the core sink runner as `ruletrail run` drives it: appends, acknowledges after
 * the write (and fsync), holds acknowledgements while stdout is not drained, retries a failed write.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { SinkRunner, type SinkRecord } from '@ruletrail/core';
import { FileSink, fileSinkPlugin } from '../src';

const rec = (i: number): SinkRecord => ({
  kind: 'packet',
  key: 'h',
  id: String(i),
  body: { n: i, text: 'ünï\ncode' },
});

/** A runner with the file sink's own defaults (one write at a time, short batch wait). */
function runner(sink: FileSink, onDelivered: (n: number) => void, retryMs = 200): SinkRunner {
  return new SinkRunner(sink, {
    ...fileSinkPlugin.runner,
    retry: { initialMs: retryMs, maxMs: retryMs, jitter: 0 },
    onDelivered: (records) => onDelivered(records.length),
  });
}

describe('file sink', () => {
  for (const fsync of [false, true])
    it(`appends one JSON line per record and acknowledges each once written${fsync ? ' and fsync’ed' : ''}`, async () => {
      const path = join(mkdtempSync(join(tmpdir(), 'rt-sink-')), 'out.ndjson');
      writeFileSync(path, '{"earlier":true}\n');
      let acked = 0;
      const r = runner(new FileSink({ path, fsync }), (n) => (acked += n));
      await r.start();
      for (let i = 0; i < 1000; i++) await r.push(rec(i));
      assert.equal(acked, 0, 'acknowledged before the write');
      await r.flush();
      assert.equal(acked, 1000);
      await r.close();
      const lines = readFileSync(path, 'utf8').trim().split('\n');
      assert.equal(lines.length, 1001);
      assert.deepEqual(JSON.parse(lines[1000]!), { n: 999, text: 'ünï\ncode' });
      // In order: one write at a time.
      assert.deepEqual(
        lines.slice(1).map((l) => (JSON.parse(l) as { n: number }).n),
        Array.from({ length: 1000 }, (_, i) => i),
      );
    });

  it('writes stdout records to its stream and holds acknowledgements while the stream is not drained', async () => {
    const out = new PassThrough({ highWaterMark: 16 });
    let acked = 0;
    const r = runner(new FileSink({ path: '-', fsync: false }, { stdout: out }), (n) => (acked += n));
    for (let i = 0; i < 5000; i++) void r.push(rec(i));
    // Wait until the first write is stuck on the full stream, then check nothing more was acknowledged.
    while (r.inFlight === 0) await new Promise((res) => setImmediate(res));
    assert.ok(acked < 5000, 'everything acknowledged although nobody read the stream');
    let text = '';
    out.on('data', (b: Buffer) => (text += b.toString()));
    await r.flush();
    assert.equal(acked, 5000);
    assert.equal(text.trim().split('\n').length, 5000);
  });

  it('retries a failed write (the runner backs off) and delivers once the file is writable again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rt-sink-'));
    const path = join(dir, 'out.ndjson');
    // A directory where the file should be: opening it for append fails (EISDIR), even as root.
    mkdirSync(path);
    let acked = 0;
    const r = runner(new FileSink({ path, fsync: false }), (n) => (acked += n), 20);
    await r.push(rec(1));
    while (r.counters.retried === 0) await new Promise((res) => setTimeout(res, 5));
    assert.equal(acked, 0);
    rmdirSync(path);
    await r.flush();
    assert.equal(acked, 1);
    assert.equal(readFileSync(path, 'utf8'), '{"n":1,"text":"ünï\\ncode"}\n');
    await r.close();
  });
});
