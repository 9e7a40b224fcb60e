/**
 * The nf_log payload: everything the kernel prints after the log prefix, from `IN=` to the end of the line.
 *
 * Ground truth is `net/netfilter/nf_log_syslog.c`. The kernel writes fixed fields in a fixed order, every token
 * followed by one space, and the same key can appear several times with different meanings (`LEN=` is the IP
 * length and then the UDP length, `ID=` the IP id and then the ICMP echo id, `OPT (` IP options and then TCP
 * options, a whole second packet inside `[ … ]`). So this is a positional parser that walks the kernel's
 * grammar token by token with `startsWith`/`charCodeAt`; it never builds a key=value map and never runs a
 * regular expression.
 */
import { isIPv6 } from 'node:net';
import { canonicalIpv6 } from '@ruletrail/core';
import type { Endpoint, InnerPacket, Ip, NetfilterEvent, Tcp, Icmp } from '@ruletrail/event';

/** The part of an event the payload determines. `netfilter` has neither `prefix` nor `trace`. */
export interface NfLogBody {
  observer: NonNullable<NetfilterEvent['observer']>;
  source?: Endpoint;
  destination?: Endpoint;
  network: NetfilterEvent['network'];
  user?: { id: string };
  group?: { id: string };
  netfilter: NetfilterEvent['netfilter'];
}

/** Where and why a payload does not follow the kernel's grammar. */
export class NfLogSyntaxError {
  constructor(
    /** Human reason, e.g. `expected "DST="`. */
    readonly reason: string,
    /** 0-based offset in the text handed to the parser. */
    readonly offset: number,
    /** The text ran out before the grammar was complete (what a kernel-side cut looks like). */
    readonly atEnd: boolean,
  ) {}
}

/** Thrown inside the parser only; never escapes this module. Not an Error: no stack to capture. */
class Fail {
  constructor(
    readonly reason: string,
    readonly offset: number,
  ) {}
}

const SP = 32;
const RBRACKET = 93;

// Token cache slots (see BodyParser._raw).
const S_IN = 0;
const S_OUT = 1;
const S_MAC = 2;
const S_SRC4 = 3;
const S_DST4 = 4;
const S_SRC6 = 5;
const S_DST6 = 6;
const S_TCPOPT = 7;
const S_IPOPT = 8;
const SLOTS = 9;

// TCP flag words in the order the kernel prints them, as bits of a mask.
const TCP_FLAG_NAMES = ['AE', 'CWR', 'ECE', 'URG', 'ACK', 'PSH', 'RST', 'SYN', 'FIN'] as const;
type TcpFlag = (typeof TCP_FLAG_NAMES)[number];
const IP_FLAG_NAMES = ['CE', 'DF', 'MF'] as const;
type IpFlag = (typeof IP_FLAG_NAMES)[number];

/** IANA keyword for the protocol numbers the kernel prints as bare numbers but ECS knows by name. */
const PROTO_NAMES: Readonly<Record<number, string>> = { 2: 'igmp', 33: 'dccp', 47: 'gre', 132: 'sctp' };

/** Small bounded memo for pure string → string conversions that repeat line after line (MACs, IPv6). */
class Memo {
  private readonly _map = new Map<string, string>();
  constructor(
    private readonly _fn: (s: string) => string,
    private readonly _max = 4096,
  ) {}
  get(key: string): string {
    let v = this._map.get(key);
    if (v === undefined) {
      v = this._fn(key);
      if (this._map.size >= this._max) this._map.clear();
      this._map.set(detach(key), v);
    }
    return v;
  }
}

/**
 * A copy of `s` that does not keep its parent string alive. Tokens are slices of a line, which is a slice of
 * a whole read chunk (1 MiB): a long-lived map keyed by such slices would pin every chunk it ever saw.
 * Concatenation makes a rope that slice() flattens into a fresh string of its own.
 */
function detach(s: string): string {
  return ` ${s}`.slice(1);
}

/** Kernel `%pI6` (always fully expanded) → RFC 5952; `''` when it is not an IPv6 address at all. */
const ipv6Memo = new Memo((a) => (isIPv6(a) ? canonicalIpv6(a) : ''));
/** `00:15:5d:12:e2:24` → `00-15-5D-12-E2-24` (the kernel's `%pM` and `%02x` are always zero padded). */
const macMemo = new Memo((m) => m.toUpperCase().replaceAll(':', '-'));

/** The fields of one IP packet as printed; reused across lines (reset per parse) to avoid allocation. */
class Packet {
  v6 = false;
  src = '';
  dst = '';
  len = -1;
  tos = -1;
  prec = -1;
  ttl = -1;
  id = -1;
  ipFlags = 0;
  ipFlagsKnown = false;
  frag = -1;
  ipOptions: string | undefined = undefined;
  tc = -1;
  hoplimit = -1;
  flowlabel = -1;
  fragIncomplete = false;
  transport: string | undefined = undefined;
  iana: string | undefined = undefined;
  spt = -1;
  dpt = -1;
  // TCP
  tcp = false;
  seq = -1;
  ack = -1;
  window = -1;
  res = -1;
  tcpFlags = 0;
  urgp = -1;
  tcpOptions: string | undefined = undefined;
  udpLen = -1;
  // ICMP / ICMPv6
  icmpType = -1;
  icmpCode = -1;
  echoId = -1;
  echoSeq = -1;
  parameter = -1;
  gateway: string | undefined = undefined;
  mtu = -1;
  spi = -1;
  incomplete = -1;
  truncated = false;

