/** Glob expansion over a real folder tree. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expandGlobs, globToRegExp } from '../src';

describe('file source globs', () => {
  it('expands * ? [..] and ** against real files, and keeps plain paths that exist', async () => {
    const d = mkdtempSync(join(tmpdir(), 'rt-glob-'));
    for (const f of ['kern.log', 'kern.log.1', 'kern.log.2.gz', 'syslog', 'a/kern.log', 'a/b/kern.log']) {
      mkdirSync(join(d, f, '..'), { recursive: true });
      writeFileSync(join(d, f), 'x\n');
    }
    const rel = (xs: string[]) => xs.map((x) => x.slice(d.length + 1));
    assert.deepEqual(rel(await expandGlobs([join(d, 'kern.log*')])), [
      'kern.log',
      'kern.log.1',
      'kern.log.2.gz',
    ]);
    assert.deepEqual(rel(await expandGlobs([join(d, 'kern.log.?')])), ['kern.log.1']);
    assert.deepEqual(rel(await expandGlobs([join(d, 'kern.log.[12]*')])), ['kern.log.1', 'kern.log.2.gz']);
    assert.deepEqual(rel(await expandGlobs([join(d, '**/kern.log')])), [
      'a/b/kern.log',
      'a/kern.log',
      'kern.log',
    ]);
    assert.deepEqual(rel(await expandGlobs([join(d, '*/kern.log')])), ['a/kern.log']);
    assert.deepEqual(rel(await expandGlobs([join(d, 'syslog'), join(d, 'missing')])), ['syslog']);
    assert.ok(globToRegExp('/var/log/*.log').test('/var/log/kern.log'));
    assert.ok(!globToRegExp('/var/log/*.log').test('/var/log/a/kern.log'));
  });
});
