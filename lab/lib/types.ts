// Shared lab types: scenarios, probes, expectations, channels.

/** Capture channels, named as in the event schema's `ruletrail.channel`. */
export type ChannelName = 'kernel-log' | 'nflog-pcap' | 'ulogd-json' | 'xtables-monitor' | 'nft-monitor';
/** The channels a plain `npm run lab` captures and checks. */
export const ALL_CHANNELS: readonly ChannelName[] = [
  'kernel-log',
  'nflog-pcap',
  'ulogd-json',
  'xtables-monitor',
];
/** Opt-in (`--channel nft-monitor`): `nft monitor trace` of the same iptables-nft ruleset. */
export const EXTRA_CHANNELS: readonly ChannelName[] = ['nft-monitor'];

export type Backend = 'legacy' | 'nft';
export type Family = 4 | 6;

export function backendOf(channel: ChannelName): Backend {
  return channel === 'xtables-monitor' || channel === 'nft-monitor' ? 'nft' : 'legacy';
}

/** Addresses of one run; every one of them lives only inside the lab's namespaces. */
export interface LabAddresses {
  readonly client: { readonly v4: string; readonly v6: string };
  readonly node: { readonly v4: string; readonly v6: string };
  readonly pod: { readonly v4: string; readonly v6: string };
  readonly nodePodSide: { readonly v4: string; readonly v6: string };
}

export interface Rulesets {
  /** iptables-restore input (raw, mangle, nat, filter), TRACE rules included. Empty string: load nothing. */
  readonly v4: string;
  /** ip6tables-restore input. Empty string: load nothing. */
  readonly v6: string;
}

export interface Service {
  readonly ns: 'node' | 'client' | 'pod';
  readonly kind: 'http' | 'udp';
  readonly port: number;
}

export type Outcome = 'answer' | 'timeout' | 'refused';

export interface NatExpectation {
  readonly kind: 'DNAT' | 'SNAT' | 'MASQUERADE';
  /** Substring the `to` field must contain (e.g. "172.28.129.4:52000"); omitted = not checked. */
  readonly to?: string;
  readonly byTable?: string;
  readonly byChain?: string;
}

export interface Expectation {
  /** Omitted only in the extra per-direction checks of a connection probe (`ConnectionCheck`). */
  readonly verdict?: string | readonly string[];
  readonly decidedBy?: {
    readonly table: string;
    readonly chain: string;
    /** Checked when the explanation carries a rulenum (xtables-monitor may only have a handle). */
    readonly rulenum?: number;
    /** The decision must not be attributed to the chain's policy (explicit rule the kernel labels `policy`). */
    readonly notPolicy?: boolean;
    /** The chain policy decided (no rule matched). */
    readonly policy?: boolean;
    readonly ruleIncludes?: string;
  };
  /** Every listed mark-setter must appear in `markSetBy`; `[]` means markSetBy must be empty. */
  readonly markSetBy?: readonly { readonly table: string; readonly chain: string; readonly mark?: string }[];
  /** A step matching this rule must come before the first mark-setting step. */
  readonly markReachedFrom?: {
    readonly table: string;
    readonly chain: string;
    readonly ruleIncludes: string;
  };
  /** Every listed NAT must appear in `nat`; `[]` means no NAT. */
  readonly nat?: readonly NatExpectation[];
  /** Substring of `kubernetes.service`. */
  readonly service?: string;
  readonly flags?: readonly string[];
  /** Channels on which `flags` cannot be expected (say why at the use). */
  readonly flagsNotOn?: readonly ChannelName[];
  readonly absentFlags?: readonly string[];
  /** The decision must not be attributed to this chain (drift: the stale snapshot would say so). */
  readonly notDecidedByChain?: string;
  readonly notMarkSetByChain?: string;
  /** `kubernetes.service` must not contain this (the confidently wrong service of a stale snapshot). */
  readonly notService?: string;
  /** Every pattern must match `cause` (the one-sentence explanation). */
  readonly causeMatches?: readonly RegExp[];
  /**
   * Rules the packet passed without matching (issue #16 "why not"): a step of this table/chain lists `rulenum`
   * in its `skipped` ranges (`{from, to, result, criterion, reason}`); `decided`: with `result` `no`, not
   * `unknown` (e.g. an addrtype match, decidable only with the host facts).
   */
  readonly skipped?: readonly {
    readonly table: string;
    readonly chain: string;
    readonly rulenum: number;
    readonly decided?: boolean;
  }[];
}

