/**
 * Where a step sits in the packet's journey: netfilter hook + table priority. Used to tell whether a step can
 * continue a packet (the journey only moves forward) and whether an ACCEPT is the packet's last word.
 *
 *   PREROUTING: raw(-300) mangle(-150) nat/DNAT(-100)  ─┬─ INPUT:   mangle filter security nat/SNAT(100)
 *                                                        └─ FORWARD: mangle filter security ─┐
 *   OUTPUT: raw mangle nat/DNAT filter security ───────────────────────── POSTROUTING: mangle nat/SNAT(100)
 */
import { BUILTIN_CHAINS, type Ruleset } from '@ruletrail/ruleset';

/** A netfilter hook, named like the built-in chain. */
export type Hook = 'PREROUTING' | 'INPUT' | 'FORWARD' | 'OUTPUT' | 'POSTROUTING';

const HOOKS = new Set<string>(['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING']);
const NEXT: Record<Hook, readonly Hook[]> = {
  PREROUTING: ['PREROUTING', 'INPUT', 'FORWARD'],
  INPUT: ['INPUT'],
  FORWARD: ['FORWARD', 'POSTROUTING'],
  OUTPUT: ['OUTPUT', 'POSTROUTING'],
  POSTROUTING: ['POSTROUTING'],
};

/** The hook of a built-in chain name, or undefined for a user chain. */
export function hookOf(chain: string): Hook | undefined {
  return HOOKS.has(chain) ? (chain as Hook) : undefined;
}

/**
 * The hook of a step's chain: an nftables base chain says it in the snapshot (any name), an iptables built-in
 * chain is named after it, a user chain has none.
 */
export function chainHook(ruleset: Ruleset | undefined, table: string, chain: string): Hook | undefined {
  const c = ruleset?.tables.get(table)?.chains.get(chain);
  if (c?.hook) return c.hook;
  if (c && !c.builtin) return undefined;
  return hookOf(chain);
}

/** Priority of a (table, chain) at its hook: the nftables base chain's own, else the iptables table's. */
export function chainPriority(
  ruleset: Ruleset | undefined,
  table: string,
  chain: string,
  hook: Hook,
): number {
  return ruleset?.tables.get(table)?.chains.get(chain)?.priority ?? tablePriority(table, hook);
}

/** Table priority at a hook (include/uapi/linux/netfilter_ipv4.h nf_ip_hook_priorities). */
export function tablePriority(table: string, hook: Hook): number {
  switch (table) {
    case 'raw':
      return -300;
    case 'mangle':
      return -150;
    case 'nat':
      return hook === 'PREROUTING' || hook === 'OUTPUT' ? -100 : 100;
    case 'filter':
      return 0;
    case 'security':
      return 50;
    default:
      return 0;
  }
}

/** Whether a packet at `from` can next be seen at `to`. */
export function canFollow(from: Hook, to: Hook): boolean {
  return NEXT[from].includes(to);
}

/** Whether a step at (hook, priority) can come after one at (prevHook, prevPriority) in the same packet. */
export function isForward(prevHook: Hook, prevPriority: number, hook: Hook, priority: number): boolean {
  if (prevHook === hook) return priority >= prevPriority;
  return canFollow(prevHook, hook);
}

/** A hook after which the packet leaves netfilter for good (delivered locally or sent). */
export function isFinalHook(hook: Hook): boolean {
  return hook === 'INPUT' || hook === 'POSTROUTING';
}

/** The last table the packet traverses at `hook`, among the tables loaded in the snapshot. */
export function lastTableAt(ruleset: Ruleset, hook: Hook): string | undefined {
  const chains = baseChainsAt(ruleset, hook);
  return chains[chains.length - 1]?.table;
}

/**
 * Whether the packet traversed (or will traverse) the NAT chains. Conntrack sends only a connection's first packet
 * through the `nat` table (and nftables `type nat` chains); every later packet, in either direction, skips them.
 *  - `new`: the trace shows a NAT chain step, so this is a connection's first packet.
 *  - `not-new`: the trace passed a point where a NAT chain of the snapshot would have been logged without one, or
 *    the packet cannot open a connection (a TCP packet without SYN, or a SYN-ACK).
 *  - `unknown`: nothing tells yet (e.g. a UDP packet before the first NAT hook).
 */
export type NatState = 'new' | 'not-new' | 'unknown';

/** Whether a chain is a NAT chain: the iptables `nat` table, or an nftables base chain of `type nat`. */
export function isNatChain(ruleset: Ruleset | undefined, table: string, chain: string): boolean {
  const c = ruleset?.tables.get(table)?.chains.get(chain);
  if (c?.type !== undefined) return c.type === 'nat';
  return table === 'nat' && c?.hook === undefined;
}

