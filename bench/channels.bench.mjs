#!/usr/bin/env node
// Decode throughput of the NFLOG-family channels against the tools people use on the same files:
//
//   node bench/channels.bench.mjs [--mb 64] [--runs 3] [--write]
//
// Corpora (bench/corpus/channels/, regenerated when missing) are the real fixtures repeated to --mb MiB:
//   nflog.pcap   the records of packages/ingest-nflog-pcap/test/fixtures/real/trace.pcap, timestamps advanced
//   ulogd.json   the lines of packages/ingest-ulogd-json/test/fixtures/real/ulogd.json
// Measured, best of --runs, from the built packages (run `npm run build` first):
//   ruletrail nflog-pcap decode (stream → events, all fields)  vs  tshark -T fields with the fields we fill
//   ruletrail ulogd-json decode                                vs  jq -c projecting the same keys
// Peak RSS is sampled every 20 ms during our decodes (memory must not grow with the input).
// Results: a table on stdout; with --write, docs/benchmarks-channels.md.
//
//   node bench/channels.bench.mjs --explain [--mb 64] [--runs 3] [--json] [--quick]
//
// End to end instead: `ruletrail explain --format json --jobs 1` (the CLI, pinned to CPU 0 like the reference tools)
// on corpora bench/generate-corpus.mjs --channel scales from the lab's incident captures (nflog-pcap, ulogd-json,
// xtables-monitor, nft-monitor), against tshark -T fields on the pcap and jq -c on the ulogd JSON (targets:
// ≥ 50× and ≥ 3× faster). --json prints {markdown, targets, notes} as the last stdout line (bench/run.mjs uses it).

import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const core = require(path.join(ROOT, 'packages/core/dist/index.js'));
const { nflogPcapAdapter } = require(path.join(ROOT, 'packages/ingest-nflog-pcap/dist/index.js'));
const { ulogdJsonAdapter } = require(path.join(ROOT, 'packages/ingest-ulogd-json/dist/index.js'));

const PCAP_FIXTURE = path.join(ROOT, 'packages/ingest-nflog-pcap/test/fixtures/real/trace.pcap');
const ULOGD_FIXTURE = path.join(ROOT, 'packages/ingest-ulogd-json/test/fixtures/real/ulogd.json');
const CORPUS = path.join(ROOT, 'bench/corpus/channels');
const TSHARK_FIELDS = [
  'frame.time_epoch',
  'nflog.prefix',
  'nflog.hook',
  'nflog.ifindex_indev',
  'nflog.ifindex_outdev',
  'nflog.uid',
  'nflog.gid',
  'ip.src',
  'ip.dst',
  'ip.len',
  'ip.id',
  'ip.ttl',
  'ip.flags',
  'ip.frag_offset',
  'ipv6.src',
  'ipv6.dst',
  'ipv6.hlim',
  'ipv6.flow',
  'tcp.srcport',
  'tcp.dstport',
  'tcp.seq_raw',
  'tcp.ack_raw',
  'tcp.window_size_value',
  'tcp.flags',
  'tcp.options',
  'udp.srcport',
  'udp.dstport',
  'udp.length',
  'icmp.type',
  'icmp.code',
  'icmp.ident',
  'icmp.seq',
  'icmpv6.type',
  'icmpv6.code',
];
const JQ_FILTER =
  '{t: .timestamp, p: ."oob.prefix", s: .src_ip, d: .dest_ip, sp: .src_port, dp: .dest_port, m: ."oob.mark", i: ."oob.in", o: ."oob.out", id: ."ip.id", ttl: ."ip.ttl", len: ."ip.totlen", f: ."ip.fragoff", seq: ."tcp.seq", syn: ."tcp.syn", ack: ."tcp.ack"}';

