/**
 * ulogd2 JSON output (one JSON object per line, `ulogd_output_JSON.c`) → NetfilterEvents.
 *
 * Key names are what the JSON plugin writes: a key's `cim_name` when it has one (`src_ip`, `dest_ip`,
 * `src_port`, `dest_port`), else its ulogd name (`oob.prefix`, `ip.fragoff`, `tcp.syn`, …). Keys of type IPADDR or
 * RAW are never written, so addresses only exist when the IP2STR filter is in the stack, and TCP/IP options,
 * the ICMP gateway and the raw packet never exist at all: events name those in `netfilter.degraded`.
 *
 * Decisions:
 * - `dvc` (the JSON plugin's `device` option) becomes `host.name`, except ulogd's default "Netfilter", which
 *   names no host; then `options.host` is used.
 * - A file whose first IP record has no `src_ip`/`dest_ip` comes from a stack without IP2STR: the whole input is
 *   refused with a `UsageError` (every record would be an event without addresses, which explains nothing). A
 *   record without addresses after records with them (two stacks writing one file) is an `InputError`.
 */
import {
  CODE_TRACE_PREFIX,
  CODE_JSON_TOO_DEEP,
  CODE_LINE_TOO_LONG,
  MAX_JSON_DEPTH,
  MAX_PARSED_LINE_CHARS,
  jsonDepthExceeds,
  canonicalIp,
  ecsMac,
  InputError,
  UsageError,
  type DecodeOptions,
  type LineResult,
} from '@ruletrail/core';
import type { Icmp, Ip, NetfilterEvent, Tcp } from '@ruletrail/event';
import {
  ipv4FragOffsetBytes,
  ipv4Flags,
  isoFromEpoch,
  parsePrefix,
  splitTos,
  transportName,
  type TcpFlag,
} from '@ruletrail/core';

const CODE_JSON = 'RT_ERR_ULOGD_JSON';
const CODE_RECORD = 'RT_ERR_ULOGD_RECORD';
const ULOGD_DEFAULT_DEVICE = 'Netfilter';

/** Bounded memo for string conversions that repeat line after line (MACs, IPv6 addresses). */
function memo(fn: (s: string) => string, max = 4096): (s: string) => string {
  const m = new Map<string, string>();
  return (k) => {
    let v = m.get(k);
    if (v === undefined) {
      if (m.size >= max) m.clear();
      v = fn(k);
      m.set(k, v);
    }
    return v;
  };
}
const macMemo = memo(ecsMac);
const ipMemo = memo(canonicalIp);
const addr = (a: string): string => (a.indexOf(':') < 0 ? a : ipMemo(a));

type Json = Record<string, unknown>;

/** A key had a value of the wrong JSON type. */
class BadKey extends Error {}

function int(o: Json, key: string): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
    throw new BadKey(`"${key}" is ${JSON.stringify(v)}, expected a non-negative integer`);
  return v;
}

function str(o: Json, key: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new BadKey(`"${key}" is ${JSON.stringify(v)}, expected a string`);
  return v;
}

const LOCAL_TS = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(?:([+-])(\d\d):?(\d\d)|Z)$/;

/**
 * ulogd's `timestamp` is local time with a `+hhmm` offset (`2023-01-05T11:04:26.620815+0800`). The result keeps the
 * wall clock and the offset, written `+08:00`. When `oob.time.sec` is there too, the offset is re-derived from it:
 * ulogd computes the sign from the hour part, so zones within an hour west of UTC come out with the wrong sign.
 */
