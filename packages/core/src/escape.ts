/**
 * Untrusted text made safe for a terminal, a log line or an HTML page (issue #15). Input decides a lot of what
 * we print — rule comments (`iptables -m comment --comment` takes any bytes, e.g. `\x1b]0;owned\x07\x1b[2J`),
 * log prefixes, host names, file names — and a raw control character in it would let a snapshot rewrite the
 * operator's terminal title, clear the screen, fake log lines or hide text. Every such character is replaced by
 * a visible escape, so the text is still readable and the original can be told from the output.
 */

/**
 * C0 controls (tab and, by default, newline included), DEL, C1 controls (U+0080–U+009F: U+009B is a one-byte
 * CSI on many terminals), the bidirectional overrides and isolates (U+202A–U+202E, U+2066–U+2069: "Trojan
 * source" reordering) and the line/paragraph separators U+2028/U+2029 (line breaks in some viewers).
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
// eslint-disable-next-line no-control-regex
const UNSAFE_KEEP_NL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
// eslint-disable-next-line no-control-regex
const ANY_UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

const NAMED: Readonly<Record<string, string>> = { '\t': '\\t', '\n': '\\n', '\r': '\\r' };

function visible(ch: string): string {
  const named = NAMED[ch];
  if (named !== undefined) return named;
  const code = ch.charCodeAt(0);
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * `s` with every control character replaced by a visible escape: `\x1b`, `\x07`, `\t`, `\n`, `\r`, `\x9b`,
 * `\u202e`. With `keepNewlines`, `\n` and `\t` stay as they are (multi-line messages, indentation). Printable
 * text (backslashes included) is unchanged, and text without control characters is returned as is (cheap on
 * the hot path).
 */
export function escapeControl(s: string, opts: { keepNewlines?: boolean } = {}): string {
  if (!ANY_UNSAFE.test(s)) return s;
  return s.replace(opts.keepNewlines ? UNSAFE_KEEP_NL : UNSAFE, visible);
}

/** Whether `s` holds a character `escapeControl` would replace. */
export function hasControl(s: string): boolean {
  return ANY_UNSAFE.test(s);
}

const JSON_UNSAFE = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * A JSON text (from `JSON.stringify`, which already escapes C0 controls) with the remaining characters a
 * terminal or viewer acts on — DEL, C1 controls, bidi overrides, U+2028/2029 — written as `\uXXXX` escapes.
 * The result parses to the same value: use it for JSON log lines and NDJSON written where a human may look.
 */
export function escapeJsonControl(json: string): string {
  return json.replace(JSON_UNSAFE, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
