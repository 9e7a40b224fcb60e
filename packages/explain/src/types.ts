/**
 * Public types of the explain engine. `Explanation` is the `--format json` output contract (one object per
 * packet, NDJSON): fields are only ever added, never renamed or removed within a major version. See
 * docs/explain-json.md.
 */

/** Final fate of a packet. UNKNOWN: the trace stops with no terminal step, or the snapshot does not match. */
export type Verdict = 'ACCEPT' | 'DROP' | 'REJECT' | 'QUEUE' | 'UNKNOWN';

/**
 * Conditions worth alerting on or filtering by. Stable strings.
 * - `snapshot_mismatch`: a step cannot exist in the snapshot used (rule number past the chain's end, unknown
 *   chain, a `rule` step on a rule the kernel would log as policy/return, a jump that lands elsewhere). The
 *   verdict is then UNKNOWN: we never give a confident answer from the wrong ruleset.
 * - `no_snapshot`: no snapshot of the packet's address family was given.
 * - `event_before_snapshots`: the packet is older than every snapshot of its family; the oldest was used.
 * - `silent_drop`: the trace stops without a terminal step (or after an ACCEPT at a hook that is not the last
 *   one), so the packet vanished outside iptables (routing, rp_filter, conntrack) or trace lines were lost.
 * - `trace_gap`: steps are missing inside the trace (rate-limited or lost lines).
 * - `kube_mark_drop`: the packet went through KUBE-MARK-DROP (pre-1.28 kube-proxy drop path).
 * - `kube_no_endpoints`: a kube-proxy "has no endpoints" / "has no local endpoints" rule matched, or, in
 *   kube-proxy's nftables mode (no comments), its `no-endpoint-services` / `no-endpoint-nodeports` verdict map decided.
 * - `evicted`: the packet was still open when the correlation window or the open-packet cap forced it out.
 * - `truncated`: a record of this packet was cut short by the kernel or the capture.
 * - `fragment`: an IP fragment whose trace ends at PREROUTING: the kernel reassembles fragments before local
 *   delivery, so the reassembled packet is traced (and explained) on its own.
 * - `snapshot_by_fit`: the packet carries no time (xtables-monitor), so of several snapshots the newest one
 *   that fits every step was used.
 */
export type Flag =
  | 'snapshot_mismatch'
  | 'no_snapshot'
  | 'event_before_snapshots'
  | 'silent_drop'
  | 'trace_gap'
  | 'kube_mark_drop'
  | 'kube_no_endpoints'
  | 'evicted'
  | 'truncated'
  | 'snapshot_by_fit'
  | 'fragment';

/** A reference to one rule position (or chain tail) in a snapshot. */
export interface RuleRef {
  readonly table: string;
  readonly chain: string;
  readonly rulenum: number;
  /** The rule's text from the snapshot (`-A …`); absent for a chain policy or an implicit return. */
  readonly rule?: string;
}

/** How a step was mapped onto the snapshot. */
export type Resolution =
  /** A numbered rule that matched. */
  | 'rule'
  /** An unconditional ACCEPT/DROP/RETURN/QUEUE rule, which the kernel logs as `policy`/`return`. */
  | 'unconditional-rule'
  /** The implicit RETURN at the end of a user chain (rulenum = rules + 1). */
  | 'implicit-return'
  /** The built-in chain's policy (rulenum = rules + 1). */
  | 'policy'
  /** Could not be mapped: see `problem`. */
  | 'unresolved';

/** What a step did to the packet's path through the tables. */
export type Effect =
  'jump' | 'goto' | 'continue' | 'accept' | 'drop' | 'reject' | 'queue' | 'return' | 'nat' | 'unknown';

/** Three-valued result of checking a rule against the packet (see evaluate/rule.ts). */
export type CheckResult = 'yes' | 'no' | 'unknown';

/**
 * Rules of a chain that the packet passed without matching, between two logged steps (a legacy, nft or
 * xtables-monitor trace logs only the rules that matched). Consecutive rules that fail on the same kind of
 * criterion are grouped: `from`–`to`.
 */
export interface SkippedRules {
  readonly from: number;
  readonly to: number;
  /** `no`: each rule has a criterion the packet fails; `unknown`: the log cannot tell (see `reason`). */
  readonly result: 'no' | 'unknown';
  /** The kind of criterion that decided (`--dport`, `-p`, `-m set`), or for one rule the criterion as written. */
  readonly criterion: string;
  /** In words: `needs --dport 31053, the packet has dport 31080` / `each needs another --dport …`. */
  readonly reason: string;
}

