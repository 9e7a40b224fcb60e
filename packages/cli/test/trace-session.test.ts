/**
 * `ruletrail trace` without a kernel: option parsing, the install plan (rate limit and session comment on every
 * rule), the state file and clean-up against a scripted node, the /dev/kmsg line rewrite, and the error
 * messages. The real-kernel behaviour is the lab's `ruletrail trace` stage (lab/lib/trace-stage.ts).
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '@ruletrail/core';
import { createKernelLogParser } from '@ruletrail/ingest-kernel-log';
import type { NetfilterEvent } from '@ruletrail/event';
import { chooseBackend } from '../src/trace/backend';
import { boundNflogGroups, kmsgToLine, parseKmsgRecord, requireTool } from '../src/trace/channels';
import { explainInsertFailure } from '../src/trace/errors';
import {
  parseTraceOptions,
  parseDuration,
  parseRate,
  shellSplit,
  type TraceOptions,
} from '../src/trace/options';
import { buildPlan, deleteArgv, insertArgv, matchFamilies } from '../src/trace/plan';
import { cleanupStale, findLeftovers, StateFile, undoSession, type SessionState } from '../src/trace/state';
import { LocalHost, type Host, type RunOptions, type RunResult } from '../src/trace/system';
import { sinkOutput, traceCommand } from '../src/trace/index';
import type { Explanation } from '@ruletrail/explain';

const opts = (...argv: string[]): TraceOptions => parseTraceOptions(argv);
function usage(argv: string[], re: RegExp): void {
  assert.throws(
    () => parseTraceOptions(argv),
    (e: unknown) => e instanceof UsageError && re.test(e.message),
    argv.join(' '),
  );
}

/**
 * A scripted node: iptables rules per tool (as `-A …` lines), sysctls, processes. It answers the commands
 * trace runs the way the real tools do, so the clean-up logic is exercised end to end.
 */
class FakeHost implements Host {
  readonly log: string[] = [];
  readonly rules = new Map<string, string[]>(); // tool → '-A CHAIN spec' lines of the raw table
  readonly sysctls = new Map<string, string>();
  readonly procs = new Map<number, string>();
  readonly killed: number[] = [];
  nftTables: string[] = [];
  legacyRaw = true;
  uidValue = 0;
  /** /proc/net/netfilter/nf_log: per family, the logger in use, then the loggers the loaded modules offer. */
  nfLog = '  2 NONE (nf_log_ipv4,nfnetlink_log)\n 10 NONE (nf_log_ipv6,nfnetlink_log)\n';

  run(argv: readonly string[], o: RunOptions = {}): RunResult {
    this.log.push(`${o.netns ? `[${o.netns}] ` : ''}${argv.join(' ')}`);
    const [cmd, ...rest] = argv;
    const ok = (stdout = ''): RunResult => ({ code: 0, stdout, stderr: '' });
    if (cmd === 'cat' && rest[0] === '/proc/net/netfilter/nf_log') return ok(this.nfLog);
    if (cmd === 'cat' && rest[0]?.endsWith('_tables_names'))
      return ok(this.legacyRaw ? 'raw\nfilter\n' : 'filter\n');
    if (cmd?.endsWith('-save')) {
      const tool = cmd.replace(/-save$/, '');
      const lines = this.rules.get(tool) ?? [];
      return ok(['*raw', ':PREROUTING ACCEPT [0:0]', ...lines, 'COMMIT', ''].join('\n'));
    }
    if (cmd && /^ip6?tables-(legacy|nft)$/.test(cmd)) {
      const i = rest.indexOf('-D');
      if (i >= 0) {
        const want = JSON.stringify(['-A', ...rest.slice(i + 1)]);
        const list = this.rules.get(cmd) ?? [];
        const at = list.findIndex((l) => JSON.stringify(shellSplit(l)) === want);
        if (at < 0)
          return {
            code: 1,
            stdout: '',
            stderr: 'iptables: Bad rule (does a matching rule exist in that chain?).',
          };
        list.splice(at, 1);
        return ok();
      }
    }
    if (cmd === 'nft' && rest[0] === 'list' && rest[1] === 'tables')
      return ok(this.nftTables.map((t) => `table ${t}\n`).join(''));
    if (cmd === 'nft' && rest[0] === 'delete' && rest[1] === 'table') {
      const t = `${rest[2]} ${rest[3]}`;
      if (!this.nftTables.includes(t)) return { code: 1, stdout: '', stderr: 'No such file or directory' };
      this.nftTables = this.nftTables.filter((x) => x !== t);
      return ok();
    }
    return { code: 1, stdout: '', stderr: `${cmd}: not scripted` };
  }
  has(_command: string): boolean {
    return true;
  }
  readSysctl(key: string, netns?: string): string | undefined {
    return this.sysctls.get(`${netns ?? ''}|${key}`);
  }
  writeSysctl(key: string, value: string, netns?: string): string | undefined {
    this.log.push(`sysctl ${netns ? `[${netns}] ` : ''}${key}=${value}`);
    this.sysctls.set(`${netns ?? ''}|${key}`, value);
    return undefined;
  }
  processAlive(pid: number, needle?: string): boolean {
    const c = this.procs.get(pid);
    return c !== undefined && (needle === undefined || c.includes(needle));
  }
  kill(pid: number): boolean {
    this.killed.push(pid);
    return this.procs.delete(pid);
  }
  uid(): number {
    return this.uidValue;
  }
}

