/**
 * The rule evaluator: does this snapshot rule match this packet? Every criterion of the rule — the ip part
 * (`-p -s -d -i -o -f`) and each match module's options, iptables or nftables — evaluates to `yes`, `no` or
 * `unknown`, and the rule to their three-valued AND: `no` as soon as one criterion is `no` (that criterion is the
 * reason), else `unknown` when one cannot be decided from what the packet view carries, else `yes`.
 *
 * `unknown` is an answer, not a failure: `-m limit`, `recent`, `set`, `owner`, `string`, `connmark`… depend on
 * state no log line carries, `addrtype` on the host's addresses, `--ctstate` on conntrack. A caller must never
 * turn an `unknown` into a verdict.
 *
 * Rules are compiled once (criteria → small closures, addresses → words, port lists → ranges) and cached per
 * rule object: a snapshot's rules are immutable and shared by every packet that reaches them.
 */
import type { Rule, RuleMatch, RuleOption } from '@ruletrail/ruleset';
import { addressWords, compareAddress, inPrefix, parseAddress, parsePrefix } from './address';
import type { AddressTyper, PacketView } from './packet';

/** A three-valued match result. */
export type Tri = 'yes' | 'no' | 'unknown';

/** Where a criterion comes from: what it needs (as written) and why it failed or could not be decided. */
export interface CriterionOutcome {
  readonly result: Tri;
  /** The criterion as written in the rule: `-p udp`, `--dport 31053`, `-m set --match-set KUBE-…`. */
  readonly criterion: string;
  /** Short kind used to group rules in words: `-p`, `--dport`, `-m set`. */
  readonly kind: string;
  /** For `no`: what the packet has instead (`the packet is tcp`); for `unknown`: what the answer depends on. */
  readonly detail: string;
}

/** The evaluation of one rule against one packet. */
export interface RuleEvaluation {
  readonly result: Tri;
  /** For `no`: the first criterion that failed. For `unknown`: the first one that could not be decided. */
  readonly because?: CriterionOutcome;
}

/** What the evaluator may consult besides the packet. */
export interface EvalContext {
  /** The host's addresses, for `-m addrtype` (from the snapshot's host facts). */
  readonly facts?: AddressTyper | undefined;
  /**
   * An answer for a criterion the packet view cannot decide (`simulate` exploring one branch of an unknown): called
   * only for criteria that evaluate to `unknown`; returning undefined keeps them unknown.
   */
  readonly assume?:
    ((c: { readonly criterion: string; readonly kind: string }) => Tri | undefined) | undefined;
}

interface Check {
  readonly criterion: string;
  readonly kind: string;
  test(p: PacketView, ctx: EvalContext): Tri;
  /** Why it is `no` / `unknown` for this packet, in words. */
  detail(p: PacketView, result: Tri): string;
}

const YES: RuleEvaluation = { result: 'yes' };
const compiled = new WeakMap<Rule, readonly Check[]>();

/** Evaluates a rule's criteria (not its target) against a packet. */
export function evaluateRule(rule: Rule, p: PacketView, ctx: EvalContext = {}): RuleEvaluation {
  let checks = compiled.get(rule);
  if (!checks) {
    checks = compileRule(rule);
    compiled.set(rule, checks);
  }
  let firstUnknown: Check | undefined;
  for (const c of checks) {
    let r = c.test(p, ctx);
    if (r === 'unknown' && ctx.assume) r = ctx.assume(c) ?? r;
    if (r === 'no') return { result: 'no', because: outcome(c, p, 'no') };
    if (r === 'unknown' && !firstUnknown) firstUnknown = c;
  }
  return firstUnknown ? { result: 'unknown', because: outcome(firstUnknown, p, 'unknown') } : YES;
}

function outcome(c: Check, p: PacketView, result: Tri): CriterionOutcome {
  return { result, criterion: c.criterion, kind: c.kind, detail: c.detail(p, result) };
}

