/**
 * Correlation: grouping trace lines into packets.
 *
 * Kernel-log TRACE lines carry no trace id, so each line gets an *invariant key* built from what NAT does not
 * rewrite: host, family, protocol, IP ID, IP length, IPv6 flow label, TCP SEQ/ACK/flags/options, UDP length,
 * ICMP type/code/sequence. Lines with the same key belong to the same packet when, in addition:
 *  - the packet's journey moves forward (raw → mangle → nat at PREROUTING, then INPUT or FORWARD, …): a line at
 *    an earlier stage, or a new traversal of a table the packet already finished, starts a new packet;
 *  - the 5-tuple is unchanged, or the previous line was in the nat table or at another stage (where DNAT/SNAT
 *    or an existing connection's NAT may have rewritten it);
 *  - it comes within the correlation window of the packet's previous line.
 * A TCP retransmission has the same SEQ but a new IP ID (and a new timestamp option), so it gets a new key.
 * Where this fails (documented in docs/correlation.md): IP ID 0 with identical SEQ/ACK/options/length inside
 * the window (e.g. duplicate ACKs of one flow in the same second), TCPMSS rewriting the options mid-trace,
 * NAT of ICMP echo ids, and lines lost or reordered by the log path.
 *
 * Memory is bounded by the open packets: a packet completes on its terminal step, when the window passes it by,
 * or when the open-packet cap forces the oldest out (flagged `evicted`).
 */
import type { NetfilterEvent } from '@ruletrail/event';
import {
  chainHook,
  chainPriority,
  isForward,
  isNatChain,
  natStateAfter,
  natStateOfTcp,
  whatFollows,
  type Hook,
  type NatState,
} from './hooks';
import { VMAP_EFFECT, joinStepCached, resolveRulenum } from './join';
import type { SnapshotPick, SnapshotSet } from './snapshots';
import type { Flag } from './types';

/** Correlation settings. */
export interface CorrelatorOptions {
  /** Longest gap between two lines of one packet, in ms of log time. Default 2000. */
  readonly windowMs?: number;
  /** Most packets kept open at once; beyond it the least recently active is completed and flagged `evicted`. */
  readonly maxOpenPackets?: number;
  /**
   * Most bytes of open packets (estimated at {@link EVENT_COST_BYTES} per event held); beyond it the least recently
   * active packets are completed and flagged `evicted`. Default 64 MiB.
   */
  readonly maxOpenBytes?: number;
}

/**
 * Heap one decoded event costs while its packet is open (a kernel-log TRACE event measured ~0.9-1.3 KiB with
 * `--expose-gc` heap deltas over 100k events): the unit of the byte bound.
 */
export const EVENT_COST_BYTES = 1200;

/** A packet whose lines are all in. */
export interface CompletedPacket {
  readonly events: NetfilterEvent[];
  readonly pick: SnapshotPick;
  readonly flags: Flag[];
  /**
   * Where it completed, so that runs over parts of one input can be merged into the order one run gives: the input
   * line being pushed when it completed (Infinity at the end of input), the phase within that push
   * ({@link CompletionPhase}), and its own last line (packets completing in one phase complete in that order).
   * Lines are `ruletrail.origin.line` (0 for channels without line numbers).
   */
  readonly completedAt: number;
  readonly phase: CompletionPhase;
  readonly firstLine: number;
  readonly lastLine: number;
}

/** When, within one push, a packet completed: 0 the window passed it, 1 count bound, 2 its own step, 3 byte bound. */
export type CompletionPhase = 0 | 1 | 2 | 3;

interface OpenPacket {
  readonly key: number;
  readonly events: NetfilterEvent[];
  readonly pick: SnapshotPick;
  src: string | undefined;
  dst: string | undefined;
  sport: number | undefined;
  dport: number | undefined;
  lastTable: string;
  lastChain: string;
  lastHook: Hook | undefined;
  lastTime: number | undefined;
  travEnded: boolean;
  done: boolean;
  /** Whether conntrack sends this packet through the NAT chains (decides what can still follow it). */
  nat: NatState;
  /** The hook of the packet's first step with one (OUTPUT for locally generated packets). */
  firstHook: Hook | undefined;
  readonly firstLine: number;
  lastLine: number;
}

