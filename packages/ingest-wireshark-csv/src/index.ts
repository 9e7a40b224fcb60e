/**
 * Wireshark CSV exports of an NFLOG capture → NetfilterEvents.
 *
 * Two producers are accepted, columns found by header name in any order:
 * - the GUI's File → Export Packet Dissections → As CSV: default columns `No.,Time,Source,Destination,Protocol,
 *   Length,Info` plus columns added with "Apply as Column" (the NFLOG `Prefix`, `TCP Options`, …);
 * - `tshark -T fields -E header=y -E separator=, -E quote=d -e nflog.prefix -e ip.src …` (field names as headers).
 *
 * Required: a prefix column and source/destination addresses. A CSV carries only what its columns show: the
 * mark, interface names and most header fields are usually absent, and each event names them in
 * `netfilter.degraded`. GUI `Time` is relative to the first packet unless the view was switched to absolute
 * time; absolute times have no zone and are read with `utcOffsetMinutes` (default UTC).
 */
import { isIP } from 'node:net';
import {
  canonicalIp,
  InputError,
  splitLines,
  UsageError,
  type DecodedBatch,
  type DecodeOptions,
  type IngestAdapter,
} from '@ruletrail/core';
import type { Icmp, NetfilterEvent, Tcp } from '@ruletrail/event';
import { ipv4Flags, isoFromEpoch, parsePrefix, transportName, type TcpFlag } from '@ruletrail/core';
import { parseCsvRecord } from './csv';

export { parseCsvRecord } from './csv';

const CODE_ROW = 'RT_ERR_CSV_ROW';
/** A record over the 1 MiB cap (a runaway quoted field): its own code, so the cap is counted apart (issue #15). */
const CODE_RECORD_TOO_LONG = 'RT_ERR_CSV_RECORD_TOO_LONG';
const CODE_PREFIX = 'RT_ERR_TRACE_PREFIX';

/** What a column means. */
type Role =
  | 'no'
  | 'time'
  | 'epoch'
  | 'src'
  | 'dst'
  | 'ipSrc'
  | 'ipDst'
  | 'protocol'
  | 'info'
  | 'prefix'
  | 'tcpOptions'
  | 'ipProto'
  | 'sport'
  | 'dport'
  | 'tcpFlags'
  | 'tcpSeq'
  | 'tcpAck'
  | 'tcpWindow'
  | 'ipId'
  | 'ipTtl'
  | 'ipLen'
  | 'ipHlim'
  | 'ipFlow'
  | 'ipFlags'
  | 'ipOptions'
  | 'udpLen'
  | 'icmpType'
  | 'icmpCode'
  | 'icmpId'
  | 'icmpSeq'
  | 'uid'
  | 'gid'
  | 'ifIn'
  | 'ifOut'
  | 'hook'
  | 'group';

