/**
 * The adapter contract (sniff, streaming decode), the decode options (year, time zone, host, keepOriginal),
 * timestamp normalisation, and the public lower-level functions.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { DecodedBatch, DecodeOptions } from '@ruletrail/core';
import type { NetfilterEvent } from '@ruletrail/event';
import {
  createKernelLogParser,
  kernelLogAdapter,
  NfLogSyntaxError,
  parseKernelLogLine,
  parseNfLogBody,
  type NfLogBody,
} from '../src/index';
import { assertValid, event, FIXTURES, fixtureLines, io, parseFixture, payload, TEST_NOW } from './helpers';

const MAC = 'MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00';
const BODY =
  `IN=eth0 OUT= ${MAC} SRC=10.0.0.1 DST=10.0.0.2 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=1 DF ` +
  'PROTO=TCP SPT=40000 DPT=443 SEQ=1 ACK=0 WINDOW=64240 RES=0x00 SYN URGP=0 ';
const TRACE_LINE = `TRACE: raw:PREROUTING:policy:3 ${BODY}`;

async function decodeAll(chunks: Buffer[], options: DecodeOptions): Promise<DecodedBatch[]> {
  const out: DecodedBatch[] = [];
  for await (const b of kernelLogAdapter.decode(Readable.from(chunks), options)) out.push(b);
  return out;
}

function parseOne(line: string, options: Partial<DecodeOptions> = {}, nowMs = TEST_NOW): NetfilterEvent {
  const e = event(createKernelLogParser({ file: 't.log', ...options }, { nowMs })(line, 1));
  assertValid(e);
  return e;
}

describe('kernelLogAdapter', () => {
  it('is the kernel-log channel', () => {
    assert.equal(kernelLogAdapter.channel, 'kernel-log');
    assert.ok(kernelLogAdapter.summary.length > 0);
  });

  describe('sniff', () => {
    const head = (rel: string): Buffer => readFileSync(join(FIXTURES, rel));

    it('recognises kernel log text in every framing', () => {
      for (const rel of [
        'writeup-kern.log',
        'genuine/ipv4.kmsg',
        'framings/journald-short-iso.log',
        'framings/rfc5424.log',
        'framings/dmesg-ctime.log',
        'synthetic/kernel-formats.log',
      ])
        assert.equal(kernelLogAdapter.sniff(head(rel), rel), true, rel);
    });

    it('judges only complete lines of a head cut mid-line', () => {
      const text = fixtureLines('writeup-kern.log').join('\n');
      const buf = Buffer.from(`${'Jan  1 00:00:00 h sshd[1]: noise\n'.repeat(400)}${text}`);
      assert.equal(kernelLogAdapter.sniff(buf.subarray(0, 16384), 'x.log'), true);
      // The only netfilter line is the cut one: not enough.
      const cut = Buffer.from(
        `${'Jan  1 00:00:00 h sshd[1]: noise\n'.repeat(495)}${fixtureLines('writeup-kern.log')[0]}`,
      );
      assert.equal(kernelLogAdapter.sniff(cut.subarray(0, 16384), 'x.log'), false);
    });

    it('does not claim other channels or unrelated text', () => {
      const ulogd =
        '{"timestamp": "2023-01-05T11:04:26.620815+0800", "oob.prefix": "TRACE: raw:PREROUTING:policy:3 ", ' +
        '"oob.in": "eth0", "oob.out": "", "src_ip": "172.28.129.2"}\n';
      const csv = '"No.","Time","Prefix"\n"1","0.000","TRACE: raw:PREROUTING:policy:3 IN=eth0 OUT= "\n';
      const pcap = Buffer.from('d4c3b2a1020004000000000000000000ffff0000ef000000', 'hex');
      const syslog = 'Jan  1 21:20:01 cos74 kernel: IPv6: ADDRCONF(NETDEV_UP): eth0: link is not ready\n';
      const malformedOnly = `Jan  1 21:23:16 cos74 kernel: TRACE: raw:PREROUTING:polcy:3 ${BODY}\n`;
      for (const text of [ulogd, csv, syslog, malformedOnly, ''])
        assert.equal(kernelLogAdapter.sniff(Buffer.from(text), 'x'), false, text);
      assert.equal(kernelLogAdapter.sniff(pcap, 'x.pcap'), false);
    });
  });

  describe('decode', () => {
    it('streams: chunk boundaries anywhere give the same events, line numbers and counts', async () => {
      const bytes = readFileSync(join(FIXTURES, 'writeup-kern.log'));
      const whole = await decodeAll([bytes], { file: 'w.log', year: 2023 });
      const pieces: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += 7) pieces.push(bytes.subarray(i, i + 7));
      const chunked = await decodeAll(pieces, { file: 'w.log', year: 2023 });
      const flat = (bs: DecodedBatch[]): NetfilterEvent[] => bs.flatMap((b) => b.events);
      assert.equal(flat(whole).length, 45);
      assert.deepEqual(flat(chunked), flat(whole));
      assert.deepEqual(
        flat(chunked).map((e) => e.ruletrail.origin.line),
        Array.from({ length: 45 }, (_, i) => i + 1),
      );
      const expectedDirect = fixtureLines('writeup-kern.log').map((l, i) =>
        parseKernelLogLine(l, i + 1, { file: 'w.log', year: 2023 }),
      );
      assert.deepEqual(flat(whole), expectedDirect);
    });

    it('counts other syslog traffic as skipped, and accepts CRLF line ends', async () => {
      const text = `Jan  1 00:00:00 h sshd[1]: noise\r\nJan  1 21:23:16 h kernel: ${TRACE_LINE}\r\n\r\n`;
      const [batch] = await decodeAll([Buffer.from(text)], { file: 'crlf.log', year: 2026 });
      assert.equal(batch!.skipped, 1);
      assert.equal(batch!.errors.length, 0);
      assert.equal(batch!.events.length, 1);
      assert.equal(batch!.events[0]!.ruletrail.origin.line, 2);
      assert.equal(batch!.events[0]!.netfilter.tcp!.urgp, 0);
    });

    it('keeps the raw line with keepOriginal and stamps options.host where the framing has no host', () => {
      const lines = fixtureLines('genuine/ipv4.kmsg');
      const e = event(createKernelLogParser({ file: 'k', keepOriginal: true, host: 'node-7' })(lines[0]!, 1));
      assert.equal(e.event.original, lines[0]);
      assert.deepEqual(e.host, { name: 'node-7' });
      // A framing with a host wins over options.host.
      const w = event(
        createKernelLogParser({ file: 'w', host: 'node-7', year: 2023 })(
          fixtureLines('writeup-kern.log')[0]!,
          1,
        ),
      );
      assert.deepEqual(w.host, { name: 'cos74' });
      assert.equal(w.event.original, undefined);
    });
  });
});

describe('timestamps', () => {
  it('infers the year of RFC 3164 stamps from the clock, stepping back over New Year', () => {
    const jan5 = Date.UTC(2027, 0, 5, 8, 0, 0);
    assert.equal(
      parseOne(`Dec 31 23:59:59 h kernel: ${TRACE_LINE}`, {}, jan5)['@timestamp'],
      '2026-12-31T23:59:59+00:00',
    );
    assert.equal(
      parseOne(`Jan  5 07:00:00 h kernel: ${TRACE_LINE}`, {}, jan5)['@timestamp'],
      '2027-01-05T07:00:00+00:00',
    );
    // Less than a day ahead of the clock is clock skew, not last year.
    assert.equal(
      parseOne(`Jan  5 20:00:00 h kernel: ${TRACE_LINE}`, {}, jan5)['@timestamp'],
      '2027-01-05T20:00:00+00:00',
    );
    assert.equal(
      parseOne(`Jan  7 00:00:00 h kernel: ${TRACE_LINE}`, {}, jan5)['@timestamp'],
      '2026-01-07T00:00:00+00:00',
    );
    // Feb 29 goes back to the last leap year.
    assert.equal(
      parseOne(`Feb 29 12:00:00 h kernel: ${TRACE_LINE}`, {}, jan5)['@timestamp'],
      '2024-02-29T12:00:00+00:00',
    );
    const e = parseOne(`Mar  1 12:00:00 h kernel: ${TRACE_LINE}`, { year: 2020 }, jan5);
    assert.equal(e['@timestamp'], '2020-03-01T12:00:00+00:00');
    assert.equal(e.ruletrail.timestampHasYear, false);
  });

  it('applies utcOffsetMinutes to framings without a zone, and only to those', () => {
    const opts = { year: 2026, utcOffsetMinutes: 330 };
    assert.equal(
      parseOne(`Nov 27 09:47:18 h kernel: ${TRACE_LINE}`, opts)['@timestamp'],
      '2026-11-27T09:47:18+05:30',
    );
    assert.equal(
      parseOne(`[Fri Nov 27 09:47:18 2026] ${TRACE_LINE}`, opts)['@timestamp'],
      '2026-11-27T09:47:18+05:30',
    );
    assert.equal(
      parseOne(`2026-11-27T09:47:18 h kernel: ${TRACE_LINE}`, opts)['@timestamp'],
      '2026-11-27T09:47:18+05:30',
    );
    assert.equal(
      parseOne(`Fri 2026-11-27 09:47:18 XYZ h kernel: ${TRACE_LINE}`, opts)['@timestamp'],
      '2026-11-27T09:47:18+05:30',
    );
    assert.equal(
      parseOne(`2026-11-27T09:47:18.5-03:00 h kernel: ${TRACE_LINE}`, opts)['@timestamp'],
      '2026-11-27T09:47:18.5-03:00',
    );
    assert.equal(
      parseOne(`Dec  1 00:00:00 h kernel: ${TRACE_LINE}`, { year: 2026, utcOffsetMinutes: -60 })[
        '@timestamp'
      ],
      '2026-12-01T00:00:00-01:00',
    );
  });

  it('normalises ISO 8601 variants to RFC 3339', () => {
    const cases: [string, string][] = [
      ['2026-11-27T09:47:18+0000 h kernel: ', '2026-11-27T09:47:18+00:00'],
      ['2026-11-27T09:47:18.123456+0100 h kernel: ', '2026-11-27T09:47:18.123456+01:00'],
      ['2026-11-27T09:47:18,123456+00:00 ', '2026-11-27T09:47:18.123456+00:00'],
      ['2026-11-27t09:47:18z h kernel: ', '2026-11-27T09:47:18Z'],
      ['2026-11-27 09:47:18+05 h kernel: ', '2026-11-27T09:47:18+05:00'],
      ['<13>2026-11-27T09:47:18.1Z h kernel: ', '2026-11-27T09:47:18.1Z'],
      [
        '<4>1 2026-11-27T09:47:18.000001-07:00 h kernel - - [x@1 a="b\\"]"] ',
        '2026-11-27T09:47:18.000001-07:00',
      ],
    ];
    for (const [framing, ts] of cases)
      assert.equal(parseOne(framing + TRACE_LINE)['@timestamp'], ts, framing);
  });

  it('accepts dmesg relative stamps without inventing a time', () => {
    for (const framing of ['[Nov27 09:58] ', '[  +0.000414] ', '[<    0.000414>] ']) {
      const e = parseOne(framing + TRACE_LINE);
      assert.equal(e['@timestamp'], undefined);
      assert.equal(e.ruletrail.uptime, undefined);
      assert.equal(e.netfilter.prefix, 'TRACE: raw:PREROUTING:policy:3 ');
    }
  });
});

describe('parseKernelLogLine', () => {
  it('keeps one parser (and its caches) per options object', () => {
    const a: DecodeOptions = { file: 'a.log', year: 2026 };
    const b: DecodeOptions = { file: 'b.log', year: 2020 };
    const line = `Nov 27 09:47:18 h kernel: ${TRACE_LINE}`;
    assert.equal(event(parseKernelLogLine(line, 3, a))['@timestamp'], '2026-11-27T09:47:18+00:00');
    assert.equal(event(parseKernelLogLine(line, 4, b))['@timestamp'], '2020-11-27T09:47:18+00:00');
    assert.deepEqual(event(parseKernelLogLine(line, 5, a)).ruletrail.origin, { file: 'a.log', line: 5 });
    assert.equal(parseKernelLogLine('Nov 27 09:47:18 h sshd[1]: hello', 6, a), null);
  });

  it('gives every line its own objects even when consecutive payloads are identical', () => {
    const parse = createKernelLogParser({ file: 'x', year: 2026 });
    const l1 = parse(`Nov 27 09:47:18 h kernel: TRACE: raw:PREROUTING:rule:1 ${BODY}`, 1);
    const l2 = parse(`Nov 27 09:47:18 h kernel: TRACE: raw:PREROUTING:policy:2 ${BODY}`, 2);
    const e1 = event(l1);
    const e2 = event(l2);
    assert.deepEqual(payload(e2).source, payload(e1).source);
    assert.notEqual(e1.source, e2.source);
    assert.notEqual(e1.netfilter.ip, e2.netfilter.ip);
    assert.notEqual(e1.netfilter.tcp!.flags, e2.netfilter.tcp!.flags);
    e1.netfilter.tcp!.flags!.push('FIN');
    e1.observer!.ingress!.interface!.name = 'changed';
    assert.deepEqual(e2.netfilter.tcp!.flags, ['SYN']);
    assert.deepEqual(e2.observer, io('eth0', ''));
    assert.deepEqual(e2.netfilter.trace, { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 2 });
  });

  it('is unaffected by interleaving two inputs line by line', () => {
    const v4 = parseFixture('genuine/ipv4.kmsg');
    const v6 = parseFixture('genuine/ipv6.kmsg');
    const p4 = createKernelLogParser({ file: 'ipv4.kmsg' }, { nowMs: TEST_NOW });
    const p6 = createKernelLogParser({ file: 'ipv6.kmsg' }, { nowMs: TEST_NOW });
    const l4 = fixtureLines('genuine/ipv4.kmsg');
    const l6 = fixtureLines('genuine/ipv6.kmsg');
    for (let i = 0; i < Math.max(l4.length, l6.length); i++) {
      if (i < l4.length) assert.deepEqual(p4(l4[i]!, i + 1), v4[i]);
      if (i < l6.length) assert.deepEqual(p6(l6[i]!, i + 1), v6[i]);
    }
  });
});

describe('the kernel line limit', () => {
  const head = 'Nov 27 09:47:18 h kernel: ';

  it('marks a record of exactly 1016 bytes as cut and keeps its whole tokens', () => {
    // An IPv4 TCP record whose tail the kernel cut inside the TCP options (40 bytes of IP options make it long).
    const opts = '01'.repeat(39) + '00';
    const full =
      `TRACE: mangle:a-chain-name-that-is-quite-long:rule:1 IN=eth0 OUT= ${MAC} SRC=10.0.0.1 DST=10.0.0.2 ` +
      `LEN=120 TOS=0x00 PREC=0x00 TTL=64 ID=1 OPT (${opts}) PROTO=TCP SPT=40000 DPT=443 SEQ=1 ACK=0 ` +
      `WINDOW=64240 RES=0x00 SYN URGP=0 OPT (${'0101080A'.repeat(200)}) `;
    const cut = full.slice(0, 1016);
    const e = parseOne(head + cut, { year: 2026 });
    assert.equal(e.netfilter.truncated, true);
    assert.deepEqual(e.netfilter.tcp, { seq: 1, ack: 0, window: 64240, res: 0, flags: ['SYN'], urgp: 0 });
    assert.equal(e.netfilter.ip!.options, opts);
    assert.deepEqual(e.destination, { ip: '10.0.0.2', port: 443, mac: '00-15-5D-12-E2-28' });
  });

  it('does not trust the token the cut went through', () => {
    const tail = ` IN=eth0 OUT= ${MAC} SRC=10.0.0.1 DST=10.0.0.2 LEN=60 TOS=0x00 PREC=0x0`;
    const chain = 'c'.repeat(1016 - 'TRACE: raw:'.length - ':policy:3'.length - tail.length);
    const cut = `TRACE: raw:${chain}:policy:3${tail}`;
    assert.equal(Buffer.byteLength(cut), 1016);
    const e = event(createKernelLogParser({ file: 't' })(cut, 1));
    assertValid(e);
    assert.equal(e.netfilter.truncated, true);
    // PREC=0x0 may have been PREC=0x0C: dropped, and nothing after it is invented.
    assert.deepEqual(e.netfilter.ip, { len: 60, tos: 0 });
    assert.equal(e.network.transport, undefined);
  });

  it('does not treat a longer line (not a kernel record size) as cut', () => {
    const r = createKernelLogParser({ file: 't' })(
      `TRACE: raw:PREROUTING:policy:3 ${BODY}${'x'.repeat(900)}`,
      1,
    );
    assert.equal((r as { code?: string }).code, 'RT_ERR_KLOG_NFLOG_MALFORMED');
  });
});

describe('parseNfLogBody', () => {
  it('parses a bare payload into event parts', () => {
    const body = parseNfLogBody(BODY) as NfLogBody;
    assert.ok(!(body instanceof NfLogSyntaxError));
    assert.deepEqual(body, {
      observer: io('eth0', ''),
      source: { ip: '10.0.0.1', port: 40000, mac: '00-15-5D-12-E2-24' },
      destination: { ip: '10.0.0.2', port: 443, mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'tcp', iana_number: '6' },
      netfilter: {
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
        ip: { len: 60, tos: 0, prec: 0, ttl: 64, id: 1, flags: ['DF'] },
        tcp: { seq: 1, ack: 0, window: 64240, res: 0, flags: ['SYN'], urgp: 0 },
      },
    });
  });

  it('accepts compressed IPv6 (other channels print RFC 5952) and canonicalises it', () => {
    const body = parseNfLogBody(
      'IN=eth0 OUT= SRC=2001:DB8::1 DST=2001:db8:0:0:0:0:0:2 LEN=80 TC=0 HOPLIMIT=64 FLOWLBL=0 ' +
        'PROTO=UDP SPT=1 DPT=2 LEN=40',
    ) as NfLogBody;
    assert.deepEqual(body.source, { ip: '2001:db8::1', port: 1 });
    assert.deepEqual(body.destination, { ip: '2001:db8::2', port: 2 });
  });

  it('says where and why a payload is not the kernel grammar', () => {
    const r = parseNfLogBody('IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 LEN=60 TOS=0x00 TTL=64');
    assert.ok(r instanceof NfLogSyntaxError);
    assert.equal(r.reason, 'expected "PREC=0x"');
    assert.equal(r.offset, 55);
    assert.equal(r.atEnd, false);
    const end = parseNfLogBody('IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 LEN=60');
    assert.ok(end instanceof NfLogSyntaxError);
    assert.equal(end.atEnd, true);
  });
});
