/**
 * `simulate`: predicts a packet's path through a snapshot without a trace. The packet is walked through the hooks
 * (PREROUTING → routing → INPUT or FORWARD → POSTROUTING; OUTPUT → POSTROUTING for a packet a local process sends),
 * at each hook through the snapshot's base chains in priority order, and through each chain rule by rule with the
 * rule evaluator, applying targets as the kernel does: jumps, gotos and returns, chain policies, MARK, the NAT
 * targets (which rewrite the packet; routing is decided after PREROUTING, on the rewritten destination), ACCEPT,
 * DROP, REJECT, QUEUE. NAT chains are traversed only by a connection's first packet (conntrack state NEW).
 *
 * Where the evaluator answers `unknown` (addrtype without host facts, a rate limit, an ipset, an interface the
 * description leaves out, a conntrack state that was not given…), the walk explores both answers: each complete
 * walk is a branch with the assumptions it made, and the verdict is UNKNOWN unless every branch agrees. Branches
 * are found by replaying the walk with a growing list of decisions (cheap: a walk is a few hundred rule checks),
 * so the walker itself stays a plain loop. The same unknown criterion on the same packet fields is answered once
 * per branch, so a branch never assumes both that `-o eth1` matches and that it does not.
 */
import type { Chain, Rule, Ruleset } from '@ruletrail/ruleset';
import { targetOption } from '@ruletrail/ruleset';
import {
  evaluateRule,
  inPrefix,
  parseAddress,
  parsePrefix,
  type CtState,
  type PacketView,
} from '../evaluate';
import type { AddressTyper } from '../evaluate';
import { baseChainsAt, type Hook } from '../hooks';
import { targetEffect } from '../join';
import { hex, markMatchOf, markSetByRule } from '../marks';
import type {
  DecidingStep,
  Effect,
  ExplainedStep,
  MarkSetter,
  NatRewrite,
  PacketSummary,
  RuleRef,
  SnapshotRef,
  Verdict,
} from '../types';
import type { SimPacket } from './packet-spec';

/** What the host is: its addresses decide local delivery and `-m addrtype`. */
export interface SimulateOptions {
  /**
   * The host's own addresses (`--local`, or the snapshot's host facts). Taken as complete: an address not listed
   * is not local. Loopback addresses are always local. Empty: routing is explored both ways.
   */
  readonly locals?: readonly string[];
  /** The host's address types (LOCAL, BROADCAST…), from its host facts: local delivery and `-m addrtype`. */
  readonly facts?: AddressTyper;
  /** Stop exploring after this many branches (default 64); the result is then flagged `truncated`. */
  readonly maxBranches?: number;
}

/** One simulated step: the explain step shape, without a trace origin. */
export type SimulatedStep = Omit<ExplainedStep, 'origin' | 'time'> & {
  /** The unknown criteria this branch assumed an answer for at this rule (`-m addrtype --dst-type LOCAL: yes`). */
  readonly assumed?: readonly string[];
};

/** An answer a branch assumed for a criterion the packet description cannot decide. */
export interface Assumption {
  readonly criterion: string;
  /** `yes`/`no` for a match; for a conntrack state or routing choice, the state or route assumed. */
  readonly answer: string;
  /** What the real answer depends on. */
  readonly dependsOn: string;
  /** The rule where it was met (absent for the routing decision and the NAT-chain question). */
  readonly at?: RuleRef;
}

/** Where the packet went after routing. */
export type Route = 'local' | 'forward' | 'output';

/** One complete walk. */
export interface SimulationBranch {
  readonly verdict: Verdict;
  readonly decidedBy?: DecidingStep;
  readonly markSetBy?: readonly MarkSetter[];
  readonly nat: readonly NatRewrite[];
  readonly route?: Route;
  readonly assumptions: readonly Assumption[];
  readonly cause: string;
  readonly steps: readonly SimulatedStep[];
}

/** The `simulate --format json` record: the explain shape, plus `route`, `unknowns` and `branches`. */
export interface Simulation {
  readonly packet: PacketSummary & { readonly mark?: string; readonly state?: string };
  readonly verdict: Verdict;
  readonly decidedBy?: SimulationBranch['decidedBy'];
  readonly markSetBy?: readonly MarkSetter[];
  readonly nat: readonly NatRewrite[];
  readonly route?: Route;
  readonly flags: readonly ('unknown_criteria' | 'truncated')[];
  readonly cause: string;
  readonly snapshot: SnapshotRef;
  /** The whole path when there is one branch; otherwise the steps every branch shares (up to the first fork). */
  readonly steps: readonly SimulatedStep[];
  /** Every criterion the walk could not decide, with what it depends on. */
  readonly unknowns: readonly Assumption[];
  /** Present when an unknown criterion split the walk. */
  readonly branches?: readonly SimulationBranch[];
}

