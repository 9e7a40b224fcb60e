/**
 * `simulate` on real snapshots: the bundled incident (whose real kernel trace is in examples/incident/kern.log)
 * and the lab's snapshots. Predicted paths are compared with the real traces, step by step.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseIptablesSave, parseNftJson, type Ruleset } from '@ruletrail/ruleset';
import {
  PacketSpecError,
  formatPacketSpec,
  parsePacketSpec,
  simulate,
  type SimulatedStep,
  type Simulation,
} from '../src';
import { EXAMPLE, explain } from './helpers';

const LAB = join(__dirname, '../../../test/fixtures/lab');

function snapshot(path: string): Ruleset {
  return parseIptablesSave(readFileSync(path, 'utf8'), { source: path });
}
const label = (s: { table: string; chain: string; kind: string; rulenum: number }) =>
  `${s.table}:${s.chain}:${s.kind}:${s.rulenum}`;
/** The legacy kernel traces from the rule after the one whose TRACE target switched tracing on. */
function traced(steps: readonly SimulatedStep[]): string[] {
  const i = steps.findIndex((s) => s.target === 'TRACE');
  return steps.slice(i + 1).map(label);
}
function sim(rs: Ruleset, packet: string, locals: string[] = []): Simulation {
  return simulate(rs, parsePacketSpec(packet), { locals });
}

describe('simulate: packet descriptions', () => {
  it('reads tcp with flags, interfaces, mark and state', () => {
    const p = parsePacketSpec(
      'tcp 10.0.0.2:40000 > 10.0.0.4:52000 in eth0 out eth1 syn,ack mark 0x10 state established',
    );
    assert.deepEqual(p, {
      family: 'ipv4',
      proto: 'tcp',
      src: '10.0.0.2',
      dst: '10.0.0.4',
      sport: 40000,
      dport: 52000,
      in: 'eth0',
      out: 'eth1',
      tcpFlags: ['SYN', 'ACK'],
      mark: 0x10,
      state: 'ESTABLISHED',
    });
    assert.equal(
      formatPacketSpec(p),
      'tcp 10.0.0.2:40000 > 10.0.0.4:52000 in eth0 out eth1 syn,ack mark 0x10 state established',
    );
    assert.deepEqual(parsePacketSpec('tcp 1.2.3.4:1 > 5.6.7.8:2 syn ack').tcpFlags, ['SYN', 'ACK']);
  });

  it('reads IPv6 in brackets, udp and icmp types by number and name', () => {
    const u = parsePacketSpec('udp [fd00::2]:40000 > [fd00::4]:53 in eth0');
    assert.equal(u.family, 'ipv6');
    assert.equal(u.src, 'fd00::2');
    assert.equal(u.dport, 53);
    const i = parsePacketSpec('icmp 10.0.0.2 > 10.0.0.4 type 8');
    assert.equal(i.icmpType, 8);
    assert.equal(i.sport, undefined);
    assert.equal(parsePacketSpec('icmp 10.0.0.2>10.0.0.4 echo-reply').icmpType, 0);
    const i6 = parsePacketSpec('icmpv6 fd00::2 > fd00::4 type echo-request');
    assert.equal(i6.proto, 'ipv6-icmp');
    assert.equal(i6.icmpType, 128);
    assert.equal(parsePacketSpec('icmp fd00::2 > fd00::4').proto, 'ipv6-icmp');
  });

  it('says which word is wrong', () => {
    const bad: [string, RegExp][] = [
      ['', /empty/],
      ['tcpx 1.2.3.4:1 > 5.6.7.8:2', /unknown protocol 'tcpx'/],
      ['tcp 1.2.3.4:1 5.6.7.8:2', /SRC > DST/],
      ['tcp 1.2.3.999:1 > 5.6.7.8:2', /source '1.2.3.999:1' is not an IPv4 or IPv6 address/],
      ['tcp 1.2.3.4:70000 > 5.6.7.8:2', /port 70000 is above 65535/],
      ['icmp 1.2.3.4:1 > 5.6.7.8', /icmp has no ports/],
      ['tcp 1.2.3.4:1 > [fd00::1]:2', /different address families/],
      ['tcp 1.2.3.4:1 > 5.6.7.8:2 state maybe', /'state maybe': expected new, established/],
      ['udp 1.2.3.4:1 > 5.6.7.8:2 syn', /TCP flag 'syn' on a udp packet/],
      ['tcp 1.2.3.4:1 > 5.6.7.8:2 mark banana', /'mark banana': expected a number/],
      ['tcp 1.2.3.4:1 > 5.6.7.8:2 sideways', /unexpected 'sideways'/],
    ];
    for (const [text, why] of bad)
      assert.throws(
        () => parsePacketSpec(text),
        (e: unknown) => e instanceof PacketSpecError && why.test(e.message),
      );
  });
});

