/**
 * LINKTYPE_NFLOG (239) records: the nfnetlink_log message as libpcap hands it over.
 *
 *   +--------+---------+-------------------+
 *   | family | version | res_id (group)    |   4-byte header; res_id is big-endian
 *   |  u8    |  u8 (0) | u16 BE            |
 *   +--------+---------+-------------------+
 *   | TLV length u16 | TLV type u16        |   length and type in the capture host's byte order (the
 *   +----------------+---------------------+   pcap magic / pcapng section order); length counts these
 *   | value (length - 4 bytes), big-endian |   4 bytes but not the padding; type & 0x7fff (0x8000 = nested)
 *   | … padding to a multiple of 4         |   next TLV at offset + ((length + 3) & ~3)
 *   +--------------------------------------+
 *
 * TLV values (include/uapi/linux/netfilter/nfnetlink_log.h):
 *    1 PACKET_HDR   hw_protocol be16 | hook u8 | pad u8
 *    2 MARK         be32
 *    3 TIMESTAMP    sec be64 | usec be64            (only when the skb had a timestamp)
 *    4 IFINDEX_INDEV / 5 OUTDEV / 6 PHYSINDEV / 7 PHYSOUTDEV   be32
 *    8 HWADDR       hw_addrlen be16 | pad 2 | hw_addr[8]
 *    9 PAYLOAD      the packet from the network header on
 *   10 PREFIX       NUL-terminated string
 *   11 UID / 14 GID / 12 SEQ / 13 SEQ_GLOBAL        be32
 *   15 HWTYPE       be16 ARPHRD_*   16 HWHEADER  raw link-layer header   17 HWLEN  be16
 *   18 CT (nested)  19 CT_INFO be32  20 VLAN (nested: 1 proto be16, 2 tci be16)  21 L2HDR  raw
 * Sources: libpcap pcap/nflog.h, tcpdump-htdocs LINKTYPE_NFLOG.html (+ PR #48: 2 padding bytes in HWADDR),
 * Wireshark epan/dissectors/packet-nflog.c.
 */
import type { ByteReader } from '@ruletrail/core';

/** Everything an NFLOG record can carry (absent TLVs stay undefined). */
export interface NflogRecord {
  family: number;
  version: number;
  group: number;
  hwProtocol?: number;
  hook?: number;
  mark?: number;
  /** TLV 3: seconds and microseconds. */
  timeSec?: number;
  timeUsec?: number;
  ifIn?: number;
  ifOut?: number;
  ifPhysIn?: number;
  ifPhysOut?: number;
  hwAddr?: Buffer;
  /** Start and end of the payload inside the record buffer. */
  payloadStart?: number;
  payloadEnd?: number;
  prefix?: string;
  uid?: number;
  gid?: number;
  seq?: number;
  seqGlobal?: number;
  hwType?: number;
  hwHeader?: Buffer;
  hwLen?: number;
  vlanProto?: number;
  vlanTci?: number;
  ctInfo?: number;
}

/** A record that is well framed but whose contents are wrong. `at` is a file offset. */
export class NflogCorrupt extends Error {
  override readonly name = 'NflogCorrupt';
  constructor(
    readonly reason: string,
    readonly at: number,
  ) {
    super(reason);
  }
}

const TLV_NAMES: Record<number, string> = {
  1: 'PACKET_HDR',
  2: 'MARK',
  3: 'TIMESTAMP',
  4: 'IFINDEX_INDEV',
  5: 'IFINDEX_OUTDEV',
  6: 'IFINDEX_PHYSINDEV',
  7: 'IFINDEX_PHYSOUTDEV',
  8: 'HWADDR',
  9: 'PAYLOAD',
  10: 'PREFIX',
  11: 'UID',
  12: 'SEQ',
  13: 'SEQ_GLOBAL',
  14: 'GID',
  15: 'HWTYPE',
  16: 'HWHEADER',
  17: 'HWLEN',
  18: 'CT',
  19: 'CT_INFO',
  20: 'VLAN',
  21: 'L2HDR',
};

