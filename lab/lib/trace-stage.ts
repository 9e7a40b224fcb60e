// The `ruletrail trace` stage: the real command, as root, in the lab's node namespace, for every scenario on every
// backend it applies to (`traceSkip` says why a combination does not exist).
//
// For each scenario × backend it loads the scenario's rules WITHOUT their TRACE rules (trace adds its own),
// records the ruleset and the sysctls trace may touch, runs `ruletrail trace --netns NODE … --save DIR` with a
// tcpdump-like filter built from the probes, sends the probes, stops the trace (SIGINT, SIGTERM, --count or
// --duration, rotated over the scenarios so every backend is stopped every way), and then checks:
//   - trace's live NDJSON equals `ruletrail explain` on the capture, snapshots and host facts it saved (same
//     files, same adapters; for the monitor channels, whose lines carry no time, the arrival stamps trace adds
//     are left out);
//   - every probe has its packet(s), and the scenario's expectation holds for it;
//   - the ruleset (iptables-legacy-save, ip6tables-legacy-save, nft list ruleset) and the sysctls are exactly
//     as before, and no process trace started is left.
// Then, on the first scenario: the operator errors produced for real (NFLOG group taken, not root, a channel
// tool missing, a filter no rule expresses), and per backend a trace killed with SIGKILL leaves its rules
// behind (checked), and `ruletrail trace --cleanup` restores the node exactly.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import {
  CLI,
  REPO_ROOT,
  checkConnection,
  checkExplanation,
  describe,
  packetsForProbe,
  type Json,
} from './explain';
import { createTopology, readSysctl } from './netns';
import { startService, runProbe } from './pass';
import { nsRun, run, sleep, startBg, waitFor, type Bg } from './proc';
import type { ChannelName, Expectation, LabAddresses, Probe, ProbeRun, Scenario } from './types';

export type TraceBackend = 'iptables-legacy' | 'iptables-nft' | 'nftables';

export interface TraceCase {
  readonly backend: TraceBackend;
  readonly channel: 'kernel-log' | 'nflog-pcap' | 'xtables-monitor' | 'nft-monitor';
}

/** How a trace is stopped. Rotated over the scenarios, so every backend is stopped every way. */
export type TraceStop = 'SIGINT' | 'SIGTERM' | 'count' | 'duration';
const STOPS: readonly TraceStop[] = ['SIGINT', 'SIGTERM', 'count'];

export const TRACE_CASES: readonly TraceCase[] = [
  { backend: 'iptables-legacy', channel: 'kernel-log' },
  { backend: 'iptables-legacy', channel: 'nflog-pcap' },
  { backend: 'iptables-nft', channel: 'xtables-monitor' },
  { backend: 'nftables', channel: 'nft-monitor' },
];

/**
 * Why a scenario is not traced on a backend (undefined: it is). `known`: a tool on this machine cannot do it
 * (reported as KNOWN); otherwise the combination does not exist (reported as a skip).
 */
export function traceSkip(sc: Scenario, c: TraceCase): { why: string; known?: boolean } | undefined {
  if (sc.nft && c.backend !== 'nftables')
    return { why: 'a native nftables ruleset (nft -f): only the nftables backend has it' };
  if (sc.channels) {
    const legacy = sc.channels.some(
      (ch) => ch === 'kernel-log' || ch === 'nflog-pcap' || ch === 'ulogd-json',
    );
    const xt = sc.channels.includes('xtables-monitor');
    const nft = sc.channels.includes('nft-monitor') || xt;
    const has = c.backend === 'iptables-legacy' ? legacy : c.backend === 'iptables-nft' ? xt : nft;
    if (!has)
      return {
        why: `the scenario is ${legacy ? 'iptables-legacy' : 'nftables'}-only (captured on ${sc.channels.join(', ')}: lab/scenarios.ts)`,
      };
  }
  if (c.channel === 'xtables-monitor' && sc.probes.every((p) => p.family === 6))
    return {
      why: 'xtables-monitor 1.8.9 exits on the first ip6tables-nft rule that matches a protocol; not traced',
      known: true,
    };
  return undefined;
}

type Report = (ok: boolean | 'known' | 'skip', text: string) => void;

export interface TraceStageContext {
  readonly prefix: string;
  readonly tmp: string;
  readonly outRoot: string;
  readonly addresses: LabAddresses;
  readonly macPrefix: string;
  readonly report: Report;
}

const LAUNCHER = path.join(REPO_ROOT, 'packages', 'cli', 'bin', 'ruletrail.js');
const cliPath = (): string => (fs.existsSync(LAUNCHER) ? LAUNCHER : CLI);

