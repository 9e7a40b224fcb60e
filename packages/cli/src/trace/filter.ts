/**
 * The trace filter: a small tcpdump-like language compiled into iptables match arguments and nft expressions.
 *
 *   tcp and dst port 52000 and src 10.0.0.0/8
 *   udp and (port 53 or port 5353)
 *   ip6 and icmp6
 *   host 172.28.129.4 and not tcp
 *   tcp[tcpflags] & tcp-syn != 0 and dst port 80
 *
 * Primitives: `tcp udp sctp icmp icmp6 ip ip6`, `[src|dst] host ADDR`, `[src|dst] net CIDR`, `src|dst ADDR[/LEN]`,
 * `[src|dst] port N`, `[src|dst] portrange N-M`, `tcp[tcpflags] & FLAG[|FLAG…] != 0` and
 * `tcp[tcpflags] == FLAG[|FLAG…]` (FLAG: tcp-syn, tcp-ack, tcp-fin, tcp-rst, tcp-push, tcp-urg); combined with
 * `and`/`&&`, `or`/`||`, `not`/`!` and parentheses. A rule can only AND its matches, so the expression is brought
 * into disjunctive normal form and each conjunction becomes one rule (per family for iptables); `host`/`port`
 * without a direction are "source or destination" and count as a disjunction. What no rule can express (two
 * different source networks ANDed, a port without a protocol that has ports, `ether`, `vlan`, …) is rejected
 * with a `FilterError` that names the position.
 */

/** A filter that cannot be parsed or expressed as rules; `position` is the 0-based character offset, if known. */
export class FilterError extends Error {
  constructor(
    message: string,
    readonly position?: number,
  ) {
    super(position === undefined ? message : `${message} (at character ${position + 1})`);
    this.name = 'FilterError';
  }
}

/** Most rules a filter may expand into (per family and hook): beyond this the filter is too broad to trace. */
export const MAX_CONJUNCTIONS = 16;

export type L4 = 'tcp' | 'udp' | 'sctp' | 'icmp' | 'icmp6';
export type Dir = 'src' | 'dst';
export type TcpFlag = 'syn' | 'ack' | 'fin' | 'rst' | 'psh' | 'urg';

/** One primitive test, possibly negated. */
export type Atom =
  | { readonly kind: 'proto'; readonly proto: L4; readonly not: boolean }
  | { readonly kind: 'family'; readonly family: 4 | 6; readonly not: boolean }
  | {
      readonly kind: 'addr';
      readonly dir: Dir;
      readonly cidr: string;
      readonly family: 4 | 6;
      readonly not: boolean;
    }
  | {
      readonly kind: 'port';
      readonly dir: Dir;
      readonly lo: number;
      readonly hi: number;
      readonly not: boolean;
    }
  | {
      readonly kind: 'tcpflags';
      readonly flags: readonly TcpFlag[];
      /** `any`: `& FLAGS != 0` (one of them set); `exact`: `== FLAGS` (exactly these set). */
      readonly test: 'any' | 'exact';
      readonly not: boolean;
    };

type Node =
  | { readonly op: 'and' | 'or'; readonly a: Node; readonly b: Node }
  | { readonly op: 'not'; readonly a: Node }
  | { readonly op: 'atom'; readonly atom: Atom }
  | { readonly op: 'true' };

/** A conjunction of atoms that one rule can test: the unit of compilation. */
export interface Conjunction {
  readonly atoms: readonly Atom[];
}

/** A compiled filter: conjunctions, each bound to its family (undefined = both) and protocol. */
export interface CompiledFilter {
  readonly source: string;
  readonly rules: readonly CompiledRule[];
}

