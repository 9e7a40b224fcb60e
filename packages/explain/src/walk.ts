/**
 * The walk: one packet's trace steps, in order, joined with the snapshot and replayed through the kernel's
 * traversal rules — jump/goto push and replace call frames, RETURN and implicit returns pop them, ACCEPT, DROP,
 * REJECT, QUEUE and NAT end the table's traversal.
 *
 * Every placed step is also CHECKED: its rule is evaluated against the packet the step printed, and the rules of
 * the chain the packet passed since the previous step are evaluated too (a trace logs only matching rules). A
 * rule that cannot match, or a passed rule that must have matched, means the snapshot is not the ruleset that
 * produced the trace: the step becomes unresolved, with the contradiction in words, and the explanation is
 * flagged `snapshot_mismatch` (verdict UNKNOWN) — never a confident answer from the wrong rule.
 *
 * The walk records what happened; deciding the verdict (verdict.ts), the packet deltas (deltas.ts), the
 * Kubernetes attribution (attribution.ts) and the sentence (cause.ts) read its result.
 */
import type { NetfilterEvent } from '@ruletrail/event';
import type { Chain, Rule, Ruleset } from '@ruletrail/ruleset';
import { evaluateRule, describeEvaluation, type EvalContext, type RuleEvaluation } from './evaluate/rule';
import { packetOfEvent, type PacketView } from './evaluate/packet';
import { fieldKey, fieldsRead } from './evaluate/reads';
import {
  chainHook,
  chainPriority,
  isNatChain,
  natStateAfter,
  natStateOfTcp,
  type Hook,
  type NatState,
} from './hooks';
import { VMAP_EFFECT, joinStepCached, resolveRulenum, type JoinedStep } from './join';
import { PacketDeltas } from './deltas';
import type { SnapshotPick } from './snapshots';
import type { Effect, ExplainedStep, Flag, RuleRef, SkippedRules } from './types';

/** The jump path into a call frame, as a persistent list of step indexes (innermost first): no copying per step. */
export interface PathNode {
  readonly idx: number;
  readonly parent: PathNode | undefined;
}