/** The invariant part of a packet's identity (see the module comment). */
export function invariantKey(e: NetfilterEvent): string {
  const nf = e.netfilter;
  // nft channels carry a trace id: a per-skb hash, reused over time, so the continuity checks still apply.
  if (nf.trace?.id !== undefined) return `${e.host?.name ?? ''}|${e.network.type}|id:${nf.trace.id}`;
  const ip = nf.ip;
  let k = `${e.host?.name ?? ''}|${e.network.type}|${e.network.transport ?? ''}|${ip?.id ?? ''}|${ip?.len ?? ''}|${ip?.flowlabel ?? ''}`;
  const tcp = nf.tcp;
  if (tcp) k += `|${tcp.seq ?? ''}|${tcp.ack ?? ''}|${tcp.flags?.join(',') ?? ''}|${tcp.options ?? ''}`;
  else if (nf.udp) k += `|${nf.udp.length ?? ''}`;
  else if (nf.icmp) k += `|${nf.icmp.type ?? ''}|${nf.icmp.code ?? ''}|${nf.icmp.seq ?? ''}`;
  return k;
}

/**
 * A 32-bit hash of the invariant key's fields (see {@link invariantKey}), computed without building the key:
 * building and hashing a ~100-character string per line was ~12% of explain-all. Equal keys hash equal; packets
 * under one hash are told apart by {@link sameInvariant}.
 */
export function invariantHash(e: NetfilterEvent): number {
  const nf = e.netfilter;
  let h = strHash(e.host?.name, 0x811c9dc5);
  h = mix(h, e.network.type === 'ipv6' ? 6 : 4);
  const tid = nf.trace?.id;
  if (tid !== undefined) return strHash(tid, mix(h, 0x7f));
  const ip = nf.ip;
  h = mix(h, (e.network.transport ?? '').length);
  h = mix(h, ip?.id ?? -1);
  h = mix(h, ip?.len ?? -1);
  h = mix(h, ip?.flowlabel ?? -1);
  const tcp = nf.tcp;
  if (tcp) {
    h = mix(h, tcp.seq ?? -1);
    h = mix(h, tcp.ack ?? -1);
    h = mix(h, tcp.flags?.length ?? 0); // no flags and an empty list are the same key
    return strHash(tcp.options, h);
  }
  if (nf.udp) return mix(h, nf.udp.length ?? -1);
  if (nf.icmp) return mix(mix(mix(h, nf.icmp.type ?? -1), nf.icmp.code ?? -1), nf.icmp.seq ?? -1);
  return h;
}

function mix(h: number, v: number): number {
  h = Math.imul(h ^ (v | 0), 0x01000193);
  return (h ^ (h >>> 15)) | 0;
}

function strHash(s: string | undefined, h: number): number {
  if (s === undefined) return mix(h, -2);
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return mix(h, s.length);
}

const sameFlags = (a: readonly string[] | undefined, b: readonly string[] | undefined): boolean => {
  if (a === b) return true;
  const n = a?.length ?? 0;
  if (n !== (b?.length ?? 0)) return false;
  for (let i = 0; i < n; i++) if (a![i] !== b![i]) return false;
  return true;
};

/** Whether two events have the same invariant key (exactly the fields {@link invariantKey} joins). */
export function sameInvariant(a: NetfilterEvent, b: NetfilterEvent): boolean {
  const x = a.netfilter;
  const y = b.netfilter;
  if ((a.host?.name ?? '') !== (b.host?.name ?? '') || a.network.type !== b.network.type) return false;
  if (x.trace?.id !== undefined || y.trace?.id !== undefined) return x.trace?.id === y.trace?.id;
  if ((a.network.transport ?? '') !== (b.network.transport ?? '')) return false;
  if (x.ip?.id !== y.ip?.id || x.ip?.len !== y.ip?.len || x.ip?.flowlabel !== y.ip?.flowlabel) return false;
  if (x.tcp || y.tcp) {
    if (!x.tcp || !y.tcp) return false;
    return (
      x.tcp.seq === y.tcp.seq &&
      x.tcp.ack === y.tcp.ack &&
      sameFlags(x.tcp.flags, y.tcp.flags) &&
      x.tcp.options === y.tcp.options
    );
  }
  if (x.udp || y.udp) return !!x.udp && !!y.udp && x.udp.length === y.udp.length;
  if (x.icmp || y.icmp)
    return (
      !!x.icmp &&
      !!y.icmp &&
      x.icmp.type === y.icmp.type &&
      x.icmp.code === y.icmp.code &&
      x.icmp.seq === y.icmp.seq
    );
  return true;
}