/** One trace step, joined with the snapshot. */
export interface ExplainedStep {
  readonly table: string;
  readonly chain: string;
  readonly kind: 'rule' | 'return' | 'policy';
  readonly rulenum: number;
  readonly resolution: Resolution;
  readonly effect: Effect;
  readonly rule?: string;
  /** `-j`/`-g` target of the rule, or the policy verdict. */
  readonly target?: string;
  /** Packet mark at this step, hex, when non-zero. */
  readonly mark?: string;
  /** Packet fields that differ from the previous step (NAT, mark, interfaces). */
  readonly changed?: Readonly<Record<string, string | number>>;
  /** Why the step could not be resolved, or what looks wrong about it. */
  readonly problem?: string;
  /**
   * The step's rule checked against the packet the step printed: `yes` (every criterion holds), `unknown` (one
   * cannot be decided from the log, see `checkDetail`) or `no` (the rule cannot have matched: the step is then
   * unresolved and the snapshot flagged as not matching). Absent for policies, implicit returns and steps that
   * could not be placed.
   */
  readonly check?: CheckResult;
  /** For `check: unknown`/`no`: the criterion and why. */
  readonly checkDetail?: string;
  /** When the named rule cannot have matched and exactly one nearby rule of the chain does: that rule. */
  readonly probably?: RuleRef;
  /** The rules of this chain passed without a match since the previous step in it (see {@link SkippedRules}). */
  readonly skipped?: readonly SkippedRules[];
  readonly time?: string;
  readonly origin: { readonly file: string; readonly line?: number; readonly offset?: number };
}

/** The packet as first seen (before any NAT). */
export interface PacketSummary {
  readonly host?: string;
  readonly family: string;
  readonly proto?: string;
  /**
   * `rules` when the channel does not print the protocol (xtables-monitor for UDP and ICMP) and `proto` is the
   * one the matched rules require.
   */
  readonly protoFrom?: 'rules';
  readonly src?: string;
  readonly dst?: string;
  readonly sport?: number;
  readonly dport?: number;
  readonly ipId?: number;
  readonly len?: number;
  readonly tcpSeq?: number;
  readonly tcpFlags?: readonly string[];
  readonly tcpOptions?: string;
  readonly icmpType?: number;
  readonly icmpCode?: number;
  readonly in?: string;
  readonly out?: string;
  /** Time of the first step, ISO 8601. */
  readonly firstSeen?: string;
  readonly channel: string;
}

/** The step that decided a verdict: where, what the kernel logged it as, its target and the jumps that led there. */
export type DecidingStep = RuleRef & {
  readonly kind: 'rule' | 'return' | 'policy';
  readonly target?: string;
  /** The jump rules that led to the step, outermost first. */
  readonly path: readonly RuleRef[];
};

/** A rule that set mark bits the deciding rule matched on. */
export interface MarkSetter extends RuleRef {
  /** `value/mask` the rule sets (`0x8000/0x8000`), or the observed change (`0x0 -> 0x8000`). */
  readonly mark: string;
  /** The jump path that led to the rule, outermost first. */
  readonly path: readonly RuleRef[];
}

/** One address/port rewrite. */
export interface NatRewrite {
  /** DNAT, SNAT, MASQUERADE, REDIRECT, NETMAP, or CONNTRACK when an existing connection's NAT was applied. */
  readonly kind: string;
  readonly from: string;
  readonly to: string;
  /** The rule that did it; absent for CONNTRACK. */
  readonly by?: RuleRef;
}

/** Kubernetes / Calico attribution drawn from kube-proxy rule comments and chain names. */
export interface KubernetesAttribution {
  /** `namespace/name:port`, as kube-proxy writes it. */
  readonly service?: string;
  readonly namespace?: string;
  readonly name?: string;
  readonly port?: string;
  /** kube-proxy's own words from the deciding comment, e.g. `has no local endpoints`. */
  readonly reason?: string;
  /** Endpoint the packet was DNAT'ed to by a KUBE-SEP chain. */
  readonly endpoint?: string;
  /** KUBE-SVC/SEP/XLB/EXT/FW/SVL/NODEPORTS chains the packet went through. */
  readonly chains: readonly string[];
  /** Calico rule ids (`cali:…` comments) of rules that matched. */
  readonly calico?: readonly string[];
}

/** The snapshot a packet was joined with. */
export interface SnapshotRef {
  readonly source: string;
  readonly hash: string;
  readonly generatedAt?: string;
  readonly family: string;
}

/** One explained packet: the `--format json` record. */
export interface Explanation {
  readonly packet: PacketSummary;
  readonly verdict: Verdict;
  /** The step that decided the verdict. Absent for UNKNOWN. */
  readonly decidedBy?: DecidingStep;
  /** Present when the deciding rule matched on the mark: who set those bits. */
  readonly markSetBy?: readonly MarkSetter[];
  readonly nat: readonly NatRewrite[];
  readonly kubernetes?: KubernetesAttribution;
  readonly flags: readonly Flag[];
  /** One plain sentence: why the packet met its fate. */
  readonly cause: string;
  readonly snapshot?: SnapshotRef;
  readonly steps: readonly ExplainedStep[];
}