describe('simulate: the bundled incident', () => {
  const jan1 = snapshot(join(EXAMPLE, 'iptables-save-0101.txt'));
  const jan3 = snapshot(join(EXAMPLE, 'iptables-save-0103.txt'));
  const NODE = '172.28.129.4';

  it('a SYN to NodePort 52000 is dropped by filter KUBE-FIREWALL rule 1, the mark set in nat KUBE-MARK-DROP', async () => {
    const r = sim(jan1, 'tcp 172.28.129.2:55694 > 172.28.129.4:52000 in eth0 syn', [NODE]);
    assert.equal(r.verdict, 'DROP');
    assert.deepEqual(
      [r.decidedBy?.table, r.decidedBy?.chain, r.decidedBy?.rulenum],
      ['filter', 'KUBE-FIREWALL', 1],
    );
    assert.deepEqual(
      r.decidedBy?.path.map((x) => `${x.table}:${x.chain}:${x.rulenum}`),
      ['filter:INPUT:1'],
    );
    assert.equal(r.markSetBy?.length, 1);
    assert.equal(r.markSetBy?.[0]?.chain, 'KUBE-MARK-DROP');
    assert.equal(r.markSetBy?.[0]?.mark, '0x8000/0x8000');
    // Reached from the NodePort rule KUBE-NODEPORTS 16, as the write-up found.
    assert.ok(r.markSetBy?.[0]?.path.some((x) => x.chain === 'KUBE-NODEPORTS' && x.rulenum === 16));
    assert.equal(r.route, 'local');
    assert.deepEqual(r.nat, []);
    assert.equal(r.branches, undefined);
    assert.deepEqual(r.unknowns, []);
    assert.match(r.cause, /dropped by filter KUBE-FIREWALL rule 1 \(mark set by nat KUBE-MARK-DROP rule 1\)/);
    // The predicted path is the real trace of that packet, step for step.
    const [real] = await explain(readFileSync(join(EXAMPLE, 'kern.log'), 'utf8'), [jan1, jan3], {
      year: 2023,
    });
    assert.deepEqual(traced(r.steps), real!.steps.map(label));
  });

  it('a SYN to port 80 is DNATed to 52000 and accepted, as traced on Jan 3', async () => {
    const r = sim(jan3, 'tcp 172.28.129.2:55700 > 172.28.129.4:80 in eth0 syn', [NODE]);
    assert.equal(r.verdict, 'ACCEPT');
    assert.deepEqual(
      [r.decidedBy?.table, r.decidedBy?.chain, r.decidedBy?.kind],
      ['filter', 'INPUT', 'policy'],
    );
    assert.equal(r.nat.length, 1);
    assert.deepEqual(
      { kind: r.nat[0]!.kind, from: r.nat[0]!.from, to: r.nat[0]!.to, by: r.nat[0]!.by?.rulenum },
      { kind: 'DNAT', from: '172.28.129.4:80', to: '172.28.129.4:52000', by: 3 },
    );
    const mangleInput = r.steps.find((s) => s.table === 'mangle' && s.chain === 'INPUT');
    assert.deepEqual(mangleInput?.changed, { dport: 52000 });
    const real = (
      await explain(readFileSync(join(EXAMPLE, 'kern.log'), 'utf8'), [jan1, jan3], { year: 2023 })
    )[1]!;
    assert.equal(real.verdict, 'ACCEPT');
    assert.deepEqual(traced(r.steps), real.steps.map(label));
  });

  it('without the host addresses, addrtype and routing are unknown: branches, verdict UNKNOWN', () => {
    const r = sim(jan1, 'tcp 172.28.129.2:55694 > 172.28.129.4:52000 in eth0 syn');
    assert.equal(r.verdict, 'UNKNOWN');
    assert.equal(r.decidedBy, undefined);
    assert.ok(r.flags.includes('unknown_criteria'));
    const crit = r.unknowns.map((u) => u.criterion);
    assert.ok(crit.includes('--dst-type LOCAL'), crit.join());
    assert.ok(crit.includes('routing'), crit.join());
    assert.ok(r.branches && r.branches.length > 1);
    // One branch is the incident: LOCAL, local delivery → the KUBE-FIREWALL drop.
    const incident = r.branches.find(
      (b) =>
        b.assumptions.some((a) => a.criterion === '--dst-type LOCAL' && a.answer === 'yes') &&
        b.assumptions.some((a) => a.criterion === 'routing' && a.answer === 'local delivery'),
    );
    assert.equal(incident?.verdict, 'DROP');
    assert.equal(incident?.decidedBy?.chain, 'KUBE-FIREWALL');
    // The steps shared by every branch stop where the first unknown was met.
    assert.equal(r.steps.at(-1)?.chain, 'PREROUTING');
    assert.ok(r.steps.length < incident.steps.length);
    // A branch assumes one answer per criterion: never both yes and no for the same addrtype on the same packet.
    for (const b of r.branches) {
      const answers = b.assumptions.filter((a) => a.criterion === '--dst-type LOCAL').map((a) => a.answer);
      assert.ok(new Set(answers).size <= 1, JSON.stringify(b.assumptions));
    }
  });

  it('a packet of an established connection skips the nat table, keeps its mark, and is dropped for it', () => {
    const r = sim(
      jan1,
      'tcp 172.28.129.2:55694 > 172.28.129.4:52000 in eth0 ack mark 0x8000 state established',
      [NODE],
    );
    assert.equal(r.verdict, 'DROP');
    assert.equal(r.decidedBy?.chain, 'KUBE-FIREWALL');
    assert.ok(!r.steps.some((s) => s.table === 'nat'), 'no nat steps for an established connection');
    // Calico's mangle rule accepts established packets before anything else in mangle PREROUTING.
    assert.ok(r.steps.some((s) => s.chain === 'cali-PREROUTING' && s.effect === 'accept'));
  });

  it('when every branch agrees, the verdict stands and says on what it did not depend', () => {
    // UDP without a state: the conntrack state is unknown, yet every state ends in the filter INPUT policy.
    const r = sim(jan3, 'udp 172.28.129.2:40000 > 172.28.129.4:53 in eth0', [NODE]);
    assert.ok(r.branches && r.branches.length > 1);
    assert.ok(r.branches.every((b) => b.verdict === 'ACCEPT'));
    assert.equal(r.verdict, 'ACCEPT');
    assert.deepEqual([r.decidedBy?.table, r.decidedBy?.chain], ['filter', 'INPUT']);
    assert.match(r.cause, /the same on all \d+ branches of: .*conntrack/);
  });
});

