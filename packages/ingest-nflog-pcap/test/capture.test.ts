import assert from 'node:assert/strict';
import { UsageError } from '@ruletrail/core';
import { createNflogPcapAdapter, nflogPcapAdapter, sniffNflogCapture } from '../src/index';
import {
  be16,
  be32,
  chunked,
  collect,
  hex,
  icmp,
  ipv4,
  ipv6,
  nflogRecord,
  pcapFile,
  pcapngBlock,
  pcapngEpb,
  pcapngIdb,
  pcapngShb,
  pcapngSpb,
  tcp,
  tlv,
  udp,
  type Endian,
  type NflogSpec,
} from './fixture-builder';

const SYN = ipv4({
  src: '172.28.129.2',
  dst: '172.28.129.4',
  proto: 6,
  id: 41569,
  payload: tcp({
    sport: 55694,
    dport: 52000,
    seq: 2805899841,
    flags: 0x02,
    window: 29200,
    options: hex('020405B40402080ACCEE00200000000001030307'),
  }),
});
const MAC = hex('00155d12e228 00155d12e224 0800');

/** The write-up's first TRACE step, as NFLOG would carry it. */
function synSpec(): NflogSpec {
  return {
    family: 2,
    hook: 0,
    prefix: 'TRACE: raw:PREROUTING:policy:3 ',
    ifIn: 2,
    mark: 0x4000,
    hwType: 1,
    hwHeader: MAC,
    hwAddr: hex('00155d12e224'),
    time: [1672887866, 620815],
    seq: 5,
    seqGlobal: 9,
    payload: SYN,
  };
}

/** The event every byte-order/format variant of synSpec() must produce (only origin differs). */
function expectedSyn(file: string, offset: number): object {
  return {
    '@timestamp': '2023-01-05T03:04:26.620815Z',
    ruletrail: { schema: '1', channel: 'nflog-pcap', origin: { file, offset } },
    event: { kind: 'event', dataset: 'netfilter.trace' },
    network: { type: 'ipv4', transport: 'tcp', iana_number: '6' },
    source: { ip: '172.28.129.2', port: 55694, mac: '00-15-5D-12-E2-24' },
    destination: { ip: '172.28.129.4', port: 52000, mac: '00-15-5D-12-E2-28' },
    netfilter: {
      prefix: 'TRACE: raw:PREROUTING:policy:3 ',
      trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 3 },
      ip: { len: 60, tos: 0, prec: 0, ttl: 64, id: 41569, flags: ['DF'] },
      tcp: {
        seq: 2805899841,
        ack: 0,
        window: 29200,
        res: 0,
        flags: ['SYN'],
        urgp: 0,
        options: '020405B40402080ACCEE00200000000001030307',
      },
      mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
      mark: 0x4000,
      hook: 0,
      group: 0,
      ifindex: { in: 2 },
      seq: { local: 5, global: 9 },
      degraded: ['observer.ingress.interface.name', 'observer.egress.interface.name'],
    },
  };
}

const ENDIANS: Endian[] = ['le', 'be'];

describe('nflog-pcap: pcap variants', () => {
  for (const e of ENDIANS)
    for (const ns of [false, true])
      it(`decodes a ${e.toUpperCase()} ${ns ? 'ns' : 'µs'} pcap, one byte at a time too`, async () => {
        const rec = nflogRecord(synSpec(), e);
        const file = pcapFile([{ data: rec, sec: 1, frac: 5 }, { data: rec }], e, { ns });
        for (const chunks of [[file], chunked(file, 1), chunked(file, 7)]) {
          const out = await collect(nflogPcapAdapter, chunks, { file: 'x.pcap' });
          assert.deepEqual(out.errors, []);
          assert.equal(out.events.length, 2);
          assert.deepEqual(out.events[0], expectedSyn('x.pcap', 24));
          assert.deepEqual(out.events[1], expectedSyn('x.pcap', 24 + 16 + rec.length));
        }
      });

  it('uses the record time (µs or ns) when TLV 3 is absent', async () => {
    const spec = { ...synSpec(), time: undefined };
    for (const [ns, frac, want] of [
      [false, 620815, '2023-01-05T03:04:26.620815Z'],
      [true, 620815123, '2023-01-05T03:04:26.620815123Z'],
    ] as const) {
      const file = pcapFile([{ data: nflogRecord(spec, 'le'), sec: 1672887866, frac }], 'le', { ns });
      const out = await collect(nflogPcapAdapter, [file], { file: 'x.pcap' });
      assert.equal(out.events[0]!['@timestamp'], want);
    }
  });

  it('sets truncated when the capture cut the record (snaplen) and when NFLOG copied a short payload', async () => {
    const rec = nflogRecord({ ...synSpec(), payload: SYN.subarray(0, 40) }, 'le');
    const out = await collect(nflogPcapAdapter, [pcapFile([{ data: rec, origLen: rec.length + 20 }], 'le')], {
      file: 'x.pcap',
    });
    assert.equal(out.events[0]!.netfilter.truncated, true);
    assert.equal(out.events[0]!.netfilter.tcp!.options, 'TRUNCATED');
  });
});

