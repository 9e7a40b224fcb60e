/**
 * `simulate`'s packet description, as a person types it:
 *
 *   tcp 10.0.0.2:40000 > 10.0.0.4:52000 in eth0 [out eth1] [syn|ack|fin|rst|psh|urg…] [mark 0x10]
 *       [state new|established|related|invalid|untracked] [len N] [ttl N] [tos N]
 *   udp [fd00::2]:40000 > [fd00::4]:53 in eth0
 *   icmp 10.0.0.2 > 10.0.0.4 [type 8|echo-request] [code N]
 *
 * Anything left out is not known (and every match that reads it evaluates to unknown), except the mark, which
 * starts at 0 on every packet the kernel receives or sends.
 */
import type { CtState } from '../evaluate';
import { parseAddress } from '../evaluate';

/** A packet to simulate: what `PacketView` carries at the first hook, plus the conntrack state if given. */
export interface SimPacket {
  readonly family: 'ipv4' | 'ipv6';
  /** `tcp`, `udp`, `icmp`, `ipv6-icmp`, `sctp`, … (the event model's names). */
  readonly proto: string;
  readonly src: string;
  readonly dst: string;
  readonly sport?: number;
  readonly dport?: number;
  /** Input interface; a packet without one comes from a local process (OUTPUT) when its source is local. */
  readonly in?: string;
  /** Output interface: forces a forward (or names the interface of a locally sent packet). */
  readonly out?: string;
  /** TCP flags (`SYN`, `ACK`, …); undefined when none were given. */
  readonly tcpFlags?: readonly string[];
  readonly mark: number;
  /** The conntrack state, when given. */
  readonly state?: CtState;
  readonly icmpType?: number;
  readonly icmpCode?: number;
  readonly len?: number;
  readonly ttl?: number;
  readonly tos?: number;
}

/** A packet description that does not parse: the message says which word and why. */
export class PacketSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PacketSpecError';
  }
}

const TCP_FLAGS = new Set(['syn', 'ack', 'fin', 'rst', 'psh', 'urg', 'ece', 'cwr']);
const STATES: Readonly<Record<string, CtState>> = {
  new: 'NEW',
  established: 'ESTABLISHED',
  related: 'RELATED',
  invalid: 'INVALID',
  untracked: 'UNTRACKED',
};
const PROTOS: Readonly<Record<string, string>> = {
  tcp: 'tcp',
  udp: 'udp',
  icmp: 'icmp',
  icmpv6: 'ipv6-icmp',
  icmp6: 'ipv6-icmp',
  'ipv6-icmp': 'ipv6-icmp',
  sctp: 'sctp',
  udplite: 'udplite',
  gre: 'gre',
  esp: 'esp',
  ah: 'ah',
};
const ICMP_NAMES: Readonly<Record<string, number>> = {
  'echo-reply': 0,
  'destination-unreachable': 3,
  redirect: 5,
  'echo-request': 8,
  'time-exceeded': 11,
  'parameter-problem': 12,
};
const ICMP6_NAMES: Readonly<Record<string, number>> = {
  'destination-unreachable': 1,
  'packet-too-big': 2,
  'time-exceeded': 3,
  'parameter-problem': 4,
  'echo-request': 128,
  'echo-reply': 129,
  'neighbour-solicitation': 135,
  'neighbor-solicitation': 135,
  'neighbour-advertisement': 136,
  'neighbor-advertisement': 136,
};

/** `1.2.3.4:80`, `[fd00::1]:80`, `1.2.3.4`, `fd00::1`, `[fd00::1]` → address and optional port. */
function endpoint(word: string, what: string): { ip: string; port?: number } {
  let ip = word;
  let port: string | undefined;
  const br = /^\[([^\]]+)\](?::(\d+))?$/.exec(word);
  if (br) {
    ip = br[1]!;
    port = br[2];
  } else if ((word.match(/:/g) ?? []).length === 1) {
    const i = word.indexOf(':');
    ip = word.slice(0, i);
    port = word.slice(i + 1);
    if (!/^\d+$/.test(port)) throw new PacketSpecError(`${what} '${word}': the port is not a number`);
  }
  if (!parseAddress(ip)) throw new PacketSpecError(`${what} '${word}' is not an IPv4 or IPv6 address`);
  if (port === undefined) return { ip };
  const n = Number(port);
  if (n > 65535) throw new PacketSpecError(`${what} '${word}': port ${n} is above 65535`);
  return { ip, port: n };
}

function num(word: string | undefined, what: string, max: number): number {
  if (word === undefined) throw new PacketSpecError(`'${what}' needs a value`);
  const n = Number(word);
  if (!/^(0x[0-9a-f]+|\d+)$/i.test(word) || n > max)
    throw new PacketSpecError(`'${what} ${word}': expected a number up to ${max}`);
  return n;
}

