/** Verdict rules beyond the incident: unconditional rules logged as policy/return, REJECT, goto, silent drops, mismatches. */
import assert from 'node:assert/strict';
import { explain, packet, ruleset } from './helpers';

const CLIENT = { in: 'eth0', src: '192.0.2.10', dst: '203.0.113.5', spt: 40000, seq: 1000 };

describe('explain scenarios', () => {
  const rs = () => ruleset('modern-kube.save');

  it('an explicit unconditional -j DROP logged as policy:5 is rule 5, not the chain policy (ACCEPT)', async () => {
    // From outside 192.0.2.0/24: rule 4 (-s 192.0.2.0/24 -j ALLOW) must not match, or the trace could not pass it.
    const log = packet({ ...CLIENT, src: '198.51.100.10', dpt: 8080, id: 1 }, [
      'raw:PREROUTING:policy:2',
      'filter:INPUT:rule:1',
      'filter:KUBE-PROXY-FIREWALL:return:1',
      'filter:INPUT:rule:2',
      'filter:KUBE-EXTERNAL-SERVICES:return:2',
      'filter:INPUT:policy:5',
    ]).join('\n');
    const [x] = await explain(log, [rs()]);
    assert.equal(x!.verdict, 'DROP');
    assert.deepEqual(
      [x!.decidedBy?.rulenum, x!.decidedBy?.kind, x!.decidedBy?.rule],
      [5, 'policy', '-A INPUT -j DROP'],
    );
    assert.equal(x!.steps[5]!.resolution, 'unconditional-rule');
    assert.equal(
      x!.cause,
      'dropped by filter INPUT rule 5 (unconditional -j DROP, which the kernel logs as policy:5)',
    );
  });

  it('modern kube-proxy DROP for a service with no local endpoints names the service', async () => {
    const log = packet({ ...CLIENT, dpt: 31080, id: 2 }, [
      'raw:PREROUTING:policy:2',
      'filter:INPUT:rule:1',
      'filter:KUBE-PROXY-FIREWALL:return:1',
      'filter:INPUT:rule:2',
      'filter:KUBE-EXTERNAL-SERVICES:rule:1',
    ]).join('\n');
    const [x] = await explain(log, [rs()]);
    assert.equal(x!.verdict, 'DROP');
    assert.equal(x!.kubernetes?.service, 'shop/web:http');
    assert.equal(x!.kubernetes?.reason, 'has no local endpoints');
    assert.deepEqual(x!.kubernetes?.chains, ['KUBE-PROXY-FIREWALL', 'KUBE-EXTERNAL-SERVICES']);
    assert.ok(x!.flags.includes('kube_no_endpoints'));
    assert.ok(!x!.flags.includes('kube_mark_drop'));
    assert.match(
      x!.cause,
      /^dropped by filter KUBE-EXTERNAL-SERVICES rule 1 'shop\/web:http has no local endpoints'/,
    );
  });

  it('REJECT of a locally generated packet to a service with no endpoints', async () => {
    const log = packet(
      { out: 'eth0', src: '203.0.113.5', dst: '10.96.5.5', spt: 51000, dpt: 9090, id: 3, seq: 7 },
      ['raw:OUTPUT:policy:2', 'nat:OUTPUT:policy:1', 'filter:OUTPUT:rule:1', 'filter:KUBE-SERVICES:rule:1'],
    ).join('\n');
    const [x] = await explain(log, [rs()]);
    assert.equal(x!.verdict, 'REJECT');
    assert.equal(x!.decidedBy?.chain, 'KUBE-SERVICES');
    assert.equal(x!.kubernetes?.service, 'shop/api:grpc');
    assert.equal(x!.kubernetes?.reason, 'has no endpoints');
  });

  it('an unconditional -j ACCEPT in a user chain is logged as return and accepts', async () => {
    const log = packet({ ...CLIENT, src: '192.0.2.99', dpt: 443, id: 4 }, [
      'raw:PREROUTING:policy:2',
      'filter:INPUT:rule:1',
      'filter:KUBE-PROXY-FIREWALL:return:1',
      'filter:INPUT:rule:2',
      'filter:KUBE-EXTERNAL-SERVICES:return:2',
      'filter:INPUT:rule:4',
      'filter:ALLOW:return:1',
      'nat:INPUT:policy:1',
    ]).join('\n');
    const [x] = await explain(log, [rs()]);
    assert.equal(x!.verdict, 'ACCEPT');
    assert.deepEqual(
      [x!.decidedBy?.chain, x!.decidedBy?.rulenum, x!.decidedBy?.rule],
      ['ALLOW', 1, '-A ALLOW -j ACCEPT'],
    );
    assert.equal(x!.steps[6]!.resolution, 'unconditional-rule');
  });

  it('goto: the RETURN at the end of a -g chain goes back past the chain that jumped', async () => {
    const log = packet({ ...CLIENT, dpt: 22, id: 5 }, [
      'raw:PREROUTING:policy:2',
      'filter:INPUT:rule:1',
      'filter:KUBE-PROXY-FIREWALL:return:1',
      'filter:INPUT:rule:2',
      'filter:KUBE-EXTERNAL-SERVICES:return:2',
      'filter:INPUT:rule:3',
      'filter:TCPIN:return:2',
      'filter:INPUT:policy:6',
      'nat:INPUT:policy:1',
    ]).join('\n');
    const [x] = await explain(log, [rs()]);
    assert.equal(x!.steps[5]!.effect, 'goto');
    assert.equal(x!.verdict, 'ACCEPT');
    assert.deepEqual([x!.decidedBy?.chain, x!.decidedBy?.kind], ['INPUT', 'policy']);
    assert.ok(!x!.flags.includes('trace_gap'));
  });

  it('MASQUERADE on the way out: the rewrite is taken from the rule when no later step shows it', async () => {
    const log = packet(
      { out: 'eth0', src: '203.0.113.5', dst: '198.51.100.7', spt: 52000, dpt: 443, id: 6, seq: 9 },
      [
        'raw:OUTPUT:policy:2',
        'nat:OUTPUT:policy:1',
        'filter:OUTPUT:rule:1',
        'filter:KUBE-SERVICES:return:2',
        'filter:OUTPUT:policy:2',
        'nat:POSTROUTING:rule:1',
      ],
    ).join('\n');
    const [x] = await explain(log, [rs()]);
    assert.equal(x!.verdict, 'ACCEPT');
    assert.deepEqual(x!.nat, [
      {
        kind: 'MASQUERADE',
        from: '203.0.113.5:52000',
        to: '(address of eth0)',
        by: { table: 'nat', chain: 'POSTROUTING', rulenum: 1, rule: '-A POSTROUTING -o eth0 -j MASQUERADE' },
      },
    ]);
  });

  it('a trace that stops at PREROUTING is UNKNOWN with silent_drop', async () => {
    const log = packet({ ...CLIENT, dpt: 8081, id: 7 }, ['raw:PREROUTING:policy:2']).join('\n');
    const [x] = await explain(log, [rs()]);
    assert.equal(x!.verdict, 'UNKNOWN');
    assert.deepEqual([...x!.flags], ['silent_drop']);
    assert.match(x!.cause, /^no verdict: the trace stops after raw:PREROUTING:policy:2/);
  });

  it('a rule number past the end of a chain and an unknown chain flag snapshot_mismatch', async () => {
    const a = packet({ ...CLIENT, dpt: 8082, id: 8 }, ['raw:PREROUTING:policy:2', 'filter:INPUT:rule:9']);
    const b = packet({ ...CLIENT, dpt: 8083, id: 9, seq: 2 }, [
      'raw:PREROUTING:policy:2',
      'filter:KUBE-GONE:rule:1',
    ]);
    const out = await explain([...a, ...b].join('\n'), [rs()]);
    assert.equal(out.length, 2);
    for (const x of out) {
      assert.equal(x.verdict, 'UNKNOWN');
      assert.ok(x.flags.includes('snapshot_mismatch'));
    }
    assert.match(out[0]!.steps[1]!.problem!, /rule 9 is past the end of filter INPUT \(5 rules/);
    assert.match(out[1]!.steps[1]!.problem!, /chain filter KUBE-GONE is not in snapshot/);
  });

  it('no snapshot of the family: UNKNOWN with no_snapshot', async () => {
    const log = packet({ ...CLIENT, dpt: 8084, id: 10 }, ['raw:PREROUTING:policy:2']).join('\n');
    const [x] = await explain(log, [ruleset('modern-kube.save', 'ipv6')]);
    assert.equal(x!.verdict, 'UNKNOWN');
    assert.deepEqual([...x!.flags], ['no_snapshot']);
  });
});