function args(argv) {
  const o = { mb: 64, runs: 3, write: false, explain: false, json: false };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--mb') o.mb = Number(argv[++i]);
    else if (a === '--runs') o.runs = Number(argv[++i]);
    else if (a === '--write') o.write = true;
    else if (a === '--explain') o.explain = true;
    else if (a === '--json') o.json = true;
    else if (a === '--quick') {
      o.mb = 16;
      o.runs = 1;
      o.quick = true;
    } else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

/** Records of a little-endian µs pcap (the fixture), as [header16, data] pairs. */
function pcapRecords(buf) {
  const out = [];
  for (let p = 24; p + 16 <= buf.length;) {
    const incl = buf.readUInt32LE(p + 8);
    out.push([buf.subarray(p, p + 16), buf.subarray(p + 16, p + 16 + incl)]);
    p += 16 + incl;
  }
  return out;
}

function makePcap(file, bytes) {
  const src = fs.readFileSync(PCAP_FIXTURE);
  const recs = pcapRecords(src);
  const fd = fs.openSync(file, 'w');
  fs.writeSync(fd, src.subarray(0, 24));
  let written = 24;
  let sec = src.readUInt32LE(24);
  const parts = [];
  let pending = 0;
  while (written < bytes) {
    for (const [h, d] of recs) {
      const hh = Buffer.from(h);
      hh.writeUInt32LE(sec, 0);
      parts.push(hh, d);
      pending += 16 + d.length;
      written += 16 + d.length;
    }
    sec++;
    if (pending > 1 << 22) {
      fs.writeSync(fd, Buffer.concat(parts));
      parts.length = 0;
      pending = 0;
    }
  }
  fs.writeSync(fd, Buffer.concat(parts));
  fs.closeSync(fd);
}

function makeUlogd(file, bytes) {
  const src = fs.readFileSync(ULOGD_FIXTURE);
  const fd = fs.openSync(file, 'w');
  for (let written = 0; written < bytes; written += src.length) fs.writeSync(fd, src);
  fs.closeSync(fd);
}

async function decode(adapter, file) {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const t0 = process.hrtime.bigint();
  let events = 0;
  let errors = 0;
  const input = await core.openInput(file);
  for await (const b of adapter.decode(input, { file })) {
    events += b.events.length;
    errors += b.errors.length;
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage().rss);
  return { s, events, errors, peakMb: peak / 1048576 };
}

function tool(cmd, argv) {
  const out = fs.openSync('/dev/null', 'w');
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, argv, { stdio: ['ignore', out, 'ignore'] });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  fs.closeSync(out);
  if (r.error || r.status !== 0) return undefined;
  return s;
}