/**
 * A probe whose whole TCP connection is traced, both directions: `Probe.explain` applies to every packet of it,
 * these add checks for the connection's first packet and for each direction.
 */
export interface ConnectionCheck {
  readonly first?: Expectation;
  readonly original?: Expectation;
  readonly reply?: Expectation;
  /** Fewest packets the connection must have in the output (both directions together). */
  readonly minPackets: number;
  /**
   * Where the replies come from as first seen, when not the probe's destination (a DNAT to a pod). The reply
   * destination port is then not checked: a fully-random MASQUERADE picks another source port.
   */
  readonly replyFrom?: { readonly addr: string; readonly port: number };
}

export interface Probe {
  readonly id: string;
  readonly from: 'client' | 'pod' | 'node';
  readonly to: 'node' | 'client' | 'pod';
  /** Destination address instead of `to`'s own (e.g. an extra address of the node, `Scenario.nodeExtraAddresses`). */
  readonly dstAddr?: string;
  readonly family: Family;
  readonly proto: 'tcp' | 'udp' | 'icmp';
  readonly dport?: number;
  readonly http?: boolean;
  readonly expect: Outcome;
  readonly explain: Expectation;
  /**
   * For scenarios with a mid-capture change: what ruletrail must say when it is given both snapshots (before
   * and after the change) and picks the one in force at the packet's time.
   */
  readonly explainWithAllSnapshots?: Expectation;
  /** Channel-specific expectation instead of `explain` (e.g. xtables-monitor names rules by text, not number). */
  readonly explainOn?: Partial<Record<ChannelName, Expectation>>;
  /** Every packet of the connection is traced, both directions (see ConnectionCheck). */
  readonly connection?: ConnectionCheck;
  /** One sentence for the report. */
  readonly why: string;
}

export interface Mutation {
  /** Runs after this many probes. */
  readonly afterProbe: number;
  readonly describe: string;
  /** iptables argument vectors (without the binary), applied with the pass's backend. */
  readonly iptables: readonly (readonly string[])[];
}

export interface Scenario {
  readonly name: string;
  readonly title: string;
  readonly pod?: boolean;
  rules(a: LabAddresses): Rulesets;
  readonly services: readonly Service[];
  readonly probes: readonly Probe[];
  readonly mutation?: Mutation;
  /** The channels this scenario is captured on (default: the run's channels). */
  readonly channels?: readonly ChannelName[];
  /**
   * A native nftables ruleset (`nft -f`), loaded after `rules`; its `nft -j list ruleset` is then the snapshot
   * `--rules` gets. Only the nft channels can trace it.
   */
  nft?(a: LabAddresses): string;
  /** Extra addresses (CIDR) put on the node's `lo`; the client routes each one via the node. */
  readonly nodeExtraAddresses?: readonly string[];
}

/** What one capture pass recorded about a probe (written to pass.json). */
export interface ProbeRun {
  readonly id: string;
  readonly result: string;
  readonly expect: Outcome;
  readonly sport?: number;
  readonly src: string;
  readonly dst: string;
  readonly ms?: number;
  readonly detail?: string;
  /** TRACE records the lab itself found for this probe in the capture (independent of ruletrail). */
  records?: number;
}

export interface PassMeta {
  readonly scenario: string;
  readonly channel: ChannelName;
  readonly backend: Backend;
  readonly capture: string;
  /** Snapshot files in force when the capture started (what `--rules` gets). */
  readonly rules: readonly string[];
  /** Snapshots taken after a mid-capture change, for reference. */
  readonly rulesAfter?: readonly string[];
  readonly extra?: readonly string[];
  /** `host-facts.json`: the node's `ip -j addr` / `ip -d -j link` (`ruletrail explain --host-facts`). */
  readonly hostFacts?: string;
  readonly addresses: LabAddresses;
  readonly probes: ProbeRun[];
  readonly mutation?: { readonly afterProbe: number; readonly describe: string; readonly at: string };
  readonly kernel: string;
  readonly tools: Record<string, string>;
  readonly captureCommand: string;
  readonly started: string;
  readonly finished: string;
}