/** Thrown inside a walk that needs one more decision than it was given. */
class Fork extends Error {
  constructor(readonly question: Assumption) {
    super(`simulate: needs a decision on ${question.criterion}`);
  }
}

type MutablePacket = { -readonly [K in keyof PacketView]: PacketView[K] };

interface Frame {
  readonly chain: Chain;
  idx: number;
  /** The jump rules that led here, outermost first. */
  readonly path: readonly RuleRef[];
}

type Outcome =
  | { readonly kind: 'accept' }
  | {
      readonly kind: 'final';
      readonly verdict: Verdict;
      readonly step?: SimulatedStep;
      readonly why?: string;
    };

const ALL_STATES: readonly CtState[] = ['NEW', 'ESTABLISHED', 'RELATED', 'INVALID'];
const LOOPBACK = [parsePrefix('127.0.0.0/8')!, parsePrefix('::1/128')!];
const MULTICAST = [parsePrefix('224.0.0.0/4')!, parsePrefix('ff00::/8')!];

function ref(rule: Rule): RuleRef {
  return { table: rule.table, chain: rule.chain, rulenum: rule.num, rule: rule.text };
}
function endpoint(ip: string | undefined, port: number | undefined): string {
  const a = ip === undefined ? '?' : ip.includes(':') && port !== undefined ? `[${ip}]` : ip;
  return port === undefined ? a : `${a}:${port}`;
}
function inAny(ip: string, prefixes: readonly ReturnType<typeof parsePrefix>[]): boolean {
  const w = parseAddress(ip);
  return !!w && prefixes.some((p) => p !== undefined && inPrefix(w, p) === true);
}

/** `10.0.0.1:80`, `[fd00::1]:80`, `:8080`, `10.0.0.1-10.0.0.9:80-90` → the first address and port. */
function natTarget(spec: string | undefined): { ip?: string; port?: number; exact: boolean } | undefined {
  if (spec === undefined || spec === '') return undefined;
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*(?:::?[^:[\]]*)*?))?(?::(\d+)(?:-(\d+))?)?$/.exec(spec);
  let ip: string | undefined;
  let port: number | undefined;
  let exact = true;
  if (spec.startsWith('[') || (spec.match(/:/g) ?? []).length <= 1) {
    if (!m) return undefined;
    ip = m[1] ?? (m[2] || undefined);
    if (m[3] !== undefined) port = Number(m[3]);
    if (m[4] !== undefined && m[4] !== m[3]) exact = false;
  } else ip = spec; // a bare IPv6 address
  if (ip !== undefined && ip.includes('-')) {
    const [a, b] = ip.split('-');
    ip = a;
    if (b !== a) exact = false;
  }
  if (ip !== undefined && !parseAddress(ip)) return undefined;
  return { ...(ip !== undefined ? { ip } : {}), ...(port !== undefined ? { port } : {}), exact };
}

/** nft verdict-map keys the walker can compute from the packet. */
function vmapKeyPart(expr: string, p: PacketView): string | undefined {
  switch (expr) {
    case 'ip daddr':
    case 'ip6 daddr':
      return p.dst;
    case 'ip saddr':
    case 'ip6 saddr':
      return p.src;
    case 'meta l4proto':
    case 'ip protocol':
    case 'ip6 nexthdr':
      return p.proto;
    case 'th dport':
    case 'tcp dport':
    case 'udp dport':
      return p.dport === undefined ? undefined : String(p.dport);
    case 'th sport':
    case 'tcp sport':
    case 'udp sport':
      return p.sport === undefined ? undefined : String(p.sport);
    case 'iifname':
      return p.in;
    case 'oifname':
      return p.out;
    default:
      return undefined;
  }
}
const VMAP_RE =
  /((?:(?:ip6?|meta|th|tcp|udp) \w+|iifname|oifname)(?: \. (?:(?:ip6?|meta|th|tcp|udp) \w+|iifname|oifname))*) vmap @([\w-]+)/;

class Walker {
  private readonly pkt: MutablePacket;
  private ct: readonly CtState[];
  private readonly steps: SimulatedStep[] = [];
  private readonly nat: NatRewrite[] = [];
  private readonly assumptions: Assumption[] = [];
  private readonly answers = new Map<string, 'yes' | 'no'>();
  private decisionIdx = 0;
  private forcedLocal = false;
  /** A packet the host sent to itself, back in through lo: its NAT was decided on the way out. */
  private natDone = false;
  private route: Route | undefined;
  private prevView: PacketView | undefined;
  private readonly stepPaths: (readonly RuleRef[])[] = [];
  private readonly stepRules: (Rule | undefined)[] = [];
  private readonly stepNat: boolean[] = [];
  /** Whether the base chain being walked is a NAT chain (its ACCEPTs only end the NAT table). */
  private inNat = false;

