/**
 * The bundled example must reach the write-up's conclusion step for step: port 52000 dropped by KUBE-FIREWALL
 * because KUBE-MARK-DROP set 0x8000, reached from the NodePort rule; port 80 accepted because its DNAT to 52000
 * runs after KUBE-SERVICES has already looked at the packet.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXAMPLE, explain, ruleset } from './helpers';

describe('the bundled incident (examples/incident)', () => {
  const log = readFileSync(join(EXAMPLE, 'kern.log'), 'utf8');
  const jan1 = () => ruleset(join(EXAMPLE, 'iptables-save-0101.txt'));
  const jan3 = () => ruleset(join(EXAMPLE, 'iptables-save-0103.txt'));

  it('explains port 52000: DROP in KUBE-FIREWALL, mark from KUBE-MARK-DROP via the NodePort rule', async () => {
    const [drop] = await explain(log, [jan1(), jan3()], { year: 2023 });
    assert.ok(drop);
    assert.equal(drop.verdict, 'DROP');
    assert.deepEqual(drop.packet.dport, 52000);
    assert.equal(drop.packet.src, '172.28.129.2');
    assert.equal(drop.snapshot?.source.endsWith('iptables-save-0101.txt'), true);
    assert.deepEqual(
      {
        table: drop.decidedBy?.table,
        chain: drop.decidedBy?.chain,
        rulenum: drop.decidedBy?.rulenum,
        kind: drop.decidedBy?.kind,
      },
      { table: 'filter', chain: 'KUBE-FIREWALL', rulenum: 1, kind: 'rule' },
    );
    assert.equal(
      drop.decidedBy?.rule,
      '-A KUBE-FIREWALL -m comment --comment "kubernetes firewall for dropping marked packets" -m mark --mark 0x8000/0x8000 -j DROP',
    );
    assert.equal(drop.markSetBy?.length, 1);
    const setter = drop.markSetBy[0]!;
    assert.deepEqual(
      [setter.table, setter.chain, setter.rulenum, setter.mark],
      ['nat', 'KUBE-MARK-DROP', 1, '0x8000/0x8000'],
    );
    assert.deepEqual(
      setter.path.map((p) => `${p.table} ${p.chain} ${p.rulenum}`),
      [
        'nat PREROUTING 2',
        'nat KUBE-SERVICES 59',
        'nat KUBE-NODEPORTS 16',
        'nat KUBE-XLB-VETHOZVMBYUVK3NB 4',
      ],
    );
    assert.equal(drop.kubernetes?.service, 'ootob9/ingress-nginx:http');
    assert.equal(drop.kubernetes?.reason, 'has no local endpoints');
    assert.deepEqual([...drop.flags], ['kube_mark_drop', 'kube_no_endpoints']);
    assert.equal(drop.nat.length, 0);
    assert.equal(
      drop.cause,
      "dropped by filter KUBE-FIREWALL rule 1 (mark 0x8000/0x8000), mark set by nat KUBE-MARK-DROP rule 1, reached from nat KUBE-NODEPORTS rule 16 'ootob9/ingress-nginx:http' (dport 52000); kube-proxy: ootob9/ingress-nginx:http has no local endpoints",
    );
    // every one of the write-up's 25 steps is placed in the snapshot
    assert.equal(drop.steps.length, 25);
    assert.ok(drop.steps.every((s) => s.resolution !== 'unresolved'));
    assert.deepEqual(drop.steps.map((s) => s.resolution).slice(0, 6), [
      'policy',
      'rule',
      'rule',
      'implicit-return',
      'implicit-return',
      'policy',
    ]);
    assert.equal(
      drop.steps.find((s) => s.chain === 'KUBE-MARK-DROP' && s.kind === 'return')?.changed?.mark,
      '0x8000',
    );
  });

  it('explains port 80: ACCEPT, DNAT to 52000 after KUBE-SERVICES already ran', async () => {
    const out = await explain(log, [jan1(), jan3()], { year: 2023 });
    const ok = out.find((x) => x.packet.dport === 80);
    assert.ok(ok);
    assert.equal(ok.verdict, 'ACCEPT');
    assert.equal(ok.snapshot?.source.endsWith('iptables-save-0103.txt'), true);
    assert.deepEqual(
      [ok.decidedBy?.table, ok.decidedBy?.chain, ok.decidedBy?.kind, ok.decidedBy?.rulenum],
      ['filter', 'INPUT', 'policy', 2],
    );
    assert.deepEqual(ok.nat, [
      {
        kind: 'DNAT',
        from: '172.28.129.4:80',
        to: '172.28.129.4:52000',
        by: {
          table: 'nat',
          chain: 'PREROUTING',
          rulenum: 3,
          rule: '-A PREROUTING -d 172.28.129.4/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 172.28.129.4:52000',
        },
      },
    ]);
    assert.match(
      ok.cause,
      /after nat cali-PREROUTING \(PREROUTING rule 1\) and nat KUBE-SERVICES \(PREROUTING rule 2\) had already seen the original destination/,
    );
    assert.equal(ok.markSetBy, undefined);
    assert.deepEqual([...ok.flags], []);
    assert.equal(ok.steps.length, 20);
  });

  it('with only the Jan 3 snapshot, the Jan 1 packet is flagged as a mismatch instead of explained wrongly', async () => {
    const out = await explain(log, [jan3()], { year: 2023 });
    const p = out.find((x) => x.packet.dport === 52000)!;
    assert.equal(p.verdict, 'UNKNOWN');
    assert.equal(p.decidedBy, undefined);
    assert.ok(p.flags.includes('snapshot_mismatch'));
    assert.ok(p.flags.includes('event_before_snapshots'));
    assert.equal(p.steps[0]!.resolution, 'unresolved');
    assert.match(
      p.cause,
      /^snapshot .*iptables-save-0103\.txt does not match this trace \(raw:PREROUTING:policy:3: /,
    );
    // the packet that matches the snapshot is still explained
    assert.equal(out.find((x) => x.packet.dport === 80)!.verdict, 'ACCEPT');
  });
});