  reset(): void {
    this.v6 = false;
    this.src = '';
    this.dst = '';
    this.len = this.tos = this.prec = this.ttl = this.id = -1;
    this.ipFlags = 0;
    this.ipFlagsKnown = false;
    this.frag = -1;
    this.ipOptions = undefined;
    this.tc = this.hoplimit = this.flowlabel = -1;
    this.fragIncomplete = false;
    this.transport = this.iana = undefined;
    this.spt = this.dpt = -1;
    this.tcp = false;
    this.seq = this.ack = this.window = this.res = -1;
    this.tcpFlags = 0;
    this.urgp = -1;
    this.tcpOptions = undefined;
    this.udpLen = -1;
    this.icmpType = this.icmpCode = this.echoId = this.echoSeq = this.parameter = -1;
    this.gateway = undefined;
    this.mtu = this.spi = this.incomplete = -1;
    this.truncated = false;
  }

  ip(): Ip {
    const ip: Ip = {};
    if (this.len >= 0) ip.len = this.len;
    if (this.v6) {
      if (this.tc >= 0) ip.tc = this.tc;
      if (this.hoplimit >= 0) ip.hoplimit = this.hoplimit;
      if (this.flowlabel >= 0) ip.flowlabel = this.flowlabel;
      if (this.id >= 0) ip.id = this.id;
      if (this.frag >= 0) ip.fragOffset = this.frag;
      if (this.fragIncomplete) ip.fragIncomplete = true;
    } else {
      if (this.tos >= 0) ip.tos = this.tos;
      if (this.prec >= 0) ip.prec = this.prec;
      if (this.ttl >= 0) ip.ttl = this.ttl;
      if (this.id >= 0) ip.id = this.id;
      if (this.ipFlagsKnown) ip.flags = ipFlags(this.ipFlags);
      if (this.frag >= 0) ip.fragOffset = this.frag;
    }
    if (this.ipOptions !== undefined) ip.options = this.ipOptions;
    return ip;
  }

  tcpObject(): Tcp {
    const t: Tcp = {};
    if (this.seq >= 0) {
      t.seq = this.seq;
      t.ack = this.ack;
    }
    if (this.window >= 0) {
      t.window = this.window;
      t.res = this.res;
      t.flags = tcpFlags(this.tcpFlags);
      t.urgp = this.urgp;
    }
    if (this.tcpOptions !== undefined) t.options = this.tcpOptions;
    return t;
  }

  icmpObject(): Icmp | undefined {
    if (this.icmpType < 0) return undefined;
    const i: Icmp = { type: this.icmpType, code: this.icmpCode };
    if (this.echoId >= 0) {
      i.id = this.echoId;
      i.seq = this.echoSeq;
    }
    if (this.parameter >= 0) i.parameter = this.parameter;
    if (this.gateway !== undefined) i.gateway = this.gateway;
    if (this.mtu >= 0) i.mtu = this.mtu;
    return i;
  }

  inner(): InnerPacket {
    const p: InnerPacket = {};
    if (this.src !== '') {
      p.source = this.spt >= 0 ? { ip: this.src, port: this.spt } : { ip: this.src };
      p.destination = this.dpt >= 0 ? { ip: this.dst, port: this.dpt } : { ip: this.dst };
    }
    if (this.transport !== undefined) p.transport = this.transport;
    if (this.len >= 0) p.ip = this.ip();
    if (this.tcp && (this.window >= 0 || this.tcpOptions !== undefined)) p.tcp = this.tcpObject();
    if (this.udpLen >= 0) p.udpLength = this.udpLen;
    const icmp = this.icmpObject();
    if (icmp) p.icmp = icmp;
    if (this.incomplete >= 0) p.incomplete = this.incomplete;
    if (this.truncated) p.truncated = true;
    return p;
  }
}

function ipFlags(mask: number): IpFlag[] {
  const out: IpFlag[] = [];
  for (let b = 0; b < 3; b++) if (mask & (1 << b)) out.push(IP_FLAG_NAMES[b]!);
  return out;
}

function tcpFlags(mask: number): TcpFlag[] {
  const out: TcpFlag[] = [];
  for (let b = 0; b < 9; b++) if (mask & (1 << b)) out.push(TCP_FLAG_NAMES[b]!);
  return out;
}

/**
 * Walks one payload. A single instance is reused for every line (plus one for the `[ … ]` inner packet), so
 * the per-line cost is the result objects and the strings that end up in them, nothing else.
 */
