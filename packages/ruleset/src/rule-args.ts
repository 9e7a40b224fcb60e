/**
 * Decomposes the arguments of one rule line (`-A CHAIN -s … -m tcp --dport 80 -j ACCEPT`) into the model's
 * parts: the ip part, the match modules with their options, the target with its options.
 *
 * We do not have the extensions' option tables that iptables merges into getopt, so option ownership follows
 * the order of the line, which is how iptables-save writes it: an option belongs to the last `-m` before it,
 * or to the target once `-j`/`-g` has been seen. The one implicit case iptables has is reproduced: after
 * `-p tcp`, an option seen before any `-m` loads the protocol's match (`tcp`, `udp`, `icmp`, `icmp6`…), as
 * xshared.c `command_default()`/`load_proto()` does. iptables-save always writes that match explicitly
 * (`-p tcp -m tcp --dport 80`), so this only matters for hand-written files.
 *
 * How many values an option takes is not known without the extension either. We follow iptables' own rule for
 * optional extra arguments (xshared.c `xs_has_arg()`): the values of an option are the following arguments up
 * to the next one that looks like an option (`-x`, `--xyz`) or is a bare `!`. Quoted arguments are always
 * values. A few string-valued options take their first argument whatever it looks like, as getopt does for a
 * required argument (`--comment -x` is written unquoted by iptables-save because `-` needs no quoting).
 */
import type { ArgToken } from './tokenize';
import { ADDRESS_OPTIONS, addressFamily } from './family';
import type { Counters, Family, IpSpec, RuleMatch, RuleOption } from './model';

