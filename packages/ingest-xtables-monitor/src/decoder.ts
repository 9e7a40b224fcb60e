/**
 * The stateful part of the channel: TRACE lines do not repeat the packet, so each step takes its packet fields
 * from the latest PACKET line of the same trace id (the kernel attaches headers to the first event of every
 * base chain, so a NAT rewrite or a new mark shows up on the next chain's PACKET line).
 *
 * Two layouts exist (iptables commit 180ba723, 1.8.7):
 *  - since 1.8.7: `PACKET:` first, then the ` TRACE:` lines it applies to;
 *  - before: the rule line first, then `PACKET:` (or an empty line) for that same event.
 * In the old layout a rule line is held back until the next line says whether a PACKET follows it.
 *
 * Older kernels also report the end of a base chain as a `return` event right before its `policy` event
 * (`raw:PREROUTING:return:` then `raw:PREROUTING:policy:ACCEPT`). That return is not a step of its own: the
 * policy is what happened. It is held back too and dropped (counted as skipped) when the policy follows.
 */
import type { LineOutput } from '@ruletrail/core';
import { InputError } from '@ruletrail/core';
import type { NetfilterEvent } from '@ruletrail/event';
import { parsePacketLine, PacketSyntaxError, type PacketFields } from './packet';
import { parseTraceLine, TraceSyntaxError, type TraceLine } from './trace-line';

/** Error codes of this adapter (stable; safe as metric labels). */
export const XTABLES_MONITOR_ERROR_CODES = {
  /** A `PACKET:` line that does not follow `trace_print_packet()`'s format. */
  packet: 'RT_ERR_XTMON_PACKET',
  /** A ` TRACE:` line that does not follow `trace_cb()`'s format. */
  trace: 'RT_ERR_XTMON_TRACE',
} as const;

/** Most trace ids whose last PACKET line is remembered; beyond it the least recently used is forgotten. */
export const MAX_OPEN_TRACES = 65536;

/** Options of one decoder (one input). */
export interface XtablesMonitorDecoderOptions {
  readonly file: string;
  readonly host?: string;
  readonly keepOriginal?: boolean;
}

/** What one line produced. */
export type { LineOutput } from '@ruletrail/core';

interface Held {
  readonly trace: TraceLine;
  readonly lineNo: number;
  readonly line: string;
  readonly time: string | undefined;
}

/**
 * An arrival stamp before the line (`2026-12-04T15:51:49.916Z PACKET: …`): `ruletrail trace --save` writes the
 * time each line arrived, which xtables-monitor does not print, so the saved capture is joined with the snapshot
 * in force at that time as the live trace was.
 */
export const ARRIVAL_STAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z) /;

/** Turns `xtables-monitor --trace` lines into events; feed lines in order, then call `end()`. */
export class XtablesMonitorDecoder {
  private readonly _packets = new Map<string, PacketFields>();
  private _held: Held | undefined;
  private _oldLayout = false;

  constructor(private readonly _opts: XtablesMonitorDecoderOptions) {}

