import assert from 'node:assert/strict';
import { canonicalIpv6, parsePrefix, splitTos, tcpFlags, tcpRes } from '@ruletrail/core';
import { decodeIpv4, decodeIpv6, ipv6String, toInnerPacket } from '../src/index';
import { hex, icmp, ipv4, ipv6, tcp, udp, be16, be32 } from './fixture-builder';

// The write-up's SYN: OPT (020405B40402080ACCEE00200000000001030307)
const SYN_OPTS = hex('020405B40402080ACCEE00200000000001030307');

describe('ip-packet: IPv4 like nf_log_syslog.c', () => {
  it('decodes a TCP SYN with options into the kernel fields', () => {
    const p = ipv4({
      src: '172.28.129.2',
      dst: '172.28.129.4',
      proto: 6,
      id: 41569,
      tos: 0xb8 | 0x01, // DSCP EF + ECN bit: TOS=0x18 PREC=0xA0, ECN not logged
      payload: tcp({
        sport: 55694,
        dport: 52000,
        seq: 2805899841,
        flags: 0x02,
        window: 29200,
        options: SYN_OPTS,
      }),
    });
    const f = decodeIpv4(p, 0, p.length);
    assert.deepEqual(f, {
      source: { ip: '172.28.129.2', port: 55694 },
      destination: { ip: '172.28.129.4', port: 52000 },
      transport: 'tcp',
      ianaNumber: '6',
      ip: { len: 60, tos: 0x18, prec: 0xa0, ttl: 64, id: 41569, flags: ['DF'] },
      tcp: {
        seq: 2805899841,
        ack: 0,
        window: 29200,
        res: 0,
        flags: ['SYN'],
        urgp: 0,
        options: '020405B40402080ACCEE00200000000001030307',
      },
    });
  });

  it('prints IP options as uppercase hex, CE/DF/MF in kernel order and FRAG in bytes', () => {
    const p = ipv4({
      proto: 17,
      fragOff: 0x8000 | 0x2000 | 0x0003,
      options: hex('01010100'),
      payload: Buffer.alloc(8),
    });
    const f = decodeIpv4(p, 0, p.length);
    assert.deepEqual(f.ip, {
      len: 32,
      tos: 0,
      prec: 0,
      ttl: 64,
      id: 0x1234,
      flags: ['CE', 'MF'],
      fragOffset: 24,
      options: '01010100',
    });
    // a non-first fragment has no transport header: nothing after PROTO
    assert.equal(f.transport, 'udp');
    assert.equal(f.source.port, undefined);
    assert.equal(f.udpLength, undefined);
  });

  it('decodes all TCP flags with AE, RES and URGP', () => {
    const p = ipv4({ proto: 6, payload: tcp({ sport: 1, dport: 2, flags: 0xff, res: 0x0f, urgp: 7 }) });
    const f = decodeIpv4(p, 0, p.length);
    assert.deepEqual(f.tcp, {
      seq: 1000,
      ack: 0,
      window: 29200,
      res: 0x38,
      flags: ['AE', 'CWR', 'ECE', 'URG', 'ACK', 'PSH', 'RST', 'SYN', 'FIN'],
      urgp: 7,
    });
  });

  it('reports INCOMPLETE and OPT (TRUNCATED) like the kernel', () => {
    const full = ipv4({ proto: 6, payload: tcp({ sport: 1, dport: 2, flags: 2, options: SYN_OPTS }) });
    // cut inside the fixed TCP header: INCOMPLETE [10 bytes]
    let f = decodeIpv4(full, 0, 30);
    assert.equal(f.incomplete, 10);
    assert.equal(f.tcp, undefined);
    // cut inside the options: OPT (TRUNCATED)
    f = decodeIpv4(full, 0, 45);
    assert.equal(f.tcp?.options, 'TRUNCATED');
    // cut inside the IP header: TRUNCATED, nothing else
    f = decodeIpv4(full, 0, 12);
    assert.deepEqual(f, { source: {}, destination: {}, ip: {}, truncated: true });
  });

  it('decodes UDP and UDPLITE with the UDP length', () => {
    const p = ipv4({ proto: 17, payload: udp(5353, 53, Buffer.from('hello')) });
    const f = decodeIpv4(p, 0, p.length);
    assert.deepEqual([f.source.port, f.destination.port, f.udpLength, f.transport], [5353, 53, 13, 'udp']);
    const l = ipv4({ proto: 136, payload: udp(1, 2, Buffer.alloc(0)) });
    assert.equal(decodeIpv4(l, 0, l.length).transport, 'udplite');
  });

  it('decodes ICMP echo id/seq', () => {
    const p = ipv4({
      proto: 1,
      payload: icmp(8, 0, Buffer.concat([be16(0x1234), be16(1)]), Buffer.from('ping')),
    });
    assert.deepEqual(decodeIpv4(p, 0, p.length).icmp, { type: 8, code: 0, id: 0x1234, seq: 1 });
  });

  it('decodes an ICMP error with the inner packet one level deep, MTU and GATEWAY', () => {
    const inner = ipv4({
      src: '10.0.0.2',
      dst: '10.0.0.9',
      proto: 17,
      id: 7,
      payload: udp(40000, 9, Buffer.from('closed')),
    });
    const err = ipv4({
      src: '10.0.0.9',
      dst: '10.0.0.2',
      proto: 1,
      payload: icmp(3, 4, Buffer.concat([be16(0), be16(1400)]), inner.subarray(0, 28)),
    });
    const f = decodeIpv4(err, 0, err.length);
    assert.deepEqual(f.icmp, { type: 3, code: 4, mtu: 1400 });
    assert.deepEqual(toInnerPacket(f.inner!), {
      source: { ip: '10.0.0.2', port: 40000 },
      destination: { ip: '10.0.0.9', port: 9 },
      transport: 'udp',
      ip: { len: 34, tos: 0, prec: 0, ttl: 64, id: 7, flags: ['DF'] },
      udpLength: 14,
    });
    const redirect = ipv4({ proto: 1, payload: icmp(5, 1, hex('0a000001'), inner.subarray(0, 28)) });
    assert.equal(decodeIpv4(redirect, 0, redirect.length).icmp?.gateway, '10.0.0.1');
    const param = ipv4({ proto: 1, payload: icmp(12, 0, hex('14000000'), inner.subarray(0, 28)) });
    assert.deepEqual(decodeIpv4(param, 0, param.length).icmp, { type: 12, code: 0, parameter: 20 });
  });

  it('does not recurse into an ICMP error inside an ICMP error', () => {
    const innermost = ipv4({ proto: 17, payload: udp(1, 2, Buffer.alloc(0)) });
    const mid = ipv4({ proto: 1, payload: icmp(3, 3, Buffer.alloc(4), innermost) });
    const outer = ipv4({ proto: 1, payload: icmp(11, 0, Buffer.alloc(4), mid) });
    const f = decodeIpv4(outer, 0, outer.length);
    assert.deepEqual(f.inner?.icmp, { type: 3, code: 3 });
    assert.equal(f.inner?.inner, undefined);
  });

  it('reports INCOMPLETE for an ICMP error shorter than 8 + 20 bytes', () => {
    const p = ipv4({ proto: 1, payload: icmp(3, 3, Buffer.alloc(4), Buffer.alloc(10)) });
    const f = decodeIpv4(p, 0, p.length);
    assert.equal(f.incomplete, 18);
    assert.deepEqual(f.icmp, { type: 3, code: 3 });
  });

  it('decodes AH/ESP SPI and SCTP ports; other protocols by number', () => {
    const ah = ipv4({ proto: 51, payload: Buffer.concat([hex('06040000'), be32(0x100), be32(1)]) });
    assert.deepEqual(
      [decodeIpv4(ah, 0, ah.length).spi, decodeIpv4(ah, 0, ah.length).transport],
      [0x100, 'ah'],
    );
    const esp = ipv4({ proto: 50, payload: Buffer.concat([be32(0xdeadbeef), be32(1)]) });
    assert.equal(decodeIpv4(esp, 0, esp.length).spi, 0xdeadbeef);
    const sctp = ipv4({ proto: 132, payload: Buffer.concat([be16(3868), be16(3869), Buffer.alloc(8)]) });
    const s = decodeIpv4(sctp, 0, sctp.length);
    assert.deepEqual([s.transport, s.source.port, s.destination.port], ['sctp', 3868, 3869]);
    const gre = ipv4({ proto: 47, payload: Buffer.alloc(4) });
    assert.deepEqual(
      [decodeIpv4(gre, 0, gre.length).transport, decodeIpv4(gre, 0, gre.length).ianaNumber],
      ['gre', '47'],
    );
  });
});

