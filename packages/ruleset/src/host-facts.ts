/**
 * Host facts: the addresses and interfaces of the host a trace was taken on, next to its ruleset snapshot.
 * A TRACE line never says which addresses are the host's own, yet `-m addrtype --dst-type LOCAL` (kube-proxy's
 * KUBE-SERVICES → KUBE-NODEPORTS jump), nft's `fib daddr type local` and NFLOG's interface indexes all depend on
 * them. `ruletrail snapshot facts` / `snapshot ship` record them from `ip -j addr` and `ip -j link`; this module
 * reads that document and answers what the kernel's address-type lookup would.
 *
 * The file format (version 1; docs/pipeline.md):
 *
 *     {"version": 1, "host": "node-1", "capturedAt": "2026-12-04T12:00:00Z",
 *      "addr": <the JSON array `ip -j addr` prints>, "link": <the JSON array `ip -j link` (or `ip -d -j link`) prints>}
 *
 * `host`, `capturedAt` and `link` are optional (`ip -j addr` repeats every link's name, index, flags and MAC).
 */
import { InputError } from '@ruletrail/core';

/** Stable error code of an unreadable host-facts document. */
export const HOST_FACTS_ERROR = 'RT_ERR_HOST_FACTS';

/** One address of the host (`ip -j addr`'s `addr_info` entry, with the interface it sits on). */
export interface HostAddress {
  readonly ifname: string;
  readonly ifindex: number;
  readonly family: 'ipv4' | 'ipv6';
  readonly address: string;
  readonly prefixlen: number;
  /** `host`, `link`, `global`… as `ip` prints it. */
  readonly scope?: string;
  /** The explicitly assigned broadcast address (`brd`), IPv4 only. */
  readonly broadcast?: string;
  /** IPv4: a secondary address of its subnet (the kernel adds no prefix or subnet-broadcast route for it). */
  readonly secondary?: boolean;
  /** IPv6: duplicate address detection has not finished (or failed): not yet a local address. */
  readonly tentative?: boolean;
}

/** One interface of the host (`ip -j link`). */
export interface HostInterface {
  readonly ifindex: number;
  readonly ifname: string;
  readonly mac?: string;
  /** `linkinfo.info_kind` when captured with `ip -d` (`veth`, `bridge`, `vxlan`…), else the link type (`ether`, `loopback`…). */
  readonly kind?: string;
  /** The administrative state: `UP` among the link's flags. */
  readonly up: boolean;
  /** The link is a loopback device (its whole IPv4 prefix is local, not only the address). */
  readonly loopback?: boolean;
}

/** The document as written (`host-facts.json`, or `facts` in a shipped snapshot envelope): `ip`'s own JSON. */
export interface HostFactsDocument {
  readonly version: 1;
  readonly host?: string;
  readonly capturedAt?: string;
  /** `ip -j addr` output, as is. */
  readonly addr: readonly unknown[];
  /** `ip -j link` / `ip -d -j link` output, as is. */
  readonly link?: readonly unknown[];
}

/** What `parseHostFacts` returns. */
export interface HostFacts {
  readonly version: 1;
  readonly host?: string;
  readonly capturedAt?: string;
  readonly addresses: readonly HostAddress[];
  readonly interfaces: readonly HostInterface[];
}

/**
 * The address types of xt_addrtype (`--src-type`/`--dst-type`, iptables-extensions(8)). From host facts alone
 * only LOCAL, BROADCAST, MULTICAST, UNICAST and UNSPEC can be told; BLACKHOLE, UNREACHABLE, PROHIBIT, THROW,
 * NAT, XRESOLVE and ANYCAST come from routes, which the facts do not carry.
 */
export type AddressType =
  | 'UNSPEC'
  | 'UNICAST'
  | 'LOCAL'
  | 'BROADCAST'
  | 'ANYCAST'
  | 'MULTICAST'
  | 'BLACKHOLE'
  | 'UNREACHABLE'
  | 'PROHIBIT'
  | 'THROW'
  | 'NAT'
  | 'XRESOLVE';

