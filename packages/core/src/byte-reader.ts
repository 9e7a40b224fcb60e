/**
 * A bounds-checked view over one record's bytes. Every read names what it was reading, so a corrupt or cut
 * record becomes an `InputError` that says which field ran past the end and at which file offset, instead of a
 * RangeError from deep inside Buffer or, worse, a silently wrong value.
 *
 *   buf:  … [start ............................ end) …
 *            ^ fileOffset(start) = base + start
 */

/** A read ran past the end of the record. `at` is the file offset of the read. */
export class ShortRead extends Error {
  override readonly name = 'ShortRead';
  constructor(
    readonly what: string,
    readonly at: number,
    readonly wanted: number,
    readonly available: number,
  ) {
    // Thrown per cut record and caught by the decoder: no stack trace (most of its cost, found by fuzzing).
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(`${what}: needs ${wanted} bytes at offset ${at}, only ${available} left`);
    Error.stackTraceLimit = limit;
  }
}

/** Byte reader over `buf[start, end)`; `base` is the file offset of `buf[0]` (for error positions). */
export class ByteReader {
  constructor(
    readonly buf: Buffer,
    readonly start: number,
    readonly end: number,
    readonly base: number,
    /** Whether host-order fields (pcap headers, NFLOG TLV length/type) are little-endian. */
    readonly littleEndian: boolean,
  ) {}

  /** Throws `ShortRead` unless `n` bytes are readable at `pos`. */
  need(pos: number, n: number, what: string): void {
    if (pos < this.start || pos + n > this.end)
      throw new ShortRead(what, this.base + pos, n, Math.max(0, this.end - pos));
  }
  u8(pos: number, what: string): number {
    this.need(pos, 1, what);
    return this.buf[pos]!;
  }
  u16be(pos: number, what: string): number {
    this.need(pos, 2, what);
    return this.buf.readUInt16BE(pos);
  }
  u32be(pos: number, what: string): number {
    this.need(pos, 4, what);
    return this.buf.readUInt32BE(pos);
  }
  /** Big-endian u64 as a number (exact up to 2^53; larger values are corrupt for every field we read). */
  u64be(pos: number, what: string): number {
    this.need(pos, 8, what);
    return this.buf.readUInt32BE(pos) * 0x1_0000_0000 + this.buf.readUInt32BE(pos + 4);
  }
  /** Host-order (file byte order) u16. */
  u16h(pos: number, what: string): number {
    this.need(pos, 2, what);
    return this.littleEndian ? this.buf.readUInt16LE(pos) : this.buf.readUInt16BE(pos);
  }
  /** Host-order (file byte order) u32. */
  u32h(pos: number, what: string): number {
    this.need(pos, 4, what);
    return this.littleEndian ? this.buf.readUInt32LE(pos) : this.buf.readUInt32BE(pos);
  }
  /** File offset of `pos`. */
  fileOffset(pos: number): number {
    return this.base + pos;
  }
}

/** Hex excerpt of a record for dead letters: at most `max` bytes, lowercase, no separators. */
export function hexExcerpt(buf: Buffer, start: number, end: number, max = 256): string {
  const stop = Math.min(end, start + max);
  const s = buf.toString('hex', start, stop);
  return stop < end ? `${s}…` : s;
}