describe('ip-packet: IPv6 like nf_log_syslog.c', () => {
  it('decodes TC, flow label, hop limit, LEN = payload + 40 and compresses addresses', () => {
    const p = ipv6({
      src: 'fd00:231:0:0:0:0:0:1',
      dst: 'fd00:231::2',
      next: 58,
      tc: 0xb8,
      flow: 0x12345,
      hop: 63,
      payload: icmp(128, 0, Buffer.concat([be16(0x4321), be16(7)])),
    });
    const f = decodeIpv6(p, 0, p.length);
    assert.deepEqual(f, {
      source: { ip: 'fd00:231::1' },
      destination: { ip: 'fd00:231::2' },
      transport: 'ipv6-icmp',
      ianaNumber: '58',
      ip: { len: 48, tc: 0xb8, hoplimit: 63, flowlabel: 0x12345 },
      icmp: { type: 128, code: 0, id: 0x4321, seq: 7 },
    });
  });

  it('walks extension headers: hop-by-hop (empty OPT), fragment (FRAG bytes, INCOMPLETE, ID)', () => {
    const frag = Buffer.concat([Buffer.from([17, 0]), be16((0 << 3) | 1), be32(0xabcd)]);
    const hbh = Buffer.concat([Buffer.from([44, 0]), Buffer.alloc(6)]);
    const p = ipv6({ next: 0, payload: Buffer.concat([hbh, frag, udp(1, 5353, Buffer.alloc(4))]) });
    const f = decodeIpv6(p, 0, p.length);
    assert.deepEqual(f.ip, {
      len: 68,
      tc: 0,
      hoplimit: 64,
      flowlabel: 0,
      fragOffset: 0,
      fragIncomplete: true,
      id: 0xabcd,
      options: 'OPT ( ) OPT ( FRAG:0 INCOMPLETE ID:0000abcd )',
    });
    assert.deepEqual([f.transport, f.source.port, f.destination.port, f.udpLength], ['udp', 1, 5353, 12]);
  });

  it('stops at the transport of a non-first fragment', () => {
    const frag = Buffer.concat([Buffer.from([6, 0]), be16(1448), be32(5)]);
    const p = ipv6({ next: 44, payload: Buffer.concat([frag, Buffer.alloc(20)]) });
    const f = decodeIpv6(p, 0, p.length);
    assert.equal(f.ip.fragOffset, 1448);
    assert.equal(f.ip.fragIncomplete, undefined);
    assert.equal(f.transport, 'tcp');
    assert.equal(f.tcp, undefined);
  });

  it('prints AH and ESP SPIs inside OPT and stops after ESP', () => {
    const ah = Buffer.concat([Buffer.from([50, 1]), be16(0), be32(0x200), be32(1)]);
    const esp = Buffer.concat([be32(0x300), be32(1)]);
    const p = ipv6({ next: 51, payload: Buffer.concat([ah, esp]) });
    const f = decodeIpv6(p, 0, p.length);
    assert.equal(f.ip.options, 'OPT ( AH SPI=0x200 ) OPT ( ESP SPI=0x300 )');
    assert.equal(f.spi, 0x300);
    assert.equal(f.transport, 'esp');
  });

  it('decodes ICMPv6 packet-too-big with MTU and the inner packet; parameter problem POINTER', () => {
    const inner = ipv6({
      src: 'fd00::2',
      dst: 'fd00::9',
      next: 6,
      payload: tcp({ sport: 443, dport: 50000, flags: 0x18 }).subarray(0, 8),
      plen: 1400,
    });
    const p = ipv6({ next: 58, payload: icmp(2, 0, be32(1280), inner) });
    const f = decodeIpv6(p, 0, p.length);
    assert.deepEqual(f.icmp, { type: 2, code: 0, mtu: 1280 });
    assert.deepEqual(toInnerPacket(f.inner!), {
      source: { ip: 'fd00::2' },
      destination: { ip: 'fd00::9' },
      transport: 'tcp',
      ip: { len: 1440, tc: 0, hoplimit: 64, flowlabel: 0 },
      incomplete: 8,
    });
    const pp = ipv6({ next: 58, payload: icmp(4, 0, be32(40), inner) });
    assert.equal(decodeIpv6(pp, 0, pp.length).icmp?.parameter, 40);
  });

  it('marks a header cut short as TRUNCATED', () => {
    const p = ipv6({ next: 6, payload: Buffer.alloc(0) });
    assert.deepEqual(decodeIpv6(p, 0, 30), { source: {}, destination: {}, ip: {}, truncated: true });
    assert.equal(decodeIpv6(p, 0, p.length).incomplete, 0);
  });
});

