/**
 * Which rules the kernel's TRACE labels `policy`/`return` instead of `rule`.
 *
 * x_tables (iptables-legacy) walks the chain's entries to name a TRACE step: net/ipv4/netfilter/ip_tables.c
 * `get_chainname_rulenum()` (ip6_tables.c is the same). It labels the entry that matched `policy` (in a built-in
 * chain) or `return` (in a user chain) instead of `rule` when
 *
 *   unconditional(e) && target is XT_STANDARD_TARGET && verdict < 0
 *
 * - `unconditional()` is true when the entry has no matches (`target_offset == sizeof(struct ipt_entry)`) and its
 *   `struct ipt_ip` is all zeroes: no address, mask, interface, protocol, flag or inversion.
 * - the STANDARD target carries ACCEPT, DROP, QUEUE and RETURN as negative verdicts (`-NF_ACCEPT - 1`, …,
 *   `XT_RETURN`); a jump to a user chain is the same target with a positive verdict (the chain's offset).
 *
 * That is how the chain's real tail (the policy entry, the implicit RETURN at the end of a user chain) gets its
 * label, and why an explicit `-A INPUT -j DROP` or `-A MYCHAIN -j RETURN` is traced as `policy:N`/`return:N`
 * with N its own rule number, while the same rule with `-m comment` (a match) is traced as `rule:N`.
 *
 * Cases the iptables-save text alone settles:
 * - `-s 0.0.0.0/0`, `-d ::/0`, `-p all` (IPv4): stored as zeroes, so still unconditional (iptables-save omits
 *   them anyway). Any other address, any mask but 0, any `!`, any `-i`/`-o` (even `+`), `-f`: conditional.
 * - `-p` in ip6tables: ip6tables sets `IP6T_F_PROTO` in `ipv6.flags` whenever `-p` is given, even `-p all`, so
 *   the entry is conditional. ip6tables-save does not write `-p all` back, so a saved IPv6 `-j DROP` that was
 *   loaded with `-p all` is traced `rule` although the text looks unconditional: a limit we cannot see past.
 * - `-g CHAIN` sets `IPT_F_GOTO` in `ip.flags` (conditional), and its verdict is a chain offset anyway; iptables
 *   refuses `-g ACCEPT` ("goto 'ACCEPT' is not a chain").
 * - no target at all: libiptc compiles the rule as the STANDARD target with verdict = offset of the next entry
 *   (libiptc.c `iptcc_compile_rule()`, `IPTCC_R_FALLTHROUGH`), a positive verdict: traced `rule`.
 * - extension targets (MARK, LOG, DNAT, NFQUEUE, …) are not the STANDARD target: traced `rule`.
 *
 * nf_tables (iptables-nft) labels steps differently (net/netfilter/nf_tables_core.c `nft_do_chain()`, on the
 * 4.x kernels whose nf_tables still wrote `TRACE:` log lines; later kernels send nf_tables traces over netlink
 * only, `nft monitor trace` / `xtables-monitor --trace`): ACCEPT/DROP/QUEUE and jumps are `rule:N`, a rule
 * whose verdict is RETURN is `return:N` whether or not it is conditional, the implicit end of a user chain is
 * `return:<last+1>`, and a base chain's policy is `policy:4294967295` (-1 printed unsigned). `tracedAsTail`
 * describes x_tables only; the explain engine decides from `Ruleset.backend` whether to apply it.
 */
import type { Family, IpSpec, RuleMatch } from './model';

/** The verdicts the kernel stores as negative STANDARD-target verdicts. */
const NEGATIVE_VERDICTS: ReadonlySet<string> = new Set(['ACCEPT', 'DROP', 'RETURN', 'QUEUE']);

/** What `tracedAsTail` depends on. */
export interface TailInput {
  readonly ip: IpSpec;
  readonly matches: readonly RuleMatch[];
  readonly target?: string;
  readonly jumpKind?: 'jump' | 'goto';
}

/**
 * True when x_tables traces this rule as `policy`/`return` (see the file comment). `family` only matters for
 * `-p all` (conditional in ip6tables); unknown is treated as IPv4.
 */
export function isTracedAsTail(r: TailInput, family: Family | null): boolean {
  if (r.jumpKind !== 'jump' || r.target === undefined || !NEGATIVE_VERDICTS.has(r.target)) return false;
  return r.matches.length === 0 && ipPartIsZero(r.ip, family);
}

/** Whether the rule's ip part is stored as all zeroes in `struct ipt_ip` / `struct ip6t_ip6`. */
function ipPartIsZero(ip: IpSpec, family: Family | null): boolean {
  if (ip.inInterface !== undefined || ip.outInterface !== undefined || ip.fragment !== undefined)
    return false;
  if (ip.source !== undefined && (ip.source.negated || !isZeroMask(ip.source.value))) return false;
  if (ip.destination !== undefined && (ip.destination.negated || !isZeroMask(ip.destination.value)))
    return false;
  if (ip.protocol !== undefined) {
    if (ip.protocol.negated || family === 'ipv6') return false;
    if (ip.protocol.value !== 'all' && ip.protocol.value !== '0') return false;
  }
  return true;
}

/** `x/0`, `x/0.0.0.0`, `x/::`: a zero mask, which also zeroes the address (iptables stores `addr & mask`). */
function isZeroMask(value: string): boolean {
  const slash = value.indexOf('/');
  if (slash < 0) return false; // no mask means /32 or /128
  const mask = value.slice(slash + 1);
  return mask.length > 0 && /^[0.:]+$/.test(mask);
}
