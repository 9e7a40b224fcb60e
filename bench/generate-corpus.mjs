#!/usr/bin/env node
// Benchmark corpus generator for `ruletrail explain`, scaled from the real lab capture of the incident scenario
// (test/fixtures/lab/incident/kernel-log: kern.log + iptables-save.txt, recorded by `npm run lab`).
//
//   node bench/generate-corpus.mjs [--lines N] [--out path] [--seed S] [--known-at F] [--hosts H]
//                                  [--base-pps P] [--burst-pps P] [--burst-every S] [--burst-len S]
//
// Writes an RFC 3164 kernel log (`Nov 27 10:07:27 node-03 kernel: TRACE: raw:PREROUTING:policy:4 IN=eth0 …`,
// one-second stamps, no year: run ruletrail with --year 2026) and, next to it, the snapshot that explains it
// (<out>.rules.txt). The traffic:
//   - WHOLE CONNECTIONS, both directions. 80% are "web" connections to the node's port 80, DNATed to :52000 (the
//     lab's `dnat-80` probe): the client's SYN follows the lab capture's 20-line path (raw → mangle → nat
//     PREROUTING rule 3 DNAT → mangle/filter INPUT → nat INPUT); every later packet skips the nat table, as
//     conntrack makes it: client → node `raw:PREROUTING:policy:4 → mangle:PREROUTING:rule:1 →
//     mangle:cali-PREROUTING:rule:1` (Calico's ESTABLISHED accept) `→ mangle:INPUT → filter:INPUT …
//     filter:INPUT:policy:2` (DPT=80 before the nat hook, 52000 after), node → client `raw:OUTPUT:policy:2 →
//     mangle:OUTPUT → filter:OUTPUT … → mangle:POSTROUTING:policy:1`. A web connection is SYN, SYN-ACK, ACK,
//     request, ACK, response, ACK, FIN, FIN, ACK. 20% are SYNs to nodeport 52000 that the lab's `nodeport-52000`
//     probe shows dropped (KUBE-MARK-DROP → filter KUBE-FIREWALL rule 1, 25 lines), retransmitted after 1 s and
//     3 s by about half the clients (same SEQ and ports, new IP ID and timestamp).
//   - SEVERAL HOSTS (--hosts, default 4: node-01…): each connection belongs to one host; hosts interleave.
//   - BURSTS: packets arrive at --base-pps (default 2,000 packets/s of log time); every --burst-every seconds
//     (default 6) a burst of --burst-len seconds (default 2) runs at --burst-pps (default 40,000), so tens of
//     thousands of packets share one RFC 3164 second. Up to 3 packets' lines interleave (~25% of packets).
//   - ~1% non-netfilter noise lines (systemd, sshd, kubelet…).
// The snapshot is the lab's, with its two raw PREROUTING TRACE rules widened from SYN-only to every packet of
// dport 52000 / 80 and one raw OUTPUT TRACE rule for sport 52000 — what one would set to trace whole connections.
// Every packet's TCP options carry its own timestamp, so its `OPT (…)` hex is unique and the write-up's
// `line.find(OPT)` filter selects exactly one packet. A well-known dropped SYN at ~--known-at of the file is
// written without interleaving; its OPT, IP ID and 5-tuple go to <out>.meta.json.
//
// Deterministic (seeded PRNG: same arguments, same bytes) and streaming (~1 MiB writes). Prints one JSON summary
// line on stdout and writes it to <out>.meta.json. A line is ~300 bytes: 1M lines ≈ 300 MB.

import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LAB = path.join(ROOT, 'test/fixtures/lab/incident/kernel-log');

// Any change to this file or to the lab capture it scales changes the hash, which bench/run.mjs uses to decide
// whether a cached corpus is stale.
export const GENERATOR_HASH = crypto
  .createHash('sha256')
  .update(fs.readFileSync(new URL(import.meta.url)))
  .update(fs.readFileSync(path.join(LAB, 'kern.log')))
  .update(fs.readFileSync(path.join(LAB, 'iptables-save.txt')))
  .digest('hex')
  .slice(0, 16);

