/**
 * Human output, coloured like the write-up's decoder: the trace step in cyan, a matched rule in green, a chain
 * policy in blue, a return in gray; the verdict line in red (dropped/rejected/unknown) or green (accepted).
 */
import { escapeControl } from '@ruletrail/core';
import type { ExplainedStep, Explanation } from './types';

/** ANSI styling, or plain text when colour is off. */
export interface Palette {
  readonly cyan: (s: string) => string;
  readonly green: (s: string) => string;
  readonly blue: (s: string) => string;
  readonly gray: (s: string) => string;
  readonly red: (s: string) => string;
  readonly yellow: (s: string) => string;
  readonly bold: (s: string) => string;
}

const wrap = (code: string) => (s: string) => `\x1b[${code}m${s}\x1b[0m`;
/** The write-up's colours. */
export const ANSI: Palette = {
  cyan: wrap('36'),
  green: wrap('32'),
  blue: wrap('34'),
  gray: wrap('90'),
  red: wrap('1;31'),
  yellow: wrap('33'),
  bold: wrap('1'),
};
const id = (s: string) => s;
/** No colour (NO_COLOR, --no-color, or not a terminal). */
export const PLAIN: Palette = { cyan: id, green: id, blue: id, gray: id, red: id, yellow: id, bold: id };

function endpoint(ip: string | undefined, port: number | undefined): string {
  if (ip === undefined) return '?';
  const a = ip.includes(':') ? `[${ip}]` : ip;
  return port === undefined ? ip : `${a}:${port}`;
}

/** Options of {@link renderText}. */
export interface RenderOptions {
  /**
   * Also show why the rules between two steps did not match (`skipped`) and what a step's own rule could not be
   * checked on (`check: unknown`): `ruletrail explain --why-not`.
   */
  readonly whyNot?: boolean;
}

function skippedLines(s: Omit<ExplainedStep, 'time'>, c: Palette): string[] {
  const out: string[] = [];
  for (const k of s.skipped ?? []) {
    const which = k.from === k.to ? `rule ${k.from}` : `rules ${k.from}–${k.to}`;
    const verb = k.result === 'no' ? 'did not match' : 'may or may not have matched';
    out.push(`    ${c.gray(`${which} of ${s.chain} ${verb}: ${k.reason}`)}`);
  }
  return out;
}

/** One step as text lines: its trace label, then the rule, policy or return it maps to. */
export function stepLine(
  s: Omit<ExplainedStep, 'time'>,
  palette: Palette,
  opts: RenderOptions = {},
): string[] {
  // Rule text, comments and problems come from input: escaped here too, since simulate calls this directly.
  const c = escaping(palette);
  const label = `${s.table}:${s.chain}:${s.kind}:${s.rulenum}`;
  const changed = s.changed
    ? ' ' +
      Object.entries(s.changed)
        .map(([k, v]) => escapeControl(`${k.toUpperCase()}=${v}`))
        .join(' ')
    : '';
  const at =
    s.origin.line !== undefined
      ? ` (line ${s.origin.line})`
      : s.origin.offset !== undefined
        ? ` (offset ${s.origin.offset})`
        : '';
  const out = opts.whyNot ? skippedLines(s, c) : [];
  out.push(`  ${c.cyan(label)}${changed}${c.gray(at)}`);
  switch (s.resolution) {
    case 'rule':
      out.push(`    ${c.green(s.rule ?? '')}`);
      break;
    case 'unconditional-rule':
      out.push(`    ${c.green(s.rule ?? '')} ${c.gray(`(unconditional, logged as ${s.kind})`)}`);
      break;
    case 'policy':
      out.push(`    ${c.blue(`${s.table} ${s.chain} policy ${s.target ?? '?'}`)}`);
      break;
    case 'implicit-return':
      out.push(`    ${c.gray(`end of ${s.chain}: return to the calling chain`)}`);
      break;
    case 'unresolved':
      out.push(`    ${c.yellow(`? ${s.problem ?? 'cannot be placed in the snapshot'}`)}`);
      break;
  }
  if (s.problem && s.resolution !== 'unresolved') out.push(`    ${c.yellow(`! ${s.problem}`)}`);
  if (opts.whyNot && s.check === 'unknown' && s.checkDetail)
    out.push(`    ${c.gray(`(not checked: ${s.checkDetail})`)}`);
  return out;
}

/**
 * The palette with every styled piece escaped first: all text from input (rule comments, chain names, hosts,
 * problems) reaches the output through the palette, so no raw control character from a snapshot or log line
 * can reach the terminal (issue #15); our own colour codes are added after the escaping.
 */
function escaping(c: Palette): Palette {
  const e = (f: (s: string) => string) => (s: string) => f(escapeControl(s));
  return {
    cyan: e(c.cyan),
    green: e(c.green),
    blue: e(c.blue),
    gray: e(c.gray),
    red: e(c.red),
    yellow: e(c.yellow),
    bold: e(c.bold),
  };
}

/** Renders one explanation as a block of text lines (no trailing newline). */
export function renderText(
  x: Explanation,
  index: number,
  palette: Palette,
  opts: RenderOptions = {},
): string {
  const c = escaping(palette);
  const p = x.packet;
  const head = [
    `packet ${index}:`,
    p.proto ?? '?',
    `${endpoint(p.src, p.sport)} -> ${endpoint(p.dst, p.dport)}`,
    p.host ? `on ${p.host}` : '',
    p.firstSeen ? `at ${p.firstSeen}` : '',
  ]
    .filter(Boolean)
    .join(' ');
  const ids = [
    p.ipId !== undefined ? `ID=${p.ipId}` : '',
    p.tcpSeq !== undefined ? `SEQ=${p.tcpSeq}` : '',
    p.tcpOptions ? `OPT (${p.tcpOptions})` : '',
  ]
    .filter(Boolean)
    .join(' ');
  const lines = [c.bold(head)];
  if (ids) lines.push(`  ${c.gray(ids)}`);
  lines.push(
    `  ${c.gray(x.snapshot ? `snapshot ${x.snapshot.source}${x.snapshot.generatedAt ? ` (${x.snapshot.generatedAt})` : ''} sha256:${x.snapshot.hash.slice(0, 12)}` : 'no snapshot')}`,
  );
  for (const s of x.steps) lines.push(...stepLine(s, c, opts));
  const verdictColour = x.verdict === 'ACCEPT' ? c.green : c.red;
  lines.push(`  ${verdictColour(`=> ${x.verdict}`)}: ${escapeControl(x.cause)}`);
  if (x.kubernetes?.service)
    lines.push(
      `  ${c.gray(`kubernetes service ${x.kubernetes.service}${x.kubernetes.reason ? ` (${x.kubernetes.reason})` : ''}`)}`,
    );
  if (x.flags.length) lines.push(`  ${c.yellow(`flags: ${x.flags.join(', ')}`)}`);
  return lines.join('\n');
}
