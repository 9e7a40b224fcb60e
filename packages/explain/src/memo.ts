/**
 * Explain-all at the cost of a lookup: the `--format json` text of a packet's explanation, memoised on exactly
 * what decides it.
 *
 * A capture holds thousands of packets that take the same path through the same snapshot (every SYN to one
 * NodePort, every ACK of an established connection). Their explanations differ only in values the engine copies
 * into the output without deciding anything on them: times, line numbers, IP ids, sequence numbers, TCP options,
 * the host name — and the addresses and ports, whenever no rule of the chains the packet visits reads them (the
 * engine then only compares them step with step, to see NAT, and prints them). So:
 *
 * - the key of a packet is its step sequence (table, chain, kind, number, rule text, verdict…), the snapshot, the
 *   flags, the values of every field that a rule of the visited chains reads or that the engine decides on (mark,
 *   interfaces, TCP flags, fragment bits…), and, for each copied-only ("opaque") value, only which earlier opaque
 *   value it equals (so "dst changed between two steps" is part of the key, the addresses are not);
 * - on the second packet with a key the explanation is computed twice: from the real events, and from the same
 *   events with each opaque value replaced by a sentinel. The JSON of the latter, split at the sentinels, is the
 *   key's template; the template filled with the real values must give exactly the real JSON, or the key is never
 *   served from a template (a self-check that keeps a field the audit missed from ever changing the output);
 * - later packets with the key cost the key, one lookup and the template filled with their values.
 *
 * The output is byte-identical to `JSON.stringify(explainPacket(…))` by construction; RULETRAIL_MEMO_VERIFY=1
 * recomputes every served packet and throws on a difference (tests and benchmarks' correctness runs).
 *
 * Which fields the engine reads (and so which must be in the key) was audited in walk.ts, explain.ts, verdict.ts,
 * deltas.ts, attribution.ts and evaluate/packet.ts; a new read of an event field there must be added here.
 */
import type { NetfilterEvent } from '@ruletrail/event';
import type { Rule, Ruleset } from '@ruletrail/ruleset';
import {
  addressWords,
  aliasAddress,
  compareAddress,
  inPrefix,
  parseAddress,
  parsePrefix,
  type Prefix,
  type Words,
} from './evaluate/address';
import { fieldsRead } from './evaluate/reads';
import { explainPacket, type ExplainOptions } from './explain';
import type { SnapshotPick } from './snapshots';
import { detach } from './strings';
import type { Flag, Verdict } from './types';

/** One explained packet as NDJSON text (no newline) and its verdict. */
export interface ExplainedJson {
  readonly json: string;
  readonly verdict: Verdict;
}

/** Counters of a memo, for `--stats`. */
export interface MemoStats {
  /** Packets served from a template. */
  hits: number;
  /** Packets explained in full. */
  misses: number;
  /** Templates made (each also explained the packet in full). */
  templates: number;
  /** Keys whose template did not reproduce the real output (served in full ever after). */
  rejected: number;
}

interface Template {
  /** Literal JSON between the holes: `parts.length === slots.length + 1`. */
  readonly parts: readonly string[];
  /** Per hole: the index of the opaque value. */
  readonly slots: readonly number[];
  /** Per hole: 1 when the hole is a whole JSON value (`"sport":HOLE`), 0 when it sits inside a string. */
  readonly whole: readonly number[];
  readonly verdict: Verdict;
}

interface Entry {
  /** undefined: seen once; null: the template failed its self-check. */
  template: Template | null | undefined;
}

/**
 * Fields keyed by value when a rule the packet's walk evaluates reads them (else opaque or ignored). Addresses a
 * rule reads are keyed by their class instead (which of the snapshot's prefixes and ranges hold them: two addresses
 * of one class pass every address criterion alike) and printed from the packet, like opaque values.
 */
const F_SRC = 1;
const F_DST = 2;
const F_SPORT = 4;
const F_DPORT = 8;
const F_LEN = 16;
const F_TTL = 32;
const F_TOS = 64;
const F_MAC = 128;
/** Addresses by value (host facts type them; a verdict map looks them up), not by their class. */
const F_SRC_VALUE = 256;
const F_DST_VALUE = 512;
const F_TUPLE = F_SRC_VALUE | F_DST_VALUE | F_SPORT | F_DPORT;

