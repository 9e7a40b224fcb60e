/**
 * Decodes the packet an NFLOG record carries (from the network header on) into exactly the fields the kernel's
 * nf_log_syslog.c prints for a TRACE line, so a packet seen through NFLOG and through the kernel log produce the
 * same event. The rules (what is printed when, `INCOMPLETE [n bytes]`, `TRUNCATED`, one level of ICMP error
 * recursion) follow dump_ipv4_packet / dump_ipv6_packet / nf_log_dump_{tcp,udp}_header with the TRACE log flags
 * (TCPSEQ | TCPOPT | IPOPT | UID). `end` plays the kernel's skb->len.
 *
 * IPv4 header (RFC 791)                          IPv6 header (RFC 8200)
 *   0      4      8             16    19      31    0    4        12                          31
 *   |ver|ihl| tos  |   total length  |              |ver| tclass |        flow label          |
 *   |   identification  |C|D|M| frag offset /8 |    |  payload length   | next hdr | hop limit |
 *   |  ttl  | proto |    header checksum       |    |            source address (16)          |
 *   |           source address                 |    |         destination address (16)        |
 *   |         destination address              |    then extension headers: next hdr u8, len u8 …
 *   |   options (ihl*4 - 20 bytes)             |      fragment: nh, res, offset<<3|M be16, id be32
 *
 * TCP: sport be16, dport be16, seq be32, ack be32, doff<<4|res|AE, CWR ECE URG ACK PSH RST SYN FIN, window be16,
 *      csum be16, urgp be16, options to doff*4.  UDP/UDPLITE: sport, dport, length, csum (be16 each).
 * ICMP: type, code, csum, then 4 bytes (echo id/seq, gateway, pointer, mtu), then for errors the inner packet.
 * SCTP: sport, dport, vtag, csum.  AH: nh, len, res be16, spi be32, seq.  ESP: spi be32, seq be32.
 */
import type { Endpoint, Icmp, InnerPacket, Ip, Tcp } from '@ruletrail/event';
import {
  hexUpper,
  ipv4FragOffsetBytes,
  ipv4Flags,
  splitTos,
  tcpFlags,
  tcpRes,
  transportName,
} from '@ruletrail/core';

/** The decoded L3/L4 fields of one packet (the outer one, or the inner packet of an ICMP error). */
export interface PacketFields {
  source: Endpoint;
  destination: Endpoint;
  transport?: string;
  ianaNumber?: string;
  ip: Ip;
  tcp?: Tcp;
  udpLength?: number;
  icmp?: Icmp;
  spi?: number;
  incomplete?: number;
  truncated?: boolean;
  inner?: PacketFields;
}

function newFields(): PacketFields {
  return { source: {}, destination: {}, ip: {} };
}

function ipv4String(b: Buffer, p: number): string {
  return `${b[p]}.${b[p + 1]}.${b[p + 2]}.${b[p + 3]}`;
}

/** RFC 5952 text of 16 address bytes (what core's canonicalIpv6 returns, without going through a string). */
export function ipv6String(b: Buffer, p: number): string {
  const g = [0, 0, 0, 0, 0, 0, 0, 0];
  for (let i = 0; i < 8; i++) g[i] = (b[p + 2 * i]! << 8) | b[p + 2 * i + 1]!;
  // longest run of zero groups, at least two, the first one on ties (RFC 5952 4.2.3)
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  // IPv4-mapped addresses: core's canonicalIpv6 also prints them in hex (::ffff:a00:1)
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (i === best) {
      s += i === 0 ? '::' : ':';
      i += bestLen - 1;
      continue;
    }
    s += g[i]!.toString(16) + (i < 7 ? ':' : '');
  }
  return s;
}

function setProto(f: PacketFields, proto: number): void {
  f.transport = transportName(proto);
  f.ianaNumber = String(proto);
}

/** IPv4 packet at `off`; `recurse` is false for the inner packet of an ICMP error (the kernel recurses once). */
export function decodeIpv4(b: Buffer, off: number, end: number, recurse = true): PacketFields {
  const f = newFields();
  if (end - off < 20) {
    f.truncated = true;
    return f;
  }
  const ihl = b[off]! & 0x0f;
  const { tos, prec } = splitTos(b[off + 1]!);
  const fragOff = b.readUInt16BE(off + 6);
  f.source.ip = ipv4String(b, off + 12);
  f.destination.ip = ipv4String(b, off + 16);
  f.ip.len = b.readUInt16BE(off + 2);
  f.ip.tos = tos;
  f.ip.prec = prec;
  f.ip.ttl = b[off + 8]!;
  f.ip.id = b.readUInt16BE(off + 4);
  // Always set, possibly empty: the kernel-log adapter does the same for every IPv4 header it reads.
  f.ip.flags = ipv4Flags(fragOff);
  if (fragOff & 0x1fff) f.ip.fragOffset = ipv4FragOffsetBytes(fragOff);
  const hdrLen = ihl * 4;
  if (hdrLen > 20) {
    if (end - off < hdrLen) {
      // kernel: "TRUNCATED" and nothing more
      f.truncated = true;
      return f;
    }
    f.ip.options = hexUpper(b, off + 20, off + hdrLen);
  }
  const proto = b[off + 9]!;
  setProto(f, proto);
  if (hdrLen < 20) {
    // A header length below the minimum: the kernel would read garbage; we stop at the IP layer.
    f.truncated = true;
    return f;
  }
  const fragment = (fragOff & 0x1fff) !== 0;
  const l4 = off + hdrLen;
  switch (proto) {
    case 6:
      tcp(b, l4, end, fragment, f);
      break;
    case 17:
    case 136:
      udp(b, l4, end, fragment, f);
      break;
    case 132:
      sctp(b, l4, end, fragment, f);
      break;
    case 1:
      icmpv4(b, l4, end, fragment, recurse, f);
      break;
    case 51:
    case 50:
      ahEsp(b, l4, end, fragment, proto, f);
      break;
    default:
      break;
  }
  return f;
}