/** `needs --dport 31053, the packet has dport 31080` / `--ctstate NEW depends on conntrack state`. */
export function describeEvaluation(ev: RuleEvaluation): string {
  const b = ev.because;
  if (!b) return ev.result === 'yes' ? 'matches' : '';
  return b.result === 'no' ? `needs ${b.criterion}, ${b.detail}` : `${b.criterion}: ${b.detail}`;
}

// ------------------------------------------------------------------------------------------------ compilation

function compileRule(rule: Rule): Check[] {
  const checks: Check[] = [];
  const ip = rule.ip;
  if (ip.protocol) checks.push(protoCheck(ip.protocol.value, ip.protocol.negated));
  if (ip.source) checks.push(addrCheck('-s', 'src', ip.source.value, ip.source.negated));
  if (ip.destination) checks.push(addrCheck('-d', 'dst', ip.destination.value, ip.destination.negated));
  if (ip.inInterface) checks.push(ifaceCheck('-i', 'in', ip.inInterface.value, ip.inInterface.negated));
  if (ip.outInterface) checks.push(ifaceCheck('-o', 'out', ip.outInterface.value, ip.outInterface.negated));
  if (ip.fragment) checks.push(fragmentCheck(ip.fragment.negated));
  for (const m of rule.matches) checks.push(...compileMatch(m));
  return checks;
}

function neg(r: Tri, negated: boolean): Tri {
  if (!negated || r === 'unknown') return r;
  return r === 'yes' ? 'no' : 'yes';
}
function tri(b: boolean | undefined): Tri {
  return b === undefined ? 'unknown' : b ? 'yes' : 'no';
}
function bang(negated: boolean): string {
  return negated ? '! ' : '';
}
function unknownCheck(criterion: string, kind: string, dependsOn: string): Check {
  return { criterion, kind, test: () => 'unknown', detail: () => `depends on ${dependsOn}` };
}

const PROTO_NUMBERS: Readonly<Record<string, string>> = {
  '1': 'icmp',
  '6': 'tcp',
  '17': 'udp',
  '58': 'ipv6-icmp',
  '132': 'sctp',
  '136': 'udplite',
  '47': 'gre',
  '50': 'esp',
  '51': 'ah',
  '4': 'ipip',
  '41': 'ipv6',
};
/** Protocol names as iptables and nft write them, folded to the event's `network.transport` names. */
function protoName(p: string): string {
  const l = p.toLowerCase();
  if (l === 'icmpv6' || l === 'ipv6-icmp' || l === 'icmp6') return 'ipv6-icmp';
  return PROTO_NUMBERS[l] ?? l;
}

function protoCheck(value: string, negated: boolean): Check {
  const want = protoName(value);
  const any = want === 'all' || want === '0';
  return {
    criterion: `${bang(negated)}-p ${value}`,
    kind: '-p',
    test: (p) =>
      any
        ? neg('yes', negated)
        : p.proto === undefined
          ? 'unknown'
          : neg(tri(protoName(p.proto) === want), negated),
    detail: (p, r) =>
      r === 'unknown'
        ? 'depends on the protocol, which the channel does not carry'
        : `the packet is ${p.proto ?? '?'}`,
  };
}

function addrCheck(flag: string, field: 'src' | 'dst', value: string, negated: boolean): Check {
  // iptables-save may write several comma-separated prefixes? No: it writes one rule per address. nft sets are
  // modelled as unknown expressions. One prefix here.
  const pref = parsePrefix(value);
  const words = field === 'src' ? 'source' : 'destination';
  return {
    criterion: `${bang(negated)}${flag} ${value}`,
    kind: flag,
    test: (p) => {
      const a = p[field];
      if (!pref || a === undefined) return 'unknown';
      const w = addressWords(a);
      if (!w) return 'unknown';
      const r = inPrefix(w, pref);
      return r === undefined ? 'no' : neg(tri(r), negated);
    },
    detail: (p, r) =>
      r === 'unknown' ? `depends on the ${words} address` : `the packet's ${words} is ${p[field] ?? '?'}`,
  };
}

