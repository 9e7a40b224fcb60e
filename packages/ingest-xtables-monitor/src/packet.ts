/**
 * The `PACKET:` line of `xtables-monitor --trace`: the headers the kernel attached to a trace event
 * (NFTA_TRACE_{IIF,OIF,NFPROTO,LL_HEADER,NETWORK_HEADER,TRANSPORT_HEADER,MARK}), as iptables'
 * `trace_print_packet()` (iptables/xtables-monitor.c) prints them:
 *
 *   PACKET: <family> <id %08x> [IN=<if>] [OUT=<if>] [NFPROTO=<n>]
 *           [MACSRC=<ether_ntoa> MACDST=<ether_ntoa> MACPROTO=%04x | LOOPBACK | LL=0x<type> <hex>]
 *           [SRC= DST= LEN= TOS=0x%x TTL= ID= [CE] [DF] [MF] [FRAG:n] [OPT (<HEX>)]      IPv4
 *            | SRC= DST= LEN= TC= HOPLIMIT= FLOWLBL=                                   IPv6
 *            | NH=<hex>]                                                              other
 *           [SPORT= DPORT= [SYN] [ACK] [FIN] [RST] [PSH] [URG]]                        TCP/UDP/UDPLITE/SCTP/DCCP
 *           [MARK=0x%x]
 *
 * Every token is followed by one space, except in builds before iptables 1.8.9 (commit 6c12201b, June 2022),
 * where `ID=%d` and `OPT (…)` had none: `ID=38349DF`, `ID=5SPORT=80`. Builds before 1.8.7 print the family
 * as the `-4`/`-6` filter value, i.e. `PACKET: 0 …` when no filter was given.
 *
 * What the channel cannot carry: no TCP SEQ/ACK/WINDOW/RES/URGP/options and no ECE/CWR/AE flags (only the six
 * flags above are printed), no UDP length, no ICMP fields at all, and no protocol number, so a packet without
 * a printed transport header has no known transport. IPv6 `LEN=` is the payload length + 20 (the code adds
 * `sizeof(struct iphdr)`), normalised here to + 40 as the kernel log prints it.
 */
import { canonicalIp, endpointOf } from '@ruletrail/core';
import type { Endpoint, Ip, NetfilterEvent, Tcp } from '@ruletrail/event';

/** The packet-derived part of an event, shared by every step that follows the PACKET line. */
export interface PacketFields {
  readonly observer: NonNullable<NetfilterEvent['observer']>;
  readonly source?: Endpoint;
  readonly destination?: Endpoint;
  readonly network: NetfilterEvent['network'];
  /** Netfilter fields: mark, mac, ip, tcp (no trace, no degraded). */
  readonly netfilter: Pick<NetfilterEvent['netfilter'], 'mark' | 'mac' | 'ip' | 'tcp'>;
  /** Fields this packet would have in the kernel log but this channel cannot print. */
  readonly degraded: readonly string[];
}

/** A parsed PACKET line. */
export interface PacketLine {
  /** Family number as printed (0 in builds before 1.8.7 without -4/-6). */
  readonly family: number;
  /** Trace id, 8 lowercase hex digits. */
  readonly id: string;
  readonly fields: PacketFields;
}

/** Network types by NFPROTO number. */
const NETWORK_TYPE: Readonly<Record<number, NetfilterEvent['network']['type']>> = {
  2: 'ipv4',
  10: 'ipv6',
  3: 'arp',
  7: 'bridge',
};

/** What the channel never prints, per transport, in the kernel-log adapter's field names. */
const TCP_DEGRADED = [
  'tcp.seq',
  'tcp.ack',
  'tcp.window',
  'tcp.res',
  'tcp.urgp',
  'tcp.options',
  'tcp.flags.AE',
  'tcp.flags.CWR',
  'tcp.flags.ECE',
] as const;
const TCP_FLAG_ORDER = ['AE', 'CWR', 'ECE', 'URG', 'ACK', 'PSH', 'RST', 'SYN', 'FIN'] as const;
type TcpFlag = (typeof TCP_FLAG_ORDER)[number];
const PRINTED_TCP_FLAGS = new Set<string>(['SYN', 'ACK', 'FIN', 'RST', 'PSH', 'URG']);

/** Why a PACKET line does not follow the format. */
export class PacketSyntaxError {
  constructor(readonly reason: string) {}
}

/**
 * Parses a PACKET line (leading spaces allowed). `traceFamily` is the family of the trace the line belongs to,
 * used when the line prints 0 (pre-1.8.7 builds).
 */
