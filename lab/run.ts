// ruletrail real-kernel lab. `npm run lab -- --help` for usage; lab/README.md for the story.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Channel } from './lib/capture';
import {
  KnownIssue,
  PrivateRsyslog,
  kernelLogChannel,
  nflogPcapChannel,
  ulogdJsonChannel,
  xtablesMonitorChannel,
  nftMonitorChannel,
} from './lib/capture';
import type { Json } from './lib/explain';
import {
  CLI,
  REPO_ROOT,
  adapterBuilt,
  checkExplanation,
  connectionPackets,
  describe,
  checkConnection,
  essence,
  packetsForProbe,
  runExplain,
} from './lib/explain';
import { installSignalHandlers, onCleanup, run, runCleanup, setVerbose } from './lib/proc';
import { runPass, toolVersions } from './lib/pass';
import { compareWithTrace, connectionKey, type Agreement } from './lib/simulate';
import type { ChannelName, Expectation, LabAddresses, PassMeta, Probe } from './lib/types';
import { ALL_CHANNELS, EXTRA_CHANNELS, backendOf } from './lib/types';
import { SCENARIO_NAMES, scenarios } from './scenarios';
import { TRACE_CASES, runTraceStage } from './lib/trace-stage';

const USAGE = `usage: npm run lab -- [options]

Captures real netfilter TRACE output in throw-away network namespaces, then runs
\`ruletrail explain\` on every capture and checks the explanation. Needs root.

  --scenario a,b        scenarios to run (default: all): ${SCENARIO_NAMES.join(', ')}
  --channel a,b         channels (default: ${ALL_CHANNELS.join(', ')});
                        opt-in: ${EXTRA_CHANNELS.join(', ')}; 'all' for every one
  --out DIR             where captures and explain output go (default: $TMPDIR/ruletrail-lab/<run>)
  --write-fixtures [D]  also copy the small captures + snapshots to D (default: test/fixtures/lab)
  --from-fixtures [D]   no kernel work: run the explain checks on committed captures in D
  --capture-only        capture and check the captures, skip ruletrail
  --trace-scenario a,b  scenarios of the 'ruletrail trace' stage (default: all); it runs the real command on
                        every backend the scenario applies to, after the capture passes
  --trace-only          only the 'ruletrail trace' stage
  --no-trace            skip the 'ruletrail trace' stage
  --verbose             print every command
  --help
`;

interface Args {
  scenarios: string[];
  channels: ChannelName[];
  /** `--channel` was given: scenarios with their own channel list run only the ones named. */
  channelsGiven: boolean;
  out?: string;
  writeFixtures?: string;
  fromFixtures?: string;
  captureOnly: boolean;
  verbose: boolean;
  traceScenarios: string[];
  trace: 'yes' | 'no' | 'only';
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    scenarios: [...SCENARIO_NAMES],
    channels: [...ALL_CHANNELS],
    channelsGiven: false,
    captureOnly: false,
    verbose: false,
    traceScenarios: [...SCENARIO_NAMES],
    trace: 'yes',
  };
  const fixturesDefault = path.join(REPO_ROOT, 'test', 'fixtures', 'lab');
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${k} needs a value`);
      return v;
    };
    const optional = () =>
      argv[i + 1] !== undefined && !argv[i + 1]?.startsWith('--') ? (argv[++i] as string) : undefined;
    switch (k) {
      case '--scenario':
        a.scenarios = next().split(',');
        for (const s of a.scenarios)
          if (!SCENARIO_NAMES.includes(s)) throw new Error(`unknown scenario ${s}`);
        break;
      case '--channel':
        a.channels = next().split(',') as ChannelName[];
        a.channelsGiven = true;
        if (a.channels.includes('all' as ChannelName)) a.channels = [...ALL_CHANNELS, ...EXTRA_CHANNELS];
        for (const c of a.channels)
          if (!ALL_CHANNELS.includes(c) && !EXTRA_CHANNELS.includes(c))
            throw new Error(`unknown channel ${c}`);
        break;
      case '--out':
        a.out = path.resolve(next());
        break;
      case '--write-fixtures':
        a.writeFixtures = path.resolve(optional() ?? fixturesDefault);
        break;
      case '--from-fixtures':
        a.fromFixtures = path.resolve(optional() ?? fixturesDefault);
        break;
      case '--capture-only':
        a.captureOnly = true;
        break;
      case '--verbose':
        a.verbose = true;
        break;
      case '--trace-scenario':
        a.traceScenarios = next().split(',');
        for (const s of a.traceScenarios)
          if (!SCENARIO_NAMES.includes(s)) throw new Error(`unknown scenario ${s}`);
        break;
      case '--trace-only':
        a.trace = 'only';
        break;
      case '--no-trace':
        a.trace = 'no';
        break;
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument ${k}\n${USAGE}`);
    }
  }
  return a;
}