/** Header names (lowercase) → role: GUI titles, `_ws.col.*` names, and tshark field names. */
const HEADER_ROLES: Record<string, Role> = {
  'no.': 'no',
  'frame.number': 'no',
  '_ws.col.no.': 'no',
  '_ws.col.number': 'no',
  time: 'time',
  '_ws.col.time': 'time',
  '_ws.col.cls_time': 'time',
  '_ws.col.def_time': 'time',
  'frame.time_epoch': 'epoch',
  source: 'src',
  '_ws.col.source': 'src',
  '_ws.col.def_src': 'src',
  destination: 'dst',
  '_ws.col.destination': 'dst',
  '_ws.col.def_dst': 'dst',
  'ip.src': 'ipSrc',
  'ipv6.src': 'ipSrc',
  'ip.dst': 'ipDst',
  'ipv6.dst': 'ipDst',
  protocol: 'protocol',
  '_ws.col.protocol': 'protocol',
  info: 'info',
  '_ws.col.info': 'info',
  prefix: 'prefix',
  'nflog.prefix': 'prefix',
  '_ws.col.prefix': 'prefix',
  'tcp options': 'tcpOptions',
  options: 'tcpOptions',
  'tcp.options': 'tcpOptions',
  '_ws.col.tcp options': 'tcpOptions',
  'ip.proto': 'ipProto',
  'ipv6.nxt': 'ipProto',
  'tcp.srcport': 'sport',
  'udp.srcport': 'sport',
  'sctp.srcport': 'sport',
  'udplite.srcport': 'sport',
  'tcp.dstport': 'dport',
  'udp.dstport': 'dport',
  'sctp.dstport': 'dport',
  'udplite.dstport': 'dport',
  'tcp.flags': 'tcpFlags',
  'tcp.seq_raw': 'tcpSeq',
  'tcp.ack_raw': 'tcpAck',
  'tcp.window_size_value': 'tcpWindow',
  'ip.id': 'ipId',
  'ip.ttl': 'ipTtl',
  'ip.len': 'ipLen',
  'ipv6.hlim': 'ipHlim',
  'ipv6.flow': 'ipFlow',
  'ip.flags': 'ipFlags',
  'ip.options': 'ipOptions',
  'udp.length': 'udpLen',
  'icmp.type': 'icmpType',
  'icmpv6.type': 'icmpType',
  'icmp.code': 'icmpCode',
  'icmpv6.code': 'icmpCode',
  'icmp.ident': 'icmpId',
  'icmpv6.echo.identifier': 'icmpId',
  'icmp.seq': 'icmpSeq',
  'icmpv6.echo.sequence_number': 'icmpSeq',
  'nflog.uid': 'uid',
  'nflog.gid': 'gid',
  'nflog.ifindex_indev': 'ifIn',
  'nflog.ifindex_outdev': 'ifOut',
  'nflog.hook': 'hook',
  'nflog.res_id': 'group',
};

/** Column index per role; with several columns of one role (ip.src and ipv6.src) the first non-empty wins. */
type Columns = Partial<Record<Role, number[]>>;

function mapHeader(header: string[]): Columns {
  const cols: Columns = {};
  header.forEach((h, i) => {
    const role = HEADER_ROLES[h.trim().toLowerCase()];
    if (role) (cols[role] ??= []).push(i);
  });
  return cols;
}

function missingRequired(cols: Columns): string[] {
  const missing: string[] = [];
  if (!cols.prefix) missing.push('Prefix (nflog.prefix)');
  if (!cols.src && !cols.ipSrc) missing.push('Source (ip.src / ipv6.src)');
  if (!cols.dst && !cols.ipDst) missing.push('Destination (ip.dst / ipv6.dst)');
  return missing;
}

/** Numbers as tshark prints them: decimal, or `0x…` hex. */
function num(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = /^0x[0-9a-f]+$/i.test(v) ? parseInt(v, 16) : /^\d+$/.test(v) ? Number(v) : NaN;
  return Number.isSafeInteger(n) ? n : undefined;
}

const TCP_FLAG_BITS: Array<[number, TcpFlag]> = [
  [0x100, 'AE'],
  [0x80, 'CWR'],
  [0x40, 'ECE'],
  [0x20, 'URG'],
  [0x10, 'ACK'],
  [0x08, 'PSH'],
  [0x04, 'RST'],
  [0x02, 'SYN'],
  [0x01, 'FIN'],
];
const KERNEL_FLAG_ORDER: TcpFlag[] = ['AE', 'CWR', 'ECE', 'URG', 'ACK', 'PSH', 'RST', 'SYN', 'FIN'];
/** Wireshark's Info names (older releases say NS for what RFC 9768 calls AE). */
const INFO_FLAG: Record<string, TcpFlag> = {
  NS: 'AE',
  AE: 'AE',
  CWR: 'CWR',
  ECE: 'ECE',
  ECN: 'ECE',
  URG: 'URG',
  ACK: 'ACK',
  PSH: 'PSH',
  RST: 'RST',
  SYN: 'SYN',
  FIN: 'FIN',
};

/** `55272 → 52000 [SYN, ACK] …` (the arrow is `→` or `>` in old releases). */
const INFO_PORTS = /(\d{1,5}) (?:→|->|>) (\d{1,5})(?: \[([A-Z, ]+)\])?/;
const INFO_UDP_LEN = /\bLen=(\d+)/;
const INFO_ECHO = /Echo \(ping\) (request|reply)\s+id=(0x[0-9a-f]+|\d+), seq=(\d+)/i;

