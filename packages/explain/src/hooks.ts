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

/** Whether a step at (hook, table) can come after one at (prevHook, prevTable) in the same packet. */
export function isForward(prevHook: Hook, prevTable: string, hook: Hook, table: string): boolean {
  if (prevHook === hook) return tablePriority(table, hook) >= tablePriority(prevTable, prevHook);
  return canFollow(prevHook, hook);
}

/** A hook after which the packet leaves netfilter for good (delivered locally or sent). */
export function isFinalHook(hook: Hook): boolean {
  return hook === 'INPUT' || hook === 'POSTROUTING';
}

/** The last table the packet traverses at `hook`, among the tables loaded in the snapshot. */
export function lastTableAt(ruleset: Ruleset, hook: Hook): string | undefined {
  let best: string | undefined;
  let bestPrio = -Infinity;
  for (const [name, table] of ruleset.tables) {
    const builtin = BUILTIN_CHAINS[name];
    if (!(builtin ? builtin.includes(hook) : table.chains.get(hook)?.builtin)) continue;
    const p = tablePriority(name, hook);
    if (p > bestPrio) {
      bestPrio = p;
      best = name;
    }
  }
  return best;
}
