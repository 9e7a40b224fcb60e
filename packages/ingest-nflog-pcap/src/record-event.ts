/**
 * NFLOG captures (`tcpdump -i nflog -w`, dumpcap, Wireshark) → NetfilterEvents.
 *
 * Each LINKTYPE_NFLOG record is one nfnetlink_log message: the TRACE prefix (or --nflog-prefix), mark, ifindexes,
 * uid/gid, hook, and the packet itself. The packet is decoded into the same fields the kernel log prints, so the
 * same TRACE step explains the same way whichever channel it came through. Interface *names* are not in NFLOG,
 * only ifindexes: pass `ifNames` (ifindex → name, e.g. from `ip -j link` on the traced host) to get them.
 */
import { CODE_TRACE_PREFIX, InputError, type DecodeOptions } from '@ruletrail/core';
import type { NetfilterEvent } from '@ruletrail/event';
import { ByteReader, ShortRead, hexExcerpt } from '@ruletrail/core';
import type { CaptureRecord } from './capture-file';
import { decodeIpv4, decodeIpv6, toInnerPacket, type PacketFields } from './ip-packet';
import { NflogCorrupt, parseNflog, type NflogRecord } from './nflog-record';
import { ecsMacBytes, hexColon, isoFromEpoch, parsePrefix } from '@ruletrail/core';

/** Options of this adapter on top of the common ones. */
export interface NflogDecodeOptions extends DecodeOptions {
  /**
   * ifindex → interface name on the host that logged (NFLOG carries only indexes). With it, events get
   * `observer.ingress/egress.interface.name` (empty string when the packet had no such device, like the kernel's
   * `OUT=`) and `netfilter.physin/physout`; without it only `netfilter.ifindex.*` is set.
   */
  readonly ifNames?: ReadonlyMap<number, string> | Readonly<Record<string, string>>;
}

const CODE_MALFORMED = 'RT_ERR_NFLOG_MALFORMED';
/** Events per batch (a 1 MiB chunk holds ~2,500 records). */
export const BATCH_EVENTS = 256;
const NF_FAMILY = { INET: 2, ARP: 3, BRIDGE: 7, INET6: 10 } as const;

function isMap(v: unknown): v is ReadonlyMap<number, string> {
  return v instanceof Map;
}

function lookupName(names: NflogDecodeOptions['ifNames'], index: number): string | undefined {
  if (!names) return undefined;
  if (isMap(names)) return names.get(index);
  return names[String(index)];
}

