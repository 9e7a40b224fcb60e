/**
 * The packet as one rule sees it: the fields netfilter matches read, taken from one trace step (each TRACE line
 * prints the packet as it stands at that rule: after earlier NAT, with the current mark), or from `simulate`'s
 * description. A field that is `undefined` is not known — the channel does not carry it or named it in
 * `netfilter.degraded` — and every match that reads it evaluates to `unknown`, never to a guess.
 */
import type { NetfilterEvent } from '@ruletrail/event';

/** Conntrack states as `-m conntrack --ctstate` names them. */
export type CtState = 'NEW' | 'ESTABLISHED' | 'RELATED' | 'INVALID' | 'UNTRACKED' | 'SNAT' | 'DNAT';

/** What a rule can read of a packet. Interface names are `''` when the packet has none at that hook. */
export interface PacketView {
  readonly family: 'ipv4' | 'ipv6';
  /** Lowercase protocol name (`tcp`, `udp`, `icmp`, `ipv6-icmp`, `sctp`…) or the protocol number as text. */
  readonly proto?: string | undefined;
  readonly src?: string | undefined;
  readonly dst?: string | undefined;
  readonly sport?: number | undefined;
  readonly dport?: number | undefined;
  readonly in?: string | undefined;
  readonly out?: string | undefined;
  readonly mark?: number | undefined;
  /** TCP flags set (`SYN`, `ACK`, …). */
  readonly tcpFlags?: readonly string[] | undefined;
  /** IPv4 fragment offset (0 for the first fragment or an unfragmented packet). */
  readonly fragOffset?: number | undefined;
  readonly icmpType?: number | undefined;
  readonly icmpCode?: number | undefined;
  /** IP total length (IPv4) or payload length + 40 (IPv6), as `-m length` compares it. */
  readonly len?: number | undefined;
  /** TTL (IPv4) or hop limit (IPv6). */
  readonly ttl?: number | undefined;
  /** The whole TOS / traffic-class byte. */
  readonly tos?: number | undefined;
  readonly physin?: string | undefined;
  readonly physout?: string | undefined;
  /** Source MAC in colon form, lowercase. */
  readonly srcMac?: string | undefined;
  /** The conntrack states the packet can be in; undefined when not known. */
  readonly ctState?: readonly CtState[] | undefined;
  /**
   * The connection's NAT status as `--ctstate SNAT/DNAT` reads it (`[]`: not NAT'ed); undefined when not known.
   * A status, not a state: a NEW connection can also be DNAT.
   */
  readonly ctStatus?: readonly ('SNAT' | 'DNAT')[] | undefined;
  /** The connection's original-direction tuple, when known (a connection's first packet before any NAT). */
  readonly orig?:
    | { readonly src?: string; readonly dst?: string; readonly sport?: number; readonly dport?: number }
    | undefined;
}

/** Host facts as the evaluator needs them: what `-m addrtype` asks of an address. */
export interface AddressTyper {
  /** The kernel's address type of `ip` on this host (`LOCAL`, `UNICAST`, `BROADCAST`, …), or undefined. */
  addressType(ip: string, family: 'ipv4' | 'ipv6'): string | undefined;
  /**
   * Every type the address has, where types are not exclusive (IPv6: a local address is LOCAL and UNICAST); when
   * given, `-m addrtype` matches if any of them is wanted. Undefined when the address cannot be typed.
   */
  addressTypes?(ip: string, family: 'ipv4' | 'ipv6'): readonly string[] | undefined;
}

function known(e: NetfilterEvent, field: string): boolean {
  const d = e.netfilter.degraded;
  return d === undefined || !d.includes(field);
}

/**
 * The packet as the rule of this trace step saw it. `proto` stands in for a transport protocol the channel does
 * not print (taken from the rules the kernel reported as matched).
 */
export function packetOfEvent(e: NetfilterEvent, proto?: string): PacketView {
  const nf = e.netfilter;
  const fam = e.network.type === 'ipv6' ? 'ipv6' : 'ipv4';
  const ip = nf.ip;
  const icmp = nf.icmp;
  const inName = e.observer?.ingress?.interface?.name;
  const outName = e.observer?.egress?.interface?.name;
  const srcMac = e.source?.mac;
  return {
    family: fam,
    proto: e.network.transport ?? proto,
    src: e.source?.ip,
    dst: e.destination?.ip,
    sport: e.source?.port,
    dport: e.destination?.port,
    in: known(e, 'observer.ingress.interface.name') ? inName : undefined,
    out: known(e, 'observer.egress.interface.name') ? outName : undefined,
    mark: known(e, 'netfilter.mark') ? nf.mark : undefined,
    tcpFlags: nf.tcp && known(e, 'tcp.flags') ? nf.tcp.flags : undefined,
    fragOffset: ip && known(e, 'ip.fragOffset') ? (ip.fragOffset ?? 0) : undefined,
    icmpType: icmp?.type,
    icmpCode: icmp?.code,
    len: fam === 'ipv4' ? ip?.len : ip?.len !== undefined ? ip.len : undefined,
    ttl: fam === 'ipv4' ? ip?.ttl : ip?.hoplimit,
    tos: fam === 'ipv4' ? ip?.tos : ip?.tc,
    physin: nf.physin,
    physout: nf.physout,
    srcMac: srcMac === undefined ? undefined : srcMac.toLowerCase().replace(/-/g, ':'),
    ctState: undefined,
    ctStatus: undefined,
    orig: undefined,
  };
}
