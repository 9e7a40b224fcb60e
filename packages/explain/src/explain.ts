/**
 * The verdict walk: one packet's trace steps, in order, joined with its snapshot, replayed through the
 * kernel's traversal rules (jump/goto push and replace call frames, RETURN and implicit returns pop them,
 * ACCEPT/DROP/REJECT/QUEUE/NAT end the table's traversal) to decide the verdict and its cause.
 */
import type { NetfilterEvent } from '@ruletrail/event';
import type { Rule, Ruleset } from '@ruletrail/ruleset';
import { findOption, targetOption } from '@ruletrail/ruleset';
import { chainHook, isFinalHook, type Hook } from './hooks';
import { VMAP_EFFECT, joinStepCached, resolveRulenum, type JoinedStep } from './join';
import {
  calicoId,
  isKubeServiceChain,
  isNoEndpointsReason,
  parseServiceComment,
  type ServiceRef,
} from './kubernetes';
import { hex, markMatchOf, markSetByRule, type MarkSpec } from './marks';
import type { SnapshotPick } from './snapshots';
import type {
  Effect,
  ExplainedStep,
  Explanation,
  Flag,
  KubernetesAttribution,
  MarkSetter,
  NatRewrite,
  PacketSummary,
  RuleRef,
  Verdict,
} from './types';

/** The jump path into a call frame, as a persistent list of step indexes (innermost first): no copying per step. */
interface PathNode {
  readonly idx: number;
  readonly parent: PathNode | undefined;
}