/** A rule line we cannot decompose; `reason` is for the `<file>:<line>:` error. */
export class RuleSyntaxError extends Error {
  override readonly name = 'RuleSyntaxError';
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** The command of a rule line. iptables-save only writes `-A`; `-I` and `-N` are accepted for restore files. */
export type RuleCommand =
  | { readonly kind: 'append'; readonly chain: string }
  /** `-I CHAIN [num]`: insert at 1-based `num` (default 1). */
  | { readonly kind: 'insert'; readonly chain: string; readonly position: number }
  | { readonly kind: 'new-chain'; readonly chain: string };

/** Everything one rule line says. */
export interface RuleArgs {
  readonly command: RuleCommand;
  readonly ip: IpSpec;
  readonly matches: readonly RuleMatch[];
  readonly target?: string;
  readonly jumpKind?: 'jump' | 'goto';
  readonly targetOptions: readonly RuleOption[];
  readonly comments: readonly string[];
  /** From an in-line `-c pkts bytes` / `--set-counters pkts,bytes` (the `[pkts:bytes]` prefix is the caller's). */
  readonly counters?: Counters;
  /** First address in the rule that tells the family (`-s`, `-d`, `--to-destination`, …). */
  readonly familyHint?: Family;
  /** `-4` / `-6`: iptables-restore skips the line when the tool is of the other family. */
  readonly familyOnly?: Family;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type IpValue = { readonly value: string; readonly negated: boolean };

/** Long forms of the ip-part and command options, mapped to their short letter (iptables.c `original_opts`). */
const LONG_TO_SHORT: ReadonlyMap<string, string> = new Map([
  ['append', '-A'],
  ['insert', '-I'],
  ['new-chain', '-N'],
  ['source', '-s'],
  ['src', '-s'],
  ['destination', '-d'],
  ['dst', '-d'],
  ['in-interface', '-i'],
  ['out-interface', '-o'],
  ['protocol', '-p'],
  ['fragment', '-f'],
  ['fragments', '-f'],
  ['jump', '-j'],
  ['goto', '-g'],
  ['match', '-m'],
  ['set-counters', '-c'],
  ['ipv4', '-4'],
  ['ipv6', '-6'],
]);

/** Commands and options that make no sense in a snapshot (iptables-restore refuses or ignores most of them). */
const UNSUPPORTED: ReadonlyMap<string, string> = new Map([
  ['-D', 'delete'],
  ['-R', 'replace'],
  ['-C', 'check'],
  ['-P', 'policy'],
  ['-F', 'flush'],
  ['-X', 'delete-chain'],
  ['-E', 'rename-chain'],
  ['-Z', 'zero'],
  ['-L', 'list'],
  ['-S', 'list-rules'],
  ['-t', 'table'],
]);

/** String-valued options whose first argument is taken as is, like a getopt required argument. */
const TAKES_ANY_FIRST_ARG: ReadonlySet<string> = new Set(['comment', 'log-prefix', 'nflog-prefix', 'string']);

/** `-p` values iptables maps to another match name (xtables.c `xtables_find_match()`, `xtables_chain_protos`). */
const PROTO_MATCH_NAME: ReadonlyMap<string, string> = new Map([
  ['1', 'icmp'],
  ['6', 'tcp'],
  ['17', 'udp'],
  ['33', 'dccp'],
  ['50', 'esp'],
  ['51', 'ah'],
  ['58', 'icmp6'],
  ['132', 'sctp'],
  ['135', 'mh'],
  ['136', 'udplite'],
  ['icmpv6', 'icmp6'],
  ['ipv6-icmp', 'icmp6'],
  ['ipv6-mh', 'mh'],
  ['mobility-header', 'mh'],
]);

const COUNTER_RE = /^\d+$/;

function isBang(t: ArgToken): boolean {
  return !t.quoted && t.text === '!';
}

/** Whether an argument looks like an option name (`-s`, `--dport`, `-4`); negative numbers (`-1`) do not. */
function looksLikeOption(t: ArgToken): boolean {
  const s = t.text;
  if (t.quoted || s.length < 2 || s.charCodeAt(0) !== 0x2d /* - */) return false;
  if (s === '-4' || s === '-6') return true;
  const c = s.charCodeAt(1) === 0x2d ? s.charCodeAt(2) : s.charCodeAt(1);
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

function isValue(t: ArgToken): boolean {
  return t.quoted || (!isBang(t) && !looksLikeOption(t));
}

/** Decomposes the arguments of one rule line. Throws {@link RuleSyntaxError}. */
export function parseRuleArgs(argv: readonly ArgToken[]): RuleArgs {
  const tokens = splitInlineValues(argv);
  const n = tokens.length;
  let command: RuleCommand | undefined;
  const ip: Mutable<IpSpec> = {};
  const matches: { module: string; options: RuleOption[] }[] = [];
  const targetOptions: RuleOption[] = [];
  const comments: string[] = [];
  let target: string | undefined;
  let jumpKind: 'jump' | 'goto' | undefined;
  let counters: Counters | undefined;
  let familyHint: Family | undefined;
  let familyOnly: Family | undefined;
  /** Where extension options go: the last `-m`, or the target once `-j`/`-g` was seen. */
  let current: RuleOption[] | undefined;
  let protocolMatch: string | undefined;
  let protocolMatchLoaded = false;
  let negate = false;

  const hint = (value: string): void => {
    if (familyHint === undefined) familyHint = addressFamily(value);
  };

  /**
   * The single argument of an ip-part or command option, taken whatever it looks like (getopt does the same for
   * a required argument). With `negatable`, also accepts the pre-1.4.3 `-s ! addr` negation.
   */
  const takeArg = (
    i: number,
    opt: string,
    negatable = false,
  ): { value: string; next: number; negated: boolean } => {
    const t = tokens[i + 1];
    if (t === undefined) throw new RuleSyntaxError(`option ${opt} requires an argument`);
    if (negatable && isBang(t) && tokens[i + 2] !== undefined && isValue(tokens[i + 2]!)) {
      if (negate) throw new RuleSyntaxError(`multiple "!" for option ${opt}`);
      return { value: tokens[i + 2]!.text, next: i + 3, negated: true };
    }
    return { value: t.text, next: i + 2, negated: false };
  };

  const noNegation = (opt: string): void => {
    if (negate) throw new RuleSyntaxError(`"!" cannot precede ${opt}`);
  };

  const setIp = (
    key: 'source' | 'destination' | 'inInterface' | 'outInterface' | 'protocol',
    opt: string,
    v: IpValue,
  ): void => {
    if (ip[key] !== undefined) throw new RuleSyntaxError(`option ${opt} given twice`);
    ip[key] = v;
  };

  let i = 0;
  while (i < n) {
    const tok = tokens[i]!;
    if (isBang(tok)) {
      if (negate) throw new RuleSyntaxError('multiple consecutive "!" are not allowed');
      negate = true;
      i++;
      continue;
    }
    if (!looksLikeOption(tok)) throw new RuleSyntaxError(`unexpected argument "${tok.text}"`);

    let opt = tok.text;
    if (opt.startsWith('--')) opt = LONG_TO_SHORT.get(opt.slice(2)) ?? opt;

    if (!opt.startsWith('--')) {
      switch (opt) {
        case '-A':
        case '-N': {
          noNegation(opt);
          if (command !== undefined)
            throw new RuleSyntaxError(`more than one command (${opt} after -${commandLetter(command)})`);
          const a = takeArg(i, opt);
          command = opt === '-A' ? { kind: 'append', chain: a.value } : { kind: 'new-chain', chain: a.value };
          i = a.next;
          continue;
        }
        case '-I': {
          noNegation(opt);
          if (command !== undefined)
            throw new RuleSyntaxError(`more than one command (-I after -${commandLetter(command)})`);
          const a = takeArg(i, opt);
          let position = 1;
          let next = a.next;
          const num = tokens[next];
          if (num !== undefined && !num.quoted && COUNTER_RE.test(num.text)) {
            position = Number(num.text);
            if (position < 1) throw new RuleSyntaxError(`invalid rule number "${num.text}" for -I`);
            next++;
          }
          command = { kind: 'insert', chain: a.value, position };
          i = next;
          continue;
        }
        case '-s':
        case '-d': {
          const a = takeArg(i, opt, true);
          setIp(opt === '-s' ? 'source' : 'destination', opt, {
            value: a.value,
            negated: negate || a.negated,
          });
          hint(a.value);
          i = a.next;
          break;
        }
        case '-i':
        case '-o': {
          const a = takeArg(i, opt, true);
          setIp(opt === '-i' ? 'inInterface' : 'outInterface', opt, {
            value: a.value,
            negated: negate || a.negated,
          });
          i = a.next;
          break;
        }
        case '-p': {
          const a = takeArg(i, opt, true);
          // iptables lower-cases the protocol before using it.
          const value = a.value.toLowerCase();
          setIp('protocol', opt, { value, negated: negate || a.negated });
          protocolMatch = PROTO_MATCH_NAME.get(value) ?? value;
          i = a.next;
          break;
        }
        case '-f':
          if (ip.fragment !== undefined) throw new RuleSyntaxError('option -f given twice');
          ip.fragment = { negated: negate };
          i++;
          break;
        case '-m': {
          noNegation(opt);
          const a = takeArg(i, opt);
          const m = { module: a.value, options: [] as RuleOption[] };
          matches.push(m);
          current = m.options;
          i = a.next;
          break;
        }
        case '-j':
        case '-g': {
          noNegation(opt);
          if (target !== undefined)
            throw new RuleSyntaxError(
              `more than one target (${opt} ${tokens[i + 1]?.text ?? ''} after ${jumpKind === 'goto' ? '-g' : '-j'} ${target})`,
            );
          const a = takeArg(i, opt);
          target = a.value;
          jumpKind = opt === '-g' ? 'goto' : 'jump';
          current = targetOptions;
          i = a.next;
          break;
        }
        case '-c': {
          noNegation(opt);
          if (counters !== undefined) throw new RuleSyntaxError('counters given twice');
          const a = takeArg(i, opt);
          let pkts = a.value;
          let bytes: string | undefined;
          let next = a.next;
          const comma = pkts.indexOf(',');
          if (comma >= 0) {
            bytes = pkts.slice(comma + 1);
            pkts = pkts.slice(0, comma);
          } else {
            bytes = tokens[next]?.text;
            next++;
          }
          if (!COUNTER_RE.test(pkts) || bytes === undefined || !COUNTER_RE.test(bytes)) {
            throw new RuleSyntaxError('option -c requires numeric packet and byte counters');
          }
          counters = { packets: Number(pkts), bytes: Number(bytes) };
          i = next;
          break;
        }
        case '-4':
        case '-6':
          noNegation(opt);
          familyOnly = opt === '-4' ? 'ipv4' : 'ipv6';
          i++;
          break;
        default: {
          const what = UNSUPPORTED.get(opt);
          throw new RuleSyntaxError(
            what !== undefined
              ? `option ${opt} (--${what}) is not supported in a snapshot`
              : `unknown option "${opt}"`,
          );
        }
      }
      negate = false;
      continue;
    }

    // An extension option: `--name [values…]`.
    const name = opt.slice(2);
    let owner = current;
    if (owner === undefined) {
      if (protocolMatch === undefined || protocolMatchLoaded) {
        throw new RuleSyntaxError(`option ${opt} belongs to no match or target (no -m, -p or -j before it)`);
      }
      // `-p tcp --dport 80`: iptables loads the protocol's match on demand (xshared.c load_proto()).
      const m = { module: protocolMatch, options: [] as RuleOption[] };
      matches.push(m);
      protocolMatchLoaded = true;
      current = owner = m.options;
    }
    let j = i + 1;
    let negated = negate;
    // Old intrapositioned negation `--opt ! value` (iptables < 1.4.3 wrote it); `--flag ! --next` is not it.
    if (
      tokens[j] !== undefined &&
      isBang(tokens[j]!) &&
      tokens[j + 1] !== undefined &&
      isValue(tokens[j + 1]!)
    ) {
      if (negated) throw new RuleSyntaxError(`multiple "!" for option ${opt}`);
      negated = true;
      j++;
    }
    const values: string[] = [];
    if (TAKES_ANY_FIRST_ARG.has(name) && tokens[j] !== undefined) values.push(tokens[j++]!.text);
    while (j < n && isValue(tokens[j]!)) values.push(tokens[j++]!.text);
    owner.push({ name, values, negated });
    if (name === 'comment' && owner !== targetOptions && matches[matches.length - 1]?.module === 'comment') {
      comments.push(values.join(' '));
    }
    if (ADDRESS_OPTIONS.has(name)) for (const v of values) hint(v);
    negate = false;
    i = j;
  }

  if (negate) throw new RuleSyntaxError('"!" at the end of the rule negates nothing');
  if (command === undefined) throw new RuleSyntaxError('rule line without -A CHAIN');
  if (
    command.kind === 'new-chain' &&
    (matches.length > 0 || target !== undefined || Object.keys(ip).length > 0)
  ) {
    throw new RuleSyntaxError('-N takes no rule options');
  }

  const out: Mutable<RuleArgs> = { command, ip, matches, targetOptions, comments };
  if (target !== undefined) {
    out.target = target;
    out.jumpKind = jumpKind;
  }
  if (counters !== undefined) out.counters = counters;
  if (familyHint !== undefined) out.familyHint = familyHint;
  if (familyOnly !== undefined) out.familyOnly = familyOnly;
  return out;
}

/**
 * getopt_long accepts `--name=value`; iptables-save never writes it, but hand-written files may. Splitting it
 * up front lets every option read its value the same way. The value counts as quoted: it is certainly a value.
 */
function splitInlineValues(tokens: readonly ArgToken[]): readonly ArgToken[] {
  if (!tokens.some((t) => !t.quoted && t.text.startsWith('--') && t.text.includes('='))) return tokens;
  const out: ArgToken[] = [];
  for (const t of tokens) {
    const eq = t.quoted || !looksLikeOption(t) || !t.text.startsWith('--') ? -1 : t.text.indexOf('=');
    if (eq < 0) out.push(t);
    else out.push({ text: t.text.slice(0, eq), quoted: false }, { text: t.text.slice(eq + 1), quoted: true });
  }
  return out;
}

function commandLetter(c: RuleCommand): string {
  return c.kind === 'append' ? 'A' : c.kind === 'insert' ? 'I' : 'N';
}