const USAGE =
  'usage: node bench/generate-corpus.mjs [--lines N] [--out path] [--seed S] [--known-at F] [--hosts H]\n' +
  '         [--base-pps P] [--burst-pps P] [--burst-every S] [--burst-len S]\n' +
  '       node bench/generate-corpus.mjs --channel nflog-pcap|ulogd-json|xtables-monitor|nft-monitor [--mb M]\n' +
  '         [--out path] [--hosts H] [--base-pps P] [--burst-pps P] [--burst-every S] [--burst-len S]\n';

export function parseArgs(argv) {
  const opts = {
    lines: 600_000,
    out: null,
    seed: 1,
    knownAt: 0.9,
    hosts: 4,
    basePps: 2000,
    burstPps: 40_000,
    burstEvery: 6,
    burstLen: 2,
    channel: 'kernel-log',
    mb: 64,
  };
  const num = { '--lines': 'lines', '--seed': 'seed', '--known-at': 'knownAt', '--hosts': 'hosts' };
  Object.assign(num, {
    '--base-pps': 'basePps',
    '--burst-pps': 'burstPps',
    '--burst-every': 'burstEvery',
    '--burst-len': 'burstLen',
  });
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') {
      process.stdout.write(USAGE);
      process.exit(0);
    }
    if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
    if (a === '--out') opts.out = argv[++i];
    else if (a === '--channel') opts.channel = argv[++i];
    else if (a === '--mb') opts.mb = Number(argv[++i]);
    else if (num[a]) opts[num[a]] = Number(argv[++i]);
    else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(opts.lines) || opts.lines < 1000)
    throw new Error('--lines must be an integer >= 1000');
  if (!Number.isFinite(opts.seed)) throw new Error('--seed must be a number');
  if (!(opts.knownAt >= 0 && opts.knownAt < 1)) throw new Error('--known-at must be in [0, 1)');
  if (!Number.isInteger(opts.hosts) || opts.hosts < 1 || opts.hosts > 99)
    throw new Error('--hosts must be 1..99');
  for (const k of ['basePps', 'burstPps', 'burstEvery', 'burstLen'])
    if (!(opts[k] > 0)) throw new Error(`--${k} must be positive`);
  if (opts.channel !== 'kernel-log' && !CHANNELS[opts.channel])
    throw new Error(`--channel must be kernel-log or one of ${Object.keys(CHANNELS).join(', ')}`);
  if (!(opts.mb > 0)) throw new Error('--mb must be positive');
  opts.out ??=
    opts.channel === 'kernel-log'
      ? path.join('bench', 'corpus', `kern-${opts.lines}.log`)
      : path.join('bench', 'corpus', `${opts.channel}-${opts.mb}mb.${CHANNELS[opts.channel].ext}`);
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

/**
 * The lab capture's two probes as step lists: [prefix, marked (the line carries MARK=0x8000), dnatted (DPT
 * rewritten to 52000)]. Read from the capture, so the paths are the kernel's, not ours.
 */
export function labPaths() {
  const byId = new Map();
  for (const line of fs.readFileSync(path.join(LAB, 'kern.log'), 'utf8').split('\n')) {
    const m = / TRACE: (\S+) .* ID=(\d+) .*DPT=(\d+) /.exec(line);
    if (!m) continue;
    const steps = byId.get(m[2]) ?? [];
    steps.push({ prefix: m[1], marked: / MARK=0x8000/.test(line), dpt: Number(m[3]) });
    byId.set(m[2], steps);
  }
  const probes = [...byId.values()];
  const drop = probes.find(
    (s) => s[0].dpt === 52000 && s.at(-1).prefix.startsWith('filter:KUBE-FIREWALL:rule:1'),
  );
  const dnat = probes.find((s) => s[0].dpt === 80);
  if (!drop || !dnat)
    throw new Error(`${LAB}/kern.log: the nodeport-52000 and dnat-80 probes were not found`);
  const toSteps = (s) => s.map((x) => [x.prefix, x.marked, x.dpt !== s[0].dpt]);
  return { drop: toSteps(drop), dnat: toSteps(dnat) };
}