interface Frame {
  chain: string;
  lastRulenum: number;
  /** The jumps that led into this frame (undefined for the built-in chain). */
  path?: PathNode | undefined;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const NO_SNAPSHOT: JoinedStep = {
  resolution: 'unresolved',
  effect: 'unknown',
  problem: 'no snapshot of this address family',
};

interface Tuple {
  src?: string;
  dst?: string;
  sport?: number;
  dport?: number;
}

interface MarkChange {
  readonly idx: number;
  spec?: MarkSpec;
  from?: number;
  to?: number;
}

/**
 * Joins and walks one packet's steps. `events` are the packet's TRACE events in order. A packet without a time
 * (xtables-monitor prints none) and several snapshots to choose from is explained with the newest snapshot
 * that fits every step, flagged `snapshot_by_fit`; when none fits, with the newest, flagged as a mismatch.
 */
export function explainPacket(
  events: readonly NetfilterEvent[],
  pick: SnapshotPick,
  extraFlags: readonly Flag[] = [],
): Explanation {
  if (!pick.candidates || pick.candidates.length < 2) return explainWith(events, pick, extraFlags);
  let first: Explanation | undefined;
  for (const ruleset of pick.candidates) {
    const x = explainWith(events, { ruleset, flags: pick.flags }, extraFlags);
    if (!x.flags.includes('snapshot_mismatch'))
      return { ...x, flags: [...x.flags, 'snapshot_by_fit' as const].sort() };
    first ??= x;
  }
  return first!;
}

function explainWith(
  events: readonly NetfilterEvent[],
  pick: SnapshotPick,
  extraFlags: readonly Flag[] = [],
): Explanation {
  const flags = new Set<Flag>([...pick.flags, ...extraFlags]);
  const rs = pick.ruleset;
  const steps: ExplainedStep[] = [];
  const joins: JoinedStep[] = [];
  const paths: (PathNode | undefined)[] = [];
  const hooks: (Hook | undefined)[] = [];
  const markChanges = new Map<number, MarkChange>();
  const nat: NatRewrite[] = [];

  let stack: Frame[] = [];
  let travTable: string | undefined;
  let travHook: Hook | undefined;
  let travEnded = true;
  let decidedIdx: number | undefined;
  const terminalIdx: number[] = [];
  let firstProblem: string | undefined;
  // Whether an earlier step could not be placed: from then on a chain change is no evidence of a gap.
  let unresolvedBefore = false;

  // Hot loop: one iteration per trace step of every packet. Allocation-light on purpose (no spreads, no
  // per-step arrays): explain-all throughput is bounded by this loop and the garbage it makes.
  let prevSrc: string | undefined;
  let prevDst: string | undefined;
  let prevSport: number | undefined;
  let prevDport: number | undefined;
  let prevMark = 0;
  let prevIn: string | undefined;
  let prevOut: string | undefined;
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    const trace = e.netfilter.trace!;
    const table = trace.table;
    const chainName = trace.chain;
    const kind = trace.kind;
    // Channels that name rules by text (xtables-monitor, nft) are given their number here; a rule whose text
    // is not in the chain keeps number 0, which never resolves and is reported.
    const sameTrav = !travEnded && table === travTable;
    const fi = sameTrav ? findFrame(stack, chainName) : -1;
    const located = rs ? resolveRulenum(rs, trace, fi >= 0 ? stack[fi]!.lastRulenum : 0) : trace.rulenum;
    const rulenum = located ?? 0;
    let j: JoinedStep =
      rs && located !== undefined
        ? joinStepCached(rs, table, chainName, kind, rulenum, trace.rulenum !== undefined)
        : NO_SNAPSHOT;
    if (rs && located === undefined)
      j = {
        resolution: 'unresolved',
        effect: 'unknown',
        problem: `rule '${trace.rule ?? '?'}' is not in ${table} ${chainName} of ${rs.source}`,
      };
    else if (j.rule?.target === 'VMAP' && trace.verdict) {
      // A verdict map decides per packet: the channel's verdict is the rule's effect.
      const eff = VMAP_EFFECT[trace.verdict.toUpperCase()] ?? 'unknown';
      j = { ...j, effect: eff, ...(trace.target !== undefined ? { target: trace.target } : {}) };
    } else if (trace.verdict && j.resolution !== 'unresolved' && !verdictAgrees(trace.verdict, j.effect))
      j = {
        ...j,
        resolution: 'unresolved',
        problem: `the channel reports verdict ${trace.verdict}, but ${rs?.source ?? 'the snapshot'} gives ${j.effect}`,
      };
    if (e.netfilter.truncated) flags.add('truncated');
    let problem = j.problem;
    if (j.resolution === 'unresolved' && rs) flags.add('snapshot_mismatch');

    // --- traversal bookkeeping: which call frame is this step in?
    const hook = chainHook(rs, table, chainName);
    if (travEnded || table !== travTable) {
      // After an unresolved step its effect is unknown, so a traversal that seems unfinished is no evidence of a gap.
      if (!travEnded && i > 0 && joins[i - 1]?.resolution !== 'unresolved') {
        flags.add('trace_gap');
        problem ??= `the ${travTable} traversal before this step ended without a verdict step (lines lost?)`;
      }
      stack = [{ chain: chainName, lastRulenum: 0 }];
      travTable = table;
      travHook = hook ?? (i === 0 ? undefined : travHook);
      travEnded = false;
      if (!hook && i > 0) {
        flags.add('trace_gap');
        problem ??= `a ${table} traversal cannot start in user chain ${chainName}: its entry step is missing`;
      }
    } else if (stack[stack.length - 1]!.chain !== chainName) {
      const at = findFrame(stack, chainName);
      if (at >= 0) stack.length = at + 1;
      else stack.push({ chain: chainName, lastRulenum: 0, path: stack[stack.length - 1]!.path });
      if (j.resolution !== 'unresolved' && !unresolvedBefore && !(at >= 0 && trace.id !== undefined)) {
        flags.add('trace_gap');
        problem ??= `expected the next step in ${travTable} ${stack[Math.max(0, at)]?.chain ?? '?'}, got ${chainName}`;
      }
    }
    const frame = stack[stack.length - 1]!;
    if (rulenum <= frame.lastRulenum) {
      flags.add('trace_gap');
      problem ??= `rule numbers in ${table} ${chainName} went backwards (${frame.lastRulenum} then ${rulenum})`;
    }
    frame.lastRulenum = rulenum;
    paths.push(frame.path);
    hooks.push(travHook);

    // --- effect on the traversal
    switch (j.effect) {
      case 'jump':
        stack.push({ chain: j.target!, lastRulenum: 0, path: { idx: i, parent: frame.path } });
        break;
      case 'goto': {
        // -g: the target replaces the current frame, so its RETURN goes back to our caller.
        const replaced = stack.length > 1 ? stack.pop()! : frame;
        stack.push({ chain: j.target!, lastRulenum: 0, path: { idx: i, parent: replaced.path } });
        break;
      }
      case 'return':
        // RETURN from the base chain falls to the chain's policy entry, which the kernel logs next.
        if (stack.length > 1) stack.pop();
        break;
      case 'accept':
      case 'nat':
        travEnded = true;
        terminalIdx.push(i);
        break;
      case 'drop':
      case 'reject':
      case 'queue':
        travEnded = true;
        terminalIdx.push(i);
        decidedIdx ??= i;
        break;
      default:
        break;
    }

    // --- packet fields: mark and address changes between steps
    const src = e.source?.ip;
    const dst = e.destination?.ip;
    const sport = e.source?.port;
    const dport = e.destination?.port;
    const mark = e.netfilter.mark ?? 0;
    const inIf = e.observer?.ingress?.interface?.name;
    const outIf = e.observer?.egress?.interface?.name;
    let changed: Record<string, string | number> | undefined;
    if (i > 0) {
      const tupleChanged =
        (src !== undefined && src !== prevSrc) ||
        (dst !== undefined && dst !== prevDst) ||
        (sport !== undefined && sport !== prevSport) ||
        (dport !== undefined && dport !== prevDport);
      if (
        tupleChanged ||
        mark !== prevMark ||
        (inIf !== undefined && inIf !== prevIn) ||
        (outIf !== undefined && outIf !== prevOut)
      ) {
        changed = {};
        if (src !== undefined && src !== prevSrc) changed.src = src;
        if (dst !== undefined && dst !== prevDst) changed.dst = dst;
        if (sport !== undefined && sport !== prevSport) changed.sport = sport;
        if (dport !== undefined && dport !== prevDport) changed.dport = dport;
        if (mark !== prevMark) {
          changed.mark = hex(mark);
          // Channels that print the packet once per base chain (xtables-monitor, nft) show a new mark only at
          // the next chain: credit the change to the step that set those bits since the last observed change.
          const bits = (prevMark ^ mark) >>> 0;
          let at = i - 1;
          for (let k = i - 1; k >= 0; k--) {
            const m = markChanges.get(k);
            if (m?.from !== undefined) break;
            if (m?.spec && (m.spec.mask & bits) !== 0) {
              at = k;
              break;
            }
          }
          const mc = markChanges.get(at) ?? { idx: at };
          mc.from = prevMark;
          mc.to = mark;
          markChanges.set(at, mc);
        }
        if (inIf !== undefined && inIf !== prevIn) changed.in = inIf;
        if (outIf !== undefined && outIf !== prevOut) changed.out = outIf;
      }
      if (tupleChanged) {
        const before: Tuple = { src: prevSrc, dst: prevDst, sport: prevSport, dport: prevDport };
        const after: Tuple = { src, dst, sport, dport };
        const pj = joins[i - 1]!;
        const ps = steps[i - 1]!;
        nat.push(
          pj.effect === 'nat'
            ? {
                kind: pj.rule!.target!,
                from: side(before, pj.rule!.target!),
                to: side(after, pj.rule!.target!),
                by: refOf(ps.table, ps.chain, ps.rulenum, pj.rule),
              }
            : { kind: 'CONNTRACK', from: endpoints(before), to: endpoints(after) },
        );
      }
    }
    if (j.rule) {
      const spec = markSetByRule(j.rule);
      if (spec) {
        const mc = markChanges.get(i) ?? { idx: i };
        mc.spec = spec;
        markChanges.set(i, mc);
      }
    }
    prevSrc = src;
    prevDst = dst;
    prevSport = sport;
    prevDport = dport;
    prevMark = mark;
    prevIn = inIf;
    prevOut = outIf;

    if (problem && !firstProblem && j.resolution === 'unresolved')
      firstProblem = `${table}:${chainName}:${kind}:${rulenum}: ${problem}`;
    joins.push(j);
    if (j.resolution === 'unresolved') unresolvedBefore = true;
    const step: Mutable<ExplainedStep> = {
      table,
      chain: chainName,
      kind,
      rulenum,
      resolution: j.resolution,
      effect: j.effect,
      origin: e.ruletrail.origin,
    };
    if (j.rule) step.rule = j.rule.text;
    if (j.target) step.target = j.target;
    if (mark) step.mark = hex(mark);
    if (changed) step.changed = changed;
    if (problem) step.problem = problem;
    const time = e['@timestamp'];
    if (time) step.time = time;
    steps.push(step);
  }
  // A NAT step with no later step to show the result: take the rewrite from the rule itself.
  for (let i = 0; i < joins.length; i++) {
    const j = joins[i]!;
    if (j.effect !== 'nat' || nat.some((n) => n.by && sameRef(n.by, steps[i]!))) continue;
    const e = events[i]!;
    const t: Tuple = {
      src: e.source?.ip,
      dst: e.destination?.ip,
      sport: e.source?.port,
      dport: e.destination?.port,
    };
    nat.push({
      kind: j.rule!.target!,
      from: side(t, j.rule!.target!),
      to: natTargetOf(j.rule!, e),
      by: refOf(steps[i]!.table, steps[i]!.chain, steps[i]!.rulenum, j.rule),
    });
  }

