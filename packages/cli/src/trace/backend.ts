/**
 * Which netfilter front end holds the node's rules: iptables-legacy, iptables-nft, or native nftables. Where
 * the rules are decides where TRACE must go (a legacy TRACE never reaches an nft-only ruleset and vice versa).
 */
import type { Backend, TraceChannel } from './options';
import { TraceError } from './errors';
import type { Host } from './system';

/** What the probes found, for the message and for tests. */
export interface BackendProbe {
  readonly legacyRules: boolean;
  readonly nftCompatRules: boolean;
  readonly nativeNftTables: readonly string[];
  /** What plain `iptables -V` says: legacy, nf_tables, or nothing. */
  readonly iptablesDefault?: 'legacy' | 'nf_tables';
}

/** Tables iptables-nft creates (`table ip filter`, …): not "native nftables". */
const XT_TABLES = new Set(['filter', 'nat', 'mangle', 'raw', 'security']);

function hasRules(saveText: string): boolean {
  return /^-A /m.test(saveText);
}

export function probeBackend(host: Host, netns: string | undefined): BackendProbe {
  const o = netns ? { netns } : {};
  const out = (argv: string[]) => {
    if (!host.has(argv[0]!)) return '';
    const r = host.run(argv, o);
    return r.code === 0 ? r.stdout : '';
  };
  const legacyRules = hasRules(out(['iptables-legacy-save'])) || hasRules(out(['ip6tables-legacy-save']));
  const nftCompatRules = hasRules(out(['iptables-nft-save'])) || hasRules(out(['ip6tables-nft-save']));
  const nativeNftTables = out(['nft', 'list', 'tables'])
    .split('\n')
    .map((l) => /^table (\S+) (\S+)$/.exec(l.trim()))
    .filter((m): m is RegExpExecArray => !!m)
    .filter(
      (m) =>
        !(['ip', 'ip6'].includes(m[1]!) && XT_TABLES.has(m[2]!)) && !m[2]!.startsWith('ruletrail_trace_'),
    )
    .map((m) => `${m[1]} ${m[2]}`);
  const v = out(['iptables', '-V']);
  const iptablesDefault = /legacy/.test(v) ? 'legacy' : /nf_tables/.test(v) ? 'nf_tables' : undefined;
  return { legacyRules, nftCompatRules, nativeNftTables, ...(iptablesDefault ? { iptablesDefault } : {}) };
}

/**
 * The backend to trace: the one that holds rules (legacy first: its rules see every packet before nft tables of
 * the same priority only if both exist, which the warning reports); with no rules anywhere, what `iptables`
 * is on this node.
 */
export function chooseBackend(p: BackendProbe): { backend: Backend; note?: string } {
  const holders: Backend[] = [];
  if (p.legacyRules) holders.push('iptables-legacy');
  if (p.nftCompatRules) holders.push('iptables-nft');
  if (p.nativeNftTables.length) holders.push('nftables');
  const note =
    holders.length > 1
      ? `rules are in ${holders.join(' and ')}; tracing ${holders[0]} (choose with --backend)`
      : undefined;
  if (holders.length) return { backend: holders[0]!, ...(note ? { note } : {}) };
  if (p.iptablesDefault === 'legacy')
    return { backend: 'iptables-legacy', note: 'no rules found; iptables is iptables-legacy here' };
  if (p.iptablesDefault === 'nf_tables')
    return { backend: 'iptables-nft', note: 'no rules found; iptables is iptables-nft here' };
  return { backend: 'nftables', note: 'no rules found and no iptables: tracing with nftables' };
}

export function defaultChannel(backend: Backend): TraceChannel {
  return backend === 'iptables-legacy'
    ? 'kernel-log'
    : backend === 'iptables-nft'
      ? 'xtables-monitor'
      : 'nft-monitor';
}

/** Checks the netns exists (a typo must not become "no rules found"). */
export function requireNetns(host: Host, netns: string): void {
  const r = host.run(['ip', 'netns', 'list']);
  const names = r.stdout.split('\n').map((l) => l.trim().split(/\s+/)[0]);
  if (!names.includes(netns))
    throw new TraceError(
      `network namespace '${netns}' does not exist (ip netns list: ${names.filter(Boolean).join(', ') || 'none'})`,
    );
}
