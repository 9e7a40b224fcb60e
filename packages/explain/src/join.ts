/**
 * Joining one TRACE step (`table:chain:kind:rulenum`) with a snapshot.
 *
 * The kernel's labels are heuristics (ip_tables.c get_chainname_rulenum()): any matched entry that is
 * unconditional (no ip-part criteria, no matches) with a STANDARD target and a negative verdict is labelled
 * `policy` in a built-in chain and `return` in a user chain — so `-A INPUT -j DROP` is logged as `policy:N`,
 * and `-A MYCHAIN -j ACCEPT` as `return:N`. The join therefore maps a `policy`/`return` step to the chain's
 * tail only when N = rules + 1, and to the unconditional rule N when there is one.
 */
import type { Chain, Rule, Ruleset } from '@ruletrail/ruleset';
import type { Effect, Resolution } from './types';

/** Targets that end the table traversal by rewriting addresses (they return NF_ACCEPT). */
const NAT_TARGETS = new Set(['DNAT', 'SNAT', 'MASQUERADE', 'REDIRECT', 'NETMAP']);
/** Extension targets that return XT_CONTINUE: the packet goes on to the next rule. */
const CONTINUE_TARGETS = new Set([
  'LOG',
  'NFLOG',
  'ULOG',
  'MARK',
  'CONNMARK',
  'TRACE',
  'NOTRACK',
  'CT',
  'TCPMSS',
  'DSCP',
  'TOS',
  'TTL',
  'HL',
  'CLASSIFY',
  'SET',
  'CHECKSUM',
  'SECMARK',
  'CONNSECMARK',
  'AUDIT',
  'IDLETIMER',
  'LED',
  'RATEEST',
  'TEE',
  'HMARK',
  'TCPOPTSTRIP',
  'ECN',
  'CLUSTERIP',
  'NFACCT',
]);

/** What an nftables verdict-map rule did, from the verdict the channel printed for this packet. */
export const VMAP_EFFECT: Readonly<Record<string, Effect>> = {
  ACCEPT: 'accept',
  DROP: 'drop',
  JUMP: 'jump',
  GOTO: 'goto',
  CONTINUE: 'continue',
  RETURN: 'return',
  QUEUE: 'queue',
};

/** A step mapped onto the snapshot. */
export interface JoinedStep {
  readonly resolution: Resolution;
  readonly effect: Effect;
  readonly chain?: Chain;
  readonly rule?: Rule;
  /** Target name: rule target, or the policy verdict. */
  readonly target?: string;
  /** Set when the step cannot exist in this snapshot. */
  readonly problem?: string;
}

/** What a rule's target does to the traversal. */
export function targetEffect(rule: Rule, ruleset: Ruleset): Effect {
  const t = rule.target;
  if (t === undefined || t === '') return 'continue';
  switch (t) {
    case 'ACCEPT':
      return 'accept';
    case 'DROP':
      return 'drop';
    case 'REJECT':
      return 'reject';
    case 'RETURN':
      return 'return';
    case 'QUEUE':
    case 'NFQUEUE':
      return 'queue';
    case 'TPROXY':
      return 'accept';
    case 'SYNPROXY':
      return 'drop';
  }
  if (NAT_TARGETS.has(t)) return 'nat';
  if (CONTINUE_TARGETS.has(t)) return 'continue';
  if (ruleset.tables.get(rule.table)?.chains.has(t)) return rule.jumpKind === 'goto' ? 'goto' : 'jump';
  return 'unknown';
}

function verdictEffect(v: string | undefined): Effect {
  if (v === 'ACCEPT') return 'accept';
  if (v === 'DROP') return 'drop';
  return 'unknown';
}

/** Maps one step onto the snapshot. Never throws: impossible steps come back `unresolved` with a problem. */
export function joinStep(
  ruleset: Ruleset,
  table: string,
  chainName: string,
  kind: 'rule' | 'return' | 'policy',
  rulenum: number,
  relabelled = true,
): JoinedStep {
  const t = ruleset.tables.get(table);
  if (!t) return unresolved(`table ${table} is not in snapshot ${ruleset.source}`);
  const chain = t.chains.get(chainName);
  if (!chain) return unresolved(`chain ${table} ${chainName} is not in snapshot ${ruleset.source}`);
  const n = chain.rules.length;
  if (kind === 'rule') {
    if (rulenum > n)
      return unresolved(
        `rule ${rulenum} is past the end of ${table} ${chainName} (${n} rules in ${ruleset.source})`,
        chain,
      );
    const rule = chain.rules[rulenum - 1]!;
    if (rule.tracedAsTail && relabelled)
      return unresolved(
        `${table} ${chainName} rule ${rulenum} is unconditional; the kernel would have logged it as ${chain.builtin ? 'policy' : 'return'}:${rulenum}`,
        chain,
        rule,
      );
    return { resolution: 'rule', effect: targetEffect(rule, ruleset), chain, rule, ...targetOf(rule) };
  }
  if (kind === 'policy' && !chain.builtin)
    return unresolved(
      `policy step in user chain ${table} ${chainName}: chain kinds differ from ${ruleset.source}`,
      chain,
    );
  if (kind === 'return' && chain.builtin)
    return unresolved(
      `return step in built-in chain ${table} ${chainName}: chain kinds differ from ${ruleset.source}`,
      chain,
    );
  if (rulenum === n + 1) {
    if (kind === 'policy')
      return {
        resolution: 'policy',
        effect: verdictEffect(chain.policy),
        chain,
        ...(chain.policy ? { target: chain.policy } : {}),
      };
    return { resolution: 'implicit-return', effect: 'return', chain };
  }
  if (rulenum <= n) {
    const rule = chain.rules[rulenum - 1]!;
    if (rule.tracedAsTail)
      return {
        resolution: 'unconditional-rule',
        effect: targetEffect(rule, ruleset),
        chain,
        rule,
        ...targetOf(rule),
      };
    return unresolved(
      `${kind}:${rulenum} points at ${table} ${chainName} rule ${rulenum}, which is conditional (the kernel logs it as rule:${rulenum}); ${chainName} has ${n} rules in ${ruleset.source}`,
      chain,
      rule,
    );
  }
  return unresolved(
    `${kind}:${rulenum} is past the end of ${table} ${chainName} (${n} rules in ${ruleset.source})`,
    chain,
  );
}