/** One rule's worth of matching. */
export interface CompiledRule {
  /** undefined: the rule applies to IPv4 and IPv6. */
  readonly family?: 4 | 6;
  readonly proto?: { readonly name: L4; readonly not: boolean };
  readonly src?: { readonly cidr: string; readonly not: boolean };
  readonly dst?: { readonly cidr: string; readonly not: boolean };
  readonly sport?: { readonly lo: number; readonly hi: number; readonly not: boolean };
  readonly dport?: { readonly lo: number; readonly hi: number; readonly not: boolean };
  readonly tcpFlags?: {
    readonly flags: readonly TcpFlag[];
    readonly test: 'any' | 'exact';
    readonly not: boolean;
  };
}

// ---------------------------------------------------------------------------------------------------------
// Tokens

interface Tok {
  readonly text: string;
  readonly pos: number;
}

function tokenize(s: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const two = s.slice(i, i + 2);
    if (two === '&&' || two === '||' || two === '!=' || two === '==') {
      out.push({ text: two, pos: i });
      i += 2;
      continue;
    }
    if ('()!&|'.includes(c)) {
      out.push({ text: c, pos: i });
      i++;
      continue;
    }
    if (c === '=') {
      out.push({ text: '==', pos: i });
      i++;
      continue;
    }
    const m = /^[A-Za-z0-9_.:/\-[\]]+/.exec(s.slice(i));
    if (!m) throw new FilterError(`unexpected character '${c}'`, i);
    out.push({ text: m[0], pos: i });
    i += m[0].length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Parser (recursive descent: or < and < not < primary)

const PROTOS: Record<string, L4> = {
  tcp: 'tcp',
  udp: 'udp',
  sctp: 'sctp',
  icmp: 'icmp',
  icmp6: 'icmp6',
  icmpv6: 'icmp6',
};
const TCP_FLAGS: Record<string, TcpFlag> = {
  'tcp-syn': 'syn',
  'tcp-ack': 'ack',
  'tcp-fin': 'fin',
  'tcp-rst': 'rst',
  'tcp-push': 'psh',
  'tcp-urg': 'urg',
};
/** Words tcpdump knows that no netfilter rule in raw PREROUTING/OUTPUT can express here. */
const UNSUPPORTED = new Set([
  'ether',
  'vlan',
  'mpls',
  'arp',
  'rarp',
  'broadcast',
  'multicast',
  'less',
  'greater',
  'len',
  'gateway',
  'proto',
  'protochain',
  'inbound',
  'outbound',
  'ifname',
  'on',
  'igmp',
  'pim',
  'vrrp',
  'atalk',
  'decnet',
  'iso',
  'stp',
  'ipx',
  'netbeui',
]);

class Parser {
  private i = 0;
  constructor(
    private readonly toks: Tok[],
    private readonly src: string,
  ) {}

  parse(): Node {
    if (this.toks.length === 0) return { op: 'true' };
    const n = this.or();
    const t = this.peek();
    if (t) throw new FilterError(`unexpected '${t.text}'`, t.pos);
    return n;
  }

  private peek(): Tok | undefined {
    return this.toks[this.i];
  }
  private next(what: string): Tok {
    const t = this.toks[this.i++];
    if (!t) throw new FilterError(`${what} expected at the end of the filter`, this.src.length);
    return t;
  }
  private accept(...texts: string[]): boolean {
    const t = this.peek();
    if (t && texts.includes(t.text.toLowerCase())) {
      this.i++;
      return true;
    }
    return false;
  }

  private or(): Node {
    let a = this.and();
    while (this.accept('or', '||')) a = { op: 'or', a, b: this.and() };
    return a;
  }
  private and(): Node {
    let a = this.not();
    while (this.accept('and', '&&')) a = { op: 'and', a, b: this.not() };
    return a;
  }
  private not(): Node {
    if (this.accept('not', '!')) return { op: 'not', a: this.not() };
    return this.primary();
  }

  private primary(): Node {
    const t = this.next('a primitive');
    const w = t.text.toLowerCase();
    if (w === '(') {
      const n = this.or();
      const c = this.next("')'");
      if (c.text !== ')') throw new FilterError(`')' expected, got '${c.text}'`, c.pos);
      return n;
    }
    if (w === 'tcp[tcpflags]' || w === 'tcp[13]') return this.tcpFlags(t);
    const proto = PROTOS[w];
    if (proto) {
      // tcpdump's `tcp port 80`, `udp dst port 53`: the protocol qualifies the port primitive that follows.
      const after = this.peek()?.text.toLowerCase();
      if (after === 'port' || after === 'portrange' || after === 'src' || after === 'dst') {
        const rest = this.primary();
        return { op: 'and', a: atom({ kind: 'proto', proto, not: false }), b: rest };
      }
      return atom({ kind: 'proto', proto, not: false });
    }
    if (w === 'ip' || w === 'ip6') return atom({ kind: 'family', family: w === 'ip' ? 4 : 6, not: false });
    if (w === 'src' || w === 'dst') {
      // `src or dst`, `src and dst` as a direction qualifier.
      const u = this.peek()?.text.toLowerCase();
      if (u === 'or' || u === 'and') {
        const save = this.i;
        this.i++;
        const v = this.peek()?.text.toLowerCase();
        if (v === (w === 'src' ? 'dst' : 'src')) {
          this.i++;
          return this.directed(u === 'or' ? 'either' : 'both', t);
        }
        this.i = save;
      }
      return this.directed(w, t);
    }
    if (w === 'host' || w === 'net' || w === 'port' || w === 'portrange') {
      this.i--;
      return this.directed('either', t);
    }
    if (UNSUPPORTED.has(w))
      throw new FilterError(
        `'${t.text}' cannot be expressed as a TRACE rule here (supported: tcp, udp, sctp, icmp, icmp6, ip, ip6, host, net, port, portrange, src, dst, tcp[tcpflags])`,
        t.pos,
      );
    // A bare address or network: tcpdump's `10.0.0.1` is `host 10.0.0.1`.
    if (looksLikeAddress(w)) {
      this.i--;
      return this.directed('either', t);
    }
    throw new FilterError(`unknown primitive '${t.text}'`, t.pos);
  }

  /** After `src`/`dst` (or none): `host A`, `net N`, `port P`, `portrange A-B`, or a bare address. */
  private directed(dir: Dir | 'either' | 'both', at: Tok): Node {
    const t = this.next(`host, net, port or an address after '${at.text}'`);
    const w = t.text.toLowerCase();
    let mk: (d: Dir) => Atom;
    if (w === 'port' || w === 'portrange') {
      const v = this.next(`a port number after '${t.text}'`);
      const [lo, hi] = parsePorts(v, w === 'portrange');
      mk = (d) => ({ kind: 'port', dir: d, lo, hi, not: false });
    } else {
      let v = t;
      if (w === 'host' || w === 'net') v = this.next(`an address after '${t.text}'`);
      const a = parseAddress(v, w === 'host');
      // `net 10.0.0.0 mask 255.0.0.0`: netmask form.
      if (this.peek()?.text.toLowerCase() === 'mask') {
        const m = this.peek()!;
        throw new FilterError(
          `'mask' is not supported: write the network as ${a.cidr.split('/')[0]}/LEN`,
          m.pos,
        );
      }
      mk = (d) => ({ kind: 'addr', dir: d, cidr: a.cidr, family: a.family, not: false });
    }
    if (dir === 'src' || dir === 'dst') return atom(mk(dir));
    return { op: dir === 'either' ? 'or' : 'and', a: atom(mk('src')), b: atom(mk('dst')) };
  }

  private tcpFlags(at: Tok): Node {
    const flagsOf = (): TcpFlag[] => {
      const flags: TcpFlag[] = [];
      const paren = this.accept('(');
      do {
        const f = this.next('a TCP flag (tcp-syn, tcp-ack, …)');
        const flag = TCP_FLAGS[f.text.toLowerCase()];
        if (!flag)
          throw new FilterError(
            `unknown TCP flag '${f.text}' (tcp-syn, tcp-ack, tcp-fin, tcp-rst, tcp-push, tcp-urg)`,
            f.pos,
          );
        flags.push(flag);
      } while (this.accept('|'));
      if (paren) {
        const c = this.next("')'");
        if (c.text !== ')') throw new FilterError(`')' expected, got '${c.text}'`, c.pos);
      }
      return flags;
    };
    const op = this.next("'&' or '=='");
    if (op.text === '&') {
      const flags = flagsOf();
      const cmp = this.next("'!= 0'");
      const zero = this.next("'0'");
      if (zero.text !== '0' || (cmp.text !== '!=' && cmp.text !== '=='))
        throw new FilterError(`only 'tcp[tcpflags] & FLAGS != 0' and '== 0' can be expressed`, cmp.pos);
      const n = atom({ kind: 'tcpflags', flags, test: 'any', not: false });
      return cmp.text === '!=' ? n : { op: 'not', a: n };
    }
    if (op.text === '==') return atom({ kind: 'tcpflags', flags: flagsOf(), test: 'exact', not: false });
    throw new FilterError(`'&' or '==' expected after '${at.text}'`, op.pos);
  }
}

function atom(a: Atom): Node {
  return { op: 'atom', atom: a };
}

function looksLikeAddress(w: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}(\/\d+)?$/.test(w) || (/^[0-9a-f:]+(\/\d+)?$/i.test(w) && w.includes(':'));
}

