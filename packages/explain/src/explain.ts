/**
 * Explaining one packet: its trace steps joined with its snapshot and checked rule by rule (walk.ts), the
 * verdict decided from the walk (verdict.ts), the mark provenance and NAT rewrites (deltas.ts), the Kubernetes
 * attribution (attribution.ts) and the one-sentence cause (cause.ts).
 */
import type { NetfilterEvent } from '@ruletrail/event';
import { attributeKubernetes } from './attribution';
import { describeCause } from './cause';
import { refOf } from './deltas';
import type { AddressTyper } from './evaluate/packet';
import { markMatchOf, hex } from './marks';
import type { SnapshotPick } from './snapshots';
import type { Explanation, ExplainedStep, Flag, MarkSetter, PacketSummary, RuleRef } from './types';
import { decideVerdict } from './verdict';
import { walk, type PathNode, type WalkResult } from './walk';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Options for {@link explainPacket}. */
export interface ExplainOptions {
  /**
   * The host's addresses (from the snapshot's host facts), so that `-m addrtype` can be checked. Without them
   * an addrtype criterion is `unknown`.
   */
  readonly facts?: AddressTyper | undefined;
}

/**
 * Explains one packet. `events` are the packet's TRACE events in order. A packet without a time
 * (xtables-monitor prints none) and several snapshots to choose from is explained with the newest snapshot
 * that fits every step, flagged `snapshot_by_fit`; when none fits, with the newest, flagged as a mismatch.
 */
export function explainPacket(
  events: readonly NetfilterEvent[],
  pick: SnapshotPick,
  extraFlags: readonly Flag[] = [],
  options: ExplainOptions = {},
): Explanation {
  if (!pick.candidates || pick.candidates.length < 2) return explainWith(events, pick, extraFlags, options);
  let first: Explanation | undefined;
  for (const ruleset of pick.candidates) {
    const x = explainWith(events, { ruleset, flags: pick.flags }, extraFlags, options);
    if (!x.flags.includes('snapshot_mismatch'))
      return { ...x, flags: [...x.flags, 'snapshot_by_fit' as const].sort() };
    first ??= x;
  }
  return first!;
}

function explainWith(
  events: readonly NetfilterEvent[],
  pick: SnapshotPick,
  extraFlags: readonly Flag[],
  options: ExplainOptions,
): Explanation {
  const w = walk(events, pick, extraFlags, { facts: options.facts });
  const { steps, joins, paths, flags } = w;
  const rs = w.ruleset;
  const v = decideVerdict(w);
  for (const f of v.flags) flags.add(f);
  let verdict = v.verdict;
  let decided = v.decided;

  const kube = attributeKubernetes(w, decided);
  for (const f of kube.flags) flags.add(f);

  const decidedRule = decided !== undefined ? joins[decided]!.rule : undefined;
  let markSetBy = decided !== undefined ? markSetters(w, decided) : undefined;

  if (flags.has('snapshot_mismatch') || flags.has('no_snapshot')) {
    // Without a fitting snapshot the walk cannot tell a silent drop from a step it could not place.
    flags.delete('silent_drop');
    verdict = 'UNKNOWN';
    decided = undefined;
    markSetBy = undefined;
  }
  const packet = summarize(events[0]!, w.inferredProto);
  const decidedBy =
    decided !== undefined
      ? {
          ...refOf(
            steps[decided]!.table,
            steps[decided]!.chain,
            steps[decided]!.rulenum,
            joins[decided]!.rule,
          ),
          kind: steps[decided]!.kind,
          ...(joins[decided]!.target ? { target: joins[decided]!.target } : {}),
          path: pathRefs(paths[decided], steps, w),
        }
      : undefined;
  const explanation: Explanation = {
    packet,
    verdict,
    ...(decidedBy ? { decidedBy } : {}),
    ...(markSetBy ? { markSetBy } : {}),
    nat: w.deltas.nat,
    ...(kube.attribution ? { kubernetes: kube.attribution } : {}),
    flags: [...flags].sort(),
    cause: '',
    ...(rs
      ? {
          snapshot: {
            source: rs.source,
            hash: rs.hash,
            ...(rs.generatedAt ? { generatedAt: rs.generatedAt } : {}),
            family: rs.family ?? packet.family,
          },
        }
      : {}),
    steps,
  };
  return {
    ...explanation,
    cause: describeCause(explanation, {
      joins,
      hooks: w.hooks,
      firstProblem: w.firstProblem,
      ...(rs ? { rs } : {}),
      ...(decidedRule ? { markRule: decidedRule } : {}),
      kube: kube.ref,
      way: v.way,
    }),
  };
}

