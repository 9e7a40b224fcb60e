/**
 * Builds synthetic NFLOG captures byte by byte, for the variants a real capture on this host cannot produce
 * (big-endian writers, ns magic, several pcapng interfaces, unknown blocks) and for corrupt inputs.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import type { DecodeOptions, IngestAdapter, InputError } from '@ruletrail/core';
import { validateEvent, type NetfilterEvent } from '@ruletrail/event';

export type Endian = 'le' | 'be';

function u16(v: number, e: Endian): Buffer {
  const b = Buffer.alloc(2);
  if (e === 'le') b.writeUInt16LE(v);
  else b.writeUInt16BE(v);
  return b;
}
function u32(v: number, e: Endian): Buffer {
  const b = Buffer.alloc(4);
  if (e === 'le') b.writeUInt32LE(v >>> 0);
  else b.writeUInt32BE(v >>> 0);
  return b;
}
export function be16(v: number): Buffer {
  return u16(v, 'be');
}
export function be32(v: number): Buffer {
  return u32(v, 'be');
}
export function be64(v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(v));
  return b;
}
export function hex(s: string): Buffer {
  return Buffer.from(s.replace(/[^0-9a-f]/gi, ''), 'hex');
}

/** One TLV: length/type in the writer's order, value as given, padded to 4. `len` overrides the length field. */
export function tlv(type: number, value: Buffer, e: Endian, len?: number): Buffer {
  const l = len ?? value.length + 4;
  const pad = (4 - ((value.length + 4) % 4)) % 4;
  return Buffer.concat([u16(l, e), u16(type, e), value, Buffer.alloc(pad)]);
}

export interface NflogSpec {
  family?: number;
  group?: number;
  hwProtocol?: number;
  hook?: number;
  prefix?: string;
  mark?: number;
  time?: [number, number];
  ifIn?: number;
  ifOut?: number;
  physIn?: number;
  physOut?: number;
  uid?: number;
  gid?: number;
  seq?: number;
  seqGlobal?: number;
  hwAddr?: Buffer;
  hwType?: number;
  hwHeader?: Buffer;
  payload?: Buffer;
  extra?: Buffer[];
}

/** An NFLOG record (header + TLVs) in the order the kernel writes them. */
export function nflogRecord(s: NflogSpec, e: Endian): Buffer {
  const parts: Buffer[] = [Buffer.from([s.family ?? 2, 0]), be16(s.group ?? 0)];
  parts.push(
    tlv(
      1,
      Buffer.concat([
        be16(s.hwProtocol ?? (s.family === 10 ? 0x86dd : 0x0800)),
        Buffer.from([s.hook ?? 0, 0]),
      ]),
      e,
    ),
  );
  if (s.prefix !== undefined)
    parts.push(tlv(10, Buffer.concat([Buffer.from(s.prefix), Buffer.from([0])]), e));
  if (s.ifIn !== undefined) parts.push(tlv(4, be32(s.ifIn), e));
  if (s.ifOut !== undefined) parts.push(tlv(5, be32(s.ifOut), e));
  if (s.physIn !== undefined) parts.push(tlv(6, be32(s.physIn), e));
  if (s.physOut !== undefined) parts.push(tlv(7, be32(s.physOut), e));
  if (s.mark !== undefined) parts.push(tlv(2, be32(s.mark), e));
  if (s.hwAddr !== undefined) {
    const addr = Buffer.alloc(8);
    s.hwAddr.copy(addr);
    parts.push(tlv(8, Buffer.concat([be16(s.hwAddr.length), Buffer.alloc(2), addr]), e));
  }
  if (s.hwType !== undefined) parts.push(tlv(15, be16(s.hwType), e));
  if (s.hwHeader !== undefined) {
    parts.push(tlv(16, s.hwHeader, e));
    parts.push(tlv(17, be16(s.hwHeader.length), e));
  }
  if (s.time !== undefined) parts.push(tlv(3, Buffer.concat([be64(s.time[0]), be64(s.time[1])]), e));
  if (s.uid !== undefined) parts.push(tlv(11, be32(s.uid), e));
  if (s.gid !== undefined) parts.push(tlv(14, be32(s.gid), e));
  if (s.seq !== undefined) parts.push(tlv(12, be32(s.seq), e));
  if (s.seqGlobal !== undefined) parts.push(tlv(13, be32(s.seqGlobal), e));
  for (const x of s.extra ?? []) parts.push(x);
  if (s.payload !== undefined) parts.push(tlv(9, s.payload, e));
  return Buffer.concat(parts);
}