function parsePorts(t: Tok, range: boolean): [number, number] {
  const m = /^(\d+)(?:[-:](\d+))?$/.exec(t.text);
  if (!m || (!range && m[2] !== undefined && false))
    throw new FilterError(
      `'${t.text}' is not a port number${range ? ' range (N-M)' : ''} (service names are not looked up)`,
      t.pos,
    );
  const lo = Number(m[1]);
  const hi = m[2] !== undefined ? Number(m[2]) : lo;
  if (lo > 65535 || hi > 65535 || hi < lo)
    throw new FilterError(`port range '${t.text}' is not within 0-65535`, t.pos);
  if (range && m[2] === undefined) throw new FilterError(`portrange needs N-M, got '${t.text}'`, t.pos);
  return [lo, hi];
}

function parseAddress(t: Tok, hostOnly: boolean): { cidr: string; family: 4 | 6 } {
  const text = t.text;
  const [addr, len] = text.split('/') as [string, string | undefined];
  let family: 4 | 6;
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(addr) && addr.split('.').every((o) => Number(o) <= 255)) family = 4;
  else if (/^[0-9a-f:.]+$/i.test(addr) && addr.includes(':') && validV6(addr)) family = 6;
  else throw new FilterError(`'${text}' is not an IPv4 or IPv6 address (host names are not resolved)`, t.pos);
  const max = family === 4 ? 32 : 128;
  if (len !== undefined) {
    if (hostOnly) throw new FilterError(`'host' takes an address, not a network: use 'net ${text}'`, t.pos);
    const n = Number(len);
    if (!/^\d+$/.test(len) || n > max) throw new FilterError(`bad prefix length in '${text}'`, t.pos);
    return { cidr: `${addr}/${n}`, family };
  }
  return { cidr: `${addr}/${max}`, family };
}