const RULE = (id: string, port = 52000) =>
  `-A PREROUTING -p tcp -m tcp --dport ${port} -m limit --limit 10/sec --limit-burst 10 -m comment --comment "ruletrail-trace:${id}" -j TRACE`;

function state(id: string, pid: number, extra: Partial<SessionState> = {}): SessionState {
  return {
    version: 1,
    id,
    pid,
    started: '2026-12-04T12:00:00.000Z',
    backend: 'iptables-legacy',
    channel: 'kernel-log',
    rules: [],
    nftTables: [],
    sysctls: [],
    children: [],
    ...extra,
  };
}

describe('ruletrail trace: options', () => {
  it('parses a tcpdump-like filter given as words, with the defaults of a safe trace', () => {
    const o = opts('tcp', 'and', 'dst', 'port', '52000');
    assert.equal(o.selection.kind, 'filter');
    assert.equal(o.selection.kind === 'filter' && o.selection.filter.rules.length, 1);
    assert.deepEqual(o.rate, { perSecond: 10, text: '10/second' });
    assert.equal(o.durationMs, 60_000);
    assert.equal(o.format, 'text');
    assert.equal(o.stateDir, '/run/ruletrail');
    assert.equal(o.cleanupOnly, false);
  });

  it('parses --duration, --count, --rate, --netns, --backend and --channel (with aliases)', () => {
    const o = opts(
      '--duration',
      '2m',
      '--count',
      '5',
      '--rate',
      '600/m',
      '--netns',
      'node-1',
      '--backend',
      'legacy',
      '--channel',
      'nflog',
      'udp',
    );
    assert.equal(o.durationMs, 120_000);
    assert.equal(o.count, 5);
    assert.deepEqual(o.rate, { perSecond: 10, text: '600/minute' });
    assert.equal(o.netns, 'node-1');
    assert.equal(o.backend, 'iptables-legacy');
    assert.equal(o.channel, 'nflog-pcap');
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('0'), 0);
    assert.deepEqual(parseRate('3'), { perSecond: 3, text: '3/second' });
  });

  it('takes iptables match arguments with --match, split like a shell', () => {
    const o = opts('--match', `-p tcp --dport 52000 -m comment --comment 'a b'`);
    assert.deepEqual(o.selection.kind === 'match' && o.selection.args, [
      '-p',
      'tcp',
      '--dport',
      '52000',
      '-m',
      'comment',
      '--comment',
      'a b',
    ]);
    assert.deepEqual(shellSplit(`-A X -m comment --comment "say \\"hi\\"" -j TRACE`), [
      '-A',
      'X',
      '-m',
      'comment',
      '--comment',
      'say "hi"',
      '-j',
      'TRACE',
    ]);
  });

  it('refuses to trace without a rate limit unless --no-limit is given', () => {
    assert.equal(opts('--no-limit', 'tcp').rate, undefined);
    usage(['--rate', '0', 'tcp'], /at least 1 packet.*--no-limit/);
    usage(['--rate', '10/s', '--no-limit', 'tcp'], /contradict/);
    usage(['--rate', 'fast'], /--rate: expected N\/s/);
  });

  it('rejects bad options with the reason', () => {
    usage(['--format', 'xml'], /--format must be text or json/);
    usage(['--backend', 'ipfw'], /--backend must be one of iptables-legacy, iptables-nft, nftables/);
    usage(['--backend', 'nftables', '--channel', 'kernel-log'], /does not carry nftables traces/);
    usage(['--duration', 'soon'], /--duration: expected a time/);
    usage(['--count', '0'], /--count must be a positive integer/);
    usage(['--netns', '../x'], /not a network namespace name/);
    usage(['--match', '-p tcp -j ACCEPT'], /'-j' is chosen by ruletrail trace itself/);
    usage(['--match', '-p tcp', 'udp'], /either a filter or --match/);
    usage(['ether', 'host', '1:2:3:4:5:6'], /^filter: 'ether' cannot be expressed/);
    usage(['--cleanup', 'tcp'], /--cleanup takes no a filter|--cleanup takes no/);
  });

  it('parses --cleanup alone', () => {
    const o = opts('--cleanup', '--netns', 'n1', '--state-dir', '/tmp/x');
    assert.equal(o.cleanupOnly, true);
    assert.equal(o.netns, 'n1');
    assert.equal(o.stateDir, '/tmp/x');
  });
});

