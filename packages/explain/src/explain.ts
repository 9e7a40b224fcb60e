/**
 * The verdict walk: one packet's trace steps, in order, joined with its snapshot, replayed through the
 * kernel's traversal rules (jump/goto push and replace call frames, RETURN and implicit returns pop them,
 * ACCEPT/DROP/REJECT/QUEUE/NAT end the table's traversal) to decide the verdict and its cause.
 */
import type { NetfilterEvent } from '@ruletrail/event';
import type { Rule, Ruleset } from '@ruletrail/ruleset';
import { findOption, targetOption } from '@ruletrail/ruleset';
import { chainHook, isFinalHook, type Hook } from './hooks';
import { joinStep, resolveRulenum, type JoinedStep } from './join';
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

interface Frame {
  chain: string;
  /** The jump step that entered this frame (undefined for the built-in chain). */
  via?: RuleRef;
  lastRulenum: number;
}

interface Tuple {
  src?: string;
  dst?: string;
  sport?: number;
  dport?: number;
}

interface MarkChange {
  idx: number;
  spec?: MarkSpec;
  from?: number;
  to?: number;
}

/** Joins and walks one packet's steps. `events` are the packet's TRACE events in order. */
export function explainPacket(
  events: readonly NetfilterEvent[],
  pick: SnapshotPick,
  extraFlags: readonly Flag[] = [],
): Explanation {
  const flags = new Set<Flag>([...pick.flags, ...extraFlags]);
  const rs = pick.ruleset;
  const steps: ExplainedStep[] = [];
  const joins: JoinedStep[] = [];
  const paths: RuleRef[][] = [];
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
  let prev: { tuple: Tuple; mark: number; inIf?: string; outIf?: string } | undefined;

  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    const trace = e.netfilter.trace!;
    // Channels that name rules by text (xtables-monitor, nft) are given their number here; a rule whose text
    // is not in the chain keeps number 0, which never resolves and is reported.
    const after =
      stack.length && stack[stack.length - 1]!.chain === trace.chain
        ? stack[stack.length - 1]!.lastRulenum
        : 0;
    const located = rs ? resolveRulenum(rs, trace, after) : trace.rulenum;
    const tr = { ...trace, rulenum: located ?? 0 };
    let j: JoinedStep = rs
      ? joinStep(rs, tr.table, tr.chain, tr.kind, tr.rulenum)
      : { resolution: 'unresolved', effect: 'unknown', problem: 'no snapshot of this address family' };
    if (rs && located === undefined)
      j = {
        resolution: 'unresolved',
        effect: 'unknown',
        problem: `rule '${trace.rule ?? '?'}' is not in ${tr.table} ${tr.chain} of ${rs.source}`,
      };
    else if (trace.verdict && j.resolution !== 'unresolved' && !verdictAgrees(trace.verdict, j.effect))
      j = {
        ...j,
        resolution: 'unresolved',
        problem: `the channel reports verdict ${trace.verdict}, but ${rs?.source ?? 'the snapshot'} gives ${j.effect}`,
      };
    if (e.netfilter.truncated) flags.add('truncated');
    let problem = j.problem;
    if (j.resolution === 'unresolved' && rs) flags.add('snapshot_mismatch');

    // --- traversal bookkeeping: which call frame is this step in?
    const hook = chainHook(rs, tr.table, tr.chain);
    if (travEnded || tr.table !== travTable) {
      // After an unresolved step its effect is unknown, so a traversal that seems unfinished is no evidence of a gap.
      if (!travEnded && i > 0 && joins[i - 1]?.resolution !== 'unresolved') {
        flags.add('trace_gap');
        problem ??= `the ${travTable} traversal before this step ended without a verdict step (lines lost?)`;
      }
      stack = [{ chain: tr.chain, lastRulenum: 0 }];
      travTable = tr.table;
      travHook = hook ?? (i === 0 ? undefined : travHook);
      travEnded = false;
      if (!hook && i > 0) {
        flags.add('trace_gap');
        problem ??= `a ${tr.table} traversal cannot start in user chain ${tr.chain}: its entry step is missing`;
      }
    } else if (stack[stack.length - 1]!.chain !== tr.chain) {
      const at = findFrame(stack, tr.chain);
      if (at >= 0) stack.length = at + 1;
      else stack.push({ chain: tr.chain, lastRulenum: 0 });
      if (j.resolution !== 'unresolved' && !problemBefore(joins)) {
        flags.add('trace_gap');
        problem ??= `expected the next step in ${travTable} ${stack[Math.max(0, at)]?.chain ?? '?'}, got ${tr.chain}`;
      }
    }
    const frame = stack[stack.length - 1]!;
    if (tr.rulenum <= frame.lastRulenum) {
      flags.add('trace_gap');
      problem ??= `rule numbers in ${tr.table} ${tr.chain} went backwards (${frame.lastRulenum} then ${tr.rulenum})`;
    }
    frame.lastRulenum = tr.rulenum;
    const path = stack.map((f) => f.via).filter((v): v is RuleRef => v !== undefined);
    hooks.push(travHook);

    const ref = refOf(tr.table, tr.chain, tr.rulenum, j.rule);
    // --- effect on the traversal
    switch (j.effect) {
      case 'jump':
        stack.push({ chain: j.rule!.target!, via: ref, lastRulenum: 0 });
        break;
      case 'goto':
        if (stack.length > 1) stack.pop();
        stack.push({ chain: j.rule!.target!, via: ref, lastRulenum: 0 });
        break;
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
    const tuple: Tuple = {
      ...(e.source?.ip !== undefined ? { src: e.source.ip } : {}),
      ...(e.destination?.ip !== undefined ? { dst: e.destination.ip } : {}),
      ...(e.source?.port !== undefined ? { sport: e.source.port } : {}),
      ...(e.destination?.port !== undefined ? { dport: e.destination.port } : {}),
    };
    const mark = e.netfilter.mark ?? 0;
    const inIf = e.observer?.ingress?.interface?.name;
    const outIf = e.observer?.egress?.interface?.name;
    const changed: Record<string, string | number> = {};
    if (prev) {
      for (const k of ['src', 'dst', 'sport', 'dport'] as const)
        if (tuple[k] !== undefined && tuple[k] !== prev.tuple[k]) changed[k] = tuple[k];
      if (mark !== prev.mark) {
        changed.mark = hex(mark);
        const mc = markChanges.get(i - 1) ?? { idx: i - 1 };
        markChanges.set(i - 1, { ...mc, from: prev.mark, to: mark });
      }
      if (inIf !== undefined && inIf !== prev.inIf) changed.in = inIf;
      if (outIf !== undefined && outIf !== prev.outIf) changed.out = outIf;
      if (
        changed.src !== undefined ||
        changed.dst !== undefined ||
        changed.sport !== undefined ||
        changed.dport !== undefined
      ) {
        const p = i - 1;
        const pj = joins[p]!;
        nat.push(
          pj.effect === 'nat'
            ? {
                kind: pj.rule!.target!,
                from: side(prev.tuple, pj.rule!.target!),
                to: side(tuple, pj.rule!.target!),
                by: refOf(steps[p]!.table, steps[p]!.chain, steps[p]!.rulenum, pj.rule),
              }
            : { kind: 'CONNTRACK', from: endpoints(prev.tuple), to: endpoints(tuple) },
        );
      }
    }
    if (j.rule) {
      const spec = markSetByRule(j.rule);
      if (spec) markChanges.set(i, { ...(markChanges.get(i) ?? { idx: i }), spec });
    }
    prev = {
      tuple,
      mark,
      ...(inIf !== undefined ? { inIf } : {}),
      ...(outIf !== undefined ? { outIf } : {}),
    };

    if (problem && !firstProblem && j.resolution === 'unresolved')
      firstProblem = `${tr.table}:${tr.chain}:${tr.kind}:${tr.rulenum}: ${problem}`;
    joins.push(j);
    paths.push(path);
    steps.push({
      table: tr.table,
      chain: tr.chain,
      kind: tr.kind,
      rulenum: tr.rulenum,
      resolution: j.resolution,
      effect: j.effect,
      ...(j.rule ? { rule: j.rule.text } : {}),
      ...(j.target ? { target: j.target } : {}),
      ...(mark ? { mark: hex(mark) } : {}),
      ...(Object.keys(changed).length ? { changed } : {}),
      ...(problem ? { problem } : {}),
      ...(e['@timestamp'] ? { time: e['@timestamp'] } : {}),
      origin: e.ruletrail.origin,
    });
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

  const kube = attributeKubernetes(steps, joins, paths, decided, markChanges);
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
        path: paths[idx]!,
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
          path: paths[decided]!,
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

function findFrame(stack: Frame[], chain: string): number {
  for (let k = stack.length - 1; k >= 0; k--) if (stack[k]!.chain === chain) return k;
  return -1;
}

function problemBefore(joins: JoinedStep[]): boolean {
  return joins.some((j) => j.resolution === 'unresolved');
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
  return {
    ...(e.host?.name ? { host: e.host.name } : {}),
    family: e.network.type,
    ...(e.network.transport ? { proto: e.network.transport } : {}),
    ...(e.source?.ip !== undefined ? { src: e.source.ip } : {}),
    ...(e.destination?.ip !== undefined ? { dst: e.destination.ip } : {}),
    ...(e.source?.port !== undefined ? { sport: e.source.port } : {}),
    ...(e.destination?.port !== undefined ? { dport: e.destination.port } : {}),
    ...(nf.ip?.id !== undefined ? { ipId: nf.ip.id } : {}),
    ...(nf.ip?.len !== undefined ? { len: nf.ip.len } : {}),
    ...(nf.tcp?.seq !== undefined ? { tcpSeq: nf.tcp.seq } : {}),
    ...(nf.tcp?.flags ? { tcpFlags: nf.tcp.flags } : {}),
    ...(nf.tcp?.options !== undefined ? { tcpOptions: nf.tcp.options } : {}),
    ...(nf.icmp?.type !== undefined ? { icmpType: nf.icmp.type } : {}),
    ...(nf.icmp?.code !== undefined ? { icmpCode: nf.icmp.code } : {}),
    ...(e.observer?.ingress?.interface?.name ? { in: e.observer.ingress.interface.name } : {}),
    ...(e.observer?.egress?.interface?.name ? { out: e.observer.egress.interface.name } : {}),
    ...(e['@timestamp'] ? { firstSeen: e['@timestamp'] } : {}),
    channel: e.ruletrail.channel,
  };
}

interface KubeResult {
  attribution?: KubernetesAttribution;
  /** The rule whose comment named the service on the decisive path, for the cause sentence. */
  ref?: RuleRef & { service: ServiceRef; ruleObj?: Rule };
  flags: Flag[];
}

/**
 * Service attribution. The decisive path is the mark setter's (when a mark decided) or the deciding step's;
 * the service is named by the outermost rule on that path whose comment names one — for a NodePort drop that is
 * the KUBE-NODEPORTS rule, which carries the port the user hit.
 */
function attributeKubernetes(
  steps: ExplainedStep[],
  joins: JoinedStep[],
  paths: RuleRef[][],
  decided: number | undefined,
  markChanges: Map<number, MarkChange>,
): KubeResult {
  const flags: Flag[] = [];
  const chains: string[] = [];
  const calico: string[] = [];
  let endpoint: string | undefined;
  let reason: string | undefined;
  let anyService: { svc: ServiceRef; idx: number } | undefined;
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i]!;
    const rule = joins[i]!.rule;
    if (isKubeServiceChain(s.chain) && !chains.includes(s.chain)) chains.push(s.chain);
    if (s.chain === 'KUBE-MARK-DROP') flags.push('kube_mark_drop');
    if (rule?.target === 'KUBE-MARK-DROP' && s.resolution !== 'unresolved') flags.push('kube_mark_drop');
    if (!rule) continue;
    for (const c of rule.comments) {
      const id = calicoId(c);
      if (id) {
        if (!calico.includes(id)) calico.push(id);
        continue;
      }
      const svc = parseServiceComment(c);
      if (!svc) continue;
      anyService ??= { svc, idx: i };
      if (isNoEndpointsReason(svc.suffix)) {
        reason = svc.suffix;
        flags.push('kube_no_endpoints');
      }
    }
    if (s.chain.startsWith('KUBE-SEP-') && rule.target === 'DNAT')
      endpoint = targetOption(rule, 'to-destination')?.values[0];
  }
  // The decisive path: mark setter's path + the setter itself, else the deciding step's.
  let decisive: { path: RuleRef[]; idx: number } | undefined;
  if (decided !== undefined) {
    const setters = [...markChanges.keys()].filter((k) => k < decided).sort((a, b) => a - b);
    const setter = setters.find((k) => joins[k]!.rule?.target === 'MARK');
    decisive =
      setter !== undefined && joins[decided]!.rule && markMatchOf(joins[decided]!.rule)
        ? { path: paths[setter]!, idx: setter }
        : { path: paths[decided]!, idx: decided };
  }
  let ref: KubeResult['ref'];
  if (decisive) {
    for (const p of decisive.path) {
      const idx = steps.findIndex((s) => sameRef(p, s));
      const rule = idx >= 0 ? joins[idx]!.rule : undefined;
      const svc = rule?.comments.map(parseServiceComment).find((x) => x !== undefined);
      if (svc && rule) {
        ref = { ...p, service: svc, ruleObj: rule };
        break;
      }
    }
  }
  const svc = ref?.service ?? anyService?.svc;
  const uniqFlags = [...new Set(flags)];
  if (!svc && chains.length === 0 && calico.length === 0) return { flags: uniqFlags };
  const attribution: KubernetesAttribution = {
    ...(svc
      ? {
          service: svc.service,
          namespace: svc.namespace,
          name: svc.name,
          ...(svc.port ? { port: svc.port } : {}),
        }
      : {}),
    ...(reason ? { reason } : {}),
    ...(endpoint ? { endpoint } : {}),
    chains,
    ...(calico.length ? { calico } : {}),
  };
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

export type { Effect };