/** `-i eth+`: a trailing `+` matches any interface name with that prefix. */
function ifaceMatches(pattern: string, name: string): boolean {
  return pattern.endsWith('+') ? name.startsWith(pattern.slice(0, -1)) : name === pattern;
}

function ifaceCheck(
  flag: string,
  field: 'in' | 'out' | 'physin' | 'physout',
  value: string,
  negated: boolean,
): Check {
  const dir = field === 'in' || field === 'physin' ? 'came in on' : 'goes out on';
  return {
    criterion: `${bang(negated)}${flag} ${value}`,
    kind: flag,
    test: (p) => {
      const n = p[field];
      return n === undefined ? 'unknown' : neg(tri(n !== '' && ifaceMatches(value, n)), negated);
    },
    detail: (p, r) => {
      const n = p[field];
      if (r === 'unknown')
        return `depends on the ${field === 'in' || field === 'physin' ? 'input' : 'output'} interface`;
      return n
        ? `the packet ${dir} ${n}`
        : `the packet has no ${field === 'in' || field === 'physin' ? 'input' : 'output'} interface here`;
    },
  };
}

function fragmentCheck(negated: boolean): Check {
  return {
    criterion: `${bang(negated)}-f`,
    kind: '-f',
    // -f matches second and later fragments (offset > 0).
    test: (p) => (p.fragOffset === undefined ? 'unknown' : neg(tri(p.fragOffset > 0), negated)),
    detail: (p, r) =>
      r === 'unknown'
        ? 'depends on the fragment offset'
        : p.fragOffset
          ? 'the packet is a later fragment'
          : 'the packet is not a later fragment',
  };
}

// --------------------------------------------------------------------------------------------- match modules

/** Modules whose answer depends on state no trace line carries: evaluated as unknown, saying on what. */
const STATEFUL: Readonly<Record<string, string>> = {
  limit: 'a rate limit (token bucket state)',
  hashlimit: 'a per-flow rate limit',
  recent: 'the recent list',
  set: 'ipset contents',
  owner: 'the owning socket',
  string: 'the payload',
  connmark: 'the connection mark',
  connlimit: 'the number of connections',
  connbytes: 'the connection byte counters',
  statistic: 'a random or counting choice',
  socket: 'the local sockets',
  rpfilter: 'the routing table',
  policy: 'the IPsec policy',
  u32: 'packet bytes',
  bpf: 'a BPF program',
  cgroup: 'the socket cgroup',
  time: 'the local time and time zone',
  quota: 'a quota counter',
  helper: 'the conntrack helper',
  realm: 'the routing realm',
  pkttype: 'the link-layer packet type',
  cpu: 'the CPU',
  devgroup: 'the device group',
  ipvs: 'IPVS state',
  nfacct: 'an accounting object',
  cluster: 'cluster hashing',
  osf: 'OS fingerprinting',
  ecn: 'ECN bits',
  hbh: 'IPv6 extension headers',
  rt: 'IPv6 extension headers',
  frag: 'IPv6 fragment headers',
  ah: 'the AH header',
  esp: 'the ESP header',
  ipv6header: 'IPv6 extension headers',
  tcpmss: 'the TCP MSS option',
};

function compileMatch(m: RuleMatch): Check[] {
  const out: Check[] = [];
  const mod = m.module;
  if (mod === 'comment') return out;
  if (mod === 'nft') {
    for (const o of m.options)
      out.push(unknownCheck(o.values[0] ?? '?', 'nft', 'an nftables expression ruletrail does not evaluate'));
    return out;
  }
  const stateful = STATEFUL[mod];
  if (stateful !== undefined) {
    const text = `-m ${mod}${m.options.map((o) => ` ${optText(o)}`).join('')}`;
    out.push(unknownCheck(text, `-m ${mod}`, stateful));
    return out;
  }
  // Protocol matches (`-m tcp`, nft `th`) only match their own protocol.
  if (mod === 'tcp' || mod === 'udp' || mod === 'sctp' || mod === 'udplite' || mod === 'dccp')
    out.push(impliedProto(mod));
  for (const o of m.options) out.push(compileOption(mod, o));
  return out;
}

