/**
 * The cause: one plain sentence saying why the packet met its fate, built from the finished explanation and
 * what the walk knows about the deciding rule, the mark setter, the service and the NAT rewrites.
 */
import { findOption, type Rule, type Ruleset } from '@ruletrail/ruleset';
import type { ServiceRef } from './kubernetes';
import type { JoinedStep } from './join';
import type { Hook } from './hooks';
import { sameRef } from './deltas';
import { hex, markMatchOf } from './marks';
import type { Explanation, RuleRef } from './types';

export interface CauseContext {
  joins: JoinedStep[];
  hooks: (Hook | undefined)[];
  firstProblem?: string;
  rs?: Ruleset;
  markRule?: Rule;
  kube?: (RuleRef & { service: ServiceRef; ruleObj?: Rule }) | undefined;
  /** How an accepted packet left netfilter. */
  way?: 'local' | 'forwarded' | 'sent' | undefined;
}

const WAY = { local: 'delivered locally', forwarded: 'forwarded', sent: 'sent by this host' } as const;

/** How the sentence names a NAT rewrite. */
const NAT_WORD: Record<string, string> = {
  DNAT: 'DNAT',
  SNAT: 'SNAT',
  MASQUERADE: 'masqueraded',
  REDIRECT: 'redirected',
  NETMAP: 'NETMAP',
};

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
export function describeCause(x: Explanation, ctx: CauseContext): string {
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
  if (x.verdict === 'ACCEPT' && ctx.way) s += ` (${WAY[ctx.way]})`;
  else if (x.verdict === 'ACCEPT' && ctx.hooks[ctx.hooks.length - 1] === 'PREROUTING')
    // Nothing of the snapshot follows PREROUTING for this packet: netfilter let it pass, but where routing took
    // it (local delivery, forwarding, or a routing drop) is not in the trace.
    s += ' (no later chain of the snapshot saw it: where routing took it is not traced)';
  if (x.markSetBy && x.markSetBy.length) s += `, mark set by ${x.markSetBy.map(refText).join(' and ')}`;
  else if (x.markSetBy) s += ', mark already set when the trace began';
  if (ctx.kube)
    s += `, reached from ${refText(ctx.kube)} '${ctx.kube.service.service}'${portMatch(ctx.kube.ruleObj)}`;
  for (const n of x.nat) {
    if (!n.by) {
      s += `; ${n.from} rewritten to ${n.to} by an existing connection's NAT`;
      continue;
    }
    s += `; ${n.kind === 'SNAT' || n.kind === 'MASQUERADE' ? 'source' : 'destination'} ${n.from} rewritten to ${n.to} by ${refText(n.by)} (${NAT_WORD[n.kind] ?? n.kind})`;
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