/**
 * Reads a host-facts document. @throws InputError naming `source` and the reason (not JSON, wrong version, an
 * entry without index or name, an address that is not an address…): a half-read document is never used.
 */
export function parseHostFacts(text: string, source: string): HostFacts {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new InputError(
      HOST_FACTS_ERROR,
      { file: source },
      `host facts are not JSON: ${(err as Error).message}`,
    );
  }
  return hostFactsFromJson(v, source);
}

/** `parseHostFacts` for a document already parsed (e.g. embedded in a shipped snapshot envelope). */
export function hostFactsFromJson(v: unknown, source: string): HostFacts {
  const fail = (reason: string): never => {
    throw new InputError(HOST_FACTS_ERROR, { file: source }, reason);
  };
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    return fail('host facts are not a JSON object');
  const o = v as Record<string, unknown>;
  if (o['version'] !== 1)
    return fail(`host facts version ${JSON.stringify(o['version'])} is not supported (expected 1)`);
  if (o['host'] !== undefined && typeof o['host'] !== 'string') return fail("'host' is not a string");
  if (o['capturedAt'] !== undefined) {
    if (typeof o['capturedAt'] !== 'string' || Number.isNaN(Date.parse(o['capturedAt'])))
      return fail(`'capturedAt' ${JSON.stringify(o['capturedAt'])} is not a date`);
  }
  if (!Array.isArray(o['addr']))
    return fail("'addr' is missing or not an array (the output of 'ip -j addr')");
  if (o['link'] !== undefined && !Array.isArray(o['link']))
    return fail("'link' is not an array (the output of 'ip -j link')");

  const interfaces = new Map<number, HostInterface>();
  const addresses: HostAddress[] = [];
  const linkOf = (e: unknown, where: string): HostInterface => {
    if (typeof e !== 'object' || e === null) return fail(`${where} is not an object`);
    const l = e as Record<string, unknown>;
    const ifindex = l['ifindex'];
    const ifname = l['ifname'];
    if (typeof ifindex !== 'number' || !Number.isInteger(ifindex) || ifindex < 1)
      return fail(`${where}: 'ifindex' ${JSON.stringify(ifindex)} is not a positive integer`);
    if (typeof ifname !== 'string' || ifname === '') return fail(`${where}: 'ifname' is missing`);
    const flags = Array.isArray(l['flags']) ? l['flags'].filter((f) => typeof f === 'string') : [];
    const info = l['linkinfo'];
    const infoKind =
      typeof info === 'object' && info !== null ? (info as Record<string, unknown>)['info_kind'] : undefined;
    const kind =
      typeof infoKind === 'string'
        ? infoKind
        : typeof l['link_type'] === 'string'
          ? l['link_type']
          : undefined;
    const mac = typeof l['address'] === 'string' && l['link_type'] !== 'none' ? l['address'] : undefined;
    return {
      ifindex,
      ifname,
      ...(mac !== undefined ? { mac } : {}),
      ...(kind !== undefined ? { kind } : {}),
      up: flags.includes('UP'),
      ...(flags.includes('LOOPBACK') || l['link_type'] === 'loopback' ? { loopback: true } : {}),
    };
  };

  (o['link'] as unknown[] | undefined)?.forEach((e, i) => {
    const l = linkOf(e, `link[${i}]`);
    interfaces.set(l.ifindex, l);
  });
  (o['addr'] as unknown[]).forEach((e, i) => {
    const l = linkOf(e, `addr[${i}]`);
    // `ip -d -j link` knows the kind; `ip -j addr` only the link type: keep what `link` said.
    if (!interfaces.has(l.ifindex)) interfaces.set(l.ifindex, l);
    const infos = (e as Record<string, unknown>)['addr_info'];
    if (infos === undefined) return;
    if (!Array.isArray(infos)) return fail(`addr[${i}] (${l.ifname}): 'addr_info' is not an array`);
    infos.forEach((a, j) => {
      const where = `addr[${i}] (${l.ifname}) addr_info[${j}]`;
      if (typeof a !== 'object' || a === null) return fail(`${where} is not an object`);
      const r = a as Record<string, unknown>;
      const fam = r['family'];
      // `ip addr` also lists other families on some links (e.g. `mpls`); only IP addresses matter here.
      if (fam !== 'inet' && fam !== 'inet6') return;
      const family = fam === 'inet' ? 'ipv4' : 'ipv6';
      const address = r['local'];
      if (typeof address !== 'string' || parseIp(address)?.family !== family)
        return fail(`${where}: 'local' ${JSON.stringify(address)} is not an ${family} address`);
      const prefixlen = r['prefixlen'];
      const max = family === 'ipv4' ? 32 : 128;
      if (typeof prefixlen !== 'number' || !Number.isInteger(prefixlen) || prefixlen < 0 || prefixlen > max)
        return fail(`${where}: 'prefixlen' ${JSON.stringify(prefixlen)} is not 0..${max}`);
      const brd = r['broadcast'];
      if (brd !== undefined && (typeof brd !== 'string' || parseIp(brd)?.family !== 'ipv4'))
        return fail(`${where}: 'broadcast' ${JSON.stringify(brd)} is not an IPv4 address`);
      addresses.push({
        ifname: l.ifname,
        ifindex: l.ifindex,
        family,
        address,
        prefixlen,
        ...(typeof r['scope'] === 'string' ? { scope: r['scope'] } : {}),
        ...(typeof brd === 'string' ? { broadcast: brd } : {}),
        ...(r['secondary'] === true ? { secondary: true } : {}),
        ...(r['tentative'] === true || r['dadfailed'] === true ? { tentative: true } : {}),
      });
    });
  });
  return {
    version: 1,
    ...(typeof o['host'] === 'string' ? { host: o['host'] } : {}),
    ...(typeof o['capturedAt'] === 'string' ? { capturedAt: o['capturedAt'] } : {}),
    addresses,
    interfaces: [...interfaces.values()].sort((a, b) => a.ifindex - b.ifindex),
  };
}