function impliedProto(proto: string): Check {
  return {
    criterion: `-m ${proto}`,
    kind: '-p',
    test: (p) => (p.proto === undefined ? 'unknown' : tri(protoName(p.proto) === proto)),
    detail: (p, r) => (r === 'unknown' ? 'depends on the protocol' : `the packet is ${p.proto ?? '?'}`),
  };
}

function optText(o: RuleOption): string {
  return `${bang(o.negated)}--${o.name}${o.values.map((v) => ` ${/\s/.test(v) ? JSON.stringify(v) : v}`).join('')}`;
}

function compileOption(mod: string, o: RuleOption): Check {
  const text = optText(o);
  const v0 = o.values[0] ?? '';
  const n = o.negated;
  switch (`${mod}:${o.name}`) {
    case 'tcp:dport':
    case 'udp:dport':
    case 'sctp:dport':
    case 'udplite:dport':
    case 'dccp:dport':
    case 'th:dport':
      return portCheck(text, '--dport', 'dport', parsePorts(v0), n);
    case 'tcp:sport':
    case 'udp:sport':
    case 'sctp:sport':
    case 'udplite:sport':
    case 'dccp:sport':
    case 'th:sport':
      return portCheck(text, '--sport', 'sport', parsePorts(v0), n);
    case 'multiport:dports':
    case 'multiport:destination-ports':
      return portCheck(text, '--dports', 'dport', parsePorts(v0), n);
    case 'multiport:sports':
    case 'multiport:source-ports':
      return portCheck(text, '--sports', 'sport', parsePorts(v0), n);
    case 'multiport:ports':
      return portEitherCheck(text, parsePorts(v0), n);
    case 'tcp:tcp-flags':
      return tcpFlagsCheck(text, o.values[0] ?? '', o.values[1] ?? '', n);
    case 'tcp:syn':
      return tcpFlagsCheck(text, 'SYN,RST,ACK,FIN', 'SYN', n);
    case 'icmp:icmp-type':
    case 'icmp6:icmpv6-type':
    case 'icmpv6:icmpv6-type':
      return icmpCheck(text, v0, mod !== 'icmp', n);
    case 'mark:mark':
      return markCheck(text, v0, n);
    case 'conntrack:ctstate':
    case 'state:state':
      return ctStateCheck(text, v0, n);
    case 'conntrack:ctorigdst':
    case 'conntrack:ctorigsrc':
    case 'conntrack:ctorigdstport':
    case 'conntrack:ctorigsrcport':
      return ctOrigCheck(text, o.name, v0, n);
    case 'iprange:src-range':
      return rangeCheck(text, 'src', v0, n);
    case 'iprange:dst-range':
      return rangeCheck(text, 'dst', v0, n);
    case 'length:length':
      return numRangeCheck(text, '--length', 'len', 'length', v0, n);
    case 'ttl:ttl-eq':
    case 'hl:hl-eq':
      return numCmpCheck(text, 'ttl', '=', Number(v0), n);
    case 'ttl:ttl-lt':
    case 'hl:hl-lt':
      return numCmpCheck(text, 'ttl', '<', Number(v0), n);
    case 'ttl:ttl-gt':
    case 'hl:hl-gt':
      return numCmpCheck(text, 'ttl', '>', Number(v0), n);
    case 'dscp:dscp':
      return tosCheck(text, Number(v0) << 2, 0xfc, n);
    case 'dscp:dscp-class':
      return tosCheck(text, (DSCP_CLASSES[v0.toUpperCase()] ?? NaN) << 2, 0xfc, n);
    case 'tos:tos': {
      const [v, m] = v0.split('/');
      return tosCheck(text, Number(v), m === undefined ? 0xff : Number(m), n);
    }
    case 'addrtype:src-type':
      return addrTypeCheck(text, 'src', v0, n);
    case 'addrtype:dst-type':
      return addrTypeCheck(text, 'dst', v0, n);
    case 'addrtype:limit-iface-in':
    case 'addrtype:limit-iface-out':
      return unknownCheck(text, '-m addrtype', 'per-interface address types');
    case 'physdev:physdev-in':
      return ifaceCheck('--physdev-in', 'physin', v0, n);
    case 'physdev:physdev-out':
      return ifaceCheck('--physdev-out', 'physout', v0, n);
    case 'physdev:physdev-is-in':
      return presenceCheck(text, 'physin', n);
    case 'physdev:physdev-is-out':
      return presenceCheck(text, 'physout', n);
    case 'physdev:physdev-is-bridged':
      return presenceCheck(text, 'physout', n);
    case 'mac:mac-source':
      return {
        criterion: text,
        kind: '--mac-source',
        test: (p) => (p.srcMac === undefined ? 'unknown' : neg(tri(p.srcMac === v0.toLowerCase()), n)),
        detail: (p, r) =>
          r === 'unknown' ? 'depends on the source MAC' : `the packet's source MAC is ${p.srcMac ?? '?'}`,
      };
    default:
      return unknownCheck(text, `-m ${mod}`, `-m ${mod} --${o.name}, which ruletrail does not evaluate`);
  }
}

