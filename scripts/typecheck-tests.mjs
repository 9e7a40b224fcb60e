// Type-checks every package's tests (test/tsconfig.json, noEmit): `tsc -b` only builds src, and the tests run
// transpile-only under tsx, so without this a type error in a test would go unnoticed.
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = join(import.meta.dirname, '..');
const projects = readdirSync(join(root, 'packages'))
  .map((p) => join('packages', p, 'test', 'tsconfig.json'))
  .concat([join('test', 'tsconfig.json')])
  .filter((p) => existsSync(join(root, p)));
let failed = 0;
for (const p of projects) {
  const r = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', p], {
    cwd: root,
    stdio: 'inherit',
  });
  if (r.status !== 0) failed++;
}
if (failed) {
  console.error(`test type check failed in ${failed} of ${projects.length} packages`);
  process.exit(1);
}