  // --- the verdict
  let verdict: Verdict = 'UNKNOWN';
  let decided: number | undefined;
  const lastIdx = events.length - 1;
  if (decidedIdx !== undefined) {
    decided = decidedIdx;
    const eff = joins[decidedIdx]!.effect;
    verdict = eff === 'drop' ? 'DROP' : eff === 'reject' ? 'REJECT' : 'QUEUE';
  } else if (travEnded && terminalIdx.length > 0 && terminalIdx[terminalIdx.length - 1] === lastIdx) {
    const h = hooks[lastIdx];
    if (h !== undefined && isFinalHook(h)) {
      verdict = 'ACCEPT';
      const inFinal = terminalIdx.filter((t) => hooks[t] === h);
      decided = inFinal.find((t) => steps[t]!.table === 'filter') ?? inFinal[inFinal.length - 1];
    } else flags.add('silent_drop');
  } else flags.add('silent_drop');

  // A fragment's trace ends where the kernel queues it for reassembly (ip_local_deliver): not a silent drop.
  if (flags.has('silent_drop') && hooks[lastIdx] === 'PREROUTING' && isFragment(events[0]!)) {
    flags.delete('silent_drop');
    flags.add('fragment');
  }
  const kube = attributeKubernetes(steps, joins, paths, decided, markChanges, rs, events);
  for (const f of kube.flags) flags.add(f);