export function parsePacketLine(line: string): PacketLine | PacketSyntaxError {
  let s = line.trimStart();
  if (!s.startsWith('PACKET: ')) return new PacketSyntaxError('not a PACKET line');
  // Pre-1.8.9 builds glue `ID=%d` and `OPT (…)` to the next token; put the space back.
  s = s.replace(/ ID=(\d+)(?=[^\d\s])/, ' ID=$1 ').replace(/( OPT \([0-9A-Fa-f]*\))(?=\S)/, '$1 ');
  const tokens = s.slice(8).split(' ');
  while (tokens.length && tokens[tokens.length - 1] === '') tokens.pop();
  const famText = tokens[0] ?? '';
  const id = tokens[1] ?? '';
  if (!/^\d{1,3}$/.test(famText)) return new PacketSyntaxError(`family "${famText}" is not a number`);
  if (!/^[0-9a-f]{8}$/.test(id)) return new PacketSyntaxError(`trace id "${id}" is not 8 hex digits`);
  const family = Number(famText);

  let nfproto = family;
  let inIf: string | undefined;
  let outIf: string | undefined;
  let macSrc: string | undefined;
  let macDst: string | undefined;
  let macProto: string | undefined;
  let src: string | undefined;
  let dst: string | undefined;
  const ip: { -readonly [K in keyof Ip]: Ip[K] } = {};
  const ipFlags: ('CE' | 'DF' | 'MF')[] = [];
  let sport: number | undefined;
  let dport: number | undefined;
  const tcpFlags = new Set<TcpFlag>();
  let mark = 0;
  let v6 = false;
  let sawL3 = false;
  let unknownIf = false;

  for (let i = 2; i < tokens.length; i++) {
    const t = tokens[i]!;
    const eq = t.indexOf('=');
    const key = eq < 0 ? t : t.slice(0, eq);
    const val = eq < 0 ? '' : t.slice(eq + 1);
    switch (key) {
      case 'IN':
      case 'OUT':
        // if_indextoname() of an interface gone by print time gives NULL, which glibc prints as "(null)".
        if (val === '(null)') unknownIf = true;
        else if (key === 'IN') inIf = val;
        else outIf = val;
        break;
      case 'NFPROTO': {
        const n = int(val, 255);
        if (n === undefined) return bad(t);
        nfproto = n;
        break;
      }
      case 'MACSRC':
      case 'MACDST': {
        if (!/^[0-9a-f]{1,2}(:[0-9a-f]{1,2}){5}$/i.test(val)) return bad(t);
        if (key === 'MACSRC') macSrc = val;
        else macDst = val;
        break;
      }
      case 'MACPROTO':
        if (!/^[0-9a-f]{4}$/i.test(val)) return bad(t);
        macProto = val.toLowerCase();
        break;
      case 'LOOPBACK':
        break;
      case 'LL':
        // `LL=0x<type> <hex header>`: the header is the next token.
        if (!/^0x[0-9a-f]+$/i.test(val)) return bad(t);
        if (i + 1 < tokens.length && /^[0-9a-f]*$/i.test(tokens[i + 1]!)) i++;
        break;
      case 'SRC':
      case 'DST': {
        if (!/^[0-9a-fA-F.:]+$/.test(val)) return bad(t);
        if (val.includes(':')) v6 = true;
        sawL3 = true;
        if (key === 'SRC') src = canonicalIp(val);
        else dst = canonicalIp(val);
        break;
      }
      case 'LEN': {
        const n = int(val, 0xffff + 40);
        if (n === undefined) return bad(t);
        ip.len = n;
        break;
      }
      case 'TOS': {
        if (!/^0x[0-9a-f]{1,2}$/i.test(val)) return bad(t);
        // The byte as a whole; the kernel log splits it into TOS (& 0x1E) and PREC (& 0xE0).
        const b = parseInt(val.slice(2), 16);
        ip.tos = b & 0x1e;
        ip.prec = b & 0xe0;
        break;
      }
      case 'TTL':
      case 'HOPLIMIT': {
        const n = int(val, 255);
        if (n === undefined) return bad(t);
        if (key === 'TTL') ip.ttl = n;
        else ip.hoplimit = n;
        break;
      }
      case 'ID': {
        const n = int(val, 0xffff);
        if (n === undefined) return bad(t);
        ip.id = n;
        break;
      }
      case 'CE':
      case 'DF':
      case 'MF':
        ipFlags.push(key);
        break;
      case 'TC':
      case 'FLOWLBL': {
        const n = int(val, 0xfffff);
        if (n === undefined) return bad(t);
        if (key === 'TC') ip.tc = n;
        else ip.flowlabel = n;
        break;
      }
      case 'OPT': {
        const next = tokens[i + 1];
        if (next === undefined || !/^\([0-9A-Fa-f]*\)$/.test(next)) return bad(t);
        ip.options = next.slice(1, -1).toUpperCase();
        i++;
        break;
      }
      case 'NH':
        if (!/^[0-9a-f]*$/i.test(val)) return bad(t);
        sawL3 = true;
        break;
      case 'SPORT':
      case 'DPORT': {
        const n = int(val, 0xffff);
        if (n === undefined) return bad(t);
        if (key === 'SPORT') sport = n;
        else dport = n;
        break;
      }
      case 'MARK': {
        if (!/^0x[0-9a-f]{1,8}$/i.test(val)) return bad(t);
        mark = parseInt(val.slice(2), 16);
        break;
      }
      default:
        if (key.startsWith('FRAG:')) {
          const n = int(key.slice(5), 0x1fff);
          if (n === undefined) return bad(t);
          // Printed in 8-byte units, as the IP header holds it; the schema wants bytes.
          ip.fragOffset = n * 8;
          break;
        }
        if (PRINTED_TCP_FLAGS.has(key) && eq < 0) {
          tcpFlags.add(key as TcpFlag);
          break;
        }
        return bad(t);
    }
  }

  const network: { -readonly [K in keyof NetfilterEvent['network']]: NetfilterEvent['network'][K] } = {
    type: NETWORK_TYPE[nfproto] ?? (sawL3 ? (v6 ? 'ipv6' : 'ipv4') : 'unknown'),
  };
  if (nfproto === 0 && sawL3) network.type = v6 ? 'ipv6' : 'ipv4';
  if (network.type === 'ipv6') v6 = true;
  const degraded: string[] = ['@timestamp'];
  // TCP is the only transport whose line carries flag words; SPORT/DPORT alone are UDP, UDP-Lite, SCTP or DCCP.
  const isTcp = tcpFlags.size > 0;
  if (isTcp) {
    network.transport = 'tcp';
    network.iana_number = '6';
  } else if (sawL3) degraded.push('network.transport');

  const observer: PacketFields['observer'] = {
    ingress: { interface: { name: inIf ?? '' } },
    egress: { interface: { name: outIf ?? '' } },
  };
  if (unknownIf) degraded.push('observer.interface.name');
  const source = endpointOf(src, sport, macSrc);
  const destination = endpointOf(dst, dport, macDst);

  const netfilter: { -readonly [K in keyof PacketFields['netfilter']]: PacketFields['netfilter'][K] } = {
    mark,
  };
  if (macSrc !== undefined && macDst !== undefined && macProto !== undefined) {
    // The kernel log's `MAC=` is the raw header dst(6) src(6) ethertype(2); rebuild it from the three fields.
    netfilter.mac = {
      header: `${padMac(macDst)}:${padMac(macSrc)}:${macProto.slice(0, 2)}:${macProto.slice(2)}`,
      proto: macProto,
    };
  }
  if (sawL3) {
    if (v6) {
      // xtables-monitor adds sizeof(struct iphdr) = 20 to the payload length; the kernel log adds 40.
      if (ip.len !== undefined) ip.len += 20;
      degraded.push('ip.id', 'ip.fragOffset');
    } else ip.flags = ipFlags;
    netfilter.ip = ip;
  }
  if (isTcp) {
    const t: Tcp = { flags: TCP_FLAG_ORDER.filter((f) => tcpFlags.has(f)) };
    netfilter.tcp = t;
    degraded.push(...TCP_DEGRADED);
  } else if (sport !== undefined) degraded.push('udp.length');
  else if (sawL3) degraded.push('icmp');

  const fields: PacketFields = {
    observer,
    ...(source ? { source } : {}),
    ...(destination ? { destination } : {}),
    network,
    netfilter,
    degraded,
  };
  return { family, id, fields };
}

function bad(token: string): PacketSyntaxError {
  return new PacketSyntaxError(`unexpected token "${token.length > 40 ? `${token.slice(0, 40)}…` : token}"`);
}

function int(text: string, max: number): number | undefined {
  if (!/^\d{1,10}$/.test(text)) return undefined;
  const n = Number(text);
  return n <= max ? n : undefined;
}

/** glibc's ether_ntoa does not zero-pad (`2:72:74:0:0:2`); the kernel log does. */
function padMac(mac: string): string {
  return mac
    .split(':')
    .map((b) => b.padStart(2, '0').toLowerCase())
    .join(':');
}