function tcp(b: Buffer, p: number, end: number, fragment: boolean, f: PacketFields): void {
  if (fragment) return;
  if (end - p < 20) {
    f.incomplete = Math.max(0, end - p);
    return;
  }
  f.source.port = b.readUInt16BE(p);
  f.destination.port = b.readUInt16BE(p + 2);
  const t: Tcp = {
    seq: b.readUInt32BE(p + 4),
    ack: b.readUInt32BE(p + 8),
    window: b.readUInt16BE(p + 14),
    res: tcpRes(b[p + 12]!),
    flags: tcpFlags(b[p + 12]!, b[p + 13]!),
    urgp: b.readUInt16BE(p + 18),
  };
  const doff = (b[p + 12]! >> 4) * 4;
  if (doff > 20) t.options = end - p < doff ? 'TRUNCATED' : hexUpper(b, p + 20, p + doff);
  f.tcp = t;
}

function udp(b: Buffer, p: number, end: number, fragment: boolean, f: PacketFields): void {
  if (fragment) return;
  if (end - p < 8) {
    f.incomplete = Math.max(0, end - p);
    return;
  }
  f.source.port = b.readUInt16BE(p);
  f.destination.port = b.readUInt16BE(p + 2);
  f.udpLength = b.readUInt16BE(p + 4);
}

/** Not printed by the kernel (PROTO=132 only); ports decoded because ulogd and Wireshark have them. */
function sctp(b: Buffer, p: number, end: number, fragment: boolean, f: PacketFields): void {
  if (fragment) return;
  if (end - p < 12) {
    f.incomplete = Math.max(0, end - p);
    return;
  }
  f.source.port = b.readUInt16BE(p);
  f.destination.port = b.readUInt16BE(p + 2);
}

function ahEsp(b: Buffer, p: number, end: number, fragment: boolean, proto: number, f: PacketFields): void {
  if (fragment) return;
  const need = proto === 51 ? 12 : 8;
  if (end - p < need) {
    f.incomplete = Math.max(0, end - p);
    return;
  }
  f.spi = b.readUInt32BE(proto === 51 ? p + 4 : p);
}

/** Minimum ICMP message size per type before the kernel prints anything past TYPE/CODE (nf_log_syslog.c). */
const ICMP_REQUIRED: Record<number, number> = {
  0: 4,
  3: 28,
  4: 28,
  5: 28,
  8: 4,
  11: 28,
  12: 28,
  13: 20,
  14: 20,
  17: 12,
  18: 12,
};

function icmpv4(
  b: Buffer,
  p: number,
  end: number,
  fragment: boolean,
  recurse: boolean,
  f: PacketFields,
): void {
  if (fragment) return;
  if (end - p < 8) {
    f.incomplete = Math.max(0, end - p);
    return;
  }
  const type = b[p]!;
  const code = b[p + 1]!;
  const ic: Icmp = { type, code };
  f.icmp = ic;
  const req = ICMP_REQUIRED[type];
  if (req !== undefined && end - p < req) {
    f.incomplete = end - p;
    return;
  }
  switch (type) {
    case 0:
    case 8:
      ic.id = b.readUInt16BE(p + 4);
      ic.seq = b.readUInt16BE(p + 6);
      break;
    case 12:
      ic.parameter = b[p + 4]!;
      break;
    case 5:
    case 3:
    case 4:
    case 11:
      if (type === 5) ic.gateway = ipv4String(b, p + 4);
      if (recurse) f.inner = decodeIpv4(b, p + 8, end, false);
      if (type === 3 && code === 4) ic.mtu = b.readUInt16BE(p + 6);
      break;
    default:
      break;
  }
}

/** IPv6 extension headers the kernel walks (nf_ip6_ext_hdr): hop-by-hop, routing, fragment, ESP, AH, dest opts. */
const EXT_HEADERS = new Set([0, 43, 44, 50, 51, 60]);