class BodyParser {
  s = '';
  i = 0;
  n = 0;
  /** Parsing the packet inside `[ … ]`: `]` also ends a token, and there is no trailer and no recursion. */
  inner = false;
  /** The packet dump ended early on the kernel's side (`return` in nf_log_syslog.c): nothing more follows. */
  stopped = false;
  readonly pkt = new Packet();
  // Outer-only fields.
  inDev = '';
  outDev = '';
  physin: string | undefined = undefined;
  physout: string | undefined = undefined;
  macHeader: string | undefined = undefined;
  macSrc: string | undefined = undefined;
  macDst: string | undefined = undefined;
  macProto: string | undefined = undefined;
  vproto: string | undefined = undefined;
  vid = -1;
  tunnel: string | undefined = undefined;
  arp = false;
  uid: string | undefined = undefined;
  gid: string | undefined = undefined;
  mark = 0;
  /** An ICMP error's embedded packet was parsed (its fields are in the child parser's `pkt`). */
  hasInner = false;
  private _child: BodyParser | undefined;
  /**
   * Last raw token and its converted value per field slot. Consecutive TRACE lines describe the same packet,
   * so most tokens repeat verbatim: when the text continues with the previous line's token, its already
   * validated and converted value is reused (one memcmp, no slice, no allocation).
   */
  private readonly _raw: string[] = new Array<string>(SLOTS).fill('\u0000');
  private readonly _val: string[] = new Array<string>(SLOTS).fill('');

  // ---- primitives ---------------------------------------------------------------------------------------

  fail(what: string, at = this.i): never {
    // Internal control flow, always caught in parseNfLogBodyAt: a plain object skips the stack capture.
    // eslint-disable-next-line @typescript-eslint/only-throw-error
    throw new Fail(what, at);
  }

  /** Consumes `k` when the text continues with it. */
  lit(k: string): boolean {
    if (this.s.startsWith(k, this.i)) {
      this.i += k.length;
      return true;
    }
    return false;
  }

  need(k: string): void {
    if (!this.s.startsWith(k, this.i)) this.fail(`expected "${k}"`);
    this.i += k.length;
  }

  /** At the end of this packet's text: end of line, or `]` when inside the inner packet. */
  atEnd(): boolean {
    return this.i >= this.n || (this.inner && this.s.charCodeAt(this.i) === RBRACKET);
  }

  /** The space that ends a token (absent at the end of the text: syslog daemons may strip the last one). */
  sep(): void {
    if (this.s.charCodeAt(this.i) === SP) this.i++;
    else if (!this.atEnd()) this.fail('expected a space');
  }

  /** A bare word (flag) followed by a space or the end. */
  flag(w: string): boolean {
    if (!this.s.startsWith(w, this.i)) return false;
    const j = this.i + w.length;
    const c = this.s.charCodeAt(j);
    if (c === SP) {
      this.i = j + 1;
      return true;
    }
    if (j >= this.n || (this.inner && c === RBRACKET)) {
      this.i = j;
      return true;
    }
    return false;
  }

  /** Unsigned decimal, 1–10 digits. */
  uint(): number {
    const s = this.s;
    let i = this.i;
    let v = 0;
    const start = i;
    for (; i < this.n; i++) {
      const c = s.charCodeAt(i);
      if (c < 48 || c > 57) break;
      v = v * 10 + (c - 48);
    }
    if (i === start || i - start > 10) this.fail('expected a number');
    this.i = i;
    return v;
  }

  /** Hex digits, 1–8 (either case). */
  hex(): number {
    const s = this.s;
    let i = this.i;
    let v = 0;
    const start = i;
    for (; i < this.n; i++) {
      const c = s.charCodeAt(i);
      let d: number;
      if (c >= 48 && c <= 57) d = c - 48;
      else if (c >= 97 && c <= 102) d = c - 87;
      else if (c >= 65 && c <= 70) d = c - 55;
      else break;
      v = v * 16 + d;
    }
    if (i === start || i - start > 8) this.fail('expected a hex number');
    this.i = i;
    return v;
  }

  /** `KEY=<uint> ` */
  keyUint(k: string): number {
    this.need(k);
    const v = this.uint();
    this.sep();
    return v;
  }

  /** Text up to the next space (or end); may be empty. */
  word(): string {
    const j = this.s.indexOf(' ', this.i);
    const e = j < 0 || j > this.n ? this.n : j;
    const w = this.s.slice(this.i, e);
    this.i = e;
    return w;
  }

  /** Like `word` but an inner packet's `]` also ends it. */
  token(): string {
    if (!this.inner) return this.word();
    const s = this.s;
    let i = this.i;
    for (; i < this.n; i++) {
      const c = s.charCodeAt(i);
      if (c === SP || c === RBRACKET) break;
    }
    const w = s.slice(this.i, i);
    this.i = i;
    return w;
  }

  /**
   * When the text at the cursor is the previous token of `slot` followed by a token end, consumes it and
   * returns its value; otherwise undefined.
   */
  cached(slot: number): string | undefined {
    const raw = this._raw[slot]!;
    const j = this.i + raw.length;
    // slice + === rather than startsWith: with sliced strings on both sides startsWith takes V8's slow path.
    if (j > this.n || this.s.slice(this.i, j) !== raw) return undefined;
    const c = this.s.charCodeAt(j);
    if (c !== SP && j < this.n && !(this.inner && c === RBRACKET)) return undefined;
    this.i = j;
    return this._val[slot];
  }

  remember(slot: number, raw: string, value: string): string {
    this._raw[slot] = raw;
    this._val[slot] = value;
    return value;
  }

  /** An interface name (may be empty). */
  dev(slot: number): string {
    const c = this.cached(slot);
    if (c !== undefined) return c;
    const w = this.word();
    return w === '' ? w : this.remember(slot, w, w);
  }