// ---------------------------------------------------------------------------------------------------- ports

type Ranges = readonly (readonly [number, number])[] | undefined;

/** `80`, `80:90`, `:1024`, `1024:`, `80,443,8000:8080` (multiport), `80-90` (nft). */
function parsePorts(s: string): Ranges {
  const out: [number, number][] = [];
  for (const part of s.split(',')) {
    const m = /^(\d*)[:-]?(\d*)$/.exec(part.trim());
    if (!m || (m[1] === '' && m[2] === '')) return undefined;
    const single = !part.includes(':') && !part.includes('-');
    const lo = m[1] === '' ? 0 : Number(m[1]);
    const hi = single ? lo : m[2] === '' ? 65535 : Number(m[2]);
    out.push([lo, hi]);
  }
  return out;
}
function inRanges(r: Ranges, v: number): boolean | undefined {
  if (!r) return undefined;
  for (const [lo, hi] of r) if (v >= lo && v <= hi) return true;
  return false;
}
function portCheck(text: string, kind: string, field: 'sport' | 'dport', r: Ranges, negated: boolean): Check {
  return {
    criterion: text,
    kind,
    test: (p) => {
      const v = p[field];
      return v === undefined ? 'unknown' : neg(tri(inRanges(r, v)), negated);
    },
    detail: (p, res) =>
      res === 'unknown' ? `depends on the ${field}` : `the packet has ${field} ${p[field] ?? '?'}`,
  };
}
function portEitherCheck(text: string, r: Ranges, negated: boolean): Check {
  return {
    criterion: text,
    kind: '--ports',
    test: (p) => {
      if (p.sport === undefined || p.dport === undefined) return 'unknown';
      const a = inRanges(r, p.sport);
      const b = inRanges(r, p.dport);
      return a === undefined || b === undefined ? 'unknown' : neg(tri(a || b), negated);
    },
    detail: (p, res) =>
      res === 'unknown'
        ? 'depends on the ports'
        : `the packet has ports ${p.sport ?? '?'} > ${p.dport ?? '?'}`,
  };
}

// ------------------------------------------------------------------------------------------------ tcp, icmp

