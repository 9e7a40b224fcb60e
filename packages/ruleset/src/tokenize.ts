/**
 * Splits one rule line of an iptables-save file into arguments exactly as iptables-restore does before it hands
 * them to getopt: iptables `xshared.c` `add_param_to_argv()`. The rules of that tokenizer, which we follow:
 *
 * - arguments are separated by runs of space, tab (and newline, which cannot occur inside a line here);
 * - `"` opens a quoted stretch; inside it `\x` stands for `x` (iptables-save's `xtables_save_string()` escapes
 *   `"`, `\` and `'` this way), every other character is literal, and the closing `"` ends the argument
 *   immediately (so `"a"b` is two arguments, and `""` is one empty argument);
 * - outside quotes a backslash is an ordinary character;
 * - a `"` in the middle of an unquoted word opens a quote that continues the same argument (`ab"c d"` → `abc d`).
 *
 * One deliberate difference: iptables silently keeps an unterminated quoted argument, we refuse it. A snapshot
 * written by iptables-save never contains one, so an unterminated quote means the file was cut or edited.
 */

/** One argument of a rule line. */
export interface ArgToken {
  /** The argument, unquoted and unescaped. */
  readonly text: string;
  /**
   * Whether any part of it was quoted. A quoted argument is always a value: it is never an option name nor the
   * `!` negation, whatever its text (iptables records the same fact in `argvattr`).
   */
  readonly quoted: boolean;
}

/** A line that cannot be split into arguments; `reason` is for the `<file>:<line>:` error. */
export class TokenizeError extends Error {
  override readonly name = 'TokenizeError';
  constructor(readonly reason: string) {
    super(reason);
  }
}

const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Splits `line` into arguments (see the file comment for the exact rules). Throws {@link TokenizeError}. */
export function tokenizeArgs(line: string): ArgToken[] {
  const out: ArgToken[] = [];
  const n = line.length;
  let i = 0;
  while (i < n) {
    let c = line.charCodeAt(i);
    if (c === SPACE || c === TAB || c === LF) {
      i++;
      continue;
    }
    // Fast path: a plain word (the vast majority of arguments) is one slice.
    const start = i;
    while (i < n) {
      c = line.charCodeAt(i);
      if (c === SPACE || c === TAB || c === LF || c === QUOTE) break;
      i++;
    }
    if (i >= n || c !== QUOTE) {
      out.push({ text: line.slice(start, i), quoted: false });
      continue;
    }
    // A quote opens here, possibly after an unquoted prefix that belongs to the same argument.
    let text = line.slice(start, i);
    const quoteAt = i;
    i++;
    let closed = false;
    let runStart = i;
    while (i < n) {
      c = line.charCodeAt(i);
      if (c === BACKSLASH) {
        text += line.slice(runStart, i);
        if (i + 1 >= n) break; // a backslash escaping nothing: the quote is unterminated
        text += line[i + 1]!;
        i += 2;
        runStart = i;
      } else if (c === QUOTE) {
        text += line.slice(runStart, i);
        i++;
        closed = true;
        break;
      } else i++;
    }
    if (!closed) throw new TokenizeError(`unterminated quoted argument starting at column ${quoteAt + 1}`);
    // The closing quote ends the argument, whatever follows it (iptables behaves the same way).
    out.push({ text, quoted: true });
  }
  return out;
}