function validV6(a: string): boolean {
  const dbl = a.split('::');
  if (dbl.length > 2) return false;
  const groups = a.split(':').filter((g) => g !== '');
  return (
    groups.every((g) => /^[0-9a-f]{1,4}$/i.test(g) || /^\d{1,3}(\.\d{1,3}){3}$/.test(g)) && groups.length <= 8
  );
}

// ---------------------------------------------------------------------------------------------------------
// Normal form

function negate(a: Atom): Atom {
  return { ...a, not: !a.not };
}

/** Pushes `not` down to the atoms (De Morgan). */
function nnf(n: Node, neg: boolean): Node {
  switch (n.op) {
    case 'true':
      if (neg) throw new FilterError("'not' of an empty filter matches nothing");
      return n;
    case 'atom':
      return neg ? atom(negate(n.atom)) : n;
    case 'not':
      return nnf(n.a, !neg);
    default: {
      const op = neg ? (n.op === 'and' ? 'or' : 'and') : n.op;
      return { op, a: nnf(n.a, neg), b: nnf(n.b, neg) };
    }
  }
}

function dnf(n: Node): Atom[][] {
  switch (n.op) {
    case 'true':
      return [[]];
    case 'atom':
      return [[n.atom]];
    case 'not':
      throw new Error('not in NNF');
    case 'or':
      return [...dnf(n.a), ...dnf(n.b)];
    case 'and': {
      const out: Atom[][] = [];
      for (const x of dnf(n.a)) for (const y of dnf(n.b)) out.push([...x, ...y]);
      if (out.length > MAX_CONJUNCTIONS * 4)
        throw new FilterError(
          `the filter expands into more than ${MAX_CONJUNCTIONS} rules; simplify it or use --match`,
        );
      return out;
    }
  }
}