  let markSetBy: MarkSetter[] | undefined;
  const decidedRule = decided !== undefined ? joins[decided]!.rule : undefined;
  const mm = decidedRule ? markMatchOf(decidedRule) : undefined;
  if (mm && decided !== undefined) {
    markSetBy = [];
    for (const [idx, mc] of [...markChanges].sort((a, b) => a[0] - b[0])) {
      if (idx >= decided) continue;
      const bits = (mc.spec?.mask ?? 0) | ((mc.from ?? 0) ^ (mc.to ?? 0));
      if ((bits & mm.mask) === 0) continue;
      const s = steps[idx]!;
      markSetBy.push({
        ...refOf(s.table, s.chain, s.rulenum, joins[idx]!.rule),
        mark: mc.spec
          ? `${hex(mc.spec.value)}/${hex(mc.spec.mask)}`
          : `${hex(mc.from ?? 0)} -> ${hex(mc.to ?? 0)}`,
        path: pathRefs(paths[idx], steps, joins),
      });
    }
  }

  const mismatch = flags.has('snapshot_mismatch') || flags.has('no_snapshot');
  if (mismatch) {
    // Without a fitting snapshot the walk cannot tell a silent drop from a step it could not place.
    flags.delete('silent_drop');
    verdict = 'UNKNOWN';
    decided = undefined;
    markSetBy = undefined;
  }
  const first = events[0]!;
  const packet = summarize(first);
  const decidedBy =
    decided !== undefined
      ? {
          ...refOf(
            steps[decided]!.table,
            steps[decided]!.chain,
            steps[decided]!.rulenum,
            joins[decided]!.rule,
          ),
          kind: steps[decided]!.kind,
          ...(joins[decided]!.target ? { target: joins[decided]!.target } : {}),
          path: pathRefs(paths[decided], steps, joins),
        }
      : undefined;
  const flagList = [...flags].sort();
  const explanation: Explanation = {
    packet,
    verdict,
    ...(decidedBy ? { decidedBy } : {}),
    ...(markSetBy ? { markSetBy } : {}),
    nat,
    ...(kube.attribution ? { kubernetes: kube.attribution } : {}),
    flags: flagList,
    cause: '',
    ...(rs
      ? {
          snapshot: {
            source: rs.source,
            hash: rs.hash,
            ...(rs.generatedAt ? { generatedAt: rs.generatedAt } : {}),
            family: rs.family ?? packet.family,
          },
        }
      : {}),
    steps,
  };
  return {
    ...explanation,
    cause: describeCause(explanation, {
      joins,
      hooks,
      firstProblem,
      rs,
      markRule: decidedRule,
      kube: kube.ref,
    }),
  };
}