/** Addresses are the write-up's (cos72/cos74); they exist only inside the lab's namespaces. */
const ADDRESSES: LabAddresses = {
  client: { v4: '172.28.129.2', v6: 'fd00:172:28:129::2' },
  node: { v4: '172.28.129.4', v6: 'fd00:172:28:129::4' },
  pod: { v4: '10.244.1.2', v6: 'fd00:10:244:1::2' },
  nodePodSide: { v4: '10.244.1.1', v6: 'fd00:10:244:1::1' },
};

interface Line {
  readonly ok: boolean | 'known' | 'skip';
  readonly text: string;
}

const results: Line[] = [];
/**
 * `known`: a tool bug this machine demonstrably has; `skip`: a combination that does not exist (said why).
 * Both printed, neither counted as a lab failure.
 */
function report(ok: boolean | 'known' | 'skip', text: string): void {
  results.push({ ok, text });
  process.stdout.write(
    `${ok === 'known' ? 'KNOWN' : ok === 'skip' ? 'skip ' : ok ? 'ok   ' : 'FAIL '} ${text}\n`,
  );
}

/** scenario × channel summary: the worst status reported for each cell. */
function matrix(): string {
  return table(/^(?:capture|explain|fixture|simulate) ([\w-]+)\/([\w-]+)/, [
    ...ALL_CHANNELS,
    ...EXTRA_CHANNELS,
  ]);
}

/** The trace stage's scenario × backend+channel summary (SIGKILL cases included). */
function traceMatrix(): string {
  return table(
    /^trace(?:-kill)? ([\w-]+)\/([\w+-]+)/,
    TRACE_CASES.map((c) => `${c.backend}+${c.channel}`),
  );
}

/** Worst status reported for each cell of lines whose text `re` splits into (row, column). */
function table(re: RegExp, columns: readonly string[]): string {
  const rank = ['ok', 'skip', 'KNOWN', 'no adapter', 'FAIL'];
  const cells = new Map<string, string>();
  for (const r of results) {
    const m = re.exec(r.text);
    if (!m) continue;
    const st =
      r.ok === 'known'
        ? 'KNOWN'
        : r.ok === 'skip'
          ? 'skip'
          : r.ok
            ? 'ok'
            : /adapter missing/.test(r.text)
              ? 'no adapter'
              : 'FAIL';
    const k = `${m[1]}/${m[2]}`;
    const prev = cells.get(k) ?? 'ok';
    cells.set(k, rank.indexOf(st) > rank.indexOf(prev) ? st : prev);
  }
  const scs = SCENARIO_NAMES.filter((n) => [...cells.keys()].some((k) => k.startsWith(`${n}/`)));
  const chs = columns.filter((c) => [...cells.keys()].some((k) => k.endsWith(`/${c}`)));
  if (!scs.length) return '';
  const w = Math.max(8, ...scs.map((x) => x.length));
  const cw = Math.max(16, ...chs.map((c) => c.length));
  const lines = [['scenario'.padEnd(w), ...chs.map((c) => c.padEnd(cw))].join('  ')];
  for (const sc of scs)
    lines.push([sc.padEnd(w), ...chs.map((c) => (cells.get(`${sc}/${c}`) ?? '-').padEnd(cw))].join('  '));
  return lines.map((l) => l.trimEnd()).join('\n');
}

