import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { InputError } from '@ruletrail/core';
import { validateEvent, type NetfilterEvent } from '@ruletrail/event';
import { saveForm, xtablesMonitorAdapter, XTABLES_MONITOR_ERROR_CODES } from '../src';

const FIXTURES = join(__dirname, 'fixtures');
const CAPTURE = readFileSync(join(FIXTURES, 'incident/xtables-monitor.txt'));

interface Decoded {
  events: NetfilterEvent[];
  errors: InputError[];
  skipped: number;
}

async function decode(input: string | Buffer, chunkSize = 0, host?: string): Promise<Decoded> {
  const buf = typeof input === 'string' ? Buffer.from(input) : input;
  const chunks: Buffer[] = [];
  if (chunkSize > 0)
    for (let i = 0; i < buf.length; i += chunkSize) chunks.push(buf.subarray(i, i + chunkSize));
  else chunks.push(buf);
  const out: Decoded = { events: [], errors: [], skipped: 0 };
  for await (const b of xtablesMonitorAdapter.decode(Readable.from(chunks), {
    file: 'xtm.txt',
    ...(host !== undefined ? { host } : {}),
  })) {
    out.events.push(...b.events);
    out.errors.push(...b.errors);
    out.skipped += b.skipped;
  }
  for (const e of out.events) {
    const v = validateEvent(e);
    assert.ok(v.ok, `invalid event: ${v.ok ? '' : v.errors.join('; ')}\n${JSON.stringify(e)}`);
  }
  return out;
}

function byId(events: NetfilterEvent[], id: string): NetfilterEvent[] {
  return events.filter((e) => e.netfilter.trace?.id === id);
}

