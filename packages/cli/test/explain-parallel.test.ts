/**
 * `ruletrail explain` over worker threads writes exactly the bytes one thread writes: on a generated burst corpus
 * (whole connections, several hosts, interleaved packets — bench/generate-corpus.mjs) with unreadable lines mixed
 * in, cut into many small segments with a warm-up too short for some boundaries, so that the boundary check and
 * the re-run it triggers are exercised.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InputError } from '@ruletrail/core';
import { explainFileParallel } from '../src/explain-parallel';

const ROOT = join(__dirname, '../../..');
const BIN = join(ROOT, 'packages/cli/bin/ruletrail.js');

describe('ruletrail explain on every core', function () {
  this.timeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), 'rt-parallel-'));
  const corpus = join(dir, 'kern.log');
  const rules = `${corpus}.rules.txt`;
  let oneCore = '';
  let oneCoreErr = '';

  before(() => {
    const g = spawnSync(
      process.execPath,
      [join(ROOT, 'bench/generate-corpus.mjs'), '--lines', '30000', '--out', corpus, '--burst-pps', '20000'],
      { encoding: 'utf8' },
    );
    assert.equal(g.status, 0, g.stderr);
    // Unreadable TRACE lines at a few places (dead letters must keep their line numbers and order).
    const lines = readFileSync(corpus, 'utf8').split('\n');
    for (const at of [100, 9000, 20000, 29000])
      lines.splice(at, 0, 'Nov 27 10:07:28 node-02 kernel: TRACE: raw:PREROUTING IN=eth0 OUT= SRC=1.2.3.4');
    writeFileSync(corpus, lines.join('\n'));
    const r = spawnSync(
      process.execPath,
      [BIN, 'explain', '--rules', rules, '--year', '2026', '--format', 'json', '--jobs', '1', corpus],
      { encoding: 'utf8', maxBuffer: 1 << 30 },
    );
    assert.equal(r.status, 1, 'exit 1: some lines unreadable');
    oneCore = r.stdout;
    oneCoreErr = r.stderr;
    assert.ok(oneCore.length > 1_000_000);
  });

  it('merges many segments into the one-core bytes, re-running segments whose warm-up was too short', async () => {
    const out: string[] = [];
    const errors: InputError[] = [];
    const verdicts = new Map<string, number>();
    const t = await explainFileParallel(
      { file: corpus, rules: [rules], year: 2026 },
      statSync(corpus).size,
      2,
      {
        packet: (text, verdict) => {
          out.push(text + '\n');
          verdicts.set(verdict, (verdicts.get(verdict) ?? 0) + 1);
        },
        drain: () => Promise.resolve(),
        error: (e) => errors.push(e),
      },
      { segmentBytes: 256 << 10, warmupBytes: 2 << 10 },
    );
    assert.ok(t.segments >= 30, `${t.segments} segments`);
    assert.ok(t.reruns >= 1, 'some boundary needed a longer warm-up');
    assert.equal(out.join(''), oneCore);
    assert.equal(t.packets, out.length);
    assert.deepEqual(
      errors.map((e) => e.message),
      oneCoreErr
        .split('\n')
        .filter((l) => l.includes(': TRACE prefix'))
        .map((l) => l.replace(/^ruletrail: /, '')),
    );
    assert.equal(errors.length, 4);
    assert.deepEqual(
      errors.map((e) => e.position.line),
      [101, 9001, 20001, 29001],
    );
    assert.ok(oneCoreErr.includes(`${out.length} packets (`));
  });

  it('--jobs 2 writes the same bytes and the same summary as --jobs 1', () => {
    const r = spawnSync(
      process.execPath,
      [
        BIN,
        'explain',
        '--rules',
        rules,
        '--year',
        '2026',
        '--format',
        'json',
        '--jobs',
        '2',
        '--stats',
        corpus,
      ],
      { encoding: 'utf8', maxBuffer: 1 << 30 },
    );
    assert.equal(r.status, 1);
    assert.equal(r.stdout, oneCore);
    const stats = JSON.parse(r.stderr.trim().split('\n').pop()!) as { parallel?: { jobs: number } };
    assert.equal(stats.parallel?.jobs, 2);
    const summary = (s: string) => s.split('\n').filter((l) => /^ruletrail: \d+ packets/.test(l));
    assert.deepEqual(summary(r.stderr), summary(oneCoreErr));
  });
});