function preflight(): void {
  if (process.getuid?.() !== 0) throw new Error('the lab needs root (network namespaces, iptables, sysctls)');
  const need = [
    'ip',
    'iptables-legacy',
    'iptables-nft',
    'ip6tables-legacy',
    'xtables-monitor',
    'nft',
    'rsyslogd',
    'tcpdump',
    'ulogd',
    'python3',
    'ping',
    'ss',
    'stdbuf',
  ];
  const missing = need.filter((b) => run(['sh', '-c', `command -v ${b}`], { allowFail: true }).code !== 0);
  if (missing.length) throw new Error(`missing tools: ${missing.join(', ')} (run lab/install.sh)`);
  kernelCheck();
}

/** Says exactly which kernel feature is missing, in a scratch namespace, before any pass starts. */
function kernelCheck(): void {
  // On modular kernels the loggers register only once loaded (built-in here; modprobe then fails harmlessly).
  for (const m of ['nf_log_syslog', 'nfnetlink_log', 'xt_TRACE', 'nft_compat'])
    run(['modprobe', '-q', m], { allowFail: true });
  if (!fs.existsSync('/proc/sys/net/netfilter/nf_log_all_netns'))
    throw new Error(
      'kernel: /proc/sys/net/netfilter/nf_log_all_netns missing (no netfilter logging support)',
    );
  const ns = `rtlab-${process.pid}-check`;
  run(['ip', 'netns', 'add', ns]);
  const undo = onCleanup(`delete netns ${ns}`, () => run(['ip', 'netns', 'del', ns], { allowFail: true }));
  try {
    const probes: [string, string[]][] = [
      [
        'iptables-legacy (CONFIG_IP_NF_IPTABLES_LEGACY, ip_tables raw table)',
        ['iptables-legacy', '-t', 'raw', '-L', '-n'],
      ],
      ['ip6tables-legacy (CONFIG_IP6_NF_IPTABLES_LEGACY)', ['ip6tables-legacy', '-t', 'raw', '-L', '-n']],
      ['iptables-nft (CONFIG_NF_TABLES, nft_compat)', ['iptables-nft', '-t', 'raw', '-L', '-n']],
      ['per-namespace logger sysctl net.netfilter.nf_log.2', ['cat', '/proc/sys/net/netfilter/nf_log/2']],
    ];
    for (const [what, argv] of probes) {
      const r = run(['ip', 'netns', 'exec', ns, ...argv], { allowFail: true });
      if (r.code !== 0)
        throw new Error(`kernel: ${what} does not work here: ${r.stderr.trim().split('\n')[0] ?? ''}`);
    }
    const loggers = fs.readFileSync('/proc/net/netfilter/nf_log', 'utf8');
    for (const l of ['nf_log_ipv4', 'nf_log_ipv6', 'nfnetlink_log'])
      if (!loggers.includes(l))
        throw new Error(`kernel: logger ${l} not registered (/proc/net/netfilter/nf_log)`);
  } finally {
    undo();
  }
}

function channelFor(name: ChannelName, rsyslog: PrivateRsyslog, tmp: string): Channel {
  switch (name) {
    case 'kernel-log':
      return kernelLogChannel(rsyslog);
    case 'nflog-pcap':
      return nflogPcapChannel();
    case 'ulogd-json':
      return ulogdJsonChannel(tmp);
    case 'xtables-monitor':
      return xtablesMonitorChannel();
    case 'nft-monitor':
      return nftMonitorChannel();
  }
}

/** Files a fixture directory keeps: the capture, the snapshots, the ifindex map, host facts and the pass record. */
function fixtureFiles(meta: PassMeta): string[] {
  return [
    meta.capture,
    ...meta.rules,
    ...(meta.rulesAfter ?? []),
    ...(meta.extra ?? []),
    ...(meta.hostFacts ? [meta.hostFacts] : []),
    'pass.json',
  ];
}

/** The channels a scenario runs on: its own list (narrowed by an explicit --channel), else the run's. */
function channelsOf(sc: { readonly channels?: readonly ChannelName[] }, args: Args): ChannelName[] {
  if (!sc.channels) return args.channels;
  return args.channelsGiven ? sc.channels.filter((c) => args.channels.includes(c)) : [...sc.channels];
}

