/**
 * One line of `nft monitor trace` (nftables `netlink_events_trace_cb()` and its printers, src/trace.c or
 * src/netlink.c depending on the version). Every line starts with `trace_print_hdr()`:
 *
 *   trace id <%08x> <family> <table> <chain> <what>
 *
 * and `<what>` is one of
 *
 *   packet: <statements>                      the headers (first event of each base chain)
 *   conntrack: ct direction … ct state …      newer nft with NFTA_TRACE_CT_* (before the packet line)
 *   rule <rule text> (verdict <v>)            NFT_TRACETYPE_RULE; `nft -a` adds ` # handle <n>` to the text
 *   unknown rule handle <n> (verdict <v>)     a rule nft's cache does not have (added after nft started)
 *   policy <accept|drop> [meta mark 0x…]      NFT_TRACETYPE_POLICY
 *   verdict <v> [meta mark 0x…]               NFT_TRACETYPE_RETURN
 *
 * `<v>` is a verdict expression: accept, drop, continue, return, queue, stolen, `jump <chain>`, `goto <chain>`.
 */
import type { TraceStep } from '@ruletrail/event';

/** What a line says. */
export type NftLine =
  | { readonly type: 'packet'; readonly head: Head; readonly statements: string }
  | { readonly type: 'conntrack'; readonly head: Head }
  | { readonly type: 'step'; readonly head: Head; readonly step: TraceStep; readonly mark?: number };

/** The `trace id … <family> <table> <chain>` header. */
export interface Head {
  readonly id: string;
  readonly family: string;
  readonly table: string;
  readonly chain: string;
}

/** Why a line does not follow the format. */
export class NftLineSyntaxError {
  constructor(readonly reason: string) {}
}

const FAMILIES = new Set(['ip', 'ip6', 'inet', 'arp', 'bridge', 'netdev']);

/**
 * The rule text as the snapshot renders it: `counter packets N bytes M` → `counter` (nft prints the values of its
 * cache, which are not the snapshot's), and the handle of `nft -a` taken out of the text.
 */
export function normalizeNftRule(text: string): { rule: string; handle?: number } {
  let rule = text.replace(/\bcounter packets \d+ bytes \d+/g, 'counter');
  let handle: number | undefined;
  const h = / # handle (\d+)$/.exec(rule);
  if (h) {
    handle = Number(h[1]);
    rule = rule.slice(0, h.index);
  }
  return handle === undefined ? { rule: rule.trim() } : { rule: rule.trim(), handle };
}

/** Uppercase verdict and its chain: `jump services` → JUMP, services. */
function verdictOf(v: string): { verdict: string; target?: string } | NftLineSyntaxError {
  const m = /^(accept|drop|continue|return|queue|stolen|break|repeat)$/.exec(v);
  if (m) return { verdict: m[1]!.toUpperCase() };
  const j = /^(jump|goto) (\S+)$/.exec(v);
  if (j) return { verdict: j[1]!.toUpperCase(), target: j[2]! };
  return new NftLineSyntaxError(`unknown verdict "${v}"`);
}

/** ` meta mark 0x00004000` at the end of a policy/return line. */
function trailingMark(rest: string): { text: string; mark?: number } | NftLineSyntaxError {
  const i = rest.indexOf(' meta mark ');
  if (i < 0) return { text: rest };
  const m = /^0x[0-9a-f]{1,8}$/i.exec(rest.slice(i + 11).trim());
  if (!m) return new NftLineSyntaxError(`bad mark "${rest.slice(i + 11).trim()}"`);
  return { text: rest.slice(0, i), mark: parseInt(m[0].slice(2), 16) };
}