/** The interface with that index (NFLOG's indev/outdev numbers), if the facts know it. */
export function interfaceByIndex(facts: HostFacts, ifindex: number): HostInterface | undefined {
  return facts.interfaces.find((i) => i.ifindex === ifindex);
}

/**
 * The type the kernel's addrtype match gives `ip` on this host, without `--limit-iface-*`:
 *
 * - IPv4 (`inet_addr_type()`): 0.0.0.0/8 and 255.255.255.255 are BROADCAST, 224.0.0.0/4 MULTICAST; otherwise the
 *   type of the most specific route of the local table, which holds, for every address on an interface: the
 *   address itself (LOCAL); for a primary address of a prefix shorter than /31 on an interface that is up, the
 *   subnet broadcast (BROADCAST) and, on a loopback device, the whole prefix (LOCAL: all of 127.0.0.0/8); an
 *   explicit `brd` (BROADCAST). Everything else is UNICAST (routes, hence BLACKHOLE/UNREACHABLE/PROHIBIT, are not
 *   in the facts).
 * - IPv6 (`match_type6()`): see `addressTypes`; this returns the most specific of them (LOCAL before MULTICAST,
 *   UNSPEC, UNICAST).
 *
 * @throws Error when `ip` is not an IP address.
 */
export function addressType(facts: HostFacts, ip: string): AddressType {
  const types = addressTypes(facts, ip);
  for (const t of ['LOCAL', 'BROADCAST', 'MULTICAST', 'UNSPEC', 'UNICAST'] as const)
    if (types.includes(t)) return t;
  return 'UNICAST';
}

/**
 * Every type `-m addrtype --dst-type T` would match for `ip`. IPv4 types are exclusive (one element). IPv6 types
 * are not: xt_addrtype tests UNICAST/MULTICAST/UNSPEC on the address itself and LOCAL on the route to it, so a
 * local unicast address is both LOCAL and UNICAST; `::` is UNSPEC, `ff00::/8` MULTICAST, `::1` LOCAL and
 * UNICAST. A tentative (DAD not finished) IPv6 address is not local yet.
 */