/** Groups a stream of events into packets; calls `onPacket` as each completes. */
export class Correlator {
  /** Open packets by invariantHash (a number: Smi keys are the fast case of a Map). */
  private readonly _open = new Map<number, OpenPacket[]>();
  /** Open packets in order of last activity (Map keeps insertion order; re-insert moves to the end). */
  private readonly _activity = new Map<OpenPacket, true>();
  private readonly _windowMs: number;
  private readonly _maxOpen: number;
  private readonly _maxOpenBytes: number;
  /** Estimated bytes held by open packets (EVENT_COST_BYTES per event). */
  private _openBytes = 0;
  private _lastTsText: string | undefined;
  private _lastTsMs: number | undefined;
  /** Newest log time seen: drives window expiry. */
  private _now: number | undefined;
  /** Input line of the event being pushed (Infinity while flushing). */
  private _line = 0;

  constructor(
    private readonly _snapshots: SnapshotSet,
    private readonly _onPacket: (p: CompletedPacket) => void,
    options: CorrelatorOptions = {},
  ) {
    this._windowMs = options.windowMs ?? 2000;
    this._maxOpen = options.maxOpenPackets ?? 100_000;
    this._maxOpenBytes = options.maxOpenBytes ?? 64 * 1024 * 1024;
  }

  /** Packets currently open. */
  get openPackets(): number {
    return this._activity.size;
  }

  /** The packets open now, least recently active first (for a caller that owns only some, e.g. a parallel run). */
  *open(): IterableIterator<{ readonly firstLine: number; readonly events: readonly NetfilterEvent[] }> {
    yield* this._activity.keys();
  }

  /** Adds one event. Events that are not TRACE steps are ignored. */
  push(e: NetfilterEvent): void {
    const tr = e.netfilter.trace;
    if (!tr) return;
    this._line = e.ruletrail.origin.line ?? 0;
    const t = this._timeOf(e);
    if (t !== undefined && (this._now === undefined || t > this._now)) {
      this._now = t;
      this._expire(t);
    }
    const key = invariantHash(e);
    const list = this._open.get(key);
    if (list) {
      for (let i = list.length - 1; i >= 0; i--) {
        const p = list[i]!;
        if (sameInvariant(p.events[0]!, e) && this._continues(p, e, t)) {
          this._add(p, e, t);
          this._boundBytes(p);
          return;
        }
      }
    }
    const pick = this._snapshots.pick(e.network.type, t);
    // Every field present from the start: one hidden class for all open packets keeps the hot path monomorphic.
    const p: OpenPacket = {
      key,
      events: [],
      pick,
      src: undefined,
      dst: undefined,
      sport: undefined,
      dport: undefined,
      lastTable: tr.table,
      lastChain: tr.chain,
      lastHook: undefined,
      lastTime: undefined,
      travEnded: false,
      done: false,
      nat: natStateOfTcp(e.netfilter.tcp?.flags),
      firstHook: undefined,
      firstLine: this._line,
      lastLine: this._line,
    };
    if (list) list.push(p);
    else this._open.set(key, [p]);
    if (this._activity.size >= this._maxOpen) {
      const oldest = this._activity.keys().next().value;
      if (oldest) this._complete(oldest, ['evicted'], 1);
    }
    this._add(p, e, t);
    this._boundBytes(p);
  }

  /** The byte bound: evicts the least recently active packets (never `current`) until under it. */
  private _boundBytes(current: OpenPacket): void {
    while (this._openBytes > this._maxOpenBytes) {
      const oldest = this._activity.keys().next().value;
      if (!oldest || oldest === current) break;
      this._complete(oldest, ['evicted'], 3);
    }
  }

  /** End of input: completes every open packet. */
  flush(): void {
    this._line = Infinity;
    for (const p of [...this._activity.keys()]) this._complete(p, [], 0);
  }

  private _timeOf(e: NetfilterEvent): number | undefined {
    const ts = e['@timestamp'];
    if (ts !== undefined) {
      if (ts !== this._lastTsText) {
        this._lastTsText = ts;
        this._lastTsMs = Date.parse(ts);
      }
      return this._lastTsMs;
    }
    const up = e.ruletrail.uptime;
    return up === undefined ? undefined : up * 1000;
  }

  private _expire(now: number): void {
    for (const p of this._activity.keys()) {
      if (p.lastTime === undefined || now - p.lastTime <= this._windowMs) break;
      this._complete(p, [], 0);
    }
  }

