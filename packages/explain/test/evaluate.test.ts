/**
 * The rule evaluator on real material: rules parsed from iptables-save / `nft -j list ruleset` text by the
 * ruleset package, packets decoded from the lab's real kernel TRACE lines by the kernel-log adapter. Where a test
 * needs a field a TRACE line never carries (the conntrack state, bridge ports, another port), it says so and sets
 * only that field on the real packet.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { BlockList } from 'node:net';
import { join } from 'node:path';
import fc from 'fast-check';
import { parseKernelLogLine } from '@ruletrail/ingest-kernel-log';
import { parseIptablesSave, parseNftJson, type Rule, type Ruleset } from '@ruletrail/ruleset';
import {
  describeEvaluation,
  evaluateRule,
  inPrefix,
  packetOfEvent,
  parseAddress,
  parsePrefix,
  type AddressTyper,
  type EvalContext,
  type PacketView,
} from '../src';

const LAB = join(__dirname, '../../../test/fixtures/lab');

/** The packet of the first TRACE line of a lab kernel-log capture that contains every one of `needles`. */
function tracePacket(scenario: string, ...needles: string[]): PacketView {
  const file = join(LAB, scenario, 'kernel-log', 'kern.log');
  const lines = readFileSync(file, 'utf8').split('\n');
  const i = lines.findIndex((l) => l.includes('TRACE:') && needles.every((n) => l.includes(n)));
  assert.ok(i >= 0, `no TRACE line with ${needles.join(', ')} in ${file}`);
  const r = parseKernelLogLine(lines[i]!, i + 1, { file, year: 2026 });
  assert.ok(r && !(r instanceof Error), `line ${i + 1} of ${file} does not decode`);
  return packetOfEvent(r);
}

/** Rules in real iptables-save syntax: `*table`, chain headers, `-A` lines, `COMMIT`. */
function save(table: string, ...rules: string[]): Ruleset {
  const chains = new Set(rules.map((r) => /^-A (\S+)/.exec(r)?.[1] ?? ''));
  const builtin = ['INPUT', 'FORWARD', 'OUTPUT', 'PREROUTING', 'POSTROUTING'];
  const text = [
    `*${table}`,
    ...[...chains].map((c) => (builtin.includes(c) ? `:${c} ACCEPT [0:0]` : `:${c} - [0:0]`)),
    ...rules,
    'COMMIT',
    '',
  ].join('\n');
  return parseIptablesSave(text, { source: 'test.save' });
}

/** The one rule of `-A X …` (filter table unless given). */
function rule(text: string, table = 'filter', family?: 'ipv4' | 'ipv6'): Rule {
  const rs = save(table, `-A X ${text}`);
  const r = rs.tables.get(table)?.chains.get('X')?.rules[0];
  assert.ok(r, `rule '${text}' did not parse`);
  if (family) assert.ok(rs.family === null || rs.family === family);
  return r;
}

function ev(text: string, p: PacketView, ctx?: EvalContext) {
  return evaluateRule(rule(text), p, ctx);
}
function result(text: string, p: PacketView, ctx?: EvalContext): string {
  return ev(text, p, ctx).result;
}

// Real packets, from the lab's captures.
const SYN = tracePacket('incident', 'raw:PREROUTING:policy', 'DPT=52000'); // tcp 172.28.129.2 > .4:52000 in eth0
const MARKED = tracePacket('modern-kube-proxy', 'MARK=0x4000'); // the KUBE-MARK-MASQ'ed NodePort SYN
const UDP = tracePacket('udp-icmp', 'PROTO=UDP', 'DPT=53 ');
const ICMP = tracePacket('udp-icmp', 'PROTO=ICMP', 'TYPE=8');
const SYN6 = tracePacket('ipv6', 'PROTO=TCP', 'DPT=52000');
const ICMP6 = tracePacket('ipv6', 'PROTO=ICMPv6', 'TYPE=128');
const FORWARDED = tracePacket('snat-masquerade', 'filter:FORWARD', 'OUT=eth0', 'PROTO=TCP');

