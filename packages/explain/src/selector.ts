/**
 * `--packet` selectors: pick packets the way the original workflow did (by the TCP options hex, which works as
 * an approximate trace id because it carries the TCP timestamp), by IP ID, or by 5-tuple fields.
 *
 *   opt=020405B40402080A…   TCP options as the kernel prints them in `OPT (…)` (a bare hex string works too)
 *   id=41569                IP ID
 *   src=172.28.129.2,dport=52000,proto=tcp   any of src, dst, sport, dport, proto (all given must match)
 *
 * A packet matches when any of its steps matches, so `dport=52000` also finds packets DNAT'ed to 52000.
 */
import { UsageError } from '@ruletrail/core';
import { canonicalIp } from '@ruletrail/core';
import type { NetfilterEvent } from '@ruletrail/event';

/** A parsed selector. */
export interface PacketSelector {
  readonly opt?: string;
  readonly id?: number;
  readonly src?: string;
  readonly dst?: string;
  readonly sport?: number;
  readonly dport?: number;
  readonly proto?: string;
  /**
   * A substring every kernel-log line of a matching packet contains, so text inputs can skip other lines
   * before parsing them. Only a pre-filter: packets are still checked with {@link selectorMatches}.
   */
  readonly kernelLineNeedle?: string;
}

const KEYS = new Set(['opt', 'id', 'src', 'dst', 'sport', 'dport', 'proto']);

/** Parses `--packet`. @throws UsageError naming the bad part. */
export function parseSelector(text: string): PacketSelector {
  const t = text.trim();
  if (/^[0-9a-fA-F]{8,}$/.test(t) && t.length % 2 === 0) return parseSelector(`opt=${t}`);
  const out: { -readonly [K in keyof PacketSelector]: PacketSelector[K] } = {};
  for (const part of t.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0)
      throw new UsageError(`--packet: expected key=value, got '${part}' (keys: ${[...KEYS].join(', ')})`);
    const k = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (!KEYS.has(k)) throw new UsageError(`--packet: unknown key '${k}' (keys: ${[...KEYS].join(', ')})`);
    if (v === '') throw new UsageError(`--packet: empty value for '${k}'`);
    switch (k) {
      case 'opt':
        if (!/^[0-9a-fA-F]+$/.test(v)) throw new UsageError(`--packet: opt must be hex, got '${v}'`);
        out.opt = v.toUpperCase();
        break;
      case 'id':
      case 'sport':
      case 'dport': {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0)
          throw new UsageError(`--packet: ${k} must be a non-negative integer, got '${v}'`);
        out[k] = n;
        break;
      }
      case 'src':
      case 'dst':
        out[k] = canonicalIp(v);
        break;
      case 'proto':
        out.proto = v.toLowerCase();
        break;
    }
  }
  if (out.opt) out.kernelLineNeedle = `OPT (${out.opt})`;
  else if (out.id !== undefined) out.kernelLineNeedle = `ID=${out.id} `;
  return out;
}

/** Whether one event matches every field the selector gives. */
function eventMatches(s: PacketSelector, e: NetfilterEvent): boolean {
  const nf = e.netfilter;
  if (s.opt !== undefined && nf.tcp?.options?.toUpperCase() !== s.opt) return false;
  if (s.id !== undefined && nf.ip?.id !== s.id) return false;
  if (s.src !== undefined && e.source?.ip !== s.src) return false;
  if (s.dst !== undefined && e.destination?.ip !== s.dst) return false;
  if (s.sport !== undefined && e.source?.port !== s.sport) return false;
  if (s.dport !== undefined && e.destination?.port !== s.dport) return false;
  if (s.proto !== undefined && e.network.transport !== s.proto) return false;
  return true;
}

/** Whether a packet (its events) matches. */
export function selectorMatches(s: PacketSelector, events: readonly NetfilterEvent[]): boolean {
  return events.some((e) => eventMatches(s, e));
}