describe('nflog-pcap: pcapng variants', () => {
  for (const e of ENDIANS)
    it(`decodes ${e.toUpperCase()} pcapng with several interfaces, ns and 2^-n resolutions, SPB and unknown blocks`, async () => {
      const rec = nflogRecord({ ...synSpec(), time: undefined }, e);
      const blocks = [
        pcapngShb(e),
        pcapngIdb(1, e), // an Ethernet interface: its packets are skipped
        pcapngIdb(239, e, 9), // NFLOG, ns
        pcapngIdb(239, e, 0x80 | 20, 10), // NFLOG, 2^-20 s, +10 s offset
        pcapngBlock(0x0bad, Buffer.alloc(8, 1), e), // unknown block
        pcapngBlock(5, Buffer.alloc(12), e), // interface statistics
        pcapngEpb(0, 1n, Buffer.alloc(60), e),
        pcapngEpb(1, 1672887866620815123n, rec, e),
        pcapngEpb(2, (1672887866n << 20n) | (1n << 19n), rec, e),
      ];
      const file = Buffer.concat(blocks);
      const out = await collect(nflogPcapAdapter, chunked(file, 13), { file: 'x.pcapng' });
      assert.deepEqual(out.errors, []);
      assert.equal(out.skipped, 3);
      assert.equal(out.events.length, 2);
      assert.equal(out.events[0]!['@timestamp'], '2023-01-05T03:04:26.620815123Z');
      assert.equal(out.events[1]!['@timestamp'], '2023-01-05T03:04:36.500000Z');
      const offset = blocks.slice(0, 7).reduce((n, b) => n + b.length, 0);
      assert.deepEqual(
        { ...out.events[0], '@timestamp': undefined },
        { ...expectedSyn('x.pcapng', offset), '@timestamp': undefined },
      );
    });

  it('restarts byte order at a second section; a simple packet block has no time', async () => {
    const rec = nflogRecord({ ...synSpec(), time: undefined }, 'le');
    const recBe = nflogRecord({ ...synSpec(), time: undefined }, 'be');
    const file = Buffer.concat([
      pcapngShb('le'),
      pcapngIdb(239, 'le'),
      pcapngSpb(rec, 'le'),
      pcapngShb('be'),
      pcapngIdb(239, 'be'),
      pcapngEpb(0, 1672887866620815n, recBe, 'be'),
    ]);
    const out = await collect(nflogPcapAdapter, [file], { file: 'y.pcapng' });
    assert.deepEqual(out.errors, []);
    assert.equal(out.events.length, 2);
    assert.equal(out.events[0]!['@timestamp'], undefined);
    assert.equal(out.events[1]!['@timestamp'], '2023-01-05T03:04:26.620815Z');
    assert.equal(out.events[1]!.netfilter.tcp!.options, '020405B40402080ACCEE00200000000001030307');
  });
});

