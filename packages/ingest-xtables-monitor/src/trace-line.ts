/**
 * The ` TRACE:` line of `xtables-monitor --trace` (iptables/xtables-monitor.c `trace_cb()`):
 *
 *    TRACE: <family> <id %08x> <table>:<chain>:rule:0x<handle>:<VERDICT>  <rule>     NFT_TRACETYPE_RULE
 *    TRACE: <family> <id %08x> <table>:<chain>:policy:<ACCEPT|DROP>                  NFT_TRACETYPE_POLICY
 *    TRACE: <family> <id %08x> <table>:<chain>:return:[<chain>]                      NFT_TRACETYPE_RETURN
 *
 * `<VERDICT>` is `print_verdict()`: ACCEPT, DROP, QUEUE, STOLEN, BREAK, CONTINUE, `JUMP[:<chain>]`,
 * `GOTO[:<chain>]`, or `0x%x` for anything else (NFT_RETURN, -5, prints as `0xfffffffb`).
 * `<rule>` is the rule fetched by handle when the line is printed, in save syntax with the table:
 * `-4 -t raw -A PREROUTING …` (1.8.x up to 1.8.10), `iptables -t raw -A PREROUTING …` (1.8.11+, commit
 * 73ac92c7), absent when the rule was deleted before it could be fetched. Since 1.8.7 (commit 180ba723) two
 * spaces separate verdict and rule; before, one.
 */
import type { TraceStep } from '@ruletrail/event';

/** A parsed TRACE line. */
export interface TraceLine {
  /** Family number (2 = ip, 10 = ip6, 3 = arp, 7 = bridge). */
  readonly family: number;
  /** Trace id, 8 lowercase hex digits. */
  readonly id: string;
  readonly step: TraceStep;
  /** One space between verdict and rule: the pre-1.8.7 layout, where the PACKET line comes after the rule. */
  readonly oldLayout: boolean;
}

/** Why a TRACE line does not follow the format. */
export class TraceSyntaxError {
  constructor(readonly reason: string) {}
}

/** nftables family names by NFPROTO number, as `nft` prints them. */
export const FAMILY_NAMES: Readonly<Record<number, string>> = {
  1: 'inet',
  2: 'ip',
  3: 'arp',
  5: 'netdev',
  7: 'bridge',
  10: 'ip6',
};

/** Negative nftables verdict codes `print_verdict()` prints as hex. */
const HEX_VERDICTS: Readonly<Record<string, string>> = {
  '0xffffffff': 'CONTINUE',
  '0xfffffffe': 'BREAK',
  '0xfffffffd': 'JUMP',
  '0xfffffffc': 'GOTO',
  '0xfffffffb': 'RETURN',
};

const WORD_VERDICTS = new Set(['ACCEPT', 'DROP', 'QUEUE', 'STOLEN', 'BREAK', 'CONTINUE']);