// Later packets of a connection (conntrack: no nat table), derived from the lab snapshot's chains.
const IN_EST = [
  ['raw:PREROUTING:policy:4', false, false],
  ['mangle:PREROUTING:rule:1', false, false],
  ['mangle:cali-PREROUTING:rule:1', false, false],
  ['mangle:INPUT:policy:1', false, true],
  ['filter:INPUT:rule:1', false, true],
  ['filter:KUBE-FIREWALL:return:3', false, true],
  ['filter:INPUT:policy:2', false, true],
];
const OUT_EST = [
  ['raw:OUTPUT:policy:2', false, false],
  ['mangle:OUTPUT:policy:1', false, false],
  ['filter:OUTPUT:rule:1', false, false],
  ['filter:KUBE-FIREWALL:return:3', false, false],
  ['filter:OUTPUT:policy:2', false, false],
  ['mangle:POSTROUTING:policy:1', false, false],
];

/** The lab snapshot with TRACE rules for whole connections (see the header). */
export function benchSnapshot() {
  const src = fs.readFileSync(path.join(LAB, 'iptables-save.txt'), 'utf8');
  let table = '';
  let outputTrace = false;
  const out = [];
  for (const line of src.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1);
    if (table === 'raw' && / --tcp-flags FIN,SYN,RST,ACK SYN -j TRACE$/.test(line)) {
      out.push(line.replace(' --tcp-flags FIN,SYN,RST,ACK SYN', ''));
      continue;
    }
    if (table === 'raw' && line === 'COMMIT' && !outputTrace) {
      out.push('-A OUTPUT -p tcp -m tcp --sport 52000 -j TRACE');
      outputTrace = true;
    }
    out.push(line);
  }
  if (!outputTrace) throw new Error(`${LAB}/iptables-save.txt: no raw table`);
  return out.join('\n');
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const NODE_IP = '172.28.129.4';
const NODE_MAC = '02:72:74:00:00:04';
const GW_MAC = '02:72:74:00:00:01';
const NOISE = [
  (r) => `systemd[1]: Started Session ${100 + Math.floor(r() * 900)} of user root.`,
  (r) =>
    `sshd[${2000 + Math.floor(r() * 30000)}]: Accepted publickey for root from 172.28.129.${2 + Math.floor(r() * 200)} port ${32768 + Math.floor(r() * 28000)} ssh2`,
  () => 'kernel: nf_conntrack: default automatic helper assignment has been turned off for security reasons',
  (r) => `CROND[${2000 + Math.floor(r() * 30000)}]: (root) CMD (/usr/lib64/sa/sa1 1 1)`,
  (r, hms) =>
    `kubelet[1187]: I1127 ${hms}.${String(Math.floor(r() * 1e6)).padStart(6, '0')}    1187 kubelet_node_status.go:486] "Fast updating node status as it just became ready"`,
  (r) => `kernel: cali${Math.floor(r() * 0xffffffff).toString(16)}: link becomes ready`,
];

const hex8 = (n) => (n >>> 0).toString(16).toUpperCase().padStart(8, '0');
const hex2 = (n) => (n & 0xff).toString(16).padStart(2, '0');