const TCP_FLAGS = ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR'];
function flagSet(s: string): Set<string> | undefined {
  const u = s.toUpperCase();
  if (u === 'ALL') return new Set(TCP_FLAGS);
  if (u === 'NONE' || u === '') return new Set();
  const out = new Set<string>();
  for (const f of u.split(',')) {
    if (!TCP_FLAGS.includes(f)) return undefined;
    out.add(f);
  }
  return out;
}
function tcpFlagsCheck(text: string, maskText: string, compText: string, negated: boolean): Check {
  const mask = flagSet(maskText);
  const comp = flagSet(compText);
  return {
    criterion: text,
    kind: '--tcp-flags',
    test: (p) => {
      if (!mask || !comp || p.tcpFlags === undefined) return 'unknown';
      if (p.proto !== undefined && protoName(p.proto) !== 'tcp') return 'no';
      for (const f of mask) if (p.tcpFlags.includes(f) !== comp.has(f)) return neg('no', negated);
      return neg('yes', negated);
    },
    detail: (p, r) =>
      r === 'unknown'
        ? 'depends on the TCP flags'
        : `the packet's flags are ${p.tcpFlags?.join(',') || 'none'}`,
  };
}

const ICMP_TYPES: Readonly<Record<string, [number, number?]>> = {
  any: [-1],
  'echo-reply': [0],
  'destination-unreachable': [3],
  'network-unreachable': [3, 0],
  'host-unreachable': [3, 1],
  'protocol-unreachable': [3, 2],
  'port-unreachable': [3, 3],
  'fragmentation-needed': [3, 4],
  'source-quench': [4],
  redirect: [5],
  'echo-request': [8],
  'time-exceeded': [11],
  'ttl-zero-during-transit': [11, 0],
  'parameter-problem': [12],
  'timestamp-request': [13],
  'timestamp-reply': [14],
};
const ICMP6_TYPES: Readonly<Record<string, [number, number?]>> = {
  any: [-1],
  'destination-unreachable': [1],
  'no-route': [1, 0],
  'communication-prohibited': [1, 1],
  'address-unreachable': [1, 3],
  'port-unreachable': [1, 4],
  'packet-too-big': [2],
  'time-exceeded': [3],
  'parameter-problem': [4],
  'echo-request': [128],
  'echo-reply': [129],
  'router-solicitation': [133],
  'router-advertisement': [134],
  'neighbour-solicitation': [135],
  'neighbor-solicitation': [135],
  'neighbour-advertisement': [136],
  'neighbor-advertisement': [136],
};
function icmpCheck(text: string, value: string, v6: boolean, negated: boolean): Check {
  const named = (v6 ? ICMP6_TYPES : ICMP_TYPES)[value.toLowerCase()];
  let type: number | undefined;
  let code: number | undefined;
  if (named) [type, code] = named;
  else {
    const m = /^(\d+)(?:\/(\d+))?$/.exec(value);
    if (m) {
      type = Number(m[1]);
      code = m[2] === undefined ? undefined : Number(m[2]);
    }
  }
  const proto = v6 ? 'ipv6-icmp' : 'icmp';
  return {
    criterion: text,
    kind: v6 ? '--icmpv6-type' : '--icmp-type',
    test: (p) => {
      if (type === undefined) return 'unknown';
      if (p.proto !== undefined && protoName(p.proto) !== proto) return 'no';
      // No protocol and no ICMP header (a channel that does not print it): not even `any` is known.
      if (p.proto === undefined && p.icmpType === undefined) return 'unknown';
      if (type === -1) return neg('yes', negated);
      if (p.icmpType === undefined) return 'unknown';
      if (p.icmpType !== type) return neg('no', negated);
      if (code === undefined) return neg('yes', negated);
      return p.icmpCode === undefined ? 'unknown' : neg(tri(p.icmpCode === code), negated);
    },
    detail: (p, r) =>
      r === 'unknown'
        ? 'depends on the ICMP type'
        : `the packet is ${p.proto ?? '?'} type ${p.icmpType ?? '?'}${p.icmpCode !== undefined ? ` code ${p.icmpCode}` : ''}`,
  };
}

// ------------------------------------------------------------------------------------------- mark, conntrack