/** The scenario's rules without TRACE rules: trace must install (and remove) its own. */
function withoutTrace(rules: string): string {
  return rules
    .split('\n')
    .filter((l) => !/ -j TRACE\b/.test(l))
    .join('\n');
}

/** What must be identical before and after a trace: the rules, then the sysctls (`== ` sections). */
function nodeState(node: string): string {
  const parts: string[] = [];
  for (const argv of [
    ['iptables-legacy-save'],
    ['ip6tables-legacy-save'],
    ['iptables-nft-save'],
    ['ip6tables-nft-save'],
    ['nft', 'list', 'ruleset'],
  ]) {
    const out = nsRun(node, argv, { allowFail: true }).stdout;
    // Stamps and packet counters change with time and traffic, not with rules.
    const norm = out
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .map((l) => l.replace(/\[\d+:\d+\]/g, '[]').replace(/counter packets \d+ bytes \d+/g, 'counter'))
      .join('\n');
    parts.push(`== ${argv.join(' ')}\n${norm}`);
  }
  for (const k of ['net.netfilter.nf_log.2', 'net.netfilter.nf_log.10'])
    parts.push(`== ${k} (node) ${nsRun(node, ['cat', `/proc/sys/${k.replace(/\./g, '/')}`]).stdout.trim()}`);
  parts.push(`== net.netfilter.nf_log_all_netns (host) ${readSysctl('net.netfilter.nf_log_all_netns')}`);
  return parts.join('\n');
}

/**
 * An iptables mutation on the translated nftables ruleset. `-D CHAIN <spec>`: the rule of `ip T CHAIN` that
 * matches the spec's destination port and target chain (or verdict), deleted by its handle (nft cannot delete
 * by spec). `-I`/`-A`: the rule as `iptables-translate` writes it (`nft 'insert rule ip T CHAIN …'`).
 */
function nftMutation(node: string, mutations: readonly (readonly string[])[]): void {
  for (const m of mutations) {
    if (!m.includes('-D')) {
      const tr = run(['iptables-translate', ...m]).stdout.trim();
      const cmd = /^nft '(.*)'$/.exec(tr)?.[1] ?? tr.replace(/^nft /, '');
      if (!/^(insert|add) rule /.test(cmd)) throw new Error(`iptables-translate ${m.join(' ')}: ${tr}`);
      nsRun(node, ['nft', '-f', '-'], { input: `${cmd}\n` });
      continue;
    }
    const table = m[m.indexOf('-t') + 1] ?? 'filter';
    const chain = m[m.indexOf('-D') + 1]!;
    const dport = m[m.indexOf('--dport') + 1];
    const target = m[m.indexOf('-j') + 1];
    const list = nsRun(node, ['nft', '-a', 'list', 'chain', 'ip', table, chain]).stdout.split('\n');
    const line = list.find(
      (l) =>
        (dport === undefined || l.includes(`dport ${dport}`)) &&
        (target === undefined || l.includes(` ${target}`)) &&
        /# handle \d+/.test(l),
    );
    if (!line) throw new Error(`no rule of ip ${table} ${chain} matches ${m.join(' ')}`);
    const handle = /# handle (\d+)/.exec(line)![1]!;
    nsRun(node, ['nft', 'delete', 'rule', 'ip', table, chain, 'handle', handle]);
  }
}

/** A node state with trace's own rules left out and the sysctl sections of `sysctlsFrom`. */
function withoutTraceLines(state: string, sysctlsFrom: string): string {
  const kept: string[] = [];
  let inTraceTable = false;
  for (const l of state.split('\n')) {
    // trace's own nftables table, `table inet ruletrail_trace_<id> { … }`, up to its closing brace.
    if (l.startsWith('table inet ruletrail_trace_')) inTraceTable = true;
    if (inTraceTable) {
      if (l === '}') inTraceTable = false;
      continue;
    }
    // iptables-nft rules show in `nft list ruleset` without their comment: trace's are the only nftrace rules.
    if (l.includes('ruletrail-trace:') || l.includes('nftrace set 1') || l.startsWith('== net.')) continue;
    kept.push(l);
  }
  const sysctls = sysctlsFrom.split('\n').filter((l) => l.startsWith('== net.'));
  return [kept.join('\n'), ...sysctls].join('\n');
}

function diff(a: string, b: string): string {
  const al = a.split('\n');
  const bl = b.split('\n');
  const out: string[] = [];
  for (const l of al) if (!bl.includes(l)) out.push(`- ${l}`);
  for (const l of bl) if (!al.includes(l)) out.push(`+ ${l}`);
  return out.slice(0, 12).join('\n        ');
}

