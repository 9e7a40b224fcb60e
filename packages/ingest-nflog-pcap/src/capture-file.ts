/**
 * Streaming framer for pcap and pcapng files: turns byte chunks into captured records without ever holding
 * more than the current chunk plus one partial record.
 *
 * pcap (libpcap savefile):
 *
 *   global header, 24 bytes, in the writer's byte order (the magic tells which):
 *   +------------+---------+---------+----------+----------+----------+-----------+
 *   | magic u32  | maj u16 | min u16 | zone i32 | sigfigs  | snaplen  | linktype  |
 *   +------------+---------+---------+----------+----------+----------+-----------+
 *     a1b2c3d4 = µs timestamps, a1b23c4d = ns timestamps; read swapped = other byte order
 *   per record, 16-byte header then incl_len bytes:
 *   +------------+-------------------+------------+------------+======================+
 *   | ts_sec u32 | ts_usec/nsec u32  | incl_len   | orig_len   | data (incl_len bytes) |
 *   +------------+-------------------+------------+------------+======================+
 *
 * pcapng (each block: type u32, total length u32, body, total length u32; all multiples of 4):
 *
 *   SHB 0x0A0D0D0A | len | byte-order magic 0x1A2B3C4D | maj u16 | min u16 | section len i64 | options | len
 *     (the byte-order magic read in the section's order decides the order of everything up to the next SHB)
 *   IDB 0x00000001 | len | linktype u16 | reserved u16 | snaplen u32 | options (if_tsresol=9, if_tsoffset=14) | len
 *   EPB 0x00000006 | len | if id u32 | ts high u32 | ts low u32 | cap len u32 | orig len u32 | data, pad to 4 | options | len
 *   SPB 0x00000003 | len | orig len u32 | data (to block end) | len                 (interface 0, no timestamp)
 *   PB  0x00000002 | len | if id u16 | drops u16 | ts high | ts low | cap len | orig len | data | options | len  (obsolete)
 *   anything else: skipped by its length.
 */
import { InputError, UsageError } from '@ruletrail/core';
import { hexExcerpt } from '@ruletrail/core';

/** LINKTYPE_NFLOG. */
export const LINKTYPE_NFLOG = 239;
/** Largest record we accept: libpcap's maximum snapshot length is 262144; anything far beyond is corrupt. */
const MAX_RECORD_BYTES = 16 * 1024 * 1024;

const PCAP_MAGIC_US = 0xa1b2c3d4;
const PCAP_MAGIC_NS = 0xa1b23c4d;
const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_BOM = 0x1a2b3c4d;

/** One captured packet. `data` is a view into the chunk: consume it before the next `push`. */
export interface CaptureRecord {
  /** File offset of the record (pcap record header / pcapng block). */
  readonly offset: number;
  /** File offset of `data[0]`. */
  readonly dataOffset: number;
  readonly data: Buffer;
  readonly origLen: number;
  /** Capture time: whole seconds since the epoch, and the fraction in units of 10^-digits. */
  readonly tsSec: number;
  readonly tsFrac: number;
  readonly tsDigits: 6 | 9;
  /** Whether the capture time is present (SPB carries none). */
  readonly hasTime: boolean;
  readonly linkType: number;
  /** Byte order of the file (or pcapng section): NFLOG TLV length/type use it. */
  readonly littleEndian: boolean;
}

/** What the framer hands back per push. */
export interface FrameOutput {
  readonly records: CaptureRecord[];
  readonly errors: InputError[];
  /** Packets from interfaces that are not NFLOG, and blocks that carry no packet. */
  skipped: number;
}

interface Iface {
  linkType: number;
  snapLen: number;
  /** Timestamp resolution: units per second as 10^n (decimal) or 2^n (binary). */
  resolDecimal: boolean;
  resolExp: number;
  offsetSec: number;
}

type Format = 'unknown' | 'pcap' | 'pcapng' | 'dead';

const ERR = 'RT_ERR_PCAP_MALFORMED';

/** Push-style framer; `file` is used in error positions. */
export class CaptureFramer {
  private _format: Format = 'unknown';
  private _le = true;
  private _pending: Buffer | null = null;
  /** File offset of `_pending[0]` (or of the next chunk when nothing is pending). */
  private _base = 0;
  // pcap
  private _nsec = false;
  private _snapLen = 0;
  private _linkType = 0;
  // pcapng
  private _ifaces: Iface[] = [];

