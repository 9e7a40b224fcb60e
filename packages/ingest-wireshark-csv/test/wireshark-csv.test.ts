import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { UsageError, type DecodeOptions, type IngestAdapter, type InputError } from '@ruletrail/core';
import { validateEvent, type NetfilterEvent } from '@ruletrail/event';
import { nflogPcapAdapter } from '@ruletrail/ingest-nflog-pcap';
import { parseCsvRecord, sniffWiresharkCsv, wiresharkCsvAdapter } from '../src/index';

const REAL = join(__dirname, 'fixtures', 'real');
const PCAP = join(__dirname, '..', '..', 'ingest-nflog-pcap', 'test', 'fixtures', 'real', 'trace.pcap');

async function run(
  input: string | Buffer,
  options: DecodeOptions = { file: 'x.csv' },
  chunk = 1 << 20,
  adapter: IngestAdapter = wiresharkCsvAdapter,
) {
  const buf = typeof input === 'string' ? Buffer.from(input) : input;
  const chunks: Buffer[] = [];
  for (let i = 0; i < buf.length; i += chunk) chunks.push(buf.subarray(i, i + chunk));
  const out = { events: [] as NetfilterEvent[], errors: [] as InputError[], skipped: 0 };
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
    assert.ok(v.ok, v.ok ? '' : `${v.errors.join('; ')}\n${JSON.stringify(e)}`);
  }
  return out;
}

// what the GUI's columns cannot show for an IPv4 row, in the order the adapter lists it
const GUI_DEGRADED = [
  'mark',
  'observer.ingress.interface.name',
  'observer.egress.interface.name',
  'user.id',
  '@timestamp', // relative Time column
  'ip.len',
  'ip.tos',
  'ip.prec',
  'ip.ttl',
  'ip.id',
  'ip.flags',
  'ip.options',
];

describe('wireshark-csv: the GUI export (default columns + Prefix + TCP Options)', () => {
  it('decodes every row of the real export; the SYN exactly', async () => {
    const out = await run(readFileSync(join(REAL, 'wireshark-gui.csv')), { file: 'gui.csv' }, 1000);
    assert.deepEqual(out.errors, []);
    assert.equal(out.events.length, 152);
    assert.deepEqual(out.events[4], {
      ruletrail: { schema: '1', channel: 'wireshark-csv', origin: { file: 'gui.csv', line: 6 } },
      event: { kind: 'event', dataset: 'netfilter.trace' },
      network: { type: 'ipv4', transport: 'tcp', iana_number: '6' },
      source: { ip: '10.231.0.1', port: 55272 },
      destination: { ip: '10.231.0.2', port: 52000 },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        tcp: { flags: ['SYN'], options: '020405B40402080AB1AE01C4000000000103030A' },
        degraded: [...GUI_DEGRADED, 'tcp.seq', 'tcp.ack', 'tcp.window', 'tcp.res', 'tcp.urgp'],
      },
    });
  });

  it('reads ping id/seq from Info, and leaves transport unknown behind an application protocol', async () => {
    const out = await run(readFileSync(join(REAL, 'wireshark-gui.csv')), { file: 'gui.csv' });
    const ping = out.events[77]!;
    assert.deepEqual(
      [ping.network, ping.netfilter.icmp],
      [
        { type: 'ipv4', transport: 'icmp', iana_number: '1' },
        { type: 8, code: 0, id: 0x1234, seq: 1 },
      ],
    );
    const mdns = out.events[60]!; // "MDNS": UDP to 5353, Info has no ports
    assert.deepEqual(mdns.network, { type: 'ipv4' });
    assert.ok(mdns.netfilter.degraded!.includes('network.transport'));
    assert.equal(mdns.netfilter.trace!.chain, 'PREROUTING');
  });

  it('takes absolute times in the given zone offset', async () => {
    const out = await run(readFileSync(join(REAL, 'wireshark-gui-abs.csv')), {
      file: 'abs.csv',
      utcOffsetMinutes: 480,
    });
    assert.equal(out.events[4]!['@timestamp'], '2026-11-27T10:10:02.478917+08:00');
    assert.ok(!out.events[4]!.netfilter.degraded!.includes('@timestamp'));
  });
});