export function generate(opts) {
  const { lines: target, out, seed, knownAt, hosts } = opts;
  const r = prng(seed);
  const int = (lo, hi) => lo + Math.floor(r() * (hi - lo + 1));
  const paths = labPaths();

  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  const rulesFile = `${out}.rules.txt`;
  fs.writeFileSync(rulesFile, benchSnapshot());
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

  // Clock: Nov 27 10:07:27 2026 (the lab capture), advanced per packet by 1/rate; the rate follows the burst cycle.
  const t0 = Date.UTC(2026, 10, 27, 10, 7, 27);
  let clockMs = t0;
  const rate = () => {
    const cycle = ((clockMs - t0) / 1000) % opts.burstEvery;
    return cycle >= opts.burstEvery - opts.burstLen ? opts.burstPps : opts.basePps;
  };
  let stampSec = -1;
  let hms = '';
  let stamp = '';
  const ts = () => {
    const s = Math.floor(clockMs / 1000);
    if (s !== stampSec) {
      const d = new Date(s * 1000);
      hms = [d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()]
        .map((n) => String(n).padStart(2, '0'))
        .join(':');
      stamp = `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${hms}`;
      stampSec = s;
    }
    return stamp;
  };
  const perSecond = new Map();

  const usedTs = new Set();
  const uniqueTsval = () => {
    let v = Math.floor(r() * 4294967296);
    while (usedTs.has(v)) v = (v + 1) >>> 0;
    usedTs.add(v);
    return v;
  };

  const stats = {
    packets: 0,
    connections: 0,
    webConnections: 0,
    dropSyns: 0,
    retransmissions: 0,
    established: 0,
    idZero: 0,
    noiseLines: 0,
    traceLines: 0,
    interleavedPackets: 0,
    maxPacketsPerSecond: 0,
  };
  let known = null;
  const hostNames = Array.from({ length: hosts }, (_, i) => `node-${String(i + 1).padStart(2, '0')}`);

  /** One traced packet: its step list and the two line bodies (before / after the nat hook's DNAT). */
  const packet = (c, dir, flags, steps, { len = 52, seq, ack, win = 502, syn = false }) => {
    const tsval = uniqueTsval();
    const opt = syn
      ? `020405B40402080A${hex8(tsval)}${ack ? hex8(c.tsPeer ?? 0) : '00000000'}0103030${ack ? '7' : 'A'}`
      : `0101080A${hex8(tsval)}${hex8(c.tsPeer ?? 0)}`;
    const id = dir === 'out' && syn ? 0 : r() < 0.02 ? 0 : int(1, 65535);
    if (id === 0) stats.idZero++;
    const tail = ` SEQ=${seq >>> 0} ACK=${ack >>> 0} WINDOW=${win} RES=0x00 ${flags} URGP=0 OPT (${opt}) `;
    let body;
    let bodyDnat;
    if (dir === 'in') {
      const pre =
        `IN=eth0 OUT= MAC=${NODE_MAC}:${c.mac}:08:00 SRC=${c.src} DST=${NODE_IP} LEN=${len} TOS=0x00 PREC=0x00` +
        ` TTL=${c.ttl} ID=${id} DF PROTO=TCP SPT=${c.spt} DPT=`;
      body = pre + c.dpt + tail;
      bodyDnat = pre + 52000 + tail;
    } else {
      body = `IN= OUT=eth0 SRC=${NODE_IP} DST=${c.src} LEN=${len} TOS=0x00 PREC=0x00 TTL=64 ID=${id} DF PROTO=TCP SPT=52000 DPT=${c.spt}${tail}`;
      bodyDnat = body;
    }
    stats.packets++;
    c.tsPeer = tsval;
    return { host: c.host, steps, i: 0, body, bodyDnat, opt, id, conn: c };
  };

  const newClient = (kind, host) => {
    const src = r() < 0.7 ? `172.28.129.${int(2, 254)}` : `10.${int(20, 23)}.${int(0, 255)}.${int(1, 254)}`;
    const local = src.startsWith('172.28.129.');
    return {
      kind,
      host,
      src,
      mac: local ? `02:72:74:00:00:${hex2(Number(src.split('.')[3]))}` : GW_MAC,
      ttl: local ? 64 : int(60, 63),
      spt: int(32768, 60999),
      dpt: kind === 'drop' ? 52000 : 80,
      cseq: Math.floor(r() * 4294967296),
      sseq: Math.floor(r() * 4294967296),
      tsPeer: undefined,
      step: 0,
    };
  };

  /** The next packet of connection c, or null when it is over. */
  const nextPacket = (c) => {
    if (c.kind === 'drop') {
      if (c.step++ > 0) return null;
      const p = packet(c, 'in', 'SYN', paths.drop, { len: 60, seq: c.cseq, ack: 0, win: 64240, syn: true });
      c.tsPeer = undefined;
      p.bodyMarked = p.body.replace(/ $/, ' MARK=0x8000 ');
      return p;
    }
    const s = c.step++;
    const req = 60 + (c.spt % 300);
    const resp = 200 + (c.spt % 1200);
    const cs = c.cseq;
    const ss = c.sseq;
    switch (s) {
      case 0:
        return packet(c, 'in', 'SYN', paths.dnat, { len: 60, seq: cs, ack: 0, win: 64240, syn: true });
      case 1:
        return packet(c, 'out', 'ACK SYN', OUT_EST, { len: 60, seq: ss, ack: cs + 1, win: 65160, syn: true });
      case 2:
        return packet(c, 'in', 'ACK', IN_EST, { seq: cs + 1, ack: ss + 1 });
      case 3:
        return packet(c, 'in', 'ACK PSH', IN_EST, { len: 52 + req, seq: cs + 1, ack: ss + 1 });
      case 4:
        return packet(c, 'out', 'ACK', OUT_EST, { seq: ss + 1, ack: cs + 1 + req });
      case 5:
        return packet(c, 'out', 'ACK PSH', OUT_EST, { len: 52 + resp, seq: ss + 1, ack: cs + 1 + req });
      case 6:
        return packet(c, 'in', 'ACK', IN_EST, { seq: cs + 1 + req, ack: ss + 1 + resp });
      case 7:
        return packet(c, 'in', 'ACK FIN', IN_EST, { seq: cs + 1 + req, ack: ss + 1 + resp });
      case 8:
        return packet(c, 'out', 'ACK FIN', OUT_EST, { seq: ss + 1 + resp, ack: cs + 2 + req });
      case 9:
        return packet(c, 'in', 'ACK', IN_EST, { seq: cs + 2 + req, ack: ss + 2 + resp });
      default:
        return null;
    }
  };

  const conns = []; // open connections, any host
  const retrans = []; // {dueMs, conn} in due order (1 s and 3 s after the SYN)
  const inFlight = []; // packets whose lines are being written
  const knownLine = Math.floor(target * knownAt);
  let remaining = 0; // lines still to write for packets in flight

  const emitLine = (p) => {
    const [prefix, marked, dnatted] = p.steps[p.i++];
    remaining--;
    const body = marked ? p.bodyMarked : dnatted ? p.bodyDnat : p.body;
    emit(`${ts()} ${p.host} kernel: TRACE: ${prefix} ${body}`);
    stats.traceLines++;
  };

  const startPacket = () => {
    // Pick the connection that sends next: a due retransmission, a new connection (keeping ~concurrency open),
    // or a random open one.
    let p = null;
    if (retrans.length && retrans[0].dueMs <= clockMs) {
      const { conn } = retrans.shift();
      conn.step = 0;
      p = nextPacket(conn);
      stats.retransmissions++;
    } else {
      const want = Math.max(8, Math.round(rate() / 200));
      if (conns.length < want || r() < 0.1) {
        const kind = r() < 0.2 ? 'drop' : 'web';
        const c = newClient(kind, hostNames[int(0, hosts - 1)]);
        stats.connections++;
        if (kind === 'drop') {
          stats.dropSyns++;
          if (r() < 0.5) retrans.push({ dueMs: clockMs + 1000, conn: { ...c, step: 0 } });
          if (r() < 0.25) retrans.push({ dueMs: clockMs + 3000, conn: { ...c, step: 0 } });
          retrans.sort((a, b) => a.dueMs - b.dueMs);
        } else {
          stats.webConnections++;
          conns.push(c);
        }
        p = nextPacket(c);
      } else {
        const k = int(0, conns.length - 1);
        p = nextPacket(conns[k]);
        if (!p) {
          conns[k] = conns[conns.length - 1];
          conns.pop();
          return startPacket();
        }
        if (p.steps === IN_EST || p.steps === OUT_EST) stats.established++;
      }
    }
    return p;
  };

  while (written + remaining < target || inFlight.length) {
    if (written + remaining < target && (inFlight.length === 0 || (inFlight.length < 3 && r() < 0.05))) {
      clockMs += 1000 / rate();
      const sec = Math.floor(clockMs / 1000);
      perSecond.set(sec, (perSecond.get(sec) ?? 0) + 1);
      if (!known && written >= knownLine) {
        // The well-known packet: a dropped SYN, never interleaved, so every selector finds it as one run.
        while (inFlight.length) {
          const q = inFlight.shift();
          while (q.i < q.steps.length) emitLine(q);
        }
        const c = newClient('drop', hostNames[0]);
        known = nextPacket(c);
        if (known.id === 0) known.id = 4242;
        known = { ...known, body: known.body.replace(/ ID=0 /, ' ID=4242 ') };
        known.bodyMarked = known.body.replace(/ $/, ' MARK=0x8000 ');
        known.firstLine = written + 1;
        remaining += known.steps.length;
        while (known.i < known.steps.length) emitLine(known);
        continue;
      }
      const p = startPacket();
      if (inFlight.length) stats.interleavedPackets++;
      inFlight.push(p);
      remaining += p.steps.length;
    }
    if (r() < 0.01) {
      emit(`${ts()} ${hostNames[int(0, hosts - 1)]} ${NOISE[int(0, NOISE.length - 1)](r, hms)}`);
      stats.noiseLines++;
    }
    const k = int(0, inFlight.length - 1);
    const p = inFlight[k];
    emitLine(p);
    if (p.i >= p.steps.length) inFlight.splice(k, 1);
  }

  if (chunk) bytes += fs.writeSync(fd, chunk);
  fs.closeSync(fd);
  if (!known) throw new Error('corpus too small to place the well-known packet');
  for (const n of perSecond.values()) stats.maxPacketsPerSecond = Math.max(stats.maxPacketsPerSecond, n);

  const c = known.conn;
  const summary = {
    generator: GENERATOR_HASH,
    seed,
    requestedLines: target,
    options: {
      hosts,
      basePps: opts.basePps,
      burstPps: opts.burstPps,
      burstEvery: opts.burstEvery,
      burstLen: opts.burstLen,
    },
    file: out,
    rules: rulesFile,
    year: 2026,
    lines: written,
    bytes,
    logSeconds: Math.ceil((clockMs - t0) / 1000),
    ...stats,
    known: {
      opt: known.opt,
      id: known.id,
      host: known.host,
      src: c.src,
      spt: c.spt,
      dpt: c.dpt,
      seq: c.cseq,
      firstLine: known.firstLine,
      traceLines: known.steps.length,
      verdict: 'DROP (filter KUBE-FIREWALL rule 1, mark 0x8000 set by nat KUBE-MARK-DROP)',
    },
  };
  fs.writeFileSync(`${out}.meta.json`, JSON.stringify(summary, null, 2) + '\n');
  return summary;
}

