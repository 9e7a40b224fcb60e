// Runs `ruletrail explain --format json` on a capture and checks its NDJSON against the scenario's expectations.
// The output contract (one object per packet): packet {src,dst,proto,sport,dport}, verdict, decidedBy
// {table,chain,kind,rulenum,rule}, markSetBy [{table,chain,rulenum,rule,mark}], nat [{kind,from,to,by}],
// kubernetes {service}, flags [...], steps [...]. Field access below is tolerant about representation
// (string vs object) but strict about meaning.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { run } from './proc';
import { canonIp } from './records';
import type { ChannelName, Expectation, PassMeta, Probe, ProbeRun } from './types';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
/** The compiled CLI; it is run through the committed launcher `packages/cli/bin/ruletrail.js` when present. */
export const CLI = path.join(REPO_ROOT, 'packages', 'cli', 'dist', 'main.js');
const LAUNCHER = path.join(REPO_ROOT, 'packages', 'cli', 'bin', 'ruletrail.js');

/** The ingest package each channel needs (the CLI may wire it in under another name; this is a hint only). */
export const ADAPTER_PACKAGE: Record<ChannelName, string> = {
  'kernel-log': 'ingest-kernel-log',
  'nflog-pcap': 'ingest-nflog-pcap',
  'ulogd-json': 'ingest-ulogd-json',
  'xtables-monitor': 'ingest-xtables-monitor',
  'nft-monitor': 'ingest-nft-monitor',
};

/** Whether the adapter package exists and exports anything once built (the skeletons export nothing). */
export function adapterBuilt(channel: ChannelName): { ok: boolean; why: string } {
  const dir = path.join(REPO_ROOT, 'packages', ADAPTER_PACKAGE[channel]);
  if (!fs.existsSync(dir)) return { ok: false, why: `no package packages/${ADAPTER_PACKAGE[channel]}` };
  const dist = path.join(dir, 'dist', 'index.js');
  if (!fs.existsSync(dist))
    return { ok: false, why: `packages/${ADAPTER_PACKAGE[channel]} is not built (no dist/index.js)` };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(dist) as Record<string, unknown>;
    if (Object.keys(mod).length === 0)
      return { ok: false, why: `packages/${ADAPTER_PACKAGE[channel]} exports nothing yet` };
  } catch (e) {
    return { ok: false, why: `packages/${ADAPTER_PACKAGE[channel]} fails to load: ${String(e)}` };
  }
  return { ok: true, why: '' };
}

export type Json = Record<string, unknown>;

export interface ExplainRun {
  readonly argv: readonly string[];
  readonly code: number;
  readonly packets: Json[];
  readonly stderr: string;
  readonly badLines: number;
}

export function runExplain(
  meta: PassMeta,
  dir: string,
  outDir: string,
  rules: readonly string[] = meta.rules,
): ExplainRun {
  const args = ['explain'];
  for (const r of rules) args.push('--rules', path.join(dir, r));
  // Captures recorded before host facts existed have none.
  if (meta.hostFacts && fs.existsSync(path.join(dir, meta.hostFacts)))
    args.push('--host-facts', path.join(dir, meta.hostFacts));
  args.push('--format', 'json', path.join(dir, meta.capture));
  const argv = ['node', fs.existsSync(LAUNCHER) ? LAUNCHER : CLI, ...args];
  const r = run(argv, { allowFail: true, timeoutMs: 120_000, cwd: REPO_ROOT });
  fs.mkdirSync(outDir, { recursive: true });
  const packets: Json[] = [];
  let badLines = 0;
  for (const line of r.stdout.split('\n')) {
    if (!line.trim()) continue;
    try {
      const o = JSON.parse(line) as unknown;
      if (o && typeof o === 'object' && !Array.isArray(o)) packets.push(o as Json);
      else badLines++;
    } catch {
      badLines++;
    }
  }
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'explain.ndjson'), r.stdout);
  fs.writeFileSync(path.join(outDir, 'explain.stderr'), r.stderr);
  fs.writeFileSync(
    path.join(outDir, 'explain.cmd'),
    argv.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ') + '\n',
  );
  return { argv, code: r.code, packets, stderr: r.stderr, badLines };
}

