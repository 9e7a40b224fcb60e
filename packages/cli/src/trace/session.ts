/**
 * One trace session, start to finish: set the loggers, open the channel, install the TRACE rules, snapshot,
 * explain packets live, and undo everything. Every change is recorded in the state file before it is made; one
 * synchronous undo runs on every way out (normal stop, signal, crash, failed start).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { hostname } from 'node:os';
import type { NetfilterEvent } from '@ruletrail/event';
import {
  Correlator,
  addressTyperOf,
  explainPacket,
  type ExplainOptions,
  type Explanation,
} from '@ruletrail/explain';
import { hostFactsFromJson } from '@ruletrail/ruleset';
import { openChannel, type LiveChannel } from './channels';
import { TraceError, explainInsertFailure } from './errors';
import type { Backend, TraceChannel, TraceOptions } from './options';
import { buildPlan, insertArgv, planFamilies, type InstallPlan } from './plan';
import { LiveSnapshots } from './snapshots';
import {
  StateFile,
  legacyTables,
  missingNftObjects,
  undoSession,
  type NftObject,
  type SessionState,
} from './state';
import type { Host } from './system';

/** Where explained packets go: stdout (text/NDJSON) or the pipeline sinks. */
export interface PacketOutput {
  write(x: Explanation, index: number): void;
  close(): Promise<void>;
}

export interface SessionParams {
  readonly host: Host;
  readonly options: TraceOptions;
  readonly backend: Backend;
  readonly channel: TraceChannel;
  readonly output: PacketOutput;
  /** Progress and summary lines (stderr). */
  readonly log: (line: string) => void;
}

export interface SessionResult {
  readonly packets: number;
  readonly verdicts: Record<string, number>;
  readonly changes: number;
  readonly errors: number;
  readonly stoppedBy: string;
}

/** Session ids are [a-z0-9]: they are part of rule comments and nft table names. */
export function newSessionId(): string {
  return `${process.pid.toString(36)}${randomBytes(3).toString('hex')}`;
}