/** Whether a verdict printed by the channel (nft, xtables-monitor) agrees with the snapshot's effect. */
function verdictAgrees(verdict: string, effect: Effect): boolean {
  switch (verdict.toUpperCase()) {
    case 'ACCEPT':
      return effect === 'accept' || effect === 'nat';
    case 'DROP':
      return effect === 'drop' || effect === 'reject';
    case 'JUMP':
      return effect === 'jump';
    case 'GOTO':
      return effect === 'goto';
    case 'RETURN':
      return effect === 'return';
    case 'CONTINUE':
      return effect === 'continue';
    case 'QUEUE':
      return effect === 'queue';
    default:
      return true;
  }
}

/** A path as the public RuleRef list, outermost first. */
function pathRefs(node: PathNode | undefined, steps: ExplainedStep[], joins: JoinedStep[]): RuleRef[] {
  const out: RuleRef[] = [];
  for (let n = node; n; n = n.parent) {
    const s = steps[n.idx]!;
    out.unshift(refOf(s.table, s.chain, s.rulenum, joins[n.idx]!.rule));
  }
  return out;
}

function isFragment(e: NetfilterEvent): boolean {
  const ip = e.netfilter.ip;
  return !!ip && ((ip.fragOffset ?? 0) > 0 || (ip.flags?.includes('MF') ?? false));
}

function findFrame(stack: Frame[], chain: string): number {
  for (let k = stack.length - 1; k >= 0; k--) if (stack[k]!.chain === chain) return k;
  return -1;
}

function refOf(table: string, chain: string, rulenum: number, rule?: Rule): RuleRef {
  return { table, chain, rulenum, ...(rule ? { rule: rule.text } : {}) };
}

function sameRef(a: RuleRef, b: { table: string; chain: string; rulenum: number }): boolean {
  return a.table === b.table && a.chain === b.chain && a.rulenum === b.rulenum;
}

function hostPort(ip: string | undefined, port: number | undefined): string {
  const a = ip === undefined ? '?' : ip.includes(':') ? `[${ip}]` : ip;
  return port === undefined ? (ip ?? '?') : `${a}:${port}`;
}

function endpoints(t: Tuple): string {
  return `${hostPort(t.src, t.sport)} -> ${hostPort(t.dst, t.dport)}`;
}

/** The side of the tuple a NAT target rewrites. */
function side(t: Tuple, target: string): string {
  if (target === 'SNAT' || target === 'MASQUERADE') return hostPort(t.src, t.sport);
  if (target === 'NETMAP') return endpoints(t);
  return hostPort(t.dst, t.dport);
}

/** What a NAT rule rewrites to, from its options, for a NAT step that is the last step we saw. */
function natTargetOf(rule: Rule, e: NetfilterEvent): string {
  const opt = (n: string): string | undefined => targetOption(rule, n)?.values[0];
  switch (rule.target) {
    case 'DNAT':
      return opt('to-destination') ?? '?';
    case 'SNAT':
      return opt('to-source') ?? '?';
    case 'REDIRECT':
      return `(local address of ${e.observer?.ingress?.interface?.name || 'the input interface'}):${opt('to-ports') ?? e.destination?.port ?? '?'}`;
    case 'MASQUERADE': {
      const ports = opt('to-ports');
      return `(address of ${e.observer?.egress?.interface?.name || 'the output interface'})${ports ? `:${ports}` : ''}`;
    }
    default:
      return opt('to') ?? '?';
  }
}

