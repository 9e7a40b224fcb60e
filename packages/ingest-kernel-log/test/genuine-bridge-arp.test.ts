/**
 * Genuine records, produced by the kernel in network namespaces (see fixtures/README.md): every payload
 * field the kernel prints for bridged packets
 * (PHYSIN/PHYSOUT) and ARP, checked exactly. The records are `/dev/kmsg` records, so the
 * uptime comes from the record header.
 */
import assert from 'node:assert/strict';
import { event, fixtureLines, io, parseFixture, payload } from './helpers';
import type { NetfilterEvent } from '@ruletrail/event';

type Payload = Omit<NetfilterEvent, 'ruletrail' | 'event' | '@timestamp' | 'host'>;

const EXPECTED: [number, Payload][] = [
  // 1: rtkl-arp: IN=rtkl-c1 OUT=rtkl-c2 ARP HTYPE=1 PTYPE=0x0800 OPCODE=1 MACSRC=02:00:00:00:0d:0
  [
    1,
    {
      observer: io('rtkl-c1', 'rtkl-c2'),
      source: { ip: '10.78.0.1', mac: '02-00-00-00-0D-01' },
      destination: { ip: '10.78.0.2', mac: '00-00-00-00-00-00' },
      network: { type: 'arp' },
      netfilter: { prefix: 'rtkl-arp: ', mark: 0 },
    },
  ],
  // 2: rtkl-arpe: IN=rtkl-c1 OUT=rtkl-c2 MACSRC=02:00:00:00:0d:01 MACDST=ff:ff:ff:ff:ff:ff MACPRO
  [
    2,
    {
      observer: io('rtkl-c1', 'rtkl-c2'),
      source: { ip: '10.78.0.1', mac: '02-00-00-00-0D-01' },
      destination: { ip: '10.78.0.2', mac: '00-00-00-00-00-00' },
      network: { type: 'arp' },
      netfilter: { prefix: 'rtkl-arpe: ', mark: 0, mac: { proto: '0806' } },
    },
  ],
  // 3: rtkl-arpe: IN=rtkl-c2 OUT=rtkl-c1 MACSRC=02:00:00:00:0e:01 MACDST=02:00:00:00:0d:01 MACPRO
  [
    3,
    {
      observer: io('rtkl-c2', 'rtkl-c1'),
      source: { ip: '10.78.0.2', mac: '02-00-00-00-0E-01' },
      destination: { ip: '10.78.0.1', mac: '02-00-00-00-0D-01' },
      network: { type: 'arp' },
      netfilter: { prefix: 'rtkl-arpe: ', mark: 0, mac: { proto: '0806' } },
    },
  ],
  // 4: TRACE: raw:PREROUTING:policy:2 IN=rtkl-br0 OUT= PHYSIN=rtkl-c1 MAC=02:00:00:00:0e:01:02:00
  [
    4,
    {
      observer: io('rtkl-br0', ''),
      source: { ip: '10.78.0.1', mac: '02-00-00-00-0D-01' },
      destination: { ip: '10.78.0.2', mac: '02-00-00-00-0E-01' },
      network: { type: 'ipv4', transport: 'icmp', iana_number: '1' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        physin: 'rtkl-c1',
        mac: { header: '02:00:00:00:0e:01:02:00:00:00:0d:01:08:00', proto: '0800' },
        ip: { len: 84, tos: 0, prec: 0, ttl: 64, id: 41793, flags: ['DF'] },
        icmp: { type: 8, code: 0, id: 17531, seq: 1 },
      },
    },
  ],
  // 5: rtkl-brfwd: IN=rtkl-br0 OUT=rtkl-br0 PHYSIN=rtkl-c1 PHYSOUT=rtkl-c2 MAC=02:00:00:00:0e:01:
  [
    5,
    {
      observer: io('rtkl-br0', 'rtkl-br0'),
      source: { ip: '10.78.0.1', mac: '02-00-00-00-0D-01' },
      destination: { ip: '10.78.0.2', mac: '02-00-00-00-0E-01' },
      network: { type: 'ipv4', transport: 'icmp', iana_number: '1' },
      netfilter: {
        prefix: 'rtkl-brfwd: ',
        mark: 0,
        physin: 'rtkl-c1',
        physout: 'rtkl-c2',
        mac: { header: '02:00:00:00:0e:01:02:00:00:00:0d:01:08:00', proto: '0800' },
        ip: { len: 84, tos: 0, prec: 0, ttl: 64, id: 41793, flags: ['DF'] },
        icmp: { type: 8, code: 0, id: 17531, seq: 1 },
      },
    },
  ],
  // 6: rtkl-brin: IN=rtkl-br0 OUT= PHYSIN=rtkl-c1 MACSRC=02:00:00:00:0d:01 MACDST=02:00:00:00:0c:
  [
    6,
    {
      observer: io('rtkl-br0', ''),
      source: { ip: '10.78.0.1', mac: '02-00-00-00-0D-01' },
      destination: { ip: '10.78.0.254', mac: '02-00-00-00-0C-FE' },
      network: { type: 'ipv4', transport: 'icmp', iana_number: '1' },
      netfilter: {
        prefix: 'rtkl-brin: ',
        mark: 0,
        physin: 'rtkl-c1',
        mac: { proto: '0800' },
        ip: { len: 84, tos: 0, prec: 0, ttl: 64, id: 45430, flags: ['DF'] },
        icmp: { type: 8, code: 0, id: 17533, seq: 1 },
      },
    },
  ],
  // 7: TRACE: raw:PREROUTING:policy:2 IN=rtkl-br0 OUT= PHYSIN=rtkl-c2 MAC=33:33:00:00:00:16:02:00
  [
    7,
    {
      observer: io('rtkl-br0', ''),
      source: { ip: '::', mac: '02-00-00-00-0E-01' },
      destination: { ip: 'ff02::16', mac: '33-33-00-00-00-16' },
      network: { type: 'ipv6', transport: 'ipv6-icmp', iana_number: '58' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        physin: 'rtkl-c2',
        mac: { header: '33:33:00:00:00:16:02:00:00:00:0e:01:86:dd', proto: '86dd' },
        ip: { len: 96, tc: 0, hoplimit: 1, flowlabel: 0, options: 'OPT ( )' },
        icmp: { type: 143, code: 0 },
      },
    },
  ],
  // 8: TRACE: raw:PREROUTING:policy:2 IN=rtkl-br0 OUT= PHYSIN=rtkl-c1 MAC=33:33:ff:00:00:02:02:00
  [
    8,
    {
      observer: io('rtkl-br0', ''),
      source: { ip: 'fd78::1', mac: '02-00-00-00-0D-01' },
      destination: { ip: 'ff02::1:ff00:2', mac: '33-33-FF-00-00-02' },
      network: { type: 'ipv6', transport: 'ipv6-icmp', iana_number: '58' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        physin: 'rtkl-c1',
        mac: { header: '33:33:ff:00:00:02:02:00:00:00:0d:01:86:dd', proto: '86dd' },
        ip: { len: 72, tc: 0, hoplimit: 255, flowlabel: 0 },
        icmp: { type: 135, code: 0 },
      },
    },
  ],
];