describe('ruletrail trace: install plan', () => {
  it('puts the rate limit and the session comment on every iptables rule, first in raw PREROUTING and OUTPUT', () => {
    const o = opts('tcp and dst port 52000');
    const plan = buildPlan('iptables-nft', o.selection, 'abc123', o.rate);
    assert.equal(plan.kind, 'iptables');
    if (plan.kind !== 'iptables') return;
    assert.deepEqual(
      plan.rules.map((r) => `${r.tool} ${r.chain}`),
      ['iptables-nft PREROUTING', 'iptables-nft OUTPUT', 'ip6tables-nft PREROUTING', 'ip6tables-nft OUTPUT'],
    );
    const r = plan.rules[0]!;
    assert.deepEqual(insertArgv(r), [
      'iptables-nft',
      '-w',
      '5',
      '-t',
      'raw',
      '-I',
      'PREROUTING',
      '1',
      '-p',
      'tcp',
      '-m',
      'tcp',
      '--dport',
      '52000',
      '-m',
      'limit',
      '--limit',
      '10/second',
      '--limit-burst',
      '10',
      '-m',
      'comment',
      '--comment',
      'ruletrail-trace:abc123',
      '-j',
      'TRACE',
    ]);
    assert.deepEqual(deleteArgv(r).slice(0, 7), ['iptables-nft', '-w', '5', '-t', 'raw', '-D', 'PREROUTING']);
  });

  it('builds a table of its own for nftables, before raw priority, with limit and comment', () => {
    const o = opts('--rate', '5', 'udp dst port 53');
    const plan = buildPlan('nftables', o.selection, 'abc123', o.rate);
    assert.equal(plan.kind, 'nft');
    if (plan.kind !== 'nft') return;
    assert.equal(plan.table.name, 'ruletrail_trace_abc123');
    assert.match(
      plan.table.script,
      /chain prerouting \{ type filter hook prerouting priority -301; policy accept; \}/,
    );
    assert.match(
      plan.table.script,
      /add rule inet ruletrail_trace_abc123 output udp dport 53 limit rate 5\/second burst 5 packets meta nftrace set 1 comment "ruletrail-trace:abc123"/,
    );
    const none = buildPlan('nftables', opts('--no-limit', 'icmp').selection, 'x1', undefined);
    assert.doesNotMatch(none.kind === 'nft' ? none.table.script : '', /limit/);
  });

  it('ties a --match to the family its addresses or ICMP protocol name', () => {
    assert.deepEqual(matchFamilies(['-p', 'tcp']), [4, 6]);
    assert.deepEqual(matchFamilies(['-s', '10.0.0.0/8']), [4]);
    assert.deepEqual(matchFamilies(['-p', 'ipv6-icmp']), [6]);
    assert.throws(() => matchFamilies(['-s', '10.0.0.1', '-d', 'fd00::1']), /one family at a time/);
  });
});

