/**
 * Line framings: what syslog daemons, journald and dmesg put in front of a kernel message. Each one is
 * recognised by its shape at the start of the line (month name, ISO date, `<PRI>1 `, `[ 123.456]`, `4,12,…;`),
 * with `charCodeAt` checks only, and yields the message start plus whatever metadata it carries: wall-clock
 * time, host, printk uptime.
 */

/** What the framing of one line said. One instance is reused for every line. */
export class Framing {
  /** Index where the kernel message starts. */
  msg = 0;
  /** `@timestamp`, RFC 3339 with offset. */
  ts: string | undefined = undefined;
  /** The framing had no year (RFC 3164, journald `short`); the year was taken from options or inferred. */
  noYear = false;
  host: string | undefined = undefined;
  /** printk stamp or `/dev/kmsg` time in seconds since boot; -1 when absent. */
  uptime = -1;
  /** A recognised framing whose timestamp is impossible (e.g. `Feb 30`): why. */
  tsError: string | undefined = undefined;
  /** The message follows a syslog header: spaces before it are framing, not message. */
  syslog = false;

  private readonly _year: number | undefined;
  private readonly _offsetMin: number;
  private readonly _offset: string;
  private readonly _nowMs: number;
  // Last RFC 3164 stamp seen → its `YYYY-MM-DDTHH:MM:SS` (consecutive lines share it).
  private _key3164 = -1;
  private _val3164 = '';
  private _full3164 = '';
  private _err3164: string | undefined = undefined;
  // Last epoch second seen (journald short-unix).
  private _keyUnix = '';
  private _valUnix = '';

  constructor(year: number | undefined, utcOffsetMinutes: number, nowMs: number) {
    this._year = year;
    this._offsetMin = utcOffsetMinutes;
    this._offset = offsetString(utcOffsetMinutes);
    this._nowMs = nowMs;
  }

