/**
 * Address arithmetic for `-s/-d`, `iprange` and `ctorig*`: IPv4 as one 32-bit number, IPv6 as four, so a CIDR
 * test is a few masked compares and never a string operation per packet.
 */

/** An address as 32-bit words (1 for IPv4, 4 for IPv6). */
export type Words = readonly number[];

export function parseV4(s: string): number | undefined {
  const p = s.split('.');
  if (p.length !== 4) return undefined;
  let n = 0;
  for (const x of p) {
    if (!/^\d{1,3}$/.test(x)) return undefined;
    const v = Number(x);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n >>> 0;
}

export function parseV6(s: string): Words | undefined {
  let text = s;
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
  if (text.includes('.')) {
    const i = text.lastIndexOf(':');
    const v4 = parseV4(text.slice(i + 1));
    if (v4 === undefined) return undefined;
    text = `${text.slice(0, i + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(':') : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const groups: number[] = [];
  for (const g of head) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    groups.push(parseInt(g, 16));
  }
  const after: number[] = [];
  for (const g of rest) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    after.push(parseInt(g, 16));
  }
  const fill = 8 - groups.length - after.length;
  if (halves.length === 1 ? fill !== 0 : fill < 0) return undefined;
  const all = [...groups, ...new Array<number>(Math.max(0, fill)).fill(0), ...after];
  const w: number[] = [];
  for (let i = 0; i < 8; i += 2) w.push(((all[i]! << 16) | all[i + 1]!) >>> 0);
  return w;
}

/** An address of either family as words; undefined when it is neither. */
export function parseAddress(s: string): Words | undefined {
  if (s.includes(':')) return parseV6(s);
  const v = parseV4(s);
  return v === undefined ? undefined : [v];
}

/** A prefix: `addr/len`, `addr/mask` (dotted IPv4 mask) or a bare address. */
export interface Prefix {
  readonly addr: Words;
  readonly mask: Words;
  readonly text: string;
}

export function parsePrefix(s: string): Prefix | undefined {
  const slash = s.indexOf('/');
  const a = parseAddress(slash < 0 ? s : s.slice(0, slash));
  if (!a) return undefined;
  const bits = a.length * 32;
  let mask: number[];
  if (slash < 0) mask = a.map(() => 0xffffffff);
  else {
    const m = s.slice(slash + 1);
    if (/^\d+$/.test(m)) {
      const len = Number(m);
      if (len > bits) return undefined;
      mask = a.map((_, i) => {
        const n = Math.max(0, Math.min(32, len - i * 32));
        return n === 0 ? 0 : (0xffffffff << (32 - n)) >>> 0;
      });
    } else {
      const mw = parseAddress(m);
      if (!mw || mw.length !== a.length) return undefined;
      mask = [...mw];
    }
  }
  return { addr: a.map((w, i) => (w & mask[i]!) >>> 0), mask, text: s };
}

/** Whether `ip` is inside the prefix; undefined when the address does not parse or is of the other family. */
export function inPrefix(ip: Words, p: Prefix): boolean | undefined {
  if (ip.length !== p.addr.length) return undefined;
  for (let i = 0; i < ip.length; i++) if ((ip[i]! & p.mask[i]!) >>> 0 !== p.addr[i]) return false;
  return true;
}

/** -1, 0, 1: word-wise compare of two addresses of one family. */
export function compareAddress(a: Words, b: Words): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  return 0;
}

const parsed = new Map<string, Words | null>();
/** {@link parseAddress}, memoised: the same few thousand addresses recur in every capture. */
export function addressWords(ip: string): Words | undefined {
  let w = parsed.get(ip);
  if (w === undefined) {
    w = parseAddress(ip) ?? null;
    if (parsed.size > 50_000) parsed.clear();
    parsed.set(ip, w);
  }
  return w ?? undefined;
}