async function main() {
  const o = args(process.argv);
  fs.mkdirSync(CORPUS, { recursive: true });
  const bytes = o.mb * 1048576;
  const pcap = path.join(CORPUS, `nflog-${o.mb}m.pcap`);
  const json = path.join(CORPUS, `ulogd-${o.mb}m.json`);
  if (!fs.existsSync(pcap)) makePcap(pcap, bytes);
  if (!fs.existsSync(json)) makeUlogd(json, bytes);
  const size = { pcap: fs.statSync(pcap).size, json: fs.statSync(json).size };
  const best = (xs) => Math.min(...xs.filter((x) => x !== undefined));
  const rows = [];

  const ours = { pcap: [], json: [] };
  let pcapRun;
  let jsonRun;
  for (let i = 0; i < o.runs; i++) {
    pcapRun = await decode(nflogPcapAdapter, pcap);
    ours.pcap.push(pcapRun.s);
    jsonRun = await decode(ulogdJsonAdapter, json);
    ours.json.push(jsonRun.s);
  }
  const tshark = [];
  const jq = [];
  for (let i = 0; i < o.runs; i++) {
    tshark.push(
      tool('tshark', ['-n', '-r', pcap, '-T', 'fields', ...TSHARK_FIELDS.flatMap((f) => ['-e', f])]),
    );
    jq.push(tool('jq', ['-c', JQ_FILTER, json]));
  }
  const mbps = (b, s) => b / 1048576 / s;
  const oursPcap = best(ours.pcap);
  const oursJson = best(ours.json);
  const tsharkS = tshark.some((x) => x !== undefined) ? best(tshark) : undefined;
  const jqS = jq.some((x) => x !== undefined) ? best(jq) : undefined;
  rows.push([
    'nflog-pcap decode',
    size.pcap,
    pcapRun.events,
    oursPcap,
    pcapRun.peakMb,
    tsharkS,
    'tshark -T fields',
    5,
  ]);
  rows.push(['ulogd-json decode', size.json, jsonRun.events, oursJson, jsonRun.peakMb, jqS, 'jq -c', 3]);

  const lines = [
    '| channel | input | records | ruletrail | MB/s | records/s | peak RSS | reference | ref MB/s | speed-up | target |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const [name, b, n, s, rss, ref, refName, target] of rows) {
    const up = ref !== undefined ? ref / s : undefined;
    lines.push(
      `| ${name} | ${(b / 1048576).toFixed(1)} MiB | ${n} | ${s.toFixed(2)} s | ${mbps(b, s).toFixed(1)} | ${Math.round(n / s).toLocaleString('en-US')} | ${rss.toFixed(0)} MiB | ${refName}: ${ref !== undefined ? ref.toFixed(2) + ' s' : 'not installed'} | ${ref !== undefined ? mbps(b, ref).toFixed(1) : '–'} | ${up !== undefined ? up.toFixed(1) + '×' : '–'} | ≥${target}× ${up === undefined ? '' : up >= target ? '(met)' : '(NOT met)'} |`,
    );
  }
  // Bounded memory: decode the whole corpus again in a child whose V8 old space is capped at 32 MiB.
  const capped = (adapterPath, name, file) => {
    const code = `const core=require(${JSON.stringify(path.join(ROOT, 'packages/core/dist/index.js'))});const a=require(${JSON.stringify(adapterPath)}).${name};(async()=>{let n=0;for await(const b of a.decode(await core.openInput(${JSON.stringify(file)}),{file:'x'}))n+=b.events.length;console.log(n)})().catch(e=>{console.error(e);process.exit(1)})`;
    const r = spawnSync(process.execPath, ['--max-old-space-size=32', '-e', code], { encoding: 'utf8' });
    return r.status === 0
      ? `decoded ${r.stdout.trim()} records`
      : `FAILED (${(r.stderr || '').split('\n').find((l) => /heap|memory/i.test(l)) ?? r.status})`;
  };
  lines.push(
    '',
    `Bounded memory (\`node --max-old-space-size=32\`, whole ${o.mb} MiB corpus): nflog-pcap ${capped(path.join(ROOT, 'packages/ingest-nflog-pcap/dist/index.js'), 'nflogPcapAdapter', pcap)}; ulogd-json ${capped(path.join(ROOT, 'packages/ingest-ulogd-json/dist/index.js'), 'ulogdJsonAdapter', json)}.`,
  );
  const table = lines.join('\n');
  console.log(table);
  if (o.write) {
    const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT })
      .stdout?.toString()
      .trim();
    const doc = [
      '# Channel decode benchmarks',
      '',
      `Generated by \`node bench/channels.bench.mjs --mb ${o.mb} --runs ${o.runs} --write\` at commit ${commit}, ${new Date().toISOString()},`,
      `Node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), ${os.release()}, load average ${os
        .loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')} (shared host). Best of ${o.runs} runs.`,
      '',
      table,
      '',
      'Inputs are the real fixtures repeated (bench/corpus/channels/). ruletrail reads the file as a stream in 1 MiB chunks',
      '(core `openInput`) and builds the complete event for every record; tshark prints the fields the event carries,',
      'jq projects the same ulogd keys. Output of the reference tools goes to /dev/null.',
      '',
    ].join('\n');
    fs.writeFileSync(path.join(ROOT, 'docs/benchmarks-channels.md'), doc);
  }
}

import os from 'node:os';
import { generateChannel, parseArgs as parseGenArgs, GENERATOR_HASH, CHANNELS } from './generate-corpus.mjs';

const LAUNCHER = path.join(ROOT, 'packages/cli/bin/ruletrail.js');
const GNU_TIME = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : null;
const TASKSET = spawnSync('sh', ['-c', 'command -v taskset']).status === 0;

/** One pinned run with peak RSS (GNU time), output to /dev/null. */
function timed(cmd, argv) {
  const rssFile = path.join(CORPUS, '.rss');
  const inner = TASKSET ? ['taskset', '-c', '0', cmd, ...argv] : [cmd, ...argv];
  const full = GNU_TIME ? [GNU_TIME, '-f', '%M', '-o', rssFile, ...inner] : inner;
  const out = fs.openSync('/dev/null', 'w');
  const t0 = process.hrtime.bigint();
  const r = spawnSync(full[0], full.slice(1), { stdio: ['ignore', out, 'pipe'], encoding: 'utf8' });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  fs.closeSync(out);
  const rss = fs.existsSync(rssFile)
    ? Number(fs.readFileSync(rssFile, 'utf8').trim().split('\n').pop())
    : NaN;
  fs.rmSync(rssFile, { force: true });
  if (r.error || (r.status !== 0 && r.status !== 1))
    return { s: undefined, error: r.error?.message ?? r.stderr };
  let stats = null;
  const last = (r.stderr ?? '').trim().split('\n').pop();
  if (last?.startsWith('{')) stats = JSON.parse(last);
  return { s, rssMb: rss / 1024, stats };
}