/** IPv6 packet at `off`. */
export function decodeIpv6(b: Buffer, off: number, end: number, recurse = true): PacketFields {
  const f = newFields();
  if (end - off < 40) {
    f.truncated = true;
    return f;
  }
  const flow = b.readUInt32BE(off);
  f.source.ip = ipv6String(b, off + 8);
  f.destination.ip = ipv6String(b, off + 24);
  f.ip.len = b.readUInt16BE(off + 4) + 40;
  f.ip.tc = (flow & 0x0ff00000) >>> 20;
  f.ip.hoplimit = b[off + 7]!;
  f.ip.flowlabel = flow & 0x000fffff;
  let next = b[off + 6]!;
  let p = off + 40;
  let fragment = false;
  // The kernel's own text for the extension headers (`OPT ( FRAG:0 INCOMPLETE ID:0000abcd ) OPT ( ) …`), kept
  // whole in ip.options exactly as the kernel-log adapter keeps it from a TRACE line.
  let opt = '';
  const finish = (): PacketFields => {
    const t = opt.trimEnd();
    if (t) f.ip.options = t;
    return f;
  };
  while (next !== 59 && EXT_HEADERS.has(next)) {
    if (end - p < 2) {
      f.truncated = true;
      return finish();
    }
    const hdrNext = b[p]!;
    let hdrLen: number;
    opt += 'OPT ( ';
    switch (next) {
      case 44: {
        opt += 'FRAG:';
        if (end - p < 8) {
          opt += 'TRUNCATED ';
          f.truncated = true;
          return finish();
        }
        const fo = b.readUInt16BE(p + 2);
        const id = b.readUInt32BE(p + 4);
        f.ip.fragOffset = fo & 0xfff8;
        if (fo & 0x0001) f.ip.fragIncomplete = true;
        f.ip.id = id;
        opt += `${fo & 0xfff8} ${fo & 1 ? 'INCOMPLETE ' : ''}ID:${id.toString(16).padStart(8, '0')} `;
        if (fo & 0xfff8) fragment = true;
        hdrLen = 8;
        break;
      }
      case 0:
      case 43:
      case 60:
        if (fragment) {
          opt += ')';
          return finish();
        }
        hdrLen = (b[p + 1]! + 1) << 3;
        break;
      case 51: {
        opt += 'AH ';
        if (fragment) {
          opt += ')';
          return finish();
        }
        if (end - p < 12) {
          f.incomplete = Math.max(0, end - p);
          opt += `INCOMPLETE [${f.incomplete} bytes] )`;
          return finish();
        }
        f.spi = b.readUInt32BE(p + 4);
        opt += `SPI=0x${f.spi.toString(16)} `;
        hdrLen = (b[p + 1]! + 2) << 2;
        break;
      }
      default: {
        // 50, ESP: the kernel prints the SPI and stops; nothing after it is readable
        setProto(f, 50);
        opt += 'ESP ';
        if (fragment) {
          opt += ')';
          return finish();
        }
        if (end - p < 8) {
          f.incomplete = Math.max(0, end - p);
          opt += `INCOMPLETE [${f.incomplete} bytes] )`;
          return finish();
        }
        f.spi = b.readUInt32BE(p);
        opt += `SPI=0x${f.spi.toString(16)} )`;
        return finish();
      }
    }
    opt += ') ';
    next = hdrNext;
    p += hdrLen;
  }
  finish();
  setProto(f, next);
  switch (next) {
    case 6:
      tcp(b, p, end, fragment, f);
      break;
    case 17:
    case 136:
      udp(b, p, end, fragment, f);
      break;
    case 132:
      sctp(b, p, end, fragment, f);
      break;
    case 58:
      icmpv6(b, p, end, fragment, recurse, f);
      break;
    default:
      break;
  }
  return f;
}

function icmpv6(
  b: Buffer,
  p: number,
  end: number,
  fragment: boolean,
  recurse: boolean,
  f: PacketFields,
): void {
  if (fragment) return;
  if (end - p < 8) {
    f.incomplete = Math.max(0, end - p);
    return;
  }
  const type = b[p]!;
  const ic: Icmp = { type, code: b[p + 1]! };
  f.icmp = ic;
  switch (type) {
    case 128:
    case 129:
      ic.id = b.readUInt16BE(p + 4);
      ic.seq = b.readUInt16BE(p + 6);
      break;
    case 4:
    case 1:
    case 2:
    case 3:
      if (type === 4) ic.parameter = b.readUInt32BE(p + 4);
      if (recurse) f.inner = decodeIpv6(b, p + 8, end, false);
      if (type === 2) ic.mtu = b.readUInt32BE(p + 4);
      break;
    default:
      break;
  }
}

/** The schema's shape for the embedded packet of an ICMP error. */
export function toInnerPacket(f: PacketFields): InnerPacket {
  const inner: InnerPacket = {};
  if (f.source.ip !== undefined || f.source.port !== undefined) inner.source = f.source;
  if (f.destination.ip !== undefined || f.destination.port !== undefined) inner.destination = f.destination;
  if (f.transport !== undefined) inner.transport = f.transport;
  if (Object.keys(f.ip).length) inner.ip = f.ip;
  if (f.tcp) inner.tcp = f.tcp;
  if (f.udpLength !== undefined) inner.udpLength = f.udpLength;
  if (f.icmp) inner.icmp = f.icmp;
  if (f.incomplete !== undefined) inner.incomplete = f.incomplete;
  if (f.truncated) inner.truncated = true;
  return inner;
}