function normaliseTimestamp(ts: string, sec: number | undefined): string | undefined {
  // Records come in bursts within one second: reuse the offset worked out for the same wall-clock second.
  const head = ts.slice(0, 19);
  if (sec === tsCache.sec && head === tsCache.head && ts.length > 24) {
    const rest = ts.slice(19);
    const frac = /^\.\d+/.exec(rest)?.[0] ?? '';
    if (rest.length === frac.length + 5 || rest.length === frac.length + 6)
      return `${head}${frac}${tsCache.off}`;
  }
  const m = LOCAL_TS.exec(ts);
  if (!m) return undefined;
  const wall = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) / 1000;
  let offMin = m[8] === undefined ? 0 : (m[8] === '-' ? -1 : 1) * (+m[9]! * 60 + +m[10]!);
  if (sec !== undefined) {
    const derived = Math.round((wall - sec) / 60);
    if (Math.abs(derived) <= 18 * 60) offMin = derived;
  }
  const sign = offMin < 0 ? '-' : '+';
  const a = Math.abs(offMin);
  const off = `${sign}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
  if (sec !== undefined) {
    tsCache.sec = sec;
    tsCache.head = head;
    tsCache.off = off;
  }
  return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${m[7] ?? ''}${off}`;
}

const tsCache = { sec: -1 as number | undefined, head: '', off: '' };

const NFPROTO = { INET: 2, ARP: 3, BRIDGE: 7, INET6: 10 } as const;

/** Per-file state: whether records with addresses were seen (the IP2STR check). */
export interface FileState {
  sawAddresses: boolean;
}

/** One ulogd JSON line → event, `null` (not a packet record: NFCT flows, NFACCT sums) or an InputError. */
export function parseUlogdLine(
  line: string,
  lineNo: number,
  options: DecodeOptions,
  state: FileState = { sawAddresses: true },
): LineResult {
  const pos = { file: options.file, line: lineNo };
  let o: unknown;
  if (line.length > MAX_PARSED_LINE_CHARS)
    return new InputError(
      CODE_LINE_TOO_LONG,
      pos,
      `line is ${line.length} characters, over the cap of ${MAX_PARSED_LINE_CHARS} (not parsed)`,
      line,
      256,
    );
  // A flat record is 1 level deep: refuse a `[[[[…` line before parsing it (bounded cost per record).
  if (jsonDepthExceeds(line, MAX_JSON_DEPTH))
    return new InputError(
      CODE_JSON_TOO_DEEP,
      pos,
      `JSON nested deeper than ${MAX_JSON_DEPTH} levels`,
      line,
      256,
    );
  // A record is an object: anything else is refused without JSON.parse, and a malformed one is parsed with no
  // stack capture — a garbage input of 300,000 short bad lines spent 3.6 s of CPU building SyntaxError stacks
  // (fuzzing, issue #15).
  if (line.charCodeAt(0) !== 0x7b && !/^\s*\{/.test(line))
    return new InputError(CODE_JSON, pos, 'a ulogd JSON record must be an object', line);
  const stackLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    o = JSON.parse(line);
  } catch (e) {
    return new InputError(CODE_JSON, pos, `malformed JSON: ${(e as Error).message}`, line);
  } finally {
    Error.stackTraceLimit = stackLimit;
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o))
    return new InputError(CODE_JSON, pos, 'a ulogd JSON record must be an object', line);
  const rec = o as Json;
  if (!('oob.family' in rec) && !('raw.pktlen' in rec) && !('oob.prefix' in rec)) return null;
  try {
    return build(rec, line, pos, options, state);
  } catch (e) {
    if (e instanceof BadKey) return new InputError(CODE_RECORD, pos, e.message, line);
    throw e;
  }
}