describe('xtables-monitor adapter: real capture (iptables 1.8.9, kernel 6.18)', () => {
  it('reads the arrival stamp ruletrail trace --save puts before each line as the time of its events', async () => {
    // Each line stamped as it arrived, one millisecond apart; the stamp is the only difference.
    const lines = CAPTURE.toString('utf8').split('\n');
    const base = Date.parse('2026-12-04T15:51:49.000Z');
    const stampOf = (i: number) => new Date(base + i).toISOString();
    const stamped = lines.map((l, i) => (l === '' ? l : `${stampOf(i)} ${l}`)).join('\n');
    assert.ok(xtablesMonitorAdapter.sniff(Buffer.from(stamped), 'xtables-monitor.txt'));
    const plain = await decode(CAPTURE);
    const withTime = await decode(stamped, 97);
    assert.equal(withTime.errors.length, 0);
    assert.equal(withTime.events.length, plain.events.length);
    assert.ok(plain.events.length > 0);
    for (const [i, e] of withTime.events.entries()) {
      const p = plain.events[i]!;
      const line = e.ruletrail.origin.line!;
      // The step's time is its own line's stamp (a held step keeps the stamp of the line it came from).
      assert.equal(e['@timestamp'], stampOf(line - 1));
      assert.ok(!(e.netfilter.degraded ?? []).includes('@timestamp'));
      assert.ok((p.netfilter.degraded ?? []).includes('@timestamp'));
      const rest = { ...e };
      delete rest['@timestamp'];
      assert.deepEqual(
        { ...rest, netfilter: { ...rest.netfilter, degraded: undefined } },
        { ...p, netfilter: { ...p.netfilter, degraded: undefined } },
      );
    }
  });

  it('decodes every TRACE line of the capture into one valid event, and nothing else', async () => {
    const text = CAPTURE.toString('utf8');
    const traceLines = text.split('\n').filter((l) => l.startsWith(' TRACE: ')).length;
    const { events, errors, skipped } = await decode(CAPTURE, 0, 'node');
    assert.deepEqual(errors, []);
    assert.equal(skipped, 0);
    assert.equal(events.length, traceLines);
    assert.ok(events.every((e) => e.ruletrail.channel === 'xtables-monitor' && e.host?.name === 'node'));
    assert.deepEqual(
      [...new Set(events.map((e) => e.netfilter.trace!.id))].length,
      6,
      'two SYNs to 52000 (one retransmission), one to 80, one ping, two IPv6 packets',
    );
  });

  it('gives the same events whatever the chunking', async () => {
    const whole = await decode(CAPTURE);
    const split = await decode(CAPTURE, 7);
    assert.deepEqual(split.events, whole.events);
  });

  it('maps a rule step and carries the PACKET line onto it (kernel-log field names)', async () => {
    const { events } = await decode(CAPTURE);
    const e = events[0]!;
    assert.deepEqual(e.netfilter.trace, {
      table: 'raw',
      chain: 'PREROUTING',
      kind: 'rule',
      id: '29098984',
      handle: 5,
      verdict: 'CONTINUE',
      family: 'ip',
      rule: '-A PREROUTING -p tcp -m tcp --dport 52000 --tcp-flags FIN,SYN,RST,ACK SYN -j TRACE',
    });
    assert.deepEqual(e.observer, {
      ingress: { interface: { name: 'eth0' } },
      egress: { interface: { name: '' } },
    });
    assert.deepEqual(e.source, { ip: '172.28.129.2', port: 42876, mac: '02-72-74-00-00-02' });
    assert.deepEqual(e.destination, { ip: '172.28.129.4', port: 52000, mac: '02-72-74-00-00-04' });
    assert.deepEqual(e.network, { type: 'ipv4', transport: 'tcp', iana_number: '6' });
    assert.equal(e.netfilter.mark, 0);
    assert.deepEqual(e.netfilter.mac, { header: '02:72:74:00:00:04:02:72:74:00:00:02:08:00', proto: '0800' });
    assert.deepEqual(e.netfilter.ip, { len: 60, tos: 0, prec: 0, ttl: 64, id: 44020, flags: ['DF'] });
    assert.deepEqual(e.netfilter.tcp, { flags: ['SYN'] });
    for (const f of ['@timestamp', 'tcp.seq', 'tcp.ack', 'tcp.window', 'tcp.options', 'tcp.flags.ECE'])
      assert.ok(e.netfilter.degraded?.includes(f), `degraded lacks ${f}`);
  });

  it('gives policy steps the packet of their trace id, with the mark set in an earlier chain', async () => {
    const steps = byId((await decode(CAPTURE)).events, '29098984');
    const policy = steps[1]!;
    assert.deepEqual(policy.netfilter.trace, {
      table: 'raw',
      chain: 'PREROUTING',
      kind: 'policy',
      id: '29098984',
      verdict: 'ACCEPT',
      family: 'ip',
    });
    assert.equal(policy.source?.port, 42876);
    const mangleInput = steps.find(
      (e) => e.netfilter.trace!.table === 'mangle' && e.netfilter.trace!.chain === 'INPUT',
    )!;
    assert.equal(mangleInput.netfilter.mark, 0x8000);
    const markRule = steps.find((e) => e.netfilter.trace!.chain === 'KUBE-MARK-DROP')!;
    assert.equal(
      markRule.netfilter.mark,
      0,
      'the mark shows from the next base chain on, as the kernel dumps it',
    );
    const drop = steps[steps.length - 1]!;
    assert.equal(drop.netfilter.trace!.verdict, 'DROP');
    assert.equal(drop.netfilter.trace!.chain, 'KUBE-FIREWALL');
    const jump = steps.find((e) => e.netfilter.trace!.chain === 'KUBE-NODEPORTS')!;
    assert.equal(jump.netfilter.trace!.verdict, 'JUMP');
    assert.equal(jump.netfilter.trace!.target, 'KUBE-XLB-VETHOZVMBYUVK3NB');
  });

  it('shows the DNAT rewrite on the next chain', async () => {
    const steps = byId((await decode(CAPTURE)).events, 'dd984976');
    const dnat = steps.find((e) => e.netfilter.trace!.rule?.includes('-j DNAT'))!;
    assert.equal(dnat.netfilter.trace!.verdict, 'ACCEPT');
    assert.equal(dnat.destination?.port, 80);
    const filter = steps.find((e) => e.netfilter.trace!.table === 'filter')!;
    assert.equal(filter.destination?.port, 52000);
  });

  it('leaves the transport unknown for a packet without a printed transport header (ICMP)', async () => {
    const ping = byId((await decode(CAPTURE)).events, 'd708393d')[0]!;
    assert.deepEqual(ping.network, { type: 'ipv4' });
    assert.equal(ping.source?.port, undefined);
    assert.ok(ping.netfilter.degraded?.includes('network.transport'));
    assert.ok(ping.netfilter.degraded?.includes('icmp'));
  });

  it('reads IPv6 packets and corrects LEN to the kernel log meaning (payload + 40)', async () => {
    const v6 = byId((await decode(CAPTURE)).events, 'ede6504d');
    assert.equal(v6.length, 2);
    const e = v6[0]!;
    assert.equal(e.network.type, 'ipv6');
    assert.equal(e.netfilter.trace!.family, 'ip6');
    assert.equal(e.netfilter.trace!.rule, '-A PREROUTING -s fd00:172:28:129::2/128 -j TRACE');
    assert.deepEqual(e.source, { ip: 'fd00:172:28:129::2', mac: '02-72-74-00-00-02' });
    // ping -6: 64 bytes of ICMPv6 payload; xtables-monitor prints 84 (payload + sizeof(struct iphdr)).
    assert.deepEqual(e.netfilter.ip, { len: 104, tc: 0, hoplimit: 64, flowlabel: 722055 });
  });
});

