/** The NDJSON file sink: appends, acknowledges after the write (and fsync), routes by record kind. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { SILENT, type FinalStatus, type OutputRecord } from '@ruletrail/pipeline';
import { FileSink } from '../src';

const rec = (i: number): OutputRecord => ({
  kind: 'explanation',
  key: 'h',
  id: String(i),
  body: { n: i, text: 'ünï\ncode' },
});

describe('file sink', () => {
  for (const fsync of [false, true])
    it(`appends one JSON line per record and acknowledges each once written${fsync ? ' and fsync’ed' : ''}`, async () => {
      const path = join(mkdtempSync(join(tmpdir(), 'rt-sink-')), 'out.ndjson');
      writeFileSync(path, '{"earlier":true}\n');
      const sink = new FileSink({ id: 'f', path, records: ['explanation'], fsync }, SILENT);
      const statuses: FinalStatus[] = [];
      for (let i = 0; i < 1000; i++) sink.send(rec(i), (s) => statuses.push(s));
      assert.equal(statuses.length, 0, 'acknowledged before the write');
      await sink.flush(5000);
      assert.equal(statuses.length, 1000);
      assert.ok(statuses.every((s) => s === 'delivered'));
      await sink.close();
      const lines = readFileSync(path, 'utf8').trim().split('\n');
      assert.equal(lines.length, 1001);
      assert.deepEqual(JSON.parse(lines[1000]!), { n: 999, text: 'ünï\ncode' });
    });

  it('writes stdout records to its stream and holds acknowledgements while the stream is not drained', async () => {
    const out = new PassThrough({ highWaterMark: 16 });
    const sink = new FileSink({ id: 's', path: '-', records: ['alert'], fsync: false }, SILENT, out);
    assert.deepEqual([...sink.kinds], ['alert']);
    let acked = 0;
    for (let i = 0; i < 5000; i++) sink.send(rec(i), () => acked++);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(acked < 5000, 'everything acknowledged although nobody read the stream');
    let text = '';
    out.on('data', (b: Buffer) => (text += b.toString()));
    await sink.flush(5000);
    assert.equal(acked, 5000);
    assert.equal(text.trim().split('\n').length, 5000);
  });
});