  ipv4(slot = -1): string {
    if (slot >= 0 && !this.inner) {
      const c = this.cached(slot);
      if (c !== undefined) return c;
    }
    const a = this.token();
    if (!isIpv4(a)) this.fail(`"${a}" is not an IPv4 address`, this.i - a.length);
    return slot >= 0 && !this.inner ? this.remember(slot, a, a) : a;
  }

  ipv6(slot = -1): string {
    if (slot >= 0 && !this.inner) {
      const c = this.cached(slot);
      if (c !== undefined) return c;
    }
    const a = this.token();
    const c = ipv6Memo.get(a);
    if (c === '') this.fail(`"${a}" is not an IPv6 address`, this.i - a.length);
    return slot >= 0 && !this.inner ? this.remember(slot, a, c) : c;
  }

  /** `INCOMPLETE [n bytes]` (the caller has consumed `INCOMPLETE [`). */
  incompleteBytes(): number {
    const v = this.uint();
    this.need(' bytes]');
    return v;
  }

  /** Upper- or lowercase hex up to `)`. */
  hexUntilParen(): string {
    const s = this.s;
    const start = this.i;
    let i = start;
    for (; i < this.n; i++) {
      const c = s.charCodeAt(i);
      if (c === 41) break;
      if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102)))
        this.fail('expected hex option bytes');
    }
    if (i >= this.n) this.fail('expected ")"');
    this.i = i + 1;
    return s.slice(start, i);
  }

  // ---- grammar ------------------------------------------------------------------------------------------

  resetOuter(s: string, start: number, end: number): void {
    this.s = s;
    this.i = start;
    this.n = end;
    this.inner = false;
    this.stopped = false;
    this.pkt.reset();
    this.inDev = this.outDev = '';
    this.physin = this.physout = undefined;
    this.macHeader = this.macSrc = this.macDst = this.macProto = this.vproto = this.tunnel = undefined;
    this.vid = -1;
    this.arp = false;
    this.uid = this.gid = undefined;
    this.mark = 0;
    this.hasInner = false;
  }

  /** `IN=… OUT=… [PHYSIN=…] [PHYSOUT=…] [link layer] packet`. */
  body(): void {
    this.need('IN=');
    this.inDev = this.dev(S_IN);
    this.sep();
    this.need('OUT=');
    this.outDev = this.dev(S_OUT);
    this.sep();
    if (this.lit('PHYSIN=')) {
      this.physin = this.word();
      this.sep();
    }
    if (this.lit('PHYSOUT=')) {
      this.physout = this.word();
      this.sep();
    }
    if (this.lit('MAC=')) this.macHeaderField();
    else if (this.lit('MACSRC=')) this.macDecode();
    if (this.i >= this.n) return; // nf_log_unknown_packet: link layer only
    if (this.lit('SRC=')) this.packet();
    else if (this.lit('ARP ')) this.arpPacket();
    else if (this.flag('TRUNCATED')) this.pkt.truncated = true;
    else this.fail('expected "SRC=", "ARP" or "TRUNCATED"');
    if (this.i < this.n) this.fail('unexpected token');
  }

  /** `MAC=<hh:hh:…>[ TUNNEL=a->b] ` */
  macHeaderField(): void {
    let h = this.cached(S_MAC);
    if (h !== undefined) {
      this._macFromLast();
    } else {
      h = this.word();
      if (!isColonHex(h)) this.fail(`"${h}" is not a link-layer header`, this.i - h.length);
      this.remember(S_MAC, h, h);
      if (h.length === 41) {
        // Ethernet: destination(6) source(6) ethertype(2).
        this._lastMacDst = macMemo.get(h.slice(0, 17));
        this._lastMacSrc = macMemo.get(h.slice(18, 35));
        this._lastMacProto = h.slice(36, 38) + h.slice(39, 41);
      } else this._lastMacDst = this._lastMacSrc = this._lastMacProto = undefined;
      this._macFromLast();
    }
    this.macHeader = h;
    if (this.s.startsWith(' TUNNEL=', this.i)) {
      this.i += 8;
      const t = this.word();
      const arrow = t.indexOf('->');
      if (arrow < 0 || !isIpv4(t.slice(0, arrow)) || !isIpv4(t.slice(arrow + 2)))
        this.fail(`bad TUNNEL "${t}"`);
      this.tunnel = t;
    }
    this.sep();
  }

  private _lastMacSrc: string | undefined;
  private _lastMacDst: string | undefined;
  private _lastMacProto: string | undefined;

  private _macFromLast(): void {
    this.macSrc = this._lastMacSrc;
    this.macDst = this._lastMacDst;
    this.macProto = this._lastMacProto;
  }

  /** `MACSRC=%pM MACDST=%pM [VPROTO=%04x VID=%u ]MACPROTO=%04x ` (the caller consumed `MACSRC=`). */
  macDecode(): void {
    this.macSrc = this.mac();
    this.sep();
    this.need('MACDST=');
    this.macDst = this.mac();
    this.sep();
    if (this.lit('VPROTO=')) {
      this.vproto = this.hex4();
      this.sep();
      this.vid = this.keyUint('VID=');
    }
    this.need('MACPROTO=');
    this.macProto = this.hex4();
    this.sep();
  }

  mac(): string {
    const m = this.token();
    if (m.length !== 17 || !isColonHex(m)) this.fail(`"${m}" is not a MAC address`, this.i - m.length);
    return macMemo.get(m);
  }

  hex4(): string {
    const start = this.i;
    this.hex();
    if (this.i - start !== 4) this.fail('expected 4 hex digits');
    return this.s.slice(start, this.i).toLowerCase();
  }

  /** An IPv4 or IPv6 packet (the caller consumed `SRC=`). */
  packet(): void {
    const p = this.pkt;
    // %pI4 has a '.' within its first four characters, %pI6 a ':' (at the fifth, as the kernel prints it).
    let v6 = false;
    for (let k = this.i, e = Math.min(this.i + 5, this.n); k < e; k++) {
      const c = this.s.charCodeAt(k);
      if (c === 46) break;
      if (c === 58) {
        v6 = true;
        break;
      }
    }
    p.v6 = v6;
    if (p.v6) this.ipv6Packet();
    else this.ipv4Packet();
    if (!this.stopped && !this.inner) this.trailer();
  }

  ipv4Packet(): void {
    const p = this.pkt;
    p.src = this.ipv4(S_SRC4);
    this.sep();
    this.need('DST=');
    p.dst = this.ipv4(S_DST4);
    this.sep();
    p.len = this.keyUint('LEN=');
    this.need('TOS=0x');
    p.tos = this.hex();
    this.sep();
    this.need('PREC=0x');
    p.prec = this.hex();
    this.sep();
    p.ttl = this.keyUint('TTL=');
    p.id = this.keyUint('ID=');
    if (this.flag('CE')) p.ipFlags |= 1;
    if (this.flag('DF')) p.ipFlags |= 2;
    if (this.flag('MF')) p.ipFlags |= 4;
    // Known only when something follows them (a cut record may end where a flag would have been).
    p.ipFlagsKnown = this.i < this.n;
    // Fragment offset in 8-byte units.
    if (this.lit('FRAG:')) {
      p.frag = this.uint() * 8;
      this.sep();
    }
    if (this.lit('OPT (')) {
      p.ipOptions = this.optionBytes(S_IPOPT);
      this.sep();
    } else if (this.flag('TRUNCATED')) {
      p.truncated = true;
      this.stopped = true;
      return;
    }
    this.transport4();
  }

  /** What follows the IPv4 header: `PROTO=…` and its header, or nothing (a non-first AH fragment). */
  transport4(): void {
    if (!this.lit('PROTO=')) return;
    if (this.flag('TCP')) this.tcpHeader();
    else if (this.flag('UDP')) this.udpHeader('udp', '17');
    else if (this.flag('UDPLITE')) this.udpHeader('udplite', '136');
    else if (this.flag('ICMP')) this.icmpHeader(false);
    else if (this.flag('AH')) this.spiHeader('ah', '51');
    else if (this.flag('ESP')) this.spiHeader('esp', '50');
    else this.protoNumber();
  }

  protoNumber(): void {
    const at = this.i;
    const n = this.uint();
    if (n > 255) this.fail(`PROTO=${n}: protocol number out of range`, at);
    this.pkt.transport = PROTO_NAMES[n] ?? String(n);
    this.pkt.iana = String(n);
    this.sep();
  }

  tcpHeader(): void {
    const p = this.pkt;
    p.transport = 'tcp';
    p.iana = '6';
    p.tcp = true;
    if (this.lit('INCOMPLETE [')) {
      p.incomplete = this.incompleteBytes();
      this.sep();
      this.stopped = true;
      return;
    }
    if (!this.s.startsWith('SPT=', this.i)) return; // a non-first fragment: nothing after PROTO=TCP
    p.spt = this.port('SPT=');
    p.dpt = this.port('DPT=');
    if (this.lit('SEQ=')) {
      p.seq = this.uint();
      this.sep();
      p.ack = this.keyUint('ACK=');
    }
    p.window = this.keyUint('WINDOW=');
    this.need('RES=0x');
    p.res = this.hex();
    this.sep();
    p.tcpFlags = this.tcpFlagWords();
    p.urgp = this.keyUint('URGP=');
    if (this.lit('OPT (')) {
      if (this.lit('TRUNCATED)')) {
        p.tcpOptions = 'TRUNCATED';
        p.truncated = true;
        this.stopped = true;
      } else p.tcpOptions = this.optionBytes(S_TCPOPT);
      this.sep();
    }
  }

  /** `AE CWR ECE URG ACK PSH RST SYN FIN`, each optional, in this order. Returns the bit mask. */
  tcpFlagWords(): number {
    let mask = 0;
    let last = -1;
    for (;;) {
      let b: number;
      switch (this.s.charCodeAt(this.i)) {
        case 65: // A
          b = this.s.charCodeAt(this.i + 1) === 69 ? 0 : 4;
          break;
        case 67: // C
          b = 1;
          break;
        case 69: // E
          b = 2;
          break;
        case 85: // U: URG, or URGP= which ends the list
          if (this.s.charCodeAt(this.i + 3) === 80) return mask;
          b = 3;
          break;
        case 80: // P
          b = 5;
          break;
        case 82: // R
          b = 6;
          break;
        case 83: // S
          b = 7;
          break;
        case 70: // F
          b = 8;
          break;
        default:
          return mask;
      }
      const name = TCP_FLAG_NAMES[b]!;
      if (!this.flag(name)) this.fail('expected TCP flags or "URGP="');
      if (b <= last)
        this.fail(
          `TCP flag ${name} out of the kernel's order (${TCP_FLAG_NAMES.join(' ')})`,
          this.i - name.length - 1,
        );
      mask |= 1 << b;
      last = b;
    }
  }

  /** Hex option bytes up to `)` (the caller consumed `OPT (`), reusing the previous line's when equal. */
  optionBytes(slot: number): string {
    const raw = this._raw[slot]!;
    const j = this.i + raw.length;
    if (this.s.charCodeAt(j) === 41 && this.s.slice(this.i, j) === raw) {
      this.i = j + 1;
      return raw;
    }
    const h = this.hexUntilParen();
    return this.remember(slot, h, h);
  }

  port(k: string): number {
    this.need(k);
    const at = this.i;
    const v = this.uint();
    if (v > 65535) this.fail(`${k}${v}: port out of range`, at);
    this.sep();
    return v;
  }

  udpHeader(transport: string, iana: string): void {
    const p = this.pkt;
    p.transport = transport;
    p.iana = iana;
    if (this.lit('INCOMPLETE [')) {
      p.incomplete = this.incompleteBytes();
      this.sep();
      this.stopped = true;
      return;
    }
    if (!this.s.startsWith('SPT=', this.i)) return; // non-first fragment
    p.spt = this.port('SPT=');
    p.dpt = this.port('DPT=');
    p.udpLen = this.keyUint('LEN=');
  }

  spiHeader(transport: string, iana: string): void {
    const p = this.pkt;
    p.transport = transport;
    p.iana = iana;
    if (this.lit('INCOMPLETE [')) {
      p.incomplete = this.incompleteBytes();
      this.sep();
      return;
    }
    if (this.lit('SPI=0x')) {
      p.spi = this.hex();
      this.sep();
    }
  }

  /** ICMP (`v6` false) or ICMPv6 header, including the embedded packet of an error. */
  icmpHeader(v6: boolean): void {
    const p = this.pkt;
    p.transport = v6 ? 'ipv6-icmp' : 'icmp';
    p.iana = v6 ? '58' : '1';
    if (this.lit('INCOMPLETE [')) {
      p.incomplete = this.incompleteBytes();
      this.sep();
      if (v6) this.stopped = true;
      return;
    }
    if (!this.lit('TYPE=')) return; // non-first fragment
    p.icmpType = this.uint();
    this.sep();
    p.icmpCode = this.keyUint('CODE=');
    if (this.lit('INCOMPLETE [')) {
      p.incomplete = this.incompleteBytes();
      this.sep();
      return;
    }
    if (this.lit('ID=')) {
      p.echoId = this.uint();
      this.sep();
      p.echoSeq = this.keyUint('SEQ=');
      return;
    }
    if (!v6 && this.lit('PARAMETER=')) {
      p.parameter = this.uint();
      this.sep();
      return;
    }
    if (v6 && this.lit('POINTER=')) {
      p.parameter = this.hex();
      this.sep();
    }
    if (!v6 && this.lit('GATEWAY=')) {
      p.gateway = this.ipv4();
      this.sep();
    }
    if (!this.inner && this.s.charCodeAt(this.i) === 91 /* [ */) {
      this.i++;
      this.innerDump();
      this.hasInner = true;
      this.need(']');
      this.sep();
    }
    if (this.lit('MTU=')) {
      p.mtu = this.uint();
      this.sep();
    }
  }

  /** The `[SRC=… ]` packet of an ICMP error, parsed by a child parser on the same text. */
  innerDump(): void {
    const c = (this._child ??= new BodyParser());
    c.s = this.s;
    c.i = this.i;
    c.n = this.n;
    c.inner = true;
    c.stopped = false;
    c.pkt.reset();
    try {
      if (c.lit('SRC=')) c.packet();
      else if (c.flag('TRUNCATED')) c.pkt.truncated = true;
      else c.fail('expected "SRC=" or "TRUNCATED" in the embedded packet');
      if (c.s.charCodeAt(c.i) !== RBRACKET) c.fail('expected "]" after the embedded packet');
    } finally {
      this.i = c.i;
    }
  }

  ipv6Packet(): void {
    const p = this.pkt;
    p.src = this.ipv6(S_SRC6);
    this.sep();
    this.need('DST=');
    p.dst = this.ipv6(S_DST6);
    this.sep();
    p.len = this.keyUint('LEN=');
    p.tc = this.keyUint('TC=');
    p.hoplimit = this.keyUint('HOPLIMIT=');
    p.flowlabel = this.keyUint('FLOWLBL=');
    this.extensionHeaders();
    if (this.stopped) return;
    if (!this.lit('PROTO=')) this.fail('expected "PROTO="');
    if (this.flag('TCP')) this.tcpHeader();
    else if (this.flag('UDP')) this.udpHeader('udp', '17');
    else if (this.flag('UDPLITE')) this.udpHeader('udplite', '136');
    else if (this.flag('ICMPv6')) this.icmpHeader(true);
    else this.protoNumber();
  }

  /**
   * IPv6 extension headers. With IP options logging (TRACE always has it) each is wrapped in `OPT ( … ) `;
   * without it only the fragment header prints (`FRAG:… ID:… `). Several cases end the dump early.
   */
  extensionHeaders(): void {
    const p = this.pkt;
    const start = this.i;
    try {
      this.extensionHeaderList();
    } finally {
      // Also on a cut record: keep the headers that were printed whole.
      if (this.s.startsWith('OPT (', start)) {
        let e = this.i;
        while (e > start && this.s.charCodeAt(e - 1) === SP) e--;
        if (this.s.endsWith('OPT (', e)) e -= 5; // a header the cut went through
        while (e > start && this.s.charCodeAt(e - 1) === SP) e--;
        if (e > start) p.ipOptions = this.s.slice(start, e);
      }
    }
  }

  extensionHeaderList(): void {
    const p = this.pkt;
    for (;;) {
      if (this.lit('OPT ( ')) {
        if (this.lit('FRAG:')) {
          if (!this.fragmentHeader()) break;
        } else if (this.lit('AH ')) {
          if (this.lit(')')) {
            this.stopped = true; // AH after a non-first fragment header
            break;
          }
          if (this.lit('INCOMPLETE [')) {
            p.incomplete = this.incompleteBytes();
            this.need(' )');
            this.stopped = true;
            break;
          }
          this.need('SPI=0x');
          const spi = this.hex();
          if (p.spi < 0) p.spi = spi;
          this.sep();
        } else if (this.lit('ESP ')) {
          // ESP ends the walk whatever follows.
          p.transport = 'esp';
          p.iana = '50';
          this.stopped = true;
          if (this.lit(')')) break;
          if (this.lit('INCOMPLETE [')) {
            p.incomplete = this.incompleteBytes();
            this.need(' )');
            break;
          }
          this.need('SPI=0x');
          const spi = this.hex();
          if (p.spi < 0) p.spi = spi;
          this.need(' )');
          break;
        } else if (this.lit('Unknown Ext Hdr ')) {
          this.uint();
          this.stopped = true;
          break;
        }
        // hop-by-hop, destination options, routing: nothing inside the parentheses
        if (this.lit(') ')) continue;
        if (this.lit(')') && this.atEnd()) {
          this.stopped = true; // such a header after a non-first fragment ends the dump
          break;
        }
        this.fail('expected ")" closing the extension header');
      } else if (this.lit('FRAG:')) {
        if (!this.fragmentHeader()) break;
      } else if (this.lit('Unknown Ext Hdr ')) {
        this.uint();
        this.stopped = true;
        break;
      } else if (this.flag('TRUNCATED')) {
        p.truncated = true;
        this.stopped = true;
        break;
      } else break;
    }
  }

  /** `FRAG:<byte offset> [INCOMPLETE ]ID:%08x ` (caller consumed `FRAG:`). False when the dump stops here. */
  fragmentHeader(): boolean {
    const p = this.pkt;
    if (this.flag('TRUNCATED')) {
      p.truncated = true;
      this.stopped = true;
      return false;
    }
    p.frag = this.uint();
    this.sep();
    if (this.flag('INCOMPLETE')) p.fragIncomplete = true;
    this.need('ID:');
    p.id = this.hex();
    this.sep();
    return true;
  }

  /** `[UID=%u GID=%u ][MARK=0x%x ]` — outer packet only. */
  trailer(): void {
    if (this.lit('UID=')) {
      const a = this.i;
      this.uint();
      this.uid = this.s.slice(a, this.i);
      this.sep();
      this.need('GID=');
      const b = this.i;
      this.uint();
      this.gid = this.s.slice(b, this.i);
      this.sep();
    }
    if (this.lit('MARK=0x')) {
      this.mark = this.hex();
      this.sep();
    }
  }

  /** `ARP HTYPE=%d PTYPE=0x%04x OPCODE=%d[ MACSRC=… IPSRC=… MACDST=… IPDST=…]` (caller consumed `ARP `). */
  arpPacket(): void {
    this.arp = true;
    this.keyUint('HTYPE=');
    this.need('PTYPE=0x');
    this.hex4();
    this.sep();
    this.keyUint('OPCODE=');
    const p = this.pkt;
    if (this.lit('MACSRC=')) {
      this.macSrc = this.mac();
      this.sep();
      this.need('IPSRC=');
      p.src = this.ipv4();
      this.sep();
      this.need('MACDST=');
      this.macDst = this.mac();
      this.sep();
      this.need('IPDST=');
      p.dst = this.ipv4();
      this.sep();
    } else if (this.lit('INCOMPLETE [')) {
      p.incomplete = this.incompleteBytes();
      this.sep();
    }
  }

  /** The result objects, in ECS/`netfilter.*` shape; `netfilter.*` fields are added to `nf`. */
  result(nf: NetfilterEvent['netfilter']): NfLogBody {
    const p = this.pkt;
    const body: NfLogBody = {
      observer: {
        ingress: { interface: { name: this.inDev } },
        egress: { interface: { name: this.outDev } },
      },
      network: { type: 'unknown' },
      netfilter: nf,
    };
    if (p.src !== '' || this.macSrc !== undefined) {
      const src: Endpoint = {};
      if (p.src !== '') src.ip = p.src;
      if (p.spt >= 0) src.port = p.spt;
      if (this.macSrc !== undefined) src.mac = this.macSrc;
      const dst: Endpoint = {};
      if (p.dst !== '') dst.ip = p.dst;
      if (p.dpt >= 0) dst.port = p.dpt;
      if (this.macDst !== undefined) dst.mac = this.macDst;
      body.source = src;
      body.destination = dst;
    }
    const network = body.network;
    if (this.arp) network.type = 'arp';
    else if (p.len >= 0) network.type = p.v6 ? 'ipv6' : 'ipv4';
    else if (this.macProto === '0800') network.type = 'ipv4';
    else if (this.macProto === '86dd') network.type = 'ipv6';
    if (p.transport !== undefined) {
      network.transport = p.transport;
      network.iana_number = p.iana!;
    }
    if (this.uid !== undefined) {
      body.user = { id: this.uid };
      body.group = { id: this.gid! };
    }
    nf.mark = this.mark;
    if (this.physin !== undefined) nf.physin = this.physin;
    if (this.physout !== undefined) nf.physout = this.physout;
    if (this.macHeader !== undefined || this.macProto !== undefined || this.tunnel !== undefined) {
      const mac: NonNullable<typeof nf.mac> = {};
      if (this.macHeader !== undefined) mac.header = this.macHeader;
      if (this.macProto !== undefined) mac.proto = this.macProto;
      if (this.vproto !== undefined) {
        mac.vproto = this.vproto;
        mac.vid = this.vid;
      }
      if (this.tunnel !== undefined) mac.tunnel = this.tunnel;
      nf.mac = mac;
    }
    if (p.len >= 0) nf.ip = p.ip();
    if (p.tcp && (p.window >= 0 || p.tcpOptions !== undefined)) nf.tcp = p.tcpObject();
    if (p.udpLen >= 0) nf.udp = { length: p.udpLen };
    const icmp = p.icmpObject();
    if (icmp) nf.icmp = icmp;
    if (p.spi >= 0) nf.spi = p.spi;
    if (p.incomplete >= 0) nf.incomplete = p.incomplete;
    if (p.truncated) nf.truncated = true;
    if (this.hasInner) nf.inner = this._child!.pkt.inner();
    return body;
  }
}