describe('xtables-monitor adapter: layouts and variants from the iptables history', () => {
  it('reads the pre-1.8.7 layout: PACKET after its rule line, "PACKET: 0", ID glued to DF, base-chain return dropped', async () => {
    // The xtables-monitor(8) man page example (iptables 1.8.4–1.8.6).
    const text = [
      ' TRACE: 2 fbcf8ba4 raw:PREROUTING:rule:0x3:CONTINUE -4 -t raw -A PREROUTING -p icmp -j TRACE',
      'PACKET: 0 fbcf8ba4 IN=lo LL=0x304 00000000000000000000000008004500 SRC=127.0.0.1 DST=127.0.0.1 LEN=84 TOS=0x0 TTL=64 ID=38349DF ',
      ' TRACE: 2 fbcf8ba4 raw:PREROUTING:return:',
      ' TRACE: 2 fbcf8ba4 raw:PREROUTING:policy:ACCEPT',
      ' TRACE: 2 fbcf8ba4 filter:INPUT:rule:0x6:JUMP:myc -4 -t filter -A INPUT -j myc',
      '',
      ' TRACE: 2 fbcf8ba4 filter:myc:return:',
      ' TRACE: 2 fbcf8ba4 filter:INPUT:policy:DROP',
      '',
    ].join('\n');
    const { events, errors, skipped } = await decode(text);
    assert.deepEqual(errors, []);
    assert.equal(skipped, 1, "the return right before the same chain's policy");
    assert.deepEqual(
      events.map((e) => `${e.netfilter.trace!.table}:${e.netfilter.trace!.chain}:${e.netfilter.trace!.kind}`),
      [
        'raw:PREROUTING:rule',
        'raw:PREROUTING:policy',
        'filter:INPUT:rule',
        'filter:myc:return',
        'filter:INPUT:policy',
      ],
    );
    const rule = events[0]!;
    assert.equal(rule.source?.ip, '127.0.0.1', 'the PACKET line that follows belongs to the rule line');
    assert.deepEqual(rule.netfilter.ip, { len: 84, tos: 0, prec: 0, ttl: 64, id: 38349, flags: ['DF'] });
    assert.deepEqual(rule.observer?.ingress, { interface: { name: 'lo' } });
    assert.equal(rule.netfilter.trace!.rule, '-A PREROUTING -p icmp -j TRACE');
    assert.deepEqual(events[3]!.netfilter.trace, {
      table: 'filter',
      chain: 'myc',
      kind: 'return',
      id: 'fbcf8ba4',
      verdict: 'RETURN',
      family: 'ip',
    });
    assert.equal(events[3]!.source?.ip, '127.0.0.1');
  });

  it('reads ID and OPT glued to the next token (before 1.8.9, commit 6c12201b)', async () => {
    const text =
      'PACKET: 2 0000abcd IN=eth0 SRC=10.0.0.1 DST=10.0.0.2 LEN=64 TOS=0x10 TTL=63 ID=7OPT (94040000)SPORT=1000 DPORT=80 SYN ACK \n' +
      ' TRACE: 2 0000abcd filter:INPUT:rule:0x9:ACCEPT  -4 -t filter -A INPUT -p tcp -j ACCEPT\n';
    const { events, errors } = await decode(text);
    assert.deepEqual(errors, []);
    const e = events[0]!;
    assert.deepEqual(e.netfilter.ip, {
      len: 64,
      tos: 0x10,
      prec: 0,
      ttl: 63,
      id: 7,
      flags: [],
      options: '94040000',
    });
    assert.deepEqual(e.netfilter.tcp, { flags: ['ACK', 'SYN'] }, 'kernel order');
    assert.deepEqual(e.source, { ip: '10.0.0.1', port: 1000 });
    assert.equal(e.netfilter.mac, undefined);
  });

  it('reads the 1.8.11 rule prefix (the command instead of -4/-6) and hex verdicts', async () => {
    const text = [
      'PACKET: 2 00000001 IN=eth0 OUT=eth1 SRC=10.0.0.1 DST=10.0.0.2 LEN=40 TOS=0x0 TTL=64 ID=1 SPORT=53 DPORT=53 MARK=0x4000 ',
      ' TRACE: 2 00000001 filter:FORWARD:rule:0x2:GOTO:fwd  iptables -t filter -A FORWARD -i eth0 -g fwd',
      ' TRACE: 2 00000001 filter:fwd:rule:0x4:0xfffffffb  iptables -t filter -A fwd -p udp -j RETURN',
      ' TRACE: 2 00000001 filter:FORWARD:rule:0x3:QUEUE  iptables -t filter -A FORWARD -j QUEUE',
    ].join('\n');
    const { events, errors } = await decode(text);
    assert.deepEqual(errors, []);
    assert.deepEqual(
      events.map((e) => [e.netfilter.trace!.verdict, e.netfilter.trace!.target, e.netfilter.trace!.rule]),
      [
        ['GOTO', 'fwd', '-A FORWARD -i eth0 -g fwd'],
        ['RETURN', undefined, '-A fwd -p udp -j RETURN'],
        ['QUEUE', undefined, '-A FORWARD -j QUEUE'],
      ],
    );
    const e = events[0]!;
    assert.equal(e.netfilter.mark, 0x4000);
    assert.deepEqual(e.observer, {
      ingress: { interface: { name: 'eth0' } },
      egress: { interface: { name: 'eth1' } },
    });
    assert.equal(
      e.network.transport,
      undefined,
      'SPORT/DPORT without flag words: UDP, UDP-Lite, SCTP or DCCP',
    );
    assert.ok(e.netfilter.degraded?.includes('udp.length'));
  });

  it('keeps a step whose PACKET line was not captured, and says so', async () => {
    const { events } = await decode(' TRACE: 2 deadbeef nat:POSTROUTING:policy:ACCEPT \n');
    assert.equal(events.length, 1);
    assert.deepEqual(events[0]!.network, { type: 'ipv4' });
    assert.deepEqual(events[0]!.netfilter.degraded, ['@timestamp', 'packet']);
  });

  it('keeps a rule step whose rule was deleted before xtables-monitor could fetch it, without rule text', async () => {
    const { events } = await decode(' TRACE: 2 deadbeef filter:INPUT:rule:0x1f:DROP  \n');
    assert.deepEqual(events[0]!.netfilter.trace, {
      table: 'filter',
      chain: 'INPUT',
      kind: 'rule',
      id: 'deadbeef',
      handle: 31,
      verdict: 'DROP',
      family: 'ip',
    });
  });

  it('skips ruleset events and generation lines (--event)', async () => {
    const text = [
      ' EVENT: nft: NEW table: table filter ip flags 0 use 1 handle 0',
      ' EVENT: -4 -t filter -A FORWARD -j ACCEPT',
      'NEWGEN: GENID=4 PID=123 NAME=iptables-nft-restore',
    ].join('\n');
    const { events, errors, skipped } = await decode(text);
    assert.equal(events.length, 0);
    assert.equal(errors.length, 0);
    assert.equal(skipped, 3);
  });

  it('strips only the channel prefix from the rule text', () => {
    assert.equal(saveForm('-4 -t raw -A PREROUTING -j TRACE', 'raw'), '-A PREROUTING -j TRACE');
    assert.equal(saveForm('ip6tables -t filter -A INPUT -j ACCEPT', 'filter'), '-A INPUT -j ACCEPT');
    assert.equal(saveForm('-4 -t filter [5:300] -A INPUT -j ACCEPT', 'filter'), '-A INPUT -j ACCEPT');
  });
});