function markCheck(text: string, value: string, negated: boolean): Check {
  const [v, m] = value.split('/');
  const want = Number(v);
  const mask = m === undefined ? 0xffffffff : Number(m);
  const ok = Number.isFinite(want) && Number.isFinite(mask);
  return {
    criterion: text,
    kind: '--mark',
    test: (p) =>
      !ok || p.mark === undefined ? 'unknown' : neg(tri((p.mark & mask) >>> 0 === want >>> 0), negated),
    detail: (p, r) =>
      r === 'unknown'
        ? 'depends on the packet mark'
        : `the packet's mark is 0x${((p.mark ?? 0) >>> 0).toString(16)}`,
  };
}

function ctStateCheck(text: string, value: string, negated: boolean): Check {
  const want = value.toUpperCase().split(',');
  // SNAT and DNAT are not states but the connection's NAT status: `--ctstate NEW,DNAT` matches a NEW connection or
  // a DNAT'ed one, so they are checked on their own.
  const nat = want.filter((x): x is 'SNAT' | 'DNAT' => x === 'SNAT' || x === 'DNAT');
  return {
    criterion: text,
    kind: '--ctstate',
    test: (p) => {
      const s = p.ctState;
      // Several possible states: yes only when every one is wanted, no only when none is.
      const hits = s === undefined ? undefined : s.filter((x) => want.includes(x)).length;
      if (s !== undefined && hits === s.length) return neg('yes', negated);
      if (nat.length) {
        const st = p.ctStatus;
        if (st === undefined) return 'unknown';
        if (nat.some((x) => st.includes(x))) return neg('yes', negated);
      }
      if (hits === 0) return neg('no', negated);
      return 'unknown';
    },
    detail: (p, r) =>
      r === 'unknown'
        ? 'depends on the conntrack state'
        : `the connection is ${p.ctState?.join(' or ') ?? '?'}`,
  };
}

function ctOrigCheck(text: string, name: string, value: string, negated: boolean): Check {
  const port = name.endsWith('port');
  const field = name.startsWith('ctorigsrc') ? (port ? 'sport' : 'src') : port ? 'dport' : 'dst';
  const pref = port ? undefined : parsePrefix(value);
  const ports = port ? parsePorts(value) : undefined;
  return {
    criterion: text,
    kind: `--${name}`,
    test: (p) => {
      const o = p.orig?.[field];
      if (o === undefined) return 'unknown';
      if (typeof o === 'number') return neg(tri(inRanges(ports, o)), negated);
      const w = addressWords(o);
      if (!w || !pref) return 'unknown';
      const r = inPrefix(w, pref);
      return r === undefined ? 'no' : neg(tri(r), negated);
    },
    detail: (p, r) =>
      r === 'unknown'
        ? "depends on the connection's original tuple"
        : `the connection's original ${field} is ${String(p.orig?.[field] ?? '?')}`,
  };
}

// ------------------------------------------------------------------------------------ iprange, length, ttl, tos

function rangeCheck(text: string, field: 'src' | 'dst', value: string, negated: boolean): Check {
  const [a, b] = value.split('-');
  const lo = a ? parseAddress(a) : undefined;
  const hi = b ? parseAddress(b) : lo;
  return {
    criterion: text,
    kind: field === 'src' ? '--src-range' : '--dst-range',
    test: (p) => {
      const x = p[field];
      const w = x === undefined ? undefined : addressWords(x);
      if (!w || !lo || !hi) return 'unknown';
      if (w.length !== lo.length) return 'no';
      return neg(tri(compareAddress(w, lo) >= 0 && compareAddress(w, hi) <= 0), negated);
    },
    detail: (p, r) =>
      r === 'unknown'
        ? `depends on the ${field} address`
        : `the packet's ${field === 'src' ? 'source' : 'destination'} is ${p[field] ?? '?'}`,
  };
}

