// Minimal, independent readers for the four capture formats: just enough to check that a capture holds TRACE
// records for each probe. They are deliberately not ruletrail's adapters (those are what the lab tests).
import * as fs from 'node:fs';
import type { ChannelName } from './types';

export interface LightRecord {
  readonly prefix: string;
  readonly src: string;
  readonly dst: string;
  readonly proto: string;
  readonly sport?: number;
  readonly dport?: number;
}

/** Expands any IPv6 address to 8 zero-padded groups, lowercase; IPv4 passes through. */
export function canonIp(addr: string): string {
  if (!addr.includes(':')) return addr;
  const [head = '', tail = ''] = addr.toLowerCase().split('::');
  const h = head ? head.split(':') : [];
  const t = addr.includes('::') ? (tail ? tail.split(':') : []) : [];
  const fill = addr.includes('::') ? Array(8 - h.length - t.length).fill('0') : [];
  return [...h, ...fill, ...t].map((g) => g.padStart(4, '0')).join(':');
}

function kv(line: string, key: string): string | undefined {
  const m = new RegExp(`(?:^|\\s)${key}=(\\S*)`).exec(line);
  return m?.[1];
}

function num(s: string | undefined): number | undefined {
  return s === undefined || s === '' ? undefined : Number(s);
}

export function readKernelLog(file: string): LightRecord[] {
  const out: LightRecord[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const p = /TRACE: (\S+)/.exec(line);
    if (!p) continue;
    // The outer packet only: cut an ICMP error's inner [ ... ] dump.
    const outer = line.replace(/\[.*\]/, '');
    out.push({
      prefix: p[1] ?? '',
      src: canonIp(kv(outer, 'SRC') ?? ''),
      dst: canonIp(kv(outer, 'DST') ?? ''),
      proto: (kv(outer, 'PROTO') ?? '').toLowerCase().replace('icmpv6', 'icmp'),
      ...(num(kv(outer, 'SPT')) !== undefined ? { sport: num(kv(outer, 'SPT')) } : {}),
      ...(num(kv(outer, 'DPT')) !== undefined ? { dport: num(kv(outer, 'DPT')) } : {}),
    });
  }
  return out;
}

export function readXtablesMonitor(file: string): LightRecord[] {
  const out: LightRecord[] = [];
  const packets = new Map<string, Omit<LightRecord, 'prefix'>>();
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const pk = /^PACKET: (\d+) ([0-9a-f]+) (.*)$/.exec(line);
    if (pk) {
      const rest = pk[3] ?? '';
      const proto = / SPORT=/.test(rest) ? (/ (SYN|ACK|FIN|RST)/.test(rest) ? 'tcp' : 'udp') : 'icmp';
      packets.set(pk[2] ?? '', {
        src: canonIp(kv(rest, 'SRC') ?? ''),
        dst: canonIp(kv(rest, 'DST') ?? ''),
        proto,
        ...(num(kv(rest, 'SPORT')) !== undefined ? { sport: num(kv(rest, 'SPORT')) } : {}),
        ...(num(kv(rest, 'DPORT')) !== undefined ? { dport: num(kv(rest, 'DPORT')) } : {}),
      });
      continue;
    }
    const tr = /^ TRACE: (\d+) ([0-9a-f]+) (\S+)/.exec(line);
    if (tr) {
      const pkt = packets.get(tr[2] ?? '');
      out.push({ prefix: tr[3] ?? '', ...(pkt ?? { src: '', dst: '', proto: '' }) });
    }
  }
  return out;
}

export function readUlogdJson(file: string): LightRecord[] {
  const out: LightRecord[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    const prefix = typeof o['oob.prefix'] === 'string' ? o['oob.prefix'] : '';
    if (!prefix.startsWith('TRACE:')) continue;
    const protoNum = Number(o['ip.protocol']);
    out.push({
      prefix: prefix.slice('TRACE: '.length).trim(),
      src: canonIp(String(o['src_ip'] ?? '')),
      dst: canonIp(String(o['dest_ip'] ?? '')),
      proto:
        protoNum === 6
          ? 'tcp'
          : protoNum === 17
            ? 'udp'
            : protoNum === 1 || protoNum === 58
              ? 'icmp'
              : String(protoNum),
      ...(typeof o['src_port'] === 'number' ? { sport: o['src_port'] } : {}),
      ...(typeof o['dest_port'] === 'number' ? { dport: o['dest_port'] } : {}),
    });
  }
  return out;
}