  parse(s: string): void {
    this.ts = undefined;
    this.noYear = false;
    this.host = undefined;
    this.uptime = -1;
    this.tsError = undefined;
    this.syslog = false;
    const n = s.length;
    let i = 0;
    let c = s.charCodeAt(0);
    if (c === 60 /* < */) {
      const j = priEnd(s, 0);
      if (j > 0) {
        i = j;
        if (s.charCodeAt(i) === 49 /* 1 */ && s.charCodeAt(i + 1) === 32 && this.rfc5424(s, i + 2)) return;
        c = s.charCodeAt(i);
      }
    }
    if (c >= 48 && c <= 57) {
      if (isIsoDateAt(s, i)) {
        const e = this.iso(s, i);
        if (e > 0) {
          // dmesg --time-format=iso writes a comma fraction and no host; syslog daemons and journald a dot.
          if (s.charCodeAt(i + 19) === 44 /* , */) this.msg = e + 1;
          else this.syslogHost(s, e + 1);
          return;
        }
      } else if (this.kmsg(s, i)) return;
      else if (this.unixTime(s, i)) return;
    } else if (c === 91 /* [ */) {
      const e = this.stamp(s, i);
      if (e > 0) {
        this.msg = e;
        this.monotonicHost(s, e);
        return;
      }
      const t = this.dmesgT(s, i);
      if (t > 0) {
        this.msg = t;
        return;
      }
      const r = relativeStampEnd(s, i);
      if (r > 0) {
        this.msg = r;
        return;
      }
    } else if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122)) {
      if (monthAt(s, i) >= 0 && s.charCodeAt(i + 3) === 32) {
        const e = this.rfc3164(s, i);
        if (e > 0) {
          this.syslogHost(s, e + 1);
          return;
        }
      } else if (s.charCodeAt(i + 3) === 32 && isIsoDateAt(s, i + 4) && s.charCodeAt(i + 14) === 32) {
        const e = this.shortFull(s, i + 4);
        if (e > 0) {
          this.syslogHost(s, e + 1);
          return;
        }
      } else {
        const e = dmesgLevelEnd(s, i);
        if (e > 0) {
          // `dmesg -x`: `kern  :warn  : ` then the usual stamp (or -T date, or nothing with -t).
          const st = this.stamp(s, e);
          if (st > 0) this.msg = st;
          else {
            const t = this.dmesgT(s, e);
            this.msg = t > 0 ? t : e;
          }
          return;
        }
      }
    } else if (c === 1 /* SOH: a raw printk buffer */ && i + 1 < n) {
      this.msg = i + 2;
      return;
    }
    this.msg = i;
  }

  /** Message start after the syslog header has been read up to `i` (host and tag come next). */
  private syslogHost(s: string, i: number): void {
    this.syslog = true;
    const h = s.indexOf(' ', i);
    if (h < 0) {
      this.msg = i;
      return;
    }
    // No host: the first token is already the tag (`kernel:`), or no tag either (`TRACE: …`).
    if (s.charCodeAt(h - 1) === 58 /* : */) {
      if (isTraceWord(s, i, h)) this.msg = i;
      else this.msg = h + 1;
      return;
    }
    this.host = s.slice(i, h);
    const t = s.indexOf(' ', h + 1);
    if (t > 0 && s.charCodeAt(t - 1) === 58 && !isTraceWord(s, h + 1, t)) this.msg = t + 1;
    else this.msg = h + 1;
  }

  /** journald `short-monotonic`: `[  678.754082] vm kernel: …` — a host and a `kernel:` tag after the stamp. */
  private monotonicHost(s: string, i: number): void {
    const h = s.indexOf(' ', i);
    if (h <= i) return;
    if (s.startsWith('kernel: ', h + 1)) {
      this.host = s.slice(i, h);
      this.msg = h + 9;
      this.syslog = true;
    }
  }

  /** `[  351.555539] ` (plus `[    T1] ` with CONFIG_PRINTK_CALLER). Returns the index after it, or -1. */
  stamp(s: string, i: number): number {
    if (s.charCodeAt(i) !== 91) return -1;
    let j = i + 1;
    while (s.charCodeAt(j) === 32) j++;
    let sec = 0;
    const d0 = j;
    for (let c = s.charCodeAt(j); c >= 48 && c <= 57; c = s.charCodeAt(++j)) sec = sec * 10 + (c - 48);
    if (j === d0 || s.charCodeAt(j) !== 46) return -1;
    const f0 = ++j;
    let frac = 0;
    for (let c = s.charCodeAt(j); c >= 48 && c <= 57; c = s.charCodeAt(++j)) frac = frac * 10 + (c - 48);
    const fd = j - f0;
    if (fd === 0 || fd > 9 || s.charCodeAt(j) !== 93) return -1;
    j++;
    // CONFIG_PRINTK_CALLER: `[    T123]` / `[     C1]`
    if (s.charCodeAt(j) === 91) {
      let k = j + 1;
      while (s.charCodeAt(k) === 32) k++;
      const t = s.charCodeAt(k);
      if (t === 84 || t === 67) {
        k++;
        const k0 = k;
        while (s.charCodeAt(k) >= 48 && s.charCodeAt(k) <= 57) k++;
        if (k > k0 && s.charCodeAt(k) === 93) j = k + 1;
      }
    }
    if (s.charCodeAt(j) === 32) j++;
    else if (j < s.length) return -1;
    const scale = POW10[fd]!;
    this.uptime = (sec * scale + frac) / scale;
    return j;
  }

  /** `/dev/kmsg`: `prio,seq,usec,flags[,…];message`. */
  private kmsg(s: string, i: number): boolean {
    let j = i;
    while (isDigit(s.charCodeAt(j))) j++;
    if (j === i || s.charCodeAt(j) !== 44) return false;
    const q = ++j;
    while (isDigit(s.charCodeAt(j))) j++;
    if (j === q || s.charCodeAt(j) !== 44) return false;
    const u = ++j;
    let usec = 0;
    for (let c = s.charCodeAt(j); c >= 48 && c <= 57; c = s.charCodeAt(++j)) usec = usec * 10 + (c - 48);
    if (j === u || s.charCodeAt(j) !== 44) return false;
    const semi = s.indexOf(';', j);
    if (semi < 0 || semi - j > 64) return false;
    this.uptime = usec / 1e6;
    this.msg = semi + 1;
    return true;
  }

  /** journald `short-unix`: `1795773561.561093 host kernel: `. */
  private unixTime(s: string, i: number): boolean {
    let j = i;
    while (isDigit(s.charCodeAt(j))) j++;
    const secLen = j - i;
    if (secLen < 9 || secLen > 11 || s.charCodeAt(j) !== 46) return false;
    const f0 = ++j;
    while (isDigit(s.charCodeAt(j))) j++;
    if (j === f0 || s.charCodeAt(j) !== 32) return false;
    const secText = s.slice(i, f0 - 1);
    if (secText !== this._keyUnix) {
      this._keyUnix = secText;
      this._valUnix = new Date(Number(secText) * 1000).toISOString().slice(0, 19);
    }
    this.ts = `${this._valUnix}.${s.slice(f0, j)}+00:00`;
    this.syslogHost(s, j + 1);
    return true;
  }

  /** ISO 8601 stamp at `i`; sets `ts` and returns the index after it (at the following space), or -1. */
  private iso(s: string, i: number): number {
    const y = num4(s, i);
    const mo = num2(s, i + 5);
    const d = num2(s, i + 8);
    const sep = s.charCodeAt(i + 10);
    if (sep !== 84 && sep !== 116 && sep !== 32) return -1;
    if (s.charCodeAt(i + 13) !== 58 || s.charCodeAt(i + 16) !== 58) return -1;
    const h = num2(s, i + 11);
    const mi = num2(s, i + 14);
    const se = num2(s, i + 17);
    if (h < 0 || mi < 0 || se < 0) return -1;
    let j = i + 19;
    let canonical = sep === 84;
    const fs = s.charCodeAt(j);
    let fracEnd = j;
    if (fs === 46 || fs === 44) {
      if (fs === 44) canonical = false;
      const f0 = ++j;
      while (isDigit(s.charCodeAt(j))) j++;
      if (j === f0) return -1;
      fracEnd = j;
    }
    let zone: string;
    const z = s.charCodeAt(j);
    if (z === 90 || z === 122) {
      if (z === 122) canonical = false;
      zone = 'Z';
      j++;
    } else if (z === 43 || z === 45) {
      const zh = num2(s, j + 1);
      if (zh < 0) return -1;
      let zm = 0;
      if (s.charCodeAt(j + 3) === 58) {
        zm = num2(s, j + 4);
        if (zm < 0) return -1;
        zone = s.slice(j, j + 6);
        j += 6;
      } else if (isDigit(s.charCodeAt(j + 3))) {
        zm = num2(s, j + 3);
        if (zm < 0) return -1;
        zone = `${s.slice(j, j + 3)}:${s.slice(j + 3, j + 5)}`;
        canonical = false;
        j += 5;
      } else {
        zone = `${s.slice(j, j + 3)}:00`;
        canonical = false;
        j += 3;
      }
      if (zh > 23 || zm > 59) return this.badTs(s, i, j);
    } else {
      zone = this._offset;
      canonical = false;
    }
    const c = s.charCodeAt(j);
    if (c !== 32 && j < s.length) return -1;
    if (!validDateTime(y, mo, d, h, mi, se)) return this.badTs(s, i, j);
    if (canonical) this.ts = s.slice(i, j);
    else {
      const frac = fracEnd > i + 19 ? `.${s.slice(i + 20, fracEnd)}` : '';
      this.ts = `${s.slice(i, i + 10)}T${s.slice(i + 11, i + 19)}${frac}${zone}`;
    }
    return j;
  }

  private badTs(s: string, i: number, j: number): number {
    this.tsError = `impossible timestamp "${s.slice(i, j)}"`;
    return j;
  }

  /** RFC 3164 `Mmm dd hh:mm:ss` (day space-padded or not), optional `.ffffff` (journald short-precise). */
  private rfc3164(s: string, i: number): number {
    const mon = monthAt(s, i);
    let j = i + 4;
    if (s.charCodeAt(j) === 32) j++;
    let day = 0;
    const d0 = j;
    while (isDigit(s.charCodeAt(j))) day = day * 10 + (s.charCodeAt(j++) - 48);
    if (j === d0 || j - d0 > 2 || s.charCodeAt(j) !== 32) return -1;
    j++;
    if (s.charCodeAt(j + 2) !== 58 || s.charCodeAt(j + 5) !== 58) return -1;
    const h = num2(s, j);
    const mi = num2(s, j + 3);
    const se = num2(s, j + 6);
    if (h < 0 || mi < 0 || se < 0) return -1;
    j += 8;
    let frac = '';
    if (s.charCodeAt(j) === 46) {
      const f0 = j + 1;
      j = f0;
      while (isDigit(s.charCodeAt(j))) j++;
      if (j === f0) return -1;
      frac = s.slice(f0 - 1, j);
    }
    if (s.charCodeAt(j) !== 32) return -1;
    this.noYear = true;
    const key = (((mon * 32 + day) * 24 + h) * 60 + mi) * 60 + se;
    if (key !== this._key3164) {
      this._key3164 = key;
      this._err3164 = undefined;
      const y = this.yearFor(mon, day, h, mi, se);
      if (y < 0 || !validDateTime(y, mon + 1, day, h, mi, se)) {
        const inYear = this._year !== undefined ? ` in ${this._year}` : '';
        this._err3164 = `impossible timestamp "${s.slice(i, j)}"${inYear}`;
        this._val3164 = '';
      } else {
        this._val3164 = `${pad4(y)}-${pad2(mon + 1)}-${pad2(day)}T${pad2(h)}:${pad2(mi)}:${pad2(se)}`;
        this._full3164 = this._val3164 + this._offset;
      }
    }
    if (this._err3164 !== undefined) this.tsError = this._err3164;
    else this.ts = frac === '' ? this._full3164 : this._val3164 + frac + this._offset;
    return j;
  }

  /**
   * The year for a year-less stamp: the configured one, else the current year, stepping back one year when
   * that would put the record more than a day in the future (a log read after New Year, the rule syslog
   * readers use); Feb 29 steps back to the last leap year.
   */
  private yearFor(mon: number, day: number, h: number, mi: number, se: number): number {
    if (this._year !== undefined) return this._year;
    if (mon > 11 || day < 1 || day > 31 || h > 23 || mi > 59 || se > 59) return -1;
    const local = this._nowMs + this._offsetMin * 60000;
    let y = new Date(local).getUTCFullYear();
    if (Date.UTC(y, mon, day, h, mi, se) > local + 86400000) y--;
    while (mon === 1 && day === 29 && !isLeap(y)) y--;
    return y;
  }

  /** journald `short-full`: `Fri 2026-11-27 09:59:21 UTC` (date part at `i`). */
  private shortFull(s: string, i: number): number {
    const y = num4(s, i);
    const mo = num2(s, i + 5);
    const d = num2(s, i + 8);
    if (s.charCodeAt(i + 13) !== 58 || s.charCodeAt(i + 16) !== 58 || s.charCodeAt(i + 19) !== 32) return -1;
    const h = num2(s, i + 11);
    const mi = num2(s, i + 14);
    const se = num2(s, i + 17);
    if (h < 0 || mi < 0 || se < 0) return -1;
    const z0 = i + 20;
    const z1 = s.indexOf(' ', z0);
    if (z1 <= z0) return -1;
    const tz = s.slice(z0, z1);
    const abbr = ZONE_ABBREVIATIONS[tz];
    const zone = abbr !== undefined ? offsetString(abbr) : (numericZone(tz) ?? this._offset);
    if (!validDateTime(y, mo, d, h, mi, se)) return this.badTs(s, i - 4, z1);
    this.ts = `${s.slice(i, i + 10)}T${s.slice(i + 11, i + 19)}${zone}`;
    return z1;
  }

  /** `dmesg -T`: `[Fri Nov 27 09:58:21 2026] ` (local time of the host that ran dmesg). */
  private dmesgT(s: string, i: number): number {
    if (s.charCodeAt(i) !== 91 || s.charCodeAt(i + 4) !== 32) return -1;
    const mon = monthAt(s, i + 5);
    if (mon < 0 || s.charCodeAt(i + 8) !== 32) return -1;
    let j = i + 9;
    if (s.charCodeAt(j) === 32) j++;
    let day = 0;
    const d0 = j;
    while (isDigit(s.charCodeAt(j))) day = day * 10 + (s.charCodeAt(j++) - 48);
    if (j === d0 || s.charCodeAt(j) !== 32) return -1;
    j++;
    if (s.charCodeAt(j + 2) !== 58 || s.charCodeAt(j + 5) !== 58 || s.charCodeAt(j + 8) !== 32) return -1;
    const h = num2(s, j);
    const mi = num2(s, j + 3);
    const se = num2(s, j + 6);
    const y = num4(s, j + 9);
    if (h < 0 || mi < 0 || se < 0 || y < 0 || s.charCodeAt(j + 13) !== 93) return -1;
    const end = j + 14;
    if (!validDateTime(y, mon + 1, day, h, mi, se)) {
      this.tsError = `impossible timestamp "${s.slice(i, end)}"`;
    } else
      this.ts = `${pad4(y)}-${pad2(mon + 1)}-${pad2(day)}T${pad2(h)}:${pad2(mi)}:${pad2(se)}${this._offset}`;
    return s.charCodeAt(end) === 32 ? end + 1 : end;
  }

  /** RFC 5424 after `<PRI>1 `: `TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [MSG]`. False if not that shape. */
  private rfc5424(s: string, i: number): boolean {
    let j: number;
    if (s.charCodeAt(i) === 45 /* - */) j = i + 1;
    else {
      if (!isIsoDateAt(s, i)) return false;
      j = this.iso(s, i);
      if (j < 0) return false;
    }
    if (s.charCodeAt(j) !== 32) return false;
    // HOSTNAME APP-NAME PROCID MSGID
    const h0 = j + 1;
    const h1 = s.indexOf(' ', h0);
    if (h1 <= h0) return false;
    let k = h1;
    for (let f = 0; f < 3; f++) {
      const e = s.indexOf(' ', k + 1);
      if (e <= k + 1) return false;
      k = e;
    }
    // STRUCTURED-DATA: "-" or one or more [id param="value"…] with \" \] \\ escapes in values.
    k++;
    if (s.charCodeAt(k) === 45) k++;
    else {
      if (s.charCodeAt(k) !== 91) return false;
      while (s.charCodeAt(k) === 91) {
        k++;
        let quoted = false;
        for (; k < s.length; k++) {
          const c = s.charCodeAt(k);
          if (quoted) {
            if (c === 92) k++;
            else if (c === 34) quoted = false;
          } else if (c === 34) quoted = true;
          else if (c === 93) break;
        }
        if (k >= s.length) return false;
        k++;
      }
    }
    if (k < s.length && s.charCodeAt(k) !== 32) return false;
    if (!(h1 - h0 === 1 && s.charCodeAt(h0) === 45)) this.host = s.slice(h0, h1);
    this.syslog = true;
    k++;
    if (s.charCodeAt(k) === 0xfeff) k++; // BOM
    this.msg = Math.min(k, s.length);
    return true;
  }
}