/**
 * A tcpdump-like filter selecting exactly the probes' first packets (SYNs, datagrams, echo requests), or, for a
 * whole-connection probe, every packet of its connection both ways (the replies by the server's address and
 * port as first seen: a pod's, behind a NodePort's DNAT).
 */
export function probeFilter(
  probes: readonly Probe[],
  srcOf: (p: Probe) => string,
  dstOf: (p: Probe) => string,
): string {
  const parts = probes.map((p) => {
    const src = `src host ${srcOf(p)}`;
    // By destination too: the client's IPv6 neighbour solicitations (to a multicast address) are not probes.
    if (p.proto === 'icmp')
      return `(${p.family === 6 ? 'icmp6' : 'icmp'} and ${src} and dst host ${dstOf(p)})`;
    if (p.connection) {
      const from = p.connection.replyFrom;
      return (
        `(${p.proto} and host ${srcOf(p)} and port ${p.dport})` +
        (from ? ` or (${p.proto} and src host ${from.addr} and src port ${from.port})` : '')
      );
    }
    const syn = p.proto === 'tcp' ? ' and tcp[tcpflags] & tcp-syn != 0' : '';
    return `(${p.proto} and ${src} and dst port ${p.dport}${syn})`;
  });
  return [...new Set(parts)].join(' or ');
}

function parseNdjson(text: string): Json[] {
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Json);
}

interface Started {
  readonly bg: Bg;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly exit: Promise<number | null>;
}