// ---------------------------------------------------------------------------------------------------------------
// The other channels, scaled from the same lab scenario's captures of them (test/fixtures/lab/incident/<channel>):
// the capture's packets (both lab probes) are written again and again, each copy a distinct packet — its own IP ID,
// source port and TCP SEQ (and trace id for the monitors), on one of --hosts hosts where the channel names one
// (ulogd `dvc`) — with timestamps on the same burst cycle as the kernel log (--base-pps / --burst-pps). The lab
// traces only SYNs on those channels, so these corpora have no whole connections (the kernel log has them).

export const CHANNELS = {
  'nflog-pcap': { capture: 'nflog.pcap', ext: 'pcap' },
  'ulogd-json': { capture: 'ulogd.json', ext: 'json' },
  'xtables-monitor': { capture: 'xtables-monitor.txt', ext: 'txt' },
  'nft-monitor': { capture: 'nft-monitor.txt', ext: 'txt' },
};

/** The lab capture, rules and extra files of one channel. */
export function labChannel(channel) {
  const dir = path.join(ROOT, 'test/fixtures/lab/incident', channel);
  const pass = JSON.parse(fs.readFileSync(path.join(dir, 'pass.json'), 'utf8'));
  return {
    dir,
    capture: path.join(dir, pass.capture),
    rules: pass.rules.map((r) => path.join(dir, r)),
    ifNames: (pass.extra ?? []).includes('links.json') ? path.join(dir, 'links.json') : undefined,
  };
}