function targetOf(rule: Rule): { target?: string } {
  return rule.target ? { target: rule.target } : {};
}

function unresolved(problem: string, chain?: Chain, rule?: Rule): JoinedStep {
  return {
    resolution: 'unresolved',
    effect: 'unknown',
    problem,
    ...(chain ? { chain } : {}),
    ...(rule ? { rule } : {}),
  };
}

/** A trace step as the engine needs it: channels without rule numbers give the rule text instead. */
export interface StepAddress {
  readonly table: string;
  readonly chain: string;
  readonly kind: 'rule' | 'return' | 'policy';
  readonly rulenum?: number;
  readonly rule?: string;
  /** nftables rule handle, when the channel prints it. */
  readonly handle?: number;
}

/**
 * The rule number of a step. Kernel-log and NFLOG steps carry it; xtables-monitor and nft steps name the rule
 * by its text instead, and say `policy`/`return` only for the chain's real end — so their tail is rules + 1 and
 * a rule is found by its text, the first occurrence after `after` (the last rule number already seen in this
 * chain frame, because identical rules can repeat). Undefined when the text is not in the chain.
 */
export function resolveRulenum(ruleset: Ruleset, step: StepAddress, after = 0): number | undefined {
  if (step.rulenum !== undefined) return step.rulenum;
  const chain = ruleset.tables.get(step.table)?.chains.get(step.chain);
  if (!chain) return undefined;
  if (step.kind !== 'rule') return chain.rules.length + 1;
  // A handle names the rule exactly (nft -a monitor trace); texts are compared only without one, or when the
  // snapshot has no handles (iptables-nft-save).
  if (step.handle !== undefined && chain.rules.some((r) => r.handle !== undefined)) {
    for (const r of chain.rules) if (r.num > after && r.handle === step.handle) return r.num;
    return undefined;
  }
  if (step.rule === undefined) return undefined;
  const wanted = normalizeRuleText(step.rule);
  for (const r of chain.rules) if (r.num > after && normalizeRuleText(r.text) === wanted) return r.num;
  return undefined;
}

/** `-4 -t raw -A PREROUTING  -p tcp …` → `-A PREROUTING -p tcp …`: the form iptables-save prints. */
export function normalizeRuleText(text: string): string {
  return text
    .trim()
    .replace(/^-[46]\s+/, '')
    .replace(/^-t\s+\S+\s+/, '')
    .replace(/\s+/g, ' ');
}

const joinCache = new WeakMap<Ruleset, Map<string, Map<string, JoinedStep[]>>>();
const KIND_INDEX = { rule: 0, return: 1, policy: 2 } as const;

/**
 * {@link joinStep}, memoised per snapshot: a snapshot is immutable and the same few hundred positions are hit by
 * every packet, so each is resolved once. Nested maps and a dense per-chain array keep the hot lookup free of
 * string building.
 */
export function joinStepCached(
  ruleset: Ruleset,
  table: string,
  chainName: string,
  kind: 'rule' | 'return' | 'policy',
  rulenum: number,
  relabelled = true,
): JoinedStep {
  // Positions far past any real chain (garbage input) are not cached, so the cache stays small.
  if (!Number.isInteger(rulenum) || rulenum < 0 || rulenum > 100_000)
    return joinStep(ruleset, table, chainName, kind, rulenum, relabelled);
  let byTable = joinCache.get(ruleset);
  if (!byTable) {
    byTable = new Map();
    joinCache.set(ruleset, byTable);
  }
  let byChain = byTable.get(table);
  if (!byChain) {
    byChain = new Map();
    byTable.set(table, byChain);
  }
  let slots = byChain.get(chainName);
  if (!slots) {
    if (byChain.size > 10_000) return joinStep(ruleset, table, chainName, kind, rulenum, relabelled);
    slots = [];
    byChain.set(chainName, slots);
  }
  const idx = rulenum * 6 + KIND_INDEX[kind] * 2 + (relabelled ? 1 : 0);
  let j = slots[idx];
  if (!j) {
    j = joinStep(ruleset, table, chainName, kind, rulenum, relabelled);
    slots[idx] = j;
  }
  return j;
}