/** What is known of one step sequence (on one snapshot, with one set of flags). */
interface PathInfo {
  /** Fields every packet of the path is keyed on (a verdict map's attribution looks the tuple up). */
  readonly always: number;
  /**
   * The field sets that walks of this path have read, most recent last. A packet agreeing with an earlier one on
   * the values of the fields that one's walk read makes the same evaluations, so its explanation is keyed on them.
   */
  readonly masks: number[];
}
const MAX_MASKS_PER_PATH = 8;

/** Sentinels: private-use characters that JSON.stringify leaves as they are and no trace or snapshot carries. */
const S_OPEN = '\uE000';
const S_CLOSE = '\uE001';
const SENTINEL = /"\uE000\d+_(\d+):?\uE001"|\uE000\d+_(\d+):?\uE001/g;
type Scalar = string | number | boolean | undefined;
/** No value yet (differs from every field value, undefined included). */
const NONE = Symbol('none');
const VERIFY = process.env.RULETRAIL_MEMO_VERIFY === '1';

/**
 * Explains packets to NDJSON text, serving repeated paths from templates. One instance per run (it holds the
 * host facts of the run and a bounded cache: `maxEntries` keys, cleared when full).
 */
export class ExplanationMemo {
  readonly stats: MemoStats = { hits: 0, misses: 0, templates: 0, rejected: 0 };
  private readonly _paths = new Map<string, PathInfo>();
  private _visited = 0;
  private readonly _visit = (rule: Rule): void => {
    this._visited |= maskOf(rule, this._options.facts !== undefined);
  };
  private readonly _tracked: ExplainOptions;
  private readonly _entries = new Map<string, Entry>();
  // Snapshots by identity (two files with the same rules have the same hash but print their own source).
  private readonly _rulesetIds = new Map<Ruleset, number>();
  private readonly _classes = new WeakMap<
    Ruleset,
    { constants: AddressConstant[]; of: Map<string, string> }
  >();
  private _rs: Ruleset | undefined;
  /** Sentinel generation: each template's placeholders are new strings (the walk's own memos key on them). */
  private _gen = 0;
  // Per packet, reused: the opaque values in order of first appearance, and value → index.
  private _vals: unknown[] = [];
  private readonly _index = new Map<unknown, number>();
  // Per step of the packet being keyed: the previous step's value of each keyed field.
  private readonly _prev: (Scalar | typeof NONE)[] = new Array<Scalar | typeof NONE>(39);

  constructor(
    private readonly _options: ExplainOptions = {},
    private readonly _maxEntries = 4096,
  ) {
    this._tracked = { ..._options, visit: this._visit };
  }