export function addressTypes(facts: HostFacts, ip: string): readonly AddressType[] {
  const p = parseIp(ip);
  if (!p) throw new Error(`'${ip}' is not an IP address`);
  if (p.family === 'ipv4') return [ipv4Type(facts, p.value)];
  const v = p.value;
  if (v === 0n) return ['UNSPEC'];
  if (v >> 120n === 0xffn) return ['MULTICAST'];
  const local = facts.addresses.some(
    (a) => a.family === 'ipv6' && !a.tentative && parseIp(a.address)?.value === v,
  );
  return local ? ['LOCAL', 'UNICAST'] : ['UNICAST'];
}

function ipv4Type(facts: HostFacts, v: bigint): AddressType {
  if (v >> 24n === 0n || v === 0xffffffffn) return 'BROADCAST';
  if (v >> 28n === 0xen) return 'MULTICAST';
  // The local routing table, most specific first: /32 entries, then loopback prefixes.
  const up = new Map(facts.interfaces.map((i) => [i.ifindex, i] as const));
  let best: { len: number; type: AddressType } | undefined;
  const offer = (len: number, type: AddressType): void => {
    if (!best || len > best.len) best = { len, type };
  };
  for (const a of facts.addresses) {
    if (a.family !== 'ipv4') continue;
    const addr = parseIp(a.address)?.value;
    if (addr === undefined) continue;
    const mask = a.prefixlen === 0 ? 0n : ((1n << BigInt(a.prefixlen)) - 1n) << BigInt(32 - a.prefixlen);
    const prefix = addr & mask;
    const dev = up.get(a.ifindex);
    const isUp = dev?.up ?? true;
    const loopback = dev?.loopback ?? a.ifname === 'lo';
    if (addr === v) offer(32, 'LOCAL');
    if (!isUp) continue;
    if (a.broadcast !== undefined && parseIp(a.broadcast)?.value === v) offer(32, 'BROADCAST');
    if (a.secondary || prefix === 0n || (prefix === addr && a.prefixlen === 32)) continue;
    if (a.prefixlen < 31 && (prefix | (~mask & 0xffffffffn)) === v) offer(32, 'BROADCAST');
    if (loopback && (v & mask) === prefix) offer(a.prefixlen, 'LOCAL');
  }
  return best?.type ?? 'UNICAST';
}

/** An IPv4 or IPv6 address as a number; undefined when `s` is neither. */
export function parseIp(s: string): { family: 'ipv4' | 'ipv6'; value: bigint } | undefined {
  const m4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (m4) {
    let v = 0n;
    for (const g of m4.slice(1)) {
      const n = Number(g);
      if (n > 255) return undefined;
      v = (v << 8n) | BigInt(n);
    }
    return { family: 'ipv4', value: v };
  }
  if (!s.includes(':') || !/^[0-9a-fA-F:.]+$/.test(s)) return undefined;
  let text = s;
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups.
  const tail = /(\d{1,3}(?:\.\d{1,3}){3})$/.exec(text);
  if (tail) {
    const v4 = parseIp(tail[1]!);
    if (!v4) return undefined;
    text = `${text.slice(0, -tail[1]!.length)}${(v4.value >> 16n).toString(16)}:${(v4.value & 0xffffn).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (h: string): string[] => (h === '' ? [] : h.split(':'));
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  const fill = halves.length === 2 ? 8 - head.length - rest.length : 0;
  if (fill < 0 || (halves.length === 2 && fill < 1)) return undefined;
  const all = [...head, ...Array<string>(fill).fill('0'), ...rest];
  if (all.length !== 8) return undefined;
  let v = 0n;
  for (const g of all) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    v = (v << 16n) | BigInt(parseInt(g, 16));
  }
  return { family: 'ipv6', value: v };
}
