/**
 * Rotation while tailing, with the real CLI: logrotate's rename (the writer keeps appending to the renamed
 * file for a while, then a new file appears) and copytruncate (copy, then truncate in place). Every packet
 * must come out exactly once.
 */
import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, renameSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  collectStderr,
  dropPacket,
  exited,
  explainedSeqs,
  incidentSnapshots,
  killChildren,
  seqOf,
  startRun,
  tempDir,
  waitFor,
  writeConfig,
} from './pipeline-helpers';

function packets(from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) s += dropPacket(i).join('\n') + '\n';
  return s;
}

function exactlyOnce(out: string, n: number): void {
  const seqs = explainedSeqs(out).sort((a, b) => a - b);
  const want = Array.from({ length: n }, (_, i) => seqOf(i));
  assert.deepEqual(seqs, want);
}

function tail(dir: string, paths: string[]) {
  const out = join(dir, 'out.ndjson');
  const cfg = writeConfig(dir, {
    version: 1,
    dataDir: join(dir, 'state'),
    sources: [{ id: 'kern', type: 'file', paths, year: 2023, pollIntervalMs: 50 }],
    snapshots: incidentSnapshots(),
    sinks: [{ id: 'out', type: 'file', path: out, records: ['explanation'] }],
  });
  const child = startRun(cfg, [], 'ignore');
  return { out, child, err: collectStderr(child) };
}

describe('ruletrail run: rotation while tailing', function () {
  this.timeout(60000);
  afterEach(killChildren);

  it('follows a rename rotation: the old file is read to its end, then the new one from its start', async () => {
    const dir = tempDir();
    const log = join(dir, 'kern.log');
    writeFileSync(log, packets(0, 100));
    const { out, child, err } = tail(dir, [log]);
    await waitFor(() => explainedSeqs(out).length === 100, 20000, 'the first 100 packets');
    appendFileSync(log, packets(100, 150));
    renameSync(log, `${log}.1`);
    // The writer has not reopened yet: it still appends to the renamed file.
    appendFileSync(`${log}.1`, packets(150, 200));
    writeFileSync(log, packets(200, 250));
    await waitFor(() => explainedSeqs(out).length >= 250, 20000, 'all 250 packets');
    await waitFor(
      () => /A rotated file was read to its end/.test(err.text),
      10000,
      'the old file to be closed',
    );
    child.kill('SIGTERM');
    assert.equal(await exited(child), 0, err.text);
    exactlyOnce(out, 250);
  });

  it('follows copytruncate: lines written before the copy are read from the copy, then the file from 0', async () => {
    const dir = tempDir();
    const log = join(dir, 'kern.log');
    writeFileSync(log, packets(0, 100));
    const { out, child, err } = tail(dir, [log]);
    await waitFor(() => explainedSeqs(out).length === 100, 20000, 'the first 100 packets');
    // Written, then copied and truncated before the tailer's next poll: these exist only in the copy now.
    appendFileSync(log, packets(100, 150));
    copyFileSync(log, `${log}.1`);
    truncateSync(log, 0);
    appendFileSync(log, packets(150, 200));
    await waitFor(() => explainedSeqs(out).length >= 200, 20000, 'all 200 packets');
    await new Promise((r) => setTimeout(r, 500));
    child.kill('SIGTERM');
    assert.equal(await exited(child), 0, err.text);
    exactlyOnce(out, 200);
    assert.match(err.text, /File truncated \(copytruncate\)/);
  });

  it('with a glob that also matches the rotated copy, reads nothing twice', async () => {
    const dir = tempDir();
    const log = join(dir, 'kern.log');
    writeFileSync(log, packets(0, 100));
    const { out, child, err } = tail(dir, [`${log}*`]);
    await waitFor(() => explainedSeqs(out).length === 100, 20000, 'the first 100 packets');
    appendFileSync(log, packets(100, 150));
    copyFileSync(log, `${log}.1`);
    truncateSync(log, 0);
    appendFileSync(log, packets(150, 200));
    await waitFor(() => explainedSeqs(out).length >= 200, 20000, 'all 200 packets');
    // Give the glob discovery (every second) time to see the copy and, wrongly, re-read it.
    await new Promise((r) => setTimeout(r, 2500));
    child.kill('SIGTERM');
    assert.equal(await exited(child), 0, err.text);
    exactlyOnce(out, 200);
  });
});