/** Parses a filter into conjunctions (disjunctive normal form). */
export function parseFilter(text: string): Conjunction[] {
  const tree = new Parser(tokenize(text), text).parse();
  return dnf(nnf(tree, false)).map((atoms) => ({ atoms }));
}

// ---------------------------------------------------------------------------------------------------------
// Conjunction → one rule's matches

const PORTED: readonly L4[] = ['tcp', 'udp', 'sctp'];

/**
 * Reduces one conjunction to the matches one rule can hold; `null` when the conjunction can never match (e.g.
 * `tcp and udp`, `ip and ip6`), so it is dropped. Throws when it could match but no rule can say so.
 */
function reduce(c: Conjunction, text: string): CompiledRule[] | null {
  let family: 4 | 6 | undefined;
  let notFamily: 4 | 6 | undefined;
  let proto: { name: L4; not: boolean } | undefined;
  const notProtos: L4[] = [];
  const negAddrs: Extract<Atom, { kind: 'addr' }>[] = [];
  const r: {
    src?: { cidr: string; not: boolean };
    dst?: { cidr: string; not: boolean };
    sport?: { lo: number; hi: number; not: boolean };
    dport?: { lo: number; hi: number; not: boolean };
    tcpFlags?: { flags: readonly TcpFlag[]; test: 'any' | 'exact'; not: boolean };
  } = {};
  const needFamily = (f: 4 | 6): boolean => {
    if (family !== undefined && family !== f) return false;
    if (notFamily === f) return false;
    family = f;
    return true;
  };
  for (const a of c.atoms) {
    switch (a.kind) {
      case 'family':
        if (a.not) {
          if (family === a.family) return null;
          notFamily = a.family;
        } else if (!needFamily(a.family)) return null;
        break;
      case 'proto':
        if (a.proto === 'icmp' && !a.not && !needFamily(4)) return null;
        if (a.proto === 'icmp6' && !a.not && !needFamily(6)) return null;
        if (a.not) notProtos.push(a.proto);
        else if (proto && proto.name !== a.proto) return null;
        else proto = { name: a.proto, not: false };
        break;
      case 'addr': {
        if (a.not) {
          negAddrs.push(a);
          break;
        }
        if (!needFamily(a.family)) return null;
        const slot = a.dir === 'src' ? 'src' : 'dst';
        const prev = r[slot];
        if (prev && prev.cidr !== a.cidr)
          throw new FilterError(
            `'${text}': two ${slot} address tests in one conjunction cannot be one rule; use 'or', or one network`,
          );
        r[slot] = { cidr: a.cidr, not: false };
        break;
      }
      case 'port': {
        const slot = a.dir === 'src' ? 'sport' : 'dport';
        const prev = r[slot];
        if (prev && !(prev.lo === a.lo && prev.hi === a.hi && prev.not === a.not))
          throw new FilterError(`'${text}': two ${a.dir} port tests in one conjunction cannot be one rule`);
        r[slot] = { lo: a.lo, hi: a.hi, not: a.not };
        break;
      }
      case 'tcpflags':
        if (!a.not && !needProto('tcp')) return null;
        if (r.tcpFlags)
          throw new FilterError(`'${text}': two TCP flag tests in one conjunction cannot be one rule`);
        r.tcpFlags = { flags: a.flags, test: a.test, not: a.not };
        break;
    }
  }
  function needProto(p: L4): boolean {
    if (proto && proto.name !== p) return false;
    proto = { name: p, not: false };
    return true;
  }
  if (proto && notProtos.includes(proto.name)) return null;
  if (family === undefined && notFamily !== undefined) family = notFamily === 4 ? 6 : 4;
  if (r.tcpFlags && !proto) proto = { name: 'tcp', not: false };
  if (notProtos.length > 1 && !proto)
    throw new FilterError(`'${text}': a rule can exclude one protocol only ('not tcp and not udp' is two)`);
  let protos: ({ name: L4; not: boolean } | undefined)[];
  if (r.sport || r.dport) {
    if (proto && !PORTED.includes(proto.name)) return null;
    // tcpdump's `port 53` is TCP or UDP: one rule each, since a port match needs its protocol.
    const names = proto ? [proto.name] : (['tcp', 'udp'] as L4[]).filter((p) => !notProtos.includes(p));
    protos = names.map((name) => ({ name, not: false }));
  } else if (proto) protos = [proto];
  else if (notProtos.length === 1) protos = [{ name: notProtos[0]!, not: true }];
  else protos = [undefined];
  // A negated address only constrains rules of its own family ("not src 10.0.0.0/8" holds for every IPv6
  // packet), so with negated addresses and no family yet, the rule splits into one per family.
  const families: (4 | 6 | undefined)[] =
    family !== undefined
      ? [family]
      : negAddrs.length
        ? ([4, 6].filter((f) => f !== notFamily) as (4 | 6)[])
        : [undefined];
  const out: CompiledRule[] = [];
  for (const f of families) {
    const rr = { ...r };
    for (const n of negAddrs) {
      if (n.family !== f) continue;
      const slot = n.dir === 'src' ? 'src' : 'dst';
      if (rr[slot] && !(rr[slot].cidr === n.cidr && rr[slot].not))
        throw new FilterError(`'${text}': two ${slot} address tests in one conjunction cannot be one rule`);
      rr[slot] = { cidr: n.cidr, not: true };
    }
    for (const p of protos) {
      if (f === 6 && p?.name === 'icmp' && !p.not) continue;
      if (f === 4 && p?.name === 'icmp6' && !p.not) continue;
      out.push({ ...(f !== undefined ? { family: f } : {}), ...(p ? { proto: p } : {}), ...rr });
    }
  }
  return out.length ? out : null;
}