function isIpv4(a: string): boolean {
  const n = a.length;
  if (n < 7 || n > 15) return false;
  let dots = 0;
  let digits = 0;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const c = a.charCodeAt(i);
    if (c === 46) {
      if (digits === 0) return false;
      dots++;
      digits = 0;
      v = 0;
    } else if (c >= 48 && c <= 57) {
      v = v * 10 + (c - 48);
      if (++digits > 3 || v > 255) return false;
    } else return false;
  }
  return dots === 3 && digits > 0;
}

function isColonHex(h: string): boolean {
  const n = h.length;
  if (n === 0) return true;
  if ((n + 1) % 3 !== 0) return false;
  for (let i = 0; i < n; i++) {
    const c = h.charCodeAt(i);
    if (i % 3 === 2) {
      if (c !== 58) return false;
    } else if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70))) return false;
  }
  return true;
}

const shared = new BodyParser();
/**
 * The payload text of the last successful parse. The steps of one traced packet print the same payload line
 * after line; when the next payload is the same text, the parser's state still describes it and only the
 * result objects are built again (fresh objects: events never share mutable parts).
 */
let lastBody = '';

/**
 * Parses the payload in `text` from `start` (where `IN=` must be) to `end`. Returns the event parts, or where
 * and why it does not follow the kernel's grammar. Pure apart from reusing internal scratch state, so not
 * reentrant. `netfilter` is the object the `netfilter.*` fields are added to (so a caller can put `prefix`
 * and `trace` first). With `partial`, a text that ends before the grammar is complete (a record the kernel cut
 * at its line limit) yields the fields read so far plus `netfilter.truncated`, instead of an error.
 */
