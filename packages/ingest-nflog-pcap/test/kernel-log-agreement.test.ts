/**
 * Same packet, two channels: every record of the real capture is rendered the way nf_log_syslog.c prints a TRACE
 * line, parsed by the kernel-log adapter (the reference for field mapping), and the two events must agree on every
 * packet field. Catches drift in conventions (units, option text, flag order, empty lists) between the adapters.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DecodeOptions, LineResult } from '@ruletrail/core';
import type { NetfilterEvent } from '@ruletrail/event';
import { createNflogPcapAdapter } from '../src/index';
import { collect } from './fixture-builder';

type Parse = (line: string, lineNo: number, options: DecodeOptions) => LineResult;

function loadKernelParser(): Parse | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('@ruletrail/ingest-kernel-log') as { parseKernelLogLine?: Parse }).parseKernelLogLine;
  } catch {
    return undefined;
  }
}

const hex2 = (n: number, upper: boolean): string => {
  const s = n.toString(16).padStart(2, '0');
  return upper ? s.toUpperCase() : s;
};
const expand6 = (a: string): string => {
  const [h, t] = a.includes('::') ? a.split('::') : [a, undefined];
  const hs = h ? h.split(':') : [];
  const ts = t ? t.split(':') : [];
  const g = t === undefined ? hs : [...hs, ...new Array<string>(8 - hs.length - ts.length).fill('0'), ...ts];
  return g.map((x) => x.padStart(4, '0')).join(':');
};

interface L3View {
  source?: NetfilterEvent['source'];
  destination?: NetfilterEvent['destination'];
  transport?: string;
  iana?: string;
  ip?: NonNullable<NetfilterEvent['netfilter']>['ip'];
  tcp?: NonNullable<NetfilterEvent['netfilter']>['tcp'];
  udpLength?: number;
  icmp?: NonNullable<NetfilterEvent['netfilter']>['icmp'];
  incomplete?: number;
  inner?: NonNullable<NetfilterEvent['netfilter']>['inner'];
}

/** The kernel's text for one (outer or inner) packet, as dump_ipv4_packet / dump_ipv6_packet print it. */
function render(p: L3View): string {
  const ip = p.ip!;
  let s: string;
  if (!p.source!.ip!.includes(':')) {
    s = `SRC=${p.source!.ip} DST=${p.destination!.ip} LEN=${ip.len} TOS=0x${hex2(ip.tos!, true)} PREC=0x${hex2(ip.prec!, true)} TTL=${ip.ttl} ID=${ip.id} `;
    for (const f of ip.flags ?? []) s += `${f} `;
    if (ip.fragOffset) s += `FRAG:${ip.fragOffset / 8} `;
    if (ip.options) s += `OPT (${ip.options}) `;
  } else {
    s = `SRC=${expand6(p.source!.ip!)} DST=${expand6(p.destination!.ip!)} LEN=${ip.len} TC=${ip.tc} HOPLIMIT=${ip.hoplimit} FLOWLBL=${ip.flowlabel} `;
    if (ip.options) s += `${ip.options} `;
  }
  const fragment = (ip.fragOffset ?? 0) > 0;
  if (p.transport === 'tcp') {
    s += 'PROTO=TCP ';
    if (fragment) return s;
    if (p.incomplete !== undefined) return `${s}INCOMPLETE [${p.incomplete} bytes] `;
    const t = p.tcp!;
    s += `SPT=${p.source!.port} DPT=${p.destination!.port} SEQ=${t.seq} ACK=${t.ack} WINDOW=${t.window} RES=0x${hex2(t.res!, false)} `;
    for (const f of t.flags!) s += `${f} `;
    s += `URGP=${t.urgp} `;
    if (t.options) s += t.options === 'TRUNCATED' ? 'OPT (TRUNCATED)' : `OPT (${t.options}) `;
  } else if (p.transport === 'udp') {
    s += 'PROTO=UDP ';
    if (!fragment)
      s +=
        p.incomplete !== undefined
          ? `INCOMPLETE [${p.incomplete} bytes] `
          : `SPT=${p.source!.port} DPT=${p.destination!.port} LEN=${p.udpLength} `;
  } else if (p.transport === 'icmp' || p.transport === 'ipv6-icmp') {
    s += p.transport === 'icmp' ? 'PROTO=ICMP ' : 'PROTO=ICMPv6 ';
    if (fragment) return s;
    const ic = p.icmp!;
    s += `TYPE=${ic.type} CODE=${ic.code} `;
    if (p.incomplete !== undefined) return `${s}INCOMPLETE [${p.incomplete} bytes] `;
    if (ic.id !== undefined) s += `ID=${ic.id} SEQ=${ic.seq} `;
    if (ic.parameter !== undefined)
      s +=
        p.transport === 'icmp'
          ? `PARAMETER=${ic.parameter} `
          : `POINTER=${ic.parameter.toString(16).padStart(8, '0')} `;
    if (ic.gateway !== undefined) s += `GATEWAY=${ic.gateway} `;
    if (p.inner)
      s += `[${render({ source: p.inner.source, destination: p.inner.destination, transport: p.inner.transport, ip: p.inner.ip, tcp: p.inner.tcp, udpLength: p.inner.udpLength, icmp: p.inner.icmp, incomplete: p.inner.incomplete })}] `;
    if (ic.mtu !== undefined) s += `MTU=${ic.mtu} `;
  } else if (p.iana !== undefined) s += `PROTO=${p.iana} `;
  return s;
}