/** Parses and compiles a filter into the rules to install. */
export function compileFilter(text: string): CompiledFilter {
  const rules: CompiledRule[] = [];
  const seen = new Set<string>();
  for (const c of parseFilter(text)) {
    const rs = reduce(c, text);
    if (!rs) continue;
    for (const r of rs) {
      const k = JSON.stringify(r);
      if (seen.has(k)) continue;
      seen.add(k);
      rules.push(r);
    }
  }
  if (rules.length === 0) throw new FilterError(`'${text}' can never match (contradictory tests)`);
  if (rules.length > MAX_CONJUNCTIONS)
    throw new FilterError(
      `'${text}' expands into ${rules.length} rules (at most ${MAX_CONJUNCTIONS}); simplify it or use --match`,
    );
  return { source: text, rules };
}

// ---------------------------------------------------------------------------------------------------------
// Back ends

/** Whether a compiled rule applies to a family. */
export function ruleAppliesTo(r: CompiledRule, family: 4 | 6): boolean {
  return r.family === undefined || r.family === family;
}

function bang(not: boolean): string[] {
  return not ? ['!'] : [];
}

function ipProto(p: L4, family: 4 | 6): string {
  if (p === 'icmp6') return family === 6 ? 'ipv6-icmp' : 'icmp';
  return p;
}