  constructor(
    private readonly rs: Ruleset,
    private readonly spec: SimPacket,
    private readonly opts: SimulateOptions,
    private readonly decisions: readonly boolean[],
    private readonly localOrigin: boolean,
  ) {
    this.pkt = {
      family: spec.family,
      proto: spec.proto,
      src: spec.src,
      dst: spec.dst,
      sport: spec.sport,
      dport: spec.dport,
      in: undefined,
      out: undefined,
      mark: spec.mark,
      tcpFlags: spec.tcpFlags,
      fragOffset: 0,
      icmpType: spec.icmpType,
      icmpCode: spec.icmpCode,
      len: spec.len,
      ttl: spec.ttl,
      tos: spec.tos,
      physin: undefined,
      physout: undefined,
      srcMac: undefined,
      ctState: undefined,
      ctStatus: undefined,
      orig: undefined,
    };
    this.typer = this.typerOf();
    this.ct = initialStates(spec);
    this.setStates(this.ct);
    this.pkt.orig = { src: spec.src, dst: spec.dst, sport: spec.sport, dport: spec.dport };
  }

  /** The next decision of this replay, or a fork asking for it; `otherwise` is the answer when it is false. */
  private decide(q: Assumption, otherwise: string): boolean {
    if (this.decisionIdx < this.decisions.length) {
      const d = this.decisions[this.decisionIdx++]!;
      this.assumptions.push({ ...q, answer: d ? q.answer : otherwise });
      return d;
    }
    throw new Fork(q);
  }

  private isLocal(ip: string): boolean {
    return isLocalAddress(ip, this.opts, this.spec.family);
  }

  /** `-m addrtype` from the host's addresses, when they were given. */
  private typerOf(): AddressTyper | undefined {
    return this.opts.locals?.length || this.opts.facts
      ? {
          addressType: (ip, family) => {
            if (this.isLocal(ip)) return 'LOCAL';
            const t = this.opts.facts?.addressType(ip, family);
            if (t !== undefined) return t;
            if (inAny(ip, MULTICAST)) return 'MULTICAST';
            if (ip === '255.255.255.255') return 'BROADCAST';
            return 'UNICAST';
          },
        }
      : undefined;
  }
  private readonly typer: AddressTyper | undefined;

  run(): SimulationBranch {
    const outcome = this.walk();
    return this.finish(outcome);
  }

  private walk(): Outcome {
    const given = this.spec;
    if (this.localOrigin) {
      this.route = 'output';
      this.pkt.in = '';
      this.pkt.out = given.out ?? (this.isLocal(given.dst) ? 'lo' : undefined);
      const out = this.hook('OUTPUT');
      if (out.kind === 'final') return out;
      // Rerouted after a DNAT in nat OUTPUT.
      const toSelf = given.out === undefined && this.pkt.dst !== undefined && this.isLocal(this.pkt.dst);
      if (given.out === undefined) this.pkt.out = toSelf ? 'lo' : undefined;
      const post = this.hook('POSTROUTING');
      if (post.kind === 'final' || !toSelf) return post;
      // To itself: back in through lo, PREROUTING → INPUT. The connection's NAT was set up on the way out, so
      // conntrack sends it through no NAT chain on the way in.
      this.natDone = true;
      this.pkt.in = 'lo';
      this.pkt.out = '';
      const pre = this.hook('PREROUTING');
      return pre.kind === 'final' ? pre : this.hook('INPUT');
    }
    this.pkt.in = given.in;
    this.pkt.out = '';
    const pre = this.hook('PREROUTING');
    if (pre.kind === 'final') return pre;
    const local = this.routeLocally();
    this.route = local ? 'local' : 'forward';
    if (local) {
      this.pkt.out = '';
      return this.hook('INPUT');
    }
    this.pkt.out = given.out;
    for (const hook of ['FORWARD', 'POSTROUTING'] as const) {
      const o = this.hook(hook);
      if (o.kind === 'final') return o;
    }
    return { kind: 'accept' };
  }

  /** The routing decision after PREROUTING (and its DNAT): local delivery or forwarding. */
  private routeLocally(): boolean {
    if (this.spec.out !== undefined) return false;
    if (this.forcedLocal) return true;
    const dst = this.pkt.dst;
    if (dst !== undefined && (this.opts.locals?.length || this.opts.facts || this.isLocal(dst)))
      return this.isLocal(dst);
    return this.decide(
      {
        criterion: 'routing',
        answer: 'local delivery',
        dependsOn:
          dst === undefined
            ? 'the rewritten destination, which the NAT target does not name'
            : `whether ${dst} is an address of this host (give --local or host facts)`,
      },
      'forward',
    );
  }

