/**
 * One kernel-log line → one event: framing (time, host, uptime), then the log prefix (`TRACE: t:c:kind:n ` or
 * a `--log-prefix`), then the nf_log payload.
 */
import { CODE_TRACE_PREFIX, InputError, type DecodeOptions, type LineResult } from '@ruletrail/core';
import type { NetfilterEvent, TraceStep } from '@ruletrail/event';
import { Framing } from './framing';
import { parseNfLogBodyAt } from './nflog';

/** Error codes of this adapter (stable; safe as metric labels). */
export const KERNEL_LOG_ERROR_CODES = {
  /**
   * A `TRACE: ` prefix that is not `<table>:<chain>:<rule|return|policy>:<n> ` followed by `IN=` (core's code,
   * the same for every channel).
   */
  tracePrefix: CODE_TRACE_PREFIX,
  /** A netfilter line whose payload does not follow the kernel's grammar. */
  malformed: 'RT_ERR_KLOG_NFLOG_MALFORMED',
  /** A netfilter line whose framing timestamp is impossible (e.g. `Feb 30`, hour 25). */
  timestamp: 'RT_ERR_KLOG_TIMESTAMP',
} as const;

/** The kernel's nf_log line buffer is 1024-5 bytes with `<SOH><level>` in front: a cut record is this long. */
export const KERNEL_LINE_LIMIT_BYTES = 1016;

/** Test hook: the clock used to infer the year of year-less stamps. */
export interface KernelLogParserClock {
  readonly nowMs: number;
}

/** A line parser bound to one input's options; keeps small caches across lines. */
export type KernelLogLineParser = (line: string, lineNo: number) => LineResult;

/** Builds the per-input line parser used by `decode` (and by `parseKernelLogLine`). */
export function createKernelLogParser(
  options: DecodeOptions,
  clock?: KernelLogParserClock,
): KernelLogLineParser {
  const framing = new Framing(options.year, options.utcOffsetMinutes ?? 0, clock?.nowMs ?? Date.now());
  const file = options.file;
  const defaultHost = options.host;
  const keepOriginal = options.keepOriginal === true;

  function fail(code: string, lineNo: number, reason: string, line: string): InputError {
    return new InputError(code, { file, line: lineNo }, reason, line);
  }

  return function parseLine(line: string, lineNo: number): LineResult {
    framing.parse(line);
    const n = line.length;
    let m = framing.msg;
    if (framing.syslog) while (line.charCodeAt(m) === 32) m++;
    // printk stamp inside the message (imklog keeps it; so does `/proc/kmsg`).
    if (framing.uptime < 0 && line.charCodeAt(m) === 91) {
      const e = framing.stamp(line, m);
      if (e > 0) m = e;
    }

    let trace: TraceStep | undefined;
    let bodyStart: number;
    if (line.startsWith('TRACE: ', m) && !line.startsWith('IN=', m + 7)) {
      const sp = line.indexOf(' ', m + 7);
      const tokEnd = sp < 0 ? n : sp;
      const t = traceStep(line, m + 7, tokEnd);
      if (typeof t === 'string') return fail(KERNEL_LOG_ERROR_CODES.tracePrefix, lineNo, t, line);
      trace = t;
      bodyStart = tokEnd + 1;
      if (sp < 0 || !line.startsWith('IN=', bodyStart))
        return fail(
          KERNEL_LOG_ERROR_CODES.tracePrefix,
          lineNo,
          `TRACE prefix "${line.slice(m, tokEnd)}" is not followed by "IN="`,
          line,
        );
    } else {
      bodyStart = findBody(line, m);
      if (bodyStart < 0) return null;
      // An unrecognised framing in front of a TRACE line: the TRACE prefix is still the prefix.
      const t = line.lastIndexOf('TRACE: ', bodyStart);
      if (t > m && !framing.syslog && framing.uptime < 0 && framing.ts === undefined) {
        const sp = line.indexOf(' ', t + 7);
        if (sp + 1 === bodyStart) {
          const step = traceStep(line, t + 7, sp);
          if (typeof step === 'string') return fail(KERNEL_LOG_ERROR_CODES.tracePrefix, lineNo, step, line);
          trace = step;
          m = t;
        }
      }
    }

    if (framing.tsError !== undefined)
      return fail(KERNEL_LOG_ERROR_CODES.timestamp, lineNo, framing.tsError, line);

    // The kernel cuts records at its buffer size; a record of exactly that size may have lost its tail.
    const bytes = n - m >= KERNEL_LINE_LIMIT_BYTES - 1 ? byteLength(line, m) : 0;
    const cut = bytes === KERNEL_LINE_LIMIT_BYTES || bytes === KERNEL_LINE_LIMIT_BYTES - 1;
    // On a cut record only whole tokens are trusted: drop the one the cut went through (a closing paren is
    // whole by itself).
    const end = cut && line.charCodeAt(n - 1) !== 41 ? line.lastIndexOf(' ', n - 1) + 1 || n : n;
    const netfilter: NetfilterEvent['netfilter'] = { prefix: line.slice(m, bodyStart) };
    if (trace) netfilter.trace = trace;
    const body = parseNfLogBodyAt(line, bodyStart, end, cut, netfilter);
    if (!('observer' in body))
      return fail(
        KERNEL_LOG_ERROR_CODES.malformed,
        lineNo,
        `${trace ? 'TRACE' : 'netfilter log'} line: ${body.reason} at column ${body.offset + 1}` +
          found(line, body.offset),
        line,
      );
    if (cut) netfilter.truncated = true;

    const ev = envelope(line, lineNo, trace !== undefined);
    ev.observer = body.observer;
    if (body.source) ev.source = body.source;
    if (body.destination) ev.destination = body.destination;
    ev.network = body.network;
    if (body.user) {
      ev.user = body.user;
      ev.group = body.group!;
    }
    ev.netfilter = netfilter;
    return ev;
  };

  /** The common part of every event, in output key order. */
  function envelope(line: string, lineNo: number, isTrace: boolean): NetfilterEvent {
    const ev = {} as NetfilterEvent;
    if (framing.ts !== undefined) ev['@timestamp'] = framing.ts;
    const rt: NetfilterEvent['ruletrail'] = {
      schema: '1',
      channel: 'kernel-log',
      origin: { file, line: lineNo },
    };
    if (framing.uptime >= 0) rt.uptime = framing.uptime;
    if (framing.noYear) rt.timestampHasYear = false;
    ev.ruletrail = rt;
    ev.event = keepOriginal
      ? { kind: 'event', dataset: isTrace ? 'netfilter.trace' : 'netfilter.log', original: line }
      : { kind: 'event', dataset: isTrace ? 'netfilter.trace' : 'netfilter.log' };
    const host = framing.host ?? defaultHost;
    if (host !== undefined) ev.host = { name: host };
    return ev;
  }
}