/** One base chain a packet traverses at a hook: where it sits and whether conntrack may skip it. */
export interface BaseChain {
  readonly table: string;
  readonly chain: string;
  readonly hook: Hook;
  readonly priority: number;
  readonly nat: boolean;
}

const baseChainCache = new WeakMap<Ruleset, Map<Hook, readonly BaseChain[]>>();

/** The snapshot's base chains at `hook`, in traversal (priority) order; memoised per snapshot. */
export function baseChainsAt(ruleset: Ruleset, hook: Hook): readonly BaseChain[] {
  let m = baseChainCache.get(ruleset);
  if (!m) {
    m = new Map();
    baseChainCache.set(ruleset, m);
  }
  let list = m.get(hook);
  if (!list) {
    const out: BaseChain[] = [];
    for (const [name, table] of ruleset.tables)
      for (const chain of table.chains.values()) {
        const at =
          chain.hook ??
          (chain.builtin && (BUILTIN_CHAINS[name]?.includes(chain.name) ?? true)
            ? hookOf(chain.name)
            : undefined);
        if (at !== hook) continue;
        out.push({
          table: name,
          chain: chain.name,
          hook,
          priority: chain.priority ?? tablePriority(name, hook),
          nat: isNatChain(ruleset, name, chain.name),
        });
      }
    out.sort((a, b) => a.priority - b.priority);
    list = out;
    m.set(hook, list);
  }
  return list;
}

/** The NAT state a packet's TCP flags alone imply: only a SYN without ACK can open a connection. */
export function natStateOfTcp(flags: readonly string[] | undefined): NatState {
  if (!flags) return 'unknown';
  const syn = flags.includes('SYN');
  return syn && !flags.includes('ACK') ? 'unknown' : 'not-new';
}

/**
 * The NAT state after a step at (hook, priority), given the state before it and whether the step itself is in a
 * NAT chain. A step past a NAT base chain of the same hook (higher priority), or at a later hook than the NAT
 * chains of an earlier hook on the packet's way, with no NAT step seen, means conntrack skipped NAT.
 */
export function natStateAfter(
  ruleset: Ruleset | undefined,
  state: NatState,
  hook: Hook | undefined,
  priority: number,
  stepIsNat: boolean,
  firstHook: Hook | undefined,
): NatState {
  if (stepIsNat) return 'new';
  if (state !== 'unknown' || !ruleset || hook === undefined) return state;
  for (const c of baseChainsAt(ruleset, hook)) if (c.nat && c.priority < priority) return 'not-new';
  // Hooks the packet went through before this one (the routing decision is behind us).
  const before: Hook[] =
    hook === 'INPUT' || hook === 'FORWARD'
      ? ['PREROUTING']
      : hook === 'POSTROUTING'
        ? firstHook === 'OUTPUT'
          ? ['OUTPUT']
          : ['PREROUTING', 'FORWARD']
        : [];
  for (const h of before) for (const c of baseChainsAt(ruleset, h)) if (c.nat) return 'not-new';
  return state;
}

/**
 * What can still follow a step that let the packet go on at (hook, priority) — an ACCEPT, a NAT rewrite or a chain
 * policy ACCEPT — in this snapshot, for a packet in this NAT state:
 *  - `none`: no base chain is left on any way the packet can take: it is complete, nothing more will be logged;
 *  - `optional`: only chains the packet may skip are left (NAT chains while the state is unknown, or one routing
 *    branch — local delivery or forwarding — has none left);
 *  - `required`: a base chain every such packet traverses is left; a trace that stops here lost the packet
 *    outside netfilter (routing, rp_filter, a full queue) or lost lines.
 */
export function whatFollows(
  ruleset: Ruleset,
  hook: Hook,
  priority: number,
  nat: NatState,
): 'none' | 'optional' | 'required' {
  const at = (h: Hook, after: number): 'none' | 'optional' | 'required' => {
    let r: 'none' | 'optional' | 'required' = 'none';
    for (const c of baseChainsAt(ruleset, h)) {
      if (c.priority <= after) continue;
      if (!c.nat || nat === 'new') return 'required';
      if (nat === 'unknown') r = 'optional';
    }
    return r;
  };
  const here = at(hook, priority);
  if (here === 'required') return here;
  const branches: Hook[][] =
    hook === 'PREROUTING'
      ? [['INPUT'], ['FORWARD', 'POSTROUTING']]
      : hook === 'OUTPUT' || hook === 'FORWARD'
        ? [['POSTROUTING']]
        : [];
  if (branches.length === 0) return here;
  const results = branches.map((hooks) => {
    let r: 'none' | 'optional' | 'required' = 'none';
    for (const h of hooks) {
      const x = at(h, -Infinity);
      if (x === 'required') return x;
      if (x === 'optional') r = 'optional';
    }
    return r;
  });
  if (results.every((r) => r === 'required')) return 'required';
  if (results.every((r) => r === 'none') && here === 'none') return 'none';
  return 'optional';
}
