/**
 * Parse throughput of the kernel-log adapter on generated, realistic TRACE traffic.
 *
 *   npx tsx packages/ingest-kernel-log/bench/parse.bench.ts [--mb 100] [--runs 5] [--write corpus.log [--distinct]]
 *
 * Generates ~N MB of kernel-log text (RFC 3164 framing like the write-up's kern.log: TCP SYN/ACK traces of 8–30
 * steps through kube-proxy/Calico-style chains, IPv6, UDP, ICMP errors with an inner packet, MARK changes,
 * -j LOG lines and ~2% unrelated kernel lines), then reports
 *   parse-only — the line parser over lines already in memory (the adapter's own cost), and
 *   decode     — `kernelLogAdapter.decode` over the file on disk (read + split + UTF-8 decode + parse).
 * Needs `npm run build` first (it imports the built packages).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openInput } from '@ruletrail/core';
import { createKernelLogParser, kernelLogAdapter } from '../src/index';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}

/** Deterministic PRNG so every run measures the same text. */
let seed = 0x2545f491;
function rnd(n: number): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % n;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const PATH4 = [
  'raw:PREROUTING:rule:1',
  'raw:cali-PREROUTING:return:3',
  'raw:PREROUTING:policy:3',
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
  'nat:KUBE-MARK-DROP:return:2',
  'nat:KUBE-XLB-VETHOZVMBYUVK3NB:return:5',
  'nat:KUBE-NODEPORTS:return:37',
  'nat:KUBE-SERVICES:return:60',
  'nat:PREROUTING:rule:5',
  'nat:DOCKER:return:8',
  'nat:PREROUTING:policy:9',
  'mangle:INPUT:policy:1',
  'filter:INPUT:rule:1',
  'filter:KUBE-FIREWALL:rule:1',
];

function ip4(): string {
  return `10.${rnd(256)}.${rnd(256)}.${1 + rnd(254)}`;
}
function ip6(): string {
  const g = (): string => rnd(65536).toString(16).padStart(4, '0');
  return `fd00:${g()}:0000:0000:0000:${g()}:${g()}:${g()}`;
}
/** A node's frames come from a handful of neighbours (NICs, gateways, pods' veths): a pool of 64 MACs. */
const MACS = Array.from({ length: 64 }, () => {
  const b = (): string => rnd(256).toString(16).padStart(2, '0');
  return `00:15:5d:${b()}:${b()}:${b()}`;
});
function mac(): string {
  return MACS[rnd(MACS.length)]!;
}

/** `stepsPerPacket` 0 = TRACE-like (8–30 steps per packet); 1 = every line a different packet (LOG-like). */
function generate(targetBytes: number, stepsPerPacket = 0): string {
  const out: string[] = [];
  let bytes = 0;
  let t = Date.UTC(2026, 0, 1, 21, 23, 16) / 1000;
  const hosts = ['cos74', 'node-a-17', 'k8s-worker-03'];
  while (bytes < targetBytes) {
    t += rnd(3);
    const d = new Date(t * 1000);
    const stamp = `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${d.toISOString().slice(11, 19)}`;
    const host = hosts[rnd(hosts.length)]!;
    const head = `${stamp} ${host} kernel: `;
    const kind = rnd(100);
    const smac = mac();
    const dmac = mac();
    let payload: (markSet: boolean) => string;
    if (kind < 70) {
      const src = ip4();
      const dst = ip4();
      const id = rnd(65536);
      const spt = 1024 + rnd(60000);
      const seq = rnd(4294967295);
      const syn = rnd(2) === 0;
      const ack = syn ? 0 : rnd(4294967295);
      const ts = rnd(4294967295).toString(16).toUpperCase().padStart(8, '0');
      payload = (m) =>
        `IN=eth0 OUT= MAC=${dmac}:${smac}:08:00 SRC=${src} DST=${dst} LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=${id} DF PROTO=TCP SPT=${spt} DPT=52000 SEQ=${seq} ACK=${ack} WINDOW=29200 RES=0x00 ${syn ? 'SYN' : 'ACK PSH'} URGP=0 OPT (020405B40402080A${ts}0000000001030307) ${m ? 'MARK=0x8000 ' : ''}`;
    } else if (kind < 82) {
      const src = ip6();
      const dst = ip6();
      const spt = 1024 + rnd(60000);
      const fl = rnd(1048576);
      const seq = rnd(4294967295);
      payload = (m) =>
        `IN=eth0 OUT= MAC=${dmac}:${smac}:86:dd SRC=${src} DST=${dst} LEN=80 TC=0 HOPLIMIT=64 FLOWLBL=${fl} PROTO=TCP SPT=${spt} DPT=443 SEQ=${seq} ACK=0 WINDOW=64800 RES=0x00 SYN URGP=0 OPT (020405A00402080A6BF91B3F000000000103030A) ${m ? 'MARK=0x4000 ' : ''}`;
    } else if (kind < 94) {
      const src = ip4();
      const dst = ip4();
      const id = rnd(65536);
      const spt = 1024 + rnd(60000);
      payload = (m) =>
        `IN=cali1234abcd OUT=eth0 MAC=${dmac}:${smac}:08:00 SRC=${src} DST=${dst} LEN=72 TOS=0x00 PREC=0x00 TTL=63 ID=${id} DF PROTO=UDP SPT=${spt} DPT=53 LEN=52 ${m ? 'MARK=0x4000 ' : ''}`;
    } else {
      const src = ip4();
      const dst = ip4();
      const [id1, id2, spt] = [rnd(65536), rnd(65536), 1024 + rnd(60000)];
      payload = (m) =>
        `IN= OUT=eth0 SRC=${dst} DST=${src} LEN=92 TOS=0x00 PREC=0xC0 TTL=64 ID=${id1} PROTO=ICMP TYPE=3 CODE=3 [SRC=${src} DST=${dst} LEN=64 TOS=0x00 PREC=0x00 TTL=63 ID=${id2} DF PROTO=UDP SPT=${spt} DPT=5000 LEN=44 ] ${m ? 'MARK=0x8000 ' : ''}`;
    }
    const steps = stepsPerPacket > 0 ? stepsPerPacket : 8 + rnd(23);
    const start = rnd(4);
    for (let k = 0; k < steps; k++) {
      const step = PATH4[(start + k) % PATH4.length]!;
      const line =
        rnd(50) === 0
          ? `${head}cali-fw-log: ${payload(k >= steps / 2)}`
          : `${head}TRACE: ${step} ${payload(k >= steps / 2)}`;
      out.push(line);
      bytes += line.length + 1;
    }
    if (rnd(2) === 0) {
      const other = `${head}IPv6: ADDRCONF(NETDEV_CHANGE): cali${rnd(1e6)}: link becomes ready`;
      out.push(other);
      bytes += other.length + 1;
    }
  }
  return out.join('\n') + '\n';
}

