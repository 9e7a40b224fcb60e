// `simulate` against the real traces: for every explained packet of a capture, the packet the trace's first step
// shows is simulated through the snapshot the packet was explained with, and the predicted path (table, chain,
// rule number of every step) and verdict are compared with the traced ones. A prediction that made no assumption
// (one branch, nothing unknown) and differs from the trace is a failure — unless the explanation itself flags
// snapshot_mismatch (the trace cannot be placed in that snapshot: the drift scenario's stale snapshot).
import * as fs from 'node:fs';
import { parseHostFacts, parseIptablesSave, parseNftJson, type Ruleset } from '@ruletrail/ruleset';
import * as path from 'node:path';
import {
  addressTyperOf,
  simulate,
  type AddressTyper,
  type SimPacket,
  type Simulation,
  type SimulatedStep,
} from '@ruletrail/explain';
import type { Json } from './explain';
import type { PassMeta } from './types';

/** How one packet's prediction compares with its trace. */
export type Agreement =
  | { readonly kind: 'agree' }
  | { readonly kind: 'disagree'; readonly why: string }
  /** The prediction depends on something unknown: not compared. */
  | { readonly kind: 'undecided'; readonly why: string }
  /** The explanation says the trace does not fit its snapshot: not compared. */
  | { readonly kind: 'exempt'; readonly why: string };

function obj(v: unknown): Json | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
}
function arr(v: unknown): Json[] {
  return Array.isArray(v) ? v.map((x) => obj(x) ?? {}) : [];
}