  constructor(private readonly _file: string) {}

  /** The detected format, once known. */
  get format(): Format {
    return this._format;
  }

  /** Frames as many whole records as `chunk` (plus what was pending) holds. */
  push(chunk: Buffer): FrameOutput {
    const out: FrameOutput = { records: [], errors: [], skipped: 0 };
    if (this._format === 'dead') return out;
    const buf = this._pending && this._pending.length > 0 ? Buffer.concat([this._pending, chunk]) : chunk;
    let pos = 0;
    try {
      pos = this._frame(buf, out);
    } catch (e) {
      if (e instanceof InputError) {
        // Framing is lost: pcap has no sync marker, so the rest of the file cannot be framed reliably.
        out.errors.push(e);
        this._format = 'dead';
        this._pending = null;
        return out;
      }
      throw e;
    }
    this._base += pos;
    this._pending = pos < buf.length ? buf.subarray(pos) : null;
    return out;
  }

  /** Call at end of input: a partial record left over is reported. */
  end(): InputError[] {
    if (this._format === 'dead') return [];
    const rest = this._pending;
    this._pending = null;
    if (this._format === 'unknown') {
      if (!rest || rest.length === 0) return [];
      throw new UsageError(`${this._file}: too short to be a pcap or pcapng file (${rest.length} bytes)`);
    }
    if (!rest || rest.length === 0) return [];
    return [
      new InputError(
        ERR,
        { file: this._file, offset: this._base },
        `file ends inside a record: ${rest.length} bytes of a record that is not complete (capture cut short?)`,
        hexExcerpt(rest, 0, rest.length, 64),
      ),
    ];
  }

  private _err(offset: number, reason: string, buf?: Buffer, start = 0, end = 0): InputError {
    return new InputError(
      ERR,
      { file: this._file, offset },
      reason,
      buf ? hexExcerpt(buf, start, end, 64) : undefined,
    );
  }

  /** Returns how many bytes of `buf` were consumed. */
  private _frame(buf: Buffer, out: FrameOutput): number {
    let pos = 0;
    if (this._format === 'unknown') {
      if (buf.length < 4) return 0;
      const be = buf.readUInt32BE(0);
      const le = buf.readUInt32LE(0);
      if (be === PCAPNG_SHB) this._format = 'pcapng';
      else if (be === PCAP_MAGIC_US || be === PCAP_MAGIC_NS || le === PCAP_MAGIC_US || le === PCAP_MAGIC_NS) {
        this._format = 'pcap';
        this._le = le === PCAP_MAGIC_US || le === PCAP_MAGIC_NS;
        this._nsec = (this._le ? le : be) === PCAP_MAGIC_NS;
      } else
        throw new UsageError(
          `${this._file}: not a pcap or pcapng file (magic 0x${buf.toString('hex', 0, 4)})`,
        );
    }
    if (this._format === 'pcap') {
      if (this._base === 0) {
        if (buf.length < 24) return 0;
        this._snapLen = this._le ? buf.readUInt32LE(16) : buf.readUInt32BE(16);
        // The upper bits of the link-type field carry FCS information (pcap-savefile(5)); the type is the low 16.
        this._linkType = (this._le ? buf.readUInt32LE(20) : buf.readUInt32BE(20)) & 0xffff;
        if (this._linkType !== LINKTYPE_NFLOG)
          throw new UsageError(
            `${this._file}: pcap link type ${this._linkType} is not LINKTYPE_NFLOG (239); capture with \`tcpdump -i nflog -w …\``,
          );
        pos = 24;
      }
      return this._framePcap(buf, pos, out);
    }
    return this._framePcapng(buf, pos, out);
  }