function startTrace(args: readonly string[], dir: string): Started {
  fs.mkdirSync(dir, { recursive: true });
  const child = spawn(process.execPath, [cliPath(), 'trace', ...args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
  child.stderr.on('data', (b: Buffer) => (err += b.toString('utf8')));
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const bg = {
    name: 'ruletrail trace',
    child,
    pid: child.pid!,
    stdoutFile: '',
    stderrFile: '',
    exited: () => child.exitCode !== null || child.signalCode !== null,
    stderr: () => err,
    stdout: () => out,
    stop: async () => {
      child.kill('SIGTERM');
      await exit;
    },
  } as Bg;
  return { bg, stdout: () => out, stderr: () => err, exit };
}

async function waitReady(t: Started): Promise<void> {
  await waitFor(
    'ruletrail trace to start tracing',
    () => {
      if (t.bg.exited()) throw new Error(`ruletrail trace exited at start: ${t.stderr().trim()}`);
      return /ruletrail trace: session \w+: tracing/.test(t.stderr());
    },
    20_000,
  );
}

/** Loads the scenario into a fresh node for a backend; returns the namespaces and services. */
async function setUp(ctx: TraceStageContext, sc: Scenario, c: TraceCase, idx: string, dir: string) {
  const a = ctx.addresses;
  const topo = createTopology({
    prefix: `${ctx.prefix}-t${idx}`,
    clientAddr: a.client,
    nodeAddr: a.node,
    macPrefix: ctx.macPrefix,
    ...(sc.pod ? { pod: { podAddr: a.pod, nodeSide: a.nodePodSide } } : {}),
  });
  const services: Bg[] = [];
  try {
    for (const cidr of sc.nodeExtraAddresses ?? []) {
      run(['ip', '-n', topo.node, 'addr', 'add', cidr, 'dev', 'lo']);
      run(['ip', '-n', topo.client, 'route', 'add', cidr.replace(/\/\d+$/, ''), 'via', a.node.v4]);
    }
    // A native nftables scenario keeps its own `meta nftrace` rules: trace's table must do the tracing.
    if (sc.nft) nsRun(topo.node, ['nft', '-f', '-'], { input: withoutNftrace(sc.nft(a)) });
    const rs = sc.rules(a);
    for (const [text, fam] of [
      [withoutTrace(rs.v4), 4],
      [withoutTrace(rs.v6), 6],
    ] as const) {
      if (!text.trim()) continue;
      const t = fam === 4 ? 'iptables' : 'ip6tables';
      if (c.backend === 'iptables-legacy') nsRun(topo.node, [`${t}-legacy-restore`], { input: text });
      else if (c.backend === 'iptables-nft') nsRun(topo.node, [`${t}-nft-restore`], { input: text });
      else {
        // Native nftables: the same rules translated by iptables-restore-translate, loaded with nft -f.
        const file = path.join(dir, `rules-v${fam}.iptables`);
        fs.writeFileSync(file, text);
        // iptables-restore-translate 1.8.9 drops the protocol of `-p tcp -m tcp -j DNAT --to-destination A:P`,
        // which nft then refuses ("transport protocol mapping is only valid after transport protocol match").
        const nft = run([`${t}-restore-translate`, '-f', file])
          .stdout.split('\n')
          .map((l) =>
            / dnat to \S+:\d+/.test(l) && !/\b(tcp|udp|l4proto)\b/.test(l.split(' comment ')[0]!)
              ? l.replace(' counter dnat', ' meta l4proto tcp counter dnat')
              : l,
          )
          .join('\n');
        fs.writeFileSync(path.join(dir, `rules-v${fam}.nft`), nft);
        nsRun(topo.node, ['nft', '-f', '-'], { input: nft });
      }
    }
    for (const s of sc.services) {
      const ns = s.ns === 'node' ? topo.node : s.ns === 'pod' ? topo.pod : topo.client;
      if (!ns) throw new Error(`service ${s.port} needs a pod namespace`);
      services.push(await startService(ns, s.kind, s.port, dir, ctx.tmp));
    }
  } catch (e) {
    for (const s of services) await s.stop();
    topo.destroy();
    throw e;
  }
  return { topo, services };
}

function srcFor(a: LabAddresses, p: Probe): string {
  const h = p.from === 'pod' ? a.pod : p.from === 'node' ? a.node : a.client;
  return p.family === 4 ? h.v4 : h.v6;
}

function dstFor(a: LabAddresses, p: Probe): string {
  const h = p.to === 'node' ? a.node : p.to === 'pod' ? a.pod : a.client;
  return p.dstAddr ?? (p.family === 4 ? h.v4 : h.v6);
}

/**
 * An expectation for the nftables translation of an iptables scenario: its rules are nft text
 * (`tcp dport 52000`), so the iptables-syntax rule substrings (`--dport 52000`) are not checked; tables, chains,
 * verdicts, marks, NAT, services and flags are.
 */
function withoutIptablesText(e: Expectation): Expectation {
  const { decidedBy, markReachedFrom, ...rest } = e;
  return {
    ...rest,
    ...(decidedBy ? { decidedBy: { ...decidedBy, ruleIncludes: undefined } } : {}),
    ...(markReachedFrom ? { markReachedFrom: { ...markReachedFrom, ruleIncludes: '' } } : {}),
  } as Expectation;
}

/** A native nftables ruleset without its own `meta nftrace set 1` rules (chains of only those are kept empty). */
function withoutNftrace(nft: string): string {
  return nft
    .split('\n')
    .filter((l) => !/\bmeta nftrace set 1\b/.test(l))
    .join('\n');
}

/** Processes trace may have started (their command names) that still run in the node namespace. */
function strayChildren(node: string): string[] {
  const pids = run(['ip', 'netns', 'pids', node], { allowFail: true }).stdout.split(/\s+/).filter(Boolean);
  const out: string[] = [];
  for (const pid of pids) {
    let cmd = '';
    try {
      cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
    } catch {
      continue;
    }
    if (/\b(tcpdump|xtables-monitor|nft monitor)\b/.test(cmd)) out.push(`${pid} ${cmd}`);
  }
  return out;
}

export async function runTraceStage(
  ctx: TraceStageContext,
  scs: readonly Scenario[],
  cases: readonly TraceCase[] = TRACE_CASES,
): Promise<void> {
  const stateDir = path.join(ctx.tmp, 'trace-state');
  let n = 0;
  for (const [si, sc] of scs.entries()) {
    for (const [ci, c] of cases.entries()) {
      const label = `trace ${sc.name}/${c.backend}+${c.channel}`;
      const skip = traceSkip(sc, c);
      if (skip) {
        ctx.report(skip.known ? 'known' : 'skip', `${label}: ${skip.why}`);
        continue;
      }
      n++;
      // Every backend is stopped every way over the scenarios: --duration (the slowest: it must outlast the
      // probes on a loaded machine) once per backend, the others in turn; a whole-connection probe has no count.
      let stop: TraceStop = si === ci ? 'duration' : STOPS[(si + ci) % STOPS.length]!;
      if (stop === 'count' && sc.probes.some((p) => p.connection)) stop = 'SIGINT';
      const dir = path.join(ctx.outRoot, 'trace', sc.name, `${c.backend}-${c.channel}`);
      fs.rmSync(dir, { recursive: true, force: true });
      fs.mkdirSync(dir, { recursive: true });
      const t0 = Date.now();
      try {
        await traceCase(ctx, sc, c, stop, String(n), dir, stateDir, label);
      } catch (e) {
        ctx.report(false, `${label}: ${e instanceof Error ? e.message : String(e)}`);
      }
      if (process.env.RT_LAB_VERBOSE) process.stderr.write(`${label}: ${Date.now() - t0} ms\n`);
    }
  }
  // SIGKILL, then --cleanup: once per backend, on the first scenario.
  const first = scs[0];
  if (!first) return;
  n++;
  try {
    await busyCase(
      ctx,
      first,
      String(n),
      path.join(ctx.outRoot, 'trace', first.name, 'nflog-busy'),
      stateDir,
    );
  } catch (e) {
    ctx.report(false, `trace-busy ${first.name}: ${e instanceof Error ? e.message : String(e)}`);
  }
  n++;
  try {
    await errorCases(ctx, first, String(n), path.join(ctx.outRoot, 'trace', first.name, 'errors'), stateDir);
  } catch (e) {
    ctx.report(false, `trace-error ${first.name}: ${e instanceof Error ? e.message : String(e)}`);
  }
  for (const c of cases) {
    if (traceSkip(first, c)) continue;
    n++;
    const label = `trace-kill ${first.name}/${c.backend}+${c.channel}`;
    const dir = path.join(ctx.outRoot, 'trace', first.name, `${c.backend}-${c.channel}-sigkill`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    try {
      await killCase(ctx, first, c, String(n), dir, stateDir, label);
    } catch (e) {
      ctx.report(false, `${label}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

async function traceCase(
  ctx: TraceStageContext,
  sc: Scenario,
  c: TraceCase,
  stop: TraceStop,
  idx: string,
  dir: string,
  stateDir: string,
  label: string,
): Promise<void> {
  const a = ctx.addresses;
  const { topo, services } = await setUp(ctx, sc, c, idx, dir);
  try {
    // xtables-monitor 1.8.9 exits on the first ip6tables-nft rule with a protocol it prints (lab/README.md).
    const probes = sc.probes.filter((p) => !(c.channel === 'xtables-monitor' && p.family === 6));
    const connections = probes.some((p) => p.connection);
    const mutation = sc.mutation;
    const before = nodeState(topo.node);
    let expected = before;
    const save = path.join(dir, 'session');
    const args = [
      '--netns',
      topo.node,
      '--backend',
      c.backend,
      '--channel',
      c.channel,
      '--format',
      'json',
      '--save',
      save,
      '--state-dir',
      stateDir,
      // A whole connection is a burst of packets both ways: the default 10/s would cut it.
      ...(connections ? ['--rate', '200/s'] : []),
      '--duration',
      // The time the probes take, with a margin for a loaded machine (a probe after the end is not traced).
      stop === 'duration' ? `${Math.ceil(probes.length * 2.5) + 6 + (mutation ? 4 : 0)}s` : '90s',
      ...(stop === 'count' ? ['--count', String(probes.length)] : []),
      probeFilter(
        probes,
        (p) => srcFor(a, p),
        (p) => dstFor(a, p),
      ),
    ];
    fs.writeFileSync(
      path.join(dir, 'trace.cmd'),
      `ruletrail trace ${args.map((x) => (/\s/.test(x) ? JSON.stringify(x) : x)).join(' ')}\n`,
    );
    const t = startTrace(args, dir);
    const runs: ProbeRun[] = [];
    try {
      await waitReady(t);
      for (const [i, p] of probes.entries()) {
        if (mutation && mutation.afterProbe === i) {
          // Seconds apart, as in the capture passes: iptables-save stamps snapshots to the second.
          await sleep(2000);
          if (c.backend === 'nftables') nftMutation(topo.node, mutation.iptables);
          else {
            const bin = c.backend === 'iptables-legacy' ? 'iptables-legacy' : 'iptables-nft';
            for (const argv of mutation.iptables) nsRun(topo.node, [bin, ...argv]);
          }
          // The node as it must be after the trace: as now, without trace's rules, with the sysctls of before.
          expected = withoutTraceLines(nodeState(topo.node), before);
          await sleep(2000);
        }
        const from = p.from === 'pod' ? topo.pod : p.from === 'node' ? topo.node : topo.client;
        if (!from) throw new Error(`probe ${p.id} needs a pod namespace`);
        runs.push(runProbe(from, p, srcFor(a, p), dstFor(a, p)));
        await sleep(150);
      }
      if (stop === 'SIGINT' || stop === 'SIGTERM') {
        // Let the last packet complete (correlation window), then stop it as an operator would.
        await sleep(2500);
        t.bg.child.kill(stop);
      }
    } catch (e) {
      t.bg.child.kill('SIGTERM');
      await t.exit;
      throw e;
    }
    const code = await Promise.race([t.exit, sleep(120_000).then(() => 'hung' as const)]);
    fs.writeFileSync(path.join(dir, 'trace.ndjson'), t.stdout());
    fs.writeFileSync(path.join(dir, 'trace.stderr'), t.stderr());
    if (code === 'hung') {
      t.bg.child.kill('SIGKILL');
      throw new Error('ruletrail trace did not stop');
    }
    const after = nodeState(topo.node);
    const stray = strayChildren(topo.node);
    if (code !== 0)
      ctx.report(false, `${label}: exit ${code}: ${t.stderr().trim().split('\n').slice(-3).join(' | ')}`);
    if (expected !== after)
      ctx.report(false, `${label}: the node is not as before the trace:\n        ${diff(expected, after)}`);
    else if (stray.length) ctx.report(false, `${label}: processes left running: ${stray.join('; ')}`);
    else
      ctx.report(
        true,
        `${label}: stopped by ${stop}; ruleset and sysctls exactly as before${mutation ? ' (plus the mid-trace change)' : ''}, no process left`,
      );

    // Live output vs `ruletrail explain` on what trace saved.
    const live = parseNdjson(t.stdout());
    const session = JSON.parse(fs.readFileSync(path.join(save, 'session.json'), 'utf8')) as {
      capture: string;
      rules: string[];
      explainArgs: string[];
    };
    const explainArgv = [
      cliPath(),
      'explain',
      '--format',
      'json',
      ...session.rules.flatMap((r) => ['--rules', r]),
      ...session.explainArgs,
      session.capture,
    ];
    const ex = run([process.execPath, ...explainArgv], { allowFail: true, cwd: save, timeoutMs: 60_000 });
    fs.writeFileSync(path.join(dir, 'explain.ndjson'), ex.stdout);
    fs.writeFileSync(path.join(dir, 'explain.cmd'), `(cd ${save} && node ${explainArgv.join(' ')})\n`);
    const offline = parseNdjson(ex.stdout);
    // Every field, arrival times included: the saved monitor captures carry the stamps trace read live.
    const l = live.map((p) => JSON.stringify(p)).sort();
    const o = offline.map((p) => JSON.stringify(p)).sort();
    if (ex.code !== 0)
      ctx.report(
        false,
        `${label}: ruletrail explain on the saved capture exited ${ex.code}: ${ex.stderr.trim()}`,
      );
    else if (live.length === 0) ctx.report(false, `${label}: trace printed no packet`);
    else if (JSON.stringify(l) !== JSON.stringify(o))
      ctx.report(
        false,
        `${label}: live explanations differ from 'ruletrail explain' on the saved capture (${live.length} live, ${offline.length} offline; see ${dir})`,
      );
    else
      ctx.report(
        true,
        `${label}: ${live.length} live explanations equal 'ruletrail explain' on the saved ${session.capture} with ${session.rules.join(', ')}${session.explainArgs.length ? ` ${session.explainArgs.join(' ')}` : ''}`,
      );
    if (mutation && session.rules.filter((r) => /^(iptables-save|nft-ruleset)/.test(r)).length < 2)
      ctx.report(
        false,
        `${label}: the ruleset changed mid-trace but trace took no new snapshot (${session.rules.join(', ')})`,
      );

    // Each probe's packet(s), and the scenario's expectation for it (the channel's own where it has one).
    const ch = c.channel as ChannelName;
    const translated = c.backend === 'nftables' && !sc.nft;
    for (const pr of runs) {
      const probe = probes.find((p) => p.id === pr.id)!;
      // With a mid-trace change, trace joins each packet with the snapshot in force at its time: the
      // expectation is the one for "all snapshots given".
      const given =
        (mutation ? probe.explainWithAllSnapshots : undefined) ?? probe.explainOn?.[ch] ?? probe.explain;
      const want = translated ? withoutIptablesText(given) : given;
      if (probe.connection) {
        const r = checkConnection(live, probe, pr, want, ch);
        if (r) ctx.report(r.ok, `${label} ${pr.id}: ${r.text}`);
        continue;
      }
      const pk = packetsForProbe(live, probe, pr);
      if (pk.length === 0) {
        ctx.report(false, `${label} ${pr.id}: no live explanation for the probe (${pr.result})`);
        continue;
      }
      const errs = new Set<string>();
      for (const p of pk) for (const e of checkExplanation(p, want, ch)) errs.add(e);
      if (errs.size)
        ctx.report(false, `${label} ${pr.id}: ${[...errs].join('; ')}\n        got: ${describe(pk[0]!)}`);
      else ctx.report(true, `${label} ${pr.id}: ${describe(pk[0]!)}`);
    }
  } finally {
    for (const s of services) await s.stop();
    topo.destroy();
  }
}

async function killCase(
  ctx: TraceStageContext,
  sc: Scenario,
  c: TraceCase,
  idx: string,
  dir: string,
  stateDir: string,
  label: string,
): Promise<void> {
  const { topo, services } = await setUp(ctx, sc, c, idx, dir);
  try {
    const before = nodeState(topo.node);
    const t = startTrace(
      [
        '--netns',
        topo.node,
        '--backend',
        c.backend,
        '--channel',
        c.channel,
        '--state-dir',
        stateDir,
        '--duration',
        '60s',
        'tcp and dst port 52000',
      ],
      dir,
    );
    try {
      await waitReady(t);
    } finally {
      t.bg.child.kill('SIGKILL');
      await t.exit;
    }
    const during = nodeState(topo.node);
    const leftover = /ruletrail-trace:/.test(during);
    const stateFiles = fs.existsSync(stateDir)
      ? fs.readdirSync(stateDir).filter((f) => f.startsWith('trace-'))
      : [];
    if (!leftover)
      ctx.report(
        false,
        `${label}: after SIGKILL no rule of the trace is left — the check would prove nothing`,
      );
    const cl = run(
      [process.execPath, cliPath(), 'trace', '--cleanup', '--netns', topo.node, '--state-dir', stateDir],
      {
        allowFail: true,
        cwd: REPO_ROOT,
      },
    );
    fs.writeFileSync(path.join(dir, 'cleanup.stderr'), cl.stderr);
    await sleep(200);
    const after = nodeState(topo.node);
    const stray = strayChildren(topo.node);
    const left = fs.existsSync(stateDir)
      ? fs.readdirSync(stateDir).filter((f) => f.startsWith('trace-'))
      : [];
    if (cl.code !== 0) ctx.report(false, `${label}: trace --cleanup exited ${cl.code}: ${cl.stderr.trim()}`);
    else if (before !== after)
      ctx.report(
        false,
        `${label}: after --cleanup the node is not as before:\n        ${diff(before, after)}`,
      );
    else if (stray.length)
      ctx.report(false, `${label}: processes left running after --cleanup: ${stray.join('; ')}`);
    else if (left.length) ctx.report(false, `${label}: state files left after --cleanup: ${left.join(', ')}`);
    else
      ctx.report(
        true,
        `${label}: SIGKILL left ${leftover ? 'its rules' : 'nothing'}${stateFiles.length ? ' and its state file' : ''}; --cleanup restored ruleset and sysctls exactly (${cl.stderr.split('\n').filter((x) => /removed|restored|stopped/.test(x)).length} actions)`,
      );
  } finally {
    for (const s of services) await s.stop();
    topo.destroy();
  }
}

/** Another tracer holds NFLOG group 0: trace must say so, exit 1, and leave the node as it was. */
async function busyCase(
  ctx: TraceStageContext,
  sc: Scenario,
  idx: string,
  dir: string,
  stateDir: string,
): Promise<void> {
  const label = `trace-busy ${sc.name}/iptables-legacy+nflog-pcap`;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const c: TraceCase = { backend: 'iptables-legacy', channel: 'nflog-pcap' };
  const { topo, services } = await setUp(ctx, sc, c, idx, dir);
  const other = startBg(
    'tcpdump -i nflog:0 (the other tracer)',
    ['ip', 'netns', 'exec', topo.node, 'tcpdump', '-i', 'nflog:0', '-w', '/dev/null'],
    path.join(dir, 'other.stdout'),
    path.join(dir, 'other.stderr'),
  );
  try {
    await waitFor('the other tcpdump to listen', () => other.stderr().includes('listening on'), 10_000);
    const before = nodeState(topo.node);
    const r = run(
      [
        process.execPath,
        cliPath(),
        'trace',
        '--netns',
        topo.node,
        '--backend',
        c.backend,
        '--channel',
        c.channel,
        '--state-dir',
        stateDir,
        '--duration',
        '5s',
        'tcp and dst port 52000',
      ],
      { allowFail: true, cwd: REPO_ROOT, timeoutMs: 60_000 },
    );
    fs.writeFileSync(path.join(dir, 'trace.stderr'), r.stderr);
    const after = nodeState(topo.node);
    if (r.code !== 1 || !/NFLOG group 0 .*already bound by netlink port \d+/.test(r.stderr))
      ctx.report(
        false,
        `${label}: expected exit 1 naming the bound NFLOG group, got exit ${r.code}: ${r.stderr.trim()}`,
      );
    else if (before !== after)
      ctx.report(false, `${label}: the failed start left the node changed:\n        ${diff(before, after)}`);
    else
      ctx.report(
        true,
        `${label}: refused with "${
          r.stderr
            .trim()
            .split('\n')
            .find((l) => /already bound/.test(l))
            ?.slice(0, 110) ?? ''
        }…", node unchanged`,
      );
  } finally {
    await other.stop();
    for (const s of services) await s.stop();
    topo.destroy();
  }
}

/**
 * The errors an operator can meet, produced for real against a node with the scenario loaded: trace must exit
 * with the reason and leave the node exactly as it was. A missing tool is made missing for trace alone: a
 * private mount namespace (`unshare -m`) binds /dev/null over the tool (not an executable file any more).
 * Not produced here: a missing TRACE target or nf_log module (the host's kernel modules are not ours to
 * unload) — packages/cli/test/trace-session.test.ts covers those with a scripted kernel view.
 */
async function errorCases(
  ctx: TraceStageContext,
  sc: Scenario,
  idx: string,
  dir: string,
  stateDir: string,
): Promise<void> {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const c: TraceCase = { backend: 'iptables-legacy', channel: 'kernel-log' };
  const { topo, services } = await setUp(ctx, sc, c, idx, dir);
  const trace = (...args: string[]): string[] => [
    process.execPath,
    cliPath(),
    'trace',
    '--netns',
    topo.node,
    '--state-dir',
    stateDir,
    '--duration',
    '5s',
    ...args,
  ];
  /** Every path the tool is found under (merged /usr: /bin/x is /usr/bin/x), bound over in a private mount ns. */
  const without = (tool: string, argv: string[]): string[] => {
    const paths = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']
      .map((d) => `${d}/${tool}`)
      .filter((f) => fs.existsSync(f))
      .map((f) => fs.realpathSync(f));
    const binds = [...new Set(paths)].map((f) => `mount --bind /dev/null ${f}`).join(' && ');
    return [
      'unshare',
      '-m',
      '--propagation',
      'private',
      'sh',
      '-c',
      `${binds || 'true'} && exec "$@"`,
      'sh',
      ...argv,
    ];
  };
  const nobody = (argv: string[]): string[] => [
    'setpriv',
    '--reuid=65534',
    '--regid=65534',
    '--clear-groups',
    '--',
    ...argv,
  ];
  const cases: { what: string; argv: string[]; code: number; want: RegExp }[] = [
    {
      what: 'not root (setpriv to nobody)',
      argv: nobody(trace('--backend', 'iptables-legacy', 'tcp and dst port 52000')),
      code: 1,
      want: /must run as root/,
    },
    {
      what: 'tcpdump missing (nflog-pcap)',
      argv: without('tcpdump', trace('--backend', 'iptables-legacy', '--channel', 'nflog-pcap', 'tcp')),
      code: 1,
      want: /tcpdump is not installed; the nflog-pcap channel needs it \(Debian\/Ubuntu: apt-get install tcpdump\)/,
    },
    {
      what: 'xtables-monitor missing (iptables-nft)',
      argv: without('xtables-monitor', trace('--backend', 'iptables-nft', 'tcp')),
      code: 1,
      want: /xtables-monitor is not installed.*apt-get install iptables\b/,
    },
    {
      what: 'nft missing (nftables)',
      argv: without('nft', trace('--backend', 'nftables', 'tcp')),
      code: 1,
      want: /nft is not installed.*apt-get install nftables\b/,
    },
    {
      what: 'a filter that cannot be one rule',
      argv: trace('--backend', 'iptables-legacy', 'tcp and dst port 80 and dst port 81'),
      code: 2,
      want: /two dst port tests in one conjunction cannot be one rule/,
    },
    {
      what: 'no rate limit without --no-limit',
      argv: trace('--backend', 'iptables-legacy', '--rate', '0', 'tcp'),
      code: 2,
      want: /--rate must be at least 1 packet \(use --no-limit/,
    },
  ];
  try {
    const before = nodeState(topo.node);
    for (const [i, k] of cases.entries()) {
      const label = `trace-error ${sc.name}/${k.what}`;
      const r = run(k.argv, { allowFail: true, cwd: '/', timeoutMs: 60_000 });
      fs.writeFileSync(path.join(dir, `error-${i}.txt`), `${k.argv.join(' ')}\nexit ${r.code}\n${r.stderr}`);
      const after = nodeState(topo.node);
      const msg = r.stderr
        .trim()
        .split('\n')
        .find((l) => k.want.test(l));
      if (r.code !== k.code || !msg)
        ctx.report(
          false,
          `${label}: expected exit ${k.code} and ${k.want}, got exit ${r.code}: ${r.stderr.trim()}`,
        );
      else if (after !== before)
        ctx.report(false, `${label}: the failed start changed the node:\n        ${diff(before, after)}`);
      else ctx.report(true, `${label}: exit ${r.code}, "${msg.slice(0, 140)}", node unchanged`);
    }
  } finally {
    for (const s of services) await s.stop();
    topo.destroy();
  }
}