describe('simulate: lab snapshots', () => {
  it('forwards a pod SYN and masquerades it (snat-masquerade), as traced', async () => {
    const dir = join(LAB, 'snat-masquerade', 'kernel-log');
    const rs = snapshot(join(dir, 'iptables-save.txt'));
    const r = sim(rs, 'tcp 10.244.1.2:54533 > 172.28.129.2:8080 in pod0 out eth0 syn', [
      '172.28.129.4',
      '10.244.1.1',
    ]);
    assert.equal(r.verdict, 'ACCEPT');
    assert.equal(r.route, 'forward');
    assert.equal(r.decidedBy?.table, 'filter', 'the filtering decision, not the masquerade rule');
    assert.deepEqual(
      r.nat.map((n) => [n.kind, n.to, n.by?.chain]),
      [['MASQUERADE', '(address of eth0)', 'cali-nat-outgoing']],
    );
    const [real] = await explain(readFileSync(join(dir, 'kern.log'), 'utf8'), [rs]);
    assert.deepEqual(traced(r.steps), real!.steps.map(label));
  });

  it('a packet the host sends goes OUTPUT → POSTROUTING', () => {
    const rs = snapshot(join(LAB, 'incident', 'kernel-log', 'iptables-save.txt'));
    const r = sim(rs, 'tcp 172.28.129.4:40000 > 172.28.129.2:8080 syn out eth0', ['172.28.129.4']);
    assert.equal(r.route, 'output');
    assert.equal(r.steps[0]?.chain, 'OUTPUT');
    assert.ok(r.steps.some((s) => s.chain === 'POSTROUTING'));
    assert.ok(!r.steps.some((s) => s.chain === 'PREROUTING' || s.chain === 'INPUT'));
    assert.equal(r.verdict, 'ACCEPT');
  });

  it('a packet the host sends to itself comes back in through lo, past no NAT chain', () => {
    const rs = snapshot(join(LAB, 'incident', 'kernel-log', 'iptables-save.txt'));
    // (Not to NodePort 52000: kube-proxy DNATs the node's own connection to it to a remote pod.)
    const r = sim(rs, 'tcp 172.28.129.4:40000 > 172.28.129.4:8080 syn', ['172.28.129.4']);
    const hooks = r.steps
      .map((s) => `${s.table}:${s.chain}`)
      .filter((l) => /:(OUTPUT|POSTROUTING|PREROUTING|INPUT)$/.test(l));
    assert.ok(
      hooks.indexOf('nat:OUTPUT') >= 0 && hooks.indexOf('nat:POSTROUTING') > hooks.indexOf('nat:OUTPUT'),
    );
    const back = r.steps.findIndex((s) => s.chain === 'PREROUTING');
    assert.ok(back > 0, 'back in at PREROUTING');
    assert.ok(!r.steps.slice(back).some((s) => s.table === 'nat'), 'no NAT chain on the way in');
    assert.ok(r.steps.slice(back).some((s) => s.table === 'filter' && s.chain === 'INPUT'));
    assert.equal(r.verdict, 'ACCEPT');
    assert.deepEqual([r.decidedBy?.table, r.decidedBy?.chain], ['filter', 'INPUT']);
  });

  it('rejects UDP to a closed port and drops ICMP echo (udp-icmp), as traced', async () => {
    const dir = join(LAB, 'udp-icmp', 'kernel-log');
    const rs = snapshot(join(dir, 'iptables-save.txt'));
    const real = await explain(readFileSync(join(dir, 'kern.log'), 'utf8'), [rs]);
    const reject = sim(rs, 'udp 172.28.129.2:39538 > 172.28.129.4:5354 in eth0 state new', ['172.28.129.4']);
    const drop = sim(rs, 'icmp 172.28.129.2 > 172.28.129.4 in eth0 type 8 state new', ['172.28.129.4']);
    assert.equal(reject.verdict, 'REJECT');
    assert.equal(drop.verdict, 'DROP');
    assert.deepEqual(traced(reject.steps), real.find((x) => x.packet.dport === 5354)!.steps.map(label));
    assert.deepEqual(traced(drop.steps), real.find((x) => x.packet.proto === 'icmp')!.steps.map(label));
  });
});

