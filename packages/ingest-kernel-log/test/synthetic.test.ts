/**
 * Lines built from the format strings of net/netfilter/nf_log_syslog.c for what the lab could not make the
 * kernel print (no VLAN offload, no SIT, packets the stack refuses before logging, cut headers), plus framing
 * corner cases (raw printk buffer, CONFIG_PRINTK_CALLER, RFC 5424 nil values and BOM, zone abbreviations).
 * See fixtures/README.md for what each line stands for.
 */
import assert from 'node:assert/strict';
import type { NetfilterEvent } from '@ruletrail/event';
import { event, framed, io, parseFixture, payload, type Framed } from './helpers';

type Payload = Omit<NetfilterEvent, 'ruletrail' | 'event' | '@timestamp' | 'host'>;

const EXPECTED: [number, Payload][] = [
  // 1: [  100.000001] vlan-in: IN=eth0 OUT= MACSRC=00:15:5d:12:e2:24 MACDST=00:15:5d:12:e2:28 VPR
  [
    1,
    {
      observer: io('eth0', ''),
      source: { ip: '10.0.0.1', mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.0.0.2', mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'icmp', iana_number: '1' },
      netfilter: {
        prefix: 'vlan-in: ',
        mark: 0,
        mac: { proto: '0800', vproto: '8100', vid: 100 },
        ip: { len: 84, tos: 0, prec: 0, ttl: 64, id: 1, flags: ['DF'] },
        icmp: { type: 8, code: 0, id: 7, seq: 1 },
      },
    },
  ],
  // 2: [  100.000002] TRACE: raw:PREROUTING:policy:2 IN=sit1 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:
  [
    2,
    {
      observer: io('sit1', ''),
      source: { ip: '2001:db8::1', mac: '00-15-5D-12-E2-24' },
      destination: { ip: '2001:db8::2', mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv6', transport: 'ipv6-icmp', iana_number: '58' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: {
          header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00',
          proto: '0800',
          tunnel: '192.0.2.1->192.0.2.2',
        },
        ip: { len: 104, tc: 0, hoplimit: 64, flowlabel: 7 },
        icmp: { type: 128, code: 0, id: 1, seq: 1 },
      },
    },
  ],
  // 3: [  100.000003] TRACE: raw:PREROUTING:policy:2 IN=sit1 OUT= MAC= TUNNEL=192.0.2.1->192.0.2.
  [
    3,
    {
      observer: io('sit1', ''),
      source: { ip: '2001:db8::1' },
      destination: { ip: '2001:db8::2' },
      network: { type: 'ipv6', transport: '59', iana_number: '59' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        mark: 0,
        mac: { header: '', tunnel: '192.0.2.1->192.0.2.2' },
        ip: { len: 104, tc: 0, hoplimit: 64, flowlabel: 7 },
      },
    },
  ],
  // 4: [  100.000004] TRACE: raw:PREROUTING:policy:1 IN=eth0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:
  [
    4,
    {
      observer: io('eth0', ''),
      source: { mac: '00-15-5D-12-E2-24' },
      destination: { mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:1 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 1 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        truncated: true,
      },
    },
  ],
  // 5: [  100.000005] TRACE: raw:PREROUTING:policy:1 IN=eth0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:
  [
    5,
    {
      observer: io('eth0', ''),
      source: { ip: '10.0.0.1', mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.0.0.2', mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:1 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 1 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 60, tos: 0, prec: 0, ttl: 64, id: 4321, flags: [] },
        truncated: true,
      },
    },
  ],
  // 6: [  100.000006] TRACE: raw:PREROUTING:policy:1 IN=eth0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:
  [
    6,
    {
      observer: io('eth0', ''),
      source: { ip: '10.0.0.1', port: 40000, mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.0.0.2', port: 443, mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'tcp', iana_number: '6' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:1 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 1 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 60, tos: 0, prec: 0, ttl: 64, id: 4321, flags: ['DF'] },
        tcp: { seq: 1, ack: 0, window: 64240, res: 0, flags: ['SYN'], urgp: 0, options: 'TRUNCATED' },
        truncated: true,
      },
    },
  ],
  // 7: [  100.000007] TRACE: raw:PREROUTING:policy:1 IN=eth0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:
  [
    7,
    {
      observer: io('eth0', ''),
      source: { ip: '10.0.0.1', mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.0.0.2', mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'icmp', iana_number: '1' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:1 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 1 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 60, tos: 0, prec: 0, ttl: 64, id: 4321, flags: ['DF'] },
        icmp: { type: 3, code: 1 },
        inner: { truncated: true },
      },
    },
  ],
  // 8: [  100.000008] TRACE: raw:PREROUTING:policy:1 IN=eth0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:
  [
    8,
    {
      observer: io('eth0', ''),
      source: { ip: '10.0.0.1', mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.0.0.2', mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'icmp', iana_number: '1' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:1 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 1 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 60, tos: 0, prec: 0, ttl: 64, id: 4321, flags: ['DF'] },
        icmp: { type: 3, code: 3 },
        inner: {
          source: { ip: '10.0.0.2' },
          destination: { ip: '10.0.0.1' },
          transport: 'tcp',
          ip: { len: 52, tos: 0, prec: 0, ttl: 63, id: 99, flags: ['DF'] },
          incomplete: 8,
        },
      },
    },
  ],
  // 9: [  100.000009] TRACE: raw:PREROUTING:policy:1 IN=eth0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:
  [
    9,
    {
      observer: io('eth0', ''),
      source: { ip: '10.0.0.1', mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.0.0.2', mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'icmp', iana_number: '1' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:1 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 1 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 60, tos: 0, prec: 0, ttl: 64, id: 4321, flags: ['DF'] },
        icmp: { type: 11, code: 0 },
        inner: {
          source: { ip: '10.0.0.2', port: 443 },
          destination: { ip: '10.0.0.1', port: 40000 },
          transport: 'tcp',
          ip: { len: 60, tos: 0, prec: 0, ttl: 1, id: 99, flags: ['DF'] },
          tcp: { seq: 7, ack: 8, window: 100, res: 0, flags: ['ACK'], urgp: 0, options: 'TRUNCATED' },
          truncated: true,
        },
      },
    },
  ],
  // 10: [  100.000010] TRACE: raw:PREROUTING:policy:1 IN=eth0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:
  [
    10,
    {
      observer: io('eth0', ''),
      source: { ip: '2001:db8::1', mac: '00-15-5D-12-E2-24' },
      destination: { ip: '2001:db8::2', mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv6', transport: 'ipv6-icmp', iana_number: '58' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:1 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 1 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 104, tc: 0, hoplimit: 64, flowlabel: 7 },
        incomplete: 2,
      },
    },
  ],
  // 11: [  100.000011] TRACE: raw:PREROUTING:policy:1 IN=eth0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:
  [
    11,
    {
      observer: io('eth0', ''),
      source: { ip: '2001:db8::1', mac: '00-15-5D-12-E2-24' },
      destination: { ip: '2001:db8::2', mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv6' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:1 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 1 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 104, tc: 0, hoplimit: 64, flowlabel: 7, options: 'OPT ( FRAG:TRUNCATED' },
        truncated: true,
      },
    },
  ],
  // 12: [  100.000012] TRACE: raw:PREROUTING:policy:1 IN=eth0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:
  [
    12,
    {
      observer: io('eth0', ''),
      source: { ip: '2001:db8::1', mac: '00-15-5D-12-E2-24' },
      destination: { ip: '2001:db8::2', mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv6' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:1 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 1 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 104, tc: 0, hoplimit: 64, flowlabel: 7, options: 'OPT ( Unknown Ext Hdr 139' },
      },
    },
  ],
  // 13: [  100.000013] TRACE: raw:PREROUTING:policy:1 IN=eth0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:
  [
    13,
    {
      observer: io('eth0', ''),
      source: { ip: '10.0.0.1', port: 5000, mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.0.0.2', port: 5001, mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'udplite', iana_number: '136' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:1 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 1 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 60, tos: 0, prec: 0, ttl: 64, id: 4321, flags: ['DF'] },
        udp: { length: 20 },
      },
    },
  ],
  // 14: [  100.000014] TRACE: raw:PREROUTING:policy:1 IN=eth0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:
  [
    14,
    {
      observer: io('eth0', ''),
      source: { ip: '10.0.0.1', mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.0.0.2', mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'esp', iana_number: '50' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:1 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 1 },
        mark: 1,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 60, tos: 0, prec: 0, ttl: 64, id: 4321, flags: ['DF'] },
        incomplete: 4,
      },
    },
  ],
  // 15: [  100.000015] TRACE: raw:PREROUTING:policy:1 IN=eth0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:
  [
    15,
    {
      observer: io('eth0', ''),
      source: { ip: '2001:db8::1', mac: '00-15-5D-12-E2-24' },
      destination: { ip: '2001:db8::2', mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv6' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:1 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 1 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 104, tc: 0, hoplimit: 64, flowlabel: 7, options: 'OPT ( AH INCOMPLETE [4 bytes] )' },
        incomplete: 4,
      },
    },
  ],
  // 16: [  100.000016] TRACE: raw:PREROUTING:policy:1 IN=eth0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:
  [
    16,
    {
      observer: io('eth0', ''),
      source: { ip: '2001:db8::1', mac: '00-15-5D-12-E2-24' },
      destination: { ip: '2001:db8::2', mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv6', transport: 'esp', iana_number: '50' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:1 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 1 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: {
          len: 104,
          tc: 0,
          hoplimit: 64,
          flowlabel: 7,
          id: 4660,
          fragOffset: 1448,
          options: 'OPT ( FRAG:1448 ID:00001234 ) OPT ( ESP )',
        },
      },
    },
  ],
  // 17: [  100.000017] netdev-log: IN=eth0 OUT= MAC=01:80:c2:00:00:0e:00:15:5d:12:e2:24:88:cc
  [
    17,
    {
      observer: io('eth0', ''),
      source: { mac: '00-15-5D-12-E2-24' },
      destination: { mac: '01-80-C2-00-00-0E' },
      network: { type: 'unknown' },
      netfilter: {
        prefix: 'netdev-log: ',
        mark: 0,
        mac: { header: '01:80:c2:00:00:0e:00:15:5d:12:e2:24:88:cc', proto: '88cc' },
      },
    },
  ],
  // 18: [  100.000018] arp-log: IN=eth0 OUT= ARP HTYPE=1 PTYPE=0x0800 OPCODE=1 INCOMPLETE [4 bytes
  [
    18,
    {
      observer: io('eth0', ''),
      network: { type: 'arp' },
      netfilter: { prefix: 'arp-log: ', mark: 0, incomplete: 4 },
    },
  ],
  // 19: [  100.000019] arp-log: IN=ib0 OUT= ARP HTYPE=32 PTYPE=0x0800 OPCODE=1
  [
    19,
    {
      observer: io('ib0', ''),
      network: { type: 'arp' },
      netfilter: { prefix: 'arp-log: ', mark: 0 },
    },
  ],
  // 20: [  100.000020] arp-log: IN=eth0 OUT= TRUNCATED
  [
    20,
    {
      observer: io('eth0', ''),
      network: { type: 'unknown' },
      netfilter: { prefix: 'arp-log: ', mark: 0, truncated: true },
    },
  ],
  // 21: 4TRACE: raw:PREROUTING:policy:3 IN=eth0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00
  [
    21,
    {
      observer: io('eth0', ''),
      source: { ip: '10.0.0.1', port: 5000, mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.0.0.2', port: 53, mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'udp', iana_number: '17' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:3 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 3 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 60, tos: 0, prec: 0, ttl: 64, id: 4321, flags: ['DF'] },
        udp: { length: 40 },
      },
    },
  ],
  // 22: [  351.555539][    T1] TRACE: raw:PREROUTING:policy:3 IN=eth0 OUT= MAC=00:15:5d:12:e2:28:0
  [
    22,
    {
      observer: io('eth0', ''),
      source: { ip: '10.0.0.1', port: 5000, mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.0.0.2', port: 53, mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'udp', iana_number: '17' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:3 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 3 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 60, tos: 0, prec: 0, ttl: 64, id: 4321, flags: ['DF'] },
        udp: { length: 40 },
      },
    },
  ],
  // 23: Jan  1 21:23:16 fw1 kernel: [  351.555539] [UFW BLOCK] IN=eth0 OUT= MAC=00:15:5d:12:e2:28:
  [
    23,
    {
      observer: io('eth0', ''),
      source: { ip: '10.0.0.1', port: 40000, mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.0.0.2', port: 23, mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'tcp', iana_number: '6' },
      netfilter: {
        prefix: '[UFW BLOCK] ',
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 60, tos: 0, prec: 0, ttl: 64, id: 4321, flags: ['DF'] },
        tcp: { window: 64240, res: 0, flags: ['SYN'], urgp: 0 },
      },
    },
  ],
  // 24: Jan  1 21:23:16 fw1 kernel: TRACE: IN=eth0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:24:08
  [
    24,
    {
      observer: io('eth0', ''),
      source: { ip: '10.0.0.1', port: 40000, mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.0.0.2', port: 23, mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'tcp', iana_number: '6' },
      netfilter: {
        prefix: 'TRACE: ',
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 60, tos: 0, prec: 0, ttl: 64, id: 4321, flags: ['DF'] },
        tcp: { window: 64240, res: 0, flags: ['SYN'], urgp: 0 },
      },
    },
  ],
  // 25: <4>1 - - kernel - - - TRACE: raw:PREROUTING:policy:3 IN=eth0 OUT= MAC=00:15:5d:12:e2:28:00
  [
    25,
    {
      observer: io('eth0', ''),
      source: { ip: '10.0.0.1', port: 5000, mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.0.0.2', port: 53, mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'udp', iana_number: '17' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:3 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 3 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 60, tos: 0, prec: 0, ttl: 64, id: 4321, flags: ['DF'] },
        udp: { length: 40 },
      },
    },
  ],
  // 26: <4>1 2026-11-27T09:47:18Z fw1 kernel - - - TRACE: raw:PREROUTING:policy:3 IN=eth0 OUT= MAC
  [
    26,
    {
      observer: io('eth0', ''),
      source: { ip: '10.0.0.1', port: 5000, mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.0.0.2', port: 53, mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'udp', iana_number: '17' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:3 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 3 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 60, tos: 0, prec: 0, ttl: 64, id: 4321, flags: ['DF'] },
        udp: { length: 40 },
      },
    },
  ],
  // 27: [  100.000027] TRACE: raw:PREROUTING:policy:1 IN=eth0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:
  [
    27,
    {
      observer: io('eth0', ''),
      source: { ip: '10.0.0.1', mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.0.0.2', mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'icmp', iana_number: '1' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:1 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 1 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 60, tos: 0, prec: 0, ttl: 64, id: 4321, flags: ['DF'] },
        icmp: { type: 13, code: 0 },
      },
    },
  ],
  // 28: [  100.000028] TRACE: raw:PREROUTING:policy:1 IN=eth0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:
  [
    28,
    {
      observer: io('eth0', ''),
      source: { ip: '10.0.0.1', mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.0.0.2', mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'ah', iana_number: '51' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:1 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 1 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 60, tos: 0, prec: 0, ttl: 64, id: 4321, flags: ['DF'] },
        incomplete: 4,
      },
    },
  ],
  // 29: [  100.000029] TRACE: raw:OUTPUT:policy:1 IN= OUT=eth0 SRC=10.0.0.1 DST=10.0.0.2 LEN=18500
  [
    29,
    {
      observer: io('', 'eth0'),
      source: { ip: '10.0.0.1', port: 40000 },
      destination: { ip: '10.0.0.2', port: 443 },
      network: { type: 'ipv4', transport: 'tcp', iana_number: '6' },
      user: { id: '1000' },
      group: { id: '1000' },
      netfilter: {
        prefix: 'TRACE: raw:OUTPUT:policy:1 ',
        trace: { table: 'raw', chain: 'OUTPUT', kind: 'policy', rulenum: 1 },
        mark: 4294967295,
        ip: { len: 185000, tos: 0, prec: 0, ttl: 64, id: 0, flags: ['DF'] },
        tcp: { seq: 1, ack: 2, window: 512, res: 0, flags: ['ACK', 'PSH'], urgp: 0 },
      },
    },
  ],
  // 30: kern  :warn  : TRACE: raw:PREROUTING:policy:3 IN=eth0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:
  [
    30,
    {
      observer: io('eth0', ''),
      source: { ip: '10.0.0.1', port: 5000, mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.0.0.2', port: 53, mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'udp', iana_number: '17' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:3 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 3 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 60, tos: 0, prec: 0, ttl: 64, id: 4321, flags: ['DF'] },
        udp: { length: 40 },
      },
    },
  ],
  // 31: <4>Nov 07 09:47:18 kernel: TRACE: raw:PREROUTING:policy:3 IN=eth0 OUT= MAC=00:15:5d:12:e2:
  [
    31,
    {
      observer: io('eth0', ''),
      source: { ip: '10.0.0.1', port: 5000, mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.0.0.2', port: 53, mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'udp', iana_number: '17' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:3 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 3 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 60, tos: 0, prec: 0, ttl: 64, id: 4321, flags: ['DF'] },
        udp: { length: 40 },
      },
    },
  ],
  // 32: Fri 2026-11-27 10:47:18 CET fw1 kernel: TRACE: raw:PREROUTING:policy:3 IN=eth0 OUT= MAC=00
  [
    32,
    {
      observer: io('eth0', ''),
      source: { ip: '10.0.0.1', port: 5000, mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.0.0.2', port: 53, mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'udp', iana_number: '17' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:3 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 3 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 60, tos: 0, prec: 0, ttl: 64, id: 4321, flags: ['DF'] },
        udp: { length: 40 },
      },
    },
  ],
  // 33: [  100.000033] TRACE: filter:a:b=c/ü:return:12 IN=eth0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d
  [
    33,
    {
      observer: io('eth0', ''),
      source: { ip: '10.0.0.1', port: 5000, mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.0.0.2', port: 53, mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'udp', iana_number: '17' },
      netfilter: {
        prefix: 'TRACE: filter:a:b=c/ü:return:12 ',
        trace: { table: 'filter', chain: 'a:b=c/ü', kind: 'return', rulenum: 12 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 60, tos: 0, prec: 0, ttl: 64, id: 4321, flags: ['DF'] },
        udp: { length: 40 },
      },
    },
  ],
];

/** Framing and prefix of every line, in order. */
const FRAMED: Framed[] = [
  { uptime: 100.000001, prefix: 'vlan-in: ' },
  { uptime: 100.000002, prefix: 'TRACE: raw:PREROUTING:policy:2 ' },
  { uptime: 100.000003, prefix: 'TRACE: raw:PREROUTING:policy:2 ' },
  { uptime: 100.000004, prefix: 'TRACE: raw:PREROUTING:policy:1 ' },
  { uptime: 100.000005, prefix: 'TRACE: raw:PREROUTING:policy:1 ' },
  { uptime: 100.000006, prefix: 'TRACE: raw:PREROUTING:policy:1 ' },
  { uptime: 100.000007, prefix: 'TRACE: raw:PREROUTING:policy:1 ' },
  { uptime: 100.000008, prefix: 'TRACE: raw:PREROUTING:policy:1 ' },
  { uptime: 100.000009, prefix: 'TRACE: raw:PREROUTING:policy:1 ' },
  { uptime: 100.00001, prefix: 'TRACE: raw:PREROUTING:policy:1 ' },
  { uptime: 100.000011, prefix: 'TRACE: raw:PREROUTING:policy:1 ' },
  { uptime: 100.000012, prefix: 'TRACE: raw:PREROUTING:policy:1 ' },
  { uptime: 100.000013, prefix: 'TRACE: raw:PREROUTING:policy:1 ' },
  { uptime: 100.000014, prefix: 'TRACE: raw:PREROUTING:policy:1 ' },
  { uptime: 100.000015, prefix: 'TRACE: raw:PREROUTING:policy:1 ' },
  { uptime: 100.000016, prefix: 'TRACE: raw:PREROUTING:policy:1 ' },
  { uptime: 100.000017, prefix: 'netdev-log: ' },
  { uptime: 100.000018, prefix: 'arp-log: ' },
  { uptime: 100.000019, prefix: 'arp-log: ' },
  { uptime: 100.00002, prefix: 'arp-log: ' },
  { prefix: 'TRACE: raw:PREROUTING:policy:3 ' },
  { uptime: 351.555539, prefix: 'TRACE: raw:PREROUTING:policy:3 ' },
  { ts: '2026-01-01T21:23:16+00:00', host: 'fw1', uptime: 351.555539, noYear: true, prefix: '[UFW BLOCK] ' },
  { ts: '2026-01-01T21:23:16+00:00', host: 'fw1', noYear: true, prefix: 'TRACE: ' },
  { prefix: 'TRACE: raw:PREROUTING:policy:3 ' },
  { ts: '2026-11-27T09:47:18Z', host: 'fw1', prefix: 'TRACE: raw:PREROUTING:policy:3 ' },
  { uptime: 100.000027, prefix: 'TRACE: raw:PREROUTING:policy:1 ' },
  { uptime: 100.000028, prefix: 'TRACE: raw:PREROUTING:policy:1 ' },
  { uptime: 100.000029, prefix: 'TRACE: raw:OUTPUT:policy:1 ' },
  { prefix: 'TRACE: raw:PREROUTING:policy:3 ' },
  { ts: '2026-11-07T09:47:18+00:00', noYear: true, prefix: 'TRACE: raw:PREROUTING:policy:3 ' },
  { ts: '2026-11-27T10:47:18+01:00', host: 'fw1', prefix: 'TRACE: raw:PREROUTING:policy:3 ' },
  { uptime: 100.000033, prefix: 'TRACE: filter:a:b=c/ü:return:12 ' },
];

/** What each line stands for. */
const TITLES: Record<number, string> = {
  1: 'VLAN: VPROTO/VID with MAC decoding',
  2: 'SIT device: MAC= header then TUNNEL=',
  3: 'SIT device, link-layer bytes unreachable: empty MAC=, TUNNEL=',
  4: 'IP header unreadable: TRUNCATED right after the link layer',
  5: 'IP options unreadable: TRUNCATED, no transport',
  6: 'TCP options unreadable: OPT (TRUNCATED)',
  7: 'ICMP error with an unreadable embedded header: [TRUNCATED]',
  8: 'ICMP error with a cut embedded TCP header',
  9: 'ICMP error whose embedded TCP options are unreadable',
  10: 'ICMPv6 header cut: INCOMPLETE, no trailer',
  11: 'IPv6 fragment header unreadable: FRAG:TRUNCATED',
  12: 'unknown IPv6 extension header',
  13: 'UDP-Lite',
  14: 'ESP header cut, then MARK (the trailer still follows)',
  15: 'IPv6 AH header cut',
  16: 'IPv6 ESP after a non-first fragment: "OPT ( ESP )"',
  17: 'neither IP nor ARP (netdev/bridge logger): link layer only',
  18: 'ARP payload cut',
  19: 'ARP over a non-Ethernet link: no payload',
  20: 'ARP header unreadable',
  21: 'raw printk buffer: <SOH><level> before the prefix',
  22: 'CONFIG_PRINTK_CALLER stamp',
  23: 'UFW-style prefix behind a printk stamp in syslog',
  24: 'a --log-prefix that is literally "TRACE: "',
  25: 'RFC 5424 with nil timestamp and hostname',
  26: 'RFC 5424 with a BOM before MSG',
  27: 'ICMP type with nothing after TYPE/CODE',
  28: 'IPv4 AH header cut',
  29: 'BIG TCP length, UID/GID, MARK=0xffffffff',
  30: 'dmesg -x -t',
  31: 'forwarded RFC 3164 with a zero-padded day and no HOSTNAME',
  32: 'journald short-full with a zone abbreviation (CET)',
  33: 'chain name with ":", "=", "/" and non-ASCII',
};

describe('synthetic nf_log lines (kernel format strings the lab cannot trigger)', () => {
  const results = parseFixture('synthetic/kernel-formats.log');

  it('decodes every line; framing fields and prefixes are exact', () => {
    assert.deepEqual(results.map(framed), FRAMED);
  });

  it('sets the dataset from the prefix: a --log-prefix "TRACE: " is a packet log, not a TRACE step', () => {
    const datasets = results.map((r) => event(r).event.dataset);
    assert.equal(datasets[0], 'netfilter.log');
    assert.equal(datasets[23], 'netfilter.log');
    assert.equal(event(results[23]).netfilter.trace, undefined);
    assert.equal(datasets[24], 'netfilter.trace');
  });

  for (const [line, expected] of EXPECTED) {
    it(`line ${line}: ${TITLES[line] ?? 'payload'}`, () => {
      assert.deepEqual(payload(event(results[line - 1])), expected);
    });
  }
});
