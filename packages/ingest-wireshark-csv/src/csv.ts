/**
 * RFC 4180 records from a line stream: a record ends at a line break outside quotes, so a quoted field may
 * span lines; `""` inside quotes is one quote. Lines come from core's `splitLines` (CRLF already trimmed).
 */

/** Splits one complete record into fields. Returns `null` when a quote is left open (the record continues). */
export function parseCsvRecord(text: string): string[] | null {
  const fields: string[] = [];
  let i = 0;
  const n = text.length;
  for (;;) {
    if (i < n && text.charCodeAt(i) === 34 /* " */) {
      let value = '';
      let j = i + 1;
      for (;;) {
        const q = text.indexOf('"', j);
        if (q < 0) return null;
        value += text.slice(j, q);
        if (text.charCodeAt(q + 1) === 34) {
          value += '"';
          j = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      // Text after the closing quote up to the separator is kept (lenient, as Excel does).
      const comma = text.indexOf(',', i);
      const end = comma < 0 ? n : comma;
      value += text.slice(i, end);
      fields.push(value);
      if (comma < 0) return fields;
      i = comma + 1;
    } else {
      const comma = text.indexOf(',', i);
      if (comma < 0) {
        fields.push(text.slice(i));
        return fields;
      }
      fields.push(text.slice(i, comma));
      i = comma + 1;
    }
  }
}
