/**
 * Small pieces of the kernel's nf_log vocabulary that every non-text channel needs to produce the same event
 * fields the kernel-log adapter reads from text: the TRACE prefix grammar, the TCP flag order, the TOS/PREC
 * split, and the uppercase hex the kernel prints inside `OPT (…)`.
 *
 * Shared by the binary/JSON channels (nflog-pcap, ulogd-json, wireshark-csv) so they all match the kernel's text.
 */
import type { TraceStep } from '@ruletrail/event';

/** `TRACE: <table>:<chain>:<rule|return|policy>:<rulenum> ` (the kernel always appends one space). */
const TRACE_RE = /^TRACE: ([^:\s]+):(\S+):(rule|return|policy):(\d+) ?$/;

/** What a log prefix says: a TRACE step, a malformed TRACE prefix, or an ordinary --log-prefix. */
export type PrefixInfo =
  | { readonly kind: 'trace'; readonly trace: TraceStep }
  | { readonly kind: 'bad-trace'; readonly reason: string }
  | { readonly kind: 'log' };

/**
 * Error code of a `TRACE:` prefix that does not parse (`TRACE: table:chain:kind:rulenum`), whichever channel
 * carried it: every adapter raises this one code for it.
 */
export const CODE_TRACE_PREFIX = 'RT_ERR_TRACE_PREFIX';

/** Classifies a log prefix; a prefix that starts with `TRACE:` but does not parse is `bad-trace` (`CODE_TRACE_PREFIX`). */
export function parsePrefix(prefix: string): PrefixInfo {
  if (!prefix.startsWith('TRACE:')) return { kind: 'log' };
  const m = TRACE_RE.exec(prefix);
  if (!m)
    return {
      kind: 'bad-trace',
      reason: `TRACE prefix is not "TRACE: table:chain:kind:rulenum": ${JSON.stringify(prefix)}`,
    };
  const rulenum = Number(m[4]);
  if (!(rulenum >= 1))
    return { kind: 'bad-trace', reason: `TRACE prefix has rule number 0: ${JSON.stringify(prefix)}` };
  return {
    kind: 'trace',
    trace: { table: m[1]!, chain: m[2]!, kind: m[3] as TraceStep['kind'], rulenum },
  };
}

/** TCP flag words in the order nf_log_syslog.c prints them. */
export type TcpFlag = 'AE' | 'CWR' | 'ECE' | 'URG' | 'ACK' | 'PSH' | 'RST' | 'SYN' | 'FIN';

/**
 * Flags from TCP header bytes 12 and 13 (AE is the low bit of byte 12, RFC 9768 / Linux ≥ 6.12 prints it).
 */
export function tcpFlags(byte12: number, byte13: number): TcpFlag[] {
  const out: TcpFlag[] = [];
  if (byte12 & 0x01) out.push('AE');
  if (byte13 & 0x80) out.push('CWR');
  if (byte13 & 0x40) out.push('ECE');
  if (byte13 & 0x20) out.push('URG');
  if (byte13 & 0x10) out.push('ACK');
  if (byte13 & 0x08) out.push('PSH');
  if (byte13 & 0x04) out.push('RST');
  if (byte13 & 0x02) out.push('SYN');
  if (byte13 & 0x01) out.push('FIN');
  return out;
}

/** `RES=` as the kernel prints it: `(tcp_flag_word & TCP_RESERVED_BITS) >> 22`, reserved bits 0x0E000000. */
export function tcpRes(byte12: number): number {
  return (byte12 & 0x0e) << 2;
}

/** `TOS=` and `PREC=`: the kernel masks the TOS byte with IPTOS_TOS_MASK (0x1E) and IPTOS_PREC_MASK (0xE0). */
export function splitTos(tos: number): { tos: number; prec: number } {
  return { tos: tos & 0x1e, prec: tos & 0xe0 };
}

/** IPv4 flag words (CE = reserved bit 0x8000, DF 0x4000, MF 0x2000) from the raw 16-bit frag_off field. */
export function ipv4Flags(fragOff: number): Array<'CE' | 'DF' | 'MF'> {
  const out: Array<'CE' | 'DF' | 'MF'> = [];
  if (fragOff & 0x8000) out.push('CE');
  if (fragOff & 0x4000) out.push('DF');
  if (fragOff & 0x2000) out.push('MF');
  return out;
}

/** Fragment offset in bytes from the raw IPv4 frag_off field (the kernel prints 8-byte units). */
export function ipv4FragOffsetBytes(fragOff: number): number {
  return (fragOff & 0x1fff) * 8;
}

const HEX_UPPER: string[] = Array.from({ length: 256 }, (_, i) =>
  i.toString(16).toUpperCase().padStart(2, '0'),
);
const HEX_LOWER: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Bytes as the kernel prints options: `%02X` per byte, no separator. */
export function hexUpper(buf: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += HEX_UPPER[buf[i]!];
  return s;
}

/** Bytes as lowercase colon hex (`MAC=` / ulogd `mac.str`). */
export function hexColon(buf: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += (i > start ? ':' : '') + HEX_LOWER[buf[i]!];
  return s;
}

/** ECS MAC form (`00-15-5D-12-E2-24`) of 6 bytes. */
export function ecsMacBytes(buf: Uint8Array, start: number): string {
  let s = '';
  for (let i = 0; i < 6; i++) s += (i ? '-' : '') + HEX_UPPER[buf[start + i]!];
  return s;
}

/** IANA number and ECS transport name per IP protocol number, as every channel reports them. */
export function transportName(proto: number): string {
  switch (proto) {
    case 6:
      return 'tcp';
    case 17:
      return 'udp';
    case 136:
      return 'udplite';
    case 132:
      return 'sctp';
    case 1:
      return 'icmp';
    case 58:
      return 'ipv6-icmp';
    case 51:
      return 'ah';
    case 50:
      return 'esp';
    // not named by the kernel (it prints PROTO=<n>); named as the kernel-log adapter names them
    case 2:
      return 'igmp';
    case 33:
      return 'dccp';
    case 47:
      return 'gre';
    default:
      return String(proto);
  }
}

/**
 * ISO 8601 UTC timestamp from seconds and a sub-second fraction. `fracDigits` is 6 for µs sources, 9 for ns.
 * Undefined when the value cannot be a wall-clock time (corrupt record, or beyond year 9999).
 */
export function isoFromEpoch(seconds: number, frac: number, fracDigits: 6 | 9): string | undefined {
  const limit = fracDigits === 6 ? 1e6 : 1e9;
  if (!Number.isSafeInteger(seconds) || seconds < 0 || seconds > 253402300799 || !(frac >= 0 && frac < limit))
    return undefined;
  if (seconds !== lastSecond) {
    lastSecond = seconds;
    lastBase = new Date(seconds * 1000).toISOString().slice(0, 19);
  }
  return `${lastBase}.${String(frac).padStart(fracDigits, '0')}Z`;
}
// Consecutive records share their second: format it once.
let lastSecond = -1;
let lastBase = '';