describe('wireshark-csv: tshark -T fields export', () => {
  it('decodes the SYN exactly', async () => {
    const out = await run(readFileSync(join(REAL, 'tshark-fields.csv')), {
      file: 'fields.csv',
      host: 'rt-fixture-b',
    });
    assert.deepEqual(out.errors, []);
    assert.deepEqual(out.events[4], {
      '@timestamp': '2026-11-27T10:10:02.478917000Z',
      ruletrail: { schema: '1', channel: 'wireshark-csv', origin: { file: 'fields.csv', line: 6 } },
      event: { kind: 'event', dataset: 'netfilter.trace' },
      host: { name: 'rt-fixture-b' },
      network: { type: 'ipv4', transport: 'tcp', iana_number: '6' },
      source: { ip: '10.231.0.1', port: 55272 },
      destination: { ip: '10.231.0.2', port: 52000 },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:2 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 },
        ip: { len: 60, ttl: 64, id: 1040 },
        tcp: { seq: 1611050564, flags: ['SYN'], options: '020405B40402080AB1AE01C4000000000103030A' },
        ifindex: { in: 18 },
        hook: 0,
        degraded: [
          'mark',
          'observer.ingress.interface.name',
          'observer.egress.interface.name',
          'ip.tos',
          'ip.prec',
          'ip.flags',
          'ip.options',
          'tcp.ack',
          'tcp.window',
          'tcp.res',
          'tcp.urgp',
        ],
      },
    });
  });

  it('agrees with the nflog-pcap adapter on the same capture, row by row', async () => {
    const csv = await run(readFileSync(join(REAL, 'tshark-fields.csv')), { file: 'fields.csv' });
    const pcap = await run(readFileSync(PCAP), { file: 'trace.pcap' }, 1 << 20, nflogPcapAdapter);
    assert.equal(csv.events.length, pcap.events.length);
    csv.events.forEach((c, i) => {
      const p = pcap.events[i]!;
      const at = `row ${i + 1}`;
      assert.equal(c.netfilter.prefix, p.netfilter.prefix, at);
      assert.deepEqual(c.netfilter.trace, p.netfilter.trace, at);
      assert.equal(c.source!.ip, p.source!.ip, at);
      assert.equal(c.destination!.ip, p.destination!.ip, at);
      assert.equal(c.network.type, p.network.type, at);
      if (c.network.type === 'ipv4') assert.equal(c.network.transport, p.network.transport, at);
      // tshark's first port occurrence is the inner packet's for ICMP errors; pcap keeps that under inner
      const ports = p.netfilter.inner ?? p;
      // tshark reassembles fragments by default: the last fragment's row carries the datagram's ports, the
      // first fragment's row none (the kernel, and the pcap adapter, show them on the first fragment)
      const ip = p.netfilter.ip!;
      const fragment = ip.flags?.includes('MF') || ip.fragOffset !== undefined;
      if (!fragment) {
        assert.equal(c.source!.port, ports.source?.port, at);
        assert.equal(c.destination!.port, ports.destination?.port, at);
      }
      if (c.network.type === 'ipv4') {
        assert.equal(c.netfilter.ip!.id, p.netfilter.ip!.id, at);
        assert.equal(c.netfilter.ip!.ttl, p.netfilter.ip!.ttl, at);
        assert.equal(c.netfilter.ip!.len, p.netfilter.ip!.len, at);
      }
      if (p.netfilter.tcp) {
        assert.equal(c.netfilter.tcp!.seq, p.netfilter.tcp.seq, at);
        assert.deepEqual(c.netfilter.tcp!.flags, p.netfilter.tcp.flags, at);
        assert.equal(c.netfilter.tcp!.options, p.netfilter.tcp.options, at);
      }
      assert.deepEqual(c.user, p.user, at);
      assert.deepEqual(c.netfilter.ifindex, p.netfilter.ifindex, at);
      assert.equal(c.netfilter.hook, p.netfilter.hook, at);
    });
  });
});

