#!/usr/bin/env node
// HTML report cost against `--format json` on the same capture, and the page weight for 100k packets:
//
//   node bench/report.bench.mjs [--lines 500000] [--runs 3] [--corpus FILE]
//
// 1. Generates (or reuses) a kernel-log corpus with bench/generate-corpus.mjs (the incident's two paths through
//    examples/incident/iptables-save-0103.txt), then runs, interleaved `--runs` times, each under /usr/bin/time -v:
//      json:    ruletrail explain --format json  corpus > file
//      html:    ruletrail explain --format html  corpus -o file
//      report:  ruletrail report  corpus.ndjson -o file   (the NDJSON written by the json run)
//    and prints the median wall time and peak RSS of each, and the html/json time ratio.
// 2. Page weight: 100 000 explained packets (the incident's two, with varied ports / IP IDs, so 2 paths) rendered
//    in process with the default cap (10 000 rows) and with --max-packets 100000.
// Run `npm run build` first. The machine's load average is printed: figures on a shared machine are noisy.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'packages/cli/bin/ruletrail.js');
const RULES = path.join(ROOT, 'examples/incident/iptables-save-0103.txt');
const require = createRequire(import.meta.url);

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const lines = Number(opt('--lines', '500000'));
const runs = Number(opt('--runs', '3'));
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ruletrail-report-bench-'));
const corpus = opt('--corpus', path.join(work, `corpus-${lines}.log`));
if (!fs.existsSync(corpus)) {
  const g = spawnSync(
    process.execPath,
    [path.join(ROOT, 'bench/generate-corpus.mjs'), '--lines', String(lines), '--out', corpus],
    {
      encoding: 'utf8',
    },
  );
  if (g.status !== 0) throw new Error(g.stderr);
}
const meta = fs.existsSync(`${corpus}.meta.json`)
  ? JSON.parse(fs.readFileSync(`${corpus}.meta.json`, 'utf8'))
  : {};

/** Runs a command under /usr/bin/time -v; returns wall seconds and peak RSS (KiB). */
function timed(argv, stdoutFile) {
  const fd = stdoutFile ? fs.openSync(stdoutFile, 'w') : 'ignore';
  const r = spawnSync('/usr/bin/time', ['-v', ...argv], { stdio: ['ignore', fd, 'pipe'], encoding: 'utf8' });
  if (typeof fd === 'number') fs.closeSync(fd);
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(r.stderr);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  return {
    s: Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]),
    rssKb: Number(rss[1]),
  };
}

const ndjson = path.join(work, 'explained.ndjson');
const html = path.join(work, 'report.html');
const html2 = path.join(work, 'report2.html');
const results = { json: [], html: [], report: [] };
const load = [os.loadavg()[0]];
for (let i = 0; i < runs; i++) {
  results.json.push(
    timed(
      [process.execPath, CLI, 'explain', '--quiet', '--rules', RULES, '--format', 'json', corpus],
      ndjson,
    ),
  );
  results.html.push(
    timed([
      process.execPath,
      CLI,
      'explain',
      '--quiet',
      '--rules',
      RULES,
      '--format',
      'html',
      '-o',
      html,
      corpus,
    ]),
  );
  results.report.push(timed([process.execPath, CLI, 'report', '--quiet', '-o', html2, ndjson]));
  load.push(os.loadavg()[0]);
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const row = (name, rs) => ({
  name,
  s: median(rs.map((r) => r.s)),
  rssMb: median(rs.map((r) => r.rssKb)) / 1024,
  all: rs.map((r) => r.s.toFixed(1)).join(' / '),
});
const table = [
  row('explain --format json', results.json),
  row('explain --format html', results.html),
  row('report (from the NDJSON)', results.report),
];

// Page weight for 100k packets, in process.
const { HtmlReport } = require(path.join(ROOT, 'packages/report/dist/index.js'));
const incident = spawnSync(
  process.execPath,
  [
    CLI,
    'explain',
    '--quiet',
    '--format',
    'json',
    '--year',
    '2023',
    '--rules',
    path.join(ROOT, 'examples/incident/iptables-save-0101.txt'),
    '--rules',
    path.join(ROOT, 'examples/incident/iptables-save-0103.txt'),
    path.join(ROOT, 'examples/incident/kern.log'),
  ],
  { encoding: 'utf8' },
)
  .stdout.split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l));
async function weight(maxPackets) {
  const out = new PassThrough();
  let bytes = 0;
  out.on('data', (c) => (bytes += c.length));
  const r = await HtmlReport.create(out, maxPackets ? { maxPackets } : {});
  for (let i = 0; i < 100_000; i++) {
    const x = incident[i % 2];
    r.add({ ...x, packet: { ...x.packet, sport: 1024 + (i % 60000), ipId: i % 65536 } });
  }
  const stats = await r.finish();
  return { bytes, rows: stats.rows };
}
const capped = await weight(undefined);
const full = await weight(100_000);

const mb = (b) => (b / 1024 / 1024).toFixed(1);
console.log(
  `corpus: ${meta.lines ?? lines} lines, ${mb(fs.statSync(corpus).size)} MiB, ${meta.packets ?? '?'} packets; ${os.cpus().length} CPUs; load average ${load.map((l) => l.toFixed(1)).join(' → ')}`,
);
console.log('| run | median wall time | peak RSS | runs (s) |');
console.log('| --- | ---: | ---: | --- |');
for (const t of table)
  console.log(`| ${t.name} | ${t.s.toFixed(1)} s | ${t.rssMb.toFixed(0)} MiB | ${t.all} |`);
console.log(
  `html / json time: ${(table[1].s / table[0].s).toFixed(2)}×; report page ${mb(fs.statSync(html).size)} MiB, NDJSON ${mb(fs.statSync(ndjson).size)} MiB`,
);
console.log(
  `page weight, 100 000 packets (2 paths): default cap ${capped.rows} rows → ${mb(capped.bytes)} MiB; --max-packets 100000 → ${mb(full.bytes)} MiB`,
);
fs.rmSync(work, { recursive: true, force: true });