const GUI_PROTOCOLS: Record<string, number> = {
  TCP: 6,
  UDP: 17,
  UDPLITE: 136,
  SCTP: 132,
  ICMP: 1,
  ICMPV6: 58,
  ESP: 50,
  AH: 51,
};

const ABS_TIME = /^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(\.\d+)?$/;

interface CsvState {
  header: string[] | null;
  cols: Columns;
  /** Fields every row of this file lacks, from its header alone. */
  fileDegraded: string[];
  v4Degraded: string[];
  v6Degraded: string[];
  pending: string | null;
  pendingLine: number;
}

function get(row: string[], cols: Columns, role: Role): string | undefined {
  const idx = cols[role];
  if (!idx) return undefined;
  for (const i of idx) {
    const v = row[i];
    if (v !== undefined && v !== '') return v;
  }
  return undefined;
}

function fileDegraded(cols: Columns): string[] {
  const d = ['mark', 'observer.ingress.interface.name', 'observer.egress.interface.name'];
  if (!cols.time && !cols.epoch) d.push('@timestamp');
  if (!cols.uid) d.push('user.id');
  return d;
}

/** IP header fields of the row's family that the file has no column for. */
function familyDegraded(cols: Columns, v6: boolean): string[] {
  const d: string[] = [];
  if (!cols.ipLen) d.push('ip.len');
  if (v6) {
    d.push('ip.tc');
    if (!cols.ipHlim) d.push('ip.hoplimit');
    if (!cols.ipFlow) d.push('ip.flowlabel');
  } else {
    d.push('ip.tos', 'ip.prec');
    if (!cols.ipTtl) d.push('ip.ttl');
    if (!cols.ipId) d.push('ip.id');
    if (!cols.ipFlags) d.push('ip.flags');
  }
  if (!cols.ipOptions) d.push('ip.options');
  return d;
}