/** What each line shows. */
const TITLES: Record<number, string> = {
  1: 'ARP request from the nft bridge family: sender/target from the ARP payload',
  2: 'ARP with flags ether: MACPROTO=0806',
  3: 'ARP reply',
  4: 'bridged packet in PREROUTING: PHYSIN',
  5: 'bridged packet in FORWARD: PHYSIN and PHYSOUT',
  6: 'bridge INPUT with --log-macdecode',
  7: 'MLD report: hop-by-hop header, unspecified source ::',
  8: 'neighbour solicitation to a solicited-node multicast address',
};

describe('genuine bridge and ARP nf_log records', () => {
  const results = parseFixture('genuine/bridge-arp.kmsg');
  const lines = fixtureLines('genuine/bridge-arp.kmsg');

  it('decodes every record, with the uptime of the /dev/kmsg header and no wall clock or host', () => {
    assert.equal(results.length, 8);
    results.forEach((r, i) => {
      const e = event(r);
      const usec = Number(lines[i]!.split(',')[2]);
      assert.deepEqual(e.ruletrail, {
        schema: '1',
        channel: 'kernel-log',
        origin: { file: 'bridge-arp.kmsg', line: i + 1 },
        uptime: usec / 1e6,
      });
      assert.equal(e['@timestamp'], undefined);
      assert.equal(e.host, undefined);
      assert.equal(
        e.event.dataset,
        e.netfilter.prefix!.startsWith('TRACE: ') ? 'netfilter.trace' : 'netfilter.log',
      );
    });
  });

  for (const [line, expected] of EXPECTED) {
    it(`line ${line}: ${TITLES[line] ?? 'payload'}`, () => {
      assert.deepEqual(payload(event(results[line - 1])), expected);
    });
  }
});