/**
 * `<table>:<chain>:<kind>:<rulenum>` between `a` and `b`. The table name never has a colon, but a user chain
 * name can (`iptables -N 'a:b'` is accepted), so kind and rule number are split off from the right.
 */
function traceStep(s: string, a: number, b: number): TraceStep | string {
  // One pass for the colons: the first ends the table, the last two frame the kind.
  let c1 = -1;
  let c2 = -1;
  let c3 = -1;
  for (let i = a; i < b; i++) {
    if (s.charCodeAt(i) === 58) {
      if (c1 < 0) c1 = i;
      c2 = c3;
      c3 = i;
    }
  }
  if (c1 < 0 || c2 <= c1)
    return `TRACE prefix "${s.slice(a, b)}" is not <table>:<chain>:<rule|return|policy>:<rulenum>`;
  if (c1 === a) return `TRACE prefix "${s.slice(a, b)}" has an empty table name`;
  if (c2 === c1 + 1) return `TRACE prefix "${s.slice(a, b)}" has an empty chain name`;
  const klen = c3 - c2 - 1;
  const kind: TraceStep['kind'] | undefined =
    klen === 4 && s.startsWith('rule', c2 + 1)
      ? 'rule'
      : klen === 6 && s.startsWith('policy', c2 + 1)
        ? 'policy'
        : klen === 6 && s.startsWith('return', c2 + 1)
          ? 'return'
          : undefined;
  if (kind === undefined)
    return (
      `TRACE prefix "${s.slice(a, b)}": unknown kind "${s.slice(c2 + 1, c3)}" ` +
      '(expected rule, return or policy)'
    );
  let rulenum = 0;
  for (let i = c3 + 1; i < b; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57)
      return `TRACE prefix "${s.slice(a, b)}": rule number "${s.slice(c3 + 1, b)}" is not a number`;
    rulenum = rulenum * 10 + (c - 48);
  }
  if (b === c3 + 1 || b - c3 - 1 > 10)
    return `TRACE prefix "${s.slice(a, b)}": rule number "${s.slice(c3 + 1, b)}" is not a number`;
  if (rulenum < 1) return `TRACE prefix "${s.slice(a, b)}": rule number ${rulenum} is below 1`;
  return { table: tableName(s, a, c1), chain: s.slice(c1 + 1, c2), kind, rulenum };
}

/** The five iptables table names as shared constants (no allocation); anything else sliced. */
function tableName(s: string, a: number, e: number): string {
  switch (e - a) {
    case 3:
      if (s.startsWith('raw', a)) return 'raw';
      if (s.startsWith('nat', a)) return 'nat';
      break;
    case 6:
      if (s.startsWith('mangle', a)) return 'mangle';
      if (s.startsWith('filter', a)) return 'filter';
      break;
    case 8:
      if (s.startsWith('security', a)) return 'security';
      break;
  }
  return s.slice(a, e);
}

/**
 * Where the nf_log payload starts: the first `IN=<dev> OUT=` after `m` (a `--log-prefix` need not end with a
 * space: `DROP:IN=eth0 OUT=`). -1 when the message is not a netfilter log.
 */
function findBody(s: string, m: number): number {
  let i = s.indexOf('IN=', m);
  while (i >= 0) {
    const sp = s.indexOf(' ', i + 3);
    if (sp < 0) return -1;
    if (s.startsWith('OUT=', sp + 1)) return i;
    i = s.indexOf('IN=', i + 3);
  }
  return -1;
}

/** UTF-8 length of `s` from `from` (surrogate pairs count 2 + 2). */
function byteLength(s: string, from: number): number {
  let n = s.length - from;
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) n += c < 0x800 || (c >= 0xd800 && c <= 0xdfff) ? 1 : 2;
  }
  return n;
}

function found(line: string, offset: number): string {
  if (offset >= line.length) return ' (the line ends there)';
  const t = line.slice(offset, offset + 24);
  return ` (found "${t}${line.length > offset + 24 ? '…' : ''}")`;
}

const parsers = new WeakMap<DecodeOptions, KernelLogLineParser>();

/**
 * Parses one kernel-log line: an event for a TRACE step or a packet log, an `InputError` for a netfilter line
 * that does not follow the kernel's format, `null` for any other line (not netfilter: skipped). The parser
 * (and its caches) is kept per `options` object, so pass the same object for every line of an input.
 */
export function parseKernelLogLine(line: string, lineNo: number, options: DecodeOptions): LineResult {
  let p = parsers.get(options);
  if (p === undefined) {
    p = createKernelLogParser(options);
    parsers.set(options, p);
  }
  return p(line, lineNo);
}
