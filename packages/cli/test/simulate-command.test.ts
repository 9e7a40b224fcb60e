/** The `ruletrail simulate` command end to end, as a user runs it: a child process on the bundled example. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '../../..');
const BIN = join(ROOT, 'packages/cli/bin/ruletrail.js');
const RULES = ['--rules', join(ROOT, 'examples/incident/iptables-save-0101.txt')];
const SYN = 'tcp 172.28.129.2:55694 > 172.28.129.4:52000 in eth0 syn';

function run(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, 'simulate', ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('ruletrail simulate (CLI)', () => {
  it('prints one JSON object in the explain shape', () => {
    const r = run([...RULES, '--local', '172.28.129.4', '--format', 'json', SYN]);
    assert.equal(r.code, 0, r.stderr);
    const x = JSON.parse(r.stdout) as Record<string, unknown> & {
      decidedBy: { table: string; chain: string; rulenum: number };
      steps: { table: string; chain: string; kind: string; rulenum: number }[];
      packet: { channel: string; dport: number };
    };
    assert.equal(x['verdict'], 'DROP');
    assert.deepEqual(
      [x.decidedBy.table, x.decidedBy.chain, x.decidedBy.rulenum],
      ['filter', 'KUBE-FIREWALL', 1],
    );
    assert.equal(x.packet.channel, 'simulate');
    assert.equal(x.packet.dport, 52000);
    for (const k of ['nat', 'flags', 'cause', 'snapshot', 'steps', 'unknowns', 'markSetBy'])
      assert.ok(k in x, `no ${k}`);
    assert.ok(!('branches' in x), 'one branch: no branches field');
    assert.deepEqual(Object.keys(x.steps[0]!).slice(0, 4), ['table', 'chain', 'kind', 'rulenum']);
  });

  it('prints the path as text, and the branches when the host addresses are not given', () => {
    const ok = run([...RULES, '--local', '172.28.129.4', SYN]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^simulated: tcp 172\.28\.129\.2:55694 > 172\.28\.129\.4:52000 in eth0 syn$/m);
    assert.match(ok.stdout, /^ {2}filter:KUBE-FIREWALL:rule:1$/m);
    assert.match(ok.stdout, /^ {2}=> DROP: dropped by filter KUBE-FIREWALL rule 1/m);
    const open = run([...RULES, SYN]);
    assert.equal(open.code, 0, open.stderr);
    assert.match(
      open.stdout,
      /^ {2}branch 1 \(if --dst-type LOCAL: yes; --src-type LOCAL: yes; routing: local delivery\)$/m,
    );
    assert.match(open.stdout, /^ {2}=> UNKNOWN: depends on --dst-type LOCAL/m);
    assert.match(
      open.stdout,
      /unknown: --dst-type LOCAL \(nat KUBE-SERVICES rule 59\) depends on the host's addresses/,
    );
  });

  it('takes the host addresses from ip -j addr output', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rt-sim-'));
    const facts = join(dir, 'addr.json');
    writeFileSync(
      facts,
      JSON.stringify([
        { ifindex: 1, ifname: 'lo', addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8 }] },
        {
          ifindex: 2,
          ifname: 'eth0',
          addr_info: [{ family: 'inet', local: '172.28.129.4', prefixlen: 24, broadcast: '172.28.129.255' }],
        },
      ]),
    );
    const r = run([...RULES, '--host-facts', facts, '--format', 'json', SYN]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { verdict: string }).verdict, 'DROP');
  });

  it('usage errors: exit 2 with the reason', () => {
    const cases: [string[], RegExp][] = [
      [[SYN], /needs --rules/],
      [[...RULES], /no packet given/],
      [[...RULES, 'tcp 1.2.3.4:1 > nowhere'], /packet: destination 'nowhere' is not an IPv4 or IPv6 address/],
      [[...RULES, '--local', 'me', SYN], /--local me: not an IPv4 or IPv6 address/],
      [[...RULES, '--format', 'yaml', SYN], /--format must be text or json/],
      [[...RULES, 'udp [fd00::2]:1 > [fd00::4]:53'], /no ipv6 snapshot/],
    ];
    for (const [args, why] of cases) {
      const r = run(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}`);
      assert.match(r.stderr, why);
    }
  });
});
