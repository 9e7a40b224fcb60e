/**
 * Address-family clues in rule arguments, for snapshots whose header does not say which tool wrote them.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { Family } from './model';

/**
 * Match and target options whose values are addresses (possibly with a mask, a port, or a range). `-s`/`-d`
 * are handled by the caller. Values such as `10.0.0.1:80` or `[fd00::1]:80-90` are understood.
 */
export const ADDRESS_OPTIONS: ReadonlySet<string> = new Set([
  'to-destination', // DNAT
  'to-source', // SNAT
  'to', // NETMAP, SAME
  'gateway', // TEE
  'on-ip', // TPROXY
  'src-range', // iprange
  'dst-range',
  'ctorigsrc', // conntrack
  'ctorigdst',
  'ctreplsrc',
  'ctrepldst',
  'tunnel-src', // policy
  'tunnel-dst',
]);

/** A dotted quad followed by the end, a mask, a port, a range or a list. */
const IPV4_PREFIX_RE = /^(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(?:$|[/:,-])/;

/**
 * The family an address-like value belongs to, or `undefined` when it is not an address (a host name, a port).
 * `10.0.0.1:80` is IPv4 although it contains a colon: only a colon inside the address itself means IPv6.
 */
export function addressFamily(value: string): Family | undefined {
  // Fast path for the common `a.b.c.d/nn` and `a.b.c.d:port` (node's isIPv6 is one very large regex).
  const m = IPV4_PREFIX_RE.exec(value);
  if (m !== null) return isIPv4(m[1]!) ? 'ipv4' : undefined;
  let v = value;
  if (v.startsWith('[')) {
    // `[addr]` or `[addr]:port`, as ip6tables writes DNAT/SNAT targets with a port.
    const end = v.indexOf(']');
    return end > 0 && isIPv6(v.slice(1, end)) ? 'ipv6' : undefined;
  }
  // A list `a,b` (what `iptables -s a,b` accepts): the first item decides.
  const comma = v.indexOf(',');
  if (comma >= 0) v = v.slice(0, comma);
  const slash = v.indexOf('/');
  if (slash >= 0) v = v.slice(0, slash);
  // A range `a-b` (iprange, NAT ranges): IPv6 addresses never contain '-', so the first half decides.
  const dash = v.indexOf('-');
  if (dash >= 0) v = v.slice(0, dash);
  return isIPv6(v) ? 'ipv6' : undefined;
}
