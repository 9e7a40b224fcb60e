/**
 * What a trace session installs: TRACE rules in raw PREROUTING and OUTPUT (iptables-legacy / iptables-nft), or a
 * table of its own with `meta nftrace set 1` rules (nftables). Every rule carries the rate limit and the
 * session comment `ruletrail-trace:<id>`, by which a later run finds it again after a SIGKILL.
 */
import { UsageError } from '@ruletrail/core';
import { iptablesMatch, nftMatch, ruleAppliesTo } from './filter';
import type { Backend, Selection } from './options';

/** Comment prefix on every rule (and the nft table) a trace session adds. */
export const COMMENT_PREFIX = 'ruletrail-trace:';
/** nft table name prefix; the session id follows. */
export const NFT_TABLE_PREFIX = 'ruletrail_trace_';
/** nft chain priority: before raw (-300), so the trace starts before anything else sees the packet. */
export const NFT_PRIORITY = -301;
export const HOOK_CHAINS = ['PREROUTING', 'OUTPUT'] as const;

/** One iptables rule as added (and as removed: `-D` with the same spec). */
export interface IptablesRule {
  /** `iptables-legacy`, `ip6tables-nft`, … */
  readonly tool: string;
  readonly family: 4 | 6;
  readonly table: 'raw';
  readonly chain: string;
  /** Everything after the chain: matches, limit, comment, `-j TRACE`. */
  readonly spec: readonly string[];
}

/** The table of its own a native-nftables session adds. */
export interface NftTable {
  readonly family: 'inet';
  readonly name: string;
  /** `nft -f -` input creating it. */
  readonly script: string;
}

export type InstallPlan =
  | { readonly kind: 'iptables'; readonly rules: readonly IptablesRule[] }
  | { readonly kind: 'nft'; readonly table: NftTable };

export function sessionComment(id: string): string {
  return `${COMMENT_PREFIX}${id}`;
}

/** `iptables-legacy` / `ip6tables-nft` … for a backend and family. */
export function iptablesTool(backend: Backend, family: 4 | 6, save = false): string {
  const v = backend === 'iptables-legacy' ? 'legacy' : 'nft';
  return `${family === 4 ? 'iptables' : 'ip6tables'}-${v}${save ? '-save' : ''}`;
}

/** The families a raw `--match` applies to: an address or ICMP protocol ties it to one. */
export function matchFamilies(args: readonly string[]): (4 | 6)[] {
  let v4 = false;
  let v6 = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const prev = args[i - 1];
    if (prev === '-s' || prev === '-d' || prev === '--source' || prev === '--destination') {
      if (a.includes(':')) v6 = true;
      else v4 = true;
    }
    if ((prev === '-p' || prev === '--protocol') && /^(icmpv6|ipv6-icmp|58)$/.test(a)) v6 = true;
    if ((prev === '-p' || prev === '--protocol') && /^(icmp|1)$/.test(a)) v4 = true;
    if (/^--icmpv6-type$/.test(a)) v6 = true;
    if (/^--icmp-type$/.test(a)) v4 = true;
  }
  if (v4 && v6)
    throw new UsageError('--match mixes IPv4 and IPv6 addresses or protocols; trace one family at a time');
  return v4 ? [4] : v6 ? [6] : [4, 6];
}

/** Builds what to install for a selection on a backend. */
export function buildPlan(
  backend: Backend,
  selection: Selection,
  id: string,
  rate: { readonly text: string; readonly perSecond: number } | undefined,
): InstallPlan {
  const comment = sessionComment(id);
  if (backend === 'nftables') {
    const name = `${NFT_TABLE_PREFIX}${id.replace(/[^A-Za-z0-9_]/g, '_')}`;
    const matches =
      selection.kind === 'filter' ? selection.filter.rules.map((r) => nftMatch(r)) : [selection.text.trim()];
    const burst = rate ? Math.max(1, Math.ceil(rate.perSecond)) : 0;
    const limit = rate ? `limit rate ${rate.text} burst ${burst} packets ` : '';
    const lines = [
      `table inet ${name} {`,
      `  comment "${comment}"`,
      `  chain prerouting { type filter hook prerouting priority ${NFT_PRIORITY}; policy accept; }`,
      `  chain output { type filter hook output priority ${NFT_PRIORITY}; policy accept; }`,
      '}',
    ];
    for (const chain of ['prerouting', 'output'])
      for (const m of matches)
        lines.push(
          `add rule inet ${name} ${chain} ${m ? m + ' ' : ''}${limit}meta nftrace set 1 comment "${comment}"`,
        );
    return { kind: 'nft', table: { family: 'inet', name, script: lines.join('\n') + '\n' } };
  }
  const limit = rate
    ? ['-m', 'limit', '--limit', rate.text, '--limit-burst', String(Math.max(1, Math.ceil(rate.perSecond)))]
    : [];
  const tail = [...limit, '-m', 'comment', '--comment', comment, '-j', 'TRACE'];
  const rules: IptablesRule[] = [];
  const add = (family: 4 | 6, match: readonly string[]): void => {
    for (const chain of HOOK_CHAINS)
      rules.push({
        tool: iptablesTool(backend, family),
        family,
        table: 'raw',
        chain,
        spec: [...match, ...tail],
      });
  };
  if (selection.kind === 'match') for (const f of matchFamilies(selection.args)) add(f, selection.args);
  else
    for (const f of [4, 6] as const)
      for (const r of selection.filter.rules) if (ruleAppliesTo(r, f)) add(f, iptablesMatch(r, f));
  return { kind: 'iptables', rules };
}

/** Families a plan traces (which snapshots and loggers are needed). */
export function planFamilies(plan: InstallPlan): (4 | 6)[] {
  if (plan.kind === 'nft') return [4, 6];
  return [...new Set(plan.rules.map((r) => r.family))].sort();
}

/** `-I` argv for a rule. Inserted first: the TRACE must see the packet before any other raw rule decides. */
export function insertArgv(r: IptablesRule): string[] {
  return [r.tool, '-w', '5', '-t', r.table, '-I', r.chain, '1', ...r.spec];
}

/** `-D` argv for a rule (by spec: it removes exactly that rule, wherever it now is). */
export function deleteArgv(r: IptablesRule): string[] {
  return [r.tool, '-w', '5', '-t', r.table, '-D', r.chain, ...r.spec];
}