// ---------------------------------------------------------------------------------------------------------
// Tolerant accessors

function obj(v: unknown): Json | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
}
function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
function str(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}
function ruleText(v: unknown): string {
  const o = obj(v);
  if (o) return str(o['text'] ?? o['rule'] ?? o['raw'] ?? o['line'] ?? JSON.stringify(o));
  return str(v);
}
function numOf(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);
  return undefined;
}
function protoName(v: unknown): string {
  const s = str(v).toLowerCase();
  if (s === '6') return 'tcp';
  if (s === '17') return 'udp';
  if (s === '1' || s === '58' || s === 'icmpv6' || s === 'ipv6-icmp' || s === 'icmp6') return 'icmp';
  return s;
}
/** Every number in a mark description: `0x8000/0x8000`, `0x0 -> 0x8000`, `32768`. */
function markNums(v: unknown): number[] {
  const s = str(obj(v)?.['value'] ?? v);
  return [...s.matchAll(/0x[0-9a-f]+|\d+/gi)].map((m) => Number(m[0]));
}
/** Every IP-looking token in a string, canonicalised. */
function ipsIn(s: string): string[] {
  const out: string[] = [];
  for (const m of s.matchAll(/\[?([0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7})\]?|(\d{1,3}(?:\.\d{1,3}){3})/gi)) {
    const ip = m[1] ?? m[2];
    if (ip) out.push(canonIp(ip));
  }
  return out;
}
function flagsOf(p: Json): string[] {
  return arr(p['flags']).map((f) => {
    const o = obj(f);
    return o ? str(o['code'] ?? o['name'] ?? o['flag'] ?? JSON.stringify(o)) : str(f);
  });
}
function serviceOf(p: Json): string {
  const k = obj(p['kubernetes']);
  const s = k?.['service'];
  const o = obj(s);
  if (o)
    return (
      [o['namespace'], o['name'], o['port'], o['portName']]
        .filter((x) => x !== undefined)
        .map(str)
        .join('/') +
      ' ' +
      JSON.stringify(o)
    );
  return str(s);
}

// ---------------------------------------------------------------------------------------------------------
// Matching packets to probes

/** Which side of a traced connection a packet is on. */
export type Direction = 'original' | 'reply';

/**
 * The packets of a probe: its one traced packet, or for a connection probe every packet of the connection, each
 * with its direction (the first original-direction packet is the connection's first).
 */
export function connectionPackets(
  packets: Json[],
  probe: Probe,
  run: ProbeRun,
): { p: Json; dir: Direction }[] {
  const out: { p: Json; dir: Direction }[] = [];
  const c = probe.connection;
  for (const p of packets) {
    if (packetsForProbe([p], probe, run).length) {
      out.push({ p, dir: 'original' });
      continue;
    }
    if (!c) continue;
    const k = obj(p['packet']);
    if (!k || protoName(k['proto'] ?? k['protocol'] ?? 'tcp') !== probe.proto) continue;
    const from = c.replyFrom ?? { addr: run.dst, port: probe.dport };
    if (canonIp(str(k['src'])) !== canonIp(from.addr) || numOf(k['sport']) !== from.port) continue;
    if (!c.replyFrom && run.sport !== undefined && numOf(k['dport']) !== run.sport) continue;
    out.push({ p, dir: 'reply' });
  }
  return out;
}

export function packetsForProbe(packets: Json[], probe: Probe, run: ProbeRun): Json[] {
  return packets.filter((p) => {
    const k = obj(p['packet']);
    if (!k) return false;
    // xtables-monitor prints no protocol for UDP or ICMP (the packet says so in netfilter.degraded): match on the
    // addresses and ports it does print.
    const proto = k['proto'] ?? k['protocol'];
    if (proto !== undefined ? protoName(proto) !== probe.proto : probe.proto === 'tcp') return false;
    if (proto === undefined && probe.proto === 'icmp' && k['dport'] !== undefined) return false;
    if (canonIp(str(k['src'])) !== canonIp(run.src)) return false;
    if (probe.proto !== 'icmp') {
      if (numOf(k['dport']) !== probe.dport) return false;
      if (run.sport !== undefined && numOf(k['sport']) !== run.sport) return false;
    } else if (canonIp(str(k['dst'])) !== canonIp(run.dst)) return false;
    return true;
  });
}