describe('simulate: conntrack NAT status', () => {
  // kube-proxy's "block incoming localnet connections" rule, and a DNAT to localhost in front of it.
  const rs = parseIptablesSave(
    [
      '*nat',
      ':PREROUTING ACCEPT [0:0]',
      '-A PREROUTING -p tcp -m tcp --dport 9999 -j DNAT --to-destination 127.0.0.1:8080',
      'COMMIT',
      '*filter',
      ':INPUT ACCEPT [0:0]',
      ':KUBE-FIREWALL - [0:0]',
      '-A INPUT -j KUBE-FIREWALL',
      '-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP',
      'COMMIT',
      '',
    ].join('\n'),
    { source: 'localnet.save' },
  );

  it('a DNAT earlier on the way makes --ctstate DNAT match', () => {
    const direct = sim(rs, 'tcp 172.28.129.2:40000 > 127.0.0.1:8080 in eth0 syn', ['172.28.129.4']);
    assert.equal(direct.verdict, 'DROP');
    assert.deepEqual([direct.decidedBy?.chain, direct.decidedBy?.rulenum], ['KUBE-FIREWALL', 1]);
    const dnat = sim(rs, 'tcp 172.28.129.2:40000 > 172.28.129.4:9999 in eth0 syn', ['172.28.129.4']);
    assert.equal(dnat.nat[0]?.to, '127.0.0.1:8080');
    assert.equal(dnat.verdict, 'ACCEPT', JSON.stringify(dnat.steps.map(label)));
    assert.equal(dnat.route, 'local');
  });
});