describe('wireshark-csv: columns and RFC 4180', () => {
  it('finds columns by name in any order; quotes, doubled quotes, commas and line breaks in fields; CRLF; BOM', async () => {
    const csv =
      '\uFEFF"Prefix","Info","Destination","Source","Protocol","No.","TCP Options","Time"\r\n' +
      '"TRACE: filter:INPUT:rule:3 ","80 → 40000 [RST, ACK] Seq=1 Ack=1 Win=0 Len=0","10.0.0.1","10.0.0.2","TCP","1","","2023-01-05 11:04:26.620815"\r\n' +
      '"my ""drop"", x ","55694 → 52000 [SYN, ECE, CWR] Seq=0 Win=29200 Len=0","2001:db8::0:1","2001:0db8::2","TCP","2","02:04:05:b4","2023-01-05 11:04:26.7"\r\n' +
      '"multi\nline: ","a\r\nb","10.0.0.1","10.0.0.2","UDP","3","","1.5"\r\n';
    const out = await run(csv, { file: 'o.csv' }, 7);
    assert.deepEqual(out.errors, []);
    assert.equal(out.events.length, 3);
    const [a, b, c] = out.events;
    assert.deepEqual(
      [a!.source, a!.destination, a!.netfilter.tcp, a!['@timestamp']],
      [
        { ip: '10.0.0.2', port: 80 },
        { ip: '10.0.0.1', port: 40000 },
        { flags: ['ACK', 'RST'] },
        '2023-01-05T11:04:26.620815+00:00',
      ],
    );
    assert.deepEqual(
      [b!.netfilter.prefix, b!.event.dataset, b!.source!.ip, b!.destination!.ip, b!.netfilter.tcp],
      [
        'my "drop", x ',
        'netfilter.log',
        '2001:db8::2',
        '2001:db8::1',
        { flags: ['CWR', 'ECE', 'SYN'], options: '020405B4' },
      ],
    );
    assert.equal(c!.netfilter.prefix, 'multi\nline: ');
    // a quoted CRLF inside a field is kept as LF (lines are split before records are joined)
    const kept = await run(csv, { file: 'o.csv', keepOriginal: true });
    assert.equal(
      kept.events[2]!.event.original,
      '"multi\nline: ","a\nb","10.0.0.1","10.0.0.2","UDP","3","","1.5"',
    );
    assert.equal(c!.ruletrail.origin.line, 4);
    assert.equal(c!['@timestamp'], undefined);
  });

  it('parses records per RFC 4180', () => {
    assert.deepEqual(parseCsvRecord('a,"b,c","d""e",,"",f'), ['a', 'b,c', 'd"e', '', '', 'f']);
    assert.equal(parseCsvRecord('"open'), null);
    assert.deepEqual(parseCsvRecord(''), ['']);
  });

  it('reports missing required columns once, with what was found', async () => {
    await assert.rejects(
      run(
        '"No.","Time","Source","Destination","Protocol","Length","Info"\n"1","0.0","10.0.0.1","10.0.0.2","TCP","60","x"\n',
        { file: 'plain.csv' },
      ),
      (e: Error) =>
        e instanceof UsageError &&
        e.message ===
          'plain.csv: Wireshark CSV lacks required column(s): Prefix (nflog.prefix); found: "No.", "Time", "Source", "Destination", "Protocol", "Length", "Info". Add the NFLOG prefix with "Apply as Column" (or tshark -e nflog.prefix) and keep Source/Destination.',
    );
    await assert.rejects(
      run('nflog.prefix,frame.number\n', { file: 'f.csv' }),
      /lacks required column\(s\): Source \(ip.src \/ ipv6.src\), Destination \(ip.dst \/ ipv6.dst\); found: "nflog.prefix", "frame.number"/,
    );
  });

  it('reports bad rows with their line and keeps going; skips rows without a prefix', async () => {
    const csv = [
      '"No.","Source","Destination","Protocol","Info","Prefix"',
      '"1","10.0.0.1","10.0.0.2","TCP","1 → 2 [SYN]"',
      '"2","10.0.0.1","10.0.0.2","TCP","1 → 2 [SYN]","TRACE: raw:PREROUTING:policy:1 "',
      '"3","host-a.example","host-b.example","TCP","1 → 2 [SYN]","TRACE: raw:PREROUTING:policy:1 "',
      '"4","10.0.0.1","10.0.0.2","TCP","1 → 2 [SYN]","TRACE: raw:PREROUTING "',
      '"5","10.0.0.1","10.0.0.2","ARP","Who has","" ',
      '"6","10.0.0.1","10.0.0.2","TCP","1 → 2 [SYN]","TRACE: raw:PREROUTING:policy:1 "',
      '"7","10.0.0.1","10.0.0.2","TCP","x","never closed',
    ].join('\n');
    const out = await run(csv, { file: 'bad.csv' });
    assert.deepEqual(
      out.events.map((e) => e.ruletrail.origin.line),
      [3, 7],
    );
    assert.equal(out.skipped, 1);
    assert.deepEqual(
      out.errors.map((e) => [e.code, e.position.line, e.reason]),
      [
        ['RT_ERR_CSV_ROW', 2, 'row has 5 fields, the header has 6'],
        [
          'RT_ERR_CSV_ROW',
          4,
          'row has no IP source/destination ("host-a.example" → "host-b.example"); turn name resolution off before exporting',
        ],
        [
          'RT_ERR_TRACE_PREFIX',
          5,
          'TRACE prefix is not "TRACE: table:chain:kind:rulenum": "TRACE: raw:PREROUTING "',
        ],
        ['RT_ERR_CSV_ROW', 8, 'file ends inside a quoted field'],
      ],
    );
  });
});

