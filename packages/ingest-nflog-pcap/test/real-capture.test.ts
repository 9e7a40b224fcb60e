/**
 * Captures made by scripts/capture-fixtures.sh (tcpdump -i nflog in a throw-away netns pair, TRACE in raw
 * PREROUTING/OUTPUT, iptables-legacy): decoded exactly, and cross-checked field by field against
 * `tshark -T fields` on the same file (trace.tshark.tsv, written by the same script).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NetfilterEvent } from '@ruletrail/event';
import { createNflogPcapAdapter, nflogPcapAdapter } from '../src/index';
import { chunked, collect } from './fixture-builder';

const DIR = join(__dirname, 'fixtures', 'real');
const read = (f: string): Buffer => readFileSync(join(DIR, f));
const IFNAMES = Object.fromEntries(
  (JSON.parse(read('ifnames.json').toString()) as Array<{ ifindex: number; ifname: string }>).map((l) => [
    String(l.ifindex),
    l.ifname,
  ]),
);

describe('nflog-pcap: real captures', () => {
  let events: NetfilterEvent[];
  before(async () => {
    const out = await collect(
      createNflogPcapAdapter({ ifNames: IFNAMES }),
      chunked(read('trace.pcap'), 4096),
      { file: 'trace.pcap' },
    );
    assert.deepEqual(out.errors, []);
    events = out.events;
  });

  it('decodes every record of the µs pcap, the ns pcap and the pcapng to the same events', async () => {
    assert.equal(events.length, 152);
    for (const f of ['trace-ns.pcap', 'trace.pcapng']) {
      const other = await collect(createNflogPcapAdapter({ ifNames: IFNAMES }), [read(f)], {
        file: 'trace.pcap',
      });
      assert.deepEqual(other.errors, []);
      const strip = (e: NetfilterEvent): object => ({
        ...e,
        ruletrail: undefined,
        '@timestamp': e['@timestamp']?.replace(/(\.\d{6})\d*Z$/, '$1Z'),
      });
      assert.deepEqual(other.events.map(strip), events.map(strip), f);
    }
  });

  it('decodes the TCP SYN at raw:PREROUTING exactly (frame 5)', () => {
    assert.deepEqual(events[4], {
      '@timestamp': '2026-11-27T10:10:02.476655Z',
      ruletrail: { schema: '1', channel: 'nflog-pcap', origin: { file: 'trace.pcap', offset: 752 } },
      event: { kind: 'event', dataset: 'netfilter.trace' },
      observer: { ingress: { interface: { name: 'rtvb1602' } }, egress: { interface: { name: '' } } },
      network: { type: 'ipv4', transport: 'tcp', iana_number: '6' },
      source: { ip: '10.231.0.1', port: 55272, mac: '4E-98-1E-A5-85-FE' },
      destination: { ip: '10.231.0.2', port: 52000, mac: 'EA-0F-B0-DF-22-52' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        ip: { len: 60, tos: 0, prec: 0, ttl: 64, id: 1040, flags: ['DF'] },
        tcp: {
          seq: 1611050564,
          ack: 0,
          window: 64240,
          res: 0,
          flags: ['SYN'],
          urgp: 0,
          options: '020405B40402080AB1AE01C4000000000103030A',
        },
        mac: { header: 'ea:0f:b0:df:22:52:4e:98:1e:a5:85:fe:08:00', proto: '0800' },
        mark: 0,
        hook: 0,
        group: 0,
        ifindex: { in: 18 },
      },
    });
  });

  it('carries UID/GID of a locally sent segment (frame 37), IP options (frame 137) and the mark set by a rule (frame 63)', () => {
    assert.deepEqual(
      [events[36]!.user, events[36]!.group, events[36]!.netfilter.hook],
      [{ id: '0' }, { id: '0' }, 3],
    );
    assert.equal(events[136]!.netfilter.ip!.options, '01010100');
    assert.equal(events[136]!.destination!.port, 52001);
    // mangle:PREROUTING:rule:1 is the MARK rule itself (TRACE logs before the target runs): still 0 there …
    assert.equal(events[61]!.netfilter.trace!.kind, 'rule');
    assert.equal(events[61]!.netfilter.mark, 0);
    // … and 0x2a at the next step
    assert.equal(events[62]!.netfilter.mark, 0x2a);
  });

  it('decodes the ICMP port unreachable with its inner packet (frame 74)', () => {
    const e = events[73]!;
    assert.deepEqual(e.netfilter.icmp, { type: 3, code: 3 });
    assert.deepEqual(e.netfilter.ip, { len: 62, tos: 0, prec: 0xc0, ttl: 64, id: 6914, flags: [] });
    assert.deepEqual(e.netfilter.inner, {
      source: { ip: '10.231.0.1', port: 34784 },
      destination: { ip: '10.231.0.2', port: 9 },
      transport: 'udp',
      ip: { len: 34, tos: 0, prec: 0, ttl: 64, id: 33890, flags: ['DF'] },
      udpLength: 14,
    });
  });

  it('decodes IPv4 and IPv6 fragments (frames 110, 118)', () => {
    assert.deepEqual(events[109]!.netfilter.ip, {
      len: 1500,
      tos: 0,
      prec: 0,
      ttl: 64,
      id: 33891,
      flags: ['MF'],
      fragOffset: 1480,
    });
    assert.equal(events[109]!.source!.port, undefined);
    assert.deepEqual(events[117]!.netfilter.ip, {
      len: 1496,
      tc: 0,
      hoplimit: 64,
      flowlabel: 116827,
      fragOffset: 0,
      fragIncomplete: true,
      id: 1630021666,
      options: 'OPT ( FRAG:0 INCOMPLETE ID:61282822 )',
    });
    assert.deepEqual(events[117]!.netfilter.udp, { length: 3008 });
  });

  it('agrees with tshark -T fields on every record', () => {
    const [head, ...rows] = read('trace.tshark.tsv').toString().replace(/\n$/, '').split('\n');
    const names = head!.split('\t');
    assert.equal(rows.length, events.length);
    const num = (v: string | undefined): number | undefined =>
      v === undefined || v === '' ? undefined : v.startsWith('0x') ? parseInt(v, 16) : Number(v);
    rows.forEach((row, i) => {
      const t = Object.fromEntries(row.split('\t').map((v, j) => [names[j]!, v]));
      const e = events[i]!;
      const nf = e.netfilter;
      const at = `frame ${t['frame.number']}`;
      assert.equal(nf.prefix, t['nflog.prefix'], at);
      assert.equal(nf.group, num(t['nflog.res_id']), at);
      assert.equal(nf.hook, num(t['nflog.hook']), at);
      assert.equal(nf.ifindex?.in, num(t['nflog.ifindex_indev']), at);
      assert.equal(nf.ifindex?.out, num(t['nflog.ifindex_outdev']), at);
      assert.equal(e.user?.id, t['nflog.uid'] || undefined, at);
      assert.equal(e.group?.id, t['nflog.gid'] || undefined, at);
      assert.equal(e.source?.ip, t['ip.src'] || t['ipv6.src'], at);
      assert.equal(e.destination?.ip, t['ip.dst'] || t['ipv6.dst'], at);
      if (t['ip.src']) {
        assert.equal(nf.ip?.id, num(t['ip.id']), at);
        assert.equal(nf.ip?.ttl, num(t['ip.ttl']), at);
        assert.equal(nf.ip?.len, num(t['ip.len']), at);
        assert.equal(
          nf.ip?.flags?.includes('DF') ?? false,
          t['ip.flags.df'] === '1' || t['ip.flags.df'] === 'True',
          at,
        );
        // tshark 4.0 shows the raw 13-bit field (8-byte units); events hold bytes
        assert.equal((nf.ip?.fragOffset ?? 0) / 8, num(t['ip.frag_offset']), at);
      } else {
        assert.equal(nf.ip?.hoplimit, num(t['ipv6.hlim']), at);
        assert.equal(nf.ip?.flowlabel, num(t['ipv6.flow']), at);
      }
      // tshark's first occurrence of a port is the inner packet's for ICMP errors
      const ports = nf.inner ? nf.inner : { source: e.source, destination: e.destination };
      assert.equal(ports.source?.port, num(t['tcp.srcport']) ?? num(t['udp.srcport']), at);
      assert.equal(ports.destination?.port, num(t['tcp.dstport']) ?? num(t['udp.dstport']), at);
      if (nf.tcp) {
        assert.equal(nf.tcp.seq, num(t['tcp.seq_raw']), at);
        assert.equal(nf.tcp.ack, num(t['tcp.ack_raw']), at);
        assert.equal(nf.tcp.window, num(t['tcp.window_size_value']), at);
        const bits: Record<string, number> = {
          AE: 0x100,
          CWR: 0x80,
          ECE: 0x40,
          URG: 0x20,
          ACK: 0x10,
          PSH: 0x08,
          RST: 0x04,
          SYN: 0x02,
          FIN: 0x01,
        };
        assert.equal(
          nf.tcp.flags!.reduce((a, f) => a | bits[f]!, 0),
          num(t['tcp.flags']),
          at,
        );
        assert.equal(nf.tcp.options ?? '', t['tcp.options']!.toUpperCase(), at);
      }
      if (nf.udp && !nf.inner) assert.equal(nf.udp.length, num(t['udp.length']), at);
      if (nf.icmp && e.network.type === 'ipv4') {
        assert.equal(nf.icmp.type, num(t['icmp.type']), at);
        assert.equal(nf.icmp.code, num(t['icmp.code']), at);
        assert.equal(nf.icmp.id, num(t['icmp.ident']), at);
        assert.equal(nf.icmp.seq, num(t['icmp.seq']), at);
      }
      if (nf.icmp && e.network.type === 'ipv6') {
        assert.equal(nf.icmp.type, num(t['icmpv6.type']), at);
        assert.equal(nf.icmp.id, num(t['icmpv6.echo.identifier']), at);
        assert.equal(nf.icmp.seq, num(t['icmpv6.echo.sequence_number']), at);
      }
    });
  });

  it('without an ifindex map, names the interface names as degraded', async () => {
    const out = await collect(nflogPcapAdapter, [read('trace.pcap')], { file: 'trace.pcap' });
    assert.equal(out.events[4]!.observer, undefined);
    assert.deepEqual(out.events[4]!.netfilter.degraded, [
      'observer.ingress.interface.name',
      'observer.egress.interface.name',
    ]);
  });
});
