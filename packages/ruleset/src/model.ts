/**
 * The ruleset snapshot model: what was loaded in the kernel on one host at one time, as the explain engine
 * needs it. Produced from `iptables-save` / `ip6tables-save` / `iptables-nft-save` text (and, later, from
 * `nft -j list ruleset`). Rule numbers are 1-based positions within the chain, exactly as the kernel's TRACE
 * output counts them.
 */

/** Address family of a snapshot. `null` when the file gives no clue and the caller did not force one. */
export type Family = 'ipv4' | 'ipv6';

/** Packet/byte counters (`[pkts:bytes]`). Numbers: counters above 2^53 lose precision, which is acceptable. */
export interface Counters {
  readonly packets: number;
  readonly bytes: number;
}

/** One option of a match or of a target, e.g. `--dport 52000`, `! --ctstate RELATED,ESTABLISHED`. */
export interface RuleOption {
  /** Option name without dashes: `dport`, `comment`, `set-xmark`. */
  readonly name: string;
  /** Its arguments, unquoted and unescaped (`["0x8000/0x8000"]`); empty for flags like `--syn`. */
  readonly values: readonly string[];
  /** Preceded by `!`. */
  readonly negated: boolean;
}

/** A `-m <module>` match with its options. */
export interface RuleMatch {
  readonly module: string;
  readonly options: readonly RuleOption[];
}

/** The "ip part" of a rule: criteria checked without a match module (`-s -d -i -o -p -f`). */
export interface IpSpec {
  readonly source?: { readonly value: string; readonly negated: boolean };
  readonly destination?: { readonly value: string; readonly negated: boolean };
  readonly inInterface?: { readonly value: string; readonly negated: boolean };
  readonly outInterface?: { readonly value: string; readonly negated: boolean };
  readonly protocol?: { readonly value: string; readonly negated: boolean };
  /** `-f` / `! -f` */
  readonly fragment?: { readonly negated: boolean };
}

/** The verdicts the kernel implements as the STANDARD target (a negative verdict, or a jump). */
export type StandardVerdict = 'ACCEPT' | 'DROP' | 'RETURN' | 'QUEUE';

/** One `-A chain …` rule. */
export interface Rule {
  readonly table: string;
  readonly chain: string;
  /** 1-based position in its chain. */
  readonly num: number;
  /** The rule as written by iptables-save, without the `[pkts:bytes]` counter prefix: `-A KUBE-FIREWALL -m … -j DROP`. */
  readonly text: string;
  /** 1-based line in the save file. */
  readonly line: number;
  readonly counters?: Counters;
  readonly ip: IpSpec;
  readonly matches: readonly RuleMatch[];
  /** `-j`/`-g` target: a verdict, a user chain, or an extension target (`MARK`, `DNAT`, `LOG`…). Absent for a rule with no target. */
  readonly target?: string;
  /** `goto` for `-g`, `jump` for `-j`. */
  readonly jumpKind?: 'jump' | 'goto';
  /** Target options, e.g. `--set-xmark 0x8000/0x8000`, `--to-destination 10.0.0.1:80`. */
  readonly targetOptions: readonly RuleOption[];
  /** Every `-m comment --comment` value, in order. */
  readonly comments: readonly string[];
  /**
   * True when the kernel considers the entry unconditional (no ip-part criteria and no match modules) AND its
   * target is a STANDARD verdict (ACCEPT/DROP/RETURN/QUEUE). The kernel's TRACE labels such a rule
   * `policy` (built-in chain) or `return` (user chain) instead of `rule` — see ip_tables.c get_chainname_rulenum().
   */
  readonly tracedAsTail: boolean;
  /**
   * nftables rule handle (`nft -a`), stable while the rule exists: `nft -a monitor trace` and xtables-monitor
   * name a rule by it, which identifies the rule even where the rendered texts differ.
   */
  readonly handle?: number;
}