  /** The packet's explanation as `JSON.stringify(explainPacket(events, pick, flags, options))` gives it. */
  explain(events: readonly NetfilterEvent[], pick: SnapshotPick, flags: readonly Flag[]): ExplainedJson {
    const rs = pick.ruleset;
    // Several candidate snapshots (no time) or none: rare, explained in full.
    if (!rs || (pick.candidates && pick.candidates.length > 1) || events.length === 0)
      return this._full(events, pick, flags);
    this._rs = rs;
    const prefix = this._prefix(events, rs, pick, flags);
    let info = this._paths.get(prefix);
    if (!info) {
      info = { always: pathAlways(events, rs), masks: [] };
      if (this._paths.size >= this._maxEntries) this._paths.clear();
      this._paths.set(prefix, info);
    }
    let entry: Entry | undefined;
    let mask = 0;
    for (let m = info.masks.length - 1; m >= 0 && !entry; m--) {
      mask = info.masks[m]!;
      entry = this._entries.get(this._key(prefix, events, mask));
    }
    if (entry?.template) {
      const json = fill(entry.template, this._vals);
      this.stats.hits++;
      if (VERIFY) {
        const real = JSON.stringify(explainPacket(events, pick, flags, this._options));
        if (real !== json) throw new Error(`explanation memo: template output differs\n${json}\n${real}`);
      }
      return { json, verdict: entry.template.verdict };
    }
    if (entry?.template === null) return this._full(events, pick, flags);
    // Explained in full, noting the fields its evaluations read.
    this._visited = 0;
    const x = explainPacket(events, pick, flags, this._tracked);
    const real: ExplainedJson = { json: JSON.stringify(x), verdict: x.verdict };
    this.stats.misses++;
    const read = this._visited | info.always;
    if (entry === undefined) {
      // First packet of its key: remember the key.
      if (!info.masks.includes(read)) {
        if (info.masks.length >= MAX_MASKS_PER_PATH) info.masks.shift();
        info.masks.push(read);
      }
      if (this._entries.size >= this._maxEntries) this._entries.clear();
      this._entries.set(this._key(prefix, events, read), { template: undefined });
      return real;
    }
    // Second packet with this key: make the template and check it against the real explanation.
    const vals = this._vals.slice();
    const symbolic = explainPacket(
      symbolicEvents(events, this._index, mask, ++this._gen),
      pick,
      flags,
      this._options,
    );
    const t = parseTemplate(JSON.stringify(symbolic), symbolic.verdict);
    if ((read & ~mask) === 0 && t.verdict === real.verdict && fill(t, vals) === real.json) {
      entry.template = t;
      this.stats.templates++;
    } else {
      entry.template = null;
      this.stats.rejected++;
      if (process.env.RULETRAIL_MEMO_DEBUG === '1')
        process.stderr.write(
          `memo: template rejected mask=${mask} read=${read} masks=${info.masks.join(',')}\n${fill(t, vals)}\n${real.json}\n`,
        );
    }
    return real;
  }

  private _full(
    events: readonly NetfilterEvent[],
    pick: SnapshotPick,
    flags: readonly Flag[],
  ): ExplainedJson {
    this.stats.misses++;
    const x = explainPacket(events, pick, flags, this._options);
    return { json: JSON.stringify(x), verdict: x.verdict };
  }

  /** What every key of the packet starts with: snapshot, flags, step sequence. */
  private _prefix(
    events: readonly NetfilterEvent[],
    rs: Ruleset,
    pick: SnapshotPick,
    flags: readonly Flag[],
  ): string {
    let rsId = this._rulesetIds.get(rs);
    if (rsId === undefined) this._rulesetIds.set(rs, (rsId = this._rulesetIds.size + 1));
    let k = `${rsId}\u0003${pick.flags.length ? pick.flags.join(',') : ''}\u0003${flags.length ? flags.join(',') : ''}\u0003`;
    for (const e of events) {
      const t = e.netfilter.trace!;
      k += `${t.table}\u0001${t.chain}\u0001${t.kind}\u0001${t.rulenum ?? ''}`;
      // Channels that name rules by text or handle, print verdicts or trace ids (nft, xtables-monitor).
      if (
        t.handle !== undefined ||
        t.verdict !== undefined ||
        t.target !== undefined ||
        t.family !== undefined ||
        t.rule !== undefined ||
        t.id !== undefined
      )
        k += `\u0001${t.handle ?? ''}\u0001${t.verdict ?? ''}\u0001${t.target ?? ''}\u0001${t.family ?? ''}\u0001${t.rule ?? ''}\u0001${t.id !== undefined ? 1 : 0}`;
      k += '\u0002';
    }
    return k;
  }

