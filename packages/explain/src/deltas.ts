/**
 * Packet deltas: what changed in the packet between two trace steps — addresses and ports (NAT, or an existing
 * connection's NAT applied by conntrack), the mark, the interfaces — and which step did it. Each trace line
 * prints the packet as it stands, so a change is seen at the step AFTER the rule that made it.
 */
import type { NetfilterEvent } from '@ruletrail/event';
import { targetOption, type Rule } from '@ruletrail/ruleset';
import type { JoinedStep } from './join';
import { hex, markSetByRule, type MarkSpec } from './marks';
import type { ExplainedStep, NatRewrite, RuleRef } from './types';

interface Tuple {
  src?: string | undefined;
  dst?: string | undefined;
  sport?: number | undefined;
  dport?: number | undefined;
}

/** A mark change credited to one step: the bits its rule sets, and/or the change observed after it. */
export interface MarkChange {
  readonly idx: number;
  spec?: MarkSpec;
  from?: number;
  to?: number;
}

/** Tracks one packet's fields across its steps (one instance per packet walk). */
export class PacketDeltas {
  readonly markChanges = new Map<number, MarkChange>();
  readonly nat: NatRewrite[] = [];
  // The previous step's fields, kept as scalars: this runs once per trace step, so nothing is allocated for a
  // step that changed nothing.
  private _src: string | undefined;
  private _dst: string | undefined;
  private _sport: number | undefined;
  private _dport: number | undefined;
  private _prevMark = 0;
  private _prevIn: string | undefined;
  private _prevOut: string | undefined;
  private _prevJoin: JoinedStep | undefined;
  private _prevTable = '';
  private _prevChain = '';
  private _prevRulenum = 0;

  /** Records step `i`; returns the fields that differ from the previous step, or undefined. */
  observe(
    i: number,
    e: NetfilterEvent,
    j: JoinedStep,
    table: string,
    chain: string,
    rulenum: number,
  ): Record<string, string | number> | undefined {
    const src = e.source?.ip;
    const dst = e.destination?.ip;
    const sport = e.source?.port;
    const dport = e.destination?.port;
    const mark = e.netfilter.mark ?? 0;
    const inIf = e.observer?.ingress?.interface?.name;
    const outIf = e.observer?.egress?.interface?.name;
    let changed: Record<string, string | number> | undefined;
    if (i > 0) {
      const tupleChanged =
        (src !== undefined && src !== this._src) ||
        (dst !== undefined && dst !== this._dst) ||
        (sport !== undefined && sport !== this._sport) ||
        (dport !== undefined && dport !== this._dport);
      if (
        tupleChanged ||
        mark !== this._prevMark ||
        (inIf !== undefined && inIf !== this._prevIn) ||
        (outIf !== undefined && outIf !== this._prevOut)
      ) {
        changed = {};
        if (src !== undefined && src !== this._src) changed.src = src;
        if (dst !== undefined && dst !== this._dst) changed.dst = dst;
        if (sport !== undefined && sport !== this._sport) changed.sport = sport;
        if (dport !== undefined && dport !== this._dport) changed.dport = dport;
        if (mark !== this._prevMark) {
          changed.mark = hex(mark);
          this._creditMark(i, this._prevMark, mark);
        }
        if (inIf !== undefined && inIf !== this._prevIn) changed.in = inIf;
        if (outIf !== undefined && outIf !== this._prevOut) changed.out = outIf;
      }
      if (tupleChanged) {
        const prev: Tuple = { src: this._src, dst: this._dst, sport: this._sport, dport: this._dport };
        const after: Tuple = { src, dst, sport, dport };
        const pj = this._prevJoin!;
        this.nat.push(
          pj.effect === 'nat'
            ? {
                kind: pj.rule!.target!,
                from: side(prev, pj.rule!.target!),
                to: side(after, pj.rule!.target!),
                by: refOf(this._prevTable, this._prevChain, this._prevRulenum, pj.rule),
              }
            : { kind: 'CONNTRACK', from: endpoints(prev), to: endpoints(after) },
        );
      }
    }
    if (j.rule) {
      const spec = markSetByRule(j.rule);
      if (spec) {
        const mc = this.markChanges.get(i) ?? { idx: i };
        mc.spec = spec;
        this.markChanges.set(i, mc);
      }
    }
    this._src = src;
    this._dst = dst;
    this._sport = sport;
    this._dport = dport;
    this._prevMark = mark;
    this._prevIn = inIf;
    this._prevOut = outIf;
    this._prevJoin = j;
    this._prevTable = table;
    this._prevChain = chain;
    this._prevRulenum = rulenum;
    return changed;
  }