function numRangeCheck(
  text: string,
  kind: string,
  field: 'len',
  words: string,
  value: string,
  negated: boolean,
): Check {
  const r = parsePorts(value.replace(/-/g, ':'));
  return {
    criterion: text,
    kind,
    test: (p) => {
      const v = p[field];
      return v === undefined ? 'unknown' : neg(tri(inRanges(r, v)), negated);
    },
    detail: (p, res) =>
      res === 'unknown' ? `depends on the ${words}` : `the packet's ${words} is ${p[field] ?? '?'}`,
  };
}

function numCmpCheck(text: string, field: 'ttl', op: '=' | '<' | '>', want: number, negated: boolean): Check {
  return {
    criterion: text,
    kind: '--ttl',
    test: (p) => {
      const v = p[field];
      if (v === undefined || !Number.isFinite(want)) return 'unknown';
      return neg(tri(op === '=' ? v === want : op === '<' ? v < want : v > want), negated);
    },
    detail: (p, r) => (r === 'unknown' ? 'depends on the TTL' : `the packet's TTL is ${p[field] ?? '?'}`),
  };
}

const DSCP_CLASSES: Readonly<Record<string, number>> = {
  CS0: 0,
  CS1: 8,
  CS2: 16,
  CS3: 24,
  CS4: 32,
  CS5: 40,
  CS6: 48,
  CS7: 56,
  BE: 0,
  EF: 46,
  AF11: 10,
  AF12: 12,
  AF13: 14,
  AF21: 18,
  AF22: 20,
  AF23: 22,
  AF31: 26,
  AF32: 28,
  AF33: 30,
  AF41: 34,
  AF42: 36,
  AF43: 38,
};
function tosCheck(text: string, value: number, mask: number, negated: boolean): Check {
  return {
    criterion: text,
    kind: text.includes('dscp') ? '--dscp' : '--tos',
    test: (p) => {
      if (p.tos === undefined || !Number.isFinite(value) || !Number.isFinite(mask)) return 'unknown';
      return neg(tri((p.tos & mask) === (value & mask)), negated);
    },
    detail: (p, r) =>
      r === 'unknown'
        ? 'depends on the TOS byte'
        : `the packet's TOS byte is 0x${(p.tos ?? 0).toString(16).padStart(2, '0')}`,
  };
}

// ------------------------------------------------------------------------------------------ addrtype, physdev

function addrTypeCheck(text: string, field: 'src' | 'dst', value: string, negated: boolean): Check {
  const want = value.toUpperCase().split(',');
  return {
    criterion: text,
    kind: field === 'src' ? '--src-type' : '--dst-type',
    test: (p, ctx) => {
      const a = p[field];
      if (a === undefined || !ctx.facts) return 'unknown';
      // IPv6 types are not exclusive (a local address is LOCAL and UNICAST): match any of them, as the kernel does.
      const types = ctx.facts.addressTypes?.(a, p.family);
      if (types) return neg(tri(types.some((t) => want.includes(t))), negated);
      const t = ctx.facts.addressType(a, p.family);
      return t === undefined ? 'unknown' : neg(tri(want.includes(t)), negated);
    },
    detail: (p, r) =>
      r === 'unknown'
        ? `depends on the host's addresses (give the snapshot's host facts)`
        : // A negated criterion fails because the address IS of a listed type.
          `${p[field] ?? '?'} is ${negated ? '' : 'not '}${want.join('/')} on this host`,
  };
}

function presenceCheck(text: string, field: 'physin' | 'physout', negated: boolean): Check {
  return {
    criterion: text,
    kind: text.replace(/^! /, ''),
    test: (p) => {
      // Absent is not known: a channel may not carry bridge ports at all (`''` means known to be none).
      const v = p[field];
      return v === undefined ? 'unknown' : neg(tri(v !== ''), negated);
    },
    detail: (p) =>
      p[field]
        ? `the packet ${field === 'physin' ? 'came in on' : 'goes out on'} bridge port ${p[field]}`
        : 'the packet is not bridged',
  };
}