describe('nflog-pcap: every TLV', () => {
  it('maps uid/gid, outdev, physdevs, prefix-less logs, VLAN; skips CT, CT_INFO, L2HDR and unknown TLVs', async () => {
    const e: Endian = 'le';
    const spec: NflogSpec = {
      family: 2,
      hook: 3,
      group: 7,
      ifOut: 3,
      physIn: 4,
      physOut: 5,
      uid: 1000,
      gid: 100,
      payload: ipv4({ proto: 17, src: '10.0.0.1', dst: '10.0.0.2', payload: udp(1000, 53, Buffer.alloc(4)) }),
      extra: [
        tlv(18 | 0x8000, Buffer.concat([be16(8), be16(1), be32(1)]), e),
        tlv(19, be32(2), e),
        tlv(
          20 | 0x8000,
          Buffer.concat(
            [be16(6), be16(1), be16(0x8100), be16(0), be16(6), be16(2), be16(0x2064), be16(0)].map((b, i) =>
              i < 4 ? b : b,
            ),
          ),
          e,
        ),
        tlv(21, hex('ffffffffffff 001122334455 8100'), e),
        tlv(99, Buffer.from('future'), e),
      ],
    };
    // VLAN nested attributes are in host order like the outer TLVs
    spec.extra![2] = tlv(20 | 0x8000, Buffer.concat([tlv(1, be16(0x8100), e), tlv(2, be16(0x2064), e)]), e);
    const adapter = createNflogPcapAdapter({ ifNames: { '3': 'eth1', '4': 'veth-a', '5': 'veth-b' } });
    const out = await collect(
      adapter,
      [pcapFile([{ data: nflogRecord(spec, e), sec: 1700000000, frac: 1 }], e)],
      { file: 'z.pcap', host: 'node-1' },
    );
    assert.deepEqual(out.errors, []);
    assert.deepEqual(out.events[0], {
      '@timestamp': '2023-11-14T22:13:20.000001Z',
      ruletrail: { schema: '1', channel: 'nflog-pcap', origin: { file: 'z.pcap', offset: 24 } },
      event: { kind: 'event', dataset: 'netfilter.log' },
      host: { name: 'node-1' },
      observer: { ingress: { interface: { name: '' } }, egress: { interface: { name: 'eth1' } } },
      network: { type: 'ipv4', transport: 'udp', iana_number: '17' },
      source: { ip: '10.0.0.1', port: 1000 },
      destination: { ip: '10.0.0.2', port: 53 },
      user: { id: '1000' },
      group: { id: '100' },
      netfilter: {
        ip: { len: 32, tos: 0, prec: 0, ttl: 64, id: 0x1234, flags: ['DF'] },
        udp: { length: 12 },
        mac: { vid: 0x064, vproto: '8100' },
        mark: 0,
        hook: 3,
        group: 7,
        ifindex: { out: 3, physin: 4, physout: 5 },
        physin: 'veth-a',
        physout: 'veth-b',
      },
    });
  });

  it('decodes IPv6 and bridge-family records, and ICMP errors into netfilter.inner', async () => {
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
      payload: icmp(3, 3, Buffer.alloc(4), inner.subarray(0, 28)),
    });
    const v6 = ipv6({
      src: 'fd00::1',
      dst: 'fd00::2',
      next: 58,
      payload: icmp(128, 0, Buffer.concat([be16(1), be16(2)])),
    });
    const recs = [
      nflogRecord({ family: 2, prefix: 'TRACE: filter:OUTPUT:rule:1 ', payload: err }, 'le'),
      nflogRecord({ family: 10, prefix: 'TRACE: raw:PREROUTING:policy:2 ', payload: v6 }, 'le'),
      nflogRecord({ family: 7, hwProtocol: 0x86dd, prefix: 'br: ', payload: v6 }, 'le'),
      nflogRecord({ family: 7, hwProtocol: 0x88cc, prefix: 'lldp: ', payload: Buffer.alloc(10) }, 'le'),
    ];
    const out = await collect(
      nflogPcapAdapter,
      [
        pcapFile(
          recs.map((data) => ({ data })),
          'le',
        ),
      ],
      { file: 'i.pcap' },
    );
    assert.deepEqual(out.errors, []);
    assert.deepEqual(out.events[0]!.netfilter.inner, {
      source: { ip: '10.0.0.2', port: 40000 },
      destination: { ip: '10.0.0.9', port: 9 },
      transport: 'udp',
      ip: { len: 34, tos: 0, prec: 0, ttl: 64, id: 7, flags: ['DF'] },
      udpLength: 14,
    });
    assert.deepEqual(out.events[1]!.netfilter.icmp, { type: 128, code: 0, id: 1, seq: 2 });
    assert.deepEqual(
      [out.events[2]!.network, out.events[2]!.event.dataset],
      [{ type: 'ipv6', transport: 'ipv6-icmp', iana_number: '58' }, 'netfilter.log'],
    );
    assert.equal(out.events[3]!.network.type, 'bridge');
  });
});

