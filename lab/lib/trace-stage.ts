// The `ruletrail trace` stage: the real command, as root, in the lab's node namespace, on every backend.
//
// For each scenario × backend it loads the scenario's rules WITHOUT their TRACE rules (trace adds its own),
// records the ruleset and the sysctls trace may touch, runs `ruletrail trace --netns NODE … --save DIR` with a
// tcpdump-like filter built from the probes, sends the probes, stops the trace (SIGINT, SIGTERM, --count or
// --duration, one per backend, so every way out is exercised), and then checks:
//   - trace's live NDJSON equals `ruletrail explain` on the capture and snapshots it saved (same files, same
//     adapters; for the monitor channels, whose lines carry no time, the arrival stamps trace adds are left out);
//   - every probe has its packet, and on the iptables backends the scenario's expectation holds for it;
//   - the ruleset (iptables-legacy-save, ip6tables-legacy-save, nft list ruleset) and the sysctls are exactly
//     as before, and no process trace started is left.
// Then, per backend, a trace killed with SIGKILL leaves its rules behind (checked), and `ruletrail trace
// --cleanup` restores the node exactly.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { CLI, REPO_ROOT, checkExplanation, describe, packetsForProbe, type Json } from './explain';
import { createTopology, readSysctl } from './netns';
import { startService, runProbe } from './pass';
import { nsRun, run, sleep, startBg, waitFor, type Bg } from './proc';
import type { ChannelName, LabAddresses, Probe, ProbeRun, Scenario } from './types';

export type TraceBackend = 'iptables-legacy' | 'iptables-nft' | 'nftables';

export interface TraceCase {
  readonly backend: TraceBackend;
  readonly channel: 'kernel-log' | 'nflog-pcap' | 'xtables-monitor' | 'nft-monitor';
  /** How the trace is stopped in this case. */
  readonly stop: 'SIGINT' | 'SIGTERM' | 'count' | 'duration';
}

export const TRACE_CASES: readonly TraceCase[] = [
  { backend: 'iptables-legacy', channel: 'kernel-log', stop: 'SIGINT' },
  { backend: 'iptables-legacy', channel: 'nflog-pcap', stop: 'SIGTERM' },
  { backend: 'iptables-nft', channel: 'xtables-monitor', stop: 'count' },
  { backend: 'nftables', channel: 'nft-monitor', stop: 'duration' },
];

/**
 * Scenarios the stage runs by default: the write-up, an explicit DROP, UDP/ICMP with DNAT and REJECT, and the
 * write-up's fix applied mid-trace (the ruleset change trace must notice).
 */
export const TRACE_SCENARIOS: readonly string[] = ['incident', 'explicit-drop', 'udp-icmp', 'drift'];

type Report = (ok: boolean | 'known', text: string) => void;

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
 * An iptables `-t T -D CHAIN <spec>` mutation on the translated nftables ruleset: the rule of `ip T CHAIN` that
 * matches the spec's destination port and target chain (or verdict), deleted by its handle.
 */