/** iptables / ip6tables match arguments for one rule (without table, chain and target). */
export function iptablesMatch(r: CompiledRule, family: 4 | 6): string[] {
  const out: string[] = [];
  if (r.src) out.push(...bang(r.src.not), '-s', r.src.cidr);
  if (r.dst) out.push(...bang(r.dst.not), '-d', r.dst.cidr);
  if (r.proto) {
    out.push(...bang(r.proto.not), '-p', ipProto(r.proto.name, family));
  }
  const p = r.proto && !r.proto.not ? r.proto.name : undefined;
  if (r.sport || r.dport || r.tcpFlags) {
    if (!p) throw new FilterError('a port or TCP flag test needs a protocol');
    out.push('-m', p);
    const range = (x: { lo: number; hi: number }) => (x.lo === x.hi ? String(x.lo) : `${x.lo}:${x.hi}`);
    if (r.sport) out.push(...bang(r.sport.not), '--sport', range(r.sport));
    if (r.dport) out.push(...bang(r.dport.not), '--dport', range(r.dport));
    if (r.tcpFlags) {
      const names = r.tcpFlags.flags.map((f) => f.toUpperCase()).join(',');
      const mask = r.tcpFlags.test === 'exact' ? 'ALL' : names;
      // `& F != 0` with several flags means "any of them": iptables' --tcp-flags MASK COMP tests all of COMP.
      if (r.tcpFlags.test === 'any' && r.tcpFlags.flags.length > 1)
        throw new FilterError(
          "'tcp[tcpflags] & A|B != 0' (any of several flags) cannot be one iptables rule; use 'or'",
        );
      out.push(...bang(r.tcpFlags.not), '--tcp-flags', mask, names);
    }
  }
  return out;
}

/** nft expression text for one rule (without the trace statement), for an `inet` table. */
export function nftMatch(r: CompiledRule): string {
  const parts: string[] = [];
  const op = (not: boolean) => (not ? '!= ' : '');
  if (r.family !== undefined && !r.src && !r.dst)
    parts.push(`meta nfproto ${r.family === 4 ? 'ipv4' : 'ipv6'}`);
  const ipKw = (cidr: string) => (cidr.includes(':') ? 'ip6' : 'ip');
  if (r.src) parts.push(`${ipKw(r.src.cidr)} saddr ${op(r.src.not)}${r.src.cidr}`);
  if (r.dst) parts.push(`${ipKw(r.dst.cidr)} daddr ${op(r.dst.not)}${r.dst.cidr}`);
  const range = (x: { lo: number; hi: number }) => (x.lo === x.hi ? String(x.lo) : `${x.lo}-${x.hi}`);
  if (r.proto) {
    const name = r.proto.name === 'icmp6' ? 'ipv6-icmp' : r.proto.name;
    if (r.proto.not || !(r.sport || r.dport || r.tcpFlags))
      parts.push(`meta l4proto ${op(r.proto.not)}${name}`);
  }
  const p = r.proto && !r.proto.not ? r.proto.name : undefined;
  if (r.sport) parts.push(`${p} sport ${op(r.sport.not)}${range(r.sport)}`);
  if (r.dport) parts.push(`${p} dport ${op(r.dport.not)}${range(r.dport)}`);
  if (r.tcpFlags) {
    const names = r.tcpFlags.flags.map((f) => (f === 'psh' ? 'psh' : f)).join(' | ');
    const flags = r.tcpFlags.flags.length > 1 ? `(${names})` : names;
    if (r.tcpFlags.test === 'exact') parts.push(`tcp flags ${r.tcpFlags.not ? '!=' : '=='} ${flags}`);
    else parts.push(`tcp flags & ${flags} ${r.tcpFlags.not ? '==' : '!='} 0`);
  }
  return parts.join(' ');
}