export interface PcapRecord {
  data: Buffer;
  sec?: number;
  frac?: number;
  origLen?: number;
  inclLen?: number;
}

/** A pcap file (µs or ns magic) in the given byte order. */
export function pcapFile(
  records: PcapRecord[],
  e: Endian,
  opts: { ns?: boolean; linkType?: number; snapLen?: number } = {},
): Buffer {
  const parts: Buffer[] = [
    u32(opts.ns ? 0xa1b23c4d : 0xa1b2c3d4, e),
    u16(2, e),
    u16(4, e),
    u32(0, e),
    u32(0, e),
    u32(opts.snapLen ?? 262144, e),
    u32(opts.linkType ?? 239, e),
  ];
  for (const r of records) {
    parts.push(
      u32(r.sec ?? 1700000000, e),
      u32(r.frac ?? 0, e),
      u32(r.inclLen ?? r.data.length, e),
      u32(r.origLen ?? r.data.length, e),
      r.data,
    );
  }
  return Buffer.concat(parts);
}

function block(type: number, body: Buffer, e: Endian): Buffer {
  const pad = (4 - (body.length % 4)) % 4;
  const len = 12 + body.length + pad;
  return Buffer.concat([u32(type, e), u32(len, e), body, Buffer.alloc(pad), u32(len, e)]);
}

export function pcapngShb(e: Endian): Buffer {
  const sectionLen = Buffer.alloc(8, 0xff);
  return block(0x0a0d0d0a, Buffer.concat([u32(0x1a2b3c4d, e), u16(1, e), u16(0, e), sectionLen]), e);
}

/** IDB; `tsresol` is the raw if_tsresol byte (6 = µs, 9 = ns, 0x80|n = 2^-n). */
export function pcapngIdb(linkType: number, e: Endian, tsresol?: number, tsoffset?: number): Buffer {
  const opts: Buffer[] = [];
  if (tsresol !== undefined) opts.push(u16(9, e), u16(1, e), Buffer.from([tsresol, 0, 0, 0]));
  if (tsoffset !== undefined) {
    const v = Buffer.alloc(8);
    if (e === 'le') v.writeBigInt64LE(BigInt(tsoffset));
    else v.writeBigInt64BE(BigInt(tsoffset));
    opts.push(u16(14, e), u16(8, e), v);
  }
  if (opts.length) opts.push(u16(0, e), u16(0, e));
  return block(1, Buffer.concat([u16(linkType, e), u16(0, e), u32(262144, e), ...opts]), e);
}

/** EPB with a 64-bit timestamp in interface units. */
export function pcapngEpb(ifId: number, ts: bigint, data: Buffer, e: Endian, origLen?: number): Buffer {
  const pad = (4 - (data.length % 4)) % 4;
  return block(
    6,
    Buffer.concat([
      u32(ifId, e),
      u32(Number(ts >> 32n), e),
      u32(Number(ts & 0xffffffffn), e),
      u32(data.length, e),
      u32(origLen ?? data.length, e),
      data,
      Buffer.alloc(pad),
    ]),
    e,
  );
}

export function pcapngSpb(data: Buffer, e: Endian): Buffer {
  return block(3, Buffer.concat([u32(data.length, e), data]), e);
}

export function pcapngBlock(type: number, body: Buffer, e: Endian): Buffer {
  return block(type, body, e);
}

// ---- packets ---------------------------------------------------------------------------------------------

function csum(b: Buffer): number {
  let s = 0;
  for (let i = 0; i + 1 < b.length; i += 2) s += b.readUInt16BE(i);
  if (b.length % 2) s += b[b.length - 1]! << 8;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return ~s & 0xffff;
}

export interface Ipv4Spec {
  src?: string;
  dst?: string;
  proto: number;
  tos?: number;
  ttl?: number;
  id?: number;
  fragOff?: number;
  options?: Buffer;
  totLen?: number;
  payload: Buffer;
}

