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
  return new RuleArgsParser(splitInlineValues(argv)).parse();
}

/**
 * One rule line's parse state. A class rather than closures: this runs once per rule (50k times for a big
 * kube-proxy node) and closures would be re-allocated on every call.
 */
class RuleArgsParser {
  private command: RuleCommand | undefined;
  private readonly ip: Mutable<IpSpec> = {};
  private readonly matches: { module: string; options: RuleOption[] }[] = [];
  private readonly targetOptions: RuleOption[] = [];
  private readonly comments: string[] = [];
  private target: string | undefined;
  private jumpKind: 'jump' | 'goto' | undefined;
  private counters: Counters | undefined;
  private familyHint: Family | undefined;
  private familyOnly: Family | undefined;
  /** Where extension options go: the last `-m`, or the target once `-j`/`-g` was seen. */
  private current: RuleOption[] | undefined;
  private protocolMatch: string | undefined;
  private protocolMatchLoaded = false;
  /** A `!` was read and applies to the next option. */
  private negate = false;
  /** Result of the last {@link takeArg}. */
  private arg = '';
  private argNegated = false;

  constructor(private readonly tokens: readonly ArgToken[]) {}

  parse(): RuleArgs {
    const tokens = this.tokens;
    const n = tokens.length;
    let i = 0;
    while (i < n) {
      const tok = tokens[i]!;
      if (isBang(tok)) {
        if (this.negate) throw new RuleSyntaxError('multiple consecutive "!" are not allowed');
        this.negate = true;
        i++;
        continue;
      }
      if (!looksLikeOption(tok)) throw new RuleSyntaxError(`unexpected argument "${tok.text}"`);
      let opt = tok.text;
      if (opt.charCodeAt(1) === 0x2d /* - */) opt = LONG_TO_SHORT.get(opt.slice(2)) ?? opt;
      i = opt.charCodeAt(1) === 0x2d ? this.extensionOption(i, opt) : this.shortOption(i, opt);
      this.negate = false;
    }
    return this.finish();
  }

  /** An ip-part or command option (`-s`, `-A`, `-j`, …, long forms already mapped); returns the next index. */
  private shortOption(i: number, opt: string): number {
    const tokens = this.tokens;
    const ip = this.ip;
    switch (opt) {
      case '-A':
      case '-N': {
        this.noNegation(opt);
        if (this.command !== undefined) {
          throw new RuleSyntaxError(`more than one command (${opt} after -${commandLetter(this.command)})`);
        }
        const next = this.takeArg(i, opt, false);
        this.command =
          opt === '-A' ? { kind: 'append', chain: this.arg } : { kind: 'new-chain', chain: this.arg };
        return next;
      }
      case '-I': {
        this.noNegation(opt);
        if (this.command !== undefined) {
          throw new RuleSyntaxError(`more than one command (-I after -${commandLetter(this.command)})`);
        }
        let next = this.takeArg(i, opt, false);
        const chain = this.arg;
        let position = 1;
        const num = tokens[next];
        if (num !== undefined && !num.quoted && COUNTER_RE.test(num.text)) {
          position = Number(num.text);
          if (position < 1) throw new RuleSyntaxError(`invalid rule number "${num.text}" for -I`);
          next++;
        }
        this.command = { kind: 'insert', chain, position };
        return next;
      }
      case '-s':
      case '-d': {
        const next = this.takeArg(i, opt, true);
        this.setIp(opt === '-s' ? 'source' : 'destination', opt, this.arg, this.argNegated);
        this.hint(this.arg);
        return next;
      }
      case '-i':
      case '-o': {
        const next = this.takeArg(i, opt, true);
        this.setIp(opt === '-i' ? 'inInterface' : 'outInterface', opt, this.arg, this.argNegated);
        return next;
      }
      case '-p': {
        const next = this.takeArg(i, opt, true);
        // iptables lower-cases the protocol before using it.
        const value = this.arg.toLowerCase();
        this.setIp('protocol', opt, value, this.argNegated);
        this.protocolMatch = PROTO_MATCH_NAME.get(value) ?? value;
        return next;
      }
      case '-f':
        if (ip.fragment !== undefined) throw new RuleSyntaxError('option -f given twice');
        ip.fragment = { negated: this.negate };
        return i + 1;
      case '-m': {
        this.noNegation(opt);
        const next = this.takeArg(i, opt, false);
        const options: RuleOption[] = [];
        // xtables_find_match() turns every spelling of the ICMPv6 match into `icmp6`, for -m as for -p.
        const module = this.arg === 'icmpv6' || this.arg === 'ipv6-icmp' ? 'icmp6' : this.arg;
        this.matches.push({ module, options });
        this.current = options;
        return next;
      }
      case '-j':
      case '-g': {
        this.noNegation(opt);
        if (this.target !== undefined) {
          const prev = this.jumpKind === 'goto' ? '-g' : '-j';
          throw new RuleSyntaxError(
            `more than one target (${opt} ${tokens[i + 1]?.text ?? ''} after ${prev} ${this.target})`,
          );
        }
        const next = this.takeArg(i, opt, false);
        this.target = this.arg;
        this.jumpKind = opt === '-g' ? 'goto' : 'jump';
        this.current = this.targetOptions;
        return next;
      }
      case '-c': {
        this.noNegation(opt);
        if (this.counters !== undefined) throw new RuleSyntaxError('counters given twice');
        let next = this.takeArg(i, opt, false);
        let pkts = this.arg;
        let bytes: string | undefined;
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
        this.counters = { packets: Number(pkts), bytes: Number(bytes) };
        return next;
      }
      case '-4':
      case '-6':
        this.noNegation(opt);
        this.familyOnly = opt === '-4' ? 'ipv4' : 'ipv6';
        return i + 1;
      default: {
        const what = UNSUPPORTED.get(opt);
        throw new RuleSyntaxError(
          what !== undefined
            ? `option ${opt} (--${what}) is not supported in a snapshot`
            : `unknown option "${opt}"`,
        );
      }
    }
  }