describe('rule evaluator (real rules, real trace packets)', () => {
  it('reads the packet of a real TRACE line', () => {
    assert.equal(SYN.proto, 'tcp');
    assert.equal(SYN.src, '172.28.129.2');
    assert.equal(SYN.dport, 52000);
    assert.equal(SYN.in, 'eth0');
    assert.equal(SYN.out, '');
    assert.deepEqual(SYN.tcpFlags, ['SYN']);
    assert.equal(SYN.len, 60);
    assert.equal(SYN.ttl, 64);
    assert.equal(SYN.tos, 0);
    assert.equal(SYN.fragOffset, 0);
    assert.equal(SYN.ctState, undefined, 'a TRACE line carries no conntrack state');
    assert.equal(MARKED.mark, 0x4000);
    assert.equal(FORWARDED.out, 'eth0');
    assert.equal(SYN6.family, 'ipv6');
  });

  it("issue #16: KUBE-EXTERNAL-SERVICES' udp 31053 REJECT rule does not match a TCP SYN to 31080", () => {
    const rs = save(
      'filter',
      '-A KUBE-EXTERNAL-SERVICES -p tcp -m comment --comment "shop/web:http has no endpoints" -m addrtype --dst-type LOCAL -m tcp --dport 31080 -j REJECT --reject-with icmp-port-unreachable',
      '-A KUBE-EXTERNAL-SERVICES -p udp -m comment --comment "shop/dns:dns-udp has no endpoints" -m addrtype --dst-type LOCAL -m udp --dport 31053 -j REJECT --reject-with icmp-port-unreachable',
    );
    const [web, dns] = rs.tables.get('filter')!.chains.get('KUBE-EXTERNAL-SERVICES')!.rules;
    // The real NodePort SYN of the modern-kube-proxy capture, sent to the port 31080 instead of 30080.
    const p: PacketView = { ...tracePacket('modern-kube-proxy', 'PROTO=TCP', 'SYN'), dport: 31080 };
    const e = evaluateRule(dns!, p);
    assert.equal(e.result, 'no');
    assert.equal(describeEvaluation(e), 'needs -p udp, the packet is tcp');
    // Rule 1 is the one it can be: everything but addrtype matches, and addrtype needs the host's addresses.
    const w = evaluateRule(web!, p);
    assert.equal(w.result, 'unknown');
    assert.equal(w.because?.kind, '--dst-type');
    const local: AddressTyper = { addressType: (ip) => (ip === p.dst ? 'LOCAL' : 'UNICAST') };
    assert.equal(evaluateRule(web!, p, { facts: local }).result, 'yes');
  });

  it('-p: names, numbers, negation, all', () => {
    assert.equal(result('-p tcp -j ACCEPT', SYN), 'yes');
    assert.equal(result('-p 6 -j ACCEPT', SYN), 'yes');
    assert.equal(result('-p udp -j ACCEPT', SYN), 'no');
    assert.equal(result('! -p udp -j ACCEPT', SYN), 'yes');
    assert.equal(result('-p all -j ACCEPT', UDP), 'yes');
    assert.equal(result('-p icmp -j ACCEPT', ICMP), 'yes');
    assert.equal(result('-p udp -j ACCEPT', UDP), 'yes');
  });

  it('-s/-d: CIDR, dotted masks, negation, IPv6, the other family', () => {
    assert.equal(result('-s 172.28.129.0/24 -j ACCEPT', SYN), 'yes');
    assert.equal(result('-s 172.28.129.0/255.255.255.0 -j ACCEPT', SYN), 'yes');
    assert.equal(result('-s 172.28.129.0/255.255.255.252 -j ACCEPT', SYN), 'yes');
    assert.equal(result('-s 172.28.129.4/255.255.255.254 -j ACCEPT', SYN), 'no');
    assert.equal(result('-d 172.28.129.4/32 -j ACCEPT', SYN), 'yes');
    assert.equal(result('-s 10.0.0.0/8 -j ACCEPT', SYN), 'no');
    assert.equal(result('! -s 10.0.0.0/8 -j ACCEPT', SYN), 'yes');
    assert.equal(result('! -d 172.28.129.4/32 -j ACCEPT', SYN), 'no');
    const e = ev('-s 10.244.0.0/16 -j ACCEPT', SYN);
    assert.equal(describeEvaluation(e), "needs -s 10.244.0.0/16, the packet's source is 172.28.129.2");
    // The kernel log writes IPv6 addresses fully expanded; prefixes compare on the address, not the text.
    const v6 = (t: string) => evaluateRule(rule(t), SYN6).result;
    assert.equal(v6('-s fd00:172:28:129::/64 -j ACCEPT'), 'yes');
    assert.equal(v6('-d fd00:172:28:129::4/128 -j ACCEPT'), 'yes');
    assert.equal(v6('-d fd00:172:28:129::5/128 -j ACCEPT'), 'no');
    assert.equal(v6('! -s fd00:10:244::/56 -j ACCEPT'), 'yes');
    // An IPv4 prefix never matches an IPv6 packet (and the other way round).
    assert.equal(result('-s 0.0.0.0/0 -j ACCEPT', SYN6), 'no');
    assert.equal(result('-s ::/0 -j ACCEPT', SYN), 'no');
    // An address the channel did not carry is not known.
    assert.equal(result('-s 10.0.0.0/8 -j ACCEPT', { ...SYN, src: undefined }), 'unknown');
  });

  it('-i/-o: exact names, + wildcards, negation, no interface at this hook', () => {
    assert.equal(result('-i eth0 -j ACCEPT', SYN), 'yes');
    assert.equal(result('-i eth+ -j ACCEPT', SYN), 'yes');
    assert.equal(result('-i et+ -j ACCEPT', SYN), 'yes');
    assert.equal(result('-i lo -j ACCEPT', SYN), 'no');
    assert.equal(result('-i eth0+ -j ACCEPT', SYN), 'yes');
    assert.equal(result('-i eth1+ -j ACCEPT', SYN), 'no');
    assert.equal(result('! -i lo -j ACCEPT', SYN), 'yes');
    assert.equal(result('-o eth0 -j ACCEPT', SYN), 'no', 'a PREROUTING packet has no output interface');
    assert.equal(
      describeEvaluation(ev('-o eth0 -j ACCEPT', SYN)),
      'needs -o eth0, the packet has no output interface here',
    );
    assert.equal(result('-i pod+ -o eth0 -j ACCEPT', FORWARDED), 'yes');
    assert.equal(result('-o docker0 -j ACCEPT', { ...SYN, out: undefined }), 'unknown');
  });

  it('-f: only later fragments', () => {
    assert.equal(result('-f -j DROP', SYN), 'no');
    assert.equal(result('! -f -j DROP', SYN), 'yes');
    assert.equal(result('-f -j DROP', { ...SYN, fragOffset: 185 }), 'yes');
  });

  it('tcp/udp ports: single, ranges, open ranges, negation, the other protocol', () => {
    assert.equal(result('-p tcp -m tcp --dport 52000 -j ACCEPT', SYN), 'yes');
    assert.equal(result('-p tcp -m tcp --dport 50000:53000 -j ACCEPT', SYN), 'yes');
    assert.equal(result('-p tcp -m tcp --dport 52001: -j ACCEPT', SYN), 'no');
    assert.equal(result('-p tcp -m tcp --dport :52000 -j ACCEPT', SYN), 'yes');
    assert.equal(result('-p tcp -m tcp --sport 1:1024 -j ACCEPT', SYN), 'no');
    assert.equal(result('-p tcp -m tcp ! --dport 80 -j ACCEPT', SYN), 'yes');
    assert.equal(result('-p udp -m udp --dport 53 -j ACCEPT', UDP), 'yes');
    assert.equal(result('-p udp -m udp --dport 53 -j ACCEPT', SYN), 'no');
    // -m tcp without -p still only matches TCP.
    assert.equal(result('-m tcp --dport 53 -j ACCEPT', UDP), 'no');
    assert.equal(
      describeEvaluation(ev('-p tcp -m tcp --dport 80 -j ACCEPT', SYN)),
      'needs --dport 80, the packet has dport 52000',
    );
  });

  it('multiport: dports, sports, ports, ranges in lists', () => {
    assert.equal(result('-p tcp -m multiport --dports 80,443,52000 -j ACCEPT', SYN), 'yes');
    assert.equal(result('-p tcp -m multiport --dports 80,443 -j ACCEPT', SYN), 'no');
    assert.equal(result('-p tcp -m multiport --dports 80,51000:53000 -j ACCEPT', SYN), 'yes');
    assert.equal(result('-p tcp -m multiport ! --dports 80,443 -j ACCEPT', SYN), 'yes');
    assert.equal(result(`-p tcp -m multiport --sports ${SYN.sport} -j ACCEPT`, SYN), 'yes');
    assert.equal(result('-p tcp -m multiport --ports 52000 -j ACCEPT', SYN), 'yes');
    assert.equal(result('-p tcp -m multiport --ports 1,2 -j ACCEPT', SYN), 'no');
  });

  it('--tcp-flags and --syn', () => {
    assert.equal(result('-p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j ACCEPT', SYN), 'yes');
    assert.equal(result('-p tcp -m tcp --syn -j ACCEPT', SYN), 'yes');
    assert.equal(result('-p tcp -m tcp ! --syn -j ACCEPT', SYN), 'no');
    assert.equal(result('-p tcp -m tcp --tcp-flags SYN,ACK SYN,ACK -j ACCEPT', SYN), 'no');
    assert.equal(result('-p tcp -m tcp --tcp-flags ALL NONE -j DROP', SYN), 'no');
    assert.equal(result('-p tcp -m tcp --tcp-flags ALL SYN -j ACCEPT', SYN), 'yes');
    const ack: PacketView = { ...SYN, tcpFlags: ['ACK'] };
    assert.equal(result('-p tcp -m tcp --syn -j ACCEPT', ack), 'no');
    assert.equal(result('-p tcp -m tcp --syn -j ACCEPT', { ...SYN, tcpFlags: undefined }), 'unknown');
  });

  it('icmp / icmpv6 types by name and number, with codes', () => {
    assert.equal(ICMP.icmpType, 8);
    assert.equal(result('-p icmp -m icmp --icmp-type 8 -j DROP', ICMP), 'yes');
    assert.equal(result('-p icmp -m icmp --icmp-type echo-request -j DROP', ICMP), 'yes');
    assert.equal(result('-p icmp -m icmp --icmp-type 8/0 -j DROP', ICMP), 'yes');
    assert.equal(result('-p icmp -m icmp --icmp-type 8/1 -j DROP', ICMP), 'no');
    assert.equal(result('-p icmp -m icmp --icmp-type echo-reply -j DROP', ICMP), 'no');
    assert.equal(result('-p icmp -m icmp --icmp-type any -j DROP', ICMP), 'yes');
    assert.equal(result('-p icmp -m icmp ! --icmp-type 0 -j DROP', ICMP), 'yes');
    assert.equal(result('-p icmp -m icmp --icmp-type port-unreachable -j DROP', ICMP), 'no');
    const v6 = save('filter', '-A X -p ipv6-icmp -m icmp6 --icmpv6-type 128 -j ACCEPT');
    const [r128] = v6.tables.get('filter')!.chains.get('X')!.rules;
    assert.equal(evaluateRule(r128!, ICMP6).result, 'yes');
    assert.equal(result('-p ipv6-icmp -m icmp6 --icmpv6-type echo-request -j ACCEPT', ICMP6), 'yes');
    assert.equal(result('-p ipv6-icmp -m icmp6 --icmpv6-type echo-reply -j ACCEPT', ICMP6), 'no');
    assert.equal(result('-p ipv6-icmp -m icmp6 --icmpv6-type 128 -j ACCEPT', SYN6), 'no');
    // xtables-monitor prints no protocol for ICMP: without it and without a type, not even `any` is known.
    const bare: PacketView = { ...UDP, proto: undefined, sport: undefined, dport: undefined };
    assert.equal(result('-m icmp --icmp-type any -j ACCEPT', bare), 'unknown');
    assert.equal(result('-m icmp --icmp-type any -j ACCEPT', { ...ICMP, proto: undefined }), 'yes');
  });

  it('mark: value/mask, exact value, negation', () => {
    assert.equal(result('-m mark --mark 0x4000/0x4000 -j ACCEPT', MARKED), 'yes');
    assert.equal(result('-m mark --mark 0x4000 -j ACCEPT', MARKED), 'yes');
    assert.equal(result('-m mark --mark 0x8000/0x8000 -j DROP', MARKED), 'no');
    assert.equal(result('-m mark ! --mark 0x4000/0x4000 -j ACCEPT', MARKED), 'no');
    assert.equal(result('-m mark --mark 0x0/0xc000 -j ACCEPT', SYN), 'yes', 'the unmarked SYN');
    assert.equal(
      describeEvaluation(ev('-m mark --mark 0x8000/0x8000 -j DROP', MARKED)),
      "needs --mark 0x8000/0x8000, the packet's mark is 0x4000",
    );
  });

  it('conntrack --ctstate / state: known, several possible, unknown', () => {
    // A TRACE line carries no conntrack state: unknown until a caller knows it.
    const e = ev('-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT', SYN);
    assert.equal(e.result, 'unknown');
    assert.match(describeEvaluation(e), /conntrack state/);
    const isNew: PacketView = { ...SYN, ctState: ['NEW'] };
    assert.equal(result('-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT', isNew), 'no');
    assert.equal(result('-m conntrack --ctstate NEW -j ACCEPT', isNew), 'yes');
    assert.equal(result('-m state --state NEW -j ACCEPT', isNew), 'yes');
    assert.equal(result('-m state --state INVALID -j DROP', isNew), 'no');
    // SNAT/DNAT are the connection's NAT status, not states: a NEW connection that was DNAT'ed matches DNAT.
    const kubeFirewall = '-m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP';
    assert.equal(result(kubeFirewall, isNew), 'unknown', 'NAT status not known');
    assert.equal(result(kubeFirewall, { ...isNew, ctStatus: [] }), 'yes');
    assert.equal(result(kubeFirewall, { ...isNew, ctStatus: ['DNAT'] }), 'no');
    assert.equal(result('-m conntrack --ctstate SNAT -j ACCEPT', { ...isNew, ctStatus: ['DNAT'] }), 'no');
    assert.equal(result(kubeFirewall, { ...SYN, ctState: ['ESTABLISHED'] }), 'no', 'the state alone decides');
    const either: PacketView = { ...SYN, ctState: ['ESTABLISHED', 'RELATED'] };
    assert.equal(result('-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT', either), 'yes');
    assert.equal(result('-m conntrack --ctstate ESTABLISHED -j ACCEPT', either), 'unknown');
    assert.equal(result('-m conntrack --ctstate NEW -j ACCEPT', either), 'no');
  });

  it('conntrack --ctorigdst/--ctorigsrc/ports from the original tuple', () => {
    assert.equal(result('-m conntrack --ctorigdst 172.28.129.4 -j ACCEPT', SYN), 'unknown');
    const orig: PacketView = { ...SYN, orig: { src: '172.28.129.2', dst: '172.28.129.4', dport: 80 } };
    assert.equal(result('-m conntrack --ctorigdst 172.28.129.4 -j ACCEPT', orig), 'yes');
    assert.equal(result('-m conntrack --ctorigdst 10.96.0.0/12 -j ACCEPT', orig), 'no');
    assert.equal(result('-m conntrack ! --ctorigdst 10.96.0.0/12 -j ACCEPT', orig), 'yes');
    assert.equal(result('-m conntrack --ctorigsrc 172.28.129.0/24 -j ACCEPT', orig), 'yes');
    assert.equal(result('-m conntrack --ctorigdstport 80 -j ACCEPT', orig), 'yes');
    assert.equal(result('-m conntrack --ctorigdstport 443 -j ACCEPT', orig), 'no');
  });

  it('iprange, length, ttl/hl, dscp/dscp-class/tos', () => {
    assert.equal(result('-m iprange --src-range 172.28.129.1-172.28.129.9 -j ACCEPT', SYN), 'yes');
    assert.equal(result('-m iprange --dst-range 172.28.129.5-172.28.129.9 -j ACCEPT', SYN), 'no');
    assert.equal(result('-m iprange ! --src-range 10.0.0.1-10.0.0.9 -j ACCEPT', SYN), 'yes');
    assert.equal(result('-m length --length 40:100 -j ACCEPT', SYN), 'yes');
    assert.equal(result('-m length --length 61:1500 -j ACCEPT', SYN), 'no');
    assert.equal(result('-m length ! --length 60 -j ACCEPT', SYN), 'no');
    assert.equal(result('-m ttl --ttl-eq 64 -j ACCEPT', SYN), 'yes');
    assert.equal(result('-m ttl --ttl-lt 10 -j DROP', SYN), 'no');
    assert.equal(result('-m ttl --ttl-gt 63 -j ACCEPT', SYN), 'yes');
    assert.equal(result('-m ttl --ttl-eq 63 -j ACCEPT', FORWARDED), 'yes', 'one hop later');
    assert.equal(result('-m hl --hl-eq 64 -j ACCEPT', SYN6), 'yes');
    assert.equal(result('-m dscp --dscp 0x00 -j ACCEPT', SYN), 'yes');
    assert.equal(result('-m dscp --dscp 0x2e -j ACCEPT', SYN), 'no');
    assert.equal(result('-m dscp --dscp-class EF -j ACCEPT', { ...SYN, tos: 0xb8 }), 'yes');
    assert.equal(result('-m dscp --dscp-class CS1 -j ACCEPT', SYN), 'no');
    assert.equal(result('-m tos --tos 0x00/0xff -j ACCEPT', SYN), 'yes');
    assert.equal(result('-m tos --tos 0x10/0x3f -j ACCEPT', SYN), 'no');
  });

  it('comment is always yes; addrtype needs the host facts', () => {
    assert.equal(result('-m comment --comment "anything at all" -j ACCEPT', SYN), 'yes');
    const e = ev('-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS', SYN);
    assert.equal(e.result, 'unknown');
    assert.match(describeEvaluation(e), /host's addresses/);
    const facts: AddressTyper = { addressType: (ip) => (ip === '172.28.129.4' ? 'LOCAL' : 'UNICAST') };
    assert.equal(result('-m addrtype --dst-type LOCAL -j ACCEPT', SYN, { facts }), 'yes');
    assert.equal(result('-m addrtype --src-type LOCAL -j ACCEPT', SYN, { facts }), 'no');
    assert.equal(result('-m addrtype ! --dst-type LOCAL -j ACCEPT', SYN, { facts }), 'no');
    assert.equal(
      describeEvaluation(ev('-m addrtype ! --dst-type LOCAL -j ACCEPT', SYN, { facts })),
      'needs ! --dst-type LOCAL, 172.28.129.4 is LOCAL on this host',
    );
    assert.equal(
      describeEvaluation(ev('-m addrtype --src-type LOCAL -j ACCEPT', SYN, { facts })),
      'needs --src-type LOCAL, 172.28.129.2 is not LOCAL on this host',
    );
    assert.equal(result('-m addrtype --dst-type LOCAL,BROADCAST -j ACCEPT', SYN, { facts }), 'yes');
    assert.equal(
      result('-m addrtype --dst-type LOCAL --limit-iface-in -j ACCEPT', SYN, { facts }),
      'unknown',
    );
  });

  it('physdev and mac', () => {
    // A routed packet's TRACE line has no PHYSIN: not known whether it was bridged.
    assert.equal(result('-m physdev --physdev-in veth1 -j ACCEPT', SYN), 'unknown');
    const bridged: PacketView = { ...SYN, physin: 'veth1', physout: 'veth2' };
    assert.equal(result('-m physdev --physdev-in veth+ -j ACCEPT', bridged), 'yes');
    assert.equal(result('-m physdev --physdev-out veth1 -j ACCEPT', bridged), 'no');
    assert.equal(result('-m physdev --physdev-is-bridged -j ACCEPT', bridged), 'yes');
    assert.equal(
      result('-m physdev ! --physdev-is-in -j ACCEPT', { ...SYN, physin: '', physout: '' }),
      'yes',
    );
    // The real line's MAC= is destination:source:type; the source is the client's.
    assert.equal(SYN.srcMac, '02:72:74:00:00:02');
    assert.equal(result('-m mac --mac-source 02:72:74:00:00:02 -j ACCEPT', SYN), 'yes');
    assert.equal(result('-m mac --mac-source 02:72:74:00:00:03 -j ACCEPT', SYN), 'no');
    assert.equal(result('-m mac ! --mac-source 02:72:74:00:00:03 -j ACCEPT', SYN), 'yes');
  });

  it('stateful modules are unknown and say what they depend on', () => {
    const cases: [string, RegExp][] = [
      ['-m limit --limit 5/sec -j ACCEPT', /rate limit/],
      ['-m recent --rcheck --seconds 60 --name ssh -j DROP', /recent list/],
      ['-m set --match-set KUBE-LOAD-BALANCER dst,dst -j ACCEPT', /ipset/],
      ['-m connmark --mark 0x1/0x1 -j ACCEPT', /connection mark/],
      ['-m string --string "GET /" --algo bm -j DROP', /payload/],
      ['-m statistic --mode random --probability 0.5 -j KUBE-SEP-X', /random/],
    ];
    for (const [text, why] of cases) {
      const e = ev(text, SYN);
      assert.equal(e.result, 'unknown', text);
      assert.match(describeEvaluation(e), why, text);
    }
    // A "no" anywhere still decides: the packet is tcp, whatever the rate limit says.
    assert.equal(result('-p udp -m limit --limit 5/sec -j ACCEPT', SYN), 'no');
    // An extension ruletrail does not know is unknown too, never ignored.
    assert.equal(result('-m quota2 --name q -j ACCEPT', SYN), 'unknown');
  });

  it('an assumed answer (simulate) replaces an unknown criterion, never a known one', () => {
    const r = rule('-p tcp -m addrtype --dst-type LOCAL -j ACCEPT');
    assert.equal(evaluateRule(r, SYN, { assume: () => 'yes' }).result, 'yes');
    assert.equal(evaluateRule(r, SYN, { assume: () => 'no' }).result, 'no');
    assert.equal(evaluateRule(r, UDP, { assume: () => 'yes' }).result, 'no', '-p tcp is known: no');
  });

  it("nft -j rules: modelled matches evaluate, iptables-nft's compat and opaque expressions are unknown", () => {
    const text = readFileSync(join(LAB, 'explicit-drop', 'xtables-monitor', 'nft-ruleset.json'), 'utf8');
    const rs = parseNftJson(text, { source: 'nft-ruleset.json', family: 'ipv4' });
    const input = rs.tables.get('filter')!.chains.get('INPUT')!.rules;
    const raw = rs.tables.get('raw')!.chains.get('PREROUTING')!.rules;
    const p = tracePacket('explicit-drop', 'PROTO=TCP', 'DPT=8080');
    // `xt match "conntrack" counter accept`: the compat match's options are not in the JSON.
    assert.match(input[0]!.text, /xt match "conntrack"/);
    const e = evaluateRule(input[0]!, p);
    assert.equal(e.result, 'unknown');
    assert.equal(e.because?.kind, 'nft');
    assert.equal(evaluateRule(input[1]!, p).result, 'no', 'iifname "lo"');
    assert.equal(evaluateRule(input[2]!, p).result, 'yes', 'tcp dport 8080 (+ xt match "comment")');
    assert.equal(evaluateRule(input[3]!, p).result, 'no', 'tcp dport 9091');
    // `tcp flags syn / fin,syn,rst,ack tcp dport 8080 meta nftrace set 1`: the flags are modelled as
    // --tcp-flags FIN,SYN,RST,ACK SYN, which the traced SYN matches.
    assert.equal(evaluateRule(raw[0]!, p).result, 'yes');
    const ack = { ...p, tcpFlags: ['ACK'] };
    const t = evaluateRule(raw[0]!, ack);
    assert.equal(t.result, 'no');
    assert.match(describeEvaluation(t), /needs --tcp-flags FIN,SYN,RST,ACK SYN/);
    assert.equal(evaluateRule(raw[1]!, p).result, 'no', 'tcp dport 9090');
  });

  describe('properties', () => {
    const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((a) => a.join('.'));
    const v6 = fc
      .array(fc.nat(0xffff), { minLength: 8, maxLength: 8 })
      .map((g) => g.map((x) => x.toString(16)).join(':'));

    it('CIDR membership agrees with node:net BlockList (IPv4 and IPv6)', () => {
      fc.assert(
        fc.property(
          fc.oneof(
            fc.tuple(v4, v4, fc.nat(32)).map(([n, a, l]) => ({ n, a, l, t: 'ipv4' as const })),
            fc.tuple(v6, v6, fc.nat(128)).map(([n, a, l]) => ({ n, a, l, t: 'ipv6' as const })),
          ),
          ({ n, a, l, t }) => {
            const prefix = parsePrefix(`${n}/${l}`)!;
            const bl = new BlockList();
            bl.addSubnet(n, l, t);
            assert.equal(inPrefix(parseAddress(a)!, prefix), bl.check(a, t));
          },
        ),
        { numRuns: 500 },
      );
    });

    it('negation flips yes and no and keeps unknown', () => {
      fc.assert(
        fc.property(
          v4,
          fc.nat(32),
          fc.option(v4, { nil: undefined }),
          fc.constantFrom('-s', '-d'),
          (net, len, ip, flag) => {
            const field = flag === '-s' ? 'src' : 'dst';
            const p: PacketView = { ...SYN, [field]: ip };
            const plain = evaluateRule(rule(`${flag} ${net}/${len} -j ACCEPT`), p).result;
            const negated = evaluateRule(rule(`! ${flag} ${net}/${len} -j ACCEPT`), p).result;
            const flip = { yes: 'no', no: 'yes', unknown: 'unknown' } as const;
            assert.equal(negated, flip[plain]);
            assert.equal(plain === 'unknown', ip === undefined);
          },
        ),
        { numRuns: 200 },
      );
    });

    it('a port range matches exactly the ports inside it', () => {
      fc.assert(
        fc.property(fc.nat(65535), fc.nat(65535), fc.nat(65535), (a, b, port) => {
          const [lo, hi] = a <= b ? [a, b] : [b, a];
          const r = evaluateRule(rule(`-p tcp -m tcp --dport ${lo}:${hi} -j ACCEPT`), {
            ...SYN,
            dport: port,
          });
          assert.equal(r.result, port >= lo && port <= hi ? 'yes' : 'no');
        }),
        { numRuns: 200 },
      );
    });
  });
});
