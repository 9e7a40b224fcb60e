/**
 * The trace filter compiler: tcpdump-like text → the rules `ruletrail trace` installs, as iptables match
 * arguments and as nft expressions. (The lab stage runs the compiled rules in a real kernel.)
 */
import assert from 'node:assert/strict';
import {
  FilterError,
  compileFilter,
  iptablesMatch,
  nftMatch,
  ruleAppliesTo,
  type CompiledFilter,
} from '../src/trace/filter';

/** Every rule as `v4: args` / `v6: args` lines, in order. */
function ipt(f: CompiledFilter): string[] {
  const out: string[] = [];
  for (const r of f.rules)
    for (const fam of [4, 6] as const)
      if (ruleAppliesTo(r, fam)) out.push(`v${fam}: ${iptablesMatch(r, fam).join(' ')}`);
  return out;
}
const nft = (f: CompiledFilter) => f.rules.map(nftMatch);

function fails(text: string, re: RegExp): void {
  assert.throws(
    () => compileFilter(text),
    (e: unknown) => e instanceof FilterError && re.test(e.message),
    `'${text}' should fail with ${re}`,
  );
}

describe('trace filter compiler', () => {
  it("compiles the issue's example into one IPv4 rule", () => {
    const f = compileFilter('tcp and dst port 52000 and src 10.0.0.0/8');
    assert.deepEqual(ipt(f), ['v4: -s 10.0.0.0/8 -p tcp -m tcp --dport 52000']);
    assert.deepEqual(nft(f), ['ip saddr 10.0.0.0/8 tcp dport 52000']);
  });

  it('applies a rule without addresses to both families', () => {
    const f = compileFilter('udp dst port 53');
    assert.deepEqual(ipt(f), ['v4: -p udp -m udp --dport 53', 'v6: -p udp -m udp --dport 53']);
    assert.deepEqual(nft(f), ['udp dport 53']);
  });

  it('expands a port without protocol or direction into tcp/udp × source/destination rules', () => {
    const f = compileFilter('port 53');
    assert.deepEqual(nft(f), ['tcp sport 53', 'udp sport 53', 'tcp dport 53', 'udp dport 53']);
  });

  it('expands host into source or destination, and keeps the family of the address', () => {
    const f = compileFilter('host fd00::4 and icmp6');
    assert.deepEqual(ipt(f), ['v6: -s fd00::4/128 -p ipv6-icmp', 'v6: -d fd00::4/128 -p ipv6-icmp']);
    assert.deepEqual(nft(f), [
      'ip6 saddr fd00::4/128 meta l4proto ipv6-icmp',
      'ip6 daddr fd00::4/128 meta l4proto ipv6-icmp',
    ]);
  });

  it('compiles or/not/parentheses into disjunctive normal form with negations on the matches', () => {
    const f = compileFilter('tcp and not (dst port 22 or src net 192.168.0.0/16)');
    // not (a or b) = not a and not b: one rule per family, the negated v4 network only in the v4 rule.
    assert.deepEqual(ipt(f), [
      'v4: ! -s 192.168.0.0/16 -p tcp -m tcp ! --dport 22',
      'v6: -p tcp -m tcp ! --dport 22',
    ]);
    assert.deepEqual(nft(f), [
      'ip saddr != 192.168.0.0/16 tcp dport != 22',
      'meta nfproto ipv6 tcp dport != 22',
    ]);
  });

  it('compiles TCP flag tests', () => {
    assert.deepEqual(ipt(compileFilter('tcp[tcpflags] & tcp-syn != 0 and dst port 80 and ip')), [
      'v4: -p tcp -m tcp --dport 80 --tcp-flags SYN SYN',
    ]);
    assert.deepEqual(nft(compileFilter('tcp[tcpflags] == tcp-syn')), ['tcp flags == syn']);
    assert.deepEqual(ipt(compileFilter('ip and tcp[tcpflags] == tcp-syn|tcp-ack')), [
      'v4: -p tcp -m tcp --tcp-flags ALL SYN,ACK',
    ]);
  });

  it('compiles port ranges and protocol exclusions', () => {
    assert.deepEqual(ipt(compileFilter('ip and tcp dst portrange 30000-32767')), [
      'v4: -p tcp -m tcp --dport 30000:32767',
    ]);
    assert.deepEqual(nft(compileFilter('tcp dst portrange 30000-32767')), ['tcp dport 30000-32767']);
    assert.deepEqual(ipt(compileFilter('ip6 and not udp')), ['v6: ! -p udp']);
  });

  it('drops contradictory conjunctions and fails when nothing is left', () => {
    assert.deepEqual(ipt(compileFilter('(tcp and udp) or (icmp)')), ['v4: -p icmp']);
    fails('tcp and udp', /can never match/);
    fails('ip and ip6', /can never match/);
    fails('host 10.0.0.1 and host fd00::1 and src 10.0.0.1 and src fd00::1', /can never match|two src/);
  });

  it('rejects what no TRACE rule can express, naming the position', () => {
    fails('ether host 02:00:00:00:00:01', /'ether' cannot be expressed.*at character 1/);
    fails('tcp and vlan 10', /'vlan' cannot be expressed.*at character 9/);
    fails('src 10.0.0.1 and src 10.0.0.2', /two src address tests/);
    fails('port http', /not a port number.*service names/);
    fails('host example.com', /not an IPv4 or IPv6 address.*host names are not resolved/);
    fails('host 10.0.0.0/8', /use 'net 10.0.0.0\/8'/);
    fails('tcp and (port 80', /'\)' expected/);
    fails('tcp and', /a primitive expected at the end/);
    // nft can say "any of": iptables' --tcp-flags cannot.
    const anyOf = compileFilter('tcp[tcpflags] & (tcp-syn|tcp-fin) != 0');
    assert.deepEqual(nft(anyOf), ['tcp flags & (syn | fin) != 0']);
    assert.throws(() => ipt(anyOf), /any of several flags/);
    fails('port 70000', /not within 0-65535/);
    fails('tcp $ 1', /unexpected character/);
  });

  it('traces every packet with an empty filter (one match-all rule per family)', () => {
    assert.deepEqual(ipt(compileFilter('')), ['v4: ', 'v6: ']);
  });

  it('refuses filters that would expand into too many rules', () => {
    fails(
      '(port 1 or port 2) and (src 10.0.0.1 or src 10.0.0.2 or src 10.0.0.3) and (dst 10.0.1.1 or dst 10.0.1.2)',
      /at most 16|more than/,
    );
  });
});