function kernelLine(e: NetfilterEvent): string {
  const nf = e.netfilter;
  let line = `[  100.000000] ${nf.prefix}IN=${e.observer!.ingress!.interface!.name} OUT=${e.observer!.egress!.interface!.name} `;
  if (nf.mac?.header !== undefined) line += `MAC=${nf.mac.header} `;
  line += render({
    source: e.source,
    destination: e.destination,
    transport: e.network.transport,
    iana: e.network.iana_number,
    ip: nf.ip,
    tcp: nf.tcp,
    udpLength: nf.udp?.length,
    icmp: nf.icmp,
    incomplete: nf.incomplete,
    inner: nf.inner,
  });
  if (e.user) line += `UID=${e.user.id} GID=${e.group!.id} `;
  if (nf.mark) line += `MARK=0x${nf.mark.toString(16)} `;
  return line;
}

/** The fields both channels carry. */
function packetView(e: NetfilterEvent): object {
  const nf = e.netfilter;
  return {
    source: e.source,
    destination: e.destination,
    network: e.network,
    user: e.user,
    group: e.group,
    observer: e.observer,
    netfilter: {
      prefix: nf.prefix,
      trace: nf.trace,
      ip: nf.ip,
      tcp: nf.tcp,
      udp: nf.udp,
      icmp: nf.icmp,
      inner: nf.inner,
      mark: nf.mark,
      mac: nf.mac,
      incomplete: nf.incomplete,
      spi: nf.spi,
    },
  };
}

describe('nflog-pcap and kernel-log agree on the same packets', () => {
  it('every record of the real capture, rendered as its kernel TRACE line and parsed by the kernel-log adapter', async function () {
    const parse = loadKernelParser();
    if (!parse) this.skip(); // the kernel-log adapter is not built in this checkout
    const dir = join(__dirname, 'fixtures', 'real');
    const ifNames = { '1': 'lo', '18': 'rtvb1602' };
    const out = await collect(createNflogPcapAdapter({ ifNames }), [readFileSync(join(dir, 'trace.pcap'))], {
      file: 'trace.pcap',
    });
    assert.equal(out.events.length, 152);
    out.events.forEach((e, i) => {
      const line = kernelLine(e);
      const k = parse(line, i + 1, { file: 'kern.log' });
      assert.ok(
        k !== null && !(k instanceof Error),
        `record ${i + 1}: kernel-log adapter refused ${line}: ${k instanceof Error ? k.message : 'null'}`,
      );
      assert.deepEqual(packetView(k), packetView(e), `record ${i + 1}: ${line}`);
    });
  });
});
