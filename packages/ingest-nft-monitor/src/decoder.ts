/**
 * The stateful part of the channel. Rule, policy and return lines do not repeat the packet: each step takes its
 * packet fields from the latest `packet:` line of the same trace id (the kernel attaches the headers to the first
 * event of every base chain, so a NAT rewrite shows from the next chain on).
 *
 * The mark is printed only on policy and return lines (`meta mark 0x…`, absent when zero). A rule step carries
 * the last mark seen for its trace id (0 at the start) and names `netfilter.mark` in `netfilter.degraded`; a
 * MARK rule's effect shows at the next policy or return line.
 *
 * Older kernels report the end of a base chain as a return event right before its policy event; that return is
 * not a step of its own and is dropped (counted as skipped).
 */
import type { LineOutput } from '@ruletrail/core';
import { InputError } from '@ruletrail/core';
import type { NetfilterEvent, TraceStep } from '@ruletrail/event';
import { parsePacketStatements, PacketSyntaxError, type PacketFields } from './packet';
import { parseNftTraceLine, NftLineSyntaxError, type Head } from './trace-line';

/** Error codes of this adapter (stable; safe as metric labels). */
export const NFT_MONITOR_ERROR_CODES = {
  /** A `packet:` line whose statements do not follow nft's trace printer. */
  packet: 'RT_ERR_NFTMON_PACKET',
  /** A `trace id …` line that is not one of the trace events nft prints. */
  trace: 'RT_ERR_NFTMON_TRACE',
} as const;

/** Most trace ids remembered at once; beyond it the least recently used is forgotten. */
export const MAX_OPEN_TRACES = 65536;

/** Options of one decoder (one input). */
export interface NftMonitorDecoderOptions {
  readonly file: string;
  readonly host?: string;
  readonly keepOriginal?: boolean;
}

/** What the lines fed so far produced. */
export type { LineOutput } from '@ruletrail/core';

interface TraceState {
  packet?: PacketFields;
  mark: number;
}

interface Held {
  readonly head: Head;
  readonly step: TraceStep;
  readonly lineNo: number;
  readonly line: string;
  readonly mark: number | undefined;
  readonly time: string | undefined;
}

/**
 * An arrival stamp before the line (`2026-12-04T15:51:49.916Z trace id …`): `ruletrail trace --save` writes the
 * time each line arrived, which `nft monitor` does not print, so the saved capture is joined with the snapshot
 * in force at that time as the live trace was.
 */
export const ARRIVAL_STAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z) /;

/** Turns `nft monitor trace` lines into events; feed lines in order, then call `end()`. */
export class NftMonitorDecoder {
  private readonly _traces = new Map<string, TraceState>();
  private _held: Held | undefined;

  constructor(private readonly _opts: NftMonitorDecoderOptions) {}

  /** Decodes one line (without its newline), appending to `out`. */
  line(stamped: string, lineNo: number, out: LineOutput): void {
    const st = ARRIVAL_STAMP.exec(stamped);
    const line = st ? stamped.slice(st[0].length) : stamped;
    const r = parseNftTraceLine(line);
    if (r === undefined) {
      // `nft monitor` ruleset events (`add rule …`), blank lines: not trace steps.
      if (line.trim() !== '') {
        this._flush(out);
        out.skipped++;
      }
      return;
    }
    if (r instanceof NftLineSyntaxError) {
      this._flush(out);
      out.errors.push(this._error(NFT_MONITOR_ERROR_CODES.trace, lineNo, r.reason, line));
      return;
    }
    if (r.type === 'conntrack') {
      out.skipped++;
      return;
    }
    if (r.type === 'packet') {
      this._flush(out);
      const p = parsePacketStatements(r.statements, r.head.family);
      if (p instanceof PacketSyntaxError) {
        out.errors.push(
          this._error(NFT_MONITOR_ERROR_CODES.packet, lineNo, `packet line: ${p.reason}`, line),
        );
        return;
      }
      this._state(r.head.id).packet = p;
      return;
    }
    const h = this._held;
    if (h) {
      this._held = undefined;
      const s = r.step;
      if (
        s.kind === 'policy' &&
        h.head.id === r.head.id &&
        h.step.table === s.table &&
        h.step.chain === s.chain
      )
        out.skipped++;
      else this._emit(h, out);
    }
    const held: Held = { head: r.head, step: r.step, lineNo, line, mark: r.mark, time: st?.[1] };
    if (r.step.kind === 'return') this._held = held;
    else this._emit(held, out);
  }

  /** End of input: releases a held step. */
  end(out: LineOutput): void {
    this._flush(out);
  }

  private _flush(out: LineOutput): void {
    const h = this._held;
    if (h) {
      this._held = undefined;
      this._emit(h, out);
    }
  }

  private _state(id: string): TraceState {
    let s = this._traces.get(id);
    if (s) this._traces.delete(id);
    else s = { mark: 0 };
    // Re-insert so the Map's order is least recently used first.
    this._traces.set(id, s);
    if (this._traces.size > MAX_OPEN_TRACES) {
      const oldest = this._traces.keys().next().value;
      if (oldest !== undefined) this._traces.delete(oldest);
    }
    return s;
  }

  private _emit(h: Held, out: LineOutput): void {
    const o = this._opts;
    const st = this._state(h.head.id);
    // Policy and return lines print the mark (nothing when zero); rule lines never do.
    const observed = h.step.kind !== 'rule';
    if (observed) st.mark = h.mark ?? 0;
    const ev = {} as NetfilterEvent;
    ev.ruletrail = { schema: '1', channel: 'nft-monitor', origin: { file: o.file, line: h.lineNo } };
    ev.event =
      o.keepOriginal === true
        ? { kind: 'event', dataset: 'netfilter.trace', original: h.line }
        : { kind: 'event', dataset: 'netfilter.trace' };
    if (o.host !== undefined) ev.host = { name: o.host };
    const p = st.packet;
    if (p) {
      ev.observer = p.observer;
      if (p.source) ev.source = p.source;
      if (p.destination) ev.destination = p.destination;
      ev.network = p.network;
      const degraded = observed ? [...p.degraded] : [...p.degraded, 'netfilter.mark'];
      ev.netfilter = { trace: h.step, mark: st.mark, ...p.netfilter, degraded };
    } else {
      // A step whose packet line was not captured (monitor started mid-trace, or lines lost).
      const f = h.head.family;
      ev.network = {
        type:
          f === 'ip'
            ? 'ipv4'
            : f === 'ip6'
              ? 'ipv6'
              : f === 'arp'
                ? 'arp'
                : f === 'bridge'
                  ? 'bridge'
                  : 'unknown',
      };
      ev.netfilter = {
        trace: h.step,
        mark: st.mark,
        degraded: observed ? ['@timestamp', 'packet'] : ['@timestamp', 'packet', 'netfilter.mark'],
      };
    }
    if (h.time !== undefined) {
      ev['@timestamp'] = h.time;
      ev.netfilter.degraded = ev.netfilter.degraded?.filter((d) => d !== '@timestamp');
    }
    out.events.push(ev);
  }

  private _error(code: string, lineNo: number, reason: string, line: string): InputError {
    return new InputError(code, { file: this._opts.file, line: lineNo }, reason, line);
  }
}