/**
 * CPU seconds (user + system) of this process since `c0`. The figure that matters is throughput per core; CPU
 * time keeps it honest on a shared machine where wall time also counts other processes' load. GC runs on
 * helper threads are included, so it is not flattering either.
 */
function cpuSeconds(c0: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(c0);
  return (d.user + d.system) / 1e6;
}

function rate(bytes: number, seconds: number): string {
  return (bytes / 1e6 / seconds).toFixed(0);
}

async function main(): Promise<void> {
  const mb = arg('mb', 100);
  const runs = arg('runs', 5);
  const text = generate(mb * 1e6, process.argv.includes('--distinct') ? 1 : 0);
  const w = process.argv.indexOf('--write');
  if (w > 0) {
    // Just write the corpus (for profiling with other tools).
    writeFileSync(process.argv[w + 1]!, text);
    return;
  }
  const totalBytes = Buffer.byteLength(text);
  const lines = text.split('\n');
  lines.pop();
  const dir = mkdtempSync(join(tmpdir(), 'rt-klog-bench-'));
  const file = join(dir, 'kern.log');
  writeFileSync(file, text);
  console.log(
    `input: ${(totalBytes / 1e6).toFixed(1)} MB, ${lines.length} lines, ${(totalBytes / lines.length).toFixed(0)} B/line`,
  );

  const parseRates: number[] = [];
  for (let r = 0; r < runs; r++) {
    const parse = createKernelLogParser({ file: 'bench', year: 2026 });
    let events = 0;
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    for (let i = 0; i < lines.length; i++) if (parse(lines[i]!, i + 1) !== null) events++;
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = cpuSeconds(c0);
    parseRates.push(totalBytes / 1e6 / cpu);
    console.log(
      `parse-only run ${r + 1}: ${rate(totalBytes, cpu)} MB/s per CPU second (${rate(totalBytes, s)} MB/s wall), ` +
        `${(lines.length / cpu / 1e6).toFixed(2)} M lines/s (${events} records)`,
    );
  }

  const decodeRates: number[] = [];
  for (let r = 0; r < Math.max(1, Math.ceil(runs / 2)); r++) {
    let events = 0;
    let errors = 0;
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    for await (const batch of kernelLogAdapter.decode(await openInput(file), { file, year: 2026 })) {
      events += batch.events.length;
      errors += batch.errors.length;
    }
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = cpuSeconds(c0);
    decodeRates.push(totalBytes / 1e6 / cpu);
    console.log(
      `decode run ${r + 1}: ${rate(totalBytes, cpu)} MB/s per CPU second (${rate(totalBytes, s)} MB/s wall) ` +
        `(${events} events, ${errors} errors)`,
    );
  }
  rmSync(dir, { recursive: true, force: true });
  const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;

  // Worst case for the parser: no two consecutive lines share a payload.
  const distinct = generate(Math.min(mb, 30) * 1e6, 1).split('\n');
  distinct.pop();
  const distinctBytes = distinct.reduce((a, l) => a + l.length + 1, 0);
  const distinctRates: number[] = [];
  for (let r = 0; r < runs; r++) {
    const parse = createKernelLogParser({ file: 'bench', year: 2026 });
    const c0 = process.cpuUsage();
    for (let i = 0; i < distinct.length; i++) parse(distinct[i]!, i + 1);
    distinctRates.push(distinctBytes / 1e6 / cpuSeconds(c0));
  }

  // Calibration: how fast this machine is right now at the most basic string work, on the same text.
  const scanRates: number[] = [];
  for (let r = 0; r < runs; r++) {
    const c0 = process.cpuUsage();
    let spaces = 0;
    for (const l of lines) for (let i = 0; i < l.length; i++) if (l.charCodeAt(i) === 32) spaces++;
    scanRates.push(totalBytes / 1e6 / cpuSeconds(c0));
    if (spaces === 0) console.log('no spaces?');
  }
  console.log(
    `median per CPU second: parse-only ${median(parseRates).toFixed(0)} MB/s, decode ${median(decodeRates).toFixed(0)} MB/s, ` +
      `parse-only with every payload distinct ${median(distinctRates).toFixed(0)} MB/s; ` +
      `calibration (charCodeAt scan of the same text) ${median(scanRates).toFixed(0)} MB/s`,
  );
}

void main();
