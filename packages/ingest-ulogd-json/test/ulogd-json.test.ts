import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { UsageError, type DecodeOptions, type InputError } from '@ruletrail/core';
import { validateEvent, type NetfilterEvent } from '@ruletrail/event';
import { sniffUlogdJson, ulogdJsonAdapter } from '../src/index';

const REAL = join(__dirname, 'fixtures', 'real');

async function run(input: string | Buffer, options: DecodeOptions = { file: 'ulogd.json' }, chunk = 1 << 20) {
  const buf = typeof input === 'string' ? Buffer.from(input) : input;
  const chunks: Buffer[] = [];
  for (let i = 0; i < buf.length; i += chunk) chunks.push(buf.subarray(i, i + chunk));
  const out = { events: [] as NetfilterEvent[], errors: [] as InputError[], skipped: 0 };
  for await (const b of ulogdJsonAdapter.decode(
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

// The first record of the incident write-up (cos74, ulogd2 with device="cos74ulogd2", boolean_label=1).
const WRITEUP =
  '{"timestamp": "2023-01-05T11:04:26.620815+0800", "dvc": "cos74ulogd2", "raw.pktlen": 60, "raw.pktcount": 1, "oob.prefix": "TRACE: raw:PREROUTING:policy:3 ", "oob.time.sec": 1672887866, "oob.time.usec": 620815, "oob.mark": 0, "oob.ifindex_in": 2, "oob.hook": 0, "raw.mac_len": 14, "oob.family": 2, "oob.protocol": 2048, "action": "allowed", "raw.type": 1, "raw.mac.addrlen": 6, "ip.protocol": 6, "ip.tos": 0, "ip.ttl": 64, "ip.totlen": 60, "ip.ihl": 5, "ip.csum": 18892, "ip.id": 38576, "ip.fragoff": 16384, "src_port": 55768, "dest_port": 52000, "tcp.seq": 658789904, "tcp.ackseq": 0, "tcp.window": 29200, "tcp.offset": 0, "tcp.reserved": 0, "tcp.urg": 0, "tcp.ack": 0, "tcp.psh": 0, "tcp.rst": 0, "tcp.syn": 1, "tcp.fin": 0, "tcp.res1": 0, "tcp.res2": 0, "tcp.csum": 47472, "oob.in": "eth0", "oob.out": "", "src_ip": "172.28.129.2", "dest_ip": "172.28.129.4", "mac.saddr.str": "00:15:5d:12:e2:24", "mac.daddr.str": "00:15:5d:12:e2:28", "mac.str": "00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00"}';

const WRITEUP_EVENT = {
  '@timestamp': '2023-01-05T11:04:26.620815+08:00',
  ruletrail: { schema: '1', channel: 'ulogd-json', origin: { file: 'ulogd.json', line: 1 } },
  event: { kind: 'event', dataset: 'netfilter.trace' },
  host: { name: 'cos74ulogd2' },
  observer: { ingress: { interface: { name: 'eth0' } }, egress: { interface: { name: '' } } },
  network: { type: 'ipv4', transport: 'tcp', iana_number: '6' },
  source: { ip: '172.28.129.2', port: 55768, mac: '00-15-5D-12-E2-24' },
  destination: { ip: '172.28.129.4', port: 52000, mac: '00-15-5D-12-E2-28' },
  netfilter: {
    prefix: 'TRACE: raw:PREROUTING:policy:3 ',
    trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 3 },
    ifindex: { in: 2 },
    mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
    ip: { len: 60, tos: 0, prec: 0, ttl: 64, id: 38576, flags: ['DF'] },
    tcp: { seq: 658789904, ack: 0, window: 29200, flags: ['SYN'] },
    mark: 0,
    hook: 0,
    degraded: ['tcp.urgp', 'tcp.res', 'tcp.options'],
  },
};

describe('ulogd-json: the write-up record', () => {
  it('decodes it exactly', async () => {
    const out = await run(WRITEUP + '\n');
    assert.deepEqual(out.errors, []);
    assert.deepEqual(out.events, [WRITEUP_EVENT]);
  });

  it('reads the eventv1 form (@timestamp, @version) the same, and keeps the line when asked', async () => {
    const v1 = WRITEUP.replace('{"timestamp"', '{"@version": 1, "@timestamp"');
    const out = await run(v1, { file: 'ulogd.json', keepOriginal: true });
    assert.deepEqual(out.events, [{ ...WRITEUP_EVENT, event: { ...WRITEUP_EVENT.event, original: v1 } }]);
  });

  it('without a timestamp key (timestamp=0) takes oob.time.sec/usec in UTC; the default dvc is no host', async () => {
    const rec = JSON.parse(WRITEUP) as Record<string, unknown>;
    delete rec.timestamp;
    rec.dvc = 'Netfilter';
    const out = await run(JSON.stringify(rec), { file: 'ulogd.json', host: 'node-7' });
    assert.equal(out.events[0]!['@timestamp'], '2023-01-05T03:04:26.620815Z');
    assert.deepEqual(out.events[0]!.host, { name: 'node-7' });
  });

  it('re-derives the offset from oob.time.sec (ulogd prints -0030 as +0030)', async () => {
    const rec = JSON.parse(WRITEUP) as Record<string, unknown>;
    rec.timestamp = '2023-01-05T02:34:26.620815+0030'; // really UTC-00:30
    const out = await run(JSON.stringify(rec));
    assert.equal(out.events[0]!['@timestamp'], '2023-01-05T02:34:26.620815-00:30');
  });
});

describe('ulogd-json: real ulogd 2.0.8 output', () => {
  let events: NetfilterEvent[];
  before(async () => {
    const out = await run(readFileSync(join(REAL, 'ulogd.json')), { file: 'ulogd.json' }, 4096);
    assert.deepEqual(out.errors, []);
    events = out.events;
  });

  it('decodes every line, +0800 offsets kept', () => {
    assert.equal(events.length, 152);
    assert.ok(events.every((e) => e['@timestamp']!.endsWith('+08:00') && e.host?.name === 'rt-fixture-b'));
  });

  it('eventv1 output gives the same events', async () => {
    const v1 = await run(readFileSync(join(REAL, 'ulogd-eventv1.json')), {
      file: 'ulogd.json',
      host: 'rt-fixture-b',
    });
    assert.deepEqual(v1.errors, []);
    // Packets without a kernel timestamp (locally sent) get gettimeofday() per stack: a few µs apart.
    const strip = (e: NetfilterEvent): object => ({ ...e, '@timestamp': undefined });
    assert.deepEqual(v1.events.map(strip), events.map(strip));
    v1.events.forEach((e, i) =>
      assert.ok(Math.abs(Date.parse(e['@timestamp']!) - Date.parse(events[i]!['@timestamp']!)) < 5),
    );
  });

  it('uid/gid and FIN|ACK of a locally sent segment (line 37)', () => {
    const e = events[36]!;
    assert.deepEqual(
      [e.user, e.group, e.netfilter.tcp!.flags, e.netfilter.hook, e.observer],
      [
        { id: '0' },
        { id: '0' },
        ['ACK', 'FIN'],
        3,
        { ingress: { interface: { name: '' } }, egress: { interface: { name: 'rtvb1602' } } },
      ],
    );
  });

  it('the mark set by the MARK rule (line 59), UDP length', () => {
    assert.equal(events[58]!.netfilter.mark, 0x2a);
    assert.deepEqual(events[58]!.netfilter.udp, { length: 21 });
  });

  it('ICMP port unreachable: type/code, PREC 0xC0, the inner packet named as degraded (line 70)', () => {
    const nf = events[69]!.netfilter;
    assert.deepEqual(nf.icmp, { type: 3, code: 3 });
    assert.deepEqual(nf.ip, { len: 62, tos: 0, prec: 0xc0, ttl: 64, id: 7313, flags: [] });
    assert.deepEqual(nf.degraded, ['inner']);
  });

  it('ICMP and ICMPv6 echo id/seq (lines 74, 83)', () => {
    assert.deepEqual(events[73]!.netfilter.icmp, { type: 8, code: 0, id: 0x1234, seq: 1 });
    assert.deepEqual(events[82]!.netfilter.icmp, { type: 128, code: 0, id: 0x4321, seq: 7 });
    assert.deepEqual(events[82]!.netfilter.ip, { len: 63, tc: 0, hoplimit: 64, flowlabel: 509903 });
    assert.deepEqual(events[82]!.netfilter.degraded, ['ip.options']);
  });

  it('fragments: IPv4 MF from ip.fragoff (line 103), IPv6 fragment id/offset (line 114)', () => {
    assert.deepEqual(events[102]!.netfilter.ip, {
      len: 1500,
      tos: 0,
      prec: 0,
      ttl: 64,
      id: 34392,
      flags: ['MF'],
    });
    assert.deepEqual(events[102]!.netfilter.udp, { length: 3008 });
    assert.deepEqual(events[113]!.netfilter.ip, {
      len: 1496,
      tc: 0,
      hoplimit: 64,
      flowlabel: 889473,
      fragOffset: 0,
      id: 2326799158,
    });
    assert.deepEqual(events[113]!.netfilter.degraded, ['ip.fragIncomplete', 'ip.options']);
  });

  it('IP options present (ihl 6) are named as degraded (line 133)', () => {
    assert.deepEqual(events[132]!.netfilter.degraded, ['ip.options', 'tcp.urgp', 'tcp.res', 'tcp.options']);
  });

  it('a stack without IP2STR is refused as a whole with a clear UsageError', async () => {
    await assert.rejects(
      run(readFileSync(join(REAL, 'ulogd-noip2str.json')), { file: 'noip2str.json' }),
      (e: Error) =>
        e instanceof UsageError &&
        e.message.startsWith(
          'noip2str.json:1: ulogd JSON records have no src_ip/dest_ip: the ulogd stack lacks the IP2STR filter',
        ),
    );
  });
});

describe('ulogd-json: field decoding', () => {
  const base = JSON.parse(WRITEUP) as Record<string, unknown>;
  const line = (patch: Record<string, unknown>, drop: string[] = []): string => {
    const r = { ...base, ...patch };
    for (const k of drop) delete r[k];
    return JSON.stringify(r);
  };

  it('decodes raw ip.fragoff: CE/DF/MF and the offset in bytes', async () => {
    const out = await run(
      [line({ 'ip.fragoff': 0x8000 | 0x2000 | 185 }, ['src_port', 'dest_port', 'tcp.syn'])].join('\n'),
    );
    assert.deepEqual(out.events[0]!.netfilter.ip, {
      len: 60,
      tos: 0,
      prec: 0,
      ttl: 64,
      id: 38576,
      flags: ['CE', 'MF'],
      fragOffset: 1480,
    });
    // a non-first fragment has no transport header (like the kernel): no tcp fields even if keys were there
    assert.equal(out.events[0]!.netfilter.tcp, undefined);
  });

  it('splits ip.tos into TOS/PREC like the kernel; ECE/CWR and AE cannot be told apart: tcp.flags degraded', async () => {
    const out = await run(line({ 'ip.tos': 0xb9, 'tcp.res2': 1, 'tcp.urg': 1, 'tcp.urgp': 3, 'tcp.ack': 1 }));
    const nf = out.events[0]!.netfilter;
    assert.deepEqual([nf.ip!.tos, nf.ip!.prec], [0x18, 0xa0]);
    assert.deepEqual(nf.tcp, {
      seq: 658789904,
      ack: 0,
      window: 29200,
      flags: ['URG', 'ACK', 'SYN'],
      urgp: 3,
    });
    assert.deepEqual(nf.degraded, ['tcp.flags', 'tcp.res', 'tcp.options']);
  });

  it('maps seq numbers, uid/gid, ARP, bridge family, IPv6 non-first fragments, AH', async () => {
    const lines = [
      line({ 'oob.seq.local': 4, 'oob.seq.global': 9, 'oob.uid': 1000, 'oob.gid': 1000 }),
      JSON.stringify({
        dvc: 'h',
        'oob.prefix': 'arp: ',
        'oob.family': 3,
        'oob.protocol': 2054,
        'arp.hwtype': 1,
        'arp.protocoltype': 2048,
        'arp.operation': 1,
        'arp.saddr.str': '10.0.0.1',
        'arp.daddr.str': '10.0.0.2',
        'oob.mark': 0,
      }),
      JSON.stringify({
        'oob.prefix': 'br: ',
        'oob.family': 7,
        'oob.protocol': 34525,
        'ip.protocol': 17,
        'ip6.payloadlen': 8,
        src_ip: 'fd00::0:1',
        dest_ip: 'fd00::2',
        src_port: 1,
        dest_port: 2,
        'udp.len': 8,
        'oob.mark': 0,
      }),
      JSON.stringify({
        'oob.prefix': 'TRACE: raw:PREROUTING:policy:2 ',
        'oob.family': 10,
        'ip6.payloadlen': 1000,
        'ip6.nexthdr': 6,
        'ip6.fragoff': 1448,
        'ip6.fragid': 5,
        src_ip: 'fd00::1',
        dest_ip: 'fd00::2',
        'oob.mark': 0,
      }),
      JSON.stringify({
        'oob.prefix': 'esp: ',
        'oob.family': 2,
        'ip.protocol': 50,
        'ip.totlen': 100,
        src_ip: '10.0.0.1',
        dest_ip: '10.0.0.2',
        'oob.mark': 1,
      }),
    ];
    const out = await run(lines.join('\n'));
    assert.deepEqual(out.errors, []);
    const [tcp, arp, br, frag, esp] = out.events;
    assert.deepEqual(
      [tcp!.netfilter.seq, tcp!.user, tcp!.group],
      [{ local: 4, global: 9 }, { id: '1000' }, { id: '1000' }],
    );
    assert.deepEqual(
      [arp!.network, arp!.source, arp!.destination, arp!.host, arp!.event.dataset],
      [{ type: 'arp' }, { ip: '10.0.0.1' }, { ip: '10.0.0.2' }, { name: 'h' }, 'netfilter.log'],
    );
    assert.deepEqual(
      [br!.network, br!.source, br!.netfilter.degraded],
      [
        { type: 'ipv6', transport: 'udp', iana_number: '17' },
        { ip: 'fd00::1', port: 1 },
        [
          'observer.ingress.interface.name',
          'observer.egress.interface.name',
          'physin',
          'physout',
          'ip.options',
        ],
      ],
    );
    assert.deepEqual(
      [frag!.network, frag!.netfilter.ip, frag!.netfilter.tcp],
      [
        { type: 'ipv6', transport: 'tcp', iana_number: '6' },
        { len: 1040, fragOffset: 1448, id: 5 },
        undefined,
      ],
    );
    assert.deepEqual(
      [esp!.network.transport, esp!.netfilter.mark, esp!.netfilter.degraded],
      ['esp', 1, ['observer.ingress.interface.name', 'observer.egress.interface.name', 'spi']],
    );
  });

  it('skips records that are not packets (NFCT flows, NFACCT sums) and blank lines', async () => {
    const flow = JSON.stringify({
      timestamp: '2023-01-05T11:04:26+0800',
      dvc: 'Netfilter',
      'orig.ip.protocol': 6,
      src_ip: '10.0.0.1',
      dest_ip: '10.0.0.2',
      'flow.start.sec': 1,
    });
    const out = await run(`${flow}\n\n${WRITEUP}\n`);
    assert.equal(out.skipped, 1);
    assert.equal(out.events.length, 1);
    assert.equal(out.events[0]!.ruletrail.origin.line, 3);
  });
});

describe('ulogd-json: bad input', () => {
  it('reports malformed lines with file, line and reason, and keeps going', async () => {
    const lines = [
      WRITEUP,
      '{"oob.prefix": "TRACE: raw:PREROUTING:policy:3 ", "oob.family": 2,',
      '[1,2,3]',
      WRITEUP.replace('"ip.ttl": 64', '"ip.ttl": "64"'),
      WRITEUP.replace('TRACE: raw:PREROUTING:policy:3 ', 'TRACE: raw:PREROUTING '),
      WRITEUP.replace('"src_ip": "172.28.129.2", "dest_ip": "172.28.129.4", ', ''),
      WRITEUP,
    ];
    const out = await run(lines.join('\n') + '\n', { file: 'bad.json' }, 50);
    assert.deepEqual(
      out.events.map((e) => e.ruletrail.origin.line),
      [1, 7],
    );
    assert.deepEqual(
      out.errors.map((e) => [e.code, e.position, e.reason]),
      [
        ['RT_ERR_ULOGD_JSON', { file: 'bad.json', line: 2 }, out.errors[0]!.reason],
        ['RT_ERR_ULOGD_JSON', { file: 'bad.json', line: 3 }, 'a ulogd JSON record must be an object'],
        [
          'RT_ERR_ULOGD_RECORD',
          { file: 'bad.json', line: 4 },
          '"ip.ttl" is "64", expected a non-negative integer',
        ],
        [
          'RT_ERR_TRACE_PREFIX',
          { file: 'bad.json', line: 5 },
          'TRACE prefix is not "TRACE: table:chain:kind:rulenum": "TRACE: raw:PREROUTING "',
        ],
        [
          'RT_ERR_ULOGD_RECORD',
          { file: 'bad.json', line: 6 },
          'record has no src_ip/dest_ip (written by a stack without IP2STR?)',
        ],
      ],
    );
    assert.match(out.errors[0]!.reason, /^malformed JSON: /);
    assert.equal(out.errors[0]!.message, `bad.json:2: ${out.errors[0]!.reason}`);
    assert.equal(out.errors[0]!.record, lines[1]);
  });
});

describe('ulogd-json: sniff', () => {
  it('claims ulogd JSON lines and nothing else', () => {
    assert.ok(sniffUlogdJson(Buffer.from(`\n${WRITEUP}\n`)));
    assert.ok(ulogdJsonAdapter.sniff(Buffer.from('{"raw.pktlen": 60, "oob.family": 2}'), 'x'));
    assert.ok(
      !sniffUlogdJson(
        Buffer.from(
          '{"@timestamp":"2023-01-05T11:04:26Z","message":"TRACE: raw:PREROUTING:policy:3 IN=eth0"}',
        ),
      ),
    );
    assert.ok(
      !sniffUlogdJson(
        Buffer.from('Jan  1 21:23:16 cos74 kernel: TRACE: raw:PREROUTING:policy:3 IN=eth0 OUT='),
      ),
    );
    assert.ok(!sniffUlogdJson(Buffer.from([0xd4, 0xc3, 0xb2, 0xa1])));
  });
});

describe('ulogd-json: damaged values (fuzz)', () => {
  it('wrong types, negative, fractional and huge numbers, cut lines: never a throw, one result per line', async () => {
    const lines = readFileSync(join(REAL, 'ulogd.json'), 'utf8').trimEnd().split('\n');
    let seed = 12345;
    const rnd = (n: number): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
    const bad: unknown[] = ['x', -1, 1.5, 1e300, null, true, {}, [], ''];
    const damaged = lines.map((l) => {
      if (rnd(3) === 0) return l.slice(0, rnd(l.length));
      const o = JSON.parse(l) as Record<string, unknown>;
      const keys = Object.keys(o);
      for (let k = 0; k < 1 + rnd(3); k++) o[keys[rnd(keys.length)]!] = bad[rnd(bad.length)];
      return JSON.stringify(o);
    });
    const out = await run(`${lines[0]}\n${damaged.join('\n')}\n`, { file: 'fuzz.json' });
    assert.equal(out.events.length + out.errors.length + out.skipped, damaged.length + 1);
    for (const e of out.errors) assert.equal(typeof e.position.line, 'number');
  });
});
