/**
 * `nft -j list ruleset` → Ruleset: tables, base chains (hook, priority, policy), rule numbering, and rule text
 * rendered exactly as `nft list ruleset` prints each rule (real nft 1.0.6 listings of the same ruleset).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '@ruletrail/core';
import { findOption, parseNftJson, targetOption, type Rule, type Ruleset } from '../src/index';

const DIR = join(__dirname, 'fixtures', 'nft');

function load(name: string, family?: 'ipv4' | 'ipv6'): Ruleset {
  return parseNftJson(readFileSync(join(DIR, `${name}.json`), 'utf8'), {
    source: `${name}.json`,
    ...(family ? { family } : {}),
  });
}

/**
 * The rule lines of an `nft list ruleset` listing, per `<table> <chain>`, with counter values dropped the way
 * the parser writes them.
 */
function listing(name: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let table = '';
  let chain: string | undefined;
  for (const raw of readFileSync(join(DIR, `${name}.txt`), 'utf8').split('\n')) {
    const line = raw.trim();
    const t = /^table (\S+) (\S+) \{$/.exec(line);
    if (t) {
      table = `${t[1]} ${t[2]}`;
      continue;
    }
    const c = /^chain (\S+) \{$/.exec(line);
    if (c) {
      chain = c[1]!;
      out.set(`${table} ${chain}`, []);
      continue;
    }
    if (line === '}') {
      chain = undefined;
      continue;
    }
    if (chain === undefined || line === '' || line.startsWith('type ') || /^comment "[^"]*"$/.test(line))
      continue;
    out.get(`${table} ${chain}`)!.push(line.replace(/counter packets \d+ bytes \d+/g, 'counter'));
  }
  return out;
}

function rule(rs: Ruleset, table: string, chain: string, num: number): Rule {
  const r = rs.tables.get(table)?.chains.get(chain)?.rules[num - 1];
  assert.ok(r, `no rule ${table} ${chain} ${num}`);
  return r;
}

describe('parseNftJson: rule text is what nft prints', () => {
  for (const [name, families] of [
    ['corpus', ['ip', 'inet']],
    ['kube-proxy', ['ip']],
  ] as const) {
    it(`renders every rule of ${name}.json as its line in ${name}.txt`, () => {
      const rs = load(name, 'ipv4');
      const want = listing(name);
      let n = 0;
      for (const [key, t] of rs.tables) {
        const fam =
          families.find((f) => want.has(`${f} ${t.name} ${[...t.chains.keys()][0]}`)) ?? families[0];
        for (const [cname, c] of t.chains) {
          const lines = want.get(`${fam} ${t.name} ${cname}`);
          assert.ok(lines, `listing has no chain ${fam} ${t.name} ${cname} (table key ${key})`);
          assert.deepEqual(
            c.rules.map((r) => r.text),
            lines,
            `${key} ${cname}`,
          );
          n += lines.length;
        }
      }
      assert.ok(n > 0);
      assert.deepEqual(
        rs.warnings.filter((w) => w.includes('not rendered')),
        [],
      );
    });
  }

  it('renders the ip6 tables when asked for ipv6', () => {
    const rs = load('corpus', 'ipv6');
    assert.deepEqual([...rs.tables.keys()].sort(), ['filter', 'raw6']);
    assert.equal(
      rule(rs, 'raw6', 'prerouting', 1).text,
      'ip6 daddr fd00:172:28:129::4 tcp dport 9 meta nftrace set 1',
    );
    assert.equal(rule(rs, 'raw6', 'prerouting', 1).target, 'TRACE');
  });
});

describe('parseNftJson: the model', () => {
  it('keys tables by name, records the family and the generator, hashes the text', () => {
    const text = readFileSync(join(DIR, 'kube-proxy.json'), 'utf8');
    const rs = parseNftJson(text, { source: 'kp.json', generatedAt: '2026-11-27T10:20:00Z' });
    assert.deepEqual([...rs.tables.keys()], ['trace', 'kube-proxy', 'host']);
    assert.equal(rs.family, 'ipv4');
    assert.equal(rs.familyFrom, 'generator');
    assert.equal(rs.backend, 'nf_tables');
    assert.equal(rs.generator, 'nft v1.0.6 (Lester Gooch #5)');
    assert.equal(rs.generatedAt, '2026-11-27T10:20:00Z');
    assert.equal(rs.hash, createHash('sha256').update(text).digest('hex'));
    assert.ok(rs.warnings.some((w) => w.includes('ip and ip6 tables')));
  });

  it('makes base chains built-in with hook, priority and policy; regular chains not', () => {
    const rs = load('kube-proxy');
    const kp = rs.tables.get('kube-proxy')!;
    const input = kp.chains.get('filter-input')!;
    assert.deepEqual(
      [input.builtin, input.hook, input.priority, input.policy],
      [true, 'INPUT', -110, 'ACCEPT'],
    );
    const nat = kp.chains.get('nat-prerouting')!;
    assert.deepEqual([nat.hook, nat.priority], ['PREROUTING', -100]);
    const svc = kp.chains.get('services')!;
    assert.deepEqual(
      [svc.builtin, svc.hook, svc.priority, svc.policy],
      [false, undefined, undefined, undefined],
    );
    assert.equal(rs.tables.get('host')!.chains.get('prerouting')!.priority, -90);
    const corpus = load('corpus');
    assert.equal(corpus.tables.get('filter')!.chains.get('input')!.policy, 'DROP');
  });

  it("numbers rules 1..n per chain and gives them the engine's targets", () => {
    const rs = load('kube-proxy');
    const ep = 'endpoint-5OJB2KTY-demo/web/tcp/http__172.28.129.4/8080';
    const r = (chain: string, n: number, table = 'kube-proxy'): Rule => rule(rs, table, chain, n);
    assert.deepEqual([r(ep, 1).num, r(ep, 2).num], [1, 2]);
    assert.deepEqual([r(ep, 1).target, r(ep, 1).jumpKind], ['mark-for-masquerade', 'jump']);
    assert.deepEqual(
      [
        r('external-4ZKJHTGX-demo/web/tcp/http', 2).target,
        r('external-4ZKJHTGX-demo/web/tcp/http', 2).jumpKind,
      ],
      ['service-4ZKJHTGX-demo/web/tcp/http', 'goto'],
    );
    assert.equal(r(ep, 2).target, 'DNAT');
    assert.equal(targetOption(r(ep, 2), 'to-destination')?.values[0], '172.28.129.4:8080');
    assert.equal(r('nodeport-endpoints-check', 1).target, 'VMAP');
    assert.equal(targetOption(r('nodeport-endpoints-check', 1), 'vmap')?.values[0], '@no-endpoint-nodeports');
    assert.equal(r('mark-for-masquerade', 1).target, 'MARK');
    assert.equal(targetOption(r('mark-for-masquerade', 1), 'set-xmark')?.values[0], '0x4000/0x4000');
    assert.equal(r('prerouting', 1, 'trace').target, 'TRACE');
    assert.ok(
      rs.tables
        .get('kube-proxy')!
        .chains.get('services')!
        .rules.every((x) => !x.tracedAsTail),
    );
  });

  it('maps verdicts, NAT, marks, counters and comments like iptables-save rules', () => {
    const rs = load('corpus');
    const f = (chain: string, n: number): Rule => rule(rs, 'filter', chain, n);
    assert.equal(f('input', 1).target, 'ACCEPT');
    assert.equal(f('input', 2).target, 'DROP');
    assert.deepEqual(f('input', 4).counters, { packets: 0, bytes: 0 });
    assert.equal(f('input', 4).text, 'iifname "eth0" ip saddr @blocked counter drop');
    assert.deepEqual(f('input', 4).ip.inInterface, { value: 'eth0', negated: false });
    assert.equal(f('input', 20).target, 'REJECT');
    assert.equal(f('input', 23).target, 'custom');
    assert.deepEqual(f('input', 24).comments, ['count the rest']);
    assert.equal(f('input', 24).target, undefined);
    assert.equal(f('custom', 2).target, 'RETURN');
    assert.equal(f('custom', 3).target, 'CONNMARK');
    assert.equal(targetOption(f('custom', 4), 'set-xmark')?.values[0], '0x8000/0xffffffff');
    assert.equal(targetOption(f('custom', 5), 'set-xmark')?.values[0], '0x0/0x8000');
    const mark = findOption(f('input', 16), 'mark', 'mark')!;
    assert.deepEqual([mark.values[0], mark.negated], ['0x10/0xffffffff', false]);
    assert.equal(findOption(f('input', 17), 'mark', 'mark')!.negated, true);
    assert.equal(findOption(f('input', 10), 'multiport', 'dports')?.values[0], '80,443');
    assert.equal(findOption(f('input', 9), 'tcp', 'dport')?.values[0], '22');
    assert.equal(findOption(f('input', 1), 'conntrack', 'ctstate')?.values[0], 'ESTABLISHED,RELATED');
    const kp = rule(rs, 'kube-proxy', 'masquerading', 1);
    assert.equal(findOption(kp, 'mark', 'mark')?.values[0], '0x0/0x4000');
    assert.equal(rule(rs, 'kube-proxy', 'masquerading', 2).target, 'MARK');
    assert.equal(
      targetOption(rule(rs, 'kube-proxy', 'masquerading', 2), 'set-xmark')?.values[0],
      '0x4000/0x0',
    );
    assert.equal(rule(rs, 'kube-proxy', 'masquerading', 3).target, 'MASQUERADE');
    const n = (chain: string, i: number): Rule => rule(rs, 'nat', chain, i);
    assert.deepEqual(
      [n('prerouting', 2).target, targetOption(n('prerouting', 2), 'to-ports')?.values[0]],
      ['REDIRECT', '3128'],
    );
    assert.deepEqual(
      [n('postrouting', 1).target, targetOption(n('postrouting', 1), 'to-source')?.values[0]],
      ['SNAT', '172.28.129.4'],
    );
    assert.equal(targetOption(n('postrouting', 3), 'to-source')?.values[0], '172.28.129.10-172.28.129.20');
  });

  it("keeps a table's verdict maps with their element keys, verdicts and comments (kube-proxy names services there)", () => {
    const kp = load('kube-proxy').tables.get('kube-proxy')!;
    assert.deepEqual(kp.verdictMaps?.get('no-endpoint-nodeports'), [
      { key: ['tcp', '52000'], verdict: 'drop', comment: 'ootob9/ingress-nginx:http' },
    ]);
    assert.deepEqual(kp.verdictMaps?.get('service-nodeports'), [
      { key: ['tcp', '30081'], verdict: 'goto external-4ZKJHTGX-demo/web/tcp/http' },
    ]);
    // Tables without maps carry none; iptables-save tables never have the field.
    assert.equal(load('kube-proxy').tables.get('host')!.verdictMaps, undefined);
  });

  it('keys a second kept table of the same name by family and name', () => {
    const doc = {
      nftables: [
        { table: { family: 'ip', name: 'filter', handle: 1 } },
        {
          chain: {
            family: 'ip',
            table: 'filter',
            name: 'INPUT',
            handle: 1,
            type: 'filter',
            hook: 'input',
            prio: 0,
            policy: 'accept',
          },
        },
        { table: { family: 'inet', name: 'filter', handle: 2 } },
        {
          chain: {
            family: 'inet',
            table: 'filter',
            name: 'input',
            handle: 1,
            type: 'filter',
            hook: 'input',
            prio: 0,
            policy: 'drop',
          },
        },
        { rule: { family: 'inet', table: 'filter', chain: 'input', handle: 2, expr: [{ accept: null }] } },
      ],
    };
    const rs = parseNftJson(JSON.stringify(doc), { source: 'x' });
    assert.deepEqual([...rs.tables.keys()], ['filter', 'inet filter']);
    assert.equal(rs.tables.get('inet filter')!.name, 'filter');
    assert.equal(rule(rs, 'inet filter', 'input', 1).table, 'inet filter');
    assert.ok(rs.warnings.some((w) => w.includes('keyed "inet filter"')));
  });

  it('leaves the family open for an inet-only ruleset, and notes what it cannot render', () => {
    const doc = {
      nftables: [
        { table: { family: 'inet', name: 'fw', handle: 1 } },
        { chain: { family: 'inet', table: 'fw', name: 'c', handle: 1 } },
        {
          rule: {
            family: 'inet',
            table: 'fw',
            chain: 'c',
            handle: 2,
            expr: [{ synproxy: { mss: 1460 } }, { drop: null }],
          },
        },
      ],
    };
    const rs = parseNftJson(JSON.stringify(doc), { source: 'x' });
    assert.equal(rs.family, null);
    assert.equal(rule(rs, 'fw', 'c', 1).text, '<unsupported synproxy> drop');
    assert.ok(rs.warnings.some((w) => w.includes('not rendered') && w.includes('synproxy')));
  });

  it('refuses what is not nft JSON with an InputError naming the source', () => {
    for (const text of ['not json', '{"foo": []}']) {
      assert.throws(
        () => parseNftJson(text, { source: 'bad.json' }),
        (e: unknown) =>
          e instanceof InputError && e.code === 'RT_ERR_RULESET_SYNTAX' && e.message.startsWith('bad.json: '),
      );
    }
  });
});