function build(
  rec: Json,
  line: string,
  pos: { file: string; line: number },
  options: DecodeOptions,
  state: FileState,
): LineResult {
  const prefix = str(rec, 'oob.prefix');
  const info = prefix === undefined ? ({ kind: 'log' } as const) : parsePrefix(prefix);
  if (info.kind === 'bad-trace') return new InputError(CODE_TRACE_PREFIX, pos, info.reason, line);

  const family = int(rec, 'oob.family');
  const ethertype = int(rec, 'oob.protocol');
  let l3 = family;
  if (family === NFPROTO.BRIDGE)
    l3 =
      ethertype === 0x0800
        ? NFPROTO.INET
        : ethertype === 0x86dd
          ? NFPROTO.INET6
          : ethertype === 0x0806
            ? NFPROTO.ARP
            : undefined;
  const type: NetfilterEvent['network']['type'] =
    l3 === NFPROTO.INET
      ? 'ipv4'
      : l3 === NFPROTO.INET6
        ? 'ipv6'
        : l3 === NFPROTO.ARP
          ? 'arp'
          : family === NFPROTO.BRIDGE
            ? 'bridge'
            : 'unknown';

  const srcIp = str(rec, 'src_ip') ?? str(rec, 'arp.saddr.str');
  const dstIp = str(rec, 'dest_ip') ?? str(rec, 'arp.daddr.str');
  const hasIpHeader =
    rec['ip.protocol'] !== undefined || rec['ip.totlen'] !== undefined || rec['ip6.payloadlen'] !== undefined;
  if ((type === 'ipv4' || type === 'ipv6') && hasIpHeader && srcIp === undefined && dstIp === undefined) {
    if (!state.sawAddresses)
      throw new UsageError(
        `${options.file}:${pos.line}: ulogd JSON records have no src_ip/dest_ip: the ulogd stack lacks the IP2STR filter ` +
          '(the JSON plugin drops raw IPADDR keys). Add it, e.g. stack=log1:NFLOG,base1:BASE,ifi1:IFINDEX,ip2str1:IP2STR,mac2str1:HWHDR,json1:JSON',
      );
    return new InputError(
      CODE_RECORD,
      pos,
      'record has no src_ip/dest_ip (written by a stack without IP2STR?)',
      line,
    );
  }
  if (srcIp !== undefined || dstIp !== undefined) state.sawAddresses = true;

  const netfilter: NonNullable<NetfilterEvent['netfilter']> = {};
  const degraded: string[] = [];
  const ev: NetfilterEvent = {
    ruletrail: { schema: '1', channel: 'ulogd-json', origin: { file: options.file, line: pos.line } },
    event: { kind: 'event', dataset: info.kind === 'trace' ? 'netfilter.trace' : 'netfilter.log' },
    network: { type },
    netfilter,
  };
  const sec = int(rec, 'oob.time.sec');
  const usec = int(rec, 'oob.time.usec');
  const tsText = str(rec, 'timestamp') ?? str(rec, '@timestamp');
  const ts =
    (tsText !== undefined ? normaliseTimestamp(tsText, sec) : undefined) ??
    (sec !== undefined ? isoFromEpoch(sec, usec ?? 0, 6) : undefined);
  if (ts !== undefined) ev['@timestamp'] = ts;
  const dvc = str(rec, 'dvc');
  const host = dvc !== undefined && dvc !== ULOGD_DEFAULT_DEVICE && dvc !== '' ? dvc : options.host;
  if (host !== undefined) ev.host = { name: host };
  if (options.keepOriginal) ev.event.original = line;

  if (prefix !== undefined) netfilter.prefix = prefix;
  if (info.kind === 'trace') netfilter.trace = info.trace;

  // interfaces (IFINDEX filter: "" when the packet had no such device, like the kernel's OUT=)
  const inName = str(rec, 'oob.in');
  const outName = str(rec, 'oob.out');
  if (inName !== undefined || outName !== undefined) {
    ev.observer = {};
    if (inName !== undefined) ev.observer.ingress = { interface: { name: inName } };
    if (outName !== undefined) ev.observer.egress = { interface: { name: outName } };
  } else degraded.push('observer.ingress.interface.name', 'observer.egress.interface.name');
  const ifIn = int(rec, 'oob.ifindex_in');
  const ifOut = int(rec, 'oob.ifindex_out');
  if (ifIn !== undefined || ifOut !== undefined) {
    netfilter.ifindex = {};
    if (ifIn !== undefined) netfilter.ifindex.in = ifIn;
    if (ifOut !== undefined) netfilter.ifindex.out = ifOut;
  }
  if (family === NFPROTO.BRIDGE) degraded.push('physin', 'physout');

  // addresses and ports
  const sport = int(rec, 'src_port');
  const dport = int(rec, 'dest_port');
  if (srcIp !== undefined || sport !== undefined) {
    ev.source = {};
    if (srcIp !== undefined) ev.source.ip = addr(srcIp);
    if (sport !== undefined) ev.source.port = sport;
  }
  if (dstIp !== undefined || dport !== undefined) {
    ev.destination = {};
    if (dstIp !== undefined) ev.destination.ip = addr(dstIp);
    if (dport !== undefined) ev.destination.port = dport;
  }

  // link layer (HWHDR)
  const macStr = str(rec, 'mac.str');
  const macSrc = str(rec, 'mac.saddr.str');
  const macDst = str(rec, 'mac.daddr.str');
  if (macStr !== undefined) {
    netfilter.mac = { header: macStr.toLowerCase() };
    const bytes = macStr.split(':');
    if (int(rec, 'raw.type') === 1 && bytes.length === 14)
      netfilter.mac.proto = `${bytes[12]}${bytes[13]}`.toLowerCase();
  }
  if (macSrc !== undefined && macSrc !== '') (ev.source ??= {}).mac = macMemo(macSrc);
  if (macDst !== undefined && macDst !== '') (ev.destination ??= {}).mac = macMemo(macDst);

  // IP
  const proto = int(rec, 'ip.protocol');
  const ip: Ip = {};
  if (type === 'ipv4') {
    const totlen = int(rec, 'ip.totlen');
    const tos = int(rec, 'ip.tos');
    const ttl = int(rec, 'ip.ttl');
    const id = int(rec, 'ip.id');
    const fragoff = int(rec, 'ip.fragoff');
    const ihl = int(rec, 'ip.ihl');
    if (totlen !== undefined) ip.len = totlen;
    if (tos !== undefined) Object.assign(ip, splitTos(tos));
    if (ttl !== undefined) ip.ttl = ttl;
    if (id !== undefined) ip.id = id;
    if (fragoff !== undefined) {
      ip.flags = ipv4Flags(fragoff); // possibly empty, as the kernel-log adapter sets it
      if (fragoff & 0x1fff) ip.fragOffset = ipv4FragOffsetBytes(fragoff);
    }
    if (ihl !== undefined && ihl > 5) degraded.push('ip.options');
  } else if (type === 'ipv6') {
    const plen = int(rec, 'ip6.payloadlen');
    const prio = int(rec, 'ip6.priority');
    const hop = int(rec, 'ip6.hoplimit');
    const flow = int(rec, 'ip6.flowlabel');
    const fragoff = int(rec, 'ip6.fragoff');
    const fragid = int(rec, 'ip6.fragid');
    if (plen !== undefined) ip.len = plen + 40;
    if (prio !== undefined) ip.tc = prio;
    if (hop !== undefined) ip.hoplimit = hop;
    if (flow !== undefined) ip.flowlabel = flow;
    // ulogd writes the fragment offset already in bytes (frag_off & IP6F_OFF_MASK)
    if (fragoff !== undefined) ip.fragOffset = fragoff;
    if (fragid !== undefined) ip.id = fragid;
    if (fragoff !== undefined || fragid !== undefined) degraded.push('ip.fragIncomplete');
    degraded.push('ip.options');
  }
  if (Object.keys(ip).length) netfilter.ip = ip;
  const pktlen = int(rec, 'raw.pktlen');
  if (pktlen !== undefined && ip.len !== undefined && pktlen < ip.len) netfilter.truncated = true;

  // For IPv6, BASE leaves ip.protocol unset on non-first fragments but still writes the header that follows
  // the fragment header as ip6.nexthdr: that is what the kernel prints as PROTO=.
  const ipProto = proto ?? (type === 'ipv6' ? int(rec, 'ip6.nexthdr') : undefined);
  if (ipProto !== undefined) {
    ev.network.transport = transportName(ipProto);
    ev.network.iana_number = String(ipProto);
  }
  // A non-first fragment carries no transport header: the kernel prints nothing after PROTO= either.
  const fragment = (ip.fragOffset ?? 0) > 0;
  switch (fragment ? undefined : ipProto) {
    case 6:
      tcp(rec, netfilter, degraded);
      break;
    case 17:
    case 136: {
      const len = int(rec, 'udp.len');
      if (len !== undefined) netfilter.udp = { length: len };
      break;
    }
    case 1:
      icmp(rec, 'icmp', netfilter, degraded);
      break;
    case 58:
      icmp(rec, 'icmpv6', netfilter, degraded);
      break;
    case 50:
    case 51: {
      // BASE's AH/ESP decoding is compiled out (#if 0): ahesp.spi is never written by current ulogd
      const spi = int(rec, 'ahesp.spi');
      if (spi !== undefined) netfilter.spi = spi;
      else degraded.push('spi');
      break;
    }
    default:
      break;
  }

  // out-of-band
  netfilter.mark = int(rec, 'oob.mark') ?? 0;
  const hook = int(rec, 'oob.hook');
  if (hook !== undefined) netfilter.hook = hook;
  const seqL = int(rec, 'oob.seq.local');
  const seqG = int(rec, 'oob.seq.global');
  if (seqL !== undefined || seqG !== undefined) {
    netfilter.seq = {};
    if (seqL !== undefined) netfilter.seq.local = seqL;
    if (seqG !== undefined) netfilter.seq.global = seqG;
  }
  const uid = int(rec, 'oob.uid');
  const gid = int(rec, 'oob.gid');
  if (uid !== undefined) ev.user = { id: String(uid) };
  if (gid !== undefined) ev.group = { id: String(gid) };
  if (degraded.length) netfilter.degraded = degraded;
  return ev;
}

