/**
 * TCP syslog framing (RFC 6587): octet counting (`<length> SP <message>`, what rsyslog omfwd sends with
 * `TCP_Framing="octet-counted"` and RFC 5425 mandates) or non-transparent framing (messages end with LF, the
 * omfwd default). The method is decided per connection by the first byte — a digit means octet counting, as
 * RFC 6587 §3.4.2 suggests — and never changes afterwards.
 *
 *   octet counting:      "72 <4>1 2023-01-01T21:23:16Z cos74 kernel - - - TRACE: raw:PREROUTING:policy:3 …"
 *                         ^^ length of what follows the space, in bytes
 *   non-transparent:     "<4>Jan  1 21:23:16 cos74 kernel: TRACE: …\n"
 */

/** Splits one connection's byte stream into messages. Memory: one partial message, at most `maxBytes`. */
export class TcpFramer {
  private _mode: 'octet' | 'lf' | undefined;
  private _buf: Buffer = Buffer.alloc(0);
  /** Bytes of an over-long message still to skip (octet counting). */
  private _skip = 0;
  /** Messages cut because they exceeded `maxBytes`. */
  truncated = 0;

  constructor(private readonly _maxBytes: number) {}

  /** Adds bytes; returns the complete messages they finish. */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let buf = this._buf.length ? Buffer.concat([this._buf, chunk]) : chunk;
    if (this._skip > 0) {
      const n = Math.min(this._skip, buf.length);
      this._skip -= n;
      buf = buf.subarray(n);
    }
    this._mode ??= buf.length ? (buf[0]! >= 0x30 && buf[0]! <= 0x39 ? 'octet' : 'lf') : undefined;
    let pos = 0;
    if (this._mode === 'octet') {
      for (;;) {
        const sp = buf.indexOf(0x20, pos);
        if (sp < 0 || sp - pos > 10) {
          if (sp - pos > 10 || buf.length - pos > 10) {
            // Not a length: the peer is not octet counting after all; fall back to line framing from here.
            this._mode = 'lf';
          }
          break;
        }
        const len = Number(buf.toString('latin1', pos, sp));
        if (!Number.isInteger(len) || len <= 0) {
          this._mode = 'lf';
          break;
        }
        const start = sp + 1;
        if (len > this._maxBytes) {
          // Keep the first maxBytes, skip the rest as it arrives.
          if (buf.length - start < this._maxBytes) break;
          out.push(Buffer.from(buf.subarray(start, start + this._maxBytes)));
          this.truncated++;
          const have = buf.length - start;
          const consumed = Math.min(have, len);
          this._skip = len - consumed;
          pos = start + consumed;
          continue;
        }
        if (buf.length - start < len) break;
        out.push(Buffer.from(buf.subarray(start, start + len)));
        pos = start + len;
      }
    }
    if (this._mode === 'lf') {
      for (;;) {
        const nl = buf.indexOf(0x0a, pos);
        if (nl < 0) {
          if (buf.length - pos > this._maxBytes) {
            out.push(Buffer.from(buf.subarray(pos, pos + this._maxBytes)));
            this.truncated++;
            pos = buf.length;
          }
          break;
        }
        let end = nl;
        if (end > pos && buf[end - 1] === 0x0d) end--;
        // A complete line longer than maxBytes is cut like an unfinished one (found by fuzzing, issue #15).
        if (end - pos > this._maxBytes) {
          end = pos + this._maxBytes;
          this.truncated++;
        }
        if (end > pos) out.push(Buffer.from(buf.subarray(pos, end)));
        pos = nl + 1;
      }
    }
    this._buf = pos < buf.length ? Buffer.from(buf.subarray(pos)) : Buffer.alloc(0);
    return out;
  }

  /** The connection closed: a final message without its LF still counts. */
  end(): Buffer[] {
    const rest = this._buf;
    this._buf = Buffer.alloc(0);
    return this._mode === 'lf' && rest.length ? [rest] : [];
  }
}