const snapshotCache = new Map<string, Ruleset>();
function loadSnapshot(file: string, family: 'ipv4' | 'ipv6'): Ruleset {
  const key = `${family}:${file}`;
  let rs = snapshotCache.get(key);
  if (!rs) {
    const text = fs.readFileSync(file, 'utf8');
    rs = /^\s*\{/.test(text)
      ? parseNftJson(text, { source: file, family })
      : parseIptablesSave(text, { source: file });
    snapshotCache.set(key, rs);
  }
  return rs;
}

/**
 * The node's address types from the pass's host facts (`host-facts.json`, `ip -j addr` of the node), when the
 * capture has them: they include the extra addresses a scenario puts on the node.
 */
function hostFacts(meta: PassMeta, dir: string): AddressTyper | undefined {
  const file = (meta as { hostFacts?: unknown }).hostFacts;
  if (typeof file !== 'string') return undefined;
  const f = path.join(dir, file);
  return addressTyperOf(parseHostFacts(fs.readFileSync(f, 'utf8'), f));
}

/** The lab node's own addresses (local delivery and `-m addrtype LOCAL`). */
export function nodeAddresses(meta: PassMeta): string[] {
  const a = meta.addresses;
  return [a.node.v4, a.node.v6, a.nodePodSide.v4, a.nodePodSide.v6];
}

/**
 * The packet to simulate, from the explanation of a traced packet: its fields as the first step saw them, the
 * input interface, the TCP flags and the mark at the first step; `state new` when the trace went through a NAT
 * chain (only a connection's first packet does), `state established` for a later packet of a connection whose
 * earlier packets (either direction) are in the same capture; the output interface of a forwarded packet, which
 * comes from the routing table (no snapshot has it).
 */
export function packetOfExplanation(p: Json, rs: Ruleset, laterInConnection = false): SimPacket | undefined {
  const k = obj(p['packet']);
  if (!k) return undefined;
  const src = typeof k['src'] === 'string' ? k['src'] : undefined;
  const dst = typeof k['dst'] === 'string' ? k['dst'] : undefined;
  const proto = typeof k['proto'] === 'string' ? k['proto'] : undefined;
  if (!src || !dst || !proto) return undefined;
  const steps = arr(p['steps']);
  const natStep = steps.some((s) => {
    const c = rs.tables.get(String(s['table']))?.chains.get(String(s['chain']));
    return c?.type !== undefined ? c.type === 'nat' : s['table'] === 'nat';
  });
  const forwarded = steps.some((s) => {
    const c = rs.tables.get(String(s['table']))?.chains.get(String(s['chain']));
    return (c?.hook ?? s['chain']) === 'FORWARD';
  });
  let out: string | undefined;
  if (forwarded)
    for (const s of steps) {
      const o = obj(s['changed'])?.['out'];
      if (typeof o === 'string' && o) {
        out = o;
        break;
      }
    }
  const mark = typeof steps[0]?.['mark'] === 'string' ? Number(steps[0]['mark']) : 0;
  const num = (v: unknown) => (typeof v === 'number' ? v : undefined);
  const flags = Array.isArray(k['tcpFlags']) ? (k['tcpFlags'] as string[]) : undefined;
  const spec: { -readonly [K in keyof SimPacket]: SimPacket[K] } = {
    family: k['family'] === 'ipv6' ? 'ipv6' : 'ipv4',
    proto,
    src,
    dst,
    mark,
  };
  const sport = num(k['sport']);
  const dport = num(k['dport']);
  if (sport !== undefined) spec.sport = sport;
  if (dport !== undefined) spec.dport = dport;
  if (typeof k['in'] === 'string' && k['in']) spec.in = k['in'];
  if (out !== undefined) spec.out = out;
  if (flags && proto === 'tcp') spec.tcpFlags = flags;
  const icmpType = num(k['icmpType']);
  const icmpCode = num(k['icmpCode']);
  if (icmpType !== undefined) spec.icmpType = icmpType;
  if (icmpCode !== undefined) spec.icmpCode = icmpCode;
  const len = num(k['len']);
  if (len !== undefined) spec.len = len;
  if (natStep) spec.state = 'NEW';
  // A SYN opens a connection whatever came before (a port reused, or one packet's trace split in two).
  else if (laterInConnection && !(flags?.includes('SYN') && !flags.includes('ACK')))
    spec.state = 'ESTABLISHED';
  return spec;
}

const label = (s: { table?: unknown; chain?: unknown; rulenum?: unknown }) =>
  `${String(s.table)}:${String(s.chain)}:${String(s.rulenum)}`;

/**
 * The predicted steps the trace can show. The legacy kernel log starts after the rule whose TRACE target switched
 * tracing on and logs every end of a user chain; nf_tables tracing (xtables-monitor, nft monitor) reports the
 * TRACE rule itself and no implicit return.
 */
function traceable(steps: readonly SimulatedStep[], nfTables: boolean): readonly SimulatedStep[] {
  const i = steps.findIndex((s) => s.target === 'TRACE');
  const from = i < 0 ? steps : steps.slice(nfTables ? i : i + 1);
  return nfTables ? from.filter((s) => s.resolution !== 'implicit-return') : from;
}

/** The connection a packet belongs to, the same for both directions (before any NAT). */
export function connectionKey(p: Json): string {
  const k = obj(p['packet']) ?? {};
  const ends = [
    `${String(k['src'])}/${String(k['sport'])}`,
    `${String(k['dst'])}/${String(k['dport'])}`,
  ].sort();
  return `${String(k['proto'])} ${ends.join(' ')}`;
}

/**
 * Simulates one explained packet and compares. `laterInConnection`: an earlier packet of its connection was
 * traced in the same capture (see {@link connectionKey}).
 */
export function compareWithTrace(
  p: Json,
  meta: PassMeta,
  dir: string,
  laterInConnection = false,
): { agreement: Agreement; simulation?: Simulation } {
  const flags = Array.isArray(p['flags']) ? (p['flags'] as string[]) : [];
  if (flags.includes('snapshot_mismatch'))
    return { agreement: { kind: 'exempt', why: 'the explanation flags snapshot_mismatch' } };
  // A later packet of a NAT'ed connection is rewritten by conntrack, not by a rule: the connection's NAT is state
  // a packet description does not carry.
  if (arr(p['nat']).some((n) => n['kind'] === 'CONNTRACK'))
    return { agreement: { kind: 'undecided', why: "rewritten by its connection's NAT (conntrack)" } };
  const snap = obj(p['snapshot']);
  const k = obj(p['packet']);
  if (!snap || typeof snap['source'] !== 'string' || !k)
    return { agreement: { kind: 'undecided', why: 'no snapshot in the explanation' } };
  const rs = loadSnapshot(snap['source'], k['family'] === 'ipv6' ? 'ipv6' : 'ipv4');
  const spec = packetOfExplanation(p, rs, laterInConnection);
  if (!spec) return { agreement: { kind: 'undecided', why: 'the packet lacks addresses or protocol' } };
  const facts = hostFacts(meta, dir);
  const sim = simulate(rs, spec, { locals: nodeAddresses(meta), ...(facts ? { facts } : {}) });
  if (sim.branches)
    return {
      agreement: {
        kind: 'undecided',
        why: `depends on ${sim.unknowns.map((u) => u.criterion).join(', ')}`,
      },
      simulation: sim,
    };
  const want = arr(p['steps']).map((s) => label(s));
  const got = traceable(sim.steps, meta.backend !== 'legacy').map((s) => label(s));
  const firstDiff = want.findIndex((w, i) => got[i] !== w);
  const why: string[] = [];
  if (firstDiff >= 0 || got.length !== want.length) {
    const i = firstDiff >= 0 ? firstDiff : Math.min(got.length, want.length);
    why.push(
      `path differs at step ${i + 1}: traced ${want[i] ?? '(end)'}, predicted ${got[i] ?? '(end)'}` +
        ` (traced ${want.length} steps, predicted ${got.length})`,
    );
  }
  const verdict = String(p['verdict']);
  if (verdict !== 'UNKNOWN' && verdict !== sim.verdict)
    why.push(`verdict: traced ${verdict}, predicted ${sim.verdict}`);
  return {
    agreement: why.length ? { kind: 'disagree', why: why.join('; ') } : { kind: 'agree' },
    simulation: sim,
  };
}
