/**
 * Genuine records, produced by the kernel in network namespaces (see fixtures/README.md): every payload
 * field the kernel prints for IPv6 (extension headers,
 * fragments, ICMPv6 and its errors), checked exactly. The records are `/dev/kmsg` records, so the
 * uptime comes from the record header.
 */
import assert from 'node:assert/strict';
import { event, fixtureLines, io, parseFixture, payload } from './helpers';
import type { NetfilterEvent } from '@ruletrail/event';

type Payload = Omit<NetfilterEvent, 'ruletrail' | 'event' | '@timestamp' | 'host'>;

const EXPECTED: [number, Payload][] = [
  // 1: TRACE: raw:OUTPUT:policy:2 IN= OUT=rtkl-a0 SRC=fd77:0001:0000:0000:0000:0000:0000:0001 DST
  [
    1,
    {
      observer: io('', 'rtkl-a0'),
      source: { ip: 'fd77:1::1', port: 59604 },
      destination: { ip: 'fd77:2::1', port: 52000 },
      network: { type: 'ipv6', transport: 'tcp', iana_number: '6' },
      user: { id: '65534' },
      group: { id: '65534' },
      netfilter: {
        prefix: 'TRACE: raw:OUTPUT:policy:2 ',
        trace: { table: 'raw', chain: 'OUTPUT', kind: 'policy', rulenum: 2 },
        mark: 0,
        ip: { len: 80, tc: 0, hoplimit: 64, flowlabel: 680545 },
        tcp: {
          seq: 1334019293,
          ack: 0,
          window: 64660,
          res: 0,
          flags: ['SYN'],
          urgp: 0,
          options: '020404C40402080A6BF91B3F000000000103030A',
        },
      },
    },
  ],
  // 2: TRACE: raw:PREROUTING:policy:2 IN=rtkl-a0 OUT= MAC=00:15:5d:12:e2:24:00:15:5d:12:e2:28:86:
  [
    2,
    {
      observer: io('rtkl-a0', ''),
      source: { ip: 'fd77:2::1', port: 52000, mac: '00-15-5D-12-E2-28' },
      destination: { ip: 'fd77:1::1', port: 59604, mac: '00-15-5D-12-E2-24' },
      network: { type: 'ipv6', transport: 'tcp', iana_number: '6' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:24:00:15:5d:12:e2:28:86:dd', proto: '86dd' },
        ip: { len: 80, tc: 0, hoplimit: 63, flowlabel: 453362 },
        tcp: {
          seq: 2714351831,
          ack: 1334019294,
          window: 65232,
          res: 0,
          flags: ['ACK', 'SYN'],
          urgp: 0,
          options: '020404C40402080A003E78F86BF91B3F0103030A',
        },
      },
    },
  ],
  // 3: TRACE: raw:PREROUTING:policy:2 IN=rtkl-a0 OUT= MAC=00:15:5d:12:e2:24:00:15:5d:12:e2:28:86:
  [
    3,
    {
      observer: io('rtkl-a0', ''),
      source: { ip: 'fd77:2::1', mac: '00-15-5D-12-E2-28' },
      destination: { ip: 'fd77:1::1', mac: '00-15-5D-12-E2-24' },
      network: { type: 'ipv6', transport: 'ipv6-icmp', iana_number: '58' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:24:00:15:5d:12:e2:28:86:dd', proto: '86dd' },
        ip: { len: 104, tc: 0, hoplimit: 63, flowlabel: 381668 },
        icmp: { type: 1, code: 4 },
        inner: {
          source: { ip: 'fd77:1::1', port: 40342 },
          destination: { ip: 'fd77:2::1', port: 5000 },
          transport: 'udp',
          ip: { len: 56, tc: 0, hoplimit: 63, flowlabel: 920816 },
          udpLength: 16,
        },
      },
    },
  ],
  // 4: TRACE: raw:OUTPUT:policy:2 IN= OUT=rtkl-a0 SRC=fd77:0001:0000:0000:0000:0000:0000:0001 DST
  [
    4,
    {
      observer: io('', 'rtkl-a0'),
      source: { ip: 'fd77:1::1' },
      destination: { ip: 'fd77:2::1' },
      network: { type: 'ipv6', transport: 'ipv6-icmp', iana_number: '58' },
      user: { id: '0' },
      group: { id: '0' },
      netfilter: {
        prefix: 'TRACE: raw:OUTPUT:policy:2 ',
        trace: { table: 'raw', chain: 'OUTPUT', kind: 'policy', rulenum: 2 },
        mark: 0,
        ip: { len: 104, tc: 0, hoplimit: 64, flowlabel: 986429 },
        icmp: { type: 128, code: 0, id: 15455, seq: 1 },
      },
    },
  ],
  // 5: TRACE: mangle:cali-fw:x/y:return:2 IN=rtkl-r0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:24
  [
    5,
    {
      observer: io('rtkl-r0', ''),
      source: { ip: 'fd77:1::1', mac: '00-15-5D-12-E2-24' },
      destination: { ip: 'fd77:2::1', mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv6', transport: 'ipv6-icmp', iana_number: '58' },
      netfilter: {
        prefix: 'TRACE: mangle:cali-fw:x/y:return:2 ',
        trace: { table: 'mangle', chain: 'cali-fw:x/y', kind: 'return', rulenum: 2 },
        mark: 16384,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:86:dd', proto: '86dd' },
        ip: { len: 104, tc: 0, hoplimit: 1, flowlabel: 986429 },
        icmp: { type: 128, code: 0, id: 15457, seq: 1 },
      },
    },
  ],
  // 6: TRACE: raw:PREROUTING:policy:2 IN=rtkl-a0 OUT= MAC=00:15:5d:12:e2:24:00:15:5d:12:e2:28:86:
  [
    6,
    {
      observer: io('rtkl-a0', ''),
      source: { ip: 'fd77:1::fe', mac: '00-15-5D-12-E2-28' },
      destination: { ip: 'fd77:1::1', mac: '00-15-5D-12-E2-24' },
      network: { type: 'ipv6', transport: 'ipv6-icmp', iana_number: '58' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:24:00:15:5d:12:e2:28:86:dd', proto: '86dd' },
        ip: { len: 152, tc: 0, hoplimit: 64, flowlabel: 938046 },
        icmp: { type: 3, code: 0 },
        inner: {
          source: { ip: 'fd77:1::1' },
          destination: { ip: 'fd77:2::1' },
          transport: 'ipv6-icmp',
          ip: { len: 104, tc: 0, hoplimit: 1, flowlabel: 986429 },
          icmp: { type: 128, code: 0, id: 15457, seq: 1 },
        },
      },
    },
  ],
  // 7: TRACE: raw:PREROUTING:policy:2 IN=rtkl-a0 OUT= MAC=00:15:5d:12:e2:24:00:15:5d:12:e2:28:86:
  [
    7,
    {
      observer: io('rtkl-a0', ''),
      source: { ip: 'fd77:1::fe', mac: '00-15-5D-12-E2-28' },
      destination: { ip: 'fd77:1::1', mac: '00-15-5D-12-E2-24' },
      network: { type: 'ipv6', transport: 'ipv6-icmp', iana_number: '58' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:24:00:15:5d:12:e2:28:86:dd', proto: '86dd' },
        ip: { len: 1280, tc: 0, hoplimit: 64, flowlabel: 660355 },
        icmp: { type: 2, code: 0, mtu: 1280 },
        inner: {
          source: { ip: 'fd77:1::1', port: 5000 },
          destination: { ip: 'fd77:2::1', port: 5001 },
          transport: 'udp',
          ip: { len: 1400, tc: 0, hoplimit: 64, flowlabel: 0 },
          udpLength: 1360,
        },
      },
    },
  ],
  // 8: TRACE: raw:PREROUTING:policy:2 IN=rtkl-r0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:24:86:
  [
    8,
    {
      observer: io('rtkl-r0', ''),
      source: { ip: 'fd77:1::1', mac: '00-15-5D-12-E2-24' },
      destination: { ip: 'fd77:1::fe', mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv6', transport: '253', iana_number: '253' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:86:dd', proto: '86dd' },
        ip: { len: 48, tc: 0, hoplimit: 64, flowlabel: 0 },
      },
    },
  ],
  // 9: TRACE: raw:PREROUTING:policy:2 IN=rtkl-a0 OUT= MAC=00:15:5d:12:e2:24:00:15:5d:12:e2:28:86:
  [
    9,
    {
      observer: io('rtkl-a0', ''),
      source: { ip: 'fd77:1::fe', mac: '00-15-5D-12-E2-28' },
      destination: { ip: 'fd77:1::1', mac: '00-15-5D-12-E2-24' },
      network: { type: 'ipv6', transport: 'ipv6-icmp', iana_number: '58' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:24:00:15:5d:12:e2:28:86:dd', proto: '86dd' },
        ip: { len: 96, tc: 0, hoplimit: 64, flowlabel: 420857 },
        icmp: { type: 4, code: 1, parameter: 6 },
        inner: {
          source: { ip: 'fd77:1::1' },
          destination: { ip: 'fd77:1::fe' },
          transport: '253',
          ip: { len: 48, tc: 0, hoplimit: 64, flowlabel: 0 },
        },
      },
    },
  ],
  // 10: TRACE: raw:PREROUTING:policy:2 IN=rtkl-r0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:24:86:
  [
    10,
    {
      observer: io('rtkl-r0', ''),
      source: { ip: 'fd77:1::1', mac: '00-15-5D-12-E2-24' },
      destination: { ip: 'fd77:2::1', mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv6', transport: 'ipv6-icmp', iana_number: '58' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:86:dd', proto: '86dd' },
        ip: {
          len: 1280,
          tc: 0,
          hoplimit: 64,
          flowlabel: 986429,
          id: 3428513056,
          fragOffset: 0,
          fragIncomplete: true,
          options: 'OPT ( FRAG:0 INCOMPLETE ID:cc5af520 )',
        },
        icmp: { type: 128, code: 0, id: 15461, seq: 1 },
      },
    },
  ],
  // 11: TRACE: raw:PREROUTING:policy:2 IN=rtkl-r0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:24:86:
  [
    11,
    {
      observer: io('rtkl-r0', ''),
      source: { ip: 'fd77:1::1', mac: '00-15-5D-12-E2-24' },
      destination: { ip: 'fd77:2::1', mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv6', transport: 'ipv6-icmp', iana_number: '58' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:86:dd', proto: '86dd' },
        ip: {
          len: 1280,
          tc: 0,
          hoplimit: 64,
          flowlabel: 986429,
          id: 3428513056,
          fragOffset: 1232,
          fragIncomplete: true,
          options: 'OPT ( FRAG:1232 INCOMPLETE ID:cc5af520 )',
        },
      },
    },
  ],
  // 12: TRACE: raw:PREROUTING:policy:2 IN=rtkl-r0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:24:86:
  [
    12,
    {
      observer: io('rtkl-r0', ''),
      source: { ip: 'fd77:1::1', mac: '00-15-5D-12-E2-24' },
      destination: { ip: 'fd77:2::1', mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv6', transport: 'ipv6-icmp', iana_number: '58' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:86:dd', proto: '86dd' },
        ip: {
          len: 592,
          tc: 0,
          hoplimit: 64,
          flowlabel: 986429,
          id: 3428513056,
          fragOffset: 2464,
          options: 'OPT ( FRAG:2464 ID:cc5af520 )',
        },
      },
    },
  ],
  // 13: rtkl-frag6-noopt: IN=rtkl-r0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:24:86:dd SRC=fd77:0
  [
    13,
    {
      observer: io('rtkl-r0', ''),
      source: { ip: 'fd77:1::1', mac: '00-15-5D-12-E2-24' },
      destination: { ip: 'fd77:2::1', mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv6', transport: 'ipv6-icmp', iana_number: '58' },
      netfilter: {
        prefix: 'rtkl-frag6-noopt: ',
        mark: 16384,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:86:dd', proto: '86dd' },
        ip: {
          len: 1280,
          tc: 0,
          hoplimit: 64,
          flowlabel: 986429,
          id: 3428513056,
          fragOffset: 0,
          fragIncomplete: true,
        },
        icmp: { type: 128, code: 0, id: 15461, seq: 1 },
      },
    },
  ],
  // 14: TRACE: raw:PREROUTING:policy:2 IN=rtkl-r0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:24:86:
  [
    14,
    {
      observer: io('rtkl-r0', ''),
      source: { ip: 'fd77:1::1', mac: '00-15-5D-12-E2-24' },
      destination: { ip: 'fd77:2::1', mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv6' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:86:dd', proto: '86dd' },
        ip: {
          len: 64,
          tc: 0,
          hoplimit: 64,
          flowlabel: 0,
          id: 3735928559,
          fragOffset: 1448,
          options: 'OPT ( FRAG:1448 ID:deadbeef ) OPT ( )',
        },
      },
    },
  ],
  // 15: TRACE: raw:PREROUTING:policy:2 IN=rtkl-r0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:24:86:
  [
    15,
    {
      observer: io('rtkl-r0', ''),
      source: { ip: 'fd77:1::1', port: 40001, mac: '00-15-5D-12-E2-24' },
      destination: { ip: 'fd77:2::1', port: 52000, mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv6', transport: 'tcp', iana_number: '6' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:86:dd', proto: '86dd' },
        ip: { len: 84, tc: 0, hoplimit: 64, flowlabel: 0, options: 'OPT ( ) OPT ( ) OPT ( )' },
        tcp: { seq: 1, ack: 0, window: 65535, res: 0, flags: ['SYN'], urgp: 0 },
      },
    },
  ],
  // 16: TRACE: raw:PREROUTING:policy:2 IN=rtkl-r0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:24:86:
  [
    16,
    {
      observer: io('rtkl-r0', ''),
      source: { ip: 'fd77:1::1', port: 40002, mac: '00-15-5D-12-E2-24' },
      destination: { ip: 'fd77:2::1', port: 52000, mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv6', transport: 'tcp', iana_number: '6' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:86:dd', proto: '86dd' },
        ip: { len: 84, tc: 0, hoplimit: 64, flowlabel: 0, options: 'OPT ( AH SPI=0xabcdef01 )' },
        tcp: { seq: 1, ack: 0, window: 65535, res: 0, flags: ['SYN'], urgp: 0 },
        spi: 2882400001,
      },
    },
  ],
  // 17: TRACE: raw:PREROUTING:policy:2 IN=rtkl-r0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:24:86:
  [
    17,
    {
      observer: io('rtkl-r0', ''),
      source: { ip: 'fd77:1::1', mac: '00-15-5D-12-E2-24' },
      destination: { ip: 'fd77:2::1', mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv6', transport: 'esp', iana_number: '50' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:86:dd', proto: '86dd' },
        ip: { len: 64, tc: 0, hoplimit: 64, flowlabel: 0, options: 'OPT ( ESP SPI=0x2000 )' },
        spi: 8192,
      },
    },
  ],
  // 18: TRACE: raw:PREROUTING:policy:2 IN=rtkl-a0 OUT= MAC=00:15:5d:12:e2:24:00:15:5d:12:e2:28:86:
  [
    18,
    {
      observer: io('rtkl-a0', ''),
      source: { ip: 'fd77:2::1', mac: '00-15-5D-12-E2-28' },
      destination: { ip: 'fd77:1::1', mac: '00-15-5D-12-E2-24' },
      network: { type: 'ipv6', transport: 'ipv6-icmp', iana_number: '58' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:24:00:15:5d:12:e2:28:86:dd', proto: '86dd' },
        ip: { len: 112, tc: 0, hoplimit: 63, flowlabel: 958562 },
        icmp: { type: 4, code: 1, parameter: 6 },
        inner: {
          source: { ip: 'fd77:1::1' },
          destination: { ip: 'fd77:2::1' },
          transport: 'esp',
          ip: { len: 64, tc: 0, hoplimit: 63, flowlabel: 0, options: 'OPT ( ESP SPI=0x2000 )' },
        },
      },
    },
  ],
  // 19: TRACE: raw:PREROUTING:policy:2 IN=rtkl-a0 OUT= MAC=00:15:5d:12:e2:24:00:15:5d:12:e2:28:86:
  [
    19,
    {
      observer: io('rtkl-a0', ''),
      source: { ip: 'fd77:2::1', mac: '00-15-5D-12-E2-28' },
      destination: { ip: 'fd77:1::1', mac: '00-15-5D-12-E2-24' },
      network: { type: 'ipv6', transport: 'ipv6-icmp', iana_number: '58' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:24:00:15:5d:12:e2:28:86:dd', proto: '86dd' },
        ip: { len: 116, tc: 0, hoplimit: 63, flowlabel: 118023 },
        icmp: { type: 4, code: 0, parameter: 4 },
        inner: {
          source: { ip: 'fd77:1::1', port: 40003 },
          destination: { ip: 'fd77:2::1', port: 52000 },
          transport: 'tcp',
          ip: {
            len: 68,
            tc: 0,
            hoplimit: 63,
            flowlabel: 0,
            id: 3735928559,
            fragOffset: 0,
            fragIncomplete: true,
            options: 'OPT ( FRAG:0 INCOMPLETE ID:deadbeef )',
          },
          tcp: { seq: 1, ack: 0, window: 65535, res: 0, flags: ['SYN'], urgp: 0 },
        },
      },
    },
  ],
  // 20: TRACE: raw:PREROUTING:policy:2 IN=rtkl-r0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:24:86:
  [
    20,
    {
      observer: io('rtkl-r0', ''),
      source: { ip: 'fd77:1::1', mac: '00-15-5D-12-E2-24' },
      destination: { ip: 'fd77:2::1', mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv6', transport: '59', iana_number: '59' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:86:dd', proto: '86dd' },
        ip: { len: 40, tc: 46, hoplimit: 64, flowlabel: 74565 },
      },
    },
  ],
  // 21: TRACE: raw:PREROUTING:policy:2 IN=rtkl-r0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:24:86:
  [
    21,
    {
      observer: io('rtkl-r0', ''),
      source: { ip: 'fd77:1::1', mac: '00-15-5D-12-E2-24' },
      destination: { ip: 'fd77:2::1', mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv6', transport: 'sctp', iana_number: '132' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:86:dd', proto: '86dd' },
        ip: { len: 52, tc: 0, hoplimit: 64, flowlabel: 0 },
      },
    },
  ],
  // 22: rtkl-mac6: IN=rtkl-r0 OUT= MACSRC=00:15:5d:12:e2:24 MACDST=00:15:5d:12:e2:28 MACPROTO=86dd
  [
    22,
    {
      observer: io('rtkl-r0', ''),
      source: { ip: 'fd77:1::1', port: 54348, mac: '00-15-5D-12-E2-24' },
      destination: { ip: 'fd77:1::fe', port: 53, mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv6', transport: 'udp', iana_number: '17' },
      netfilter: {
        prefix: 'rtkl-mac6: ',
        mark: 0,
        mac: { proto: '86dd' },
        ip: { len: 49, tc: 0, hoplimit: 64, flowlabel: 720129 },
        udp: { length: 9 },
      },
    },
  ],
  // 23: rtkl-opts6: IN=rtkl-r0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:24:86:dd SRC=fd77:0001:00
  [
    23,
    {
      observer: io('rtkl-r0', ''),
      source: { ip: 'fd77:1::1', port: 47567, mac: '00-15-5D-12-E2-24' },
      destination: { ip: 'fd77:1::fe', port: 5355, mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv6', transport: 'udp', iana_number: '17' },
      netfilter: {
        prefix: 'rtkl-opts6: ',
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:86:dd', proto: '86dd' },
        ip: { len: 49, tc: 0, hoplimit: 64, flowlabel: 1047402 },
        udp: { length: 9 },
      },
    },
  ],
];

/** What each line shows. */
const TITLES: Record<number, string> = {
  1: 'TCP SYN leaving: expanded addresses canonicalised, UID/GID',
  2: 'TCP SYN-ACK arriving: ACK SYN flags',
  3: 'ICMPv6 port unreachable with the embedded UDP packet',
  4: 'ICMPv6 echo request: ID/SEQ',
  5: 'MARK=0x4000',
  6: 'ICMPv6 time exceeded with the embedded echo',
  7: 'ICMPv6 packet too big: embedded packet then MTU=',
  8: 'unknown next header: PROTO=253',
  9: 'ICMPv6 parameter problem: POINTER=%08x and the embedded packet',
  10: 'first fragment: OPT ( FRAG:0 INCOMPLETE ID:\u2026 )',
  11: 'middle fragment: byte offset, nothing after PROTO=ICMPv6',
  12: 'last fragment',
  13: 'fragment header without --log-ip-options: no OPT ( ) wrapper',
  14: 'destination options after a non-first fragment end the dump: "OPT ( )"',
  15: 'hop-by-hop, destination options and routing headers: OPT ( ) \u00d7 3',
  16: 'AH extension header: SPI, then TCP',
  17: 'ESP extension header ends the dump',
  18: 'ICMPv6 error carrying an ESP packet: "\u2026)]"',
  19: 'ICMPv6 error carrying a first fragment',
  20: 'no next header: PROTO=59, TC and FLOWLBL',
  21: 'SCTP: PROTO=132',
  22: '--log-macdecode on IPv6',
  23: '-j LOG --log-ip-options --log-uid on IPv6 UDP',
};

describe('genuine IPv6 nf_log records', () => {
  const results = parseFixture('genuine/ipv6.kmsg');
  const lines = fixtureLines('genuine/ipv6.kmsg');

  it('decodes every record, with the uptime of the /dev/kmsg header and no wall clock or host', () => {
    assert.equal(results.length, 26);
    results.forEach((r, i) => {
      const e = event(r);
      const usec = Number(lines[i]!.split(',')[2]);
      assert.deepEqual(e.ruletrail, {
        schema: '1',
        channel: 'kernel-log',
        origin: { file: 'ipv6.kmsg', line: i + 1 },
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

  it('lines 24–26: records cut at the 1016-byte limit keep their whole extension headers, say so', () => {
    for (const line of [24, 25, 26]) {
      const e = event(results[line - 1]);
      const text = lines[line - 1]!;
      // Every complete "OPT ( )" the cut left.
      const whole = text.slice(text.indexOf('OPT ( )')).match(/OPT \( \)/g)!.length;
      assert.equal(Buffer.byteLength(text.slice(text.indexOf(';') + 1)), 1016);
      assert.deepEqual(payload(e), {
        observer: io('rtkl-r0', ''),
        source: { ip: 'fd77:1::1', mac: '00-15-5D-12-E2-24' },
        destination: { ip: 'fd77:2::1', mac: '00-15-5D-12-E2-28' },
        network: { type: 'ipv6' },
        netfilter: {
          prefix: e.netfilter.prefix,
          trace: e.netfilter.trace,
          mark: 0,
          mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:86:dd', proto: '86dd' },
          ip: {
            len: 1040,
            tc: 0,
            hoplimit: 64,
            flowlabel: 0,
            options: Array.from({ length: whole }, () => 'OPT ( )').join(' '),
          },
          truncated: true,
        },
      });
    }
  });
});