  /** Decodes one line (without its newline), appending to `out`. */
  line(stamped: string, lineNo: number, out: LineOutput): void {
    const st = ARRIVAL_STAMP.exec(stamped);
    const time = st?.[1];
    const line = st ? stamped.slice(st[0].length) : stamped;
    const c = firstNonSpace(line);
    if (c < 0) {
      // The old layout ends a rule event without packet headers with an empty line.
      if (this._held) this._release(out);
      return;
    }
    if (line.startsWith('PACKET: ', c)) {
      const p = parsePacketLine(line);
      if (p instanceof PacketSyntaxError) {
        this._flushHeld(out);
        out.errors.push(
          this._error(XTABLES_MONITOR_ERROR_CODES.packet, lineNo, `PACKET line: ${p.reason}`, line),
        );
        return;
      }
      // Builds before 1.8.7 print the -4/-6 filter (0 without one) where newer ones print the family.
      if (p.family === 0) this._oldLayout = true;
      this._remember(p.id, p.fields);
      const h = this._held;
      if (h && h.trace.id === p.id && h.trace.step.kind === 'rule' && this._oldLayout) {
        this._held = undefined;
        out.events.push(this._event(h.trace, h.lineNo, h.line, h.time));
      } else this._flushHeld(out);
      return;
    }
    if (line.startsWith('TRACE: ', c)) {
      const t = parseTraceLine(line);
      if (t instanceof TraceSyntaxError) {
        this._flushHeld(out);
        out.errors.push(
          this._error(XTABLES_MONITOR_ERROR_CODES.trace, lineNo, `TRACE line: ${t.reason}`, line),
        );
        return;
      }
      const h = this._held;
      if (h) {
        const s = t.step;
        const hs = h.trace.step;
        if (
          hs.kind === 'return' &&
          s.kind === 'policy' &&
          h.trace.id === t.id &&
          hs.table === s.table &&
          hs.chain === s.chain
        ) {
          this._held = undefined;
          out.skipped++;
        } else this._release(out);
      }
      if (t.oldLayout) this._oldLayout = true;
      if (t.step.kind === 'return' || (t.step.kind === 'rule' && this._oldLayout)) {
        this._held = { trace: t, lineNo, line, time };
        return;
      }
      out.events.push(this._event(t, lineNo, line, time));
      return;
    }
    // ` EVENT:` ruleset changes (`--event`), `NEWGEN:` generation ids, anything else: not trace steps.
    this._flushHeld(out);
    out.skipped++;
  }

  /** End of input: releases a held step. */
  end(out: LineOutput): void {
    this._flushHeld(out);
  }

  private _flushHeld(out: LineOutput): void {
    if (this._held) this._release(out);
  }

  private _release(out: LineOutput): void {
    const h = this._held!;
    this._held = undefined;
    out.events.push(this._event(h.trace, h.lineNo, h.line, h.time));
  }

  private _remember(id: string, fields: PacketFields): void {
    // Re-insert so the Map's order is least recently used first.
    this._packets.delete(id);
    this._packets.set(id, fields);
    if (this._packets.size > MAX_OPEN_TRACES) {
      const oldest = this._packets.keys().next().value;
      if (oldest !== undefined) this._packets.delete(oldest);
    }
  }

  private _event(t: TraceLine, lineNo: number, line: string, time: string | undefined): NetfilterEvent {
    const o = this._opts;
    const p = this._packets.get(t.id);
    const ev = {} as NetfilterEvent;
    ev.ruletrail = { schema: '1', channel: 'xtables-monitor', origin: { file: o.file, line: lineNo } };
    ev.event =
      o.keepOriginal === true
        ? { kind: 'event', dataset: 'netfilter.trace', original: line }
        : { kind: 'event', dataset: 'netfilter.trace' };
    if (o.host !== undefined) ev.host = { name: o.host };
    if (p) {
      ev.observer = p.observer;
      if (p.source) ev.source = p.source;
      if (p.destination) ev.destination = p.destination;
      ev.network = p.network;
      ev.netfilter = { trace: t.step, ...p.netfilter, degraded: [...p.degraded] };
    } else {
      // A step whose PACKET line was not captured (monitor started mid-trace, or lines lost).
      ev.network = {
        type: t.family === 2 ? 'ipv4' : t.family === 10 ? 'ipv6' : t.family === 3 ? 'arp' : 'unknown',
      };
      ev.netfilter = { trace: t.step, degraded: ['@timestamp', 'packet'] };
    }
    if (time !== undefined) {
      ev['@timestamp'] = time;
      ev.netfilter.degraded = ev.netfilter.degraded?.filter((d) => d !== '@timestamp');
    }
    return ev;
  }

  private _error(code: string, lineNo: number, reason: string, line: string): InputError {
    return new InputError(code, { file: this._opts.file, line: lineNo }, reason, line);
  }
}

function firstNonSpace(s: string): number {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) !== 32 && s.charCodeAt(i) !== 9) return i;
  return -1;
}
