/**
 * Genuine records, produced by the kernel in network namespaces (see fixtures/README.md): every payload
 * field the kernel prints for IPv4 (TCP, UDP, ICMP, AH/ESP,
 * fragments, options, errors), checked exactly. The records are `/dev/kmsg` records, so the
 * uptime comes from the record header.
 */
import assert from 'node:assert/strict';
import { event, fixtureLines, io, parseFixture, payload } from './helpers';
import type { NetfilterEvent } from '@ruletrail/event';

type Payload = Omit<NetfilterEvent, 'ruletrail' | 'event' | '@timestamp' | 'host'>;

const EXPECTED: [number, Payload][] = [
  // 1: TRACE: raw:OUTPUT:policy:2 IN= OUT=rtkl-a0 SRC=10.77.1.1 DST=10.77.2.1 LEN=60 TOS=0x00 PRE
  [
    1,
    {
      observer: io('', 'rtkl-a0'),
      source: { ip: '10.77.1.1', port: 47520 },
      destination: { ip: '10.77.2.1', port: 52000 },
      network: { type: 'ipv4', transport: 'tcp', iana_number: '6' },
      user: { id: '65534' },
      group: { id: '65534' },
      netfilter: {
        prefix: 'TRACE: raw:OUTPUT:policy:2 ',
        trace: { table: 'raw', chain: 'OUTPUT', kind: 'policy', rulenum: 2 },
        mark: 0,
        ip: { len: 60, tos: 0, prec: 0, ttl: 64, id: 8233, flags: ['DF'] },
        tcp: {
          seq: 56055966,
          ack: 0,
          window: 64480,
          res: 0,
          flags: ['SYN'],
          urgp: 0,
          options: '020404D80402080A1A97D8BA000000000103030A',
        },
      },
    },
  ],
  // 2: TRACE: raw:PREROUTING:policy:2 IN=rtkl-r0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:
  [
    2,
    {
      observer: io('rtkl-r0', ''),
      source: { ip: '10.77.1.1', port: 47520, mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.77.2.1', port: 52000, mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'tcp', iana_number: '6' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 60, tos: 0, prec: 0, ttl: 64, id: 8233, flags: ['DF'] },
        tcp: {
          seq: 56055966,
          ack: 0,
          window: 64480,
          res: 0,
          flags: ['SYN'],
          urgp: 0,
          options: '020404D80402080A1A97D8BA000000000103030A',
        },
      },
    },
  ],
  // 3: TRACE: filter:FORWARD:rule:1 IN=rtkl-r0 OUT=rtkl-r1 MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:2
  [
    3,
    {
      observer: io('rtkl-r0', 'rtkl-r1'),
      source: { ip: '10.77.1.1', port: 47520, mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.77.2.1', port: 52000, mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'tcp', iana_number: '6' },
      netfilter: {
        prefix: 'TRACE: filter:FORWARD:rule:1 ',
        trace: { table: 'filter', chain: 'FORWARD', kind: 'rule', rulenum: 1 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 57, tos: 0, prec: 0, ttl: 63, id: 8235, flags: ['DF'] },
        tcp: {
          seq: 56055967,
          ack: 895508989,
          window: 63,
          res: 0,
          flags: ['ACK', 'PSH'],
          urgp: 0,
          options: '0101080A1A97D8BB8B933FD7',
        },
      },
    },
  ],
  // 4: rtkl-out: IN= OUT=rtkl-b0 SRC=10.77.2.1 DST=10.77.1.1 LEN=52 TOS=0x00 PREC=0x00 TTL=64 ID=
  [
    4,
    {
      observer: io('', 'rtkl-b0'),
      source: { ip: '10.77.2.1', port: 52000 },
      destination: { ip: '10.77.1.1', port: 47520 },
      network: { type: 'ipv4', transport: 'tcp', iana_number: '6' },
      user: { id: '0' },
      group: { id: '0' },
      netfilter: {
        prefix: 'rtkl-out: ',
        mark: 0,
        ip: { len: 52, tos: 0, prec: 0, ttl: 64, id: 9738, flags: ['DF'] },
        tcp: { seq: 895508989, ack: 56055972, window: 64, res: 0, flags: ['ACK'], urgp: 0 },
      },
    },
  ],
  // 5: TRACE: raw:PREROUTING:policy:2 IN=rtkl-r0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:
  [
    5,
    {
      observer: io('rtkl-r0', ''),
      source: { ip: '10.77.1.1', port: 40000, mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.77.2.1', port: 52000, mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'tcp', iana_number: '6' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 40, tos: 0, prec: 0, ttl: 64, id: 4242, flags: [] },
        tcp: {
          seq: 12345,
          ack: 99,
          window: 65535,
          res: 8,
          flags: ['AE', 'CWR', 'ECE', 'URG', 'ACK', 'PSH', 'RST', 'SYN', 'FIN'],
          urgp: 7,
        },
      },
    },
  ],
  // 6: TRACE: raw:PREROUTING:policy:2 IN=rtkl-r0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:
  [
    6,
    {
      observer: io('rtkl-r0', ''),
      source: { ip: '10.77.1.1', port: 40000, mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.77.2.1', port: 52000, mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'tcp', iana_number: '6' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 40, tos: 0, prec: 0, ttl: 64, id: 4242, flags: ['CE', 'DF'] },
        tcp: { seq: 1, ack: 0, window: 65535, res: 0, flags: ['SYN'], urgp: 0 },
      },
    },
  ],
  // 7: TRACE: raw:PREROUTING:policy:2 IN=rtkl-r0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:
  [
    7,
    {
      observer: io('rtkl-r0', ''),
      source: { ip: '10.77.1.1', port: 40000, mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.77.2.1', port: 52000, mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'tcp', iana_number: '6' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: {
          len: 120,
          tos: 0,
          prec: 0,
          ttl: 64,
          id: 4242,
          flags: [],
          options: '01010101010101010101010101010101010101010101010101010101010101010101010101010100',
        },
        tcp: {
          seq: 1,
          ack: 0,
          window: 65535,
          res: 0,
          flags: ['SYN'],
          urgp: 0,
          options: '020405B40402080A1122334455667788010303070101010101010101010101010101010101010101',
        },
      },
    },
  ],
  // 8: TRACE: raw:OUTPUT:policy:2 IN= OUT=rtkl-a0 SRC=10.77.1.1 DST=10.77.2.1 LEN=124 TOS=0x00 PR
  [
    8,
    {
      observer: io('', 'rtkl-a0'),
      source: { ip: '10.77.1.1' },
      destination: { ip: '10.77.2.1' },
      network: { type: 'ipv4', transport: 'icmp', iana_number: '1' },
      user: { id: '0' },
      group: { id: '0' },
      netfilter: {
        prefix: 'TRACE: raw:OUTPUT:policy:2 ',
        trace: { table: 'raw', chain: 'OUTPUT', kind: 'policy', rulenum: 2 },
        mark: 0,
        ip: {
          len: 124,
          tos: 0,
          prec: 0,
          ttl: 64,
          id: 44375,
          flags: ['DF'],
          options: '010727080A4D01010000000000000000000000000000000000000000000000000000000000000000',
        },
        icmp: { type: 8, code: 0, id: 15569, seq: 1 },
      },
    },
  ],
  // 9: TRACE: raw:PREROUTING:policy:2 IN=rtkl-r0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:
  [
    9,
    {
      observer: io('rtkl-r0', ''),
      source: { ip: '10.77.1.1', mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.77.2.1', mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'icmp', iana_number: '1' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 1276, tos: 0, prec: 0, ttl: 64, id: 44283, flags: ['MF'] },
        icmp: { type: 8, code: 0, id: 15460, seq: 1 },
      },
    },
  ],
  // 10: TRACE: raw:PREROUTING:policy:2 IN=rtkl-r0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:
  [
    10,
    {
      observer: io('rtkl-r0', ''),
      source: { ip: '10.77.1.1', mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.77.2.1', mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'icmp', iana_number: '1' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 1276, tos: 0, prec: 0, ttl: 64, id: 44283, flags: ['MF'], fragOffset: 1256 },
      },
    },
  ],
  // 11: TRACE: raw:PREROUTING:policy:2 IN=rtkl-r0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:
  [
    11,
    {
      observer: io('rtkl-r0', ''),
      source: { ip: '10.77.1.1', mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.77.2.1', mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'icmp', iana_number: '1' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 516, tos: 0, prec: 0, ttl: 64, id: 44283, flags: [], fragOffset: 2512 },
      },
    },
  ],
  // 12: TRACE: raw:PREROUTING:policy:2 IN=rtkl-r0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:
  [
    12,
    {
      observer: io('rtkl-r0', ''),
      source: { ip: '10.77.1.1', mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.77.2.1', mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'tcp', iana_number: '6' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 36, tos: 0, prec: 0, ttl: 64, id: 4242, flags: ['MF'], fragOffset: 24 },
      },
    },
  ],
  // 13: TRACE: raw:PREROUTING:policy:2 IN=rtkl-r0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:
  [
    13,
    {
      observer: io('rtkl-r0', ''),
      source: { ip: '10.77.1.1', mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.77.2.1', mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'tcp', iana_number: '6' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 24, tos: 0, prec: 0, ttl: 64, id: 4242, flags: [] },
        incomplete: 4,
      },
    },
  ],
  // 14: TRACE: raw:PREROUTING:policy:2 IN=rtkl-r0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:
  [
    14,
    {
      observer: io('rtkl-r0', ''),
      source: { ip: '10.77.1.1', mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.77.2.1', mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'udp', iana_number: '17' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 22, tos: 0, prec: 0, ttl: 64, id: 4242, flags: [] },
        incomplete: 2,
      },
    },
  ],
  // 15: TRACE: raw:PREROUTING:policy:2 IN=rtkl-r0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:
  [
    15,
    {
      observer: io('rtkl-r0', ''),
      source: { ip: '10.77.1.1', mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.77.2.1', mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'icmp', iana_number: '1' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 21, tos: 0, prec: 0, ttl: 64, id: 4242, flags: [] },
        incomplete: 1,
      },
    },
  ],
  // 16: TRACE: raw:PREROUTING:policy:2 IN=rtkl-r0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:
  [
    16,
    {
      observer: io('rtkl-r0', ''),
      source: { ip: '10.77.1.1', mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.77.2.1', mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'icmp', iana_number: '1' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 28, tos: 0, prec: 0, ttl: 64, id: 4242, flags: [] },
        icmp: { type: 3, code: 1 },
        incomplete: 8,
      },
    },
  ],
  // 17: TRACE: raw:OUTPUT:policy:2 IN= OUT=rtkl-a0 SRC=10.77.1.1 DST=10.77.2.1 LEN=36 TOS=0x00 PRE
  [
    17,
    {
      observer: io('', 'rtkl-a0'),
      source: { ip: '10.77.1.1', port: 46305 },
      destination: { ip: '10.77.2.1', port: 5000 },
      network: { type: 'ipv4', transport: 'udp', iana_number: '17' },
      user: { id: '0' },
      group: { id: '0' },
      netfilter: {
        prefix: 'TRACE: raw:OUTPUT:policy:2 ',
        trace: { table: 'raw', chain: 'OUTPUT', kind: 'policy', rulenum: 2 },
        mark: 0,
        ip: { len: 36, tos: 0, prec: 0, ttl: 64, id: 58604, flags: ['DF'] },
        udp: { length: 16 },
      },
    },
  ],
  // 18: TRACE: raw:PREROUTING:policy:2 IN=rtkl-a0 OUT= MAC=00:15:5d:12:e2:24:00:15:5d:12:e2:28:08:
  [
    18,
    {
      observer: io('rtkl-a0', ''),
      source: { ip: '10.77.2.1', mac: '00-15-5D-12-E2-28' },
      destination: { ip: '10.77.1.1', mac: '00-15-5D-12-E2-24' },
      network: { type: 'ipv4', transport: 'icmp', iana_number: '1' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:24:00:15:5d:12:e2:28:08:00', proto: '0800' },
        ip: { len: 64, tos: 0, prec: 192, ttl: 63, id: 45011, flags: [] },
        icmp: { type: 3, code: 3 },
        inner: {
          source: { ip: '10.77.1.1', port: 46305 },
          destination: { ip: '10.77.2.1', port: 5000 },
          transport: 'udp',
          ip: { len: 36, tos: 0, prec: 0, ttl: 63, id: 58604, flags: ['DF'] },
          udpLength: 16,
        },
      },
    },
  ],
  // 19: TRACE: raw:OUTPUT:policy:2 IN= OUT=rtkl-a0 SRC=10.77.1.1 DST=10.77.2.1 LEN=84 TOS=0x00 PRE
  [
    19,
    {
      observer: io('', 'rtkl-a0'),
      source: { ip: '10.77.1.1' },
      destination: { ip: '10.77.2.1' },
      network: { type: 'ipv4', transport: 'icmp', iana_number: '1' },
      user: { id: '0' },
      group: { id: '0' },
      netfilter: {
        prefix: 'TRACE: raw:OUTPUT:policy:2 ',
        trace: { table: 'raw', chain: 'OUTPUT', kind: 'policy', rulenum: 2 },
        mark: 0,
        ip: { len: 84, tos: 0, prec: 0, ttl: 64, id: 44112, flags: ['DF'] },
        icmp: { type: 8, code: 0, id: 15454, seq: 1 },
      },
    },
  ],
  // 20: TRACE: mangle:PREROUTING:rule:1 IN=rtkl-r0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:24:08
  [
    20,
    {
      observer: io('rtkl-r0', ''),
      source: { ip: '10.77.1.1', mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.77.2.1', mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'icmp', iana_number: '1' },
      netfilter: {
        prefix: 'TRACE: mangle:PREROUTING:rule:1 ',
        trace: { table: 'mangle', chain: 'PREROUTING', kind: 'rule', rulenum: 1 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 84, tos: 0, prec: 0, ttl: 64, id: 44112, flags: ['DF'] },
        icmp: { type: 8, code: 0, id: 15454, seq: 1 },
      },
    },
  ],
  // 21: TRACE: mangle:cali-fw:x/y:rule:1 IN=rtkl-r0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:24:0
  [
    21,
    {
      observer: io('rtkl-r0', ''),
      source: { ip: '10.77.1.1', mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.77.2.1', mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'icmp', iana_number: '1' },
      netfilter: {
        prefix: 'TRACE: mangle:cali-fw:x/y:rule:1 ',
        trace: { table: 'mangle', chain: 'cali-fw:x/y', kind: 'rule', rulenum: 1 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 84, tos: 0, prec: 0, ttl: 64, id: 44112, flags: ['DF'] },
        icmp: { type: 8, code: 0, id: 15454, seq: 1 },
      },
    },
  ],
  // 22: TRACE: mangle:cali-fw:x/y:return:2 IN=rtkl-r0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:24
  [
    22,
    {
      observer: io('rtkl-r0', ''),
      source: { ip: '10.77.1.1', mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.77.2.1', mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'icmp', iana_number: '1' },
      netfilter: {
        prefix: 'TRACE: mangle:cali-fw:x/y:return:2 ',
        trace: { table: 'mangle', chain: 'cali-fw:x/y', kind: 'return', rulenum: 2 },
        mark: 32768,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 84, tos: 0, prec: 0, ttl: 64, id: 44112, flags: ['DF'] },
        icmp: { type: 8, code: 0, id: 15454, seq: 1 },
      },
    },
  ],
  // 23: TRACE: raw:PREROUTING:policy:2 IN=rtkl-a0 OUT= MAC=00:15:5d:12:e2:24:00:15:5d:12:e2:28:08:
  [
    23,
    {
      observer: io('rtkl-a0', ''),
      source: { ip: '10.77.1.254', mac: '00-15-5D-12-E2-28' },
      destination: { ip: '10.77.1.1', mac: '00-15-5D-12-E2-24' },
      network: { type: 'ipv4', transport: 'icmp', iana_number: '1' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:24:00:15:5d:12:e2:28:08:00', proto: '0800' },
        ip: { len: 112, tos: 0, prec: 192, ttl: 64, id: 15799, flags: [] },
        icmp: { type: 11, code: 0 },
        inner: {
          source: { ip: '10.77.1.1' },
          destination: { ip: '10.77.2.1' },
          transport: 'icmp',
          ip: { len: 84, tos: 0, prec: 0, ttl: 1, id: 44113, flags: ['DF'] },
          icmp: { type: 8, code: 0, id: 15456, seq: 1 },
        },
      },
    },
  ],
  // 24: TRACE: raw:PREROUTING:policy:2 IN=rtkl-a0 OUT= MAC=00:15:5d:12:e2:24:00:15:5d:12:e2:28:08:
  [
    24,
    {
      observer: io('rtkl-a0', ''),
      source: { ip: '10.77.1.254', mac: '00-15-5D-12-E2-28' },
      destination: { ip: '10.77.1.1', mac: '00-15-5D-12-E2-24' },
      network: { type: 'ipv4', transport: 'icmp', iana_number: '1' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:24:00:15:5d:12:e2:28:08:00', proto: '0800' },
        ip: { len: 112, tos: 0, prec: 192, ttl: 64, id: 16006, flags: [] },
        icmp: { type: 5, code: 1, gateway: '10.77.1.5' },
        inner: {
          source: { ip: '10.77.1.1' },
          destination: { ip: '10.77.1.5' },
          transport: 'icmp',
          ip: { len: 84, tos: 0, prec: 0, ttl: 63, id: 20473, flags: ['DF'] },
          icmp: { type: 8, code: 0, id: 15463, seq: 1 },
        },
      },
    },
  ],
  // 25: TRACE: raw:PREROUTING:policy:2 IN=rtkl-r0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:
  [
    25,
    {
      observer: io('rtkl-r0', ''),
      source: { ip: '10.77.1.1', mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.77.1.254', mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'icmp', iana_number: '1' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 32, tos: 0, prec: 0, ttl: 64, id: 4242, flags: [], options: '07030200' },
        icmp: { type: 8, code: 0, id: 1, seq: 1 },
      },
    },
  ],
  // 26: TRACE: raw:PREROUTING:policy:2 IN=rtkl-a0 OUT= MAC=00:15:5d:12:e2:24:00:15:5d:12:e2:28:08:
  [
    26,
    {
      observer: io('rtkl-a0', ''),
      source: { ip: '10.77.1.254', mac: '00-15-5D-12-E2-28' },
      destination: { ip: '10.77.1.1', mac: '00-15-5D-12-E2-24' },
      network: { type: 'ipv4', transport: 'icmp', iana_number: '1' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:24:00:15:5d:12:e2:28:08:00', proto: '0800' },
        ip: { len: 60, tos: 0, prec: 192, ttl: 64, id: 16565, flags: [] },
        icmp: { type: 12, code: 0, parameter: 22 },
      },
    },
  ],
  // 27: TRACE: raw:PREROUTING:policy:2 IN=rtkl-r0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:
  [
    27,
    {
      observer: io('rtkl-r0', ''),
      source: { ip: '10.77.1.1', mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.77.2.1', mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'esp', iana_number: '50' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 44, tos: 0, prec: 0, ttl: 64, id: 4242, flags: [] },
        spi: 4096,
      },
    },
  ],
  // 28: TRACE: raw:PREROUTING:policy:2 IN=rtkl-a0 OUT= MAC=00:15:5d:12:e2:24:00:15:5d:12:e2:28:08:
  [
    28,
    {
      observer: io('rtkl-a0', ''),
      source: { ip: '10.77.2.1', mac: '00-15-5D-12-E2-28' },
      destination: { ip: '10.77.1.1', mac: '00-15-5D-12-E2-24' },
      network: { type: 'ipv4', transport: 'icmp', iana_number: '1' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:24:00:15:5d:12:e2:28:08:00', proto: '0800' },
        ip: { len: 72, tos: 0, prec: 192, ttl: 63, id: 45495, flags: [] },
        icmp: { type: 3, code: 2 },
        inner: {
          source: { ip: '10.77.1.1' },
          destination: { ip: '10.77.2.1' },
          transport: 'esp',
          ip: { len: 44, tos: 0, prec: 0, ttl: 63, id: 4242, flags: [] },
        },
      },
    },
  ],
  // 29: TRACE: raw:PREROUTING:policy:2 IN=rtkl-r0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:
  [
    29,
    {
      observer: io('rtkl-r0', ''),
      source: { ip: '10.77.1.1', mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.77.2.1', mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'ah', iana_number: '51' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 64, tos: 0, prec: 0, ttl: 64, id: 4242, flags: [] },
        spi: 12648430,
      },
    },
  ],
  // 30: TRACE: raw:PREROUTING:policy:2 IN=rtkl-r0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:
  [
    30,
    {
      observer: io('rtkl-r0', ''),
      source: { ip: '10.77.1.1', mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.77.2.1', mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'esp', iana_number: '50' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 36, tos: 0, prec: 0, ttl: 64, id: 4242, flags: [], fragOffset: 16 },
      },
    },
  ],
  // 31: TRACE: raw:PREROUTING:policy:2 IN=rtkl-r0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:
  [
    31,
    {
      observer: io('rtkl-r0', ''),
      source: { ip: '10.77.1.1', mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.77.2.1', mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 36, tos: 0, prec: 0, ttl: 64, id: 4242, flags: [], fragOffset: 16 },
      },
    },
  ],
  // 32: TRACE: raw:PREROUTING:policy:2 IN=rtkl-r0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:
  [
    32,
    {
      observer: io('rtkl-r0', ''),
      source: { ip: '10.77.1.1', mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.77.2.1', mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'sctp', iana_number: '132' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 32, tos: 0, prec: 0, ttl: 64, id: 4242, flags: [] },
      },
    },
  ],
  // 33: TRACE: raw:PREROUTING:policy:2 IN=rtkl-r0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:
  [
    33,
    {
      observer: io('rtkl-r0', ''),
      source: { ip: '10.77.1.1', mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.77.2.1', mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'gre', iana_number: '47' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 44, tos: 0, prec: 0, ttl: 64, id: 4242, flags: [] },
      },
    },
  ],
  // 34: TRACE: raw:OUTPUT:policy:2 IN= OUT=rtkl-b0 SRC=10.77.2.1 DST=10.77.1.1 LEN=72 TOS=0x00 PRE
  [
    34,
    {
      observer: io('', 'rtkl-b0'),
      source: { ip: '10.77.2.1' },
      destination: { ip: '10.77.1.1' },
      network: { type: 'ipv4', transport: 'icmp', iana_number: '1' },
      netfilter: {
        prefix: 'TRACE: raw:OUTPUT:policy:2 ',
        trace: { table: 'raw', chain: 'OUTPUT', kind: 'policy', rulenum: 2 },
        mark: 0,
        ip: { len: 72, tos: 0, prec: 192, ttl: 64, id: 45486, flags: [] },
        icmp: { type: 3, code: 2 },
        inner: {
          source: { ip: '10.77.1.1' },
          destination: { ip: '10.77.2.1' },
          transport: 'gre',
          ip: { len: 44, tos: 0, prec: 0, ttl: 63, id: 4242, flags: [] },
        },
      },
    },
  ],
  // 35: TRACE: raw:PREROUTING:policy:2 IN=rtkl-a0 OUT= MAC=00:15:5d:12:e2:24:00:15:5d:12:e2:28:08:
  [
    35,
    {
      observer: io('rtkl-a0', ''),
      source: { ip: '10.77.1.254', mac: '00-15-5D-12-E2-28' },
      destination: { ip: '10.77.1.1', mac: '00-15-5D-12-E2-24' },
      network: { type: 'ipv4', transport: 'icmp', iana_number: '1' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:24:00:15:5d:12:e2:28:08:00', proto: '0800' },
        ip: { len: 576, tos: 0, prec: 192, ttl: 64, id: 17962, flags: [] },
        icmp: { type: 3, code: 4, mtu: 1280 },
        inner: {
          source: { ip: '10.77.1.1', port: 5000 },
          destination: { ip: '10.77.2.1', port: 5001 },
          transport: 'udp',
          ip: { len: 1400, tos: 0, prec: 0, ttl: 64, id: 4242, flags: ['DF'] },
          udpLength: 1380,
        },
      },
    },
  ],
  // 36: rtkl-mac: IN=rtkl-r0 OUT= MACSRC=00:15:5d:12:e2:24 MACDST=00:15:5d:12:e2:28 MACPROTO=0800
  [
    36,
    {
      observer: io('rtkl-r0', ''),
      source: { ip: '10.77.1.1', port: 34960, mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.77.1.254', port: 53, mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'udp', iana_number: '17' },
      netfilter: {
        prefix: 'rtkl-mac: ',
        mark: 0,
        mac: { proto: '0800' },
        ip: { len: 29, tos: 0, prec: 0, ttl: 64, id: 12906, flags: ['DF'] },
        udp: { length: 9 },
      },
    },
  ],
  // 37: IN=rtkl-r0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00 SRC=10.77.1.1 DST=10.77.1.25
  [
    37,
    {
      observer: io('rtkl-r0', ''),
      source: { ip: '10.77.1.1', port: 41018, mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.77.1.254', port: 5353, mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'udp', iana_number: '17' },
      netfilter: {
        prefix: '',
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 29, tos: 0, prec: 0, ttl: 64, id: 12926, flags: ['DF'] },
        udp: { length: 9 },
      },
    },
  ],
  // 38: rtkl-drop:IN=rtkl-r0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00 SRC=10.77.1.1 DST=
  [
    38,
    {
      observer: io('rtkl-r0', ''),
      source: { ip: '10.77.1.1', port: 37559, mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.77.1.254', port: 5354, mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'udp', iana_number: '17' },
      netfilter: {
        prefix: 'rtkl-drop:',
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 29, tos: 0, prec: 0, ttl: 64, id: 12949, flags: ['DF'] },
        udp: { length: 9 },
      },
    },
  ],
  // 39: rtkl-opts: IN=rtkl-r0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00 SRC=10.77.1.1 DST
  [
    39,
    {
      observer: io('rtkl-r0', ''),
      source: { ip: '10.77.1.1', port: 58641, mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.77.1.254', port: 5355, mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'udp', iana_number: '17' },
      netfilter: {
        prefix: 'rtkl-opts: ',
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 29, tos: 0, prec: 0, ttl: 64, id: 12955, flags: ['DF'] },
        udp: { length: 9 },
      },
    },
  ],
];

/** What each line shows. */
const TITLES: Record<number, string> = {
  1: 'TCP SYN leaving (OUTPUT): SEQ/ACK, TCP options, UID/GID, empty IN',
  2: 'TCP SYN arriving: MAC header \u2192 source/destination MAC, ethertype',
  3: 'forwarded TCP ACK PSH: IN and OUT',
  4: '-j LOG without --log-tcp-options: SEQ present, no OPT, UID=0',
  5: 'all TCP flag words including AE, RES, URGP',
  6: 'IP flags CE and DF',
  7: '40 bytes of IP options and 40 bytes of TCP options',
  8: 'IP options (record route) before PROTO, ICMP echo ID/SEQ',
  9: 'first fragment (MF), ICMP header present',
  10: 'middle fragment: FRAG:157 \u2192 1256 bytes, nothing after PROTO=ICMP',
  11: 'last fragment: FRAG:314 \u2192 2512 bytes',
  12: 'TCP non-first fragment: PROTO=TCP and nothing else',
  13: 'TCP INCOMPLETE [4 bytes]',
  14: 'UDP INCOMPLETE [2 bytes]',
  15: 'ICMP INCOMPLETE [1 bytes]',
  16: 'ICMP destination unreachable cut before the embedded header',
  17: 'UDP with its LEN (the second LEN=)',
  18: 'ICMP port unreachable with the embedded UDP packet',
  19: 'ICMP echo request leaving, UID/GID',
  20: 'ICMP echo in a built-in chain',
  21: 'user chain whose name has ":" and "/"',
  22: 'MARK=0x8000 after the mangle rule set it',
  23: 'ICMP time exceeded with an embedded ICMP echo (a second ID/SEQ)',
  24: 'ICMP redirect: GATEWAY= then the embedded packet',
  25: 'malformed IP option bytes, logged as they are',
  26: 'ICMP parameter problem: PARAMETER=',
  27: 'ESP SPI',
  28: 'ICMP error carrying an ESP packet (SPI not kept for the embedded packet)',
  29: 'AH SPI',
  30: 'ESP non-first fragment: PROTO=ESP only',
  31: 'AH non-first fragment: no PROTO at all',
  32: 'SCTP: PROTO=132 (the kernel prints no ports)',
  33: 'GRE: PROTO=47',
  34: 'ICMP error carrying a GRE packet',
  35: 'fragmentation needed: embedded packet then MTU=',
  36: '--log-macdecode: MACSRC/MACDST/MACPROTO',
  37: '-j LOG with no prefix at all',
  38: 'a prefix without a trailing space',
  39: '-j LOG with every flag on a UDP packet',
};

describe('genuine IPv4 nf_log records', () => {
  const results = parseFixture('genuine/ipv4.kmsg');
  const lines = fixtureLines('genuine/ipv4.kmsg');

  it('decodes every record, with the uptime of the /dev/kmsg header and no wall clock or host', () => {
    assert.equal(results.length, 39);
    results.forEach((r, i) => {
      const e = event(r);
      const usec = Number(lines[i]!.split(',')[2]);
      assert.deepEqual(e.ruletrail, {
        schema: '1',
        channel: 'kernel-log',
        origin: { file: 'ipv4.kmsg', line: i + 1 },
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