async function capture(args: Args, outRoot: string): Promise<{ meta: PassMeta; dir: string }[]> {
  preflight();
  installSignalHandlers();
  const runTag = `rtlab-${process.pid}`;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `${runTag}-`));
  onCleanup(`remove ${tmp}`, () => fs.rmSync(tmp, { recursive: true, force: true }));
  const rsyslog = new PrivateRsyslog(tmp);
  const fixtureMode = args.writeFixtures !== undefined;
  const hex = (n: number) => (n & 0xff).toString(16).padStart(2, '0');
  const macPrefix = fixtureMode ? '02:72:74:00:00' : `02:72:74:${hex(process.pid >> 8)}:${hex(process.pid)}`;
  const tools = toolVersions();
  const all = scenarios(ADDRESSES).filter((s) => args.scenarios.includes(s.name));
  const passes: { meta: PassMeta; dir: string }[] = [];
  let idx = 0;
  for (const sc of all) {
    for (const ch of channelsOf(sc, args)) {
      idx++;
      const channel = channelFor(ch, rsyslog, tmp);
      const dir = path.join(outRoot, sc.name, ch);
      const label = `${sc.name}/${ch}`;
      const t0 = Date.now();
      try {
        const ctx = { prefix: `${runTag}-${idx}`, tmp, addresses: ADDRESSES, macPrefix };
        let r = await runPass(ctx, sc, channel, backendOf(ch), dir);
        let retried = '';
        if (r.problems.length) {
          // One retry, in fresh namespaces: the kernel log and nf_log_all_netns are shared with the whole host.
          retried = ` (retried after: ${r.problems.join('; ')})`;
          r = await runPass(
            { ...ctx, prefix: `${ctx.prefix}r` },
            sc,
            channelFor(ch, rsyslog, tmp),
            backendOf(ch),
            dir,
          );
        }
        const meta: PassMeta = { ...r.meta, tools };
        fs.writeFileSync(path.join(dir, 'pass.json'), JSON.stringify(meta, null, 2) + '\n');
        const summary = meta.probes.map((p) => `${p.id}=${p.result}(${p.records ?? 0} rec)`).join(' ');
        if (r.problems.length) for (const p of r.problems) report(false, `capture ${label}: ${p}`);
        else
          report(true, `capture ${label}: ${summary} [${((Date.now() - t0) / 1000).toFixed(1)} s]${retried}`);
        passes.push({ meta, dir });
        if (fixtureMode && args.writeFixtures && r.problems.length === 0) {
          const fdir = path.join(args.writeFixtures, sc.name, ch);
          fs.rmSync(fdir, { recursive: true, force: true });
          fs.mkdirSync(fdir, { recursive: true });
          for (const f of fixtureFiles(meta)) fs.copyFileSync(path.join(dir, f), path.join(fdir, f));
        }
      } catch (e) {
        if (e instanceof KnownIssue) {
          report('known', `capture ${label}: ${e.message}`);
          if (fixtureMode && args.writeFixtures) {
            const fdir = path.join(args.writeFixtures, sc.name, ch);
            fs.rmSync(fdir, { recursive: true, force: true });
            fs.mkdirSync(fdir, { recursive: true });
            fs.writeFileSync(path.join(fdir, 'KNOWN-ISSUE.txt'), e.message + '\n');
          }
        } else report(false, `capture ${label}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }
  await rsyslog.stop();
  runCleanup();
  return passes;
}

/** The 'ruletrail trace' stage (lib/trace-stage.ts): the real command on every backend, in fresh namespaces. */
async function traceStage(args: Args, outRoot: string): Promise<void> {
  if (!fs.existsSync(CLI)) {
    report(
      false,
      `trace: ruletrail CLI not built (${path.relative(REPO_ROOT, CLI)} missing; run npm run build)`,
    );
    return;
  }
  if (args.trace === 'only') preflight();
  installSignalHandlers();
  const runTag = `rtlab-${process.pid}`;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `${runTag}-trace-`));
  onCleanup(`remove ${tmp}`, () => fs.rmSync(tmp, { recursive: true, force: true }));
  const hex = (n: number) => (n & 0xff).toString(16).padStart(2, '0');
  const t0 = Date.now();
  const scs = scenarios(ADDRESSES).filter((s) => args.traceScenarios.includes(s.name));
  await runTraceStage(
    {
      prefix: runTag,
      tmp,
      outRoot,
      addresses: ADDRESSES,
      macPrefix: `02:72:75:${hex(process.pid >> 8)}:${hex(process.pid)}`,
      report,
    },
    scs,
  );
  process.stdout.write(`trace stage: ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
  runCleanup();
}

function loadFixtures(root: string, args: Args): { meta: PassMeta; dir: string }[] {
  const out: { meta: PassMeta; dir: string }[] = [];
  for (const sc of args.scenarios) {
    const scenario = scenarios(ADDRESSES).find((s) => s.name === sc);
    for (const ch of scenario ? channelsOf(scenario, args) : args.channels) {
      const dir = path.join(root, sc, ch);
      const f = path.join(dir, 'pass.json');
      const known = path.join(dir, 'KNOWN-ISSUE.txt');
      if (fs.existsSync(known)) {
        report('known', `fixture ${sc}/${ch}: ${fs.readFileSync(known, 'utf8').trim()}`);
        continue;
      }
      if (!fs.existsSync(f)) {
        report(false, `fixture ${sc}/${ch}: missing (${path.relative(REPO_ROOT, dir)})`);
        continue;
      }
      out.push({ meta: JSON.parse(fs.readFileSync(f, 'utf8')) as PassMeta, dir });
    }
  }
  return out;
}

/** Runs explain on one pass and checks every probe; returns probe id → channel-independent essence. */
function explainPass(
  meta: PassMeta,
  dir: string,
  outDir: string,
  rules: readonly string[],
  pick: (p: Probe) => Expectation | undefined,
  label: string,
  simulateToo = false,
): Map<string, string> {
  const essences = new Map<string, string>();
  const sc = scenarios(ADDRESSES).find((s) => s.name === meta.scenario);
  if (!sc) return essences;
  const ex = runExplain(meta, dir, outDir, rules);
  if (ex.code !== 0 || ex.packets.length === 0) {
    const lines = ex.stderr.split('\n').filter((l) => l.trim());
    const first = lines.find((l) => /error|cannot|unknown|unsupported/i.test(l)) ?? lines[0] ?? '';
    const adapterish =
      /adapter|unsupported|not supported|unknown (input|format)|cannot (tell|detect|determine)|no (decoder|reader)|unrecognized/i;
    const why = ex.code !== 0 ? `exit ${ex.code}: ${first.trim()}` : 'no packets in the output';
    const built = adapterBuilt(meta.channel);
    if (!built.ok || adapterish.test(first))
      report(false, `explain ${label}: adapter missing (${built.ok ? why : `${built.why}; ${why}`})`);
    else report(false, `explain ${label}: ${why}`);
    return essences;
  }
  if (ex.badLines) report(false, `explain ${label}: ${ex.badLines} output lines are not JSON objects`);
  if (simulateToo) checkSimulation(meta, dir, ex.packets, label);
  let expectedPackets = 0;
  for (const pr of meta.probes) {
    const probe = sc.probes.find((p) => p.id === pr.id);
    if (probe?.connection) expectedPackets += connectionPackets(ex.packets, probe, pr).length;
    else expectedPackets++;
    const want = probe && pick(probe);
    if (!probe || !want) continue;
    if (probe.connection) {
      const ess = explainConnection(ex.packets, probe, pr, want, meta.channel, label);
      if (ess) essences.set(pr.id, ess);
      continue;
    }
    const pk = packetsForProbe(ex.packets, probe, pr);
    if (pk.length === 0) {
      const to = probe.dport ?? probe.proto;
      report(
        false,
        `explain ${label} ${pr.id}: no packet from ${pr.src}${pr.sport ? `:${pr.sport}` : ''} to ${to}`,
      );
      continue;
    }
    const errs = new Set<string>();
    for (const p of pk) for (const e of checkExplanation(p, want, meta.channel)) errs.add(e);
    const first = pk[0] as Json;
    if (errs.size)
      report(false, `explain ${label} ${pr.id}: ${[...errs].join('; ')}\n        got: ${describe(first)}`);
    else report(true, `explain ${label} ${pr.id}: ${describe(first)}`);
    essences.set(pr.id, essence(first));
  }
  // Each probe sends exactly one traced packet (SYN, datagram or echo request; probe timeouts stay below the
  // SYN retransmission time), so any other packet in the output is a correlation error: split or invented.
  // A connection probe owns every packet of its connection.
  const matched = new Set<Json>();
  for (const pr of meta.probes) {
    const probe = sc.probes.find((p) => p.id === pr.id);
    if (probe) for (const { p } of connectionPackets(ex.packets, probe, pr)) matched.add(p);
  }
  const extra = ex.packets.filter((p) => !matched.has(p));
  if (extra.length || ex.packets.length !== expectedPackets)
    report(
      false,
      `explain ${label}: ${ex.packets.length} packets for ${meta.probes.length} probes (${expectedPackets} expected)` +
        (extra.length
          ? `; not from any probe: ${extra.map((p) => JSON.stringify(p['packet'])).join(' ')}`
          : ''),
    );
  return essences;
}

/**
 * Checks every packet of a traced connection (both directions) and reports one line for the probe; returns the
 * essence of its first packet for the cross-channel comparison.
 */
function explainConnection(
  packets: Json[],
  probe: Probe,
  pr: PassMeta['probes'][number],
  want: Expectation,
  channel: ChannelName,
  label: string,
): string | undefined {
  const r = checkConnection(packets, probe, pr, want, channel);
  if (!r) return undefined;
  report(r.ok, `explain ${label} ${pr.id}: ${r.text}`);
  return r.first ? essence(r.first) : undefined;
}

/** `simulate` agreement with the traces, over the whole run. */
const agreement = { agree: 0, disagree: 0, undecided: 0, exempt: 0 };

/**
 * Simulates every explained packet of a pass from its first traced step and compares the predicted path and
 * verdict with the trace: a prediction without unknowns that differs is a lab failure.
 */
function checkSimulation(meta: PassMeta, dir: string, packets: Json[], label: string): void {
  const counts = { agree: 0, disagree: 0, undecided: 0, exempt: 0 };
  const notes: string[] = [];
  const connections = new Set<string>();
  for (const p of packets) {
    let a: Agreement;
    const conn = connectionKey(p);
    try {
      a = compareWithTrace(p, meta, dir, connections.has(conn)).agreement;
    } catch (e) {
      a = { kind: 'disagree', why: `simulate threw: ${e instanceof Error ? e.message : String(e)}` };
    }
    connections.add(conn);
    counts[a.kind]++;
    agreement[a.kind]++;
    const k = (p['packet'] ?? {}) as Json;
    const what = `${String(k['proto'])} ${String(k['src'])} > ${String(k['dst'])}:${String(k['dport'] ?? k['icmpType'] ?? '')}`;
    if (a.kind === 'disagree') report(false, `simulate ${label}: ${what}: ${a.why}`);
    else if (a.kind !== 'agree') notes.push(`${what} ${a.kind} (${a.why})`);
  }
  if (counts.disagree === 0)
    report(
      true,
      `simulate ${label}: ${counts.agree} of ${packets.length} packets predicted exactly as traced` +
        (notes.length ? `; ${notes.join('; ')}` : ''),
    );
}

function explainAll(passes: { meta: PassMeta; dir: string }[], outRoot: string): void {
  if (!fs.existsSync(CLI)) {
    report(
      false,
      `explain: ruletrail CLI not built (${path.relative(REPO_ROOT, CLI)} missing; run npm run build)`,
    );
    return;
  }
  // scenario/probe → channel → essence, for the cross-channel comparison.
  const seen = new Map<string, Map<ChannelName, string>>();
  for (const { meta, dir } of passes) {
    const out = path.join(outRoot, meta.scenario, meta.channel);
    const label = `${meta.scenario}/${meta.channel}`;
    // With snapshots from before and after a change, the prediction uses the explanation that joined each packet
    // with the snapshot in force (the first pass keeps the stale one on purpose).
    const staleOnPurpose = !!meta.rulesAfter?.length;
    const ess = explainPass(
      meta,
      dir,
      out,
      meta.rules,
      (p) => p.explainOn?.[meta.channel] ?? p.explain,
      label,
      !staleOnPurpose,
    );
    const probes = scenarios(ADDRESSES).find((s) => s.name === meta.scenario)?.probes ?? [];
    for (const [id, e] of ess) {
      // A channel that cannot carry what this probe checks (Expectation.flagsNotOn) or is expected to say
      // something else (Probe.explainOn) is left out of the comparison; its own expectation is checked above.
      const probe = probes.find((p) => p.id === id);
      if (probe?.explain.flagsNotOn?.includes(meta.channel) || probe?.explainOn?.[meta.channel]) continue;
      const m = seen.get(`${meta.scenario}/${id}`) ?? new Map<ChannelName, string>();
      m.set(meta.channel, e);
      seen.set(`${meta.scenario}/${id}`, m);
    }
    if (meta.rulesAfter?.length) {
      // The same capture with every snapshot: each packet must be joined with the one in force at its time.
      explainPass(
        meta,
        dir,
        path.join(out, 'all-snapshots'),
        [...meta.rules, ...meta.rulesAfter],
        (p) => p.explainWithAllSnapshots,
        `${label} (all snapshots)`,
        true,
      );
    }
  }
  for (const [probe, m] of seen) {
    if (m.size < 2) continue;
    if (new Set(m.values()).size === 1)
      report(true, `same on every channel: ${probe} (${[...m.keys()].join(', ')})`);
    else
      report(
        false,
        `channels disagree on ${probe}:\n${[...m].map(([c, e]) => `        ${c}: ${e}`).join('\n')}`,
      );
  }
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  setVerbose(args.verbose);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  // Outside the repository by default, so format/lint/git never see run output.
  const outRoot =
    args.out ??
    path.join(os.tmpdir(), 'ruletrail-lab', args.fromFixtures ? `replay-${stamp}` : `run-${stamp}`);
  fs.mkdirSync(outRoot, { recursive: true });
  process.stdout.write(`ruletrail lab: output in ${outRoot}\n`);
  const passes = args.fromFixtures
    ? loadFixtures(args.fromFixtures, args)
    : args.trace === 'only'
      ? []
      : await capture(args, outRoot);
  if (!args.captureOnly && args.trace !== 'only') explainAll(passes, outRoot);
  if (!args.fromFixtures && !args.captureOnly && args.trace !== 'no') await traceStage(args, outRoot);
  process.stdout.write(`\n${matrix()}\n`);
  const tm = traceMatrix();
  if (tm) process.stdout.write(`\n${tm}\n`);
  const compared = agreement.agree + agreement.disagree;
  if (!args.captureOnly)
    process.stdout.write(
      `\nsimulate agreement: ${agreement.agree} of ${compared} predictions without unknowns match the trace` +
        ` (${compared ? ((100 * agreement.agree) / compared).toFixed(1) : '-'}%); ${agreement.undecided} depend on` +
        ` unknowns, ${agreement.exempt} traces flagged snapshot_mismatch\n`,
    );
  const failed = results.filter((r) => r.ok === false).length;
  const known = results.filter((r) => r.ok === 'known').length;
  const skipped = results.filter((r) => r.ok === 'skip').length;
  process.stdout.write(
    `\n${failed === 0 ? 'PASS' : 'FAIL'}: ${results.length - failed - known - skipped} ok, ${failed} failed, ${known} known tool issues` +
      (skipped ? `, ${skipped} combinations that do not apply` : '') +
      ` (${passes.length} capture passes; output in ${outRoot})\n`,
  );
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => {
    runCleanup();
    process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`lab: ${err instanceof Error ? err.message : String(err)}\n`);
    runCleanup();
    process.exit(2);
  },
);
