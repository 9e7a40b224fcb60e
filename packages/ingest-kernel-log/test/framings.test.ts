/**
 * Framings: the same kernel records as rsyslog, journald and dmesg write them (genuine output of each tool,
 * see fixtures/README.md). For every line: what the framing contributes (time, host, uptime, whether the year
 * was inferred) and where the message starts, exactly; and the payload must not depend on the framing.
 */
import assert from 'node:assert/strict';
import { event, framed, parseFixture, payload, type Framed } from './helpers';

const EXPECTED: Record<string, (Framed | null)[]> = {
  'dev-kmsg.log': [
    null,
    { uptime: 717.353623, prefix: 'rtkl-arpe: ' },
    { uptime: 717.353668, prefix: 'rtkl-brfwd: ' },
    { uptime: 717.460338, prefix: 'TRACE: raw:OUTPUT:policy:2 ' },
    { uptime: 717.684709, prefix: 'TRACE: raw:OUTPUT:policy:2 ' },
  ],
  'dmesg-ctime-decode.log': [
    null,
    { ts: '2026-11-27T09:58:25+00:00', prefix: 'rtkl-arpe: ' },
    { ts: '2026-11-27T09:58:25+00:00', prefix: 'rtkl-brfwd: ' },
    { ts: '2026-11-27T09:58:25+00:00', prefix: 'TRACE: raw:OUTPUT:policy:2 ' },
    { ts: '2026-11-27T09:58:25+00:00', prefix: 'TRACE: raw:OUTPUT:policy:2 ' },
  ],
  'dmesg-ctime.log': [
    null,
    { ts: '2026-11-27T09:58:25+00:00', prefix: 'rtkl-arpe: ' },
    { ts: '2026-11-27T09:58:25+00:00', prefix: 'rtkl-brfwd: ' },
    { ts: '2026-11-27T09:58:25+00:00', prefix: 'TRACE: raw:OUTPUT:policy:2 ' },
    { ts: '2026-11-27T09:58:25+00:00', prefix: 'TRACE: raw:OUTPUT:policy:2 ' },
  ],
  'dmesg-decode.log': [
    null,
    { uptime: 717.353623, prefix: 'rtkl-arpe: ' },
    { uptime: 717.353668, prefix: 'rtkl-brfwd: ' },
    { uptime: 717.460338, prefix: 'TRACE: raw:OUTPUT:policy:2 ' },
    { uptime: 717.684709, prefix: 'TRACE: raw:OUTPUT:policy:2 ' },
  ],
  'dmesg-iso.log': [
    null,
    { ts: '2026-11-27T09:58:25.353623+00:00', prefix: 'rtkl-arpe: ' },
    { ts: '2026-11-27T09:58:25.353668+00:00', prefix: 'rtkl-brfwd: ' },
    { ts: '2026-11-27T09:58:25.460338+00:00', prefix: 'TRACE: raw:OUTPUT:policy:2 ' },
    { ts: '2026-11-27T09:58:25.684709+00:00', prefix: 'TRACE: raw:OUTPUT:policy:2 ' },
  ],
  'dmesg-notime.log': [
    null,
    { prefix: 'rtkl-arpe: ' },
    { prefix: 'rtkl-brfwd: ' },
    { prefix: 'TRACE: raw:OUTPUT:policy:2 ' },
    { prefix: 'TRACE: raw:OUTPUT:policy:2 ' },
  ],
  'dmesg-raw.log': [
    null,
    { uptime: 717.353623, prefix: 'rtkl-arpe: ' },
    { uptime: 717.353668, prefix: 'rtkl-brfwd: ' },
    { uptime: 717.460338, prefix: 'TRACE: raw:OUTPUT:policy:2 ' },
    { uptime: 717.684709, prefix: 'TRACE: raw:OUTPUT:policy:2 ' },
  ],
  'dmesg-reltime.log': [
    null,
    { prefix: 'rtkl-arpe: ' },
    { prefix: 'rtkl-brfwd: ' },
    { prefix: 'TRACE: raw:OUTPUT:policy:2 ' },
    { prefix: 'TRACE: raw:OUTPUT:policy:2 ' },
  ],
  'dmesg.log': [
    null,
    { uptime: 717.353623, prefix: 'rtkl-arpe: ' },
    { uptime: 717.353668, prefix: 'rtkl-brfwd: ' },
    { uptime: 717.460338, prefix: 'TRACE: raw:OUTPUT:policy:2 ' },
    { uptime: 717.684709, prefix: 'TRACE: raw:OUTPUT:policy:2 ' },
  ],
  'journald-short-full.log': [
    null,
    { ts: '2026-11-27T09:59:21+00:00', host: 'vm', prefix: 'TRACE: raw:PREROUTING:policy:2 ' },
    { ts: '2026-11-27T09:59:21+00:00', host: 'vm', prefix: 'TRACE: raw:PREROUTING:policy:2 ' },
    { ts: '2026-11-27T09:59:21+00:00', host: 'vm', prefix: 'rtkl-opts6: ' },
  ],
  'journald-short-iso-precise.log': [
    null,
    { ts: '2026-11-27T09:59:21.561281+00:00', host: 'vm', prefix: 'TRACE: raw:PREROUTING:policy:2 ' },
    { ts: '2026-11-27T09:59:21.561093+00:00', host: 'vm', prefix: 'TRACE: raw:PREROUTING:policy:2 ' },
    { ts: '2026-11-27T09:59:21.561169+00:00', host: 'vm', prefix: 'rtkl-opts6: ' },
  ],
  'journald-short-iso.log': [
    null,
    { ts: '2026-11-27T09:59:21+00:00', host: 'vm', prefix: 'TRACE: raw:PREROUTING:policy:2 ' },
    { ts: '2026-11-27T09:59:21+00:00', host: 'vm', prefix: 'TRACE: raw:PREROUTING:policy:2 ' },
    { ts: '2026-11-27T09:59:21+00:00', host: 'vm', prefix: 'rtkl-opts6: ' },
  ],
  'journald-short-monotonic.log': [
    null,
    { host: 'vm', uptime: 679.009292, prefix: 'TRACE: raw:PREROUTING:policy:2 ' },
    { host: 'vm', uptime: 678.754082, prefix: 'TRACE: raw:PREROUTING:policy:2 ' },
    { host: 'vm', uptime: 678.876359, prefix: 'rtkl-opts6: ' },
  ],
  'journald-short-precise.log': [
    null,
    {
      ts: '2026-11-27T09:59:21.561281+00:00',
      host: 'vm',
      noYear: true,
      prefix: 'TRACE: raw:PREROUTING:policy:2 ',
    },
    {
      ts: '2026-11-27T09:59:21.561093+00:00',
      host: 'vm',
      noYear: true,
      prefix: 'TRACE: raw:PREROUTING:policy:2 ',
    },
    { ts: '2026-11-27T09:59:21.561169+00:00', host: 'vm', noYear: true, prefix: 'rtkl-opts6: ' },
  ],
  'journald-short-unix.log': [
    null,
    { ts: '2026-11-27T09:59:21.561281+00:00', host: 'vm', prefix: 'TRACE: raw:PREROUTING:policy:2 ' },
    { ts: '2026-11-27T09:59:21.561093+00:00', host: 'vm', prefix: 'TRACE: raw:PREROUTING:policy:2 ' },
    { ts: '2026-11-27T09:59:21.561169+00:00', host: 'vm', prefix: 'rtkl-opts6: ' },
  ],
  'journald-short.log': [
    null,
    { ts: '2026-11-27T09:59:21+00:00', host: 'vm', noYear: true, prefix: 'TRACE: raw:PREROUTING:policy:2 ' },
    { ts: '2026-11-27T09:59:21+00:00', host: 'vm', noYear: true, prefix: 'TRACE: raw:PREROUTING:policy:2 ' },
    { ts: '2026-11-27T09:59:21+00:00', host: 'vm', noYear: true, prefix: 'rtkl-opts6: ' },
  ],
  'rfc5424-sd-stamp.log': [
    null,
    {
      ts: '2026-11-27T09:58:47.558376+00:00',
      host: 'vm',
      uptime: 677.14954,
      prefix: 'TRACE: raw:PREROUTING:policy:2 ',
    },
    {
      ts: '2026-11-27T09:58:47.558245+00:00',
      host: 'vm',
      uptime: 677.141482,
      prefix: 'TRACE: mangle:POSTROUTING:policy:1 ',
    },
    { ts: '2026-11-27T09:58:47.558446+00:00', host: 'vm', uptime: 678.256948, prefix: 'rtkl-mac: ' },
  ],
  'rfc5424.log': [
    { ts: '2026-11-27T09:59:05.837916+00:00', host: 'vm', prefix: 'TRACE: raw:PREROUTING:policy:2 ' },
    { ts: '2026-11-27T09:59:06.562390+00:00', host: 'vm', prefix: 'TRACE: raw:PREROUTING:policy:2 ' },
    { ts: '2026-11-27T09:59:05.837720+00:00', host: 'vm', prefix: 'rtkl-arp: ' },
  ],
  'rsyslog-forward-pri-iso.log': [
    { ts: '2026-11-27T09:59:05.837916+00:00', host: 'vm', prefix: 'TRACE: raw:PREROUTING:policy:2 ' },
    { ts: '2026-11-27T09:59:06.562390+00:00', host: 'vm', prefix: 'TRACE: raw:PREROUTING:policy:2 ' },
    { ts: '2026-11-27T09:59:05.837720+00:00', host: 'vm', prefix: 'rtkl-arp: ' },
  ],
  'rsyslog-forward-pri-rfc3164.log': [
    null,
    {
      ts: '2026-11-27T09:58:47+00:00',
      host: 'vm',
      uptime: 677.14954,
      noYear: true,
      prefix: 'TRACE: raw:PREROUTING:policy:2 ',
    },
    {
      ts: '2026-11-27T09:58:47+00:00',
      host: 'vm',
      uptime: 677.141482,
      noYear: true,
      prefix: 'TRACE: mangle:POSTROUTING:policy:1 ',
    },
    { ts: '2026-11-27T09:58:47+00:00', host: 'vm', uptime: 678.256948, noYear: true, prefix: 'rtkl-mac: ' },
  ],
  'rsyslog-high-precision-nostamp.log': [
    { ts: '2026-11-27T09:59:05.837916+00:00', host: 'vm', prefix: 'TRACE: raw:PREROUTING:policy:2 ' },
    { ts: '2026-11-27T09:59:06.562390+00:00', host: 'vm', prefix: 'TRACE: raw:PREROUTING:policy:2 ' },
    { ts: '2026-11-27T09:59:05.837720+00:00', host: 'vm', prefix: 'rtkl-arp: ' },
  ],
  'rsyslog-high-precision.log': [
    null,
    {
      ts: '2026-11-27T09:58:47.558376+00:00',
      host: 'vm',
      uptime: 677.14954,
      prefix: 'TRACE: raw:PREROUTING:policy:2 ',
    },
    {
      ts: '2026-11-27T09:58:47.558245+00:00',
      host: 'vm',
      uptime: 677.141482,
      prefix: 'TRACE: mangle:POSTROUTING:policy:1 ',
    },
    { ts: '2026-11-27T09:58:47.558446+00:00', host: 'vm', uptime: 678.256948, prefix: 'rtkl-mac: ' },
  ],
  'rsyslog-traditional-stamp.log': [
    null,
    {
      ts: '2026-11-27T09:58:47+00:00',
      host: 'vm',
      uptime: 677.14954,
      noYear: true,
      prefix: 'TRACE: raw:PREROUTING:policy:2 ',
    },
    {
      ts: '2026-11-27T09:58:47+00:00',
      host: 'vm',
      uptime: 677.141482,
      noYear: true,
      prefix: 'TRACE: mangle:POSTROUTING:policy:1 ',
    },
    { ts: '2026-11-27T09:58:47+00:00', host: 'vm', uptime: 678.256948, noYear: true, prefix: 'rtkl-mac: ' },
  ],
  'rsyslog-traditional.log': [
    { ts: '2026-11-27T09:59:05+00:00', host: 'vm', noYear: true, prefix: 'TRACE: raw:PREROUTING:policy:2 ' },
    { ts: '2026-11-27T09:59:06+00:00', host: 'vm', noYear: true, prefix: 'TRACE: raw:PREROUTING:policy:2 ' },
    { ts: '2026-11-27T09:59:05+00:00', host: 'vm', noYear: true, prefix: 'rtkl-arp: ' },
  ],
};