async function explainMain(o) {
  const mb = o.quick ? 8 : o.mb;
  fs.mkdirSync(CORPUS, { recursive: true });
  const rows = [];
  const targets = [];
  const notes = [];
  for (const channel of Object.keys(CHANNELS)) {
    const file = path.join(CORPUS, `${channel}-explain-${mb}mb.${CHANNELS[channel].ext}`);
    const metaFile = `${file}.meta.json`;
    let meta = fs.existsSync(metaFile) ? JSON.parse(fs.readFileSync(metaFile, 'utf8')) : null;
    if (
      !meta ||
      meta.generator !== GENERATOR_HASH ||
      !fs.existsSync(file) ||
      fs.statSync(file).size !== meta.bytes
    )
      meta = generateChannel({ ...parseGenArgs([]), channel, mb: (mb * 1048576) / 1e6, out: file });
    // The nft-monitor lab capture is explained with the nft ruleset it was taken with.
    const rules =
      channel === 'nft-monitor' ? [path.join(path.dirname(meta.rules[0]), 'nft-ruleset.json')] : meta.rules;
    const cli = [
      LAUNCHER,
      'explain',
      ...rules.flatMap((r) => ['--rules', r]),
      ...(meta.ifNames ? ['--if-names', meta.ifNames] : []),
      '--format',
      'json',
      '--stats',
      '--jobs',
      '1',
      file,
    ];
    const ref =
      channel === 'nflog-pcap'
        ? [
            'tshark -T fields',
            'tshark',
            ['-n', '-r', file, '-T', 'fields', ...TSHARK_FIELDS.flatMap((f) => ['-e', f])],
            50,
          ]
        : channel === 'ulogd-json'
          ? ['jq -c', 'jq', ['-c', JQ_FILTER, file], 3]
          : null;
    const ours = [];
    const theirs = [];
    let stats = null;
    let rss = 0;
    for (let i = 0; i < o.runs; i++) {
      const r = timed('node', cli);
      if (r.s === undefined) {
        notes.push(`ruletrail explain on ${channel} failed: ${String(r.error).slice(0, 300)}`);
        break;
      }
      ours.push(r.s);
      stats ??= r.stats;
      rss = Math.max(rss, r.rssMb);
      if (ref) {
        const t = timed(ref[1], ref[2]);
        if (t.s !== undefined) theirs.push(t.s);
      }
    }
    if (!ours.length) continue;
    const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
    const s = med(ours);
    const refS = theirs.length ? med(theirs) : undefined;
    const up = refS !== undefined ? refS / s : undefined;
    rows.push({
      channel,
      bytes: meta.bytes,
      packets: stats?.packets,
      records: stats?.events,
      s,
      rss,
      ref,
      refS,
      up,
    });
    if (ref)
      targets.push({
        target: `${channel} explained ≥ ${ref[3]}× faster than \`${ref[0]}\` (${(meta.bytes / 1e6).toFixed(0)} MB)`,
        value:
          up !== undefined
            ? `${s.toFixed(2)} s vs ${refS.toFixed(2)} s (${up.toFixed(1)}×)`
            : `${ref[1]} not installed`,
        pass: up !== undefined && up >= ref[3],
      });
    if (stats && stats.packets !== meta.packets)
      notes.push(`${channel}: ruletrail found ${stats.packets} packets, the generator wrote ${meta.packets}`);
  }
  const L = [
    `### Other channels: explain end to end vs the reference tools (${mb} MiB corpora, median of ${o.runs}, pinned to CPU 0)`,
    '',
    '| Channel | MB | Records | Packets | ruletrail explain s | MB/s | Peak RSS MiB | Reference | Reference s | Speed-up |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |',
  ];
  for (const r of rows)
    L.push(
      `| ${r.channel} | ${(r.bytes / 1e6).toFixed(1)} | ${r.records ?? '?'} | ${r.packets ?? '?'} | ${r.s.toFixed(2)} | ${(r.bytes / 1e6 / r.s).toFixed(1)} | ${r.rss.toFixed(1)} | ${r.ref ? '`' + r.ref[0] + '`' : '– (none)'} | ${r.refS?.toFixed(2) ?? '–'} | ${r.up ? r.up.toFixed(1) + '×' : '–'} |`,
    );
  const markdown = L.join('\n');
  if (o.json) console.log(JSON.stringify({ markdown, targets, notes, rows }));
  else console.log(markdown);
}

(process.argv.includes('--explain') ? explainMain(args(process.argv)) : main()).catch((e) => {
  console.error(e);
  process.exit(1);
});