  private hook(hook: Hook): Outcome {
    for (const bc of baseChainsAt(this.rs, hook)) {
      if (bc.nat && !this.natApplies()) continue;
      const chain = this.rs.tables.get(bc.table)?.chains.get(bc.chain);
      if (!chain) continue;
      this.inNat = bc.nat;
      const o = this.chain(chain);
      if (o.kind === 'final') return o;
    }
    return { kind: 'accept' };
  }

  /** Whether the packet traverses NAT chains: only as a connection's first packet. */
  private natApplies(): boolean {
    if (this.natDone || !this.ct.includes('NEW')) return false;
    if (this.ct.length === 1) return true;
    const rest = this.ct.filter((s) => s !== 'NEW');
    const isNew = this.decide(
      {
        criterion: 'conntrack state',
        answer: 'NEW',
        dependsOn:
          'whether this is the first packet of a connection (NAT chains see only that one; give state)',
      },
      rest.join(' or '),
    );
    this.setStates(isNew ? ['NEW'] : rest);
    return isNew;
  }

  private setStates(s: readonly CtState[]): void {
    this.ct = s;
    this.pkt.ctState = s;
    // A connection's first packet carries no NAT status until a NAT rule on its way gives it one.
    if (s.length === 1 && s[0] === 'NEW') this.pkt.ctStatus ??= [];
  }

  /** The connection is NAT'ed now (`--ctstate DNAT` / `SNAT` match from here on). */
  private addStatus(x: 'SNAT' | 'DNAT'): void {
    const st = this.pkt.ctStatus ?? [];
    if (!st.includes(x)) this.pkt.ctStatus = [...st, x];
  }

  /** Walks one base chain and the user chains it reaches. */
  private chain(base: Chain): Outcome {
    const stack: Frame[] = [{ chain: base, idx: 0, path: [] }];
    for (;;) {
      const f = stack[stack.length - 1]!;
      const c = f.chain;
      if (f.idx >= c.rules.length) {
        const num = c.rules.length + 1;
        if (stack.length === 1) {
          const policy = c.policy ?? 'ACCEPT';
          const step = this.push(
            {
              table: c.table,
              chain: c.name,
              kind: 'policy',
              rulenum: num,
              resolution: 'policy',
              effect: policy === 'DROP' ? 'drop' : 'accept',
              target: policy,
            },
            f.path,
          );
          return policy === 'DROP' ? { kind: 'final', verdict: 'DROP', step } : { kind: 'accept' };
        }
        this.push(
          {
            table: c.table,
            chain: c.name,
            kind: 'return',
            rulenum: num,
            resolution: 'implicit-return',
            effect: 'return',
          },
          f.path,
        );
        stack.pop();
        continue;
      }
      const rule = c.rules[f.idx++]!;
      const assumed: string[] = [];
      if (!this.matches(rule, assumed)) continue;
      let effect: Effect = targetEffect(rule, this.rs);
      let target = rule.target;
      let jumpTo: string | undefined;
      if (rule.target === 'VMAP') {
        const v = this.vmapVerdict(rule, assumed);
        if (v === undefined) continue; // no element: the rule does not apply
        const [verb, arg] = v.split(' ');
        target = v;
        effect =
          verb === 'jump' || verb === 'goto'
            ? verb
            : verb === 'accept'
              ? 'accept'
              : verb === 'drop'
                ? 'drop'
                : verb === 'return'
                  ? 'return'
                  : verb === 'continue'
                    ? 'continue'
                    : verb === 'queue'
                      ? 'queue'
                      : 'unknown';
        jumpTo = arg;
      } else if (effect === 'jump' || effect === 'goto') jumpTo = rule.target;
      const kind = rule.tracedAsTail ? (stack.length === 1 && c.builtin ? 'policy' : 'return') : 'rule';
      const step = this.push(
        {
          table: rule.table,
          chain: rule.chain,
          kind,
          rulenum: rule.num,
          resolution: rule.tracedAsTail ? 'unconditional-rule' : 'rule',
          effect,
          rule: rule.text,
          ...(target !== undefined ? { target } : {}),
          ...(assumed.length ? { assumed } : {}),
        },
        f.path,
        rule,
      );
      switch (effect) {
        case 'continue':
          this.applyContinue(rule);
          continue;
        case 'jump':
        case 'goto': {
          const next = jumpTo === undefined ? undefined : this.rs.tables.get(rule.table)?.chains.get(jumpTo);
          if (!next)
            return {
              kind: 'final',
              verdict: 'UNKNOWN',
              why: `chain ${jumpTo ?? '?'} is not in the snapshot`,
            };
          const path = [...f.path, ref(rule)];
          if (effect === 'goto' && stack.length > 1) stack.pop();
          stack.push({ chain: next, idx: 0, path });
          continue;
        }
        case 'return':
          if (stack.length === 1) {
            // RETURN in a base chain: the chain's policy decides.
            f.idx = c.rules.length;
            continue;
          }
          stack.pop();
          continue;
        case 'accept':
          return { kind: 'accept' };
        case 'drop':
          return { kind: 'final', verdict: 'DROP', step };
        case 'reject':
          return { kind: 'final', verdict: 'REJECT', step };
        case 'queue':
          return { kind: 'final', verdict: 'QUEUE', step };
        case 'nat':
          this.applyNat(rule);
          return { kind: 'accept' };
        default:
          return {
            kind: 'final',
            verdict: 'UNKNOWN',
            why: `${rule.table} ${rule.chain} rule ${rule.num}: what target ${target ?? '?'} does is not known`,
          };
      }
    }
  }