const POW10 = [1, 10, 100, 1000, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];
const MONTHS = 'JanFebMarAprMayJunJulAugSepOctNovDec';

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function num2(s: string, i: number): number {
  const a = s.charCodeAt(i) - 48;
  const b = s.charCodeAt(i + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

function num4(s: string, i: number): number {
  const a = num2(s, i);
  const b = num2(s, i + 2);
  return a < 0 || b < 0 ? -1 : a * 100 + b;
}

/** 0-based month of a `Jan`…`Dec` at `i`, or -1. */
function monthAt(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c < 65 || c > 83) return -1;
  for (let m = 0; m < 12; m++) {
    const k = m * 3;
    if (
      MONTHS.charCodeAt(k) === c &&
      MONTHS.charCodeAt(k + 1) === s.charCodeAt(i + 1) &&
      MONTHS.charCodeAt(k + 2) === s.charCodeAt(i + 2)
    )
      return m;
  }
  return -1;
}

/** `YYYY-MM-DD` followed by `T`/`t`/space at `i`. */
function isIsoDateAt(s: string, i: number): boolean {
  return (
    s.charCodeAt(i + 4) === 45 &&
    s.charCodeAt(i + 7) === 45 &&
    num4(s, i) >= 0 &&
    num2(s, i + 5) >= 0 &&
    num2(s, i + 8) >= 0
  );
}

/** `<PRI>` with 1–3 digits: the index after `>`, or -1. */
function priEnd(s: string, i: number): number {
  let j = i + 1;
  while (isDigit(s.charCodeAt(j))) j++;
  return j > i + 1 && j - i <= 4 && s.charCodeAt(j) === 62 ? j + 1 : -1;
}

/**
 * dmesg's relative stamps, which carry no usable time: `--time-format=reltime` (`[Nov27 09:58] `, then
 * `[  +0.000414] `) and `-d`/`--time-format=delta` (`[<    0.000414>] `). The index after it, or -1.
 */
function relativeStampEnd(s: string, i: number): number {
  let j = i + 1;
  if (s.charCodeAt(j) === 60 /* < */) j++;
  while (s.charCodeAt(j) === 32) j++;
  if (s.charCodeAt(j) === 43 /* + */) j++;
  const d0 = j;
  while (isDigit(s.charCodeAt(j))) j++;
  if (j > d0 && s.charCodeAt(j) === 46) {
    const f0 = ++j;
    while (isDigit(s.charCodeAt(j))) j++;
    if (j === f0) return -1;
    if (s.charCodeAt(j) === 62 /* > */) j++;
  } else {
    // `[Nov27 09:58]`
    if (monthAt(s, i + 1) < 0 || num2(s, i + 4) < 0 || s.charCodeAt(i + 6) !== 32) return -1;
    if (num2(s, i + 7) < 0 || s.charCodeAt(i + 9) !== 58 || num2(s, i + 10) < 0) return -1;
    j = i + 12;
  }
  if (s.charCodeAt(j) !== 93) return -1;
  return s.charCodeAt(j + 1) === 32 ? j + 2 : j + 1;
}

/** `dmesg -x` prefix `kern  :warn  : `: the index after it, or -1. */
function dmesgLevelEnd(s: string, i: number): number {
  const a = s.indexOf(':', i);
  if (a < 0 || a - i > 8) return -1;
  const b = s.indexOf(':', a + 1);
  if (b < 0 || b - a > 9 || s.charCodeAt(b + 1) !== 32) return -1;
  for (let k = i; k < b; k++) {
    const c = s.charCodeAt(k);
    if (!(c === 32 || c === 58 || (c >= 97 && c <= 122))) return -1;
  }
  return b + 2;
}

function isTraceWord(s: string, i: number, end: number): boolean {
  return end - i === 6 && s.startsWith('TRACE:', i);
}

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The checks ajv-formats' full `date-time` makes (month length, leap years, 24-hour clock). */
function validDateTime(y: number, mo: number, d: number, h: number, mi: number, se: number): boolean {
  if (y < 0 || mo < 1 || mo > 12 || d < 1) return false;
  const dim = mo === 2 && isLeap(y) ? 29 : DAYS[mo - 1]!;
  return d <= dim && h <= 23 && mi <= 59 && se <= 59;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function pad4(n: number): string {
  return String(n).padStart(4, '0');
}

/** `+05:30` for 330. */
export function offsetString(min: number): string {
  const sign = min < 0 ? '-' : '+';
  const a = Math.abs(min);
  return `${sign}${pad2(Math.floor(a / 60))}:${pad2(a % 60)}`;
}

/**
 * UTC offsets (minutes) of the zone abbreviations journald's `short-full` prints (`%Z`), for the unambiguous
 * common ones. CST, IST and BST each name several zones: those, and anything not listed, fall back to the
 * configured `utcOffsetMinutes`.
 */
const ZONE_ABBREVIATIONS: Readonly<Record<string, number>> = {
  UTC: 0,
  UT: 0,
  GMT: 0,
  Z: 0,
  WET: 0,
  WEST: 60,
  CET: 60,
  CEST: 120,
  EET: 120,
  EEST: 180,
  MSK: 180,
  HKT: 480,
  SGT: 480,
  AWST: 480,
  JST: 540,
  KST: 540,
  ACST: 570,
  ACDT: 630,
  AEST: 600,
  AEDT: 660,
  NZST: 720,
  NZDT: 780,
  HST: -600,
  AKST: -540,
  AKDT: -480,
  PST: -480,
  PDT: -420,
  MST: -420,
  MDT: -360,
  CDT: -300,
  EST: -300,
  EDT: -240,
};

/** `+0100` / `-05:30` → `+01:00` / `-05:30`; undefined for anything else. */
function numericZone(tz: string): string | undefined {
  const c = tz.charCodeAt(0);
  if (c !== 43 && c !== 45) return undefined;
  const h = num2(tz, 1);
  const m = tz.length === 5 ? num2(tz, 3) : tz.length === 6 && tz.charCodeAt(3) === 58 ? num2(tz, 4) : -1;
  if (h < 0 || h > 23 || m < 0 || m > 59) return undefined;
  return `${tz.slice(0, 3)}:${pad2(m)}`;
}