/** Parses the NFLOG header and every TLV of one record. Throws `ShortRead` / `NflogCorrupt`. */
export function parseNflog(r: ByteReader): NflogRecord {
  const s = r.start;
  const rec: NflogRecord = {
    family: r.u8(s, 'NFLOG header family'),
    version: r.u8(s + 1, 'NFLOG header version'),
    group: r.u16be(s + 2, 'NFLOG header res_id'),
  };
  if (rec.version !== 0)
    throw new NflogCorrupt(`NFLOG header version ${rec.version} (expected 0)`, r.fileOffset(s + 1));
  let p = s + 4;
  // A trailing run of fewer than 4 bytes cannot hold a TLV header: the kernel never writes one, so it is corrupt.
  while (p < r.end) {
    const len = r.u16h(p, 'TLV length');
    const type = r.u16h(p + 2, 'TLV type') & 0x7fff;
    if (len < 4)
      throw new NflogCorrupt(`TLV length ${len} is smaller than its own 4-byte header`, r.fileOffset(p));
    const name = TLV_NAMES[type] ?? `type ${type}`;
    r.need(p, len, `TLV ${name} (length ${len})`);
    const v = p + 4;
    const vlen = len - 4;
    const fixed = (n: number): void => {
      if (vlen !== n)
        throw new NflogCorrupt(`TLV ${name} value is ${vlen} bytes, expected ${n}`, r.fileOffset(p));
    };
    switch (type) {
      case 1:
        if (vlen < 3)
          throw new NflogCorrupt(`TLV PACKET_HDR value is ${vlen} bytes, expected 4`, r.fileOffset(p));
        rec.hwProtocol = r.u16be(v, 'PACKET_HDR hw_protocol');
        rec.hook = r.u8(v + 2, 'PACKET_HDR hook');
        break;
      case 2:
        fixed(4);
        rec.mark = r.u32be(v, 'MARK');
        break;
      case 3:
        fixed(16);
        rec.timeSec = r.u64be(v, 'TIMESTAMP sec');
        rec.timeUsec = r.u64be(v + 8, 'TIMESTAMP usec');
        break;
      case 4:
        fixed(4);
        rec.ifIn = r.u32be(v, 'IFINDEX_INDEV');
        break;
      case 5:
        fixed(4);
        rec.ifOut = r.u32be(v, 'IFINDEX_OUTDEV');
        break;
      case 6:
        fixed(4);
        rec.ifPhysIn = r.u32be(v, 'IFINDEX_PHYSINDEV');
        break;
      case 7:
        fixed(4);
        rec.ifPhysOut = r.u32be(v, 'IFINDEX_PHYSOUTDEV');
        break;
      case 8: {
        if (vlen < 4) throw new NflogCorrupt(`TLV HWADDR value is ${vlen} bytes, too short`, r.fileOffset(p));
        const alen = r.u16be(v, 'HWADDR hw_addrlen');
        if (alen > vlen - 4 || alen > 8)
          throw new NflogCorrupt(`TLV HWADDR claims ${alen} address bytes`, r.fileOffset(p));
        rec.hwAddr = r.buf.subarray(v + 4, v + 4 + alen);
        break;
      }
      case 9:
        rec.payloadStart = v;
        rec.payloadEnd = v + vlen;
        break;
      case 10: {
        const nul = r.buf.indexOf(0, v);
        const stop = nul >= 0 && nul < v + vlen ? nul : v + vlen;
        rec.prefix = r.buf.toString('utf8', v, stop);
        break;
      }
      case 11:
        fixed(4);
        rec.uid = r.u32be(v, 'UID');
        break;
      case 12:
        fixed(4);
        rec.seq = r.u32be(v, 'SEQ');
        break;
      case 13:
        fixed(4);
        rec.seqGlobal = r.u32be(v, 'SEQ_GLOBAL');
        break;
      case 14:
        fixed(4);
        rec.gid = r.u32be(v, 'GID');
        break;
      case 15:
        // The kernel writes be16; the tcpdump page describes 32 bits: accept both.
        if (vlen === 2) rec.hwType = r.u16be(v, 'HWTYPE');
        else if (vlen === 4) rec.hwType = r.u32be(v, 'HWTYPE');
        else throw new NflogCorrupt(`TLV HWTYPE value is ${vlen} bytes, expected 2`, r.fileOffset(p));
        break;
      case 16:
        rec.hwHeader = r.buf.subarray(v, v + vlen);
        break;
      case 17:
        if (vlen === 2) rec.hwLen = r.u16be(v, 'HWLEN');
        else if (vlen === 4) rec.hwLen = r.u32be(v, 'HWLEN');
        else throw new NflogCorrupt(`TLV HWLEN value is ${vlen} bytes, expected 2`, r.fileOffset(p));
        break;
      case 19:
        fixed(4);
        rec.ctInfo = r.u32be(v, 'CT_INFO');
        break;
      case 20: {
        // nested attributes, same framing (netlink attributes are always host order like the outer TLVs)
        let q = v;
        while (q + 4 <= v + vlen) {
          const alen = r.u16h(q, 'VLAN attribute length');
          const atype = r.u16h(q + 2, 'VLAN attribute type') & 0x7fff;
          if (alen < 4 || q + alen > v + vlen)
            throw new NflogCorrupt(`VLAN attribute length ${alen} is out of bounds`, r.fileOffset(q));
          if (atype === 1 && alen >= 6) rec.vlanProto = r.u16be(q + 4, 'VLAN proto');
          if (atype === 2 && alen >= 6) rec.vlanTci = r.u16be(q + 4, 'VLAN tci');
          q += (alen + 3) & ~3;
        }
        break;
      }
      default:
        // 18 CT (nested ctnetlink), 21 L2HDR, and types newer than this decoder: skipped by length.
        break;
    }
    p += (len + 3) & ~3;
  }
  return rec;
}