const LOGGERS: Record<'kernel-log' | 'nflog-pcap', Record<4 | 6, string>> = {
  'kernel-log': { 4: 'nf_log_ipv4', 6: 'nf_log_ipv6' },
  'nflog-pcap': { 4: 'nfnetlink_log', 6: 'nfnetlink_log' },
};

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function runSession(p: SessionParams): Promise<SessionResult> {
  const { host, options: o, backend, channel: channelName, log } = p;
  const id = newSessionId();
  let plan: InstallPlan = buildPlan(backend, o.selection, id, o.rate);
  if (plan.kind === 'iptables') {
    // A family without any table has no rule to explain; tracing it would only create tables the node did not
    // have (and iptables-legacy cannot unregister one).
    const present = familiesWithTables(host, backend, o.netns);
    if (present.length) {
      const skipped = planFamilies(plan).filter((f) => !present.includes(f));
      if (skipped.length) {
        const kept = plan.rules.filter((r) => present.includes(r.family));
        if (!kept.length)
          throw new TraceError(
            `the filter selects IPv${skipped.join('/')} only, but ${backend} has no IPv${skipped.join('/')} tables here: no rule would see those packets`,
          );
        if (!o.quiet)
          log(
            `ruletrail trace: ${backend} has no IPv${skipped.join('/')} tables here (no rule sees those packets): tracing IPv${present.join('/')} only`,
          );
        plan = { kind: 'iptables', rules: kept };
      }
    }
    if (backend === 'iptables-legacy')
      for (const f of planFamilies(plan))
        if (!legacyTables(host, f, o.netns).includes('raw') && !o.quiet)
          log(
            `ruletrail trace: note: the IPv${f} raw table gets registered for the TRACE rules and stays (empty) afterwards: iptables-legacy cannot unregister a table`,
          );
  }
  const families = planFamilies(plan);
  const dir = o.save ? resolve(o.save) : mkdtempSync(join(tmpdir(), 'ruletrail-trace-'));
  mkdirSync(dir, { recursive: true });
  const state: SessionState = {
    version: 1,
    id,
    pid: process.pid,
    started: new Date().toISOString(),
    ...(o.netns ? { netns: o.netns } : {}),
    backend,
    channel: channelName,
    rules: [],
    nftTables: [],
    sysctls: [],
    children: [],
    nftCreated: [],
  };
  const stateFile = new StateFile(o.stateDir, state);
  stateFile.save();

  let undone = false;
  let channel: LiveChannel | undefined;
  /** Synchronous, idempotent: safe from 'exit', signal and crash handlers. */
  const undo = (): void => {
    if (undone) return;
    undone = true;
    for (const line of undoSession(host, state)) if (!o.quiet) log(`  ${line}`);
    stateFile.remove();
    if (!o.save) rmSync(dir, { recursive: true, force: true });
  };
  let stopReason: string | undefined;
  let wake: (() => void) | undefined;
  const stop = (why: string): void => {
    stopReason ??= why;
    wake?.();
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    if (stopReason) {
      // A second signal: do not wait for the channel, undo now.
      undo();
      process.exit(130);
    }
    stop(sig);
  };
  const onCrash = (err: unknown): void => {
    log(`ruletrail trace: crashed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    undo();
    process.exit(1);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  process.on('exit', undo);
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);

  const counts = { packets: 0, errors: 0, verdicts: {} as Record<string, number> };
  let snapshots: LiveSnapshots | undefined;
  try {
    // 1. Loggers (legacy channels): which nf_log backend handles TRACE output, per family.
    if (channelName === 'kernel-log' || channelName === 'nflog-pcap') {
      const available = host.run(
        ['cat', '/proc/net/netfilter/nf_log'],
        o.netns ? { netns: o.netns } : {},
      ).stdout;
      // libpcap's nflog device binds nfnetlink_log for IPv4 and IPv6 both (NFULNL_CFG_CMD_PF_BIND), whatever
      // the filter selects, and does not restore the loggers: trace sets both itself so that both are recorded
      // and restored.
      const logFamilies: readonly (4 | 6)[] = channelName === 'nflog-pcap' ? [4, 6] : families;
      for (const f of logFamilies) {
        const pf = f === 4 ? 2 : 10;
        const want = LOGGERS[channelName][f];
        const line = available.split('\n').find((l) => l.trim().startsWith(`${pf} `)) ?? '';
        if (!line.includes(want))
          throw new TraceError(
            want === 'nfnetlink_log'
              ? `the kernel has no nfnetlink_log logger for ${f === 4 ? 'IPv4' : 'IPv6'}: try 'modprobe nfnetlink_log'`
              : `the kernel has no ${want} logger: try 'modprobe nf_log_syslog' (${want} on kernels before 5.12)`,
          );
        setSysctl(`net.netfilter.nf_log.${pf}`, want, o.netns);
      }
      // Without it the kernel logs nf_log output of the initial namespace only.
      if (o.netns && channelName === 'kernel-log')
        setSysctl('net.netfilter.nf_log_all_netns', '1', undefined);
    }

    // 2. The channel, before the rules (the first traced packet must not be missed) — except `nft monitor`,
    // which reads the ruleset once when it starts and prints "unknown rule handle" for rules added later.
    const openCh = async (): Promise<LiveChannel> =>
      openChannel(channelName, {
        host,
        ...(o.netns ? { netns: o.netns } : {}),
        dir,
        recordChild: (c) => {
          state.children.push(c);
          stateFile.save();
        },
      });
    if (channelName !== 'nft-monitor') channel = await openCh();

    // 3. The TRACE rules (or table).
    const nsOpt = o.netns ? { netns: o.netns } : {};
    if (plan.kind === 'iptables') {
      if (backend === 'iptables-nft') {
        const created: NftObject[] = [];
        for (const f of families)
          created.push(
            ...missingNftObjects(host, f === 4 ? 'ip' : 'ip6', 'raw', ['PREROUTING', 'OUTPUT'], o.netns),
          );
        state.nftCreated!.push(...created);
        stateFile.save();
      }
      for (const r of plan.rules) {
        state.rules.push(r);
        stateFile.save();
        const res = host.run(insertArgv(r), nsOpt);
        if (res.code !== 0) throw new TraceError(explainInsertFailure(r.tool, res.stderr, o.netns));
      }
    } else {
      state.nftTables.push({
        family: plan.table.family,
        name: plan.table.name,
        ...(o.netns ? { netns: o.netns } : {}),
      });
      stateFile.save();
      const res = host.run(['nft', '-f', '-'], { ...nsOpt, input: plan.table.script });
      if (res.code !== 0)
        throw new TraceError(`nft could not add the trace table: ${res.stderr.trim()}\n${plan.table.script}`);
    }

    channel ??= await openCh();

    // 4. The snapshot in force (TRACE rules included: their positions are part of what the kernel reports).
    snapshots = new LiveSnapshots(backend, families, dir, o.netns);
    await snapshots.refresh();
    const snap = snapshots;
    // The node's addresses (host facts): without them an `-m addrtype` / `fib daddr type` criterion is unknown.
    const facts = takeHostFacts(host, dir, o.netns, (l) => {
      if (!o.quiet) log(l);
    });
    let refreshRequested = false;
    channel.onRulesetEvent = () => {
      refreshRequested = true;
    };

    const what =
      o.selection.kind === 'filter'
        ? `'${o.selection.filter.source || 'all packets'}'`
        : `--match '${o.selection.text}'`;
    log(
      `ruletrail trace: session ${id}: tracing ${what} with ${backend} via ${channelName}${o.netns ? ` in netns ${o.netns}` : ''}, ` +
        `${o.rate ? `at most ${o.rate.text.replace('/', ' packets/')}` : 'NO rate limit'}, ` +
        `${o.durationMs ? `for ${o.durationMs / 1000} s` : 'until stopped'}${o.count ? ` or ${o.count} packets` : ''} (Ctrl-C to stop)`,
    );
    writeFileSync(join(dir, 'session.json'), sessionInfo(id, backend, channel, snap, o, facts.args) + '\n');

    // 5. Live: decode → (stamp) → wait for the ruleset re-read → correlate → explain → print.
    const correlator = new Correlator(
      snap.set,
      (pk) => {
        if (o.count !== undefined && counts.packets >= o.count) return;
        const x = explainPacket(pk.events, pk.pick, pk.flags, facts.options);
        counts.packets++;
        counts.verdicts[x.verdict] = (counts.verdicts[x.verdict] ?? 0) + 1;
        p.output.write(x, counts.packets);
        if (o.count !== undefined && counts.packets >= o.count) stop(`${o.count} packets`);
      },
      { windowMs: o.windowMs },
    );
    const pending: { e: NetfilterEvent; at: number }[] = [];
    let lastArrival = 0;
    const ch = channel;
    const decoding = (async () => {
      for await (const batch of ch.adapter.decode(ch.chunks, { file: ch.captureFile })) {
        counts.errors += batch.errors.length;
        for (const err of batch.errors) log(`ruletrail trace: unreadable trace record: ${err.message}`);
        const at = Date.now();
        for (const e of batch.events) {
          const ev =
            ch.stampArrival && !e['@timestamp'] ? { ...e, '@timestamp': new Date(at).toISOString() } : e;
          pending.push({ e: ev, at });
        }
        if (batch.events.length) lastArrival = at;
      }
    })();
    const release = (upTo: number): void => {
      let n = 0;
      while (n < pending.length && pending[n]!.at <= upTo) correlator.push(pending[n++]!.e);
      pending.splice(0, n);
    };

    const started = Date.now();
    let lastRefresh = Date.now();
    while (!stopReason) {
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 200);
      });
      wake = undefined;
      if (stopReason) break;
      if (o.durationMs && Date.now() - started >= o.durationMs) stop('duration');
      if (ch.failure) throw new TraceError(ch.failure);
      const now = Date.now();
      if (refreshRequested || now - lastRefresh >= 1000) {
        refreshRequested = false;
        lastRefresh = now;
        if (await snap.refresh()) {
          log(
            `ruletrail trace: the ruleset changed; packets from now on are joined with ${snap.files.at(-1)!.file}`,
          );
          // nft monitor prints rule text from the ruleset it read at start: give it the new one.
          await ch.restart?.();
        }
        // Events that arrived before this re-read started are joined with what it found.
        release(now);
      }
      // Nothing new within the window: packets still open will get no more steps.
      if (correlator.openPackets > 0 && pending.length === 0 && Date.now() - lastArrival > o.windowMs)
        correlator.flush();
    }

    // 6. Stop: rules out first (no new traces), then drain the channel.
    undoRules();
    await sleep(300);
    await ch.stop();
    await decoding;
    release(Infinity);
    correlator.flush();
    writeFileSync(join(dir, 'session.json'), sessionInfo(id, backend, ch, snap, o, facts.args) + '\n');
    return { ...counts, changes: snap.changes, stoppedBy: stopReason ?? 'end' };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
    process.off('uncaughtException', onCrash);
    process.off('unhandledRejection', onCrash);
    try {
      await channel?.stop();
    } catch {
      // already stopped
    }
    undo();
    process.off('exit', undo);
    await p.output.close();
  }

  function setSysctl(key: string, value: string, netns: string | undefined): void {
    const before = host.readSysctl(key, netns);
    if (before === undefined)
      throw new TraceError(`sysctl ${key} does not exist${netns ? ` in netns ${netns}` : ''}`);
    if (before === value) return;
    state.sysctls.push({ key, ...(netns ? { netns } : {}), before, value });
    stateFile.save();
    const err = host.writeSysctl(key, value, netns);
    if (err) throw new TraceError(`cannot set ${key}=${value}: ${err}`);
  }

  /** Removes the TRACE rules now (the rest is undone in `finally`). */
  function undoRules(): void {
    const rulesOnly: SessionState = { ...state, children: [], sysctls: [] };
    for (const line of undoSession(host, rulesOnly)) if (!o.quiet) log(`  ${line}`);
    state.rules.length = 0;
    state.nftTables.length = 0;
    state.nftCreated!.length = 0;
    stateFile.save();
  }
}

/** `session.json` in the session directory: what `ruletrail explain` needs to read the capture again. */
function sessionInfo(
  id: string,
  backend: Backend,
  ch: LiveChannel,
  snap: LiveSnapshots,
  o: TraceOptions,
  factsArgs: readonly string[],
): string {
  return JSON.stringify(
    {
      id,
      backend,
      channel: ch.name,
      capture: ch.captureFile,
      rules: snap.files.map((f) => f.file),
      snapshots: snap.files,
      explainArgs: [...ch.explainArgs, ...factsArgs],
      netns: o.netns ?? null,
      filter: o.selection.kind === 'filter' ? o.selection.filter.source : null,
      match: o.selection.kind === 'match' ? o.selection.text : null,
      rate: o.rate?.text ?? null,
    },
    null,
    2,
  );
}

/** Families in which the backend has any table at all (legacy: registered tables; iptables-nft: nft tables). */
function familiesWithTables(host: Host, backend: Backend, netns: string | undefined): (4 | 6)[] {
  if (backend === 'iptables-legacy')
    return ([4, 6] as const).filter((f) => legacyTables(host, f, netns).length > 0);
  const r = host.run(['nft', 'list', 'tables'], netns ? { netns } : {});
  if (r.code !== 0) return [];
  return ([4, 6] as const).filter((f) => new RegExp(`^table ${f === 4 ? 'ip' : 'ip6'} `, 'm').test(r.stdout));
}

/**
 * The node's addresses and interfaces as `ruletrail snapshot facts` records them (`ip -j addr`, `ip -d -j link`),
 * written to `host-facts.json` in the session directory so `ruletrail explain --host-facts` reads the same. The
 * facts are taken once, at start: an address added during the trace is not seen. Without `ip` (or with output
 * it cannot read) the trace goes on without them, and says so.
 */
export function takeHostFacts(
  host: Host,
  dir: string,
  netns: string | undefined,
  log: (line: string) => void,
): { options: ExplainOptions; args: readonly string[] } {
  const nsOpt = netns ? { netns } : {};
  const addr = host.run(['ip', '-j', 'addr'], nsOpt);
  const link = host.run(['ip', '-d', '-j', 'link'], nsOpt);
  try {
    if (addr.code !== 0) throw new Error(addr.stderr.trim() || `ip -j addr exited with ${addr.code}`);
    const doc = {
      version: 1,
      host: netns ? `${hostname()}/${netns}` : hostname(),
      capturedAt: new Date().toISOString(),
      addr: JSON.parse(addr.stdout) as unknown,
      ...(link.code === 0 ? { link: JSON.parse(link.stdout) as unknown } : {}),
    };
    const facts = hostFactsFromJson(doc, 'host-facts.json');
    writeFileSync(join(dir, 'host-facts.json'), JSON.stringify(doc) + '\n');
    return { options: { facts: addressTyperOf(facts) }, args: ['--host-facts', 'host-facts.json'] };
  } catch (err) {
    log(
      `ruletrail trace: note: no host facts (${(err as Error).message}): addrtype criteria are explained as unknown`,
    );
    return { options: {}, args: [] };
  }
}
