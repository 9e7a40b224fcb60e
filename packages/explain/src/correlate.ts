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
import { chainHook, chainPriority, isFinalHook, isForward, lastTableAt, type Hook } from './hooks';
import { VMAP_EFFECT, joinStepCached, resolveRulenum } from './join';
import type { SnapshotPick, SnapshotSet } from './snapshots';
import type { Flag } from './types';

/** Correlation settings. */
export interface CorrelatorOptions {
  /** Longest gap between two lines of one packet, in ms of log time. Default 2000. */
  readonly windowMs?: number;
  /** Most packets kept open at once; beyond it the least recently active is completed and flagged `evicted`. */
  readonly maxOpenPackets?: number;
}

/** A packet whose lines are all in. */
export interface CompletedPacket {
  readonly events: NetfilterEvent[];
  readonly pick: SnapshotPick;
  readonly flags: Flag[];
}

interface OpenPacket {
  readonly key: string;
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

/** Groups a stream of events into packets; calls `onPacket` as each completes. */
export class Correlator {
  private readonly _open = new Map<string, OpenPacket[]>();
  /** Open packets in order of last activity (Map keeps insertion order; re-insert moves to the end). */
  private readonly _activity = new Map<OpenPacket, true>();
  private readonly _windowMs: number;
  private readonly _maxOpen: number;
  private _lastTsText: string | undefined;
  private _lastTsMs: number | undefined;
  /** Newest log time seen: drives window expiry. */
  private _now: number | undefined;

  constructor(
    private readonly _snapshots: SnapshotSet,
    private readonly _onPacket: (p: CompletedPacket) => void,
    options: CorrelatorOptions = {},
  ) {
    this._windowMs = options.windowMs ?? 2000;
    this._maxOpen = options.maxOpenPackets ?? 100_000;
  }

  /** Packets currently open. */
  get openPackets(): number {
    return this._activity.size;
  }

  /** Adds one event. Events that are not TRACE steps are ignored. */
  push(e: NetfilterEvent): void {
    const tr = e.netfilter.trace;
    if (!tr) return;
    const t = this._timeOf(e);
    if (t !== undefined && (this._now === undefined || t > this._now)) {
      this._now = t;
      this._expire(t);
    }
    const key = invariantKey(e);
    const list = this._open.get(key);
    if (list) {
      for (let i = list.length - 1; i >= 0; i--) {
        const p = list[i]!;
        if (this._continues(p, e, t)) {
          this._add(p, e, t);
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
    };
    if (list) list.push(p);
    else this._open.set(key, [p]);
    if (this._activity.size >= this._maxOpen) {
      const oldest = this._activity.keys().next().value;
      if (oldest) this._complete(oldest, ['evicted']);
    }
    this._add(p, e, t);
  }

  /** End of input: completes every open packet. */
  flush(): void {
    for (const p of [...this._activity.keys()]) this._complete(p, []);
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
      this._complete(p, []);
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
    }
    if (t !== undefined) p.lastTime = t;
    this._activity.delete(p);
    this._activity.set(p, true);
    const rs = p.pick.ruleset;
    if (!rs) return;
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
      this._complete(p, []);
      return;
    }
    if (effect === 'accept' || effect === 'nat') {
      p.travEnded = true;
      const h = p.lastHook;
      if (h && isFinalHook(h) && tr.table === lastTableAt(rs, h)) this._complete(p, []);
    }
  }

  private _complete(p: OpenPacket, flags: Flag[]): void {
    if (p.done) return;
    p.done = true;
    this._activity.delete(p);
    const list = this._open.get(p.key);
    if (list) {
      const i = list.indexOf(p);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this._open.delete(p.key);
    }
    this._onPacket({ events: p.events, pick: p.pick, flags });
  }
}