/** Files holding the same records, line for line (one capture, several tools or output formats). */
const SAME_RECORDS: string[][] = [
  [
    'dev-kmsg.log',
    'dmesg.log',
    'dmesg-raw.log',
    'dmesg-decode.log',
    'dmesg-ctime.log',
    'dmesg-ctime-decode.log',
    'dmesg-iso.log',
    'dmesg-notime.log',
    'dmesg-reltime.log',
  ],
  [
    'journald-short.log',
    'journald-short-iso.log',
    'journald-short-iso-precise.log',
    'journald-short-precise.log',
    'journald-short-full.log',
    'journald-short-monotonic.log',
    'journald-short-unix.log',
  ],
  [
    'rsyslog-traditional-stamp.log',
    'rsyslog-high-precision.log',
    'rfc5424-sd-stamp.log',
    'rsyslog-forward-pri-rfc3164.log',
  ],
  [
    'rsyslog-traditional.log',
    'rsyslog-high-precision-nostamp.log',
    'rfc5424.log',
    'rsyslog-forward-pri-iso.log',
  ],
];

describe('framings (genuine rsyslog, journald, dmesg and /dev/kmsg output)', () => {
  for (const [file, expected] of Object.entries(EXPECTED)) {
    it(`${file}: time, host, uptime and message start`, () => {
      const results = parseFixture(`framings/${file}`);
      assert.deepEqual(results.map(framed), expected);
      for (const r of results) if (r !== null) assert.equal(event(r).ruletrail.origin.file, file);
    });
  }

  for (const group of SAME_RECORDS) {
    it(`the payload is the same whatever the framing: ${group[0]} and ${group.length - 1} more`, () => {
      const [first, ...rest] = group.map((f) => parseFixture(`framings/${f}`));
      for (const other of rest) {
        assert.equal(other.length, first!.length);
        other.forEach((r, i) => {
          const a = first![i];
          if (a === null) assert.equal(r, null);
          else assert.deepEqual(payload(event(r)), payload(event(a)));
        });
      }
    });
  }
});
