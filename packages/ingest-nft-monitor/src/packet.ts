/**
 * The `packet:` line of `nft monitor trace` (nftables `trace_print_packet()`): the headers the kernel attached
 * to a trace event, printed as nft payload statements:
 *
 *   trace id 8803d4e4 ip trace prerouting packet: iif "eth0" ether saddr 02:72:74:00:00:02
 *     ether daddr 02:72:74:00:00:04 ip saddr 172.28.129.2 ip daddr 172.28.129.4 ip dscp cs0 ip ecn not-ect
 *     ip ttl 64 ip id 16734 ip length 60 tcp sport 44182 tcp dport 52000 tcp flags == syn tcp window 64240
 *
 * nft leaves out checksums, fields its protocol descriptions filter (TCP sequence/ack/data offset/urgent
 * pointer, the IPv4 flags and fragment offset) and headers implied by the next one (`ip protocol tcp` before
 * `tcp …`, `ether type ip`). Several TCP flags print as hex (`tcp flags == 0x18`). Bytes it cannot attribute to
 * a field print raw (`@th,64,96 0x…`) and are skipped. The mark is not on this line (see trace-line.ts).
 */
import { canonicalIp, endpointOf } from '@ruletrail/core';
import type { Endpoint, Icmp, Ip, NetfilterEvent, Tcp } from '@ruletrail/event';

/** The packet-derived part of an event, shared by every step that follows the packet line. */
export interface PacketFields {
  readonly observer: NonNullable<NetfilterEvent['observer']>;
  readonly source?: Endpoint;
  readonly destination?: Endpoint;
  readonly network: NetfilterEvent['network'];
  /** Netfilter fields: mac, ip, tcp, udp, icmp (no trace, mark or degraded). */
  readonly netfilter: Pick<NetfilterEvent['netfilter'], 'mac' | 'ip' | 'tcp' | 'udp' | 'icmp'>;
  /** Fields the kernel log would have for this packet but this line does not print. */
  readonly degraded: readonly string[];
}

/** Why a packet line does not follow the format. */
export class PacketSyntaxError {
  constructor(readonly reason: string) {}
}

