import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { InputError } from '@ruletrail/core';
import { validateEvent, type NetfilterEvent } from '@ruletrail/event';
import { resolveRulenum } from '@ruletrail/explain';
import { parseNftJson } from '@ruletrail/ruleset';
import { NFT_MONITOR_ERROR_CODES, nftMonitorAdapter, normalizeNftRule } from '../src';

const DIR = join(__dirname, 'fixtures', 'kube-proxy');
const CAPTURE = readFileSync(join(DIR, 'nft-monitor.txt'));

interface Decoded {
  events: NetfilterEvent[];
  errors: InputError[];
  skipped: number;
}

async function decode(input: string | Buffer, chunkSize = 0): Promise<Decoded> {
  const buf = typeof input === 'string' ? Buffer.from(input) : input;
  const chunks: Buffer[] = [];
  if (chunkSize > 0)
    for (let i = 0; i < buf.length; i += chunkSize) chunks.push(buf.subarray(i, i + chunkSize));
  else chunks.push(buf);
  const out: Decoded = { events: [], errors: [], skipped: 0 };
  for await (const b of nftMonitorAdapter.decode(Readable.from(chunks), { file: 'nft.txt', host: 'node' })) {
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

/** Events of the packet whose first step has this destination port (or ICMP type). */
function packet(events: NetfilterEvent[], pred: (e: NetfilterEvent) => boolean): NetfilterEvent[] {
  const first = events.find(pred);
  assert.ok(first, 'no such packet');
  const id = first.netfilter.trace!.id;
  const start = events.indexOf(first);
  const out: NetfilterEvent[] = [];
  for (let i = start; i < events.length; i++) {
    const e = events[i]!;
    if (e.netfilter.trace!.id !== id) continue;
    // The trace id is a per-skb hash and gets reused: a new traversal of the trace table is a new packet.
    if (out.length && e.netfilter.trace!.table === 'trace' && e.netfilter.trace!.kind === 'rule') break;
    out.push(e);
  }
  return out;
}

describe('nft-monitor adapter: real capture (nftables 1.0.6, kernel 6.18, kube-proxy nftables mode)', () => {
  it('reads the arrival stamp ruletrail trace --save puts before each line as the time of its events', async () => {
    // Each line stamped as it arrived, one millisecond apart; the stamp is the only difference.
    const lines = CAPTURE.toString('utf8').split('\n');
    const base = Date.parse('2026-12-04T15:51:49.000Z');
    const stampOf = (i: number) => new Date(base + i).toISOString();
    const stamped = lines.map((l, i) => (l === '' ? l : `${stampOf(i)} ${l}`)).join('\n');
    assert.ok(nftMonitorAdapter.sniff(Buffer.from(stamped), 'nft-monitor.txt'));
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

  it('decodes every rule, policy and return line into one valid event; packet lines are not events', async () => {
    const lines = CAPTURE.toString('utf8').split('\n').filter(Boolean);
    const steps = lines.filter((l) => !l.includes(' packet: ')).length;
    const { events, errors, skipped } = await decode(CAPTURE);
    assert.deepEqual(errors, []);
    assert.equal(skipped, 0);
    assert.equal(events.length, steps);
    assert.ok(events.every((e) => e.ruletrail.channel === 'nft-monitor' && e.host?.name === 'node'));
    const whole = events;
    assert.deepEqual((await decode(CAPTURE, 5)).events, whole, 'chunking does not matter');
  });

  it('maps a rule step and carries the packet line onto it (kernel-log field names)', async () => {
    const e = (await decode(CAPTURE)).events[0]!;
    assert.deepEqual(e.netfilter.trace, {
      table: 'trace',
      chain: 'prerouting',
      kind: 'rule',
      id: e.netfilter.trace!.id,
      verdict: 'CONTINUE',
      family: 'ip',
      rule: 'tcp dport { 80, 30081, 52000 } meta nftrace set 1',
    });
    assert.deepEqual(e.observer, {
      ingress: { interface: { name: 'eth0' } },
      egress: { interface: { name: '' } },
    });
    assert.deepEqual(e.source, { ip: '172.28.129.2', port: e.source!.port, mac: '02-72-74-00-00-02' });
    assert.equal(e.destination?.port, 52000);
    assert.deepEqual(e.network, { type: 'ipv4', transport: 'tcp', iana_number: '6' });
    assert.deepEqual(e.netfilter.mac, { header: '02:72:74:00:00:04:02:72:74:00:00:02:08:00', proto: '0800' });
    assert.deepEqual(e.netfilter.ip, { len: 60, tos: 0, prec: 0, ttl: 64, id: e.netfilter.ip!.id });
    assert.deepEqual(e.netfilter.tcp, { window: 64240, flags: ['SYN'] });
    for (const f of ['@timestamp', 'ip.flags', 'tcp.seq', 'tcp.ack', 'tcp.options', 'netfilter.mark'])
      assert.ok(e.netfilter.degraded?.includes(f), `degraded lacks ${f}`);
  });

  it('takes the mark from policy lines, and shows the DNAT from the next chain on', async () => {
    const steps = packet((await decode(CAPTURE)).events, (e) => e.destination?.port === 30081);
    const at = (chain: string, kind: string): NetfilterEvent =>
      steps.find((e) => e.netfilter.trace!.chain === chain && e.netfilter.trace!.kind === kind)!;
    const mark = at('mark-for-masquerade', 'rule');
    assert.equal(mark.netfilter.trace!.rule, 'meta mark set meta mark | 0x00004000');
    assert.equal(mark.netfilter.mark, 0);
    assert.ok(mark.netfilter.degraded?.includes('netfilter.mark'));
    const policy = at('filter-input', 'policy');
    assert.equal(policy.netfilter.mark, 0x4000);
    assert.ok(!policy.netfilter.degraded?.includes('netfilter.mark'));
    const accept = at('input', 'rule');
    assert.equal(accept.netfilter.mark, 0x4000, 'carried from the policy line before it');
    assert.equal(
      accept.netfilter.trace!.rule,
      'meta mark & 0x00004000 == 0x00004000 counter accept comment "service traffic marked for masquerade"',
    );
    const dnat = at('endpoint-5OJB2KTY-demo/web/tcp/http__172.28.129.4/8080', 'rule');
    assert.deepEqual([dnat.netfilter.trace!.verdict, dnat.destination?.port], ['ACCEPT', 30081]);
    assert.equal(policy.destination?.port, 8080);
    const svc = at('services', 'rule');
    assert.deepEqual(
      [svc.netfilter.trace!.verdict, svc.netfilter.trace!.target],
      ['GOTO', 'external-4ZKJHTGX-demo/web/tcp/http'],
    );
  });

  it('reads multi-flag TCP, UDP and ICMP packets', async () => {
    const { events } = await decode(CAPTURE);
    const psh = events.find((e) => e.netfilter.tcp?.flags?.includes('PSH'))!;
    assert.deepEqual(psh.netfilter.tcp?.flags, ['ACK', 'PSH'], 'tcp flags == 0x18, in kernel order');
    const udp = events.find((e) => e.network.transport === 'udp')!;
    assert.deepEqual([udp.destination?.port, udp.netfilter.udp], [5353, { length: 10 }]);
    const ping = events.find((e) => e.network.transport === 'icmp')!;
    assert.deepEqual(ping.network, { type: 'ipv4', transport: 'icmp', iana_number: '1' });
    assert.deepEqual(ping.netfilter.icmp, { type: 8, code: 0, id: ping.netfilter.icmp!.id, seq: 1 });
  });

  it('reads IPv6: payload length + 40, traffic class, and the echo id/seq nft prints as parameter-problem', async () => {
    const { events } = await decode(CAPTURE);
    const e = events.find((x) => x.network.transport === 'ipv6-icmp')!;
    assert.equal(e.network.type, 'ipv6');
    assert.equal(e.netfilter.trace!.family, 'ip6');
    assert.deepEqual(e.source?.ip, 'fd00:172:28:129::2');
    assert.deepEqual(
      [e.netfilter.ip?.len, e.netfilter.ip?.tc, e.netfilter.ip?.hoplimit],
      [104, 0, 64],
      'ping -6: 64 bytes of ICMPv6',
    );
    assert.equal(e.netfilter.icmp?.type, 128);
    assert.equal(e.netfilter.icmp?.seq, 1);
    assert.equal(e.netfilter.icmp?.parameter, undefined);
  });

  it('names every rule by the text the snapshot taken with it renders (nft -j list ruleset)', async () => {
    const json = readFileSync(join(DIR, 'ruleset.json'), 'utf8');
    const rs = {
      ipv4: parseNftJson(json, { source: 'ruleset.json', family: 'ipv4' }),
      ipv6: parseNftJson(json, { source: 'ruleset.json', family: 'ipv6' }),
    };
    const rules = (await decode(CAPTURE)).events.filter((e) => e.netfilter.trace!.kind === 'rule');
    assert.ok(rules.length > 30);
    for (const e of rules) {
      const t = e.netfilter.trace!;
      const n = resolveRulenum(rs[e.network.type as 'ipv4' | 'ipv6'], t, 0);
      assert.ok(n !== undefined, `not found in the snapshot: ${t.table} ${t.chain} '${t.rule ?? ''}'`);
    }
  });
});

describe('nft-monitor adapter: events the capture does not show', () => {
  it("reads return events (verdict continue, mark), drops a base chain's return before its policy", async () => {
    const text = [
      'trace id 0000abcd ip t pre packet: iif "lo" ip saddr 127.0.0.1 ip daddr 127.0.0.1 ip dscp cs0 ip ecn not-ect ip ttl 64 ip id 1 ip length 84 icmp type echo-request icmp code net-unreachable icmp id 7 icmp sequence 2 ',
      'trace id 0000abcd ip t pre rule jump sub (verdict jump sub)',
      'trace id 0000abcd ip t sub rule meta mark set 0x00000001 (verdict continue)',
      'trace id 0000abcd ip t sub verdict continue meta mark 0x00000001 ',
      'trace id 0000abcd ip t pre verdict continue meta mark 0x00000001 ',
      'trace id 0000abcd ip t pre policy accept meta mark 0x00000001 ',
    ].join('\n');
    const { events, errors, skipped } = await decode(text);
    assert.deepEqual(errors, []);
    assert.equal(skipped, 1);
    assert.deepEqual(
      events.map((e) => [e.netfilter.trace!.chain, e.netfilter.trace!.kind, e.netfilter.mark]),
      [
        ['pre', 'rule', 0],
        ['sub', 'rule', 0],
        ['sub', 'return', 1],
        ['pre', 'policy', 1],
      ],
    );
    assert.deepEqual(events[2]!.netfilter.trace, {
      table: 't',
      chain: 'sub',
      kind: 'return',
      id: '0000abcd',
      family: 'ip',
    });
    assert.deepEqual(events[0]!.observer?.ingress, { interface: { name: 'lo' } });
    assert.deepEqual(events[0]!.netfilter.icmp, { type: 8, code: 0, id: 7, seq: 2 });
  });

  it('reads unknown rule handles, nft -a handles, counters, and skips conntrack and ruleset lines', async () => {
    const text = [
      'trace id 00000001 inet filter input conntrack: ct direction original ct state new ct id 42 ',
      'trace id 00000001 inet filter input packet: iif "eth0" ip saddr 10.0.0.1 ip daddr 10.0.0.2 ip dscp af41 ip ecn ce ip ttl 60 ip id 9 ip length 40 tcp sport 1 tcp dport 22 tcp flags == syn | ack tcp window 5 ',
      'trace id 00000001 inet filter input unknown rule handle 7 (verdict accept)',
      'trace id 00000001 inet filter input rule tcp dport 22 counter packets 12 bytes 720 accept # handle 9 (verdict accept)',
      'add rule inet filter input tcp dport 23 drop',
    ].join('\n');
    const { events, errors, skipped } = await decode(text);
    assert.deepEqual(errors, []);
    assert.equal(skipped, 2);
    assert.deepEqual(events[0]!.netfilter.trace, {
      table: 'filter',
      chain: 'input',
      kind: 'rule',
      id: '00000001',
      handle: 7,
      verdict: 'ACCEPT',
      family: 'inet',
    });
    assert.deepEqual(events[1]!.netfilter.trace!.rule, 'tcp dport 22 counter accept');
    assert.equal(events[1]!.netfilter.trace!.handle, 9);
    assert.equal(events[1]!.network.type, 'ipv4', 'from the packet, not the inet family');
    assert.deepEqual(
      events[1]!.netfilter.ip,
      { len: 40, tos: 0x0a, prec: 0x80, ttl: 60, id: 9 },
      'af41 ce = 0x8b',
    );
    assert.deepEqual(events[1]!.netfilter.tcp?.flags, ['ACK', 'SYN']);
  });

  it('normalises rule text like the snapshot renders it', () => {
    assert.deepEqual(normalizeNftRule('counter packets 1 bytes 2 drop'), { rule: 'counter drop' });
    assert.deepEqual(normalizeNftRule('jump x # handle 12'), { rule: 'jump x', handle: 12 });
  });

  it('turns malformed lines into InputErrors with file, line and reason, and goes on', async () => {
    const text = [
      'trace id 0000zzzz ip t c policy accept ',
      'trace id 00000002 ipx t c policy accept ',
      'trace id 00000002 ip t c rule tcp dport 1 accept',
      'trace id 00000002 ip t c policy maybe ',
      'trace id 00000002 ip t c packet: ip saddr 10.0.0.1 bogus 1 ',
      'trace id 00000002 ip t c rule tcp dport 1 accept (verdict explode)',
      'trace id 00000002 ip t c policy drop ',
    ].join('\n');
    const { events, errors } = await decode(text);
    assert.equal(events.length, 1);
    assert.deepEqual(
      errors.map((e) => [e.code, e.position.file, e.position.line, e.reason]),
      [
        [NFT_MONITOR_ERROR_CODES.trace, 'nft.txt', 1, 'trace id "0000zzzz" is not 8 hex digits'],
        [NFT_MONITOR_ERROR_CODES.trace, 'nft.txt', 2, 'unknown family "ipx"'],
        [NFT_MONITOR_ERROR_CODES.trace, 'nft.txt', 3, 'rule line without "(verdict …)"'],
        [NFT_MONITOR_ERROR_CODES.trace, 'nft.txt', 4, 'policy "maybe" is neither accept nor drop'],
        [NFT_MONITOR_ERROR_CODES.packet, 'nft.txt', 5, 'packet line: unexpected token "bogus"'],
        [NFT_MONITOR_ERROR_CODES.trace, 'nft.txt', 6, 'unknown verdict "explode"'],
      ],
    );
    assert.ok(errors.every((e) => e.message.startsWith(`nft.txt:${e.position.line}: `)));
  });
});

describe('nft-monitor adapter: sniff', () => {
  it('claims nft monitor trace output and nothing else', () => {
    assert.equal(nftMonitorAdapter.sniff(CAPTURE.subarray(0, 400), 'x'), true);
    assert.equal(
      nftMonitorAdapter.sniff(Buffer.from(' TRACE: 2 9f9b4bd5 raw:PREROUTING:policy:ACCEPT \n'), 'x'),
      false,
    );
    assert.equal(
      nftMonitorAdapter.sniff(
        Buffer.from('Jan  1 21:23:16 h kernel: TRACE: raw:PREROUTING:policy:3 IN=eth0 OUT= \n'),
        'x',
      ),
      false,
    );
    assert.equal(nftMonitorAdapter.sniff(Buffer.from('{"nftables": []}\n'), 'x'), false);
  });
});