function ipStr(b: Buffer, off: number, len: 4 | 16): string {
  if (len === 4) return [...b.subarray(off, off + 4)].join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2)
    groups.push(
      b
        .readUInt16BE(off + i)
        .toString(16)
        .padStart(4, '0'),
    );
  return groups.join(':');
}

function l3(payload: Buffer): Omit<LightRecord, 'prefix'> {
  const v = payload[0] === undefined ? 0 : payload[0] >> 4;
  let proto = 0;
  let l4 = 0;
  let src = '';
  let dst = '';
  if (v === 4) {
    proto = payload[9] ?? 0;
    l4 = ((payload[0] ?? 0) & 0xf) * 4;
    src = ipStr(payload, 12, 4);
    dst = ipStr(payload, 16, 4);
  } else if (v === 6) {
    proto = payload[6] ?? 0;
    l4 = 40;
    src = ipStr(payload, 8, 16);
    dst = ipStr(payload, 24, 16);
  }
  const name =
    proto === 6 ? 'tcp' : proto === 17 ? 'udp' : proto === 1 || proto === 58 ? 'icmp' : String(proto);
  const ports =
    (proto === 6 || proto === 17) && payload.length >= l4 + 4
      ? { sport: payload.readUInt16BE(l4), dport: payload.readUInt16BE(l4 + 2) }
      : {};
  return { src, dst, proto: name, ...ports };
}

/** LINKTYPE_NFLOG pcap: TLV 10 is the prefix, TLV 9 the packet. TLV length/type are in the file's byte order. */
export function readNflogPcap(file: string): LightRecord[] {
  const b = fs.readFileSync(file);
  if (b.length < 24) return [];
  const magic = b.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const u16 = (o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const out: LightRecord[] = [];
  let off = 24;
  while (off + 16 <= b.length) {
    const incl = u32(off + 8);
    const rec = off + 16;
    const end = rec + incl;
    off = end;
    if (end > b.length) break;
    let t = rec + 4;
    let prefix = '';
    let payload: Buffer | undefined;
    while (t + 4 <= end) {
      const len = u16(t);
      const type = u16(t + 2) & 0x7fff;
      if (len < 4) break;
      const val = b.subarray(t + 4, Math.min(t + len, end));
      if (type === 10) prefix = val.toString('latin1').replace(/\0.*$/s, '');
      if (type === 9) payload = val;
      t += (len + 3) & ~3;
    }
    if (!prefix.startsWith('TRACE:') || !payload) continue;
    out.push({ prefix: prefix.slice('TRACE: '.length).trim(), ...l3(payload) });
  }
  return out;
}

/** `nft monitor trace`: `trace id <id> <family> <table> <chain> packet: …` then rule/policy/verdict lines. */
export function readNftMonitor(file: string): LightRecord[] {
  const out: LightRecord[] = [];
  const packets = new Map<string, Omit<LightRecord, 'prefix'>>();
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = /^trace id ([0-9a-f]+) (\S+) (\S+) (\S+) (.*)$/.exec(line);
    if (!m) continue;
    const [, id = '', , table = '', chain = '', rest = ''] = m;
    if (rest.startsWith('packet: ')) {
      const word = (re: RegExp) => re.exec(rest)?.[1];
      const l4 = word(/ (tcp|udp) sport /) ?? (/ icmp(?:v6)? type /.test(rest) ? 'icmp' : '');
      const sport = word(/ (?:tcp|udp) sport (\d+)/);
      const dport = word(/ (?:tcp|udp) dport (\d+)/);
      packets.set(id, {
        src: canonIp(word(/ ip6? saddr (\S+)/) ?? ''),
        dst: canonIp(word(/ ip6? daddr (\S+)/) ?? ''),
        proto: l4,
        ...(sport ? { sport: Number(sport) } : {}),
        ...(dport ? { dport: Number(dport) } : {}),
      });
      continue;
    }
    const pkt = packets.get(id);
    out.push({
      prefix: `${table}:${chain}:${rest.split(' ')[0] ?? ''}`,
      ...(pkt ?? { src: '', dst: '', proto: '' }),
    });
  }
  return out;
}

export function readRecords(channel: ChannelName, file: string): LightRecord[] {
  switch (channel) {
    case 'kernel-log':
      return readKernelLog(file);
    case 'nflog-pcap':
      return readNflogPcap(file);
    case 'ulogd-json':
      return readUlogdJson(file);
    case 'xtables-monitor':
      return readXtablesMonitor(file);
    case 'nft-monitor':
      return readNftMonitor(file);
  }
}
