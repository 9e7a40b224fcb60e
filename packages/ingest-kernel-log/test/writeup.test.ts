/**
 * The incident write-up's kern.log lines (RFC 3164 with the single-space `Jan 1` day the write-up shows):
 * the two traces, every step in order, and one line field by field.
 */
import assert from 'node:assert/strict';
import { event, io, parseFixture } from './helpers';

describe('write-up kern.log (RFC 3164, "Jan 1")', () => {
  const results = parseFixture('writeup-kern.log', { year: 2023 });

  it('decodes every line as a TRACE step', () => {
    assert.equal(results.length, 45);
    for (const r of results) assert.equal(event(r).event.dataset, 'netfilter.trace');
  });

  it('decodes the first line field by field', () => {
    assert.deepEqual(event(results[0]), {
      '@timestamp': '2023-01-01T21:23:16+00:00',
      ruletrail: {
        schema: '1',
        channel: 'kernel-log',
        origin: { file: 'writeup-kern.log', line: 1 },
        timestampHasYear: false,
      },
      event: { kind: 'event', dataset: 'netfilter.trace' },
      host: { name: 'cos74' },
      observer: io('eth0', ''),
      source: { ip: '172.28.129.2', port: 55694, mac: '00-15-5D-12-E2-24' },
      destination: { ip: '172.28.129.4', port: 52000, mac: '00-15-5D-12-E2-28' },
      network: { type: 'ipv4', transport: 'tcp', iana_number: '6' },
      netfilter: {
        prefix: 'TRACE: raw:PREROUTING:policy:3 ',
        trace: { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 3 },
        mark: 0,
        mac: { header: '00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00', proto: '0800' },
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
      },
    });
  });

  it('keeps the steps of both traces in order, with the mark KUBE-MARK-DROP sets', () => {
    const steps = results.map((r) => {
      const e = event(r);
      const t = e.netfilter.trace!;
      return `${e['@timestamp']!.slice(0, 10)} ${t.table}:${t.chain}:${t.kind}:${t.rulenum} ${e.netfilter.mark}`;
    });
    assert.deepEqual(steps, [
      '2023-01-01 raw:PREROUTING:policy:3 0',
      '2023-01-01 mangle:PREROUTING:rule:1 0',
      '2023-01-01 mangle:cali-PREROUTING:rule:3 0',
      '2023-01-01 mangle:cali-from-host-endpoint:return:1 0',
      '2023-01-01 mangle:cali-PREROUTING:return:5 0',
      '2023-01-01 mangle:PREROUTING:policy:2 0',
      '2023-01-01 nat:PREROUTING:rule:1 0',
      '2023-01-01 nat:cali-PREROUTING:rule:1 0',
      '2023-01-01 nat:cali-fip-dnat:return:1 0',
      '2023-01-01 nat:cali-PREROUTING:return:2 0',
      '2023-01-01 nat:PREROUTING:rule:2 0',
      '2023-01-01 nat:KUBE-SERVICES:rule:59 0',
      '2023-01-01 nat:KUBE-NODEPORTS:rule:16 0',
      '2023-01-01 nat:KUBE-XLB-VETHOZVMBYUVK3NB:rule:4 0',
      '2023-01-01 nat:KUBE-MARK-DROP:rule:1 0',
      '2023-01-01 nat:KUBE-MARK-DROP:return:2 32768',
      '2023-01-01 nat:KUBE-XLB-VETHOZVMBYUVK3NB:return:5 32768',
      '2023-01-01 nat:KUBE-NODEPORTS:return:37 32768',
      '2023-01-01 nat:KUBE-SERVICES:return:60 32768',
      '2023-01-01 nat:PREROUTING:rule:5 32768',
      '2023-01-01 nat:DOCKER:return:8 32768',
      '2023-01-01 nat:PREROUTING:policy:9 32768',
      '2023-01-01 mangle:INPUT:policy:1 32768',
      '2023-01-01 filter:INPUT:rule:1 32768',
      '2023-01-01 filter:KUBE-FIREWALL:rule:1 32768',
      '2023-01-03 raw:PREROUTING:policy:4 0',
      '2023-01-03 mangle:PREROUTING:rule:1 0',
      '2023-01-03 mangle:cali-PREROUTING:rule:3 0',
      '2023-01-03 mangle:cali-from-host-endpoint:return:1 0',
      '2023-01-03 mangle:cali-PREROUTING:return:5 0',
      '2023-01-03 mangle:PREROUTING:policy:2 0',
      '2023-01-03 nat:PREROUTING:rule:1 0',
      '2023-01-03 nat:cali-PREROUTING:rule:1 0',
      '2023-01-03 nat:cali-fip-dnat:return:1 0',
      '2023-01-03 nat:cali-PREROUTING:return:2 0',
      '2023-01-03 nat:PREROUTING:rule:2 0',
      '2023-01-03 nat:KUBE-SERVICES:rule:59 0',
      '2023-01-03 nat:KUBE-NODEPORTS:return:37 0',
      '2023-01-03 nat:KUBE-SERVICES:return:60 0',
      '2023-01-03 nat:PREROUTING:rule:3 0',
      '2023-01-03 mangle:INPUT:policy:1 0',
      '2023-01-03 filter:INPUT:rule:1 0',
      '2023-01-03 filter:KUBE-FIREWALL:return:3 0',
      '2023-01-03 filter:INPUT:policy:2 0',
      '2023-01-03 nat:INPUT:policy:1 0',
    ]);
  });

  it('shows the DNAT of port 80 to 52000 between nat PREROUTING and INPUT (Jan 3)', () => {
    const before = event(results[39]);
    const after = event(results[40]);
    assert.equal(before.netfilter.prefix, 'TRACE: nat:PREROUTING:rule:3 ');
    assert.deepEqual(before.destination, { ip: '172.28.129.4', port: 80, mac: '00-15-5D-12-E2-28' });
    assert.equal(after.netfilter.prefix, 'TRACE: mangle:INPUT:policy:1 ');
    assert.deepEqual(after.destination, { ip: '172.28.129.4', port: 52000, mac: '00-15-5D-12-E2-28' });
  });
});