  /** Evaluates a rule, deciding each unknown criterion (or splitting the conntrack states) on the way. */
  private matches(rule: Rule, assumed: string[]): boolean {
    for (;;) {
      const view: PacketView = { ...this.pkt };
      const ev = evaluateRule(rule, view, {
        facts: this.typer,
        assume: (c) => this.answers.get(this.key(c.criterion)),
      });
      if (ev.result !== 'unknown') return ev.result === 'yes';
      const b = ev.because!;
      const at = ref(rule);
      if (b.kind === '--ctstate' && this.ct.length > 1) {
        const want = ctWanted(rule);
        const hit = this.ct.filter((s) => want.includes(s));
        const miss = this.ct.filter((s) => !want.includes(s));
        if (hit.length && miss.length) {
          const yes = this.decide(
            {
              criterion: b.criterion,
              answer: hit.join(' or '),
              dependsOn: 'the conntrack state (give state)',
              at,
            },
            miss.join(' or '),
          );
          this.setStates(yes ? hit : miss);
          assumed.push(`state ${(yes ? hit : miss).join(' or ')}`);
          continue;
        }
      }
      const dependsOn = b.detail.replace(/^depends on /, '');
      const yes = this.decide({ criterion: b.criterion, answer: 'yes', dependsOn, at }, 'no');
      this.answers.set(this.key(b.criterion), yes ? 'yes' : 'no');
      assumed.push(`${b.criterion}: ${yes ? 'yes' : 'no'}`);
    }
  }

  /** An unknown criterion's answer holds for the rest of the branch while the fields it may read stay the same. */
  private key(criterion: string): string {
    const p = this.pkt;
    return `${criterion}|${p.src}|${p.dst}|${p.in}|${p.out}|${p.sport}|${p.dport}`;
  }

  /** An nft verdict map decides when its key can be computed and looked up among exact elements. */
  private vmapVerdict(rule: Rule, assumed: string[]): string | undefined {
    const m = VMAP_RE.exec(rule.text);
    const elems = m ? this.rs.tables.get(rule.table)?.verdictMaps?.get(m[2]!) : undefined;
    const parts = m ? m[1]!.split(' . ').map((e) => vmapKeyPart(e, this.pkt)) : [];
    if (m && elems && parts.every((x) => x !== undefined)) {
      const hit = elems.find((e) => e.key.length === parts.length && e.key.every((k, i) => k === parts[i]));
      if (hit) return hit.verdict;
      if (!this.rs.tables.get(rule.table)?.intervalVerdictMaps?.has(m[2]!)) return undefined;
    }
    const criterion = m ? `${m[1]} vmap @${m[2]}` : 'vmap';
    const verdict = this.decide(
      {
        criterion,
        answer: 'no element',
        dependsOn: m
          ? `which element of @${m[2]} the packet's key hits (interval elements are not in the snapshot model)`
          : 'a verdict map whose key ruletrail cannot compute',
        at: ref(rule),
      },
      'an element (verdict unknown)',
    );
    assumed.push(`${criterion}: ${verdict ? 'no element' : 'an element (unknown verdict)'}`);
    return verdict ? undefined : 'unknown';
  }

  /** MARK and CONNMARK targets change the mark; everything else that continues leaves the packet as it is. */
  private applyContinue(rule: Rule): void {
    const set = markSetByRule(rule);
    if (!set) return;
    if (rule.target === 'CONNMARK') {
      this.pkt.mark = undefined; // restored from the connection mark, which no description carries
      return;
    }
    if (this.pkt.mark !== undefined) this.pkt.mark = ((this.pkt.mark & ~set.mask) ^ set.value) >>> 0;
  }