/** Protocol words that start a `<proto> <field> [==] <value>` statement. */
const PROTOCOLS = new Set([
  'ether',
  'vlan',
  'arp',
  'ip',
  'ip6',
  'tcp',
  'udp',
  'udplite',
  'sctp',
  'dccp',
  'icmp',
  'icmpv6',
  'igmp',
  'ah',
  'esp',
  'comp',
  'th',
  'gre',
  'meta',
]);
/** Transport protocols by the word nft uses, with their IANA numbers. */
const TRANSPORTS: Readonly<Record<string, [string, string]>> = {
  tcp: ['tcp', '6'],
  udp: ['udp', '17'],
  udplite: ['udplite', '136'],
  sctp: ['sctp', '132'],
  dccp: ['dccp', '33'],
  icmp: ['icmp', '1'],
  icmpv6: ['ipv6-icmp', '58'],
  'ipv6-icmp': ['ipv6-icmp', '58'],
  igmp: ['igmp', '2'],
  ah: ['ah', '51'],
  esp: ['esp', '50'],
  gre: ['gre', '47'],
};
/** nft's dscp symbols (proto.c dscp_type). */
const DSCP: Readonly<Record<string, number>> = {
  cs0: 0,
  cs1: 8,
  cs2: 16,
  cs3: 24,
  cs4: 32,
  cs5: 40,
  cs6: 48,
  cs7: 56,
  df: 0,
  be: 0,
  lephb: 1,
  af11: 10,
  af12: 12,
  af13: 14,
  af21: 18,
  af22: 20,
  af23: 22,
  af31: 26,
  af32: 28,
  af33: 30,
  af41: 34,
  af42: 36,
  af43: 38,
  va: 44,
  ef: 46,
};
const ECN: Readonly<Record<string, number>> = { 'not-ect': 0, ect1: 1, ect0: 2, ce: 3 };
/** TCP flag bits by nft name (`ecn` is ECE), and the kernel log's word for each. */
const TCP_FLAG_BITS: readonly [string, number, string][] = [
  ['fin', 0x01, 'FIN'],
  ['syn', 0x02, 'SYN'],
  ['rst', 0x04, 'RST'],
  ['psh', 0x08, 'PSH'],
  ['ack', 0x10, 'ACK'],
  ['urg', 0x20, 'URG'],
  ['ecn', 0x40, 'ECE'],
  ['cwr', 0x80, 'CWR'],
];
const KERNEL_FLAG_ORDER = ['AE', 'CWR', 'ECE', 'URG', 'ACK', 'PSH', 'RST', 'SYN', 'FIN'] as const;
type KernelFlag = (typeof KERNEL_FLAG_ORDER)[number];
/** nft's icmp_type / icmpv6_type / code symbols. */
const ICMP_TYPES: Readonly<Record<string, number>> = {
  'echo-reply': 0,
  'destination-unreachable': 3,
  'source-quench': 4,
  redirect: 5,
  'echo-request': 8,
  'router-advertisement': 9,
  'router-solicitation': 10,
  'time-exceeded': 11,
  'parameter-problem': 12,
  'timestamp-request': 13,
  'timestamp-reply': 14,
  'info-request': 15,
  'info-reply': 16,
  'address-mask-request': 17,
  'address-mask-reply': 18,
};
const ICMPV6_TYPES: Readonly<Record<string, number>> = {
  'destination-unreachable': 1,
  'packet-too-big': 2,
  'time-exceeded': 3,
  'parameter-problem': 4,
  'echo-request': 128,
  'echo-reply': 129,
  'mld-listener-query': 130,
  'mld-listener-report': 131,
  'mld-listener-done': 132,
  'mld-listener-reduction': 132,
  'nd-router-solicit': 133,
  'nd-router-advert': 134,
  'nd-neighbor-solicit': 135,
  'nd-neighbor-advert': 136,
  'nd-redirect': 137,
  'router-renumbering': 138,
  'ind-neighbor-solicit': 141,
  'ind-neighbor-advert': 142,
  'mld2-listener-report': 143,
};
const ICMP_CODES: Readonly<Record<string, number>> = {
  'net-unreachable': 0,
  'host-unreachable': 1,
  'prot-unreachable': 2,
  'port-unreachable': 3,
  'frag-needed': 4,
  'net-prohibited': 9,
  'host-prohibited': 10,
  'admin-prohibited': 13,
};
const ICMPV6_CODES: Readonly<Record<string, number>> = {
  'no-route': 0,
  'admin-prohibited': 1,
  'addr-unreachable': 3,
  'port-unreachable': 4,
  'policy-fail': 5,
  'reject-route': 6,
};

/** Splits on spaces, keeping `"quoted strings"` (interface names) whole, quotes removed. */
function tokenize(s: string): string[] | PacketSyntaxError {
  const out: string[] = [];
  let i = 0;
  while (i < s.length) {
    if (s.charCodeAt(i) === 32) {
      i++;
      continue;
    }
    if (s[i] === '"') {
      const e = s.indexOf('"', i + 1);
      if (e < 0) return new PacketSyntaxError('unterminated quoted string');
      out.push(s.slice(i + 1, e));
      i = e + 1;
      continue;
    }
    let e = s.indexOf(' ', i);
    if (e < 0) e = s.length;
    out.push(s.slice(i, e));
    i = e;
  }
  return out;
}

function num(v: string, max: number): number | undefined {
  if (/^\d{1,10}$/.test(v)) {
    const n = Number(v);
    return n <= max ? n : undefined;
  }
  if (/^0x[0-9a-f]{1,8}$/i.test(v)) {
    const n = parseInt(v.slice(2), 16);
    return n <= max ? n : undefined;
  }
  return undefined;
}

/**
 * Parses the statements after `packet: `. `family` is the trace's nftables family (`ip`, `ip6`, `inet`, …).
 */