export function ipv4(s: Ipv4Spec): Buffer {
  const opts = s.options ?? Buffer.alloc(0);
  const ihl = 5 + opts.length / 4;
  const h = Buffer.alloc(20);
  h[0] = 0x40 | ihl;
  h[1] = s.tos ?? 0;
  h.writeUInt16BE(s.totLen ?? ihl * 4 + s.payload.length, 2);
  h.writeUInt16BE(s.id ?? 0x1234, 4);
  h.writeUInt16BE(s.fragOff ?? 0x4000, 6);
  h[8] = s.ttl ?? 64;
  h[9] = s.proto;
  Buffer.from((s.src ?? '10.0.0.1').split('.').map(Number)).copy(h, 12);
  Buffer.from((s.dst ?? '10.0.0.2').split('.').map(Number)).copy(h, 16);
  const hdr = Buffer.concat([h, opts]);
  hdr.writeUInt16BE(csum(hdr), 10);
  return Buffer.concat([hdr, s.payload]);
}

function v6bytes(a: string): Buffer {
  const [head, tail] = a.includes('::') ? a.split('::') : [a, undefined];
  const hs = head ? head.split(':') : [];
  const ts = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups =
    tail === undefined ? hs : [...hs, ...new Array<string>(8 - hs.length - ts.length).fill('0'), ...ts];
  return Buffer.concat(groups.map((g) => be16(parseInt(g, 16))));
}

export interface Ipv6Spec {
  src?: string;
  dst?: string;
  next: number;
  tc?: number;
  flow?: number;
  hop?: number;
  payload: Buffer;
  plen?: number;
}

export function ipv6(s: Ipv6Spec): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt32BE(((6 << 28) | ((s.tc ?? 0) << 20) | (s.flow ?? 0)) >>> 0, 0);
  h.writeUInt16BE(s.plen ?? s.payload.length, 4);
  h[6] = s.next;
  h[7] = s.hop ?? 64;
  return Buffer.concat([h, v6bytes(s.src ?? 'fd00::1'), v6bytes(s.dst ?? 'fd00::2'), s.payload]);
}

export interface TcpSpec {
  sport: number;
  dport: number;
  seq?: number;
  ack?: number;
  flags: number;
  /** low nibble of byte 12: reserved bits and AE */
  res?: number;
  window?: number;
  urgp?: number;
  options?: Buffer;
  data?: Buffer;
}

export function tcp(s: TcpSpec): Buffer {
  const opts = s.options ?? Buffer.alloc(0);
  const h = Buffer.alloc(20);
  h.writeUInt16BE(s.sport, 0);
  h.writeUInt16BE(s.dport, 2);
  h.writeUInt32BE(s.seq ?? 1000, 4);
  h.writeUInt32BE(s.ack ?? 0, 8);
  h[12] = (((20 + opts.length) / 4) << 4) | (s.res ?? 0);
  h[13] = s.flags;
  h.writeUInt16BE(s.window ?? 29200, 14);
  h.writeUInt16BE(s.urgp ?? 0, 18);
  return Buffer.concat([h, opts, s.data ?? Buffer.alloc(0)]);
}

export function udp(sport: number, dport: number, data: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt16BE(8 + data.length, 4);
  return Buffer.concat([h, data]);
}

export function icmp(type: number, code: number, rest: Buffer, data: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([Buffer.from([type, code, 0, 0]), rest, data]);
}

// ---- running an adapter -----------------------------------------------------------------------------------

export interface Collected {
  events: NetfilterEvent[];
  errors: InputError[];
  skipped: number;
}

/** Runs `adapter.decode` over the given chunks; every event must validate against the schema. */
export async function collect(
  adapter: IngestAdapter,
  chunks: Buffer[],
  options: DecodeOptions,
): Promise<Collected> {
  const out: Collected = { events: [], errors: [], skipped: 0 };
  // Readable.from yields each buffer as one chunk, asynchronously, like a file stream does
  for await (const b of adapter.decode(
    Readable.from(chunks, { objectMode: true }) as AsyncIterable<Buffer>,
    options,
  )) {
    out.events.push(...b.events);
    out.errors.push(...b.errors);
    out.skipped += b.skipped;
  }
  for (const e of out.events) {
    const v = validateEvent(e);
    assert.ok(v.ok, `event fails the schema: ${v.ok ? '' : v.errors.join('; ')}\n${JSON.stringify(e)}`);
  }
  return out;
}

/** Splits a buffer into chunks of `size` bytes (exercises records that straddle chunks). */
export function chunked(b: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += size) out.push(b.subarray(i, i + size));
  return out;
}