  private applyNat(rule: Rule): void {
    const p = this.pkt;
    const t = rule.target!;
    const from = (dst: boolean) => (dst ? endpoint(p.dst, p.dport) : endpoint(p.src, p.sport));
    const by = ref(rule);
    if (t === 'DNAT' || t === 'REDIRECT') {
      this.addStatus('DNAT');
      const before = from(true);
      if (t === 'REDIRECT') {
        const port = targetOption(rule, 'to-ports')?.values[0];
        this.forcedLocal = true;
        if (port !== undefined && /^\d+/.test(port)) p.dport = Number(/^\d+/.exec(port)![0]);
        const local = (this.opts.locals ?? []).find((l) => l.includes(':') === (p.family === 'ipv6'));
        p.dst = this.route === 'output' ? (p.family === 'ipv6' ? '::1' : '127.0.0.1') : local;
        this.nat.push({
          kind: t,
          from: before,
          to: endpoint(p.dst ?? '(address of the input interface)', p.dport),
          by,
        });
        return;
      }
      const to = natTarget(targetOption(rule, 'to-destination')?.values[0]);
      if (to?.ip !== undefined || to?.port !== undefined) {
        if (to.ip !== undefined) p.dst = to.ip;
        if (to.port !== undefined) p.dport = to.port;
      } else p.dst = undefined;
      this.nat.push({ kind: t, from: before, to: endpoint(p.dst, p.dport), by });
      return;
    }
    if (t === 'SNAT' || t === 'MASQUERADE') {
      this.addStatus('SNAT');
      const before = from(false);
      if (t === 'SNAT') {
        const to = natTarget(targetOption(rule, 'to-source')?.values[0]);
        if (to?.ip !== undefined) p.src = to.ip;
        else if (to?.port === undefined) p.src = undefined;
        if (to?.port !== undefined) p.sport = to.port;
        this.nat.push({ kind: t, from: before, to: endpoint(p.src, p.sport), by });
      } else {
        p.src = undefined;
        this.nat.push({ kind: t, from: before, to: `(address of ${p.out || 'the output interface'})`, by });
      }
      return;
    }
    this.nat.push({ kind: t, from: from(true), to: '?', by });
  }

  private push(
    s: Omit<SimulatedStep, 'mark' | 'changed'>,
    path: readonly RuleRef[],
    rule?: Rule,
  ): SimulatedStep {
    const p = this.pkt;
    const changed: Record<string, string | number> = {};
    const prev = this.prevView;
    if (prev) {
      for (const k of ['src', 'dst', 'sport', 'dport', 'in', 'out'] as const)
        if (prev[k] !== p[k] && p[k] !== undefined) changed[k] = p[k];
      if (prev.mark !== p.mark && p.mark !== undefined) changed['mark'] = hex(p.mark);
    }
    this.prevView = { ...p };
    const step: SimulatedStep = {
      ...s,
      ...(p.mark ? { mark: hex(p.mark) } : {}),
      ...(Object.keys(changed).length ? { changed } : {}),
    };
    this.steps.push(step);
    this.stepPaths.push(path);
    this.stepRules.push(rule);
    this.stepNat.push(this.inNat);
    return step;
  }

  private finish(o: Outcome): SimulationBranch {
    let verdict: Verdict;
    let decided: SimulatedStep | undefined;
    let why = '';
    if (o.kind === 'final') {
      verdict = o.verdict;
      decided = o.step;
      why = o.why ?? '';
    } else {
      verdict = 'ACCEPT';
      // The filtering decision: the last accepting step outside the NAT chains (a NAT rule accepts only for its table).
      // iptables: the filter table's, when it had a say (raw, mangle and security accept by default).
      for (let i = this.steps.length - 1; i >= 0 && !decided; i--)
        if (this.steps[i]!.effect === 'accept' && this.steps[i]!.table === 'filter') decided = this.steps[i];
      for (let i = this.steps.length - 1; i >= 0 && !decided; i--)
        if (this.steps[i]!.effect === 'accept' && !this.stepNat[i]) decided = this.steps[i];
      decided ??= this.steps[this.steps.length - 1];
    }
    const idx = decided ? this.steps.indexOf(decided) : -1;
    const decidedBy =
      decided && verdict !== 'UNKNOWN'
        ? {
            table: decided.table,
            chain: decided.chain,
            rulenum: decided.rulenum,
            ...(decided.rule !== undefined ? { rule: decided.rule } : {}),
            kind: decided.kind,
            ...(decided.target !== undefined ? { target: decided.target } : {}),
            path: this.stepPaths[idx] ?? [],
          }
        : undefined;
    const markSetBy = decided ? this.markSetters(idx) : [];
    const cause = describe(verdict, decidedBy, this.nat, this.route, markSetBy, why);
    return {
      verdict,
      ...(decidedBy ? { decidedBy } : {}),
      ...(markSetBy.length ? { markSetBy } : {}),
      nat: this.nat,
      ...(this.route ? { route: this.route } : {}),
      assumptions: this.assumptions,
      cause,
      steps: this.steps,
    };
  }