function summarize(e: NetfilterEvent): PacketSummary {
  const nf = e.netfilter;
  const p: Mutable<PacketSummary> = { family: e.network.type, channel: e.ruletrail.channel };
  if (e.host?.name) p.host = e.host.name;
  if (e.network.transport) p.proto = e.network.transport;
  if (e.source?.ip !== undefined) p.src = e.source.ip;
  if (e.destination?.ip !== undefined) p.dst = e.destination.ip;
  if (e.source?.port !== undefined) p.sport = e.source.port;
  if (e.destination?.port !== undefined) p.dport = e.destination.port;
  if (nf.ip?.id !== undefined) p.ipId = nf.ip.id;
  if (nf.ip?.len !== undefined) p.len = nf.ip.len;
  if (nf.tcp?.seq !== undefined) p.tcpSeq = nf.tcp.seq;
  if (nf.tcp?.flags) p.tcpFlags = nf.tcp.flags;
  if (nf.tcp?.options !== undefined) p.tcpOptions = nf.tcp.options;
  if (nf.icmp?.type !== undefined) p.icmpType = nf.icmp.type;
  if (nf.icmp?.code !== undefined) p.icmpCode = nf.icmp.code;
  if (e.observer?.ingress?.interface?.name) p.in = e.observer.ingress.interface.name;
  if (e.observer?.egress?.interface?.name) p.out = e.observer.egress.interface.name;
  if (e['@timestamp']) p.firstSeen = e['@timestamp'];
  return p;
}

interface KubeResult {
  attribution?: KubernetesAttribution;
  /** The rule whose comment named the service on the decisive path, for the cause sentence. */
  ref?: RuleRef & { service: ServiceRef; ruleObj?: Rule };
  flags: Flag[];
}

/** What one rule's comments say, parsed once per rule (rules are shared by every packet that hits them). */
interface RuleComments {
  readonly services: readonly ServiceRef[];
  readonly calico: readonly string[];
}
const commentCache = new WeakMap<Rule, RuleComments>();
function ruleComments(rule: Rule): RuleComments {
  let c = commentCache.get(rule);
  if (!c) {
    const services: ServiceRef[] = [];
    const calico: string[] = [];
    for (const text of rule.comments) {
      const id = calicoId(text);
      if (id) calico.push(id);
      else {
        const svc = parseServiceComment(text);
        if (svc) services.push(svc);
      }
    }
    c = { services, calico };
    commentCache.set(rule, c);
  }
  return c;
}
/** The verdict maps kube-proxy's nftables proxier drops or rejects service traffic with when there are no endpoints. */
const NFT_NO_ENDPOINTS_VMAP = /\bvmap @(no-endpoint-(?:services|nodeports))\b/;

/**
 * The service of a kube-proxy nftables no-endpoints verdict, from the map element's comment. The keys are
 * `l4proto . port` (no-endpoint-nodeports) and `daddr . l4proto . port` (no-endpoint-services), looked up with
 * the packet as the deciding step saw it (after any DNAT).
 */
function noEndpointsService(
  rs: Ruleset | undefined,
  table: string,
  map: string,
  e: NetfilterEvent,
): ServiceRef | undefined {
  const elems = rs?.tables.get(table)?.verdictMaps?.get(map);
  const proto = e.network.transport;
  const port = e.destination?.port;
  if (!elems || proto === undefined || port === undefined) return undefined;
  const key =
    map === 'no-endpoint-nodeports' ? [proto, String(port)] : [e.destination?.ip ?? '', proto, String(port)];
  const hit = elems.find((el) => el.key.length === key.length && el.key.every((k, j) => k === key[j]));
  return hit?.comment !== undefined ? parseServiceComment(hit.comment) : undefined;
}
const serviceChainCache = new Map<string, boolean>();
function isServiceChainCached(chain: string): boolean {
  let v = serviceChainCache.get(chain);
  if (v === undefined) {
    v = isKubeServiceChain(chain);
    if (serviceChainCache.size < 100_000) serviceChainCache.set(chain, v);
  }
  return v;
}

/**
 * Service attribution. The decisive path is the mark setter's (when a mark decided) or the deciding step's;
 * the service is named by the outermost rule on that path whose comment names one — for a NodePort drop that is
 * the KUBE-NODEPORTS rule, which carries the port the user hit.
 */