function rowToEvent(
  row: string[],
  lineNo: number,
  rowText: string,
  st: CsvState,
  options: DecodeOptions,
): NetfilterEvent | InputError | null {
  const cols = st.cols;
  const pos = { file: options.file, line: lineNo };
  const prefix = get(row, cols, 'prefix');
  // Rows without a prefix are packets from other interfaces, or NFLOG records without --nflog-prefix.
  if (prefix === undefined || prefix.trim() === '') return null;
  const info = parsePrefix(prefix);
  if (info.kind === 'bad-trace') return new InputError(CODE_PREFIX, pos, info.reason, rowText);
  const degraded = [...st.fileDegraded];
  const netfilter: NonNullable<NetfilterEvent['netfilter']> = { prefix };
  if (info.kind === 'trace') netfilter.trace = info.trace;
  const ev: NetfilterEvent = {
    ruletrail: { schema: '1', channel: 'wireshark-csv', origin: { file: options.file, line: lineNo } },
    event: { kind: 'event', dataset: info.kind === 'trace' ? 'netfilter.trace' : 'netfilter.log' },
    network: { type: 'unknown' },
    netfilter,
  };
  if (options.host !== undefined) ev.host = { name: options.host };
  if (options.keepOriginal) ev.event.original = rowText;

  // time
  const epoch = get(row, cols, 'epoch');
  const time = get(row, cols, 'time');
  let ts: string | undefined;
  const epochM = epoch !== undefined ? /^(\d+)(?:\.(\d{1,9}))?$/.exec(epoch) : null;
  if (epochM) {
    const frac = (epochM[2] ?? '').padEnd(9, '0');
    ts = isoFromEpoch(Number(epochM[1]), Number(frac), 9);
  } else if (time !== undefined) {
    const m = ABS_TIME.exec(time);
    if (m) {
      const off = options.utcOffsetMinutes ?? 0;
      const a = Math.abs(off);
      ts = `${m[1]}T${m[2]}${m[3] ?? ''}${off < 0 ? '-' : '+'}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
    } else if (/^\d{9,}\.\d+$/.test(time)) {
      const [s, f] = time.split('.');
      ts = isoFromEpoch(Number(s), Number(f!.slice(0, 9).padEnd(9, '0')), 9);
    } else if (!degraded.includes('@timestamp')) degraded.push('@timestamp'); // relative or time-of-day only
  }
  if (ts !== undefined) ev['@timestamp'] = ts;

  // addresses
  const srcRaw = get(row, cols, 'ipSrc') ?? get(row, cols, 'src');
  const dstRaw = get(row, cols, 'ipDst') ?? get(row, cols, 'dst');
  const src = srcRaw !== undefined && isIP(srcRaw) ? canonicalIp(srcRaw) : undefined;
  const dst = dstRaw !== undefined && isIP(dstRaw) ? canonicalIp(dstRaw) : undefined;
  if (src === undefined && dst === undefined)
    return new InputError(
      CODE_ROW,
      pos,
      `row has no IP source/destination (${JSON.stringify(srcRaw ?? '')} → ${JSON.stringify(dstRaw ?? '')}); turn name resolution off before exporting`,
      rowText,
    );
  if (src !== undefined) ev.source = { ip: src };
  if (dst !== undefined) ev.destination = { ip: dst };
  ev.network.type = (src ?? dst)!.includes(':') ? 'ipv6' : 'ipv4';
  degraded.push(...(ev.network.type === 'ipv6' ? st.v6Degraded : st.v4Degraded));

  // transport
  const protoCol = get(row, cols, 'protocol');
  let proto = num(get(row, cols, 'ipProto'));
  if (proto === undefined && protoCol !== undefined) proto = GUI_PROTOCOLS[protoCol.toUpperCase()];
  const infoText = get(row, cols, 'info') ?? '';
  const portsM = INFO_PORTS.exec(infoText);
  if (proto === undefined) proto = protoFromColumns(row, st);
  if (proto === undefined && portsM && cols.ipProto === undefined) {
    // an application protocol (DNS, HTTP …) over TCP or UDP: the Info shows `[FLAGS]` only for TCP
    proto = portsM[3] !== undefined ? 6 : undefined;
  }
  if (proto !== undefined) {
    ev.network.transport = transportName(proto);
    ev.network.iana_number = String(proto);
  } else degraded.push('network.transport');

  let sport = num(get(row, cols, 'sport'));
  let dport = num(get(row, cols, 'dport'));
  if (
    sport === undefined &&
    dport === undefined &&
    portsM &&
    (proto === 6 || proto === 17 || proto === 136 || proto === 132)
  ) {
    sport = Number(portsM[1]);
    dport = Number(portsM[2]);
  }
  if (sport !== undefined && sport <= 65535) (ev.source ??= {}).port = sport;
  if (dport !== undefined && dport <= 65535) (ev.destination ??= {}).port = dport;

  // IP header fields that tshark columns may carry
  const ip: NonNullable<typeof netfilter.ip> = {};
  const ipLen = num(get(row, cols, 'ipLen'));
  const ttl = num(get(row, cols, 'ipTtl'));
  const hlim = num(get(row, cols, 'ipHlim'));
  const ipId = num(get(row, cols, 'ipId'));
  const flow = num(get(row, cols, 'ipFlow'));
  const ipFlags = num(get(row, cols, 'ipFlags'));
  if (ipLen !== undefined) ip.len = ipLen;
  if (ev.network.type === 'ipv4' && ttl !== undefined) ip.ttl = ttl;
  if (hlim !== undefined) ip.hoplimit = hlim;
  if (ipId !== undefined) ip.id = ipId;
  if (flow !== undefined) ip.flowlabel = flow;
  if (ipFlags !== undefined) {
    // tshark's ip.flags is the 3-bit field shifted down (0x02 = DF) in 3.x+, or the raw 0x4000 form in old releases
    ip.flags = ipv4Flags(ipFlags > 0x7 ? ipFlags : ipFlags << 13);
  }
  const ipOpts = get(row, cols, 'ipOptions');
  if (ipOpts !== undefined) ip.options = normaliseHex(ipOpts);
  if (Object.keys(ip).length) netfilter.ip = ip;

  if (proto === 6) {
    const t: Tcp = {};
    const seq = num(get(row, cols, 'tcpSeq'));
    const ack = num(get(row, cols, 'tcpAck'));
    const win = num(get(row, cols, 'tcpWindow'));
    if (seq !== undefined) t.seq = seq;
    else degraded.push('tcp.seq');
    if (ack !== undefined) t.ack = ack;
    else degraded.push('tcp.ack');
    if (win !== undefined) t.window = win;
    else degraded.push('tcp.window');
    degraded.push('tcp.res', 'tcp.urgp');
    const flagWord = num(get(row, cols, 'tcpFlags'));
    if (flagWord !== undefined) t.flags = TCP_FLAG_BITS.filter(([bit]) => flagWord & bit).map(([, f]) => f);
    else if (portsM?.[3] !== undefined) {
      const set = new Set(portsM[3].split(',').map((w) => INFO_FLAG[w.trim()]));
      t.flags = KERNEL_FLAG_ORDER.filter((f) => set.has(f));
    } else degraded.push('tcp.flags');
    if (cols.tcpOptions) {
      const o = get(row, cols, 'tcpOptions');
      if (o !== undefined) t.options = normaliseHex(o);
    } else degraded.push('tcp.options');
    netfilter.tcp = t;
  } else if (proto === 17 || proto === 136) {
    const udpLen = num(get(row, cols, 'udpLen'));
    const infoLen = INFO_UDP_LEN.exec(infoText);
    if (udpLen !== undefined) netfilter.udp = { length: udpLen };
    else if (infoLen && portsM) netfilter.udp = { length: Number(infoLen[1]) + 8 };
    else degraded.push('udp.length');
  } else if (proto === 1 || proto === 58) {
    const ic: Icmp = {};
    const type = num(get(row, cols, 'icmpType'));
    const code = num(get(row, cols, 'icmpCode'));
    const id = num(get(row, cols, 'icmpId'));
    const seq = num(get(row, cols, 'icmpSeq'));
    const echo = INFO_ECHO.exec(infoText);
    if (type !== undefined) ic.type = type;
    else if (echo)
      ic.type = proto === 1 ? (echo[1] === 'request' ? 8 : 0) : echo[1] === 'request' ? 128 : 129;
    if (code !== undefined) ic.code = code;
    else if (echo) ic.code = 0;
    if (id !== undefined) ic.id = id;
    else if (echo) ic.id = num(echo[2])!;
    if (seq !== undefined) ic.seq = seq;
    else if (echo) ic.seq = Number(echo[3]);
    if (Object.keys(ic).length) netfilter.icmp = ic;
    if (ic.type === undefined) degraded.push('icmp.type', 'icmp.code');
    degraded.push('inner');
  }

  // NFLOG fields tshark can export
  const uid = num(get(row, cols, 'uid'));
  const gid = num(get(row, cols, 'gid'));
  if (uid !== undefined) ev.user = { id: String(uid) };
  if (gid !== undefined) ev.group = { id: String(gid) };
  const ifIn = num(get(row, cols, 'ifIn'));
  const ifOut = num(get(row, cols, 'ifOut'));
  if (ifIn !== undefined || ifOut !== undefined) {
    netfilter.ifindex = {};
    if (ifIn !== undefined) netfilter.ifindex.in = ifIn;
    if (ifOut !== undefined) netfilter.ifindex.out = ifOut;
  }
  const hook = num(get(row, cols, 'hook'));
  if (hook !== undefined) netfilter.hook = hook;
  const group = num(get(row, cols, 'group'));
  if (group !== undefined) netfilter.group = group;
  netfilter.degraded = degraded;
  return ev;
}

/** The protocol implied by which tshark field columns have a value (`tcp.srcport`, `icmpv6.type`, …). */
function protoFromColumns(row: string[], st: CsvState): number | undefined {
  const header = st.header!;
  for (const role of ['sport', 'dport', 'icmpType'] as const) {
    for (const i of st.cols[role] ?? []) {
      if ((row[i] ?? '') === '') continue;
      const name = header[i]!.trim().toLowerCase();
      const proto = name.slice(0, name.indexOf('.'));
      const n = { tcp: 6, udp: 17, udplite: 136, sctp: 132, icmp: 1, icmpv6: 58 }[proto];
      if (n !== undefined) return n;
    }
  }
  return undefined;
}

/** `02:04:05:b4`, `020405b4`, `02 04` → `020405B4` (the kernel's `OPT (…)` form). */
function normaliseHex(v: string): string {
  return v.replace(/[^0-9a-f]/gi, '').toUpperCase();
}

function handleRecord(
  text: string,
  lineNo: number,
  st: CsvState,
  options: DecodeOptions,
  out: { events: NetfilterEvent[]; errors: InputError[]; skipped: number },
): void {
  const row = parseCsvRecord(st.header === null ? text.replace(/^\uFEFF/, '') : text)!;
  if (st.header === null) {
    const h = row;
    const cols = mapHeader(h);
    const missing = missingRequired(cols);
    if (missing.length)
      throw new UsageError(
        `${options.file}: Wireshark CSV lacks required column(s): ${missing.join(', ')}; found: ${h.map((x) => JSON.stringify(x)).join(', ')}. ` +
          'Add the NFLOG prefix with "Apply as Column" (or tshark -e nflog.prefix) and keep Source/Destination.',
      );
    st.header = h;
    st.cols = cols;
    st.fileDegraded = fileDegraded(cols);
    st.v4Degraded = familyDegraded(cols, false);
    st.v6Degraded = familyDegraded(cols, true);
    return;
  }
  if (row.length !== st.header.length) {
    out.errors.push(
      new InputError(
        CODE_ROW,
        { file: options.file, line: lineNo },
        `row has ${row.length} fields, the header has ${st.header.length}`,
        text,
      ),
    );
    return;
  }
  const r = rowToEvent(row, lineNo, text, st, options);
  if (r === null) out.skipped++;
  else if (r instanceof InputError) out.errors.push(r);
  else out.events.push(r);
}

/** Whether `head` is a CSV whose header names a prefix column and Source/ip.src. */
export function sniffWiresharkCsv(head: Buffer): boolean {
  const first = head
    .toString('utf8')
    .split('\n', 1)[0]!
    .replace(/\r$/, '')
    .replace(/^\uFEFF/, '');
  if (!first.includes(',')) return false;
  const fields = parseCsvRecord(first);
  if (!fields) return false;
  const cols = mapHeader(fields);
  return (
    missingRequired(cols).length === 0 ||
    (cols.no !== undefined && cols.info !== undefined && cols.protocol !== undefined)
  );
}

/** The Wireshark CSV adapter. */
export const wiresharkCsvAdapter: IngestAdapter = {
  channel: 'wireshark-csv',
  summary: 'Wireshark/tshark CSV exports of an NFLOG capture with the NFLOG prefix as a column.',
  sniff(head: Buffer): boolean {
    return sniffWiresharkCsv(head);
  },
  async *decode(chunks: AsyncIterable<Buffer>, options: DecodeOptions): AsyncIterable<DecodedBatch> {
    const st: CsvState = {
      header: null,
      cols: {},
      fileDegraded: [],
      v4Degraded: [],
      v6Degraded: [],
      pending: null,
      pendingLine: 0,
    };
    for await (const { lines, firstLine } of splitLines(chunks)) {
      const out = { events: [] as NetfilterEvent[], errors: [] as InputError[], skipped: 0 };
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i]!;
        const lineNo = firstLine + i;
        const text = st.pending !== null ? `${st.pending}\n${line}` : line;
        const start = st.pending !== null ? st.pendingLine : lineNo;
        if (parseCsvRecord(text) === null) {
          // a quoted field continues on the next line; a runaway quote is cut off by the size cap
          if (text.length > 1 << 20) {
            out.errors.push(
              new InputError(
                CODE_RECORD_TOO_LONG,
                { file: options.file, line: start },
                'unterminated quoted field (over 1 MiB)',
                text.slice(0, 256),
              ),
            );
            st.pending = null;
          } else {
            st.pending = text;
            st.pendingLine = start;
          }
          continue;
        }
        st.pending = null;
        if (text.length === 0) continue;
        handleRecord(text, start, st, options, out);
      }
      if (out.events.length || out.errors.length || out.skipped) yield out;
    }
    if (st.pending !== null)
      yield {
        events: [],
        errors: [
          new InputError(
            CODE_ROW,
            { file: options.file, line: st.pendingLine },
            'file ends inside a quoted field',
            st.pending.slice(0, 256),
          ),
        ],
        skipped: 0,
      };
  },
};
export default wiresharkCsvAdapter;