describe('nflog-pcap: options', () => {
  it('keeps the record as hex with keepOriginal, and takes the ifindex map as a Map too', async () => {
    const rec = nflogRecord({ ...synSpec(), ifOut: 3 }, 'le');
    const adapter = createNflogPcapAdapter({ ifNames: new Map([[2, 'eth0']]) });
    const out = await collect(adapter, [pcapFile([{ data: rec }], 'le')], {
      file: 'k.pcap',
      keepOriginal: true,
    });
    assert.equal(out.events[0]!.event.original, rec.toString('hex'));
    // index 3 is not in the map: its name stays unknown rather than made up
    assert.deepEqual(out.events[0]!.observer, { ingress: { interface: { name: 'eth0' } } });
    assert.equal(out.events[0]!.netfilter.degraded, undefined);
  });
});

describe('nflog-pcap: corrupt input', () => {
  const good = (): Buffer => nflogRecord(synSpec(), 'le');

  it('refuses files that are not pcap, and pcaps of another link type', async () => {
    await assert.rejects(
      collect(nflogPcapAdapter, [Buffer.from('not a capture at all')], { file: 'a.txt' }),
      (e: Error) => e instanceof UsageError && /not a pcap or pcapng file/.test(e.message),
    );
    await assert.rejects(
      collect(nflogPcapAdapter, [pcapFile([], 'le', { linkType: 1 })], { file: 'eth.pcap' }),
      (e: Error) => e instanceof UsageError && /link type 1 is not LINKTYPE_NFLOG/.test(e.message),
    );
  });

  it('reports a bad record with its offset and keeps decoding the rest', async () => {
    const rec = good();
    const badLen = Buffer.from(rec);
    badLen.writeUInt16LE(2, 4); // first TLV length 2 < 4
    const overrun = Buffer.from(rec);
    overrun.writeUInt16LE(0x400, 4); // first TLV runs past the record
    const badMark = nflogRecord({ ...synSpec(), extra: [tlv(2, Buffer.alloc(3), 'le')] }, 'le');
    const badVersion = Buffer.from(rec);
    badVersion[1] = 1;
    const badPrefix = nflogRecord({ ...synSpec(), prefix: 'TRACE: raw:PREROUTING ' }, 'le');
    const notV4 = nflogRecord({ ...synSpec(), payload: ipv6({ next: 59, payload: Buffer.alloc(0) }) }, 'le');
    const cut = rec.subarray(0, rec.length - 3); // the payload TLV claims more than the record holds
    const records = [badLen, rec, overrun, badMark, badVersion, badPrefix, notV4, cut, rec];
    const file = pcapFile(
      records.map((data) => ({ data })),
      'le',
    );
    const offsets: number[] = [];
    let o = 24;
    for (const r of records) {
      offsets.push(o);
      o += 16 + r.length;
    }
    const out = await collect(nflogPcapAdapter, chunked(file, 100), { file: 'bad.pcap' });
    assert.equal(out.events.length, 2);
    assert.deepEqual(
      out.events.map((e) => e.ruletrail.origin.offset),
      [offsets[1], offsets[8]],
    );
    assert.deepEqual(
      out.errors.map((e) => [e.code, e.position, e.reason.replace(/ \(at offset \d+\)/, '')]),
      [
        [
          'RT_ERR_NFLOG_MALFORMED',
          { file: 'bad.pcap', offset: offsets[0] },
          'corrupt NFLOG record: TLV length 2 is smaller than its own 4-byte header',
        ],
        [
          'RT_ERR_NFLOG_MALFORMED',
          { file: 'bad.pcap', offset: offsets[2] },
          `truncated NFLOG record: TLV PACKET_HDR (length 1024): needs 1024 bytes at offset ${offsets[2]! + 16 + 4}, only ${rec.length - 4} left`,
        ],
        [
          'RT_ERR_NFLOG_MALFORMED',
          { file: 'bad.pcap', offset: offsets[3] },
          'corrupt NFLOG record: TLV MARK value is 3 bytes, expected 4',
        ],
        [
          'RT_ERR_NFLOG_MALFORMED',
          { file: 'bad.pcap', offset: offsets[4] },
          'corrupt NFLOG record: NFLOG header version 1 (expected 0)',
        ],
        [
          'RT_ERR_TRACE_PREFIX',
          { file: 'bad.pcap', offset: offsets[5] },
          'TRACE prefix is not "TRACE: table:chain:kind:rulenum": "TRACE: raw:PREROUTING "',
        ],
        [
          'RT_ERR_NFLOG_MALFORMED',
          { file: 'bad.pcap', offset: offsets[6] },
          'family is IPv4 but the payload starts with IP version 6',
        ],
        [
          'RT_ERR_NFLOG_MALFORMED',
          { file: 'bad.pcap', offset: offsets[7] },
          `truncated NFLOG record: TLV PAYLOAD (length 64): needs 64 bytes at offset ${offsets[7]! + 16 + rec.length - 64}, only 61 left`,
        ],
      ],
    );
    assert.ok(
      out.errors
        .filter((e) => e.code === 'RT_ERR_NFLOG_MALFORMED')
        .every((e) => e.record !== undefined && /^[0-9a-f]+$/.test(e.record)),
    );
    assert.equal(out.errors[4]!.record, 'TRACE: raw:PREROUTING ');
  });

  it('reports a file cut inside a record, and an impossible record length once', async () => {
    const file = pcapFile([{ data: good() }, { data: good() }], 'le');
    const cut = await collect(nflogPcapAdapter, [file.subarray(0, file.length - 10)], { file: 'cut.pcap' });
    assert.equal(cut.events.length, 1);
    assert.deepEqual(
      cut.errors.map((e) => [e.position.offset, e.reason]),
      [
        [
          24 + 16 + good().length,
          `file ends inside a record: ${16 + good().length - 10} bytes of a record that is not complete (capture cut short?)`,
        ],
      ],
    );
    const huge = pcapFile([{ data: good() }, { data: good(), inclLen: 0x7fffffff }], 'le');
    const out = await collect(nflogPcapAdapter, [huge], { file: 'huge.pcap' });
    assert.equal(out.events.length, 1);
    assert.equal(out.errors.length, 1);
    assert.match(
      out.errors[0]!.reason,
      /claims 2147483647 captured bytes .* the rest of the file cannot be framed/,
    );
  });

  it('reports pcapng blocks with bad lengths, unknown interfaces and trailer mismatches', async () => {
    const rec = good();
    const epb = pcapngEpb(0, 0n, rec, 'le');
    const badTrailer = Buffer.from(epb);
    badTrailer.writeUInt32LE(8, badTrailer.length - 4);
    const file = Buffer.concat([
      pcapngShb('le'),
      pcapngIdb(239, 'le'),
      pcapngEpb(5, 0n, rec, 'le'),
      badTrailer,
      epb,
    ]);
    const out = await collect(nflogPcapAdapter, [file], { file: 'x.pcapng' });
    assert.equal(out.events.length, 1);
    assert.deepEqual(
      out.errors.map((e) => e.reason),
      [
        'packet block refers to interface 5, which no interface description block defined',
        `block of type 0x6: trailing length 8 differs from leading length ${epb.length}`,
      ],
    );
    const broken = Buffer.concat([
      pcapngShb('le'),
      pcapngIdb(239, 'le'),
      Buffer.from([6, 0, 0, 0, 13, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
    ]);
    const b = await collect(nflogPcapAdapter, [broken], { file: 'y.pcapng' });
    assert.match(b.errors[0]!.reason, /impossible length 13/);
  });
});

describe('nflog-pcap: sniff', () => {
  it('claims NFLOG pcap (4 magics) and pcapng with an NFLOG interface, nothing else', () => {
    for (const e of ENDIANS) {
      assert.ok(sniffNflogCapture(pcapFile([], e)));
      assert.ok(sniffNflogCapture(pcapFile([], e, { ns: true })));
      assert.ok(!sniffNflogCapture(pcapFile([], e, { linkType: 1 })));
      assert.ok(sniffNflogCapture(Buffer.concat([pcapngShb(e), pcapngIdb(239, e)])));
      assert.ok(sniffNflogCapture(Buffer.concat([pcapngShb(e), pcapngIdb(1, e), pcapngIdb(239, e)])));
      assert.ok(!sniffNflogCapture(Buffer.concat([pcapngShb(e), pcapngIdb(1, e)])));
    }
    assert.ok(!sniffNflogCapture(Buffer.from('{"oob.prefix": "TRACE: raw:PREROUTING:policy:3 "}\n')));
    assert.ok(
      !sniffNflogCapture(Buffer.from('Jan  1 21:23:16 cos74 kernel: TRACE: raw:PREROUTING:policy:3 IN=eth0')),
    );
    assert.ok(nflogPcapAdapter.sniff(pcapFile([], 'le'), 'x.pcap'));
  });
});
