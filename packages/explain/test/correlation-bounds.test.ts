/**
 * Open-packet state under bursts: a packet completes as soon as no base chain is left for it in the snapshot
 * (conntrack-aware: later packets of a connection skip nat), and the open set is bounded by count and bytes,
 * with what the bounds evict flagged `evicted` and still explained.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import {
  Correlator,
  EVENT_COST_BYTES,
  SnapshotSet,
  explainPacket,
  invariantHash,
  invariantKey,
  sameInvariant,
  type CompletedPacket,
} from '../src';
import type { NetfilterEvent } from '@ruletrail/event';
import { decode, packet, ruleset } from './helpers';

const LAB_RULES = join(__dirname, '../../../test/fixtures/lab/incident/kernel-log/iptables-save.txt');

// An established connection's packets in the lab snapshot (no nat chain on their way, see docs/correlation.md).
const IN_EST = [
  'raw:PREROUTING:policy:4',
  'mangle:PREROUTING:rule:1',
  'mangle:cali-PREROUTING:rule:1',
  { step: 'mangle:INPUT:policy:1', dpt: 52000 },
  { step: 'filter:INPUT:rule:1', dpt: 52000 },
  { step: 'filter:KUBE-FIREWALL:return:3', dpt: 52000 },
  { step: 'filter:INPUT:policy:2', dpt: 52000 },
];
const OUT_EST = [
  'mangle:OUTPUT:policy:1',
  'filter:OUTPUT:rule:1',
  'filter:KUBE-FIREWALL:return:3',
  'filter:OUTPUT:policy:2',
  'mangle:POSTROUTING:policy:1',
];
const client = { in: 'eth0', src: '172.28.129.2', dst: '172.28.129.4', spt: 40000, dpt: 80 };
const node = { out: 'eth0', src: '172.28.129.4', dst: '172.28.129.2', spt: 52000, dpt: 40000 };

/** Feeds lines one by one; records, for each completed packet, how many lines had been pushed when it came out. */
async function run(lines: string[], options: ConstructorParameters<typeof Correlator>[2] = {}) {
  const done: { at: number; p: CompletedPacket }[] = [];
  let pushed = 0;
  const c = new Correlator(
    new SnapshotSet([ruleset(LAB_RULES)]),
    (p) => done.push({ at: pushed, p }),
    options,
  );
  for (const e of await decode(lines.join('\n'))) {
    pushed++;
    c.push(e);
  }
  const open = c.openPackets;
  c.flush();
  return { done, open };
}

describe('correlation: the invariant key', () => {
  it('the numeric hash and the field comparison agree with the string key on every lab kernel-log capture', async () => {
    const lab = join(__dirname, '../../../test/fixtures/lab');
    const events: NetfilterEvent[] = [];
    // Scenarios without a kernel-log channel (native nftables) have no kern.log.
    for (const scenario of readdirSync(lab)) {
      const file = join(lab, scenario, 'kernel-log/kern.log');
      if (existsSync(file)) events.push(...(await decode(readFileSync(file, 'utf8'))));
    }
    assert.ok(events.length > 100);
    let equalPairs = 0;
    for (const a of events)
      for (const b of events) {
        const same = invariantKey(a) === invariantKey(b);
        assert.equal(sameInvariant(a, b), same, `${invariantKey(a)} vs ${invariantKey(b)}`);
        if (same) {
          equalPairs++;
          assert.equal(invariantHash(a), invariantHash(b));
        }
      }
    assert.ok(equalPairs > events.length, 'some lines share a key (one packet, several steps)');
    const keys = new Set(events.map(invariantKey));
    const hashes = new Set(events.map(invariantHash));
    assert.equal(hashes.size, keys.size, 'no collisions among these keys');
  });
});

describe('correlation: completion and bounds', () => {
  it("completes an established connection's packets at their last base chain, not when the window passes", async () => {
    const lines = [
      ...packet({ ...client, id: 11, seq: 1001, flags: 'ACK' }, IN_EST),
      ...packet({ ...node, id: 12, seq: 2002, flags: 'ACK PSH' }, OUT_EST),
    ];
    const { done, open } = await run(lines);
    assert.equal(open, 0, 'nothing left open before the end of input');
    assert.deepEqual(
      done.map((d) => [d.at, d.p.events.length, d.p.flags]),
      [
        [IN_EST.length, IN_EST.length, []],
        [lines.length, OUT_EST.length, []],
      ],
    );
  });

  it("keeps a connection's first packet open until the nat INPUT chain it still traverses", async () => {
    const syn = packet({ ...client, id: 21, seq: 3003 }, [
      'raw:PREROUTING:policy:4',
      'nat:PREROUTING:rule:3',
      { step: 'mangle:INPUT:policy:1', dpt: 52000 },
      { step: 'filter:INPUT:rule:1', dpt: 52000 },
      { step: 'filter:KUBE-FIREWALL:return:3', dpt: 52000 },
      { step: 'filter:INPUT:policy:2', dpt: 52000 },
      { step: 'nat:INPUT:policy:1', dpt: 52000 },
    ]);
    const cut = await run(syn.slice(0, -1));
    assert.equal(cut.open, 1, 'still open after filter INPUT accepted it: nat INPUT may follow');
    assert.equal(cut.done[0]!.p.events.length, syn.length - 1);
    const whole = await run(syn);
    assert.deepEqual(
      whole.done.map((d) => [d.at, d.p.events.length]),
      [[syn.length, syn.length]],
    );
    assert.equal(whole.open, 0);
  });

  it('bounds open packets by bytes: the least recently active is evicted, flagged, and still explained', async () => {
    // Three SYNs whose traces stop after the mangle table: each could still go on, so each stays open.
    const lines = [1, 2, 3].flatMap((i) =>
      packet({ ...client, spt: 41000 + i, id: 30 + i, seq: 4000 + i }, [
        'raw:PREROUTING:policy:4',
        'mangle:PREROUTING:rule:1',
      ]),
    );
    const { done, open } = await run(lines, { maxOpenBytes: 5 * EVENT_COST_BYTES });
    assert.equal(open, 2, 'the bound keeps two packets (4 events) open');
    const evicted = done.filter((d) => d.p.flags.includes('evicted'));
    assert.equal(evicted.length, 1);
    assert.equal(evicted[0]!.at, 6, 'evicted when the third packet pushed the estimate over the bound');
    const x = explainPacket(evicted[0]!.p.events, evicted[0]!.p.pick, evicted[0]!.p.flags);
    assert.equal(x.packet.sport, 41001);
    assert.equal(x.steps.length, 2);
    assert.ok(x.flags.includes('evicted'));
    assert.equal(done.length, 3, 'every packet is still explained');
  });

  it('bounds open packets by count, flagging the evicted one', async () => {
    const lines = [1, 2, 3].flatMap((i) =>
      packet({ ...client, spt: 42000 + i, id: 40 + i, seq: 5000 + i }, ['raw:PREROUTING:policy:4']),
    );
    const { done } = await run(lines, { maxOpenPackets: 2 });
    assert.deepEqual(
      done.map((d) => [d.p.events[0]!.source?.port, d.p.flags.includes('evicted')]),
      [
        [42001, true],
        [42002, false],
        [42003, false],
      ],
    );
  });
});
