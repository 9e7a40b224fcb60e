/**
 * Parse-time benchmark: `npx tsx packages/ruleset/test/bench.ts [rules] [file]`. Synthesises a kube-proxy-like
 * save file of `rules` rules (default 50000), or reads `file` (e.g. a real iptables-save dump), and prints the
 * best and median of 7 parses.
 */
import { readFileSync } from 'node:fs';
import { parseIptablesSave } from '../src/index';
import { countRules, kubeProxySave } from './kube-gen';

const file = process.argv[3];
const text =
  file !== undefined ? readFileSync(file, 'utf8') : kubeProxySave(Number(process.argv[2] ?? 50000));
const times: number[] = [];
let rules = 0;
for (let i = 0; i < 7; i++) {
  const t0 = process.hrtime.bigint();
  const rs = parseIptablesSave(text, { source: file ?? 'synthetic' });
  times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  rules = [...rs.tables.values()].reduce(
    (n, t) => n + [...t.chains.values()].reduce((m, c) => m + c.rules.length, 0),
    0,
  );
}
times.sort((a, b) => a - b);
console.log(
  `${rules} rules (${countRules(text)} -A lines), ${(text.length / 1e6).toFixed(1)} MB: first ${times.length} parses best ${times[0]!.toFixed(0)} ms, median ${times[3]!.toFixed(0)} ms`,
);
