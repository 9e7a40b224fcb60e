/**
 * Escaping for text taken from the input. Everything in a report that came from a capture or a snapshot (rule
 * text, comments, chain names, interface names, file names) passes through here: rule comments are free text
 * an attacker with iptables access can fill with markup or terminal escapes. Control characters are never
 * emitted raw: they are shown visibly as `\xNN` / `\uNNNN` so a reader sees that they are there.
 */

// C0/C1 controls and DEL, line/paragraph separators, bidi overrides and isolates, BOM, and lone surrogates
// (which JSON.parse lets through but UTF-8 cannot encode).
const SPECIAL =
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  /[&<>"']|[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** `\xNN` for code points below 0x100, `\uNNNN` above: the way a reader would type them. */
export function visibleEscape(ch: string): string {
  const c = ch.charCodeAt(0);
  return c < 0x100 ? `\\x${c.toString(16).padStart(2, '0')}` : `\\u${c.toString(16).padStart(4, '0')}`;
}

/** Text content: markup escaped, control characters shown as a marked `\xNN`. */
export function html(s: string): string {
  return s.replace(SPECIAL, (ch) => ENTITIES[ch] ?? `<span class="ctl">${visibleEscape(ch)}</span>`);
}

/** An attribute value (always double-quoted by the caller): markup escaped, control characters as `\xNN`. */
export function attr(s: string): string {
  return s.replace(SPECIAL, (ch) => ENTITIES[ch] ?? visibleEscape(ch));
}

/** A number with thin-space thousands groups, as the issue writes them ("1 240 packets"). */
export function count(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, '\u2009');
}