export function parseNfLogBodyAt(
  text: string,
  start: number,
  end: number,
  partial = false,
  netfilter: NetfilterEvent['netfilter'] = {},
): NfLogBody | NfLogSyntaxError {
  const p = shared;
  if (!partial && end - start === lastBody.length && end === text.length && text.slice(start) === lastBody) {
    return p.result(netfilter);
  }
  // The primitives look ahead with startsWith on the whole string: make the end real.
  p.resetOuter(end < text.length ? text.slice(0, end) : text, start, end);
  lastBody = '';
  try {
    p.body();
  } catch (e) {
    if (!(e instanceof Fail)) throw e;
    // Within the last few characters: a multi-word token (`OPT ( `) the cut went through.
    if (partial && end - e.offset <= 6) {
      // The text ran out mid-grammar: keep every field read so far and say the record is cut.
      const r = p.result(netfilter);
      netfilter.truncated = true;
      return r;
    }
    return new NfLogSyntaxError(e.reason, e.offset, e.offset >= end);
  }
  if (!partial && end === text.length) lastBody = text.slice(start);
  return p.result(netfilter);
}

/**
 * Parses an nf_log payload (`IN=eth0 OUT= MAC=… SRC=… …`, the text after the log prefix), as printed by the
 * kernel's `nf_log_syslog`, into event parts. Reusable by any channel that carries this text.
 */
export function parseNfLogBody(text: string): NfLogBody | NfLogSyntaxError {
  return parseNfLogBodyAt(text, 0, text.length);
}
