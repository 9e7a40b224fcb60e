#!/usr/bin/env node
// Where explain-all spends its time, by source module: summarises a V8 CPU profile of the bundled CLI.
//
//   node --cpu-prof --cpu-prof-dir=/tmp/prof packages/cli/bin/ruletrail.js explain --rules R --year 2026 \
//        --format json --quiet --jobs 1 C > /dev/null
//   node bench/profile-summary.mjs /tmp/prof            (the newest .cpuprofile in the directory)
//
// Self time per module of the bundle (dist/ruletrail.bundle.js keeps esbuild's `// packages/<pkg>/dist/<file>.js`
// markers), with the explain command's per-packet callback (explain + JSON.stringify of the result) on its own
// line, garbage collection and Node internals. Used for the "why" of a missed target in docs/benchmarks.md.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: node bench/profile-summary.mjs <--cpu-prof-dir>\n');
  process.exit(2);
}
const file = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith('.cpuprofile'))
  .map((f) => path.join(dir, f))
  .sort((a, b) => fs.statSync(a).mtimeMs - fs.statSync(b).mtimeMs)
  .pop();
if (!file) throw new Error(`${dir}: no .cpuprofile`);
const prof = JSON.parse(fs.readFileSync(file, 'utf8'));
const bundle = fs.readFileSync(path.join(ROOT, 'packages/cli/dist/ruletrail.bundle.js'), 'utf8').split('\n');
const marks = [];
bundle.forEach((l, i) => {
  const m = /^\s*\/\/ (packages\/\S+\.js)$/.exec(l);
  if (m) marks.push([i, m[1]]);
});
const moduleAt = (line) => {
  let lo = 0;
  let hi = marks.length - 1;
  let best = '?';
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (marks[mid][0] <= line) {
      best = marks[mid][1];
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return best;
};
const nodes = new Map(prof.nodes.map((n) => [n.id, n]));
const counts = new Map();
for (const id of prof.samples) counts.set(id, (counts.get(id) ?? 0) + 1);
const groups = new Map();
let total = 0;
for (const [id, n] of counts) {
  const cf = nodes.get(id).callFrame;
  let g;
  if (cf.url.endsWith('ruletrail.bundle.js'))
    g = cf.functionName.startsWith('explain_1.Correlator')
      ? 'explain-command per-packet callback (JSON.stringify of the explanation)'
      : moduleAt(cf.lineNumber);
  else if (cf.functionName.startsWith('(')) g = cf.functionName;
  else g = `node internals (${cf.url.split('/').pop() || cf.functionName})`;
  groups.set(g, (groups.get(g) ?? 0) + n);
  total += n;
}
const rows = [...groups].sort((a, b) => b[1] - a[1]).filter(([, n]) => n / total >= 0.005);
console.log(
  `${path.basename(file)}: ${total} samples, ${((prof.endTime - prof.startTime) / 1e6).toFixed(2)} s`,
);
console.log('| Self time | Where |');
console.log('| ---: | --- |');
for (const [g, n] of rows) console.log(`| ${((100 * n) / total).toFixed(1)}% | ${g} |`);