  /** An extension option `--name [values…]` of the current match or target; returns the next index. */
  private extensionOption(i: number, opt: string): number {
    const tokens = this.tokens;
    const n = tokens.length;
    const name = opt.slice(2);
    let owner = this.current;
    if (owner === undefined) {
      if (this.protocolMatch === undefined || this.protocolMatchLoaded) {
        throw new RuleSyntaxError(`option ${opt} belongs to no match or target (no -m, -p or -j before it)`);
      }
      // `-p tcp --dport 80`: iptables loads the protocol's match on demand (xshared.c load_proto()).
      owner = [];
      this.matches.push({ module: this.protocolMatch, options: owner });
      this.protocolMatchLoaded = true;
      this.current = owner;
    }
    let j = i + 1;
    let negated = this.negate;
    // Old intrapositioned negation `--opt ! value` (deprecated in iptables 1.4.3, refused since 1.4.12);
    // `--flag ! --next` is not it.
    const after = tokens[j];
    if (after !== undefined && isBang(after) && j + 1 < n && isValue(tokens[j + 1]!)) {
      if (negated) throw new RuleSyntaxError(`multiple "!" for option ${opt}`);
      negated = true;
      j++;
    }
    const values: string[] = [];
    if (j < n && TAKES_ANY_FIRST_ARG.has(name)) values.push(tokens[j++]!.text);
    while (j < n && isValue(tokens[j]!)) values.push(tokens[j++]!.text);
    owner.push({ name, values, negated });
    if (
      name === 'comment' &&
      owner !== this.targetOptions &&
      this.matches[this.matches.length - 1]!.module === 'comment'
    ) {
      this.comments.push(values.join(' '));
    }
    if (this.familyHint === undefined && ADDRESS_OPTIONS.has(name)) for (const v of values) this.hint(v);
    return j;
  }

  /**
   * Reads the single argument of an ip-part or command option into `arg`/`argNegated` and returns the next
   * index. The argument is taken whatever it looks like (getopt does the same for a required argument). With
   * `negatable`, also accepts the old intrapositioned `-s ! addr` form (deprecated in iptables 1.4.3).
   */
  private takeArg(i: number, opt: string, negatable: boolean): number {
    const tokens = this.tokens;
    const t = tokens[i + 1];
    if (t === undefined) throw new RuleSyntaxError(`option ${opt} requires an argument`);
    if (negatable && isBang(t) && i + 2 < tokens.length && isValue(tokens[i + 2]!)) {
      if (this.negate) throw new RuleSyntaxError(`multiple "!" for option ${opt}`);
      this.arg = tokens[i + 2]!.text;
      this.argNegated = true;
      return i + 3;
    }
    this.arg = t.text;
    this.argNegated = this.negate;
    return i + 2;
  }

  private noNegation(opt: string): void {
    if (this.negate) throw new RuleSyntaxError(`"!" cannot precede ${opt}`);
  }

  private setIp(
    key: 'source' | 'destination' | 'inInterface' | 'outInterface' | 'protocol',
    opt: string,
    value: string,
    negated: boolean,
  ): void {
    if (this.ip[key] !== undefined) throw new RuleSyntaxError(`option ${opt} given twice`);
    this.ip[key] = { value, negated };
  }

  private hint(value: string): void {
    if (this.familyHint === undefined) this.familyHint = addressFamily(value);
  }

  private finish(): RuleArgs {
    if (this.negate) throw new RuleSyntaxError('"!" at the end of the rule negates nothing');
    const command = this.command;
    if (command === undefined) throw new RuleSyntaxError('rule line without -A CHAIN');
    if (
      command.kind === 'new-chain' &&
      (this.matches.length > 0 || this.target !== undefined || Object.keys(this.ip).length > 0)
    ) {
      throw new RuleSyntaxError('-N takes no rule options');
    }
    const out: Mutable<RuleArgs> = {
      command,
      ip: this.ip,
      matches: this.matches,
      targetOptions: this.targetOptions,
      comments: this.comments,
    };
    if (this.target !== undefined) {
      out.target = this.target;
      out.jumpKind = this.jumpKind;
    }
    if (this.counters !== undefined) out.counters = this.counters;
    if (this.familyHint !== undefined) out.familyHint = this.familyHint;
    if (this.familyOnly !== undefined) out.familyOnly = this.familyOnly;
    return out;
  }
}

/**
 * getopt_long accepts `--name=value`; iptables-save never writes it, but hand-written files may. Splitting it
 * up front lets every option read its value the same way. The value counts as quoted: it is certainly a value.
 */
function splitInlineValues(tokens: readonly ArgToken[]): readonly ArgToken[] {
  let out: ArgToken[] | undefined;
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k]!;
    const eq = t.quoted || t.text.charCodeAt(1) !== 0x2d || !looksLikeOption(t) ? -1 : t.text.indexOf('=');
    if (eq < 0) {
      if (out !== undefined) out.push(t);
      continue;
    }
    out ??= tokens.slice(0, k);
    out.push({ text: t.text.slice(0, eq), quoted: false }, { text: t.text.slice(eq + 1), quoted: true });
  }
  return out ?? tokens;
}

function commandLetter(c: RuleCommand): string {
  return c.kind === 'append' ? 'A' : c.kind === 'insert' ? 'I' : 'N';
}