/** Checks one packet's explanation; returns the list of differences (empty = pass). */
export function checkExplanation(p: Json, e: Expectation, channel: ChannelName): string[] {
  const errs: string[] = [];
  const verdict = str(p['verdict']).toUpperCase();
  const want = e.verdict === undefined ? undefined : typeof e.verdict === 'string' ? [e.verdict] : e.verdict;
  if (want && !want.includes(verdict))
    errs.push(`verdict ${verdict || '(none)'}, expected ${want.join(' or ')}`);

  const d = obj(p['decidedBy']);
  if (e.decidedBy) {
    if (!d) errs.push('no decidedBy');
    else {
      const where = `${str(d['table'])}:${str(d['chain'])}`;
      if (str(d['table']) !== e.decidedBy.table || str(d['chain']) !== e.decidedBy.chain)
        errs.push(`decidedBy ${where}, expected ${e.decidedBy.table}:${e.decidedBy.chain}`);
      const rn = numOf(d['rulenum']);
      if (e.decidedBy.rulenum !== undefined) {
        if (rn === undefined && channel !== 'xtables-monitor' && channel !== 'nft-monitor')
          errs.push(`decidedBy has no rulenum, expected ${e.decidedBy.rulenum}`);
        else if (rn !== undefined && rn !== e.decidedBy.rulenum)
          errs.push(`decidedBy rulenum ${rn}, expected ${e.decidedBy.rulenum}`);
      }
      // `kind` is the kernel's own label (an explicit `-j DROP` is logged as `policy`); `rule` is the snapshot's
      // rule text, absent for a chain policy. So "not the policy" means: a rule is named.
      const rule = ruleText(d['rule']);
      if (e.decidedBy.notPolicy && !rule)
        errs.push('decidedBy names no rule: the explicit rule was taken for the chain policy');
      if (e.decidedBy.policy && (rule || str(d['kind']).toLowerCase() !== 'policy'))
        errs.push(`decidedBy is ${str(d['kind'])} "${rule}", expected the chain policy`);
      if (e.decidedBy.ruleIncludes && !ruleText(d['rule']).includes(e.decidedBy.ruleIncludes))
        errs.push(`decidedBy rule "${ruleText(d['rule'])}" lacks "${e.decidedBy.ruleIncludes}"`);
    }
  }
  if (e.notDecidedByChain && d && str(d['chain']) === e.notDecidedByChain)
    errs.push(`decidedBy ${e.notDecidedByChain}: explained with the stale snapshot`);

  const marks = arr(p['markSetBy']).map((m) => obj(m) ?? {});
  if (e.markSetBy) {
    if (e.markSetBy.length === 0 && marks.length > 0)
      errs.push(
        `markSetBy ${marks.map((m) => `${str(m['table'])}:${str(m['chain'])}`).join(',')}, expected none`,
      );
    for (const w of e.markSetBy) {
      const hit = marks.find((m) => str(m['table']) === w.table && str(m['chain']) === w.chain);
      if (!hit) errs.push(`markSetBy lacks ${w.table}:${w.chain}`);
      else if (w.mark !== undefined) {
        const wantMark = Number(w.mark);
        if (!markNums(hit['mark']).some((n) => (n & wantMark) === wantMark))
          errs.push(`mark set by ${w.chain} is ${str(hit['mark'])}, expected ${w.mark}`);
      }
    }
  }
  if (e.notMarkSetByChain && marks.some((m) => str(m['chain']) === e.notMarkSetByChain))
    errs.push(`markSetBy ${e.notMarkSetByChain}: explained with the stale snapshot`);

  if (e.markReachedFrom) {
    const steps = arr(p['steps']).map((s) => obj(s) ?? {});
    if (steps.length === 0) errs.push('no steps: cannot show how the mark was reached');
    else {
      const markChain = e.markSetBy?.[0]?.chain;
      const iMark = steps.findIndex((s) => str(s['chain']) === markChain);
      const f = e.markReachedFrom;
      const iFrom = steps.findIndex(
        (s) =>
          str(s['table']) === f.table &&
          str(s['chain']) === f.chain &&
          ruleText(s['rule']).includes(f.ruleIncludes),
      );
      if (iFrom < 0) errs.push(`steps lack the ${f.table}:${f.chain} rule with "${f.ruleIncludes}"`);
      else if (iMark >= 0 && iFrom > iMark)
        errs.push(`the ${f.chain} rule comes after ${markChain} in steps`);
    }
  }

  const nats = arr(p['nat']).map((n) => obj(n) ?? {});
  if (e.nat) {
    if (e.nat.length === 0 && nats.length > 0)
      errs.push(`nat ${nats.map((n) => str(n['kind'])).join(',')}, expected none`);
    for (const w of e.nat) {
      const hit = nats.find((n) => str(n['kind']).toUpperCase() === w.kind);
      if (!hit) {
        errs.push(
          `nat lacks ${w.kind}${nats.length ? ` (has ${nats.map((n) => str(n['kind'])).join(',')})` : ''}`,
        );
        continue;
      }
      if (w.to !== undefined) {
        const to = str(hit['to']);
        const wantIps = ipsIn(w.to);
        const port = /\]?:(\d+)$/.exec(w.to)?.[1];
        const portOk = port === undefined || to.includes(port) || str(obj(hit['to'])?.['port']) === port;
        if (!wantIps.every((ip) => ipsIn(to).includes(ip)) || !portOk)
          errs.push(`${w.kind} to ${to || '(none)'}, expected ${w.to}`);
      }
      const by = obj(hit['by']);
      if (w.byTable && str(by?.['table']) !== w.byTable)
        errs.push(`${w.kind} by table ${str(by?.['table'])}, expected ${w.byTable}`);
      if (w.byChain && str(by?.['chain']) !== w.byChain)
        errs.push(`${w.kind} by chain ${str(by?.['chain'])}, expected ${w.byChain}`);
    }
  }

  if (e.service !== undefined && !serviceOf(p).includes(e.service))
    errs.push(`kubernetes.service ${serviceOf(p) || '(none)'}, expected ${e.service}`);

  if (e.notService !== undefined && serviceOf(p).includes(e.notService))
    errs.push(`kubernetes.service ${serviceOf(p)}: explained with the wrong rule`);
  for (const re of e.causeMatches ?? [])
    if (!re.test(str(p['cause']))) errs.push(`cause "${str(p['cause'])}" does not match ${String(re)}`);
  if (e.skipped) {
    const steps = arr(p['steps']).map((x) => obj(x) ?? {});
    for (const w of e.skipped) {
      const ranges = steps
        .filter((x) => str(x['table']) === w.table && str(x['chain']) === w.chain)
        .flatMap((x) => arr(x['skipped']).map((r) => obj(r) ?? {}));
      const hit = ranges.find(
        (r) => (numOf(r['from']) ?? Infinity) <= w.rulenum && w.rulenum <= (numOf(r['to']) ?? -Infinity),
      );
      if (!hit) errs.push(`no step of ${w.table}:${w.chain} lists rule ${w.rulenum} as skipped`);
      else if (w.decided && str(hit['result']) !== 'no')
        errs.push(
          `skipped ${w.chain} rule ${w.rulenum} is ${str(hit['result']) || '?'}, expected no: ${str(hit['reason'])}`,
        );
    }
  }

  const flags = flagsOf(p);
  for (const f of e.flagsNotOn?.includes(channel) ? [] : (e.flags ?? []))
    if (!flags.includes(f)) errs.push(`flag ${f} missing (flags: ${flags.join(',') || 'none'})`);
  for (const f of e.absentFlags ?? []) if (flags.includes(f)) errs.push(`unexpected flag ${f}`);
  return errs;
}