/** A chain: built-in (with a policy) or user-defined. */
export interface Chain {
  readonly table: string;
  readonly name: string;
  /** Built-in chains have a policy; user chains are written `:NAME - [0:0]`. */
  readonly builtin: boolean;
  readonly policy?: 'ACCEPT' | 'DROP';
  readonly counters?: Counters;
  readonly rules: readonly Rule[];
  /** 1-based line of the `:NAME` header. */
  readonly line: number;
  /**
   * Netfilter hook of an nftables base chain (`prerouting`, `input`, … mapped to the iptables names
   * `PREROUTING`, `INPUT`, …). Absent for iptables snapshots, where the built-in chain's name is its hook.
   */
  readonly hook?: 'PREROUTING' | 'INPUT' | 'FORWARD' | 'OUTPUT' | 'POSTROUTING';
  /** Priority of an nftables base chain at its hook (iptables tables have fixed priorities). */
  readonly priority?: number;
  /**
   * nftables base chain type (`filter`, `nat`, `route`). A `nat` chain is traversed only by a connection's
   * first packet, like the iptables `nat` table. Absent for iptables snapshots, where the table name says it.
   */
  readonly type?: 'filter' | 'nat' | 'route';
}

/** One element of an nftables verdict map: `key : verdict`, with the element's comment. */
export interface VerdictMapElement {
  /** The key's parts as text (`tcp . 52000` → `['tcp', '52000']`); ranges and prefixes are left out. */
  readonly key: readonly string[];
  /** `drop`, `accept`, `goto reject-chain`, … */
  readonly verdict: string;
  readonly comment?: string;
}

/** One `*table` … `COMMIT` block (iptables-save), or one nftables table. */
export interface Table {
  readonly name: string;
  readonly chains: ReadonlyMap<string, Chain>;
  /**
   * nftables only: the table's named verdict maps and their elements, e.g. kube-proxy's `no-endpoint-nodeports`,
   * whose element comments name the Kubernetes service the rules themselves do not.
   */
  readonly verdictMaps?: ReadonlyMap<string, readonly VerdictMapElement[]>;
  /**
   * nftables only: verdict maps with interval keys (`flags interval`), whose prefix and range elements
   * `verdictMaps` leaves out — a key missing there may still hit one of them.
   */
  readonly intervalVerdictMaps?: ReadonlySet<string>;
}

/** A parsed snapshot file. */
export interface Ruleset {
  /** File name (or label) it was read from. */
  readonly source: string;
  readonly family: Family | null;
  /** How the family was decided: forced by the caller, from the generator comment, or from addresses in the rules. */
  readonly familyFrom: 'forced' | 'generator' | 'addresses' | 'unknown';
  /** `iptables-save v1.8.7 (nf_tables)` etc., from the `# Generated by` comment. */
  readonly generator?: string;
  /** `legacy` or `nf_tables`, when the generator comment says. */
  readonly backend?: 'legacy' | 'nf_tables';
  /** Wall-clock time from `# Generated by … on <date>`, ISO 8601 (UTC assumed when the comment has no zone). */
  readonly generatedAt?: string;
  /** sha256 of the file content, hex: identifies the snapshot in output and drift reports. */
  readonly hash: string;
  readonly tables: ReadonlyMap<string, Table>;
  /** iptables-nft-save warnings (`# Warning: iptables-legacy tables present…`) and other notes. */
  readonly warnings: readonly string[];
}

/** Chains that exist in the kernel without being declared by a user, per table. */
export const BUILTIN_CHAINS: Readonly<Record<string, readonly string[]>> = {
  raw: ['PREROUTING', 'OUTPUT'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  security: ['INPUT', 'FORWARD', 'OUTPUT'],
};

/** Finds a match option by module and option name, e.g. `findOption(rule, 'tcp', 'dport')`. */
export function findOption(rule: Rule, module: string, option: string): RuleOption | undefined {
  for (const m of rule.matches)
    if (m.module === module) for (const o of m.options) if (o.name === option) return o;
  return undefined;
}

/** Finds a target option, e.g. `targetOption(rule, 'set-xmark')`. */
export function targetOption(rule: Rule, option: string): RuleOption | undefined {
  return rule.targetOptions.find((o) => o.name === option);
}