describe('wireshark-csv: the per-record cap (issue #15)', () => {
  it('a quoted field still open after 1 MiB is dead-lettered at its first line with its own code; the next rows are read', async () => {
    const lines = readFileSync(join(REAL, 'wireshark-gui.csv'), 'utf8').split('\n').filter(Boolean);
    const text = [
      lines[0],
      lines[1],
      `"${'x'.repeat(1000)}`,
      ...Array<string>(1100).fill('y'.repeat(1000)),
      // The runaway record ends at the cap; the row after the cut is read again as a row.
      ...Array<string>(200).fill('z'),
      lines[2],
    ].join('\n');
    const out = await run(text + '\n', { file: 'cap.csv' }, 64 * 1024);
    const cap = out.errors.filter((e) => e.code === 'RT_ERR_CSV_RECORD_TOO_LONG');
    assert.equal(cap.length, 1, out.errors.map((e) => `${e.code}@${e.position.line}`).join(' '));
    assert.equal(cap[0]!.position.line, 3);
    assert.equal(cap[0]!.reason, 'unterminated quoted field (over 1 MiB)');
    assert.ok(cap[0]!.record!.length <= 256);
    // The row after the runaway field is explained, as is the one before it.
    const last = out.events.at(-1)!;
    assert.equal(last.ruletrail.origin.line, 3 + 1100 + 200 + 1);
    assert.equal(out.events[0]!.ruletrail.origin.line, 2);
  });
});

describe('wireshark-csv: sniff', () => {
  it('claims Wireshark/tshark CSV headers, nothing else', () => {
    assert.ok(sniffWiresharkCsv(readFileSync(join(REAL, 'wireshark-gui.csv'))));
    assert.ok(sniffWiresharkCsv(readFileSync(join(REAL, 'tshark-fields.csv'))));
    // the GUI's default columns alone: claimed, so decode can say what is missing
    assert.ok(
      wiresharkCsvAdapter.sniff(
        Buffer.from('"No.","Time","Source","Destination","Protocol","Length","Info"\n'),
        'x.csv',
      ),
    );
    assert.ok(
      !sniffWiresharkCsv(
        Buffer.from('{"oob.prefix": "TRACE: raw:PREROUTING:policy:3 ", "raw.pktlen": 60}\n'),
      ),
    );
    assert.ok(
      !sniffWiresharkCsv(
        Buffer.from('Jan  1 21:23:16 cos74 kernel: TRACE: raw:PREROUTING:policy:3 IN=eth0 OUT= MAC=00:15'),
      ),
    );
    assert.ok(!sniffWiresharkCsv(Buffer.from('a,b,c\n1,2,3\n')));
  });
});

describe('wireshark-csv: degraded fields follow the row family', () => {
  it('names IPv6 header fields for IPv6 rows and IPv4 ones for IPv4 rows', async () => {
    const csv =
      '"Source","Destination","Protocol","Prefix","ipv6.hlim"\n"fd00::1","fd00::2","UDP","x: ","64"\n"10.0.0.1","10.0.0.2","UDP","x: ",""\n';
    const out = await run(csv);
    assert.deepEqual(out.events[0]!.netfilter.degraded, [
      'mark',
      'observer.ingress.interface.name',
      'observer.egress.interface.name',
      '@timestamp',
      'user.id',
      'ip.len',
      'ip.tc',
      'ip.flowlabel',
      'ip.options',
      'udp.length',
    ]);
    assert.deepEqual(out.events[0]!.netfilter.ip, { hoplimit: 64 });
    assert.deepEqual(out.events[1]!.netfilter.degraded, [
      'mark',
      'observer.ingress.interface.name',
      'observer.egress.interface.name',
      '@timestamp',
      'user.id',
      'ip.len',
      'ip.tos',
      'ip.prec',
      'ip.ttl',
      'ip.id',
      'ip.flags',
      'ip.options',
      'udp.length',
    ]);
  });
});