/** A channel-independent summary of an explanation, for the "same on every channel" check. */
export function essence(p: Json): string {
  const d = obj(p['decidedBy']);
  const marks = arr(p['markSetBy'])
    .map((m) => obj(m) ?? {})
    .map((m) => `${str(m['table'])}:${str(m['chain'])}`)
    .sort();
  const nats = arr(p['nat'])
    .map((n) => obj(n) ?? {})
    .map((n) => `${str(n['kind']).toUpperCase()}@${str(obj(n['by'])?.['chain'])}`)
    .sort();
  return [
    `verdict=${str(p['verdict']).toUpperCase()}`,
    `decidedBy=${d ? `${str(d['table'])}:${str(d['chain'])}` : '-'}`,
    `marks=${marks.join(',') || '-'}`,
    `nat=${nats.join(',') || '-'}`,
    `service=${serviceOf(p) || '-'}`,
  ].join(' ');
}

export function describe(p: Json): string {
  const d = obj(p['decidedBy']);
  const parts = [str(p['verdict']).toUpperCase() || '?'];
  if (d)
    parts.push(
      `by ${str(d['table'])}:${str(d['chain'])}${numOf(d['rulenum']) !== undefined ? ` #${numOf(d['rulenum'])}` : ''} (${str(d['kind']) || '?'})`,
    );
  const marks = arr(p['markSetBy']).map((m) => obj(m) ?? {});
  if (marks.length)
    parts.push(
      `mark ${marks.map((m) => `${str(m['mark'])} by ${str(m['table'])}:${str(m['chain'])}`).join(', ')}`,
    );
  const nats = arr(p['nat']).map((n) => obj(n) ?? {});
  if (nats.length)
    parts.push(
      `nat ${nats.map((n) => `${str(n['kind'])}→${str(n['to'])} by ${str(obj(n['by'])?.['chain'])}`).join(', ')}`,
    );
  const svc = serviceOf(p);
  if (svc) parts.push(`service ${svc}`);
  const flags = flagsOf(p);
  if (flags.length) parts.push(`flags ${flags.join(',')}`);
  return parts.join('; ');
}