export function parsePacketStatements(text: string, family: string): PacketFields | PacketSyntaxError {
  const tokens = tokenize(text);
  if (tokens instanceof PacketSyntaxError) return tokens;
  let inIf: string | undefined;
  let outIf: string | undefined;
  let macSrc: string | undefined;
  let macDst: string | undefined;
  let vlan = false;
  let src: string | undefined;
  let dst: string | undefined;
  let sport: number | undefined;
  let dport: number | undefined;
  let l3: 'ip' | 'ip6' | undefined;
  let transport: string | undefined;
  const ip: { -readonly [K in keyof Ip]: Ip[K] } = {};
  let dscp: number | undefined;
  let ecn: number | undefined;
  let tcpFlags: number | undefined;
  const tcp: { -readonly [K in keyof Tcp]: Tcp[K] } = {};
  let udpLength: number | undefined;
  const icmp: { -readonly [K in keyof Icmp]: Icmp[K] } = {};
  let icmpWord: 'icmp' | 'icmpv6' | undefined;
  let pptr: number | undefined;

  const bad = (why: string): PacketSyntaxError => new PacketSyntaxError(why);
  for (let i = 0; i < tokens.length;) {
    const t = tokens[i]!;
    if (t.startsWith('@')) {
      // Raw payload nft could not attribute: `@th,64,96 0x…`.
      if (tokens[i + 1] === undefined) return bad(`"${t}" has no value`);
      i += 2;
      continue;
    }
    if (t === 'iif' || t === 'oif' || t === 'iifname' || t === 'oifname') {
      const v = tokens[i + 1];
      if (v === undefined) return bad(`"${t}" has no value`);
      if (t.startsWith('i')) inIf = v;
      else outIf = v;
      i += 2;
      continue;
    }
    if (!PROTOCOLS.has(t)) return bad(`unexpected token "${short(t)}"`);
    const field = tokens[i + 1];
    if (field === undefined) return bad(`"${t}" has no field`);
    let j = i + 2;
    if (tokens[j] === '==') j++;
    let value = tokens[j];
    if (value === undefined) return bad(`"${t} ${field}" has no value`);
    j++;
    // `syn | ack`: a flag list printed with spaces.
    while (tokens[j] === '|' && tokens[j + 1] !== undefined) {
      value += `|${tokens[j + 1]!}`;
      j += 2;
    }
    i = j;
    const where = `${t} ${field} ${value}`;
    switch (t) {
      case 'ether':
        if (field === 'saddr' || field === 'daddr') {
          if (!/^[0-9a-f]{1,2}(:[0-9a-f]{1,2}){5}$/i.test(value)) return bad(`bad MAC in "${where}"`);
          if (field === 'saddr') macSrc = value;
          else macDst = value;
        }
        break;
      case 'vlan':
        vlan = true;
        break;
      case 'ip':
      case 'ip6': {
        l3 = t;
        const n = (max: number): number | PacketSyntaxError =>
          num(value, max) ?? bad(`bad number in "${where}"`);
        switch (field) {
          case 'saddr':
          case 'daddr':
            if (!/^[0-9a-fA-F.:]+$/.test(value)) return bad(`bad address in "${where}"`);
            if (field === 'saddr') src = canonicalIp(value);
            else dst = canonicalIp(value);
            break;
          case 'dscp':
            dscp = DSCP[value] ?? num(value, 63);
            if (dscp === undefined) return bad(`unknown dscp in "${where}"`);
            break;
          case 'ecn':
            ecn = ECN[value] ?? num(value, 3);
            if (ecn === undefined) return bad(`unknown ecn in "${where}"`);
            break;
          case 'ttl':
          case 'hoplimit': {
            const v = n(255);
            if (typeof v !== 'number') return v;
            if (t === 'ip') ip.ttl = v;
            else ip.hoplimit = v;
            break;
          }
          case 'id': {
            const v = n(0xffff);
            if (typeof v !== 'number') return v;
            ip.id = v;
            break;
          }
          case 'length': {
            const v = n(0xffff);
            if (typeof v !== 'number') return v;
            // IPv6 prints the payload length; the kernel log's LEN= (and the schema) is payload + 40.
            ip.len = t === 'ip6' ? v + 40 : v;
            break;
          }
          case 'flowlabel': {
            const v = n(0xfffff);
            if (typeof v !== 'number') return v;
            ip.flowlabel = v;
            break;
          }
          case 'protocol':
          case 'nexthdr':
            transport = value;
            break;
          default:
            break;
        }
        break;
      }
      case 'tcp':
      case 'udp':
      case 'udplite':
      case 'sctp':
      case 'dccp':
      case 'th': {
        if (t !== 'th') transport = t;
        const v = num(value, 0xffffffff);
        if (field === 'sport' || field === 'dport') {
          if (v === undefined || v > 0xffff) return bad(`bad port in "${where}"`);
          if (field === 'sport') sport = v;
          else dport = v;
        } else if (t === 'tcp' && field === 'flags') {
          tcpFlags = tcpFlagBits(value);
          if (tcpFlags < 0) return bad(`unknown TCP flags in "${where}"`);
        } else if (t === 'tcp' && field === 'window' && v !== undefined) tcp.window = v;
        else if (t === 'tcp' && field === 'sequence' && v !== undefined) tcp.seq = v;
        else if (t === 'tcp' && field === 'ackseq' && v !== undefined) tcp.ack = v;
        else if (t === 'tcp' && field === 'urgptr' && v !== undefined) tcp.urgp = v;
        else if ((t === 'udp' || t === 'udplite') && field === 'length' && v !== undefined) udpLength = v;
        break;
      }
      case 'icmp':
      case 'icmpv6': {
        transport = t;
        icmpWord = t;
        const v = num(value, 0xffffffff);
        if (field === 'type') {
          const ty = (t === 'icmp' ? ICMP_TYPES : ICMPV6_TYPES)[value] ?? num(value, 255);
          if (ty === undefined) return bad(`unknown type in "${where}"`);
          icmp.type = ty;
        } else if (field === 'code') {
          const c = (t === 'icmp' ? ICMP_CODES : ICMPV6_CODES)[value] ?? num(value, 255);
          if (c === undefined) return bad(`unknown code in "${where}"`);
          icmp.code = c;
        } else if (field === 'id' && v !== undefined) icmp.id = v;
        else if (field === 'sequence' && v !== undefined) icmp.seq = v;
        else if (field === 'mtu' && v !== undefined) icmp.mtu = v;
        else if (field === 'gateway') icmp.gateway = canonicalIp(value);
        else if (field === 'parameter-problem' && v !== undefined) pptr = v;
        break;
      }
      default:
        if (t === 'ah' || t === 'esp' || t === 'comp' || t === 'igmp' || t === 'gre') transport = t;
        break;
    }
  }

  const netType: NetfilterEvent['network']['type'] =
    l3 === 'ip'
      ? 'ipv4'
      : l3 === 'ip6'
        ? 'ipv6'
        : family === 'ip'
          ? 'ipv4'
          : family === 'ip6'
            ? 'ipv6'
            : family === 'arp'
              ? 'arp'
              : family === 'bridge'
                ? 'bridge'
                : 'unknown';
  const network: { -readonly [K in keyof NetfilterEvent['network']]: NetfilterEvent['network'][K] } = {
    type: netType,
  };
  const degraded: string[] = ['@timestamp'];
  const tr = transport !== undefined ? TRANSPORTS[transport] : undefined;
  if (tr) {
    network.transport = tr[0];
    network.iana_number = tr[1];
  } else if (transport !== undefined && /^\d+$/.test(transport)) {
    network.transport = transport;
    network.iana_number = transport;
  } else if (l3 !== undefined) degraded.push('network.transport');

  const observer: PacketFields['observer'] = {
    ingress: { interface: { name: inIf ?? '' } },
    egress: { interface: { name: outIf ?? '' } },
  };
  const source = endpointOf(src, sport, macSrc);
  const destination = endpointOf(dst, dport, macDst);

  const netfilter: { -readonly [K in keyof PacketFields['netfilter']]: PacketFields['netfilter'][K] } = {};
  if (macSrc !== undefined && macDst !== undefined && !vlan && l3 !== undefined) {
    // nft drops `ether type` as implied by the network header; the kernel log's MAC= ends with it.
    const etype = l3 === 'ip' ? '0800' : '86dd';
    netfilter.mac = {
      header: `${pad(macDst)}:${pad(macSrc)}:${etype.slice(0, 2)}:${etype.slice(2)}`,
      proto: etype,
    };
  }
  if (l3 !== undefined) {
    const tc = dscp !== undefined && ecn !== undefined ? (dscp << 2) | ecn : undefined;
    if (l3 === 'ip') {
      if (tc !== undefined) {
        ip.tos = tc & 0x1e;
        ip.prec = tc & 0xe0;
      }
      degraded.push('ip.flags', 'ip.fragOffset');
    } else {
      if (tc !== undefined) ip.tc = tc;
      degraded.push('ip.id', 'ip.fragOffset');
    }
    netfilter.ip = sortIp(ip);
  }
  if (transport === 'tcp') {
    const t: Tcp = {};
    if (tcp.seq !== undefined) t.seq = tcp.seq;
    else degraded.push('tcp.seq');
    if (tcp.ack !== undefined) t.ack = tcp.ack;
    else degraded.push('tcp.ack');
    if (tcp.window !== undefined) t.window = tcp.window;
    if (tcpFlags !== undefined) t.flags = KERNEL_FLAG_ORDER.filter((f) => hasFlag(tcpFlags, f));
    if (tcp.urgp !== undefined) t.urgp = tcp.urgp;
    else degraded.push('tcp.urgp');
    degraded.push('tcp.res', 'tcp.options', 'tcp.flags.AE');
    netfilter.tcp = t;
  } else if (transport === 'udp' || transport === 'udplite') {
    if (udpLength !== undefined) netfilter.udp = { length: udpLength };
  } else if (icmpWord !== undefined) {
    // nft decodes an ICMPv6 echo's identifier and sequence as the parameter-problem pointer (the same 4 bytes).
    if (pptr !== undefined && (icmp.type === 128 || icmp.type === 129) && icmp.id === undefined) {
      icmp.id = pptr >>> 16;
      icmp.seq = pptr & 0xffff;
    } else if (pptr !== undefined) icmp.parameter = pptr;
    if (icmp.type !== undefined) netfilter.icmp = sortIcmp(icmp);
  }

  return {
    observer,
    ...(source ? { source } : {}),
    ...(destination ? { destination } : {}),
    network,
    netfilter,
    degraded,
  };
}