  /**
   * Channels that print the packet once per base chain (xtables-monitor, nft) show a new mark only at the next
   * chain: credit the change to the step that set those bits since the last observed change.
   */
  private _creditMark(i: number, from: number, to: number): void {
    const bits = (from ^ to) >>> 0;
    let at = i - 1;
    for (let k = i - 1; k >= 0; k--) {
      const m = this.markChanges.get(k);
      if (m?.from !== undefined) break;
      if (m?.spec && (m.spec.mask & bits) !== 0) {
        at = k;
        break;
      }
    }
    const mc = this.markChanges.get(at) ?? { idx: at };
    mc.from = from;
    mc.to = to;
    this.markChanges.set(at, mc);
  }

  /** A NAT step with no later step to show the result: take the rewrite from the rule itself. */
  finish(
    events: readonly NetfilterEvent[],
    joins: readonly JoinedStep[],
    steps: readonly ExplainedStep[],
  ): void {
    for (let i = 0; i < joins.length; i++) {
      const j = joins[i]!;
      if (j.effect !== 'nat' || this.nat.some((n) => n.by && sameRef(n.by, steps[i]!))) continue;
      const e = events[i]!;
      const t: Tuple = {
        src: e.source?.ip,
        dst: e.destination?.ip,
        sport: e.source?.port,
        dport: e.destination?.port,
      };
      this.nat.push({
        kind: j.rule!.target!,
        from: side(t, j.rule!.target!),
        to: natTargetOf(j.rule!, e),
        by: refOf(steps[i]!.table, steps[i]!.chain, steps[i]!.rulenum, j.rule),
      });
    }
  }
}

export function refOf(table: string, chain: string, rulenum: number, rule?: Rule): RuleRef {
  return { table, chain, rulenum, ...(rule ? { rule: rule.text } : {}) };
}

export function sameRef(a: RuleRef, b: { table: string; chain: string; rulenum: number }): boolean {
  return a.table === b.table && a.chain === b.chain && a.rulenum === b.rulenum;
}

function hostPort(ip: string | undefined, port: number | undefined): string {
  const a = ip === undefined ? '?' : ip.includes(':') ? `[${ip}]` : ip;
  return port === undefined ? (ip ?? '?') : `${a}:${port}`;
}

function endpoints(t: Tuple): string {
  return `${hostPort(t.src, t.sport)} -> ${hostPort(t.dst, t.dport)}`;
}

/** The side of the tuple a NAT target rewrites. */
function side(t: Tuple, target: string): string {
  if (target === 'SNAT' || target === 'MASQUERADE') return hostPort(t.src, t.sport);
  if (target === 'NETMAP') return endpoints(t);
  return hostPort(t.dst, t.dport);
}

/** What a NAT rule rewrites to, from its options, for a NAT step that is the last step we saw. */
function natTargetOf(rule: Rule, e: NetfilterEvent): string {
  const opt = (n: string): string | undefined => targetOption(rule, n)?.values[0];
  switch (rule.target) {
    case 'DNAT':
      return opt('to-destination') ?? '?';
    case 'SNAT':
      return opt('to-source') ?? '?';
    case 'REDIRECT':
      return `(local address of ${e.observer?.ingress?.interface?.name || 'the input interface'}):${opt('to-ports') ?? e.destination?.port ?? '?'}`;
    case 'MASQUERADE': {
      const ports = opt('to-ports');
      return `(address of ${e.observer?.egress?.interface?.name || 'the output interface'})${ports ? `:${ports}` : ''}`;
    }
    default:
      return opt('to') ?? '?';
  }
}