  /**
   * The packet's key with the fields of `mask` by value; fills `_vals`/`_index` with its opaque values. Each step
   * writes only the fields that differ from the step before it (most do not change along a packet's path), as
   * `field-letter value`, so the key stays short.
   */
  private _key(prefix: string, events: readonly NetfilterEvent[], mask: number): string {
    this._vals.length = 0;
    this._index.clear();
    let k = `${prefix}\u0003${mask}\u0003`;
    this._prev.fill(NONE);
    // Whether field `i` differs from the previous step's (and remember it).
    const ch = (i: number, v: Scalar): boolean => {
      if (this._prev[i] === v) return false;
      this._prev[i] = v;
      return true;
    };
    const t = (v: Scalar): string => (v === undefined ? '~' : String(v));
    for (const e of events) {
      const nf = e.netfilter;
      const ip = nf.ip;
      const tcp = nf.tcp;
      const icmp = nf.icmp;
      const rt = e.ruletrail;
      const o = rt.origin;
      const src = e.source;
      const dst = e.destination;
      // Opaque: only which earlier value each equals.
      if (ch(0, e['@timestamp'])) k += `a${this._slot(e['@timestamp'])}`;
      if (ch(1, e.host?.name)) k += `b${this._slot(e.host?.name)}`;
      if (ch(2, o.line)) k += `c${this._slot(o.line)}`;
      if (ch(3, o.offset)) k += `d${this._slot(o.offset)}`;
      if (ch(4, ip?.id)) k += `e${this._slot(ip?.id)}`;
      if (ch(5, tcp?.seq)) k += `f${this._slot(tcp?.seq)}`;
      if (ch(6, tcp?.options)) k += `g${this._slot(tcp?.options)}`;
      // Decided on: by value (free text ends in \u0001).
      if (ch(7, e.host !== undefined)) k += `h${t(e.host !== undefined)}`;
      if (ch(8, rt.channel)) k += `i${rt.channel}\u0001`;
      if (ch(9, o.file)) k += `j${o.file}\u0001`;
      if (ch(10, e.network.type)) k += `k${e.network.type}\u0001`;
      if (ch(11, e.network.transport)) k += `l${t(e.network.transport)}\u0001`;
      if (ch(12, nf.truncated === true)) k += `m${t(nf.truncated === true)}`;
      const degraded = nf.degraded?.join(',');
      if (ch(13, degraded)) k += `n${t(degraded)}\u0001`;
      if (ch(14, nf.mark)) k += `o${t(nf.mark)}`;
      const inIf = e.observer?.ingress?.interface?.name;
      const outIf = e.observer?.egress?.interface?.name;
      if (ch(15, inIf)) k += `p${t(inIf)}\u0001`;
      if (ch(16, outIf)) k += `q${t(outIf)}\u0001`;
      if (ch(17, nf.physin)) k += `r${t(nf.physin)}\u0001`;
      if (ch(18, nf.physout)) k += `s${t(nf.physout)}\u0001`;
      if (ch(19, ip === undefined)) k += `t${t(ip === undefined)}`;
      if (ch(20, ip?.fragOffset)) k += `u${t(ip?.fragOffset)}`;
      const ipFlags = ip?.flags?.join(',');
      if (ch(21, ipFlags)) k += `v${t(ipFlags)}\u0001`;
      if (ch(22, tcp === undefined)) k += `w${t(tcp === undefined)}`;
      const tcpFlags = tcp?.flags?.join(',');
      if (ch(23, tcpFlags)) k += `x${t(tcpFlags)}\u0001`;
      if (ch(24, icmp === undefined)) k += `y${t(icmp === undefined)}`;
      if (ch(25, icmp?.type)) k += `z${t(icmp?.type)}`;
      if (ch(26, icmp?.code)) k += `A${t(icmp?.code)}`;
      if (ch(27, src === undefined)) k += `B${t(src === undefined)}`;
      if (ch(28, dst === undefined)) k += `C${t(dst === undefined)}`;
      // The tuple and the length: by value, by class or opaque, as the walk's rules read them.
      const sip = src?.ip;
      if (ch(29, sip))
        k += `D${mask & F_SRC_VALUE ? `${t(sip)}\u0001` : `${this._slot(sip)}${mask & F_SRC ? this._class(sip) : ''}`}`;
      const dip = dst?.ip;
      if (ch(30, dip))
        k += `E${mask & F_DST_VALUE ? `${t(dip)}\u0001` : `${this._slot(dip)}${mask & F_DST ? this._class(dip) : ''}`}`;
      if (ch(31, src?.port)) k += `F${mask & F_SPORT ? t(src?.port) : this._slot(src?.port)}`;
      if (ch(32, dst?.port)) k += `G${mask & F_DPORT ? t(dst?.port) : this._slot(dst?.port)}`;
      if (ch(33, ip?.len)) k += `H${mask & F_LEN ? t(ip?.len) : this._slot(ip?.len)}`;
      if (mask & F_TTL) {
        if (ch(34, ip?.ttl)) k += `I${t(ip?.ttl)}`;
        if (ch(35, ip?.hoplimit)) k += `J${t(ip?.hoplimit)}`;
      }
      if (mask & F_TOS) {
        if (ch(36, ip?.tos)) k += `K${t(ip?.tos)}`;
        if (ch(37, ip?.tc)) k += `L${t(ip?.tc)}`;
      }
      if (mask & F_MAC && ch(38, src?.mac)) k += `M${t(src?.mac)}\u0001`;
      k += '\u0002';
    }
    return k;
  }