describe('ruletrail trace: state file and clean-up', () => {
  const dir = () => mkdtempSync(join(tmpdir(), 'rt-trace-state-'));

  it('undoes a dead session from its state file: children, its own rules, sysctls still set to its value', () => {
    const host = new FakeHost();
    const d = dir();
    const mine = {
      tool: 'iptables-legacy',
      family: 4 as const,
      table: 'raw' as const,
      chain: 'PREROUTING',
      spec: RULE('dead1')
        .split(' ')
        .slice(2)
        .map((w) => w.replace(/"/g, '')),
    };
    host.rules.set('iptables-legacy', [RULE('dead1'), '-A PREROUTING -j CT --notrack']);
    host.procs.set(4242, 'tcpdump -i nflog:0 -U -w -');
    host.sysctls.set('n1|net.netfilter.nf_log.2', 'nfnetlink_log');
    host.sysctls.set('|net.netfilter.nf_log_all_netns', '0'); // someone reset it since: left alone
    new StateFile(
      d,
      state('dead1', 999_999, {
        netns: 'n1',
        rules: [mine],
        children: [{ pid: 4242, command: 'tcpdump' }],
        sysctls: [
          { key: 'net.netfilter.nf_log.2', netns: 'n1', before: 'NONE', value: 'nfnetlink_log' },
          { key: 'net.netfilter.nf_log_all_netns', before: '0', value: '1' },
        ],
      }),
    ).save();
    const lines = cleanupStale(host, d, 'n1');
    assert.deepEqual(
      host.rules.get('iptables-legacy'),
      ['-A PREROUTING -j CT --notrack'],
      'only our rule is removed',
    );
    assert.deepEqual(host.killed, [4242]);
    assert.equal(host.readSysctl('net.netfilter.nf_log.2', 'n1'), 'NONE');
    assert.equal(host.readSysctl('net.netfilter.nf_log_all_netns'), '0');
    assert.deepEqual(readdirSync(d), [], 'the state file is removed');
    assert.ok(
      lines.some((l) => /session dead1 .* is gone/.test(l)),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((l) => /restored net.netfilter.nf_log.2=NONE \(netns n1\)/.test(l)),
      lines.join('\n'),
    );
  });

  it('leaves a running session alone, and finds a lost session by its comment', () => {
    const host = new FakeHost();
    const d = dir();
    host.procs.set(777, 'node ruletrail trace tcp');
    new StateFile(d, state('live1', 777)).save();
    host.rules.set('iptables-legacy', [
      RULE('live1'),
      RULE('lost1', 80),
      '-A PREROUTING -m comment --comment "ruletrail-tracer:x" -j ACCEPT',
    ]);
    host.rules.set('ip6tables-nft', [RULE('lost1', 80)]);
    host.nftTables = ['inet ruletrail_trace_lost2', 'inet ruletrail_trace_live1', 'ip filter'];
    const lines = cleanupStale(host, d, undefined);
    assert.deepEqual(host.rules.get('iptables-legacy'), [
      RULE('live1'),
      '-A PREROUTING -m comment --comment "ruletrail-tracer:x" -j ACCEPT',
    ]);
    assert.deepEqual(host.rules.get('ip6tables-nft'), []);
    assert.deepEqual(host.nftTables, ['inet ruletrail_trace_live1', 'ip filter']);
    assert.ok(lines.some((l) => /session live1 \(pid 777\) is still running: left alone/.test(l)));
    assert.equal(readdirSync(d).length, 1, "the live session's state file stays");
  });

  it('does not look into a legacy raw table that is not registered (listing it would register it)', () => {
    const host = new FakeHost();
    host.legacyRaw = false;
    findLeftovers(host, 'n1', new Set());
    assert.ok(!host.log.some((l) => /iptables-legacy-save -t raw/.test(l)), host.log.join('\n'));
    assert.ok(host.log.some((l) => /iptables-nft-save -t raw/.test(l)));
  });

  it('reports unreadable state files instead of failing, and undo is idempotent', () => {
    const host = new FakeHost();
    const d = dir();
    writeFileSync(join(d, 'trace-bad.json'), '{not json');
    const lines = cleanupStale(host, d, undefined);
    assert.ok(lines.some((l) => /ignored .*trace-bad.json/.test(l)));
    const s = state('x', 1, { nftTables: [{ family: 'inet', name: 'ruletrail_trace_x' }] });
    host.nftTables = ['inet ruletrail_trace_x'];
    assert.deepEqual(undoSession(host, s), ['removed nft table inet ruletrail_trace_x']);
    assert.deepEqual(undoSession(host, s), []);
  });

  it('writes the state file atomically as JSON a later run can read', () => {
    const d = dir();
    const f = new StateFile(d, state('abc', process.pid));
    f.save();
    assert.equal((JSON.parse(readFileSync(f.path, 'utf8')) as SessionState).id, 'abc');
    f.remove();
    assert.deepEqual(readdirSync(d), []);
  });
});

describe('ruletrail trace: channels and errors', () => {
  it('rewrites a /dev/kmsg record into a wall-clock line the kernel-log adapter reads', () => {
    const rec =
      '4,1234,5000123456,-;TRACE: filter:INPUT:rule:1 IN=eth0 OUT= MAC=02:00:00:00:00:01:02:00:00:00:00:02:08:00 SRC=10.0.0.2 DST=10.0.0.4 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=1 DF PROTO=TCP SPT=40000 DPT=52000 SEQ=1 ACK=0 WINDOW=64240 RES=0x00 SYN URGP=0 \n SUBSYSTEM=net\n';
    const r = parseKmsgRecord(rec)!;
    assert.equal(r.usec, 5000123456);
    assert.ok(r.message.startsWith('TRACE: filter:INPUT:rule:1 '));
    assert.ok(!r.message.includes('SUBSYSTEM'));
    // Monotonic 5000.123456 s + offset = 2026-12-04T12:00:00.123456Z.
    const offset = Date.parse('2026-12-04T12:00:00Z') * 1000 - 5000_000_000;
    const line = kmsgToLine(r.usec, r.message, offset, 'node1').trimEnd();
    assert.equal(line.slice(0, 32), '1796385600.123456 node1 kernel: ');
    const ev = createKernelLogParser({ file: 'kern.log' })(line, 1) as NetfilterEvent;
    assert.equal(ev['@timestamp']?.slice(0, 26), '2026-12-04T12:00:00.123456');
    assert.equal(ev.netfilter.trace?.chain, 'INPUT');
    assert.equal(ev.host?.name, 'node1');
  });

  it('names the Debian package of a missing channel tool', () => {
    const host = new FakeHost();
    host.has = (c: string) => c !== 'tcpdump' && c !== 'xtables-monitor';
    assert.throws(
      () => requireTool(host, 'tcpdump', 'the nflog-pcap channel'),
      /tcpdump is not installed; the nflog-pcap channel needs it \(Debian\/Ubuntu: apt-get install tcpdump\)/,
    );
    assert.throws(() => requireTool(host, 'xtables-monitor', 'x'), /apt-get install iptables/);
    assert.doesNotThrow(() => requireTool(host, 'nft', 'x'));
  });

  it('finds a tool only as an executable file on the PATH children run with', () => {
    const d = mkdtempSync(join(tmpdir(), 'rt-trace-path-'));
    const saved = process.env.PATH;
    process.env.PATH = `${d}:${saved ?? ''}`;
    try {
      const host = new LocalHost();
      writeFileSync(join(d, 'rt-fake-tool'), '#!/bin/sh\necho found-it\n');
      assert.equal(host.has('rt-fake-tool'), false, 'not executable');
      chmodSync(join(d, 'rt-fake-tool'), 0o755);
      assert.equal(host.has('rt-fake-tool'), true);
      assert.equal(host.run(['rt-fake-tool']).stdout, 'found-it\n');
      mkdirSync(join(d, 'rt-fake-dir'));
      assert.equal(host.has('rt-fake-dir'), false, 'a directory');
      assert.equal(host.has('rt-no-such-tool'), false);
    } finally {
      process.env.PATH = saved;
    }
  });

  it('reads the bound NFLOG groups from /proc/net/netfilter/nfnetlink_log', () => {
    assert.deepEqual(
      boundNflogGroups('    0   1234      0 2 65535     0     1\n    5  99      0 2 65535 0 1\n'),
      [
        { group: 0, portid: 1234 },
        { group: 5, portid: 99 },
      ],
    );
    assert.deepEqual(boundNflogGroups(''), []);
  });

  it('names the missing kernel module when the TRACE rule cannot be added', () => {
    assert.match(
      explainInsertFailure(
        'iptables-legacy',
        "iptables v1.8.9 (legacy): Couldn't load target `TRACE':No such file or directory",
        undefined,
      ),
      /no TRACE target \(xt_TRACE.*modprobe xt_TRACE/,
    );
    assert.match(
      explainInsertFailure('iptables-legacy', "Couldn't load match `limit'", undefined),
      /no limit match.*xt_limit/,
    );
    assert.match(
      explainInsertFailure('iptables-nft', 'iptables: Permission denied.', 'n1'),
      /not allowed.*netns n1.*run as root/,
    );
  });

  it('names the missing nf_log module before changing anything (the kernel view scripted: no module can be unloaded here)', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'rt-trace-nflog-'));
    const cases: [string, string, RegExp][] = [
      // nf_log_syslog (nf_log_ipv4/6 before 5.12) not loaded: only nfnetlink_log offers itself.
      [
        'kernel-log',
        '  2 NONE (nfnetlink_log)\n 10 NONE (nfnetlink_log)\n',
        /ruletrail trace: the kernel has no nf_log_ipv4 logger: try 'modprobe nf_log_syslog'/,
      ],
      [
        'nflog-pcap',
        '  2 NONE (nf_log_ipv4)\n 10 NONE (nf_log_ipv6)\n',
        /ruletrail trace: the kernel has no nfnetlink_log logger for IPv4: try 'modprobe nfnetlink_log'/,
      ],
    ];
    for (const [channel, nfLog, re] of cases) {
      const host = new FakeHost();
      host.nfLog = nfLog;
      host.sysctls.set('|net.netfilter.nf_log.2', 'NONE');
      const writes: string[] = [];
      const orig = process.stderr.write.bind(process.stderr);
      process.stderr.write = (s: string) => (writes.push(s), true);
      try {
        const argv = ['--backend', 'iptables-legacy', '--channel', channel, '--state-dir', stateDir, 'tcp'];
        assert.equal(await traceCommand(argv, host), 1);
      } finally {
        process.stderr.write = orig;
      }
      assert.match(writes.join(''), re);
      // Nothing was changed: no rule, no sysctl, and the state file is gone.
      assert.ok(!host.log.some((l) => /^sysctl |-I |nft -f/.test(l)), host.log.join('\n'));
      assert.deepEqual([...host.rules.values()].flat(), []);
      assert.equal(host.sysctls.get('|net.netfilter.nf_log.2'), 'NONE');
      assert.deepEqual(
        readdirSync(stateDir).filter((f) => f.startsWith('trace-')),
        [],
      );
    }
  });

  it('chooses the backend that holds the rules, and says when several do', () => {
    assert.deepEqual(chooseBackend({ legacyRules: false, nftCompatRules: true, nativeNftTables: [] }), {
      backend: 'iptables-nft',
    });
    assert.equal(
      chooseBackend({ legacyRules: false, nftCompatRules: false, nativeNftTables: ['ip kube-proxy'] })
        .backend,
      'nftables',
    );
    const both = chooseBackend({ legacyRules: true, nftCompatRules: false, nativeNftTables: ['inet fw'] });
    assert.equal(both.backend, 'iptables-legacy');
    assert.match(both.note ?? '', /iptables-legacy and nftables.*--backend/);
    assert.equal(
      chooseBackend({
        legacyRules: false,
        nftCompatRules: false,
        nativeNftTables: [],
        iptablesDefault: 'nf_tables',
      }).backend,
      'iptables-nft',
    );
  });

  it('refuses to run as a non-root user, before touching anything', async () => {
    const host = new FakeHost();
    host.uidValue = 1000;
    const writes: string[] = [];
    const orig = process.stderr.write.bind(process.stderr);
    process.stderr.write = (s: string) => (writes.push(s), true);
    try {
      assert.equal(await traceCommand(['tcp'], host), 1);
    } finally {
      process.stderr.write = orig;
    }
    assert.match(writes.join(''), /ruletrail trace: must run as root/);
    assert.deepEqual(host.log, []);
  });
});

