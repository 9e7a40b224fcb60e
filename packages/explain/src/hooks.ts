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

const lastTableCache = new WeakMap<Ruleset, Map<Hook, string | undefined>>();

/** The last table the packet traverses at `hook`, among the tables loaded in the snapshot (memoised). */
export function lastTableAt(ruleset: Ruleset, hook: Hook): string | undefined {
  let m = lastTableCache.get(ruleset);
  if (!m) {
    m = new Map();
    lastTableCache.set(ruleset, m);
  }
  if (!m.has(hook)) m.set(hook, computeLastTableAt(ruleset, hook));
  return m.get(hook);
}

function computeLastTableAt(ruleset: Ruleset, hook: Hook): string | undefined {
  let best: string | undefined;
  let bestPrio = -Infinity;
  for (const [name, table] of ruleset.tables) {
    for (const chain of table.chains.values()) {
      // nftables base chains declare their hook; iptables tables have the built-in chain named after it.
      const at =
        chain.hook ??
        (chain.builtin && (BUILTIN_CHAINS[name]?.includes(chain.name) ?? true)
          ? hookOf(chain.name)
          : undefined);
      if (at !== hook) continue;
      const p = chain.priority ?? tablePriority(name, hook);
      if (p > bestPrio) {
        bestPrio = p;
        best = name;
      }
    }
  }
  return best;
}
