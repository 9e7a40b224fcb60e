/**
 * Steps checked against their rules, rules passed between steps, and verdicts that follow conntrack: kernel-
 * formatted trace lines through the real adapter, correlator and walk.
 */
import assert from 'node:assert/strict';
import { explain, packet, ruleset } from './helpers';

const SYN = { in: 'eth0', src: '198.51.100.7', dst: '203.0.113.5', spt: 40000, seq: 1000 };

describe('explain: every step checked against its rule', () => {
  it('a rule inserted after the snapshot: rule 2 needs -p udp, the packet is tcp — UNKNOWN, and rule 1 is named as the probable one', async () => {
    // The kernel numbered the rules after a rule was inserted at the top of KUBE-EXTERNAL-SERVICES; the snapshot
    // is from before, so its rule 2 is the UDP reject.
    const log = packet({ ...SYN, dpt: 31080, id: 1 }, [
      'raw:PREROUTING:policy:2',
      'filter:INPUT:rule:1',
      'filter:KUBE-EXTERNAL-SERVICES:rule:2',
    ]).join('\n');
    const [x] = await explain(log, [ruleset('renumbered-before.save')]);
    assert.equal(x!.verdict, 'UNKNOWN');
    assert.ok(x!.flags.includes('snapshot_mismatch'));
    assert.equal(x!.decidedBy, undefined);
    const step = x!.steps[2]!;
    assert.equal(step.resolution, 'unresolved');
    assert.equal(step.check, 'no');
    assert.equal(step.checkDetail, 'needs -p udp, the packet is tcp');
    assert.equal(step.probably?.rulenum, 1);
    assert.match(x!.cause, /filter KUBE-EXTERNAL-SERVICES rule 2 needs -p udp, the packet is tcp/);
    assert.match(x!.cause, /probably means rule 1 \(-A KUBE-EXTERNAL-SERVICES -p tcp .*--dport 31080/);
    assert.doesNotMatch(x!.cause, /^rejected/);
  });

  it('with the rule the kernel numbered 1 the same packet is REJECT, checked yes', async () => {
    const log = packet({ ...SYN, dpt: 31080, id: 2 }, [
      'raw:PREROUTING:policy:2',
      'filter:INPUT:rule:1',
      'filter:KUBE-EXTERNAL-SERVICES:rule:1',
    ]).join('\n');
    const [x] = await explain(log, [ruleset('renumbered-before.save')]);
    assert.equal(x!.verdict, 'REJECT');
    assert.equal(x!.steps[2]!.check, 'yes');
    // INPUT rule 1 needs --ctstate NEW, which a log line does not carry: unknown, not a guess.
    assert.equal(x!.steps[1]!.check, 'unknown');
    assert.match(x!.steps[1]!.checkDetail!, /--ctstate NEW: depends on the conntrack state/);
  });

  it('a passed rule that matches the packet for sure contradicts the trace', async () => {
    // The trace passes KUBE-EXTERNAL-SERVICES rule 1 (tcp dport 31080) without a step, then returns.
    const log = packet({ ...SYN, dpt: 31080, id: 3 }, [
      'raw:PREROUTING:policy:2',
      'filter:INPUT:rule:1',
      'filter:KUBE-EXTERNAL-SERVICES:return:3',
      'filter:INPUT:policy:2',
    ]).join('\n');
    const [x] = await explain(log, [ruleset('renumbered-before.save')]);
    assert.equal(x!.verdict, 'UNKNOWN');
    assert.ok(x!.flags.includes('snapshot_mismatch'));
    assert.match(
      x!.steps[2]!.problem!,
      /filter KUBE-EXTERNAL-SERVICES rule 1 \(.*\) matches this packet, but the trace passed it without a step/,
    );
  });

  it('records the rules passed between steps, grouped, with the first failing criterion', async () => {
    const log = packet({ ...SYN, dpt: 8080, id: 4 }, [
      'raw:PREROUTING:policy:2',
      'filter:INPUT:rule:1',
      'filter:KUBE-EXTERNAL-SERVICES:return:3',
      'filter:INPUT:policy:2',
    ]).join('\n');
    const [x] = await explain(log, [ruleset('renumbered-before.save')]);
    assert.equal(x!.verdict, 'ACCEPT');
    assert.deepEqual(x!.steps[2]!.skipped, [
      {
        from: 1,
        to: 1,
        result: 'no',
        criterion: '--dport 31080',
        reason: 'needs --dport 31080, the packet has dport 8080',
      },
      { from: 2, to: 2, result: 'no', criterion: '-p udp', reason: 'needs -p udp, the packet is tcp' },
    ]);
    // The first step's chain: rules up to the TRACE rule ran before tracing was on, so nothing is claimed.
    assert.equal(x!.steps[0]!.skipped, undefined);
  });
});

describe("explain: verdicts follow conntrack (NAT chains see only a connection's first packet)", () => {
  const OUT = { out: 'eth0', src: '203.0.113.5', dst: '198.51.100.7', spt: 22, dpt: 40000, seq: 5000 };

  it('a later packet of an outgoing connection on a host without mangle: raw OUTPUT → filter OUTPUT is ACCEPT', async () => {
    const log = packet({ ...OUT, id: 10, flags: 'ACK PSH' }, [
      'raw:OUTPUT:policy:2',
      'filter:OUTPUT:policy:1',
    ]).join('\n');
    const [x] = await explain(log, [ruleset('no-mangle.save')]);
    assert.equal(x!.verdict, 'ACCEPT');
    assert.ok(!x!.flags.includes('silent_drop'), x!.flags.join());
    assert.deepEqual(
      [x!.decidedBy?.table, x!.decidedBy?.chain, x!.decidedBy?.kind],
      ['filter', 'OUTPUT', 'policy'],
    );
    assert.match(x!.cause, /^accepted by the filter OUTPUT policy ACCEPT \(sent by this host\)/);
  });

  it('a later packet of an incoming connection: raw PREROUTING → filter INPUT is ACCEPT (nat skipped)', async () => {
    const log = packet({ ...SYN, dpt: 22, id: 11, flags: 'ACK' }, [
      'raw:PREROUTING:policy:2',
      'filter:INPUT:rule:1',
    ]).join('\n');
    const [x] = await explain(log, [ruleset('no-mangle.save')]);
    assert.equal(x!.verdict, 'ACCEPT');
    assert.ok(!x!.flags.includes('silent_drop'));
    assert.match(x!.cause, /\(delivered locally\)/);
  });

  it("a connection's first packet that went through nat OUTPUT but never reached nat POSTROUTING stays a silent drop", async () => {
    const log = packet({ ...OUT, id: 12, flags: 'SYN' }, [
      'raw:OUTPUT:policy:2',
      'nat:OUTPUT:policy:1',
      'filter:OUTPUT:policy:1',
    ]).join('\n');
    const [x] = await explain(log, [ruleset('no-mangle.save')]);
    assert.equal(x!.verdict, 'UNKNOWN');
    assert.ok(x!.flags.includes('silent_drop'));
  });

  it('the same first packet with its nat POSTROUTING step is ACCEPT, decided by the filter OUTPUT policy', async () => {
    const log = packet({ ...OUT, id: 13, flags: 'SYN' }, [
      'raw:OUTPUT:policy:2',
      'nat:OUTPUT:policy:1',
      'filter:OUTPUT:policy:1',
      'nat:POSTROUTING:policy:1',
    ]).join('\n');
    const [x] = await explain(log, [ruleset('no-mangle.save')]);
    assert.equal(x!.verdict, 'ACCEPT');
    assert.deepEqual([x!.decidedBy?.table, x!.decidedBy?.chain], ['filter', 'OUTPUT']);
  });

  it('a real silent drop is kept: a trace that ends at raw PREROUTING never reached filter INPUT', async () => {
    const log = packet({ ...SYN, dpt: 22, id: 14, flags: 'ACK' }, ['raw:PREROUTING:policy:2']).join('\n');
    const [x] = await explain(log, [ruleset('no-mangle.save')]);
    assert.equal(x!.verdict, 'UNKNOWN');
    assert.ok(x!.flags.includes('silent_drop'));
    assert.match(x!.cause, /no verdict: the trace stops after raw:PREROUTING:policy:2/);
  });
});
