/**
 * Host facts from real `ip -j addr` / `ip -d -j link` output of a lab namespace, checked against the kernel's own
 * local routing table captured at the same moment (the table `inet_addr_type()` consults for addrtype).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '@ruletrail/core';
import {
  addressType,
  addressTypes,
  hostFactsFromJson,
  interfaceByIndex,
  parseHostFacts,
  parseIp,
  type HostFacts,
} from '../src/index';

const DIR = join(__dirname, 'fixtures', 'host-facts');
const text = readFileSync(join(DIR, 'node.json'), 'utf8');

describe('host facts', () => {
  let facts: HostFacts;
  before(() => {
    facts = parseHostFacts(text, 'node.json');
  });

  it('reads every address with its interface, family, prefix, broadcast and flags', () => {
    assert.equal(facts.version, 1);
    assert.equal(facts.host, 'rtlab16-facts');
    assert.deepEqual(
      facts.addresses.map((a) => `${a.ifname}#${a.ifindex} ${a.address}/${a.prefixlen}`),
      [
        'lo#1 127.0.0.1/8',
        'lo#1 10.96.0.50/32',
        'lo#1 ::1/128',
        'eth0#2 172.28.129.4/24',
        'eth0#2 172.28.129.40/24',
        'eth0#2 fd00:172:28:129::4/64',
        'eth0#2 fe80::72:74ff:fe00:1604/64',
        'pod0#3 10.244.1.1/24',
        'pod0#3 fe80::72:74ff:fe00:1611/64',
      ],
    );
    const pod = facts.addresses.find((a) => a.address === '10.244.1.1');
    assert.deepEqual(pod, {
      ifname: 'pod0',
      ifindex: 3,
      family: 'ipv4',
      address: '10.244.1.1',
      prefixlen: 24,
      scope: 'global',
      broadcast: '10.244.1.255',
    });
    assert.equal(facts.addresses.find((a) => a.address === '172.28.129.40')?.secondary, true);
    assert.equal(
      facts.addresses.find((a) => a.address.startsWith('fe80::72:74ff:fe00:1604'))?.tentative,
      true,
    );
  });

  it('reads interfaces: index → name (what NFLOG indev/outdev need), MAC, kind from ip -d, state', () => {
    assert.deepEqual(facts.interfaces, [
      { ifindex: 1, ifname: 'lo', mac: '00:00:00:00:00:00', kind: 'loopback', up: true, loopback: true },
      { ifindex: 2, ifname: 'eth0', mac: '02:72:74:00:16:04', kind: 'veth', up: true },
      { ifindex: 3, ifname: 'pod0', mac: '02:72:74:00:16:11', kind: 'veth', up: true },
    ]);
    assert.equal(interfaceByIndex(facts, 3)?.ifname, 'pod0');
    assert.equal(interfaceByIndex(facts, 9), undefined);
  });

  it('agrees with the kernel local table for every address it lists (IPv4)', () => {
    const table = JSON.parse(readFileSync(join(DIR, 'local-table-v4.json'), 'utf8')) as {
      type: string;
      dst: string;
    }[];
    assert.ok(table.length >= 8);
    for (const r of table) {
      const [addr, len] = r.dst.split('/');
      const want = r.type.toUpperCase();
      assert.equal(addressType(facts, addr!), want, `${r.dst} is ${r.type} in the kernel's local table`);
      if (len !== undefined) {
        // A local prefix route (127.0.0.0/8 on lo): every address inside is local, except the broadcast.
        assert.equal(addressType(facts, '127.3.4.5'), 'LOCAL');
      }
    }
  });

  it('agrees with the kernel local table for IPv6; a tentative address is not local yet', () => {
    const table = JSON.parse(readFileSync(join(DIR, 'local-table-v6.json'), 'utf8')) as {
      type: string;
      dst: string;
    }[];
    for (const r of table.filter((x) => x.type === 'local'))
      assert.deepEqual(addressTypes(facts, r.dst), ['LOCAL', 'UNICAST'], r.dst);
    // DAD was still running: the kernel had no local route for it.
    assert.ok(!table.some((r) => r.dst.startsWith('fe80')));
    assert.deepEqual(addressTypes(facts, 'fe80::72:74ff:fe00:1604'), ['UNICAST']);
    assert.equal(addressType(facts, 'fd00:172:28:129::2'), 'UNICAST');
    assert.equal(addressType(facts, 'FD00:172:28:129:0:0:0:4'), 'LOCAL');
    assert.deepEqual(addressTypes(facts, '::'), ['UNSPEC']);
    assert.deepEqual(addressTypes(facts, 'ff02::1'), ['MULTICAST']);
  });

  it('follows inet_addr_type for addresses the table does not list', () => {
    const cases: [string, string][] = [
      ['172.28.129.2', 'UNICAST'], // the client: on-link, not ours
      ['172.28.129.0', 'UNICAST'], // no broadcast route for the network address on current kernels
      ['10.244.1.2', 'UNICAST'],
      ['10.96.0.51', 'UNICAST'], // 10.96.0.50/32 on lo adds no prefix route
      ['127.255.255.255', 'BROADCAST'],
      ['0.0.0.0', 'BROADCAST'],
      ['0.1.2.3', 'BROADCAST'], // ipv4_is_zeronet: all of 0/8
      ['255.255.255.255', 'BROADCAST'],
      ['224.0.0.1', 'MULTICAST'],
      ['239.255.255.250', 'MULTICAST'],
      ['8.8.8.8', 'UNICAST'],
    ];
    for (const [ip, want] of cases) assert.equal(addressType(facts, ip), want, ip);
  });

  it('an interface that is down keeps its local address but loses the subnet broadcast', () => {
    const down = {
      ...facts,
      interfaces: facts.interfaces.map((i) => (i.ifname === 'eth0' ? { ...i, up: false } : i)),
    };
    assert.equal(addressType(down, '172.28.129.4'), 'LOCAL');
    assert.equal(addressType(down, '172.28.129.255'), 'UNICAST');
  });

  it('accepts ip -j addr alone (no link), and a document embedded as JSON', () => {
    const doc = JSON.parse(text) as Record<string, unknown>;
    delete doc['link'];
    const f = hostFactsFromJson(doc, 'envelope');
    assert.equal(f.interfaces.length, 3);
    assert.equal(f.interfaces[1]?.kind, 'ether', 'without ip -d the link type stands in for the kind');
    assert.equal(addressType(f, '10.96.0.50'), 'LOCAL');
  });

  it('refuses bad documents with the file and the reason', () => {
    const bad: [string, RegExp][] = [
      ['{', /^x\.json: host facts are not JSON/],
      ['[]', /not a JSON object/],
      ['{"version":2,"addr":[]}', /version 2 is not supported/],
      ['{"version":1}', /'addr' is missing/],
      ['{"version":1,"addr":[],"link":{}}', /'link' is not an array/],
      ['{"version":1,"addr":[{"ifname":"x"}]}', /addr\[0\]: 'ifindex' undefined/],
      [
        '{"version":1,"addr":[{"ifindex":2,"ifname":"eth0","addr_info":[{"family":"inet","local":"10.0.0.300","prefixlen":24}]}]}',
        /addr\[0\] \(eth0\) addr_info\[0\]: 'local' "10\.0\.0\.300" is not an ipv4 address/,
      ],
      [
        '{"version":1,"addr":[{"ifindex":2,"ifname":"eth0","addr_info":[{"family":"inet6","local":"fd00::1","prefixlen":129}]}]}',
        /'prefixlen' 129 is not 0\.\.128/,
      ],
      ['{"version":1,"capturedAt":"yesterday","addr":[]}', /'capturedAt' "yesterday" is not a date/],
    ];
    for (const [t, re] of bad)
      assert.throws(
        () => parseHostFacts(t, 'x.json'),
        (e: unknown) => e instanceof InputError && e.position.file === 'x.json' && re.test(e.message),
        t,
      );
    assert.throws(() => addressType(facts, 'not-an-ip'), /not an IP address/);
  });

  it('parses IP text the way inet_pton does', () => {
    assert.equal(parseIp('::ffff:10.0.0.1')?.value, (0xffffn << 32n) | 0x0a000001n);
    assert.equal(parseIp('1::2::3'), undefined);
    assert.equal(parseIp('1:2:3:4:5:6:7:8:9'), undefined);
    assert.equal(parseIp('1:2:3:4::5:6:7:8'), undefined);
    assert.equal(parseIp('256.1.1.1'), undefined);
    assert.equal(parseIp('::')?.value, 0n);
  });
});