  /** When the deciding rule matched on the mark: the MARK rules on the way that set those bits. */
  private markSetters(idx: number): MarkSetter[] {
    const rule = this.stepRules[idx];
    const m = rule ? markMatchOf(rule) : undefined;
    if (!m || m.negated || (m.value & m.mask) === 0) return [];
    const out: MarkSetter[] = [];
    for (let i = 0; i < idx; i++) {
      const r = this.stepRules[i];
      const set = r ? markSetByRule(r) : undefined;
      if (!r || !set || (set.value & set.mask & m.mask & m.value) === 0) continue;
      out.push({ ...ref(r), mark: `${hex(set.value)}/${hex(set.mask)}`, path: this.stepPaths[i] ?? [] });
    }
    return out;
  }
}

/** Loopback, a `--local` address, or LOCAL in the host facts. */
function isLocalAddress(ip: string, opts: SimulateOptions, family: 'ipv4' | 'ipv6'): boolean {
  return (
    inAny(ip, LOOPBACK) ||
    (opts.locals ?? []).some((l) => sameAddress(l, ip)) ||
    opts.facts?.addressType(ip, family) === 'LOCAL'
  );
}

function sameAddress(a: string, b: string): boolean {
  if (a === b) return true;
  const x = parseAddress(a);
  const y = parseAddress(b);
  return !!x && !!y && x.length === y.length && x.every((w, i) => w === y[i]);
}

/** The conntrack states a described packet can be in. */
function initialStates(p: SimPacket): readonly CtState[] {
  if (p.state !== undefined) return [p.state];
  if (p.proto === 'tcp' && p.tcpFlags) {
    // Only a SYN without ACK opens a connection; anything else belongs to one (or is INVALID).
    const opens = p.tcpFlags.includes('SYN') && !p.tcpFlags.includes('ACK');
    return opens ? ['NEW'] : ['ESTABLISHED', 'RELATED', 'INVALID'];
  }
  return ALL_STATES;
}

/** The states a rule's `--ctstate` / `--state` asks for (as matching: negation folded in). */
function ctWanted(rule: Rule): readonly CtState[] {
  for (const m of rule.matches)
    for (const o of m.options)
      if (
        (m.module === 'conntrack' && o.name === 'ctstate') ||
        (m.module === 'state' && o.name === 'state')
      ) {
        const listed = (o.values[0] ?? '').toUpperCase().split(',') as CtState[];
        return o.negated ? ALL_STATES.filter((s) => !listed.includes(s)) : listed;
      }
  return [];
}

function where(d: RuleRef & { kind: string; target?: string }): string {
  return d.rule === undefined
    ? `the ${d.table} ${d.chain} policy ${d.target ?? ''}`.trimEnd()
    : `${d.table} ${d.chain} rule ${d.rulenum}`;
}

function describe(
  verdict: Verdict,
  d: SimulationBranch['decidedBy'],
  nat: readonly NatRewrite[],
  route: Route | undefined,
  marks: readonly MarkSetter[],
  why: string,
): string {
  if (verdict === 'UNKNOWN') return why || 'the path cannot be predicted';
  const verb = { ACCEPT: 'accepted', DROP: 'dropped', REJECT: 'rejected', QUEUE: 'queued' }[verdict];
  const parts = [`${verb} by ${d ? where(d) : '?'}`];
  if (marks.length)
    parts[0] += ` (mark set by ${marks.map((m) => `${m.table} ${m.chain} rule ${m.rulenum}`).join(', ')})`;
  for (const n of nat)
    parts.push(
      `${n.kind === 'SNAT' || n.kind === 'MASQUERADE' ? 'source' : 'destination'} ${n.from} rewritten to ${n.to} by ${n.by ? `${n.by.table} ${n.by.chain} rule ${n.by.rulenum}` : n.kind}`,
    );
  if (verdict === 'ACCEPT' && route)
    parts.push(route === 'local' ? 'delivered locally' : route === 'forward' ? 'forwarded' : 'sent');
  return parts.join('; ');
}

function samePath(a: SimulationBranch, b: SimulationBranch): boolean {
  return (
    a.verdict === b.verdict &&
    a.decidedBy?.table === b.decidedBy?.table &&
    a.decidedBy?.chain === b.decidedBy?.chain &&
    a.decidedBy?.rulenum === b.decidedBy?.rulenum
  );
}

