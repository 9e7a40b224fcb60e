/**
 * The verdict, as a pure function of the walk.
 *
 * - The first DROP, REJECT or QUEUE step decides.
 * - Otherwise the packet's last step let it go on (an ACCEPT, a NAT rewrite, a chain policy ACCEPT). Whether that
 *   is the end depends on what the snapshot still has on the packet's way FOR A PACKET OF ITS CONNTRACK STATE
 *   (hooks.ts `whatFollows`): a connection's later packets skip the NAT chains, so a non-first packet of an
 *   outgoing connection on a host without a mangle table is complete after `filter OUTPUT`, and a forwarded one
 *   in kube-proxy's nftables mode after the forward hook. Nothing left, or only chains it may skip: ACCEPT.
 *   A chain every such packet must still traverse: the trace stops short — `silent_drop` (routing, rp_filter,
 *   conntrack, or lost lines), verdict UNKNOWN.
 * - The deciding step of an ACCEPT is the filtering decision: the last accept in a filter chain (iptables
 *   `filter` table, nftables `type filter` chain) at INPUT, FORWARD or OUTPUT, not a NAT chain that happened to
 *   accept last (a masquerade rule in nat POSTROUTING).
 */
import type { Ruleset } from '@ruletrail/ruleset';
import { chainPriority, isNatChain, whatFollows, type Hook } from './hooks';
import type { Flag, Verdict } from './types';
import type { WalkResult } from './walk';

/** What the verdict step adds to the walk. */
export interface VerdictResult {
  readonly verdict: Verdict;
  /** Index of the deciding step. */
  readonly decided: number | undefined;
  /** Flags the decision adds (`silent_drop`, `fragment`). */
  readonly flags: readonly Flag[];
  /** How the packet left netfilter, for the sentence: delivered locally, forwarded, or sent by this host. */
  readonly way?: 'local' | 'forwarded' | 'sent';
}

export function decideVerdict(w: WalkResult): VerdictResult {
  const { steps, joins, hooks, terminalIdx, events } = w;
  const rs = w.ruleset;
  const lastIdx = steps.length - 1;
  if (w.decidedIdx !== undefined) {
    const eff = joins[w.decidedIdx]!.effect;
    return {
      verdict: eff === 'drop' ? 'DROP' : eff === 'reject' ? 'REJECT' : 'QUEUE',
      decided: w.decidedIdx,
      flags: [],
    };
  }
  const lastTerminal = terminalIdx[terminalIdx.length - 1];
  const h = hooks[lastIdx];
  if (rs && w.travEnded && lastTerminal === lastIdx && h !== undefined) {
    const s = steps[lastIdx]!;
    const base = baseChainOf(w, lastIdx);
    const follows = whatFollows(rs, h, chainPriority(rs, s.table, base, h), w.natState);
    if (follows !== 'required') {
      return {
        verdict: 'ACCEPT',
        decided: filteringDecision(w, rs) ?? lastTerminal,
        flags: [],
        way: wayOut(hooks),
      };
    }
  }
  // A fragment's trace ends where the kernel queues it for reassembly (ip_local_deliver): not a silent drop.
  if (h === 'PREROUTING' && events.length > 0 && isFragment(events[0]!))
    return { verdict: 'UNKNOWN', decided: undefined, flags: ['fragment'] };
  return { verdict: 'UNKNOWN', decided: undefined, flags: ['silent_drop'] };
}

/** The base chain of the traversal step `idx` belongs to (its own chain for a base chain). */
function baseChainOf(w: WalkResult, idx: number): string {
  let k = idx;
  const table = w.steps[idx]!.table;
  // Walk back to the traversal's first step: same table, and no terminal step in between.
  while (k > 0 && w.steps[k - 1]!.table === table && !w.terminalIdx.includes(k - 1)) k--;
  return w.steps[k]!.chain;
}

/** The last accept in a filter chain at a filtering hook, if any. */
function filteringDecision(w: WalkResult, rs: Ruleset): number | undefined {
  let found: number | undefined;
  for (const t of w.terminalIdx) {
    const s = w.steps[t]!;
    if (w.joins[t]!.effect !== 'accept') continue;
    const hook = w.hooks[t];
    if (hook !== 'INPUT' && hook !== 'FORWARD' && hook !== 'OUTPUT') continue;
    const base = baseChainOf(w, t);
    const chain = rs.tables.get(s.table)?.chains.get(base);
    const filter = chain?.type !== undefined ? chain.type === 'filter' : s.table === 'filter';
    if (filter && !isNatChain(rs, s.table, base)) found = t;
  }
  if (found !== undefined) return found;
  // No filter chain decided: the previous rule — a filter-table step at the last hook, else its last accept.
  const lastHook = w.hooks[w.steps.length - 1];
  const atLast = w.terminalIdx.filter((t) => w.hooks[t] === lastHook);
  return atLast.find((t) => w.steps[t]!.table === 'filter') ?? atLast[atLast.length - 1];
}

function wayOut(hooks: readonly (Hook | undefined)[]): 'local' | 'forwarded' | 'sent' | undefined {
  if (hooks.includes('FORWARD')) return 'forwarded';
  if (hooks.includes('INPUT')) return 'local';
  if (hooks.includes('OUTPUT')) return 'sent';
  return undefined;
}

function isFragment(e: WalkResult['events'][number]): boolean {
  const ip = e.netfilter.ip;
  return !!ip && ((ip.fragOffset ?? 0) > 0 || (ip.flags?.includes('MF') ?? false));
}
