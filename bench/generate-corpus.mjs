#!/usr/bin/env node
// Benchmark corpus generator for `ruletrail explain`.
//
//   node bench/generate-corpus.mjs [--lines N] [--out path] [--seed S] [--known-at F]
//
// Writes an RFC 3164 kernel log (the framing of examples/incident/kern.log) of netfilter TRACE lines from host
// cos74: many SYN packets following the bundled example's two paths through the iptables-save-0103 snapshot —
//   - "drop": dport 52000 -> nat KUBE-NODEPORTS rule 16 -> KUBE-XLB-… rule 4 -> KUBE-MARK-DROP (MARK=0x8000)
//             -> filter KUBE-FIREWALL rule 1 (DROP);
//   - "dnat": dport 80 -> nat PREROUTING rule 3 (DNAT to :52000) -> filter INPUT policy ACCEPT;
// both starting at raw:PREROUTING:policy:4 so that the single 0103 snapshot explains every line (the Python
// baseline accepts only one snapshot). Packets vary in source IP, source port, IP ID (some 0), TCP SEQ, TTL and
// window; every traced packet has a unique TCP OPT hex (its timestamp option), so the write-up's OPT filter
// selects exactly one packet. The lines of up to 3 concurrent packets interleave; a few dropped SYNs are
// retransmitted (same SEQ and ports, new IP ID, new OPT timestamp); ~1% of lines are non-netfilter noise.
// A well-known "drop" packet starts at ~90% of the file (--known-at); its OPT is printed.
//
// Deterministic (seeded PRNG: same arguments, same bytes) and streaming: lines are written in ~1 MiB chunks,
// the file is never held in memory. Prints one JSON summary line on stdout and writes it to <out>.meta.json.

import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';

// Any change to this file changes the hash, which bench/run.mjs uses to decide whether a cached corpus is stale.
export const GENERATOR_HASH = crypto
  .createHash('sha256')
  .update(fs.readFileSync(new URL(import.meta.url)))
  .digest('hex')
  .slice(0, 16);

