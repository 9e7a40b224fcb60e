/**
 * docs/errors.md is the one catalogue of error codes: every `RT_ERR_*` code written in a package's sources is
 * listed there, and every code listed there is still raised somewhere.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');
const CODE = /RT_ERR_[A-Z0-9_]+/g;

function sources(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) sources(p, out);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

describe('error code catalogue (docs/errors.md)', () => {
  it('lists exactly the codes the sources raise', () => {
    const inCode = new Map<string, string>();
    for (const pkg of readdirSync(join(ROOT, 'packages'))) {
      let files: string[];
      try {
        files = sources(join(ROOT, 'packages', pkg, 'src'));
      } catch {
        continue;
      }
      for (const f of files)
        for (const c of readFileSync(f, 'utf8').match(CODE) ?? []) if (!inCode.has(c)) inCode.set(c, f);
    }
    const doc = readFileSync(join(ROOT, 'docs/errors.md'), 'utf8');
    const inDoc = new Set([...doc.matchAll(/^\| `(RT_ERR_[A-Z0-9_]+)`/gm)].map((m) => m[1]!));
    const missing = [...inCode].filter(([c]) => !inDoc.has(c)).map(([c, f]) => `${c} (${f})`);
    const stale = [...inDoc].filter((c) => !inCode.has(c));
    assert.deepEqual(missing, [], 'codes raised but not in docs/errors.md');
    assert.deepEqual(stale, [], 'codes in docs/errors.md that no source raises');
    assert.ok(inDoc.size >= 30, `only ${inDoc.size} codes found: the table format changed?`);
  });
});