/**
 * Checks every packet of a traced connection (both directions) against the probe's expectation and its
 * per-direction / first-packet checks: one line of text for the probe, whether it passed, and its first packet.
 */
export function checkConnection(
  packets: Json[],
  probe: Probe,
  pr: ProbeRun,
  want: Expectation,
  channel: ChannelName,
): { ok: boolean; text: string; first: Json | undefined } | undefined {
  const c = probe.connection;
  if (!c) return undefined;
  const pk = connectionPackets(packets, probe, pr);
  const first = pk.find((x) => x.dir === 'original')?.p;
  const replies = pk.filter((x) => x.dir === 'reply').length;
  const errs = new Map<string, number>();
  const add = (e: string) => errs.set(e, (errs.get(e) ?? 0) + 1);
  if (pk.length < c.minPackets)
    add(`${pk.length} packets of the connection, expected at least ${c.minPackets}`);
  if (replies === 0) add('no reply-direction packet');
  const verdicts = new Map<string, number>();
  for (const { p, dir } of pk) {
    const v = str(p['verdict']).toUpperCase();
    verdicts.set(v, (verdicts.get(v) ?? 0) + 1);
    const checks = [want, dir === 'original' ? c.original : c.reply, p === first ? c.first : undefined];
    for (const e of checks) if (e) for (const x of checkExplanation(p, e, channel)) add(`${dir}: ${x}`);
  }
  const counts = `${pk.length} packets (${pk.length - replies} original, ${replies} reply): ${[...verdicts]
    .map(([v, n]) => `${n} ${v}`)
    .join(', ')}`;
  if (errs.size)
    return {
      ok: false,
      text:
        `${counts}; ${[...errs].map(([e, n]) => (n > 1 ? `${e} (×${n})` : e)).join('; ')}` +
        (first ? `\n        first: ${describe(first)}` : ''),
      first,
    };
  return { ok: true, text: `${counts}; first: ${first ? describe(first) : '-'}`, first };
}