/** When the deciding rule matched on the mark: the steps that set those bits before it. */
function markSetters(w: WalkResult, decided: number): MarkSetter[] | undefined {
  const rule = w.joins[decided]!.rule;
  const mm = rule ? markMatchOf(rule) : undefined;
  if (!mm) return undefined;
  const out: MarkSetter[] = [];
  for (const [idx, mc] of [...w.deltas.markChanges].sort((a, b) => a[0] - b[0])) {
    if (idx >= decided) continue;
    const bits = (mc.spec?.mask ?? 0) | ((mc.from ?? 0) ^ (mc.to ?? 0));
    if ((bits & mm.mask) === 0) continue;
    const s = w.steps[idx]!;
    out.push({
      ...refOf(s.table, s.chain, s.rulenum, w.joins[idx]!.rule),
      mark: mc.spec
        ? `${hex(mc.spec.value)}/${hex(mc.spec.mask)}`
        : `${hex(mc.from ?? 0)} -> ${hex(mc.to ?? 0)}`,
      path: pathRefs(w.paths[idx], w.steps, w),
    });
  }
  return out;
}

/** A path as the public RuleRef list, outermost first. */
function pathRefs(node: PathNode | undefined, steps: readonly ExplainedStep[], w: WalkResult): RuleRef[] {
  const out: RuleRef[] = [];
  for (let n = node; n; n = n.parent) {
    const s = steps[n.idx]!;
    out.unshift(refOf(s.table, s.chain, s.rulenum, w.joins[n.idx]!.rule));
  }
  return out;
}

function summarize(e: NetfilterEvent, inferredProto: string | undefined): PacketSummary {
  const nf = e.netfilter;
  const p: Mutable<PacketSummary> = { family: e.network.type, channel: e.ruletrail.channel };
  if (e.host?.name) p.host = e.host.name;
  if (e.network.transport) p.proto = e.network.transport;
  else if (inferredProto !== undefined) {
    p.proto = inferredProto;
    p.protoFrom = 'rules';
  }
  if (e.source?.ip !== undefined) p.src = e.source.ip;
  if (e.destination?.ip !== undefined) p.dst = e.destination.ip;
  if (e.source?.port !== undefined) p.sport = e.source.port;
  if (e.destination?.port !== undefined) p.dport = e.destination.port;
  if (nf.ip?.id !== undefined) p.ipId = nf.ip.id;
  if (nf.ip?.len !== undefined) p.len = nf.ip.len;
  if (nf.tcp?.seq !== undefined) p.tcpSeq = nf.tcp.seq;
  if (nf.tcp?.flags) p.tcpFlags = nf.tcp.flags;
  if (nf.tcp?.options !== undefined) p.tcpOptions = nf.tcp.options;
  if (nf.icmp?.type !== undefined) p.icmpType = nf.icmp.type;
  if (nf.icmp?.code !== undefined) p.icmpCode = nf.icmp.code;
  if (e.observer?.ingress?.interface?.name) p.in = e.observer.ingress.interface.name;
  if (e.observer?.egress?.interface?.name) p.out = e.observer.egress.interface.name;
  if (e['@timestamp']) p.firstSeen = e['@timestamp'];
  return p;
}