function parseArgs(argv) {
  const opts = { lines: 600_000, out: null, seed: 1, knownAt: 0.9 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--lines') opts.lines = Number(next());
    else if (a === '--out') opts.out = next();
    else if (a === '--seed') opts.seed = Number(next());
    else if (a === '--known-at') opts.knownAt = Number(next());
    else if (a === '-h' || a === '--help') {
      process.stdout.write(
        'usage: node bench/generate-corpus.mjs [--lines N] [--out path] [--seed S] [--known-at F]\n',
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(opts.lines) || opts.lines < 100) throw new Error('--lines must be an integer >= 100');
  if (!Number.isFinite(opts.seed)) throw new Error('--seed must be a number');
  if (!(opts.knownAt >= 0 && opts.knownAt < 1)) throw new Error('--known-at must be in [0, 1)');
  opts.out ??= path.join('bench', 'corpus', `kern-${opts.lines}.log`);
  return opts;
}

// mulberry32: small, fast, good enough for test data, fully deterministic.
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// [prefix, marked (MARK=0x8000 suffix), dnatted (DPT rewritten to 52000)] — taken from examples/incident/kern.log
// with raw PREROUTING ending at policy:4 (the 0103 snapshot has two TRACE rules there).
const DROP_PATH = [
  'raw:PREROUTING:policy:4',
  'mangle:PREROUTING:rule:1',
  'mangle:cali-PREROUTING:rule:3',
  'mangle:cali-from-host-endpoint:return:1',
  'mangle:cali-PREROUTING:return:5',
  'mangle:PREROUTING:policy:2',
  'nat:PREROUTING:rule:1',
  'nat:cali-PREROUTING:rule:1',
  'nat:cali-fip-dnat:return:1',
  'nat:cali-PREROUTING:return:2',
  'nat:PREROUTING:rule:2',
  'nat:KUBE-SERVICES:rule:59',
  'nat:KUBE-NODEPORTS:rule:16',
  'nat:KUBE-XLB-VETHOZVMBYUVK3NB:rule:4',
  'nat:KUBE-MARK-DROP:rule:1',
  'nat:KUBE-MARK-DROP:return:2 M',
  'nat:KUBE-XLB-VETHOZVMBYUVK3NB:return:5 M',
  'nat:KUBE-NODEPORTS:return:37 M',
  'nat:KUBE-SERVICES:return:60 M',
  'nat:PREROUTING:rule:5 M',
  'nat:DOCKER:return:8 M',
  'nat:PREROUTING:policy:9 M',
  'mangle:INPUT:policy:1 M',
  'filter:INPUT:rule:1 M',
  'filter:KUBE-FIREWALL:rule:1 M',
].map((s) => [s.split(' ')[0], s.endsWith(' M'), false]);

const DNAT_PATH = [
  'raw:PREROUTING:policy:4',
  'mangle:PREROUTING:rule:1',
  'mangle:cali-PREROUTING:rule:3',
  'mangle:cali-from-host-endpoint:return:1',
  'mangle:cali-PREROUTING:return:5',
  'mangle:PREROUTING:policy:2',
  'nat:PREROUTING:rule:1',
  'nat:cali-PREROUTING:rule:1',
  'nat:cali-fip-dnat:return:1',
  'nat:cali-PREROUTING:return:2',
  'nat:PREROUTING:rule:2',
  'nat:KUBE-SERVICES:rule:59',
  'nat:KUBE-NODEPORTS:return:37',
  'nat:KUBE-SERVICES:return:60',
  'nat:PREROUTING:rule:3',
  'mangle:INPUT:policy:1 D',
  'filter:INPUT:rule:1 D',
  'filter:KUBE-FIREWALL:return:3 D',
  'filter:INPUT:policy:2 D',
  'nat:INPUT:policy:1 D',
].map((s) => [s.split(' ')[0], false, s.endsWith(' D')]);

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const HOST = 'cos74';
const NODE_IP = '172.28.129.4';
const NODE_MAC = '00:15:5d:12:e2:28';
const GW_MAC = '00:15:5d:12:e2:01';
const NOISE = [
  (r) => `systemd[1]: Started Session ${100 + Math.floor(r() * 900)} of user root.`,
  (r) => `systemd-logind[612]: New session ${100 + Math.floor(r() * 900)} of user root.`,
  (r) =>
    `sshd[${2000 + Math.floor(r() * 30000)}]: Accepted publickey for root from 172.28.129.${2 + Math.floor(r() * 200)} port ${32768 + Math.floor(r() * 28000)} ssh2`,
  () => 'kernel: nf_conntrack: default automatic helper assignment has been turned off for security reasons',
  () => 'kernel: IPv6: ADDRCONF(NETDEV_UP): eth0: link is not ready',
  (r) => `CROND[${2000 + Math.floor(r() * 30000)}]: (root) CMD (/usr/lib64/sa/sa1 1 1)`,
  (r, hms) =>
    `kubelet[1187]: I0103 ${hms}.${String(Math.floor(r() * 1e6)).padStart(6, '0')}    1187 kubelet_node_status.go:486] "Fast updating node status as it just became ready"`,
  (r) => `kernel: cali${Math.floor(r() * 0xffffffff).toString(16)}: link becomes ready`,
];

const hex8 = (n) => (n >>> 0).toString(16).toUpperCase().padStart(8, '0');
const hex2 = (n) => (n & 0xff).toString(16).padStart(2, '0');

export function generate({ lines: target, out, seed, knownAt }) {
  const r = prng(seed);
  const int = (lo, hi) => lo + Math.floor(r() * (hi - lo + 1));

  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  const fd = fs.openSync(out, 'w');
  let chunk = '';
  let bytes = 0;
  let written = 0;
  const emit = (line) => {
    chunk += line + '\n';
    written++;
    if (chunk.length >= 1 << 20) {
      bytes += fs.writeSync(fd, chunk);
      chunk = '';
    }
  };

  // Clock: Jan 3 13:49:23 (the example's 0103 trace), advanced by exponential inter-arrival gaps (~40 packets/s).
  let clockMs = Date.UTC(2023, 0, 3, 13, 49, 23);
  let stampSec = -1;
  let stamp = '';
  let hms = '';
  const ts = () => {
    const s = Math.floor(clockMs / 1000);
    if (s !== stampSec) {
      const d = new Date(s * 1000);
      const hh = String(d.getUTCHours()).padStart(2, '0');
      const mm = String(d.getUTCMinutes()).padStart(2, '0');
      const ss = String(d.getUTCSeconds()).padStart(2, '0');
      hms = `${hh}:${mm}:${ss}`;
      stamp = `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()} ${hms} ${HOST}`;
      stampSec = s;
    }
    return stamp;
  };

  const usedOpt = new Set();
  const uniqueTsval = (want) => {
    let v = want >>> 0;
    while (usedOpt.has(v)) v = (v + 1) >>> 0;
    usedOpt.add(v);
    return v;
  };

  const stats = {
    packets: 0,
    drop: 0,
    dnat: 0,
    retransmissions: 0,
    idZero: 0,
    noiseLines: 0,
    traceLines: 0,
    interleavedPackets: 0,
  };
  let known = null;

  const makePacket = (kind, base) => {
    const pathDef = kind === 'drop' ? DROP_PATH : DNAT_PATH;
    let src;
    if (base) src = base.src;
    else if (r() < 0.7) src = `172.28.129.${int(2, 254)}`;
    else src = `10.${int(20, 23)}.${int(0, 255)}.${int(1, 254)}`;
    const id = r() < 0.03 ? 0 : int(1, 65535);
    const p = {
      kind,
      pathDef,
      i: 0,
      src,
      mac: src.startsWith('172.28.129.') ? `00:15:5d:12:e2:${hex2(Number(src.split('.')[3]))}` : GW_MAC,
      ttl: src.startsWith('172.28.129.') ? 64 : int(60, 63),
      id,
      spt: base ? base.spt : int(32768, 60999),
      dpt: kind === 'drop' ? 52000 : 80,
      seq: base ? base.seq : Math.floor(r() * 4294967296),
      win: base ? base.win : r() < 0.8 ? 29200 : 64240,
      tsval: uniqueTsval(base ? base.tsval + int(1000, 1030) : Math.floor(r() * 4294967296)),
      retrans: Boolean(base),
      startedAt: clockMs,
      firstLine: written + 1,
    };
    p.opt = `020405B40402080A${hex8(p.tsval)}0000000001030307`;
    // Everything before the dport and after it, per variant, built once per packet.
    const pre =
      ` IN=eth0 OUT= MAC=${NODE_MAC}:${p.mac}:08:00 SRC=${p.src} DST=${NODE_IP} LEN=60 TOS=0x00 PREC=0x00` +
      ` TTL=${p.ttl} ID=${p.id} DF PROTO=TCP SPT=${p.spt} DPT=`;
    const post = ` SEQ=${p.seq} ACK=0 WINDOW=${p.win} RES=0x00 SYN URGP=0 OPT (${p.opt})`;
    p.bodyPlain = pre + p.dpt + post;
    p.bodyDnat = pre + 52000 + post;
    p.bodyMarked = p.bodyPlain + ' MARK=0x8000';
    stats.packets++;
    stats[kind]++;
    if (p.retrans) stats.retransmissions++;
    if (p.id === 0) stats.idZero++;
    return p;
  };

  const active = [];
  const retransQueue = []; // {dueMs, base}
  const knownLine = Math.floor(target * knownAt);

  const remainingOfActive = () => active.reduce((n, p) => n + p.pathDef.length - p.i, 0);

  while (true) {
    const stopStarting = written + remainingOfActive() >= target;
    if (stopStarting && active.length === 0) break;

    if (!stopStarting) {
      const wantStart = active.length === 0 || (active.length < 3 && r() < 0.012);
      if (wantStart) {
        clockMs += Math.max(1, Math.round(-Math.log(1 - r()) * 25));
        let p;
        if (!known && written >= knownLine) {
          p = makePacket('drop', null);
          if (p.id === 0) p.id = 4242; // keep the well-known packet selectable by id= as well
          known = p;
          // The well-known packet is never interleaved, so every selector finds it as one contiguous run.
          while (active.length) {
            const q = active[0];
            while (q.i < q.pathDef.length) emitTrace(q);
            active.shift();
          }
        } else if (retransQueue.length && retransQueue[0].dueMs <= clockMs) {
          p = makePacket('drop', retransQueue.shift().base);
        } else {
          p = makePacket(r() < 0.6 ? 'drop' : 'dnat', null);
          if (p.kind === 'drop' && r() < 0.03) retransQueue.push({ dueMs: clockMs + 1000, base: p });
        }
        if (active.length > 0) stats.interleavedPackets++;
        active.push(p);
      }
    }

    if (r() < 0.01) {
      const stampNow = ts();
      emit(`${stampNow} ${NOISE[Math.floor(r() * NOISE.length)](r, hms)}`);
      stats.noiseLines++;
    }

    if (active.length === 0) continue;
    const k = known && active.includes(known) ? active.indexOf(known) : Math.floor(r() * active.length);
    const p = active[k];
    emitTrace(p);
    if (p.i >= p.pathDef.length) active.splice(k, 1);
  }

  function emitTrace(p) {
    const [prefix, marked, dnatted] = p.pathDef[p.i++];
    if (p === known && p.i === 1) p.firstLine = written + 1;
    const body = marked ? p.bodyMarked : dnatted ? p.bodyDnat : p.bodyPlain;
    emit(`${ts()} kernel: TRACE: ${prefix}${body}`);
    stats.traceLines++;
  }

  if (chunk) bytes += fs.writeSync(fd, chunk);
  fs.closeSync(fd);
  if (!known) throw new Error('corpus too small to place the well-known packet');

  const summary = {
    generator: GENERATOR_HASH,
    seed,
    requestedLines: target,
    file: out,
    lines: written,
    bytes,
    ...stats,
    rules: 'examples/incident/iptables-save-0103.txt',
    known: {
      opt: known.opt,
      id: known.id,
      src: known.src,
      spt: known.spt,
      dpt: known.dpt,
      seq: known.seq,
      firstLine: known.firstLine,
      traceLines: known.pathDef.length,
      verdict: 'DROP (filter KUBE-FIREWALL rule 1, mark 0x8000 set by nat KUBE-MARK-DROP)',
    },
  };
  fs.writeFileSync(`${out}.meta.json`, JSON.stringify(summary, null, 2) + '\n');
  return summary;
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('generate-corpus.mjs')) {
  try {
    const summary = generate(parseArgs(process.argv.slice(2)));
    process.stdout.write(JSON.stringify(summary) + '\n');
  } catch (err) {
    process.stderr.write(`generate-corpus: ${err.message}\n`);
    process.exit(2);
  }
}
