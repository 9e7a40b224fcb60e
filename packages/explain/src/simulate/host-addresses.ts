/**
 * The host's addresses as `simulate` needs them (local delivery and `-m addrtype`), from `ip -j addr` output or
 * from a host-facts document's `addr` array (the same output, recorded next to a snapshot).
 */
import { parseAddress, type AddressTyper } from '../evaluate';

/** An `ip -j addr` / host-facts document that cannot be read: the message says why. */
export class HostAddressesError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HostAddressesError';
  }
}

/**
 * LOCAL for the host's own addresses, BROADCAST for the broadcast addresses it lists, undefined (not known from
 * these facts) for any other address. @throws HostAddressesError naming `source` and the entry.
 */
export function hostAddressTyper(json: unknown, source: string): AddressTyper {
  const addr = Array.isArray(json) ? json : (json as { addr?: unknown } | null)?.addr;
  if (!Array.isArray(addr))
    throw new HostAddressesError(
      `${source}: expected the array 'ip -j addr' prints, or an object with an "addr" array`,
    );
  const local = new Set<string>();
  const broadcast = new Set<string>();
  const canon = (ip: string) => parseAddress(ip)?.join('.') ?? ip;
  addr.forEach((link: unknown, i) => {
    const infos = (link as { addr_info?: unknown } | null)?.addr_info;
    if (!Array.isArray(infos)) return;
    for (const a of infos as { local?: unknown; broadcast?: unknown }[]) {
      if (typeof a.local === 'string') {
        if (!parseAddress(a.local))
          throw new HostAddressesError(`${source}: entry ${i + 1}: '${a.local}' is not an address`);
        local.add(canon(a.local));
      }
      if (typeof a.broadcast === 'string') broadcast.add(canon(a.broadcast));
    }
  });
  return {
    addressType: (ip) => {
      const c = canon(ip);
      return local.has(c) ? 'LOCAL' : broadcast.has(c) ? 'BROADCAST' : undefined;
    },
  };
}