/** Builds the event for one NFLOG record; an `InputError` when the record is corrupt. */
export function nflogRecordToEvent(
  rec: CaptureRecord,
  options: NflogDecodeOptions,
): NetfilterEvent | InputError {
  const reader = new ByteReader(rec.data, 0, rec.data.length, rec.dataOffset, rec.littleEndian);
  let nf: NflogRecord;
  try {
    nf = parseNflog(reader);
  } catch (e) {
    if (e instanceof ShortRead)
      return new InputError(
        CODE_MALFORMED,
        { file: options.file, offset: rec.offset },
        `truncated NFLOG record: ${e.message}`,
        hexExcerpt(rec.data, 0, rec.data.length),
      );
    if (e instanceof NflogCorrupt)
      return new InputError(
        CODE_MALFORMED,
        { file: options.file, offset: rec.offset },
        `corrupt NFLOG record: ${e.reason} (at offset ${e.at})`,
        hexExcerpt(rec.data, 0, rec.data.length),
      );
    throw e;
  }
  const prefix = nf.prefix;
  const info = prefix === undefined ? ({ kind: 'log' } as const) : parsePrefix(prefix);
  if (info.kind === 'bad-trace')
    return new InputError(CODE_TRACE_PREFIX, { file: options.file, offset: rec.offset }, info.reason, prefix);

  const netfilter: NonNullable<NetfilterEvent['netfilter']> = {};
  const ev: NetfilterEvent = {
    ruletrail: { schema: '1', channel: 'nflog-pcap', origin: { file: options.file, offset: rec.offset } },
    event: { kind: 'event', dataset: info.kind === 'trace' ? 'netfilter.trace' : 'netfilter.log' },
    network: { type: 'unknown' },
    netfilter,
  };
  // TLV 3 is the kernel's packet time; the pcap record time is when libpcap received it.
  const ts =
    (nf.timeSec !== undefined && nf.timeSec > 0 && nf.timeUsec !== undefined
      ? isoFromEpoch(nf.timeSec, nf.timeUsec, 6)
      : undefined) ?? (rec.hasTime ? isoFromEpoch(rec.tsSec, rec.tsFrac, rec.tsDigits) : undefined);
  if (ts !== undefined) ev['@timestamp'] = ts;
  if (options.host !== undefined) ev.host = { name: options.host };
  if (options.keepOriginal) ev.event.original = rec.data.toString('hex');

  if (prefix !== undefined) netfilter.prefix = prefix;
  if (info.kind === 'trace') netfilter.trace = info.trace;

  // packet
  let pkt: PacketFields | undefined;
  let type: NetfilterEvent['network']['type'] = 'unknown';
  let l3 = nf.family;
  if (l3 === NF_FAMILY.BRIDGE)
    l3 =
      nf.hwProtocol === 0x0800
        ? NF_FAMILY.INET
        : nf.hwProtocol === 0x86dd
          ? NF_FAMILY.INET6
          : nf.hwProtocol === 0x0806
            ? NF_FAMILY.ARP
            : -1;
  if (nf.payloadStart !== undefined && nf.payloadEnd !== undefined) {
    const b = rec.data;
    const s = nf.payloadStart;
    const e = nf.payloadEnd;
    if (l3 === NF_FAMILY.INET) {
      if (e - s >= 1 && b[s]! >> 4 !== 4)
        return new InputError(
          CODE_MALFORMED,
          { file: options.file, offset: rec.offset },
          `family is IPv4 but the payload starts with IP version ${b[s]! >> 4}`,
          hexExcerpt(b, s, e),
        );
      type = 'ipv4';
      pkt = decodeIpv4(b, s, e);
    } else if (l3 === NF_FAMILY.INET6) {
      if (e - s >= 1 && b[s]! >> 4 !== 6)
        return new InputError(
          CODE_MALFORMED,
          { file: options.file, offset: rec.offset },
          `family is IPv6 but the payload starts with IP version ${b[s]! >> 4}`,
          hexExcerpt(b, s, e),
        );
      type = 'ipv6';
      pkt = decodeIpv6(b, s, e);
    } else if (l3 === NF_FAMILY.ARP) {
      type = 'arp';
      decodeArp(b, s, e, ev);
    }
    if (pkt && pkt.ip.len !== undefined && e - s < pkt.ip.len) netfilter.truncated = true;
  } else {
    // copy mode "meta": no packet bytes at all
    netfilter.truncated = true;
    type =
      l3 === NF_FAMILY.INET
        ? 'ipv4'
        : l3 === NF_FAMILY.INET6
          ? 'ipv6'
          : l3 === NF_FAMILY.ARP
            ? 'arp'
            : 'unknown';
  }
  if (nf.family === NF_FAMILY.BRIDGE && type === 'unknown') type = 'bridge';
  ev.network.type = type;
  if (rec.data.length < rec.origLen) netfilter.truncated = true;

  if (pkt) {
    if (pkt.source.ip !== undefined || pkt.source.port !== undefined) ev.source = pkt.source;
    if (pkt.destination.ip !== undefined || pkt.destination.port !== undefined)
      ev.destination = pkt.destination;
    if (pkt.transport !== undefined) ev.network.transport = pkt.transport;
    if (pkt.ianaNumber !== undefined) ev.network.iana_number = pkt.ianaNumber;
    if (Object.keys(pkt.ip).length) netfilter.ip = pkt.ip;
    if (pkt.tcp) netfilter.tcp = pkt.tcp;
    if (pkt.udpLength !== undefined) netfilter.udp = { length: pkt.udpLength };
    if (pkt.icmp) netfilter.icmp = pkt.icmp;
    if (pkt.spi !== undefined) netfilter.spi = pkt.spi;
    if (pkt.incomplete !== undefined) netfilter.incomplete = pkt.incomplete;
    if (pkt.truncated) netfilter.truncated = true;
    if (pkt.inner) netfilter.inner = toInnerPacket(pkt.inner);
  }

  // link layer
  if (nf.hwHeader !== undefined) {
    const h = nf.hwHeader;
    const mac: NonNullable<typeof netfilter.mac> = { header: hexColon(h, 0, h.length) };
    if ((nf.hwType === undefined || nf.hwType === 1) && h.length === 14) {
      (ev.destination ??= {}).mac = ecsMacBytes(h, 0);
      (ev.source ??= {}).mac = ecsMacBytes(h, 6);
      mac.proto = h.toString('hex', 12, 14);
    }
    netfilter.mac = mac;
  } else if (nf.hwAddr !== undefined && nf.hwAddr.length === 6) {
    (ev.source ??= {}).mac = ecsMacBytes(nf.hwAddr, 0);
  }
  if (nf.vlanTci !== undefined) {
    const mac = (netfilter.mac ??= {});
    mac.vid = nf.vlanTci & 0x0fff;
    if (nf.vlanProto !== undefined) mac.vproto = nf.vlanProto.toString(16).padStart(4, '0');
  }

  // out-of-band
  netfilter.mark = nf.mark ?? 0;
  if (nf.hook !== undefined) netfilter.hook = nf.hook;
  netfilter.group = nf.group;
  const ifindex: NonNullable<typeof netfilter.ifindex> = {};
  if (nf.ifIn !== undefined) ifindex.in = nf.ifIn;
  if (nf.ifOut !== undefined) ifindex.out = nf.ifOut;
  if (nf.ifPhysIn !== undefined) ifindex.physin = nf.ifPhysIn;
  if (nf.ifPhysOut !== undefined) ifindex.physout = nf.ifPhysOut;
  if (Object.keys(ifindex).length) netfilter.ifindex = ifindex;
  if (nf.seq !== undefined || nf.seqGlobal !== undefined) {
    netfilter.seq = {};
    if (nf.seq !== undefined) netfilter.seq.local = nf.seq;
    if (nf.seqGlobal !== undefined) netfilter.seq.global = nf.seqGlobal;
  }
  if (nf.uid !== undefined) ev.user = { id: String(nf.uid) };
  if (nf.gid !== undefined) ev.group = { id: String(nf.gid) };

  if (options.ifNames) {
    const name = (i: number | undefined): string | undefined =>
      i === undefined ? '' : lookupName(options.ifNames, i);
    const inName = name(nf.ifIn);
    const outName = name(nf.ifOut);
    ev.observer = {};
    if (inName !== undefined) ev.observer.ingress = { interface: { name: inName } };
    if (outName !== undefined) ev.observer.egress = { interface: { name: outName } };
    const pin = nf.ifPhysIn === undefined ? undefined : lookupName(options.ifNames, nf.ifPhysIn);
    const pout = nf.ifPhysOut === undefined ? undefined : lookupName(options.ifNames, nf.ifPhysOut);
    if (pin !== undefined) netfilter.physin = pin;
    if (pout !== undefined) netfilter.physout = pout;
  } else {
    netfilter.degraded = ['observer.ingress.interface.name', 'observer.egress.interface.name'];
  }
  return ev;
}

/** ARP (RFC 826) for Ethernet/IPv4: sender and target addresses, like the kernel's ARP log line. */
function decodeArp(b: Buffer, s: number, e: number, ev: NetfilterEvent): void {
  if (e - s < 28) {
    ev.netfilter.truncated = true;
    return;
  }
  if (b.readUInt16BE(s) !== 1 || b.readUInt16BE(s + 2) !== 0x0800 || b[s + 4] !== 6 || b[s + 5] !== 4) return;
  ev.source = { mac: ecsMacBytes(b, s + 8), ip: `${b[s + 14]}.${b[s + 15]}.${b[s + 16]}.${b[s + 17]}` };
  ev.destination = { mac: ecsMacBytes(b, s + 18), ip: `${b[s + 24]}.${b[s + 25]}.${b[s + 26]}.${b[s + 27]}` };
}