/**
 * TCP from BASE's keys. ulogd cannot carry: options (never decoded), RES (its `tcp.reserved`/`tcp.offset` are
 * `ntohs()` of 4-bit fields, i.e. 0 on little-endian hosts), CWR vs ECE (both folded into the 2-bit `tcp.res2`),
 * AE (folded into `tcp.res1`), and URGP unless URG is set.
 */
function tcp(rec: Json, nf: NonNullable<NetfilterEvent['netfilter']>, degraded: string[]): void {
  const t: Tcp = {};
  const seq = int(rec, 'tcp.seq');
  const ack = int(rec, 'tcp.ackseq');
  const win = int(rec, 'tcp.window');
  const urgp = int(rec, 'tcp.urgp');
  if (seq !== undefined) t.seq = seq;
  if (ack !== undefined) t.ack = ack;
  if (win !== undefined) t.window = win;
  if (rec['tcp.syn'] !== undefined) {
    const flags: TcpFlag[] = [];
    const on = (k: string): boolean => (int(rec, k) ?? 0) !== 0;
    if (on('tcp.res1') || on('tcp.res2')) degraded.push('tcp.flags');
    for (const [k, f] of [
      ['tcp.urg', 'URG'],
      ['tcp.ack', 'ACK'],
      ['tcp.psh', 'PSH'],
      ['tcp.rst', 'RST'],
      ['tcp.syn', 'SYN'],
      ['tcp.fin', 'FIN'],
    ] as const)
      if (on(k)) flags.push(f);
    t.flags = flags;
  }
  if (urgp !== undefined) t.urgp = urgp;
  else degraded.push('tcp.urgp');
  degraded.push('tcp.res');
  if (int(rec, 'tcp.offset') !== 5) degraded.push('tcp.options');
  nf.tcp = t;
}

function icmp(
  rec: Json,
  p: 'icmp' | 'icmpv6',
  nf: NonNullable<NetfilterEvent['netfilter']>,
  degraded: string[],
): void {
  const type = int(rec, `${p}.type`);
  const code = int(rec, `${p}.code`);
  if (type === undefined) return;
  const ic: Icmp = { type };
  if (code !== undefined) ic.code = code;
  const id = int(rec, `${p}.echoid`);
  const seq = int(rec, `${p}.echoseq`);
  if (id !== undefined) ic.id = id;
  if (seq !== undefined) ic.seq = seq;
  if (p === 'icmp') {
    const mtu = int(rec, 'icmp.fragmtu');
    if (mtu !== undefined) ic.mtu = mtu;
    if (type === 3 || type === 4 || type === 5 || type === 11) degraded.push('inner');
    if (type === 5) degraded.push('icmp.gateway');
    if (type === 12) degraded.push('icmp.parameter');
  } else {
    if (type >= 1 && type <= 4) degraded.push('inner');
    if (type === 2) degraded.push('icmp.mtu');
    if (type === 4) degraded.push('icmp.parameter');
  }
  nf.icmp = ic;
}