describe('xtables-monitor adapter: bad lines', () => {
  it('turns malformed PACKET and TRACE lines into InputErrors with file, line and reason, and goes on', async () => {
    const text = [
      'PACKET: 2 0000abcd IN=eth0 SRC=10.0.0.1 DST=10.0.0.2 LEN=60 TOS=0x0 TTL=64 ID=1 BOGUS=1 ',
      ' TRACE: 2 0000abcd filter:INPUT:rule:0xzz:ACCEPT  -4 -t filter -A INPUT -j ACCEPT',
      ' TRACE: 2 0000abcd filter:INPUT:policy:MAYBE',
      ' TRACE: x 0000abcd filter:INPUT:policy:DROP',
      ' TRACE: 2 0000abcd filter:INPUT:policy:DROP',
    ].join('\n');
    const { events, errors } = await decode(text);
    assert.equal(events.length, 1);
    assert.deepEqual(
      errors.map((e) => [e.code, e.position.file, e.position.line, e.reason]),
      [
        [XTABLES_MONITOR_ERROR_CODES.packet, 'xtm.txt', 1, 'PACKET line: unexpected token "BOGUS=1"'],
        [XTABLES_MONITOR_ERROR_CODES.trace, 'xtm.txt', 2, 'TRACE line: rule handle "0xzz" is not hex'],
        [
          XTABLES_MONITOR_ERROR_CODES.trace,
          'xtm.txt',
          3,
          'TRACE line: policy "MAYBE" is neither ACCEPT nor DROP',
        ],
        [XTABLES_MONITOR_ERROR_CODES.trace, 'xtm.txt', 4, 'TRACE line: family "x" is not a number'],
      ],
    );
    assert.ok(
      errors.every((e) => e instanceof InputError && e.message.startsWith(`xtm.txt:${e.position.line}: `)),
    );
  });
});

describe('xtables-monitor adapter: sniff', () => {
  it('claims xtables-monitor output and nothing else', () => {
    assert.equal(xtablesMonitorAdapter.sniff(CAPTURE.subarray(0, 600), 'x'), true);
    const kernel = Buffer.from(
      'Jan  1 21:23:16 cos74 kernel: TRACE: raw:PREROUTING:policy:3 IN=eth0 OUT= MAC=00:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00 SRC=172.28.129.2 DST=172.28.129.4 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=41569 DF PROTO=TCP SPT=55694 DPT=52000 SEQ=2805899841 ACK=0 WINDOW=29200 RES=0x00 SYN URGP=0\n',
    );
    assert.equal(xtablesMonitorAdapter.sniff(kernel, 'kern.log'), false);
    const nft = Buffer.from('trace id 8803d4e4 ip trace prerouting policy accept \n');
    assert.equal(xtablesMonitorAdapter.sniff(nft, 'nft.txt'), false);
    assert.equal(xtablesMonitorAdapter.sniff(Buffer.from('{"oob.prefix":"TRACE: x"}\n'), 'u.json'), false);
  });
});
