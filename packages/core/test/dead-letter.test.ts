/**
 * The NDJSON dead-letter file when the disk is full: /dev/full answers every write with ENOSPC, as a full
 * filesystem does. The process must not crash (it used to: an unhandled 'error' event on the write stream), the
 * failure is reported once, and what could not be written is counted. (Recovery once space is back is proven
 * with a real tmpfs by the chaos harness, test/chaos, scenario enospc.)
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError, NdjsonDeadLetterFile } from '../src';

const error = (i: number) =>
  new InputError('RT_ERR_TEST', { file: 'kern.log', line: i }, `bad line ${i}`, `line ${i}`);

describe('NdjsonDeadLetterFile', () => {
  it('writes one NDJSON record per dead letter, in order', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'rt-dl-')), 'dl.ndjson');
    const dl = new NdjsonDeadLetterFile(path);
    for (let i = 1; i <= 1000; i++) dl.write(error(i));
    await dl.close();
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    assert.equal(lines.length, 1000);
    assert.deepEqual(
      lines.map((l) => (JSON.parse(l) as { line: number }).line),
      Array.from({ length: 1000 }, (_, i) => i + 1),
    );
    assert.equal(dl.unwritten, 0);
  });

  it('survives ENOSPC: reports it once, holds the records, counts them unwritten at close', async () => {
    const errors: [string | undefined, number][] = [];
    const dl = new NdjsonDeadLetterFile('/dev/full', {
      retryMs: 10,
      onError: (err, pending) => errors.push([err.code, pending]),
    });
    for (let i = 1; i <= 50; i++) dl.write(error(i));
    await new Promise((r) => setTimeout(r, 100)); // several retries, all failing
    assert.equal(dl.failing?.code, 'ENOSPC');
    await dl.close();
    assert.equal(errors.length >= 1, true);
    assert.equal(errors[0]![0], 'ENOSPC');
    assert.equal(dl.count, 50);
    assert.equal(dl.unwritten, 50);
  });

  it('counts records over the memory bound as unwritten', async () => {
    const dl = new NdjsonDeadLetterFile('/dev/full', { maxPendingBytes: 1000, retryMs: 10 });
    for (let i = 1; i <= 100; i++) dl.write(error(i));
    await dl.close();
    assert.equal(dl.unwritten, 100);
  });

  it('fails at construction when the file cannot be opened', () => {
    assert.throws(() => new NdjsonDeadLetterFile('/nonexistent-dir/dl.ndjson'), /ENOENT/);
  });
});