describe('netfilter text helpers', () => {
  it('parses TRACE prefixes and refuses malformed ones', () => {
    assert.deepEqual(parsePrefix('TRACE: raw:PREROUTING:policy:3 '), {
      kind: 'trace',
      trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 3 },
    });
    assert.deepEqual(parsePrefix('TRACE: mangle:cali-from-host-endpoint:return:1 '), {
      kind: 'trace',
      trace: { table: 'mangle', chain: 'cali-from-host-endpoint', kind: 'return', rulenum: 1 },
    });
    assert.deepEqual(parsePrefix('DROP-IN: '), { kind: 'log' });
    assert.equal(parsePrefix('TRACE: raw:PREROUTING:policy ').kind, 'bad-trace');
    assert.equal(parsePrefix('TRACE: raw:PREROUTING:jump:1 ').kind, 'bad-trace');
    assert.equal(parsePrefix('TRACE: raw:PREROUTING:rule:0 ').kind, 'bad-trace');
  });
  it('splits TOS like the kernel and orders TCP flags', () => {
    assert.deepEqual(splitTos(0xff), { tos: 0x1e, prec: 0xe0 });
    assert.deepEqual(tcpFlags(0x00, 0x12), ['ACK', 'SYN']);
    assert.equal(tcpRes(0x5f), 0x38);
  });
});

describe('ip-packet: IPv6 text', () => {
  it('writes RFC 5952 text exactly as core canonicalIpv6 does', () => {
    let seed = 7;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
    for (let n = 0; n < 5000; n++) {
      const b = Buffer.alloc(16);
      // mostly zero groups, so every run length and position shows up
      for (let g = 0; g < 8; g++) if (rnd() % 3 === 0) b.writeUInt16BE(rnd() & 0xffff, g * 2);
      const text = Array.from({ length: 8 }, (_, g) => b.readUInt16BE(g * 2).toString(16)).join(':');
      assert.equal(ipv6String(b, 0), canonicalIpv6(text), text);
    }
  });
});