/** Parses one line; `undefined` when it is not a trace line at all. */
export function parseNftTraceLine(line: string): NftLine | NftLineSyntaxError | undefined {
  if (!line.startsWith('trace id ')) return undefined;
  const parts = line.split(' ');
  const [, , id, family, table, chain] = parts;
  if (id === undefined || !/^[0-9a-f]{8}$/.test(id))
    return new NftLineSyntaxError(`trace id "${id ?? ''}" is not 8 hex digits`);
  if (family === undefined || !FAMILIES.has(family))
    return new NftLineSyntaxError(`unknown family "${family ?? ''}"`);
  if (!table || !chain) return new NftLineSyntaxError('no table and chain after the family');
  const head: Head = { id, family, table, chain };
  // Everything after `trace id <id> <family> <table> <chain> `.
  const restAt = 'trace id '.length + id.length + family.length + table.length + chain.length + 4;
  const rest = line.slice(restAt).trimEnd();
  const base = { table, chain, id, family };

  if (rest.startsWith('packet: ') || rest === 'packet:')
    return { type: 'packet', head, statements: rest.slice(8) };
  if (rest.startsWith('conntrack:')) return { type: 'conntrack', head };
  if (rest.startsWith('rule ') || rest.startsWith('unknown rule handle ')) {
    const open = rest.lastIndexOf(' (verdict ');
    if (open < 0 || !rest.endsWith(')')) return new NftLineSyntaxError('rule line without "(verdict …)"');
    const v = verdictOf(rest.slice(open + 10, -1));
    if (v instanceof NftLineSyntaxError) return v;
    const body = rest.slice(0, open);
    const verdict = { verdict: v.verdict, ...(v.target !== undefined ? { target: v.target } : {}) };
    if (body.startsWith('unknown rule handle ')) {
      const h = body.slice(20);
      if (!/^\d{1,15}$/.test(h)) return new NftLineSyntaxError(`rule handle "${h}" is not a number`);
      return { type: 'step', head, step: order({ ...base, kind: 'rule', handle: Number(h), ...verdict }) };
    }
    const { rule, handle } = normalizeNftRule(body.slice(5));
    if (rule === '') return new NftLineSyntaxError('empty rule text');
    return {
      type: 'step',
      head,
      step: order({ ...base, kind: 'rule', ...(handle !== undefined ? { handle } : {}), ...verdict, rule }),
    };
  }
  if (rest.startsWith('policy ')) {
    const m = trailingMark(rest.slice(7));
    if (m instanceof NftLineSyntaxError) return m;
    const p = m.text.trim();
    if (p !== 'accept' && p !== 'drop')
      return new NftLineSyntaxError(`policy "${p}" is neither accept nor drop`);
    return {
      type: 'step',
      head,
      step: order({ ...base, kind: 'policy', verdict: p.toUpperCase() }),
      ...(m.mark !== undefined ? { mark: m.mark } : {}),
    };
  }
  if (rest.startsWith('verdict ') || rest === '' || rest.startsWith('meta mark ')) {
    // NFT_TRACETYPE_RETURN: the end of a chain (the printed verdict, `continue`, is the caller's to go on with).
    const m = trailingMark(rest.startsWith('meta mark ') ? ` ${rest}` : rest);
    if (m instanceof NftLineSyntaxError) return m;
    if (m.text !== '') {
      const v = verdictOf(m.text.slice(8).trim());
      if (v instanceof NftLineSyntaxError) return v;
    }
    return {
      type: 'step',
      head,
      step: order({ ...base, kind: 'return' }),
      ...(m.mark !== undefined ? { mark: m.mark } : {}),
    };
  }
  return new NftLineSyntaxError(`unrecognised trace event "${rest.slice(0, 40)}"`);
}

function order(s: TraceStep): TraceStep {
  const o: TraceStep = { table: s.table, chain: s.chain, kind: s.kind };
  if (s.id !== undefined) o.id = s.id;
  if (s.handle !== undefined) o.handle = s.handle;
  if (s.verdict !== undefined) o.verdict = s.verdict;
  if (s.target !== undefined) o.target = s.target;
  if (s.family !== undefined) o.family = s.family;
  if (s.rule !== undefined) o.rule = s.rule;
  return o;
}