  /** The class of an address: its length and which of the snapshot's address constants hold it. */
  private _class(ip: string | undefined): string {
    if (ip === undefined) return '';
    const rs = this._rs!;
    let c = this._classes.get(rs);
    if (!c) this._classes.set(rs, (c = { constants: addressConstants(rs), of: new Map() }));
    let k = c.of.get(ip);
    if (k === undefined) {
      const w = addressWords(ip);
      k = w ? `/${w.length}` : '/x';
      if (w)
        for (let i = 0; i < c.constants.length; i++) {
          const x = c.constants[i]!;
          const hit =
            'mask' in x
              ? inPrefix(w, x)
              : w.length === x.lo.length && compareAddress(w, x.lo) >= 0 && compareAddress(w, x.hi) <= 0;
          if (hit) k += `,${i}`;
        }
      if (c.of.size >= 50_000) c.of.clear();
      c.of.set(detach(ip), k);
    }
    return k;
  }

  /**
   * An opaque value's part of the key: which earlier opaque value it equals. Falsy values (0, '') and absent ones
   * are keyed as themselves: the engine tests presence and truthiness, which a sentinel would not keep.
   */
  private _slot(v: string | number | undefined): string {
    if (v === undefined) return '~';
    if (!v) return typeof v === 'number' ? `#${v}` : '$';
    // Key letters are fixed: every slot ends in a non-digit, so `s1` + `2…` cannot read as `s12`.
    let i = this._index.get(v);
    if (i === undefined) {
      i = this._vals.length;
      this._vals.push(v);
      this._index.set(v, i);
    }
    return `${i}.`;
  }
}

/** The fields a rule's evaluation reads, as a mask. */
function maskOf(rule: Rule, facts: boolean): number {
  let m = 0;
  for (const f of fieldsRead(rule)) {
    if (f === 'src') m |= F_SRC;
    else if (f === 'dst') m |= F_DST;
    else if (f === 'sport') m |= F_SPORT;
    else if (f === 'dport') m |= F_DPORT;
    else if (f === 'orig') m |= F_TUPLE;
    else if (f === 'facts' && facts) m |= F_SRC_VALUE | F_DST_VALUE;
    else if (f === 'len') m |= F_LEN;
    else if (f === 'ttl') m |= F_TTL;
    else if (f === 'tos') m |= F_TOS;
    else if (f === 'srcMac') m |= F_MAC;
  }
  return m;
}

/** Fields a path is always keyed on: the tuple, when a chain it visits has a verdict map (attribution.ts). */
function pathAlways(events: readonly NetfilterEvent[], rs: Ruleset): number {
  for (const e of events) {
    const t = e.netfilter.trace!;
    const chain = rs.tables.get(t.table)?.chains.get(t.chain);
    if (chain?.rules.some((r) => r.target === 'VMAP')) return F_TUPLE;
  }
  return 0;
}