const newId = (id, k) => ((id + 7919 * k) % 65535) + 1;
const newPort = (port, k) => 1024 + ((port - 1024 + 977 * k) % 64000);
const newSeq = (seq, k) => (seq + Math.imul(2654435761, k)) >>> 0;
const newTraceId = (id, k) => (id + Math.imul(0x9e3779b1, k + 1)) >>> 0;

export function generateChannel(opts) {
  const { channel, mb, out, hosts } = opts;
  const lab = labChannel(channel);
  const src = fs.readFileSync(lab.capture);
  const target = Math.round(mb * 1e6);
  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  const fd = fs.openSync(out, 'w');
  const hostNames = Array.from({ length: hosts }, (_, i) => `node-${String(i + 1).padStart(2, '0')}`);
  // Log time of copy k: one copy holds the capture's packets (2), so its share of a second follows the burst cycle.
  const t0 = Date.UTC(2026, 10, 27, 10, 7, 27);
  let clockMs = t0;
  const tick = (packets) => {
    const cycle = ((clockMs - t0) / 1000) % opts.burstEvery;
    const pps = cycle >= opts.burstEvery - opts.burstLen ? opts.burstPps : opts.basePps;
    clockMs += (1000 * packets) / pps;
  };
  let bytes = 0;
  let copies = 0;
  const parts = [];
  let pending = 0;
  const put = (b) => {
    parts.push(b);
    pending += b.length;
    if (pending >= 1 << 22) {
      bytes += fs.writeSync(fd, Buffer.concat(parts));
      parts.length = 0;
      pending = 0;
    }
  };
  const written = () => bytes + pending;

  if (channel === 'nflog-pcap') {
    const le = src.readUInt32LE(0) === 0xa1b2c3d4;
    if (!le) throw new Error(`${lab.capture}: expected a little-endian µs pcap`);
    put(src.subarray(0, 24));
    const recs = [];
    for (let p = 24; p + 16 <= src.length;) {
      const incl = src.readUInt32LE(p + 8);
      recs.push(src.subarray(p, p + 16 + incl));
      p += 16 + incl;
    }
    const base = recs[0].readUInt32LE(0) * 1e6 + recs[0].readUInt32LE(4);
    while (written() < target) {
      for (const rec of recs) {
        const r = Buffer.from(rec);
        // Keep each record's offset from the capture's first one; shift the whole copy to the clock.
        const us = Math.round(clockMs * 1000) + (r.readUInt32LE(0) * 1e6 + r.readUInt32LE(4) - base);
        r.writeUInt32LE(Math.floor(us / 1e6), 0);
        r.writeUInt32LE(us % 1e6, 4);
        for (let p = 16 + 4; p + 4 <= r.length;) {
          const len = r.readUInt16LE(p);
          const type = r.readUInt16LE(p + 2) & 0x7fff;
          if (len < 4) break;
          if (type === 3) {
            r.writeBigUInt64BE(BigInt(Math.floor(us / 1e6)), p + 4);
            r.writeBigUInt64BE(BigInt(us % 1e6), p + 12);
          } else if (type === 9 && r[p + 4] >> 4 === 4) {
            const ip = p + 4;
            r.writeUInt16BE(newId(r.readUInt16BE(ip + 4), copies), ip + 4);
            const l4 = ip + (r[ip] & 15) * 4;
            if (r[ip + 9] === 6 || r[ip + 9] === 17) r.writeUInt16BE(newPort(r.readUInt16BE(l4), copies), l4);
            if (r[ip + 9] === 6) r.writeUInt32BE(newSeq(r.readUInt32BE(l4 + 4), copies), l4 + 4);
          }
          p += (len + 3) & ~3;
        }
        put(r);
      }
      copies++;
      tick(2);
    }
  } else {
    const lines = src
      .toString('utf8')
      .split('\n')
      .filter((l) => l.length > 0);
    while (written() < target) {
      const host = hostNames[copies % hosts];
      const d = new Date(Math.floor(clockMs));
      const k = copies;
      let text = '';
      for (const line of lines) {
        let l = line;
        if (channel === 'ulogd-json') {
          const usec = String(Math.floor((clockMs % 1000) * 1000)).padStart(6, '0');
          l = l
            .replace(/"timestamp": "[^"]*"/, `"timestamp": "${d.toISOString().slice(0, 19)}.${usec}"`)
            .replace(/"dvc": "[^"]*"/, `"dvc": "${host}"`)
            .replace(/"oob\.time\.sec": \d+/, `"oob.time.sec": ${Math.floor(clockMs / 1000)}`)
            .replace(/"oob\.time\.usec": \d+/, `"oob.time.usec": ${Number(usec)}`)
            .replace(/"ip\.id": (\d+)/, (_, v) => `"ip.id": ${newId(Number(v), k)}`)
            .replace(/"src_port": (\d+)/, (_, v) => `"src_port": ${newPort(Number(v), k)}`)
            .replace(/"tcp\.seq": (\d+)/, (_, v) => `"tcp.seq": ${newSeq(Number(v), k)}`);
        } else if (channel === 'xtables-monitor') {
          l = l
            .replace(
              /^( ?(?:PACKET|TRACE): \d+ )([0-9a-f]{8})/,
              (_, a, id) => a + hex8(newTraceId(parseInt(id, 16), k)).toLowerCase(),
            )
            .replace(/ ID=(\d+)/, (_, v) => ` ID=${newId(Number(v), k)}`)
            .replace(/ SPORT=(\d+)/, (_, v) => ` SPORT=${newPort(Number(v), k)}`);
        } else {
          l = l
            .replace(
              /^trace id ([0-9a-f]{8})/,
              (_, id) => `trace id ${hex8(newTraceId(parseInt(id, 16), k)).toLowerCase()}`,
            )
            .replace(/ ip id (\d+)/, (_, v) => ` ip id ${newId(Number(v), k)}`)
            .replace(/ tcp sport (\d+)/, (_, v) => ` tcp sport ${newPort(Number(v), k)}`);
        }
        text += l + '\n';
      }
      put(Buffer.from(text));
      copies++;
      tick(2);
    }
  }
  if (pending) bytes += fs.writeSync(fd, Buffer.concat(parts));
  fs.closeSync(fd);
  const summary = {
    generator: GENERATOR_HASH,
    channel,
    requestedMb: mb,
    file: out,
    bytes,
    copies,
    packets: copies * 2,
    rules: lab.rules,
    ...(lab.ifNames ? { ifNames: lab.ifNames } : {}),
    logSeconds: Math.ceil((clockMs - t0) / 1000),
  };
  fs.writeFileSync(`${out}.meta.json`, JSON.stringify(summary, null, 2) + '\n');
  return summary;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const opts = parseArgs(process.argv.slice(2));
    const summary = opts.channel === 'kernel-log' ? generate(opts) : generateChannel(opts);
    process.stdout.write(JSON.stringify(summary) + '\n');
  } catch (err) {
    process.stderr.write(`generate-corpus: ${err.message}\n`);
    process.exit(2);
  }
}