describe('ruletrail trace --sink', () => {
  it('sends each explanation through the sinks of a pipeline config (here: its file sink)', async () => {
    const d = mkdtempSync(join(tmpdir(), 'rt-trace-sink-'));
    const cfg = join(d, 'pipeline.yaml');
    writeFileSync(
      cfg,
      [
        'version: 1',
        'sources:',
        '  - id: unused',
        '    type: stdin',
        'sinks:',
        '  - id: out',
        '    type: file',
        `    path: ${join(d, 'out.ndjson')}`,
        '    records: [explanation]',
        '',
      ].join('\n'),
    );
    const logs: string[] = [];
    const out = await sinkOutput(cfg, (l) => logs.push(l));
    const x = {
      packet: { host: 'node1', family: 'ipv4', channel: 'kernel-log', firstSeen: '2026-12-04T12:00:00.000Z' },
      verdict: 'DROP',
      nat: [],
      flags: [],
      cause: 'dropped by filter INPUT rule 1',
      steps: [
        {
          table: 'filter',
          chain: 'INPUT',
          kind: 'rule',
          rulenum: 1,
          resolution: 'rule',
          effect: 'drop',
          origin: { file: 'kern.log', line: 1 },
        },
      ],
    } as unknown as Explanation;
    out.write(x, 1);
    await out.close();
    const lines = readFileSync(join(d, 'out.ndjson'), 'utf8').trim().split('\n');
    assert.equal(lines.length, 1);
    assert.equal((JSON.parse(lines[0]!) as { verdict: string }).verdict, 'DROP');
    assert.deepEqual(logs, []);
  });
});
