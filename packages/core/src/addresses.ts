/**
 * Address canonicalisation. The kernel prints IPv6 fully expanded (`%pI6`: `2001:0db8:0000:…`) while ulogd,
 * nft and xtables-monitor print RFC 5952 compressed; ECS wants MACs as `AA-BB-…`. Every adapter runs its
 * addresses through here so the same packet looks the same whatever channel it came from.
 */
import { isIPv6 } from 'node:net';
import type { Endpoint } from '@ruletrail/event';

/** RFC 5952 form of an IPv6 address (lowercase, leading zeros dropped, longest zero run as `::`). */
export function canonicalIpv6(addr: string): string {
  if (!isIPv6(addr)) return addr;
  let groups: string[];
  const dbl = addr.indexOf('::');
  const expand = (s: string): string[] => (s === '' ? [] : s.split(':'));
  let tail = addr;
  let v4: string[] = [];
  const lastColon = addr.lastIndexOf(':');
  if (addr.indexOf('.', lastColon) >= 0) {
    // embedded IPv4 (::ffff:1.2.3.4): turn it into two hex groups
    const parts = addr
      .slice(lastColon + 1)
      .split('.')
      .map(Number);
    v4 = [((parts[0]! << 8) | parts[1]!).toString(16), ((parts[2]! << 8) | parts[3]!).toString(16)];
    tail = addr.slice(0, lastColon + 1) + '0:0';
  }
  if (dbl >= 0) {
    const head = expand(tail.slice(0, tail.indexOf('::')));
    const rest = expand(tail.slice(tail.indexOf('::') + 2));
    groups = [...head, ...new Array<string>(8 - head.length - rest.length).fill('0'), ...rest];
  } else groups = tail.split(':');
  if (v4.length) groups.splice(6, 2, ...v4);
  const g = groups.map((x) => parseInt(x, 16).toString(16));
  // longest run of zero groups, length >= 2, first one wins on ties (RFC 5952 §4.2.3)
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === '0') j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestStart < 0) return g.join(':');
  return `${g.slice(0, bestStart).join(':')}::${g.slice(bestStart + bestLen).join(':')}`;
}

/** Canonical form of any IP address string (IPv4 is returned as is). */
export function canonicalIp(addr: string): string {
  return addr.indexOf(':') >= 0 ? canonicalIpv6(addr) : addr;
}

/** `00:15:5d:12:e2:24` (or glibc's unpadded `0:15:5d:…`) → ECS `00-15-5D-12-E2-24`. */
export function ecsMac(mac: string): string {
  return mac
    .split(':')
    .map((b) => b.padStart(2, '0').toUpperCase())
    .join('-');
}

/** An ECS `source`/`destination` from whatever the channel printed; undefined when it printed none of them. */
export function endpointOf(
  ip: string | undefined,
  port: number | undefined,
  mac: string | undefined,
): Endpoint | undefined {
  if (ip === undefined && port === undefined && mac === undefined) return undefined;
  const e: { ip?: string; port?: number; mac?: string } = {};
  if (ip !== undefined) e.ip = ip;
  if (port !== undefined) e.port = port;
  if (mac !== undefined) e.mac = ecsMac(mac);
  return e;
}