/** Parses a packet description. @throws PacketSpecError naming the word that is wrong. */
export function parsePacketSpec(text: string): SimPacket {
  const w = text
    .replace(/\s*>\s*/g, ' > ')
    .trim()
    .split(/\s+/)
    .filter(Boolean);
  const protoWord = w[0]?.toLowerCase();
  if (protoWord === undefined) throw new PacketSpecError('empty packet description');
  const proto = PROTOS[protoWord] ?? (/^\d+$/.test(protoWord) ? protoWord : undefined);
  if (proto === undefined)
    throw new PacketSpecError(
      `unknown protocol '${w[0]}' (expected ${Object.keys(PROTOS).join(', ')} or a number)`,
    );
  if (w[2] !== '>' || w[1] === undefined || w[3] === undefined)
    throw new PacketSpecError(`expected '${w[0]} SRC > DST …', got '${text.trim()}'`);
  const s = endpoint(w[1], 'source');
  const d = endpoint(w[3], 'destination');
  const family = s.ip.includes(':') ? 'ipv6' : 'ipv4';
  if (d.ip.includes(':') !== (family === 'ipv6'))
    throw new PacketSpecError(`source ${s.ip} and destination ${d.ip} are of different address families`);
  const ported = proto === 'tcp' || proto === 'udp' || proto === 'sctp' || proto === 'udplite';
  if (!ported && (s.port !== undefined || d.port !== undefined))
    throw new PacketSpecError(`${protoWord} has no ports: write '${protoWord} ${s.ip} > ${d.ip}'`);
  const out: { -readonly [K in keyof SimPacket]: SimPacket[K] } = {
    family,
    proto: proto === 'icmp' && family === 'ipv6' ? 'ipv6-icmp' : proto,
    src: s.ip,
    dst: d.ip,
    mark: 0,
  };
  if (s.port !== undefined) out.sport = s.port;
  if (d.port !== undefined) out.dport = d.port;
  const flags: string[] = [];
  const icmpNames = out.proto === 'ipv6-icmp' ? ICMP6_NAMES : ICMP_NAMES;
  for (let i = 4; i < w.length; i++) {
    const k = w[i]!.toLowerCase();
    const v = w[i + 1];
    switch (k) {
      case 'in':
      case 'out':
        if (v === undefined) throw new PacketSpecError(`'${k}' needs an interface name`);
        out[k] = v;
        i++;
        continue;
      case 'mark':
        out.mark = num(v, 'mark', 0xffffffff) >>> 0;
        i++;
        continue;
      case 'state': {
        const st = v === undefined ? undefined : STATES[v.toLowerCase()];
        if (st === undefined)
          throw new PacketSpecError(`'state ${v ?? ''}': expected ${Object.keys(STATES).join(', ')}`);
        out.state = st;
        i++;
        continue;
      }
      case 'type': {
        if (!out.proto.includes('icmp')) throw new PacketSpecError(`'type' is for icmp packets`);
        const named = v === undefined ? undefined : icmpNames[v.toLowerCase()];
        out.icmpType = named ?? num(v, 'type', 255);
        i++;
        continue;
      }
      case 'code':
        if (!out.proto.includes('icmp')) throw new PacketSpecError(`'code' is for icmp packets`);
        out.icmpCode = num(v, 'code', 255);
        i++;
        continue;
      case 'len':
        out.len = num(v, 'len', 65535 + 40);
        i++;
        continue;
      case 'ttl':
      case 'hl':
        out.ttl = num(v, k, 255);
        i++;
        continue;
      case 'tos':
        out.tos = num(v, 'tos', 255);
        i++;
        continue;
    }
    const parts = k.split(',');
    if (parts.every((f) => TCP_FLAGS.has(f))) {
      if (out.proto !== 'tcp') throw new PacketSpecError(`TCP flag '${w[i]}' on a ${out.proto} packet`);
      for (const f of parts) if (!flags.includes(f.toUpperCase())) flags.push(f.toUpperCase());
      continue;
    }
    if (icmpNames[k] !== undefined && out.proto.includes('icmp')) {
      out.icmpType = icmpNames[k];
      continue;
    }
    throw new PacketSpecError(
      `unexpected '${w[i]}' (expected in, out, a TCP flag, mark, state, type, code, len, ttl or tos)`,
    );
  }
  if (flags.length) out.tcpFlags = flags;
  if (out.proto.includes('icmp') && out.icmpType === undefined && out.icmpCode !== undefined)
    throw new PacketSpecError(`'code' without 'type'`);
  return out;
}

/** The description back as text (the packet line of the output). */
export function formatPacketSpec(p: SimPacket): string {
  const ep = (ip: string, port: number | undefined) =>
    port === undefined ? ip : ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
  const parts = [p.proto, ep(p.src, p.sport), '>', ep(p.dst, p.dport)];
  if (p.in !== undefined) parts.push('in', p.in);
  if (p.out !== undefined) parts.push('out', p.out);
  if (p.tcpFlags?.length) parts.push(p.tcpFlags.join(',').toLowerCase());
  if (p.icmpType !== undefined) parts.push('type', String(p.icmpType));
  if (p.icmpCode !== undefined) parts.push('code', String(p.icmpCode));
  if (p.mark) parts.push('mark', `0x${p.mark.toString(16)}`);
  if (p.state !== undefined) parts.push('state', p.state.toLowerCase());
  return parts.join(' ');
}