function hasFlag(bits: number, f: KernelFlag): boolean {
  const e = TCP_FLAG_BITS.find((x) => x[2] === f);
  return e !== undefined && (bits & e[1]) !== 0;
}

/** `syn`, `syn|ack`, `0x18` → the flag byte; -1 when a word is unknown. */
function tcpFlagBits(v: string): number {
  const n = num(v, 0xff);
  if (n !== undefined) return n;
  let bits = 0;
  for (const w of v.split(/[|,]/)) {
    const e = TCP_FLAG_BITS.find((x) => x[0] === w);
    if (!e) return -1;
    bits |= e[1];
  }
  return bits;
}

/** Schema key order (as the kernel-log adapter writes them). */
function sortIp(ip: Ip): Ip {
  const o: Ip = {};
  for (const k of ['len', 'tos', 'prec', 'ttl', 'id', 'tc', 'hoplimit', 'flowlabel'] as const)
    if (ip[k] !== undefined) o[k] = ip[k];
  return o;
}

function sortIcmp(i: Icmp): Icmp {
  const o: Icmp = {};
  for (const k of ['type', 'code', 'id', 'seq', 'parameter', 'gateway', 'mtu'] as const)
    if (i[k] !== undefined) (o as Record<string, unknown>)[k] = i[k];
  return o;
}

function pad(mac: string): string {
  return mac
    .split(':')
    .map((b) => b.padStart(2, '0').toLowerCase())
    .join(':');
}

function short(t: string): string {
  return t.length > 40 ? `${t.slice(0, 40)}…` : t;
}