  private _continues(p: OpenPacket, e: NetfilterEvent, t: number | undefined): boolean {
    if (p.done) return false;
    if (t !== undefined && p.lastTime !== undefined && t - p.lastTime > this._windowMs) return false;
    const tr = e.netfilter.trace!;
    const rs = p.pick.ruleset;
    const hook = chainHook(rs, tr.table, tr.chain);
    const sameTraversal = !p.travEnded && tr.table === p.lastTable;
    if (hook) {
      if (p.lastHook) {
        const prevPrio = chainPriority(rs, p.lastTable, p.lastChain, p.lastHook);
        if (!isForward(p.lastHook, prevPrio, hook, chainPriority(rs, tr.table, tr.chain, hook))) return false;
        // Back at the start of a base chain this packet already finished: a new packet. (The base chain, not the
        // table: an nftables table has several base chains at one hook, e.g. kube-proxy's filter-prerouting at
        // -110 and nat-prerouting at -100.)
        if (hook === p.lastHook && tr.table === p.lastTable && tr.chain === p.lastChain && p.travEnded)
          return false;
      }
    } else if (!sameTraversal && rs?.tables.get(tr.table)?.chains.has(tr.chain) !== false) {
      // A user chain continues the current traversal only. (A chain the snapshot does not know cannot be
      // placed at all: keep it with its packet, where the walk flags the mismatch.)
      return false;
    }
    const sameTuple =
      e.source?.ip === p.src &&
      e.destination?.ip === p.dst &&
      e.source?.port === p.sport &&
      e.destination?.port === p.dport;
    if (
      !sameTuple &&
      !(p.lastTable === 'nat' || (hook !== undefined && hook !== p.lastHook) || tr.table !== p.lastTable)
    )
      return false;
    return true;
  }

  private _add(p: OpenPacket, e: NetfilterEvent, t: number | undefined): void {
    const tr = e.netfilter.trace!;
    p.events.push(e);
    p.lastLine = this._line;
    this._openBytes += EVENT_COST_BYTES;
    if (e.source?.ip !== undefined) p.src = e.source.ip;
    if (e.destination?.ip !== undefined) p.dst = e.destination.ip;
    p.sport = e.source?.port;
    p.dport = e.destination?.port;
    const hook = chainHook(p.pick.ruleset, tr.table, tr.chain);
    if (tr.table !== p.lastTable || p.travEnded) p.travEnded = false;
    p.lastTable = tr.table;
    if (hook) {
      p.lastHook = hook;
      p.lastChain = tr.chain;
      p.firstHook ??= hook;
    }
    if (t !== undefined) p.lastTime = t;
    this._activity.delete(p);
    this._activity.set(p, true);
    const rs = p.pick.ruleset;
    if (!rs) return;
    const h = p.lastHook;
    const prio = h === undefined ? 0 : chainPriority(rs, tr.table, hook ? tr.chain : p.lastChain, h);
    p.nat = natStateAfter(rs, p.nat, h, prio, isNatChain(rs, tr.table, tr.chain), p.firstHook);
    const rulenum = resolveRulenum(rs, tr, 0);
    const joined =
      rulenum === undefined
        ? undefined
        : joinStepCached(rs, tr.table, tr.chain, tr.kind, rulenum, tr.rulenum !== undefined);
    // A verdict map decides per packet: the channel's own verdict is the rule's effect.
    const effect = !joined
      ? 'unknown'
      : joined.rule?.target === 'VMAP' && tr.verdict
        ? (VMAP_EFFECT[tr.verdict.toUpperCase()] ?? 'unknown')
        : joined.effect;
    if (effect === 'drop' || effect === 'reject' || effect === 'queue') {
      this._complete(p, [], 2);
      return;
    }
    if (effect === 'accept' || effect === 'nat') {
      p.travEnded = true;
      // Complete as soon as no base chain is left that this packet can traverse in this snapshot (conntrack
      // skips the NAT chains for every packet but a connection's first).
      if (h && whatFollows(rs, h, prio, p.nat) === 'none') this._complete(p, [], 2);
    }
  }

  private _complete(p: OpenPacket, flags: Flag[], phase: CompletionPhase): void {
    if (p.done) return;
    p.done = true;
    this._openBytes -= p.events.length * EVENT_COST_BYTES;
    this._activity.delete(p);
    const list = this._open.get(p.key);
    if (list) {
      const i = list.indexOf(p);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this._open.delete(p.key);
    }
    this._onPacket({
      events: p.events,
      pick: p.pick,
      flags,
      completedAt: this._line,
      phase,
      firstLine: p.firstLine,
      lastLine: p.lastLine,
    });
  }
}