function attributeKubernetes(
  steps: ExplainedStep[],
  joins: JoinedStep[],
  paths: (PathNode | undefined)[],
  decided: number | undefined,
  markChanges: Map<number, MarkChange>,
  rs: Ruleset | undefined,
  events: readonly NetfilterEvent[],
): KubeResult {
  const flags: Flag[] = [];
  const chains: string[] = [];
  const calico: string[] = [];
  let endpoint: string | undefined;
  let reason: string | undefined;
  let anyService: ServiceRef | undefined;
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i]!;
    const rule = joins[i]!.rule;
    if (isServiceChainCached(s.chain) && !chains.includes(s.chain)) chains.push(s.chain);
    if (s.chain === 'KUBE-MARK-DROP') flags.push('kube_mark_drop');
    if (!rule) continue;
    if (rule.target === 'KUBE-MARK-DROP' && s.resolution !== 'unresolved') flags.push('kube_mark_drop');
    const rc = ruleComments(rule);
    for (const id of rc.calico) if (!calico.includes(id)) calico.push(id);
    for (const svc of rc.services) {
      anyService ??= svc;
      if (isNoEndpointsReason(svc.suffix)) {
        reason = svc.suffix;
        flags.push('kube_no_endpoints');
      }
    }
    // kube-proxy's nftables mode writes no comments on these rules: its "no endpoints" drop or reject is the
    // verdict of the no-endpoint-services / no-endpoint-nodeports map in table kube-proxy, and the service is
    // named only in the comment of the map element the packet matched.
    if (i === decided && s.table === 'kube-proxy') {
      const vmap = NFT_NO_ENDPOINTS_VMAP.exec(rule.text);
      if (vmap) {
        reason ??= 'has no endpoints';
        flags.push('kube_no_endpoints');
        const svc = noEndpointsService(rs, s.table, vmap[1]!, events[i]!);
        if (svc) anyService ??= svc;
      }
    }
    if (rule.target === 'DNAT' && s.chain.startsWith('KUBE-SEP-'))
      endpoint = targetOption(rule, 'to-destination')?.values[0];
  }
  // The decisive path: the mark setter's when a mark decided, else the deciding step's.
  let decisive: PathNode | undefined;
  if (decided !== undefined) {
    let setter: number | undefined;
    for (const k of markChanges.keys())
      if (k < decided && joins[k]!.rule?.target === 'MARK' && (setter === undefined || k < setter))
        setter = k;
    const decidedRule = joins[decided]!.rule;
    decisive =
      setter !== undefined && decidedRule && markMatchOf(decidedRule) ? paths[setter] : paths[decided];
  }
  let ref: KubeResult['ref'];
  const outermostFirst: PathNode[] = [];
  for (let n = decisive; n; n = n.parent) outermostFirst.unshift(n);
  for (const n of outermostFirst) {
    const rule = joins[n.idx]!.rule;
    const svc = rule ? ruleComments(rule).services[0] : undefined;
    if (svc && rule) {
      const st = steps[n.idx]!;
      ref = { ...refOf(st.table, st.chain, st.rulenum, rule), service: svc, ruleObj: rule };
      break;
    }
  }
  const svc = ref?.service ?? anyService;
  const uniqFlags = [...new Set(flags)];
  if (!svc && !reason && chains.length === 0 && calico.length === 0) return { flags: uniqFlags };
  const attribution: Mutable<KubernetesAttribution> = { chains };
  if (svc) {
    attribution.service = svc.service;
    attribution.namespace = svc.namespace;
    attribution.name = svc.name;
    if (svc.port) attribution.port = svc.port;
  }
  if (reason) attribution.reason = reason;
  if (endpoint) attribution.endpoint = endpoint;
  if (calico.length) attribution.calico = calico;
  return { attribution, ...(ref ? { ref } : {}), flags: uniqFlags };
}

interface CauseContext {
  joins: JoinedStep[];
  hooks: (Hook | undefined)[];
  firstProblem?: string;
  rs?: Ruleset;
  markRule?: Rule;
  kube?: RuleRef & { service: ServiceRef; ruleObj?: Rule };
}

const VERB: Record<string, string> = {
  DROP: 'dropped',
  REJECT: 'rejected',
  QUEUE: 'queued to user space',
  ACCEPT: 'accepted',
};

function refText(r: { table: string; chain: string; rulenum: number }): string {
  return `${r.table} ${r.chain} rule ${r.rulenum}`;
}

function portMatch(rule: Rule | undefined): string {
  if (!rule) return '';
  const d =
    findOption(rule, 'tcp', 'dport') ??
    findOption(rule, 'udp', 'dport') ??
    findOption(rule, 'sctp', 'dport') ??
    findOption(rule, 'th', 'dport') ??
    findOption(rule, 'multiport', 'dports');
  return d?.values[0] ? ` (dport ${d.negated ? '!' : ''}${d.values[0]})` : '';
}