  private _framePcap(buf: Buffer, pos: number, out: FrameOutput): number {
    const le = this._le;
    const limit = Math.min(MAX_RECORD_BYTES, Math.max(this._snapLen, 262144));
    while (buf.length - pos >= 16) {
      const tsSec = le ? buf.readUInt32LE(pos) : buf.readUInt32BE(pos);
      const tsFrac = le ? buf.readUInt32LE(pos + 4) : buf.readUInt32BE(pos + 4);
      const incl = le ? buf.readUInt32LE(pos + 8) : buf.readUInt32BE(pos + 8);
      const orig = le ? buf.readUInt32LE(pos + 12) : buf.readUInt32BE(pos + 12);
      if (incl > limit)
        throw this._err(
          this._base + pos,
          `record header claims ${incl} captured bytes (snaplen ${this._snapLen}): corrupt record header, the rest of the file cannot be framed`,
          buf,
          pos,
          pos + 16,
        );
      if (buf.length - pos - 16 < incl) break;
      const fracLimit = this._nsec ? 1e9 : 1e6;
      if (tsFrac >= fracLimit) {
        out.errors.push(
          this._err(
            this._base + pos,
            `record timestamp fraction ${tsFrac} is out of range`,
            buf,
            pos,
            pos + 16,
          ),
        );
      } else
        out.records.push({
          offset: this._base + pos,
          dataOffset: this._base + pos + 16,
          data: buf.subarray(pos + 16, pos + 16 + incl),
          origLen: orig,
          tsSec,
          tsFrac,
          tsDigits: this._nsec ? 9 : 6,
          hasTime: true,
          linkType: this._linkType,
          littleEndian: le,
        });
      pos += 16 + incl;
    }
    return pos;
  }

  private _framePcapng(buf: Buffer, pos: number, out: FrameOutput): number {
    while (buf.length - pos >= 12) {
      const typeBE = buf.readUInt32BE(pos);
      if (typeBE === PCAPNG_SHB) {
        // A new section: its byte-order magic decides the order of everything that follows.
        const bom = buf.readUInt32BE(pos + 8);
        if (bom === PCAPNG_BOM) this._le = false;
        else if (buf.readUInt32LE(pos + 8) === PCAPNG_BOM) this._le = true;
        else
          throw this._err(
            this._base + pos,
            `section header block has no byte-order magic (0x${buf.toString('hex', pos + 8, pos + 12)})`,
            buf,
            pos,
            pos + 12,
          );
        this._ifaces = [];
      }
      const le = this._le;
      const type = le ? buf.readUInt32LE(pos) : buf.readUInt32BE(pos);
      const len = le ? buf.readUInt32LE(pos + 4) : buf.readUInt32BE(pos + 4);
      if (len < 12 || len % 4 !== 0 || len > MAX_RECORD_BYTES)
        throw this._err(
          this._base + pos,
          `block of type 0x${type.toString(16)} has an impossible length ${len}: corrupt block header, the rest of the file cannot be framed`,
          buf,
          pos,
          pos + 8,
        );
      if (buf.length - pos < len) break;
      const trailer = le ? buf.readUInt32LE(pos + len - 4) : buf.readUInt32BE(pos + len - 4);
      if (trailer !== len) {
        out.errors.push(
          this._err(
            this._base + pos,
            `block of type 0x${type.toString(16)}: trailing length ${trailer} differs from leading length ${len}`,
            buf,
            pos,
            pos + len,
          ),
        );
      } else this._block(buf, pos, type, len, out);
      pos += len;
    }
    return pos;
  }