/** Parses a TRACE line (leading spaces allowed). */
export function parseTraceLine(line: string): TraceLine | TraceSyntaxError {
  const start = line.indexOf('TRACE: ');
  if (start < 0 || line.slice(0, start).trim() !== '') return new TraceSyntaxError('not a TRACE line');
  let p = start + 7;
  const sp1 = line.indexOf(' ', p);
  const famText = sp1 < 0 ? line.slice(p) : line.slice(p, sp1);
  if (!/^\d{1,3}$/.test(famText)) return new TraceSyntaxError(`family "${famText}" is not a number`);
  p = sp1 + 1;
  const sp2 = line.indexOf(' ', p);
  const id = sp2 < 0 ? line.slice(p) : line.slice(p, sp2);
  if (sp1 < 0 || !/^[0-9a-f]{8}$/.test(id))
    return new TraceSyntaxError(`trace id "${id}" is not 8 hex digits`);
  if (sp2 < 0) return new TraceSyntaxError('no <table>:<chain>:<type> after the trace id');
  p = sp2 + 1;
  // The header token runs to the first space; the rule text (rule lines only) follows.
  const sp3 = line.indexOf(' ', p);
  const head = sp3 < 0 ? line.slice(p) : line.slice(p, sp3);
  const rest = sp3 < 0 ? '' : line.slice(sp3 + 1);
  const c1 = head.indexOf(':');
  if (c1 <= 0) return new TraceSyntaxError(`"${head}" is not <table>:<chain>:<rule|policy|return>:…`);
  const table = head.slice(0, c1);
  const family = Number(famText);
  const familyName = FAMILY_NAMES[family];

  // A chain name may itself contain colons, so find the type marker rather than splitting.
  const ruleAt = head.indexOf(':rule:0x', c1);
  const policyAt = head.indexOf(':policy:', c1);
  const returnAt = head.indexOf(':return:', c1);
  const firstOf = [ruleAt, policyAt, returnAt].filter((i) => i > c1);
  if (firstOf.length === 0)
    return new TraceSyntaxError(`"${head}" has no :rule:0x<handle>:, :policy: or :return: part`);
  const at = Math.min(...firstOf);
  const chain = head.slice(c1 + 1, at);
  if (chain === '') return new TraceSyntaxError(`"${head}" has an empty chain name`);
  const base = { table, chain, id, ...(familyName ? { family: familyName } : {}) };

  if (at === ruleAt) {
    const h0 = at + 8;
    const h1 = head.indexOf(':', h0);
    const handleText = h1 < 0 ? head.slice(h0) : head.slice(h0, h1);
    if (!/^[0-9a-f]{1,16}$/.test(handleText))
      return new TraceSyntaxError(`rule handle "0x${handleText}" is not hex`);
    const handle = parseInt(handleText, 16);
    if (!Number.isSafeInteger(handle))
      return new TraceSyntaxError(`rule handle "0x${handleText}" is too large`);
    if (h1 < 0) return new TraceSyntaxError(`"${head}" has no verdict after the rule handle`);
    const v = verdictOf(head.slice(h1 + 1));
    if (v instanceof TraceSyntaxError) return v;
    const oldLayout = rest !== '' && !rest.startsWith(' ');
    const rule = saveForm(rest, table);
    const step: TraceStep = {
      ...base,
      kind: 'rule',
      handle,
      verdict: v.verdict,
      ...(v.target !== undefined ? { target: v.target } : {}),
      ...(rule !== '' ? { rule } : {}),
    };
    return { family, id, step: order(step), oldLayout };
  }
  if (rest.trim() !== '')
    return new TraceSyntaxError(`unexpected text "${rest.trim().slice(0, 40)}" after "${head}"`);
  if (at === policyAt) {
    const verdict = head.slice(at + 8);
    if (verdict !== 'ACCEPT' && verdict !== 'DROP')
      return new TraceSyntaxError(`policy "${verdict}" is neither ACCEPT nor DROP`);
    return { family, id, step: order({ ...base, kind: 'policy', verdict }), oldLayout: false };
  }
  const target = head.slice(at + 8);
  return {
    family,
    id,
    step: order({ ...base, kind: 'return', verdict: 'RETURN', ...(target !== '' ? { target } : {}) }),
    oldLayout: false,
  };
}

function verdictOf(text: string): { verdict: string; target?: string } | TraceSyntaxError {
  if (WORD_VERDICTS.has(text)) return { verdict: text };
  for (const kw of ['JUMP', 'GOTO'] as const) {
    if (text === kw) return { verdict: kw };
    if (text.startsWith(`${kw}:`) && text.length > kw.length + 1)
      return { verdict: kw, target: text.slice(kw.length + 1) };
  }
  const hex = HEX_VERDICTS[text.toLowerCase()];
  if (hex) return { verdict: hex };
  if (/^0x[0-9a-f]{1,8}$/i.test(text)) return { verdict: text.toLowerCase() };
  return new TraceSyntaxError(`unknown verdict "${text}"`);
}

/**
 * The rule as iptables-save prints it (`-A CHAIN …`): the printed line starts with the family flag
 * (`-4 `, `-6 `, `-0 `) or, from 1.8.11, the command (`iptables `, `ip6tables `, `arptables `, `ebtables `),
 * then `-t <table> `. Dropping that prefix here means the engine's text join sees the snapshot's own form
 * whatever the build; nothing else of the rule is touched.
 */
export function saveForm(printed: string, table: string): string {
  let s = printed.trim();
  const cmd = /^(?:-[046]|iptables|ip6tables|arptables|ebtables)\s+/.exec(s);
  if (cmd) s = s.slice(cmd[0].length);
  const t = /^-t\s+(\S+)\s+/.exec(s);
  if (t && t[1] === table) s = s.slice(t[0].length);
  // `--counters` prints the save-style `[packets:bytes] ` prefix.
  const c = /^\[\d+:\d+\]\s+/.exec(s);
  if (c) s = s.slice(c[0].length);
  return s;
}

/** Key order as the schema lists it, so events print alike across channels. */
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