describe('simulate: nftables verdict maps', () => {
  // `nft -j list ruleset` of a kube-proxy-style table (the shape of kube-proxy's nftables proxier).
  const nft = JSON.stringify({
    nftables: [
      { metainfo: { version: '1.0.6', json_schema_version: 1 } },
      { table: { family: 'ip', name: 'kube-proxy', handle: 1 } },
      {
        chain: {
          family: 'ip',
          table: 'kube-proxy',
          name: 'filter-input',
          handle: 2,
          type: 'filter',
          hook: 'input',
          prio: -110,
          policy: 'accept',
        },
      },
      { chain: { family: 'ip', table: 'kube-proxy', name: 'services', handle: 3 } },
      { chain: { family: 'ip', table: 'kube-proxy', name: 'reject-chain', handle: 4 } },
      {
        map: {
          family: 'ip',
          name: 'no-endpoint-nodeports',
          table: 'kube-proxy',
          type: ['inet_proto', 'inet_service'],
          handle: 5,
          map: 'verdict',
          elem: [
            [
              { elem: { val: { concat: ['tcp', 30080] }, comment: 'shop/web:http' } },
              { goto: { target: 'reject-chain' } },
            ],
          ],
        },
      },
      {
        rule: {
          family: 'ip',
          table: 'kube-proxy',
          chain: 'filter-input',
          handle: 6,
          expr: [
            {
              vmap: {
                key: {
                  concat: [{ meta: { key: 'l4proto' } }, { payload: { protocol: 'th', field: 'dport' } }],
                },
                data: '@no-endpoint-nodeports',
              },
            },
          ],
        },
      },
      {
        rule: {
          family: 'ip',
          table: 'kube-proxy',
          chain: 'reject-chain',
          handle: 7,
          expr: [{ reject: null }],
        },
      },
    ],
  });
  const rs = parseNftJson(nft, { source: 'kube-proxy.json', family: 'ipv4' });

  it('looks the packet up in the map: a hit decides, a miss goes on', () => {
    const hit = sim(rs, 'tcp 172.28.129.2:40000 > 172.28.129.4:30080 in eth0 syn', ['172.28.129.4']);
    assert.equal(hit.verdict, 'REJECT');
    assert.deepEqual([hit.decidedBy?.chain, hit.decidedBy?.rulenum], ['reject-chain', 1]);
    assert.equal(hit.steps[0]?.target, 'goto reject-chain');
    const miss = sim(rs, 'tcp 172.28.129.2:40000 > 172.28.129.4:30081 in eth0 syn', ['172.28.129.4']);
    assert.equal(miss.verdict, 'ACCEPT');
    assert.equal(miss.decidedBy?.kind, 'policy');
    assert.deepEqual(miss.unknowns, []);
  });
});