  private _block(buf: Buffer, pos: number, type: number, len: number, out: FrameOutput): void {
    const le = this._le;
    const u32 = (p: number): number => (le ? buf.readUInt32LE(p) : buf.readUInt32BE(p));
    const u16 = (p: number): number => (le ? buf.readUInt16LE(p) : buf.readUInt16BE(p));
    const bodyEnd = pos + len - 4;
    const offset = this._base + pos;
    switch (type) {
      case PCAPNG_SHB:
        return;
      case 1: {
        if (bodyEnd - (pos + 8) < 8) {
          out.errors.push(
            this._err(offset, `interface description block is ${len} bytes, too short`, buf, pos, pos + len),
          );
          // Keep interface numbering aligned with the writer's: a placeholder that is never NFLOG.
          this._ifaces.push({ linkType: -1, snapLen: 0, resolDecimal: true, resolExp: 6, offsetSec: 0 });
          return;
        }
        const iface: Iface = {
          linkType: u16(pos + 8),
          snapLen: u32(pos + 12),
          resolDecimal: true,
          resolExp: 6,
          offsetSec: 0,
        };
        // options: code u16, length u16, value padded to 4; opt_endofopt = 0
        let o = pos + 16;
        while (bodyEnd - o >= 4) {
          const code = u16(o);
          const olen = u16(o + 2);
          if (code === 0 || o + 4 + olen > bodyEnd) break;
          if (code === 9 && olen >= 1) {
            const r = buf[o + 4]!;
            iface.resolDecimal = (r & 0x80) === 0;
            iface.resolExp = r & 0x7f;
          } else if (code === 14 && olen >= 8) {
            const hi = le ? buf.readInt32LE(o + 8) : buf.readInt32BE(o + 4);
            const lo = le ? buf.readUInt32LE(o + 4) : buf.readUInt32BE(o + 8);
            iface.offsetSec = hi * 0x1_0000_0000 + lo;
          }
          o += 4 + ((olen + 3) & ~3);
        }
        this._ifaces.push(iface);
        return;
      }
      case 6:
      case 2: {
        const minBody = 20;
        if (bodyEnd - (pos + 8) < minBody) {
          out.errors.push(
            this._err(offset, `packet block is ${len} bytes, too short for its header`, buf, pos, pos + len),
          );
          return;
        }
        const ifId = type === 6 ? u32(pos + 8) : u16(pos + 8);
        const hi = u32(pos + 12);
        const lo = u32(pos + 16);
        const cap = u32(pos + 20);
        const orig = u32(pos + 24);
        const data = pos + 28;
        if (cap > bodyEnd - data) {
          out.errors.push(
            this._err(
              offset,
              `packet block claims ${cap} captured bytes but holds only ${bodyEnd - data}`,
              buf,
              pos,
              pos + 32,
            ),
          );
          return;
        }
        const iface = this._ifaces[ifId];
        if (!iface) {
          out.errors.push(
            this._err(
              offset,
              `packet block refers to interface ${ifId}, which no interface description block defined`,
              buf,
              pos,
              pos + 32,
            ),
          );
          return;
        }
        if (iface.linkType !== LINKTYPE_NFLOG) {
          out.skipped++;
          return;
        }
        const ts = splitTimestamp(hi, lo, iface);
        out.records.push({
          offset,
          dataOffset: this._base + data,
          data: buf.subarray(data, data + cap),
          origLen: orig,
          ...ts,
          hasTime: true,
          linkType: iface.linkType,
          littleEndian: le,
        });
        return;
      }
      case 3: {
        const iface = this._ifaces[0];
        if (!iface) {
          out.errors.push(
            this._err(
              offset,
              'simple packet block before any interface description block',
              buf,
              pos,
              pos + 16,
            ),
          );
          return;
        }
        if (iface.linkType !== LINKTYPE_NFLOG) {
          out.skipped++;
          return;
        }
        const orig = u32(pos + 8);
        const data = pos + 12;
        const cap = Math.min(orig, bodyEnd - data, iface.snapLen || Infinity);
        out.records.push({
          offset,
          dataOffset: this._base + data,
          data: buf.subarray(data, data + cap),
          origLen: orig,
          tsSec: 0,
          tsFrac: 0,
          tsDigits: 6,
          hasTime: false,
          linkType: iface.linkType,
          littleEndian: le,
        });
        return;
      }
      default:
        // Name resolution, interface statistics, decryption secrets, custom blocks…: nothing for us.
        out.skipped++;
        return;
    }
  }
}

/** pcapng 64-bit timestamp → seconds + fraction, honouring if_tsresol and if_tsoffset. */
function splitTimestamp(
  hi: number,
  lo: number,
  iface: Iface,
): { tsSec: number; tsFrac: number; tsDigits: 6 | 9 } {
  const t = (BigInt(hi) << 32n) | BigInt(lo);
  let sec: bigint;
  let ns: bigint;
  if (iface.resolDecimal) {
    const unit = 10n ** BigInt(iface.resolExp);
    sec = t / unit;
    const rem = t % unit;
    ns =
      iface.resolExp <= 9 ? rem * 10n ** BigInt(9 - iface.resolExp) : rem / 10n ** BigInt(iface.resolExp - 9);
  } else {
    const exp = BigInt(iface.resolExp);
    sec = t >> exp;
    ns = ((t & ((1n << exp) - 1n)) * 1_000_000_000n) >> exp;
  }
  const fine = iface.resolDecimal ? iface.resolExp > 6 : iface.resolExp > 20;
  const tsSec = Number(sec) + iface.offsetSec;
  return fine
    ? { tsSec, tsFrac: Number(ns), tsDigits: 9 }
    : { tsSec, tsFrac: Number(ns / 1000n), tsDigits: 6 };
}