/** The events with each opaque value (those `_slot` indexed) replaced by its sentinel. */
function symbolicEvents(
  events: readonly NetfilterEvent[],
  index: ReadonlyMap<unknown, number>,
  mask: number,
  gen: number,
): NetfilterEvent[] {
  // Only the fields keyed as opaque (or by class) are replaced: a field keyed by value keeps its value even when
  // an opaque one equals it (a dport of 80 on line 80).
  // A sentinel keeps what the engine tests of a value: presence, truthiness, (for IPv6 addresses, which are
  // bracketed before a port) whether it holds a ':', and, for the rules' address criteria, the address it stands for.
  const s = <T>(v: T): T => {
    if (v === undefined) return v;
    const i = index.get(v);
    if (i === undefined) return v;
    const x = `${S_OPEN}${gen}_${i}${typeof v === 'string' && v.includes(':') ? ':' : ''}${S_CLOSE}`;
    if (typeof v === 'string') aliasAddress(x, v);
    return x as T;
  };
  return events.map((e) => {
    const nf = e.netfilter;
    const x: NetfilterEvent = {
      ...e,
      ruletrail: { ...e.ruletrail, origin: { ...e.ruletrail.origin } },
      netfilter: { ...nf },
    };
    const o = x.ruletrail.origin;
    if (o.line !== undefined) o.line = s(o.line);
    if (o.offset !== undefined) o.offset = s(o.offset);
    if (e['@timestamp'] !== undefined) x['@timestamp'] = s(e['@timestamp']);
    if (e.host) x.host = { ...e.host, ...(e.host.name !== undefined ? { name: s(e.host.name) } : {}) };
    if (e.source) {
      x.source = { ...e.source };
      if (e.source.ip !== undefined && !(mask & F_SRC_VALUE)) x.source.ip = s(e.source.ip);
      if (e.source.port !== undefined && !(mask & F_SPORT)) x.source.port = s(e.source.port);
    }
    if (e.destination) {
      x.destination = { ...e.destination };
      if (e.destination.ip !== undefined && !(mask & F_DST_VALUE)) x.destination.ip = s(e.destination.ip);
      if (e.destination.port !== undefined && !(mask & F_DPORT)) x.destination.port = s(e.destination.port);
    }
    if (nf.ip) {
      x.netfilter.ip = { ...nf.ip };
      if (nf.ip.id !== undefined) x.netfilter.ip.id = s(nf.ip.id);
      if (nf.ip.len !== undefined && !(mask & F_LEN)) x.netfilter.ip.len = s(nf.ip.len);
    }
    if (nf.tcp) {
      x.netfilter.tcp = { ...nf.tcp };
      if (nf.tcp.seq !== undefined) x.netfilter.tcp.seq = s(nf.tcp.seq);
      if (nf.tcp.options !== undefined) x.netfilter.tcp.options = s(nf.tcp.options);
    }
    return x;
  });
}

function parseTemplate(json: string, verdict: Verdict): Template {
  const parts: string[] = [];
  const slots: number[] = [];
  const whole: number[] = [];
  let last = 0;
  for (const m of json.matchAll(SENTINEL)) {
    parts.push(json.slice(last, m.index));
    slots.push(Number(m[1] ?? m[2]));
    whole.push(m[1] !== undefined ? 1 : 0);
    last = m.index + m[0].length;
  }
  parts.push(json.slice(last));
  return { parts, slots, whole, verdict };
}

function fill(t: Template, vals: readonly unknown[]): string {
  let out = t.parts[0]!;
  for (let i = 0; i < t.slots.length; i++) {
    const v = vals[t.slots[i]!];
    out +=
      (t.whole[i]
        ? JSON.stringify(v)
        : typeof v === 'string'
          ? NEEDS_ESCAPE.test(v)
            ? JSON.stringify(v).slice(1, -1)
            : v
          : String(v)) + t.parts[i + 1]!;
  }
  return out;
}
// eslint-disable-next-line no-control-regex -- the characters JSON.stringify escapes
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

type AddressConstant = Prefix | { readonly lo: Words; readonly hi: Words };

/** Every address prefix and range the snapshot's rules compare a packet address with. */
function addressConstants(rs: Ruleset): AddressConstant[] {
  const out: AddressConstant[] = [];
  const seen = new Set<string>();
  const add = (key: string, c: AddressConstant | undefined): void => {
    if (!c || seen.has(key)) return;
    seen.add(key);
    out.push(c);
  };
  for (const t of rs.tables.values())
    for (const chain of t.chains.values())
      for (const r of chain.rules) {
        if (r.ip.source) add(`p${r.ip.source.value}`, parsePrefix(r.ip.source.value));
        if (r.ip.destination) add(`p${r.ip.destination.value}`, parsePrefix(r.ip.destination.value));
        for (const m of r.matches)
          for (const o of m.options) {
            if (o.name !== 'src-range' && o.name !== 'dst-range') continue;
            for (const v of o.values) {
              const [a, b] = v.split('-');
              const lo = a ? parseAddress(a) : undefined;
              const hi = b ? parseAddress(b) : lo;
              add(`r${v}`, lo && hi ? { lo, hi } : undefined);
            }
          }
      }
  return out;
}