function nftMutation(node: string, mutations: readonly (readonly string[])[]): void {
  for (const m of mutations) {
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

/** A tcpdump-like filter selecting exactly the probes' first packets (SYNs, datagrams, echo requests). */
export function probeFilter(probes: readonly Probe[], srcOf: (p: Probe) => string): string {
  const parts = probes.map((p) => {
    const src = `src host ${srcOf(p)}`;
    if (p.proto === 'icmp') return `(${p.family === 6 ? 'icmp6' : 'icmp'} and ${src})`;
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

/**
 * The comparable form of an explanation. Monitor channels print no time, so trace stamps arrival times that the
 * saved capture cannot carry: those fields are left out for them (and only for them).
 */
function comparable(p: Json, monitor: boolean): string {
  const c = JSON.parse(JSON.stringify(p)) as Json;
  if (monitor) {
    const pk = c['packet'] as Json | undefined;
    if (pk) delete pk['firstSeen'];
    for (const s of (c['steps'] as Json[] | undefined) ?? []) delete s['time'];
    c['flags'] = ((c['flags'] as string[] | undefined) ?? []).filter(
      (f) => f !== 'event_before_snapshots' && f !== 'snapshot_by_fit',
    );
    delete c['cause'];
  }
  return JSON.stringify(c);
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
      const ns = s.ns === 'node' ? topo.node : topo.client;
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
  const h = p.from === 'pod' ? a.pod : a.client;
  return p.family === 4 ? h.v4 : h.v6;
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
  for (const sc of scs) {
    for (const c of cases) {
      n++;
      const label = `trace ${sc.name}/${c.backend}+${c.channel}`;
      const dir = path.join(ctx.outRoot, 'trace', sc.name, `${c.backend}-${c.channel}`);
      fs.rmSync(dir, { recursive: true, force: true });
      fs.mkdirSync(dir, { recursive: true });
      const t0 = Date.now();
      try {
        await traceCase(ctx, sc, c, String(n), dir, stateDir, label);
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
  for (const c of cases) {
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
    if (probes.length === 0) {
      ctx.report(
        'known',
        `${label}: xtables-monitor 1.8.9 cannot print IPv6 rules that match a protocol; not traced`,
      );
      return;
    }
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
      '--duration',
      // Generous: on a loaded machine a probe can take seconds, and a probe after the end is not traced.
      c.stop === 'duration' ? `${probes.length * 3 + 8 + (mutation ? 5 : 0)}s` : '60s',
      ...(c.stop === 'count' ? ['--count', String(probes.length)] : []),
      probeFilter(probes, (p) => srcFor(a, p)),
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
        const from = p.from === 'pod' ? topo.pod : topo.client;
        const h = p.to === 'node' ? a.node : a.client;
        runs.push(runProbe(from!, p, srcFor(a, p), p.family === 4 ? h.v4 : h.v6));
        await sleep(150);
      }
      if (c.stop === 'SIGINT' || c.stop === 'SIGTERM') {
        // Let the last packet complete (correlation window), then stop it as an operator would.
        await sleep(2500);
        t.bg.child.kill(c.stop);
      }
    } catch (e) {
      t.bg.child.kill('SIGTERM');
      await t.exit;
      throw e;
    }
    const code = await Promise.race([t.exit, sleep(90_000).then(() => 'hung' as const)]);
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
        `${label}: stopped by ${c.stop}; ruleset and sysctls exactly as before${mutation ? ' (plus the mid-trace change)' : ''}, no process left`,
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
    const monitor = c.channel === 'xtables-monitor' || c.channel === 'nft-monitor';
    const l = live.map((p) => comparable(p, monitor)).sort();
    const o = offline.map((p) => comparable(p, monitor)).sort();
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
        `${label}: ${live.length} live explanations equal 'ruletrail explain' on the saved ${session.capture} with ${session.rules.join(', ')}`,
      );
    if (mutation && session.rules.filter((r) => /^(iptables-save|nft-ruleset)/.test(r)).length < 2)
      ctx.report(
        false,
        `${label}: the ruleset changed mid-trace but trace took no new snapshot (${session.rules.join(', ')})`,
      );

    // Each probe's packet, and (iptables backends) the scenario's expectation for it.
    for (const pr of runs) {
      const probe = probes.find((p) => p.id === pr.id)!;
      const pk = packetsForProbe(live, probe, pr);
      if (pk.length === 0) {
        ctx.report(false, `${label} ${pr.id}: no live explanation for the probe (${pr.result})`);
        continue;
      }
      if (c.backend === 'nftables') {
        ctx.report(true, `${label} ${pr.id}: ${describe(pk[0]!)}`);
        continue;
      }
      // With a mid-trace change, trace joins each packet with the snapshot in force at its time: the
      // expectation is the one for "all snapshots given".
      const want = mutation ? (probe.explainWithAllSnapshots ?? probe.explain) : probe.explain;
      const errs = new Set<string>();
      for (const p of pk) for (const e of checkExplanation(p, want, c.channel as ChannelName)) errs.add(e);
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
  const c: TraceCase = { backend: 'iptables-legacy', channel: 'nflog-pcap', stop: 'SIGINT' };
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
