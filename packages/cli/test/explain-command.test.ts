/** The `ruletrail explain` command end to end, as a user runs it: a child process on the bundled example. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const ROOT = join(__dirname, '../../..');
const BIN = join(ROOT, 'packages/cli/bin/ruletrail.js');
const EX = join(ROOT, 'examples/incident');
const RULES = ['--rules', join(EX, 'iptables-save-0101.txt'), '--rules', join(EX, 'iptables-save-0103.txt')];

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '', FORCE_COLOR: '', ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('ruletrail explain (CLI)', () => {
  it('gives xtables-monitor packets the protocol their matched rules require (the channel prints none for UDP/ICMP)', () => {
    const dir = join(ROOT, 'test/fixtures/lab/udp-icmp/xtables-monitor');
    const r = run([
      'explain',
      '--format',
      'json',
      '--rules',
      join(dir, 'iptables-save.txt'),
      join(dir, 'xtables-monitor.txt'),
    ]);
    assert.equal(r.code, 0, r.stderr);
    const got = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { packet: { proto?: string; protoFrom?: string }; verdict: string })
      .map((x) => [x.packet.proto, x.packet.protoFrom, x.verdict]);
    assert.deepEqual(got, [
      ['udp', 'rules', 'ACCEPT'],
      ['udp', 'rules', 'REJECT'],
      ['icmp', 'rules', 'DROP'],
    ]);
  });

  it('prints one NDJSON object per packet with the public contract fields', () => {
    const r = run(['explain', '--year', '2023', ...RULES, '--format', 'json', join(EX, 'kern.log')]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 2);
    const [drop, ok] = lines.map((l) => JSON.parse(l));
    assert.deepEqual(
      {
        src: drop.packet.src,
        dst: drop.packet.dst,
        proto: drop.packet.proto,
        sport: drop.packet.sport,
        dport: drop.packet.dport,
      },
      { src: '172.28.129.2', dst: '172.28.129.4', proto: 'tcp', sport: 55694, dport: 52000 },
    );
    assert.equal(drop.verdict, 'DROP');
    assert.deepEqual(Object.keys(drop.decidedBy).sort(), [
      'chain',
      'kind',
      'path',
      'rule',
      'rulenum',
      'table',
      'target',
    ]);
    assert.equal(drop.markSetBy[0].chain, 'KUBE-MARK-DROP');
    assert.equal(drop.kubernetes.service, 'ootob9/ingress-nginx:http');
    assert.ok(Array.isArray(drop.steps) && drop.steps.length === 25);
    assert.equal(ok.verdict, 'ACCEPT');
    assert.equal(ok.nat[0].kind, 'DNAT');
    assert.match(
      r.stderr,
      /2 packets \(1 DROP, 1 ACCEPT\) from 45 netfilter records; 3 other lines skipped; 0 unreadable/,
    );
  });

  it('prints plain text with no escape codes when NO_COLOR is set, and ends each packet with the cause', () => {
    const r = run(['explain', '--year', '2023', ...RULES, join(EX, 'kern.log')], {
      NO_COLOR: '1',
      FORCE_COLOR: '1',
    });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes('\x1b['));
    assert.match(
      r.stdout,
      /=> DROP: dropped by filter KUBE-FIREWALL rule 1 \(mark 0x8000\/0x8000\), mark set by nat KUBE-MARK-DROP rule 1, reached from nat KUBE-NODEPORTS rule 16 'ootob9\/ingress-nginx:http' \(dport 52000\)/,
    );
    assert.match(
      r.stdout,
      /=> ACCEPT: accepted by the filter INPUT policy ACCEPT \(delivered locally\); destination 172\.28\.129\.4:80 rewritten to 172\.28\.129\.4:52000 by nat PREROUTING rule 3/,
    );
  });

  it('colours steps like the original decoder when asked (FORCE_COLOR) and not with --no-color', () => {
    const coloured = run(['explain', '--year', '2023', ...RULES, join(EX, 'kern.log')], { FORCE_COLOR: '1' });
    assert.ok(coloured.stdout.includes('\x1b[36mraw:PREROUTING:policy:3\x1b[0m'), 'trace step in cyan');
    assert.ok(
      coloured.stdout.includes('\x1b[32m-A KUBE-MARK-DROP -j MARK --set-xmark 0x8000/0x8000\x1b[0m'),
      'rule in green',
    );
    assert.ok(coloured.stdout.includes('\x1b[34mnat PREROUTING policy ACCEPT\x1b[0m'), 'policy in blue');
    assert.ok(
      coloured.stdout.includes('\x1b[90mend of KUBE-MARK-DROP: return to the calling chain\x1b[0m'),
      'return in gray',
    );
    const plain = run(['explain', '--no-color', '--year', '2023', ...RULES, join(EX, 'kern.log')], {
      FORCE_COLOR: '1',
    });
    assert.ok(!plain.stdout.includes('\x1b['));
  });

  it('--packet selects by TCP options hex, by IP ID and by 5-tuple fields', () => {
    const byOpt = run([
      'explain',
      '--year',
      '2023',
      ...RULES,
      '--format',
      'json',
      '--packet',
      '020405B40402080AD59B2E870000000001030307',
      join(EX, 'kern.log'),
    ]);
    assert.deepEqual(
      byOpt.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).packet.dport),
      [80],
    );
    const byId = run([
      'explain',
      '--year',
      '2023',
      ...RULES,
      '--format',
      'json',
      '--packet',
      'id=41569',
      join(EX, 'kern.log'),
    ]);
    assert.deepEqual(
      byId.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).packet.ipId),
      [41569],
    );
    const byTuple = run([
      'explain',
      '--year',
      '2023',
      ...RULES,
      '--format',
      'json',
      '--packet',
      'src=172.28.129.2,dport=52000',
      join(EX, 'kern.log'),
    ]);
    // dport=52000 matches the dropped packet and the one DNAT'ed to 52000
    assert.equal(byTuple.stdout.trim().split('\n').length, 2);
    assert.match(byOpt.stderr, /1 packet selected of 1/);
  });

  it('reads gzip input and reports unreadable lines with file and line, dead-lettering them, exit 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rt-cli-'));
    const text = readFileSync(join(EX, 'kern.log'), 'utf8').split('\n');
    text.splice(
      10,
      0,
      'Jan 1 21:23:16 cos74 kernel: TRACE: nat:KUBE-SERVICES:rule:notanumber IN=eth0 OUT= SRC=1.2.3.4',
    );
    const gz = join(dir, 'kern.log.gz');
    writeFileSync(gz, gzipSync(text.join('\n')));
    const dl = join(dir, 'dead.ndjson');
    const r = run(['explain', '--year', '2023', ...RULES, '--format', 'json', '--dead-letter', dl, gz]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`ruletrail: ${gz.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:11: `));
    const dead = readFileSync(dl, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(dead.length, 1);
    assert.equal(dead[0].line, 11);
    assert.equal(dead[0].file, gz);
    assert.ok(dead[0].reason.length > 0);
    // the rest of the input is still explained
    assert.equal(r.stdout.trim().split('\n').length, 2);
  });

  it('usage errors exit 2 with a one-line reason', () => {
    const noRules = run(['explain', join(EX, 'kern.log')]);
    assert.equal(noRules.code, 2);
    assert.match(noRules.stderr, /at least one --rules/);
    const badRules = run(['explain', '--rules', join(EX, 'kern.log'), join(EX, 'kern.log')]);
    assert.equal(badRules.code, 2);
    assert.match(badRules.stderr, /kern\.log:1: /);
    const badSel = run(['explain', ...RULES, '--packet', 'port=1', join(EX, 'kern.log')]);
    assert.equal(badSel.code, 2);
    assert.match(badSel.stderr, /unknown key 'port'/);
  });

  it('--host-facts: read, counted in --stats, and naming the interfaces of an NFLOG capture', () => {
    // A real lab capture: NFLOG carries interface indexes only; the host facts' `ip -j link` names them.
    const LAB = join(ROOT, 'test/fixtures/lab/addrtype/nflog-pcap');
    const base = ['explain', '--rules', join(LAB, 'iptables-save.txt'), '--format', 'json'];
    const inOf = (out: string) =>
      out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).packet.in as unknown);
    const without = run([...base, join(LAB, 'nflog.pcap')]);
    assert.equal(without.code, 0, without.stderr);
    assert.deepEqual([...new Set(inOf(without.stdout))], [undefined]);
    const facts = join(LAB, 'host-facts.json');
    const withFacts = run([...base, '--host-facts', facts, '--stats', join(LAB, 'nflog.pcap')]);
    assert.equal(withFacts.code, 0, withFacts.stderr);
    assert.deepEqual([...new Set(inOf(withFacts.stdout))], ['eth0']);
    const stats = JSON.parse(withFacts.stderr.trim().split('\n').pop()!);
    assert.deepEqual(stats.hostFacts, { host: 'rtlab-node', addresses: 6, interfaces: 2 });

    const dir = mkdtempSync(join(tmpdir(), 'rt-facts-'));
    const bad = join(dir, 'facts.json');
    writeFileSync(bad, '{"version":1,"addr":[{"ifindex":0,"ifname":"eth0"}]}');
    const r = run([...base, '--host-facts', bad, join(LAB, 'nflog.pcap')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--host-facts .*facts\.json: addr\[0\]: 'ifindex' 0 is not a positive integer/);
    const missing = run([...base, '--host-facts', join(dir, 'none.json'), join(LAB, 'nflog.pcap')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--host-facts .*none\.json: ENOENT/);
  });

  it('--stats reports counts and peak memory as JSON on stderr', () => {
    const r = run([
      'explain',
      '--quiet',
      '--stats',
      '--year',
      '2023',
      ...RULES,
      '--format',
      'json',
      join(EX, 'kern.log'),
    ]);
    const stats = JSON.parse(r.stderr.trim());
    assert.equal(stats.events, 45);
    assert.equal(stats.packets, 2);
    assert.equal(stats.lines, 48);
    assert.ok(stats.maxRssKb > 0);
  });
});

/* eslint-disable no-control-regex -- these tests look for control characters */
describe('ruletrail explain: control characters from input never reach the terminal (issue #15)', () => {
  // Legal in iptables: `iptables -A … -m comment --comment $'\e]0;owned\a\e[2J'` — iptables-save prints it raw.
  const HOSTILE = '\x1b]0;owned\x07\x1b[2J\x9b31m\u202e';
  const dir = mkdtempSync(join(tmpdir(), 'ruletrail-escape-'));
  const rules = ['0101', '0103'].flatMap((d) => {
    const p = join(dir, `iptables-save-${d}.txt`);
    const text = readFileSync(join(EX, `iptables-save-${d}.txt`), 'utf8').replace(
      /"cali:/g,
      `"${HOSTILE}cali:`,
    );
    writeFileSync(p, text);
    return ['--rules', p];
  });

  for (const colour of [false, true]) {
    it(`escapes a rule comment's escape sequences visibly (${colour ? 'colour' : 'plain'} text)`, () => {
      const r = run(
        ['explain', '--year', '2023', ...rules, join(EX, 'kern.log')],
        colour ? { FORCE_COLOR: '1' } : { NO_COLOR: '1' },
      );
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /cali:/);
      // The only escape sequences left are our own colours (SGR: ESC [ digits;… m).
      const raw = r.stdout.replace(/\x1b\[[0-9;]*m/g, '');
      assert.doesNotMatch(raw, /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]/);
      assert.equal(colour, raw !== r.stdout, 'colour on/off as asked');
      assert.ok(raw.includes('\\x1b]0;owned\\x07\\x1b[2J\\x9b31m\\u202ecali:'), raw.slice(0, 2000));
    });
  }

  it('keeps the comment exact in JSON output (JSON escapes it) and escapes it in stderr messages', () => {
    const r = run(['explain', '--year', '2023', ...rules, '--format', 'json', join(EX, 'kern.log')]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.includes(HOSTILE.slice(0, 3)) === false, 'raw ESC in JSON output');
    const steps = r.stdout
      .trim()
      .split('\n')
      .flatMap((l) => (JSON.parse(l) as { steps: { rule?: string }[] }).steps);
    assert.ok(steps.some((s) => s.rule?.includes(`${HOSTILE}cali:`)));
    // An unreadable line quoting the same bytes: the dead-letter message on stderr is escaped.
    const log = join(dir, 'bad.log');
    writeFileSync(log, `Jan  1 21:23:16 cos74 kernel: TRACE: raw:PREROUTING:${HOSTILE} IN=eth0\n`);
    const bad = run(['explain', '--year', '2023', ...rules, log]);
    assert.doesNotMatch(bad.stderr, /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]/);
  });

  it('escapes a host name from the input in the several-hosts warning (it was printed raw)', () => {
    const lines = readFileSync(join(EX, 'kern.log'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('TRACE:'));
    const log = join(dir, 'two-hosts.log');
    writeFileSync(log, [lines[0]!, lines[1]!.replace(' cos74 ', ' ev\x1b[2Jil\x07 ')].join('\n') + '\n');
    const r = run(['explain', '--year', '2023', ...rules, log], { NO_COLOR: '1' });
    assert.match(r.stderr, /traces come from 2 hosts .*ev\\x1b\[2Jil\\x07/);
    assert.doesNotMatch(r.stderr + r.stdout, /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]/);
  });
});
/* eslint-enable no-control-regex */