/** The one plain sentence. */
function describeCause(x: Explanation, ctx: CauseContext): string {
  if (x.flags.includes('no_snapshot'))
    return `no ${x.packet.family} snapshot was given, so the steps cannot be joined: pass its ${x.packet.family === 'ipv6' ? 'ip6tables-save' : 'iptables-save'} output with --rules`;
  if (x.flags.includes('snapshot_mismatch'))
    return `snapshot ${x.snapshot?.source ?? '?'} does not match this trace (${ctx.firstProblem ?? 'a step cannot be placed'}); the ruleset changed: supply the snapshot in force${x.packet.firstSeen ? ` at ${x.packet.firstSeen}` : ''}`;
  const d = x.decidedBy;
  if (x.flags.includes('fragment'))
    return 'an IP fragment: its trace ends at PREROUTING where the kernel queues it for reassembly; the reassembled packet is traced and explained on its own';
  if (x.verdict === 'UNKNOWN' || !d) {
    const last = x.steps[x.steps.length - 1];
    const where = last ? `${last.table}:${last.chain}:${last.kind}:${last.rulenum}` : 'the first step';
    return `no verdict: the trace stops after ${where} without reaching a final hook, so the packet was dropped outside iptables (routing, rp_filter, conntrack) or trace lines were lost`;
  }
  let s: string;
  if (d.kind === 'policy' && !d.rule)
    s = `${VERB[x.verdict]} by the ${d.table} ${d.chain} policy ${d.target ?? ''}`.trimEnd();
  else if (d.kind !== 'rule')
    s = `${VERB[x.verdict]} by ${refText(d)} (unconditional -j ${d.target ?? '?'}, which the kernel logs as ${d.kind}:${d.rulenum})`;
  else {
    const mm = ctx.markRule ? markMatchOf(ctx.markRule) : undefined;
    const comment = ctx.markRule?.comments.find((c) => !c.startsWith('cali:'));
    s = `${VERB[x.verdict]} by ${refText(d)}`;
    if (mm) s += ` (mark ${mm.negated ? '! ' : ''}${hex(mm.value)}/${hex(mm.mask)})`;
    else if (comment) s += ` '${comment}'`;
  }
  if (x.markSetBy && x.markSetBy.length) s += `, mark set by ${x.markSetBy.map(refText).join(' and ')}`;
  else if (x.markSetBy) s += ', mark already set when the trace began';
  if (ctx.kube)
    s += `, reached from ${refText(ctx.kube)} '${ctx.kube.service.service}'${portMatch(ctx.kube.ruleObj)}`;
  for (const n of x.nat) {
    if (!n.by) {
      s += `; ${n.from} rewritten to ${n.to} by an existing connection's NAT`;
      continue;
    }
    s += `; ${n.kind === 'SNAT' || n.kind === 'MASQUERADE' ? 'source' : 'destination'} ${n.from} rewritten to ${n.to} by ${refText(n.by)}`;
    const before = chainsBeforeNat(x, n.by);
    if (before.length) s += `, after ${before.join(' and ')} had already seen the original destination`;
  }
  if (x.kubernetes?.reason && x.kubernetes.service)
    s += `; kube-proxy: ${x.kubernetes.service} ${x.kubernetes.reason}`;
  else if (x.kubernetes?.reason) {
    // No comment names the service (nftables mode): name what kube-proxy looked up, the destination after DNAT.
    const dnat = x.nat.filter((n) => n.kind === 'DNAT').pop();
    const at = dnat?.to ?? `${x.packet.dst ?? '?'}:${x.packet.dport ?? '?'}`;
    s += `; kube-proxy: the service at ${at} (${x.packet.proto ?? '?'}) ${x.kubernetes.reason}`;
  }
  return s;
}

/** User chains entered from the same built-in chain before the NAT rule: they only ever saw the pre-NAT tuple. */
function chainsBeforeNat(x: Explanation, by: RuleRef): string[] {
  const idx = x.steps.findIndex((s) => sameRef(by, s));
  const out: string[] = [];
  for (let i = idx - 1; i >= 0; i--) {
    const s = x.steps[i]!;
    if (s.table !== by.table) break;
    if (s.chain === by.chain && s.effect === 'jump' && s.target)
      out.unshift(`${s.table} ${s.target} (${s.chain} rule ${s.rulenum})`);
  }
  return out;
}
