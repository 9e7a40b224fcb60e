/**
 * Which packet fields a rule's criteria read — the key for memoising evaluations. Identical paths recur by the
 * thousand in a capture (every SYN to one NodePort passes the same KUBE-SERVICES rules), and the rules a packet
 * passes read only a few fields (`-d`, `-p`, `--dport`), so evaluations are cached on exactly those values and a
 * repeated path costs one key and one lookup.
 *
 * Must cover every field a check in rule.ts reads; criteria that are always `unknown` (stateful modules, opaque nft
 * expressions) read nothing.
 */
import type { Rule } from '@ruletrail/ruleset';
import type { PacketView } from './packet';

type Field = keyof PacketView | 'facts';

const PORT_MODULES = new Set(['tcp', 'udp', 'sctp', 'udplite', 'dccp']);

const OPTION_READS: Readonly<Record<string, readonly Field[]>> = {
  sport: ['sport'],
  dport: ['dport'],
  sports: ['sport'],
  dports: ['dport'],
  'source-ports': ['sport'],
  'destination-ports': ['dport'],
  ports: ['sport', 'dport'],
  'tcp-flags': ['tcpFlags', 'proto'],
  syn: ['tcpFlags', 'proto'],
  'icmp-type': ['proto', 'icmpType', 'icmpCode'],
  'icmpv6-type': ['proto', 'icmpType', 'icmpCode'],
  mark: ['mark'],
  ctstate: ['ctState', 'ctStatus'],
  state: ['ctState'],
  ctorigsrc: ['orig'],
  ctorigdst: ['orig'],
  ctorigsrcport: ['orig'],
  ctorigdstport: ['orig'],
  'src-range': ['src'],
  'dst-range': ['dst'],
  length: ['len'],
  'ttl-eq': ['ttl'],
  'ttl-lt': ['ttl'],
  'ttl-gt': ['ttl'],
  'hl-eq': ['ttl'],
  'hl-lt': ['ttl'],
  'hl-gt': ['ttl'],
  dscp: ['tos'],
  'dscp-class': ['tos'],
  tos: ['tos'],
  'src-type': ['src', 'family', 'facts'],
  'dst-type': ['dst', 'family', 'facts'],
  'physdev-in': ['physin'],
  'physdev-out': ['physout'],
  'physdev-is-in': ['physin'],
  'physdev-is-out': ['physout'],
  'physdev-is-bridged': ['physout'],
  'mac-source': ['srcMac'],
};

const cache = new WeakMap<Rule, readonly Field[]>();

/** The fields of the packet view (and `facts`) that evaluating `rule` can read. */
export function fieldsRead(rule: Rule): readonly Field[] {
  let f = cache.get(rule);
  if (f) return f;
  const s = new Set<Field>();
  const ip = rule.ip;
  if (ip.protocol) s.add('proto');
  if (ip.source) s.add('src');
  if (ip.destination) s.add('dst');
  if (ip.inInterface) s.add('in');
  if (ip.outInterface) s.add('out');
  if (ip.fragment) s.add('fragOffset');
  for (const m of rule.matches) {
    if (PORT_MODULES.has(m.module)) s.add('proto');
    for (const o of m.options) for (const x of OPTION_READS[o.name] ?? []) s.add(x);
  }
  f = [...s];
  cache.set(rule, f);
  return f;
}

/** The values of `fields` in `p` as one key string. */
export function fieldKey(p: PacketView, fields: readonly Field[], factsId: number): string {
  let k = '';
  for (const name of fields) {
    if (name === 'facts') k += `|f${factsId}`;
    else {
      const v = p[name];
      k += `|${v === undefined ? '~' : Array.isArray(v) ? v.join(',') : typeof v === 'object' ? JSON.stringify(v) : String(v)}`;
    }
  }
  return k;
}