/** Simulates one packet against one snapshot. Never throws for a packet that parsed. */
export function simulate(rs: Ruleset, spec: SimPacket, opts: SimulateOptions = {}): Simulation {
  const max = opts.maxBranches ?? 64;
  const localOrigin = spec.in === undefined && isLocalAddress(spec.src, opts, spec.family);
  const queue: boolean[][] = [[]];
  const branches: SimulationBranch[] = [];
  const unknowns = new Map<string, Assumption>();
  let truncated = false;
  while (queue.length) {
    if (branches.length >= max) {
      truncated = true;
      break;
    }
    const d = queue.pop()!;
    try {
      branches.push(new Walker(rs, spec, opts, d, localOrigin).run());
    } catch (e) {
      if (!(e instanceof Fork)) throw e;
      const q = e.question;
      unknowns.set(`${q.criterion}|${q.at?.table}|${q.at?.chain}|${q.at?.rulenum}`, q);
      // Depth first, the "yes" answer first: branch 1 is the one where every unknown criterion matched.
      queue.push([...d, false], [...d, true]);
    }
  }
  const first = branches[0]!;
  const agree = !truncated && branches.every((b) => samePath(b, first));
  const one = branches.length === 1 && !truncated;
  const verdict: Verdict = agree ? first.verdict : 'UNKNOWN';
  const flags: ('unknown_criteria' | 'truncated')[] = [];
  if (branches.length > 1 || truncated) flags.push('unknown_criteria');
  if (truncated) flags.push('truncated');
  let cause: string;
  if (one) cause = first.cause;
  else if (agree)
    cause = `${first.cause} (the same on all ${branches.length} branches of: ${[...unknowns.values()].map((u) => u.criterion).join(', ')})`;
  else
    cause = `depends on ${[...unknowns.values()].map((u) => `${u.criterion} (${u.dependsOn})`).join('; ')}: ${branches
      .map((b) => b.verdict)
      .filter((v, i, a) => a.indexOf(v) === i)
      .join(' or ')}${truncated ? `, and more branches than the ${max} explored` : ''}`;
  const steps = one ? first.steps : commonPrefix(branches.map((b) => b.steps));
  const nats = branches.map((b) => JSON.stringify(b.nat));
  const routes = new Set(branches.map((b) => b.route));
  const packet = {
    family: spec.family,
    channel: 'simulate',
    proto: spec.proto,
    src: spec.src,
    dst: spec.dst,
    ...(spec.sport !== undefined ? { sport: spec.sport } : {}),
    ...(spec.dport !== undefined ? { dport: spec.dport } : {}),
    ...(spec.tcpFlags ? { tcpFlags: spec.tcpFlags } : {}),
    ...(spec.icmpType !== undefined ? { icmpType: spec.icmpType } : {}),
    ...(spec.icmpCode !== undefined ? { icmpCode: spec.icmpCode } : {}),
    ...(spec.len !== undefined ? { len: spec.len } : {}),
    ...(spec.in !== undefined ? { in: spec.in } : {}),
    ...(spec.out !== undefined ? { out: spec.out } : {}),
    ...(spec.mark ? { mark: hex(spec.mark) } : {}),
    ...(spec.state !== undefined ? { state: spec.state } : {}),
  };
  return {
    packet,
    verdict,
    ...(agree && first.decidedBy ? { decidedBy: first.decidedBy } : {}),
    ...(agree && first.markSetBy ? { markSetBy: first.markSetBy } : {}),
    nat: nats.every((n) => n === nats[0]) ? first.nat : [],
    ...(routes.size === 1 && first.route ? { route: first.route } : {}),
    flags,
    cause,
    snapshot: {
      source: rs.source,
      hash: rs.hash,
      ...(rs.generatedAt !== undefined ? { generatedAt: rs.generatedAt } : {}),
      family: rs.family ?? spec.family,
    },
    steps,
    unknowns: [...unknowns.values()],
    ...(one ? {} : { branches }),
  };
}

function commonPrefix(lists: readonly (readonly SimulatedStep[])[]): SimulatedStep[] {
  const out: SimulatedStep[] = [];
  const [a, ...rest] = lists;
  if (!a) return out;
  for (let i = 0; i < a.length; i++) {
    const s = a[i]!;
    const key = `${s.table}:${s.chain}:${s.kind}:${s.rulenum}:${s.assumed?.join() ?? ''}`;
    if (
      rest.some(
        (l) =>
          !l[i] ||
          `${l[i]!.table}:${l[i]!.chain}:${l[i]!.kind}:${l[i]!.rulenum}:${l[i]!.assumed?.join() ?? ''}` !==
            key,
      )
    )
      break;
    out.push(s);
  }
  return out;
}