interface Frame {
  chain: string;
  lastRulenum: number;
  /**
   * Set on a base chain that did a `goto`: the RETURN of the chain it went to ends the base chain (its policy is
   * logged next), so the rules after the goto were never evaluated and must not be read as passed.
   */
  wentTo?: boolean;
  /** The jumps that led into this frame (undefined for the built-in chain). */
  path?: PathNode | undefined;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Everything the walk learnt about one packet; read by the verdict, attribution and cause. */
export interface WalkResult {
  readonly events: readonly NetfilterEvent[];
  readonly ruleset: Ruleset | undefined;
  readonly steps: ExplainedStep[];
  readonly joins: JoinedStep[];
  /** Per step: the jump path of its call frame. */
  readonly paths: (PathNode | undefined)[];
  /** Per step: the hook of the traversal it belongs to. */
  readonly hooks: (Hook | undefined)[];
  /** Steps that ended a table traversal (accept, NAT, drop, reject, queue), in order. */
  readonly terminalIdx: number[];
  /** The first drop/reject/queue step. */
  readonly decidedIdx: number | undefined;
  /** Whether the last traversal ended (the last step let the packet go on, or decided it). */
  readonly travEnded: boolean;
  readonly flags: Set<Flag>;
  /** `table:chain:kind:num: problem` of the first step that could not be placed. */
  readonly firstProblem: string | undefined;
  /** Whether the packet went through NAT chains (a connection's first packet), as far as the trace tells. */
  readonly natState: NatState;
  readonly deltas: PacketDeltas;
  /** The transport protocol taken from the matched rules, when the channel does not print it. */
  readonly inferredProto?: string;
}

const NO_SNAPSHOT: JoinedStep = {
  resolution: 'unresolved',
  effect: 'unknown',
  problem: 'no snapshot of this address family',
};

/** Rules a check looks at around a rule that cannot have matched, to name the one the trace probably meant. */
const PROBABLE_DISTANCE = 3;

/** Walks one packet's steps against one snapshot. */
export function walk(
  events: readonly NetfilterEvent[],
  pick: SnapshotPick,
  extraFlags: readonly Flag[],
  ctx: EvalContext,
): WalkResult {
  const flags = new Set<Flag>(pick.flags);
  for (const f of extraFlags) flags.add(f);
  const rs = pick.ruleset;
  const steps: ExplainedStep[] = [];
  const joins: JoinedStep[] = [];
  const paths: (PathNode | undefined)[] = [];
  const hooks: (Hook | undefined)[] = [];
  const deltas = new PacketDeltas();

  let stack: Frame[] = [];
  let travTable: string | undefined;
  let travHook: Hook | undefined;
  let firstHook: Hook | undefined;
  let travEnded = true;
  let decidedIdx: number | undefined;
  const terminalIdx: number[] = [];
  let firstProblem: string | undefined;
  // Whether an earlier step could not be placed: from then on a chain change is no evidence of a gap.
  let unresolvedBefore = false;
  let natState: NatState = natStateOfTcp(events[0]?.netfilter.tcp?.flags);
  const proto = events[0]?.network.transport === undefined && rs ? protocolFromRules(events, rs) : undefined;

  // Hot loop: one iteration per trace step of every packet. Allocation-light on purpose.
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

    // --- the check: can the named rule have matched this packet?
    let pkt: PacketView | undefined;
    let check: RuleEvaluation | undefined;
    let probably: Rule | undefined;
    if (rs && j.resolution === 'rule' && j.rule) {
      pkt = packetOfEvent(e, proto);
      check = evaluateRule(j.rule, pkt, ctx);
      if (check.result === 'no') {
        probably = j.chain ? probableRule(j.chain, rulenum, pkt, ctx) : undefined;
        j = {
          ...j,
          resolution: 'unresolved',
          effect: 'unknown',
          problem:
            `${table} ${chainName} rule ${rulenum} ${describeEvaluation(check)}` +
            (probably
              ? `; the trace probably means rule ${probably.num} (${probably.text}), so the rules were renumbered`
              : ''),
        };
      }
    }

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
    firstHook ??= travHook;
    const frame = stack[stack.length - 1]!;
    if (rulenum <= frame.lastRulenum) {
      flags.add('trace_gap');
      problem ??= `rule numbers in ${table} ${chainName} went backwards (${frame.lastRulenum} then ${rulenum})`;
    }

    // --- why not: the rules of this chain the packet passed since the previous step in it
    let skipped: SkippedRules[] | undefined;
    // Only on an unbroken trace: after a gap (lost lines, a capture that starts mid-packet) the call frames are
    // guesses, and rules "passed" in a guessed frame say nothing about the snapshot.
    if (
      rs &&
      j.resolution !== 'unresolved' &&
      j.chain &&
      !frame.wentTo &&
      !flags.has('trace_gap') &&
      rulenum > frame.lastRulenum + 1
    ) {
      pkt ??= packetOfEvent(e, proto);
      const from = i === 0 ? firstTraced(j.chain, rulenum) : frame.lastRulenum + 1;
      const passed = from === undefined ? undefined : passedRules(j.chain, from, rulenum - 1, pkt, ctx);
      if (passed) {
        if (passed.groups.length) skipped = passed.groups;
        if (passed.mustHaveMatched) {
          const r = passed.mustHaveMatched;
          flags.add('snapshot_mismatch');
          const msg = `${table} ${chainName} rule ${r.num} (${r.text}) matches this packet, but the trace passed it without a step: the snapshot's rules are not the ones that were loaded`;
          j = { ...j, resolution: 'unresolved', effect: 'unknown', problem: msg };
          problem = msg;
        }
      }
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
        if (stack.length === 1) frame.wentTo = true;
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
    if (hook !== undefined || travHook !== undefined) {
      const h = (hook ?? travHook)!;
      natState = natStateAfter(
        rs,
        natState,
        h,
        chainPriority(rs, table, stack[0]?.chain ?? chainName, h),
        isNatChain(rs, table, stack[0]?.chain ?? chainName),
        firstHook,
      );
    }

    // --- packet fields: mark and address changes between steps
    const changed = deltas.observe(i, e, j, table, chainName, rulenum);

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
    const mark = e.netfilter.mark ?? 0;
    if (mark) step.mark = hexMark(mark);
    if (changed) step.changed = changed;
    if (problem) step.problem = problem;
    if (check) {
      step.check = check.result;
      if (check.result !== 'yes') step.checkDetail = describeEvaluation(check);
    }
    if (probably) step.probably = ruleRef(probably);
    if (skipped) step.skipped = skipped;
    const time = e['@timestamp'];
    if (time) step.time = time;
    steps.push(step);
  }
  deltas.finish(events, joins, steps);
  return {
    events,
    ruleset: rs,
    steps,
    joins,
    paths,
    hooks,
    terminalIdx,
    decidedIdx,
    travEnded,
    flags,
    firstProblem,
    natState,
    deltas,
    ...(proto !== undefined ? { inferredProto: proto } : {}),
  };
}

/**
 * The transport protocol of a packet whose channel does not print it (xtables-monitor prints only `SPORT=`/`DPORT=`
 * for UDP and nothing for ICMP): the protocol a rule the kernel reports as matched requires (`-p udp`, `-m udp`,
 * nft `udp dport`). Undefined when no matched rule names one, or two disagree.
 */
function protocolFromRules(events: readonly NetfilterEvent[], rs: Ruleset): string | undefined {
  let found: string | undefined;
  for (const e of events) {
    const tr = e.netfilter.trace;
    if (!tr || tr.kind !== 'rule') continue;
    const n = resolveRulenum(rs, tr, 0);
    if (n === undefined) continue;
    const rule = joinStepCached(rs, tr.table, tr.chain, 'rule', n, tr.rulenum !== undefined).rule;
    if (!rule) continue;
    let p = rule.ip.protocol && !rule.ip.protocol.negated ? rule.ip.protocol.value.toLowerCase() : undefined;
    p ??= rule.matches.find((m) => PROTO_MODULES.has(m.module))?.module;
    if (p === undefined || p === 'all' || p === '0') continue;
    p = p === 'icmpv6' || p === 'icmp6' ? 'ipv6-icmp' : p;
    if (found !== undefined && found !== p) return undefined;
    found = p;
  }
  return found;
}
const PROTO_MODULES = new Set(['tcp', 'udp', 'sctp', 'udplite', 'dccp', 'icmp', 'icmp6']);

function hexMark(n: number): string {
  return `0x${(n >>> 0).toString(16)}`;
}

function ruleRef(r: Rule): RuleRef {
  return { table: r.table, chain: r.chain, rulenum: r.num, rule: r.text };
}

/**
 * For a trace's first step: the first rule whose match would have been logged. Rules up to the TRACE rule (the
 * `-j TRACE` / `meta nftrace set 1` that started the trace) ran before tracing was on; undefined when the chain
 * has no TRACE rule before the step (tracing began elsewhere, so nothing is known about the rules passed).
 */
function firstTraced(chain: Chain, rulenum: number): number | undefined {
  for (let k = Math.min(rulenum - 1, chain.rules.length); k >= 1; k--)
    if (chain.rules[k - 1]!.target === 'TRACE') return k + 1;
  return undefined;
}

/** Of the rules around `rulenum`, the only one that matches the packet for sure, if exactly one does. */
function probableRule(chain: Chain, rulenum: number, p: PacketView, ctx: EvalContext): Rule | undefined {
  let found: Rule | undefined;
  const lo = Math.max(1, rulenum - PROBABLE_DISTANCE);
  const hi = Math.min(chain.rules.length, rulenum + PROBABLE_DISTANCE);
  for (let k = lo; k <= hi; k++) {
    if (k === rulenum) continue;
    const r = chain.rules[k - 1]!;
    if (r.tracedAsTail || evaluateRule(r, p, ctx).result !== 'yes') continue;
    if (found) return undefined;
    found = r;
  }
  return found;
}

interface Passed {
  readonly groups: SkippedRules[];
  /** A passed rule that matches the packet for sure (not a TRACE rule): the trace contradicts the snapshot. */
  readonly mustHaveMatched?: Rule;
}

interface ChainMemo {
  /** `from-to` → the fields the rules in that range read. */
  readonly reads: Map<string, readonly ReturnType<typeof fieldsRead>[number][]>;
  /** `from-to` + those fields' values (+ host facts) → the evaluation of the range. */
  readonly passed: Map<string, Passed>;
}
const chainMemo = new WeakMap<Chain, ChainMemo>();
const factsIds = new WeakMap<object, number>();
let nextFactsId = 1;
/** Entries kept per chain before its memo is cleared: bounds memory on captures with very varied packets. */
const MEMO_ENTRIES_PER_CHAIN = 20_000;

/**
 * {@link evaluatePassed}, memoised per chain on the values of exactly the fields the passed rules read: the
 * thousandth packet passing KUBE-SERVICES to the same address and port costs a key and a lookup.
 */
function passedRules(chain: Chain, from: number, to: number, p: PacketView, ctx: EvalContext): Passed {
  let memo = chainMemo.get(chain);
  if (!memo) {
    memo = { reads: new Map(), passed: new Map() };
    chainMemo.set(chain, memo);
  }
  const range = `${from}-${to}`;
  let fields = memo.reads.get(range);
  if (!fields) {
    const set = new Set<ReturnType<typeof fieldsRead>[number]>();
    for (let k = from; k <= Math.min(to, chain.rules.length); k++)
      for (const f of fieldsRead(chain.rules[k - 1]!)) set.add(f);
    fields = [...set];
    memo.reads.set(range, fields);
  }
  let factsId = 0;
  if (ctx.facts) {
    factsId = factsIds.get(ctx.facts) ?? 0;
    if (!factsId) factsIds.set(ctx.facts, (factsId = nextFactsId++));
  }
  const key = range + fieldKey(p, fields, factsId);
  let r = memo.passed.get(key);
  if (!r) {
    r = evaluatePassed(chain, from, to, p, ctx);
    if (memo.passed.size >= MEMO_ENTRIES_PER_CHAIN) memo.passed.clear();
    memo.passed.set(key, r);
  }
  return r;
}

/** Evaluates rules `from`…`to` of a chain that the packet passed without a logged match, grouped for output. */
function evaluatePassed(chain: Chain, from: number, to: number, p: PacketView, ctx: EvalContext): Passed {
  const groups: Mutable<SkippedRules>[] = [];
  let mustHaveMatched: Rule | undefined;
  let groupSize = 0;
  let groupText = '';
  for (let k = from; k <= Math.min(to, chain.rules.length); k++) {
    const r = chain.rules[k - 1]!;
    const ev = evaluateRule(r, p, ctx);
    if (ev.result === 'yes') {
      // A verdict-map rule "matches" before its lookup: a key that is not in the map goes on, unlogged.
      if (r.target !== 'TRACE' && r.target !== 'VMAP') mustHaveMatched ??= r;
      continue;
    }
    const b = ev.because!;
    const last = groups[groups.length - 1];
    if (last && last.to === k - 1 && last.result === ev.result && last.criterion === b.kind) {
      last.to = k;
      groupSize++;
      last.reason =
        ev.result === 'no'
          ? `each needs another ${b.kind} (${b.detail})`
          : `each depends on what the log does not carry (${b.kind})`;
      continue;
    }
    if (last && groupSize === 1) last.criterion = groupText;
    groupSize = 1;
    groupText = b.criterion;
    groups.push({
      from: k,
      to: k,
      result: ev.result,
      criterion: b.kind,
      reason: describeEvaluation(ev),
    });
  }
  // A group of one names the criterion as written.
  const last = groups[groups.length - 1];
  if (last && groupSize === 1) last.criterion = groupText;
  return mustHaveMatched ? { groups, mustHaveMatched } : { groups };
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

function findFrame(stack: Frame[], chain: string): number {
  for (let k = stack.length - 1; k >= 0; k--) if (stack[k]!.chain === chain) return k;
  return -1;
}
