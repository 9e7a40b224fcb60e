/**
 * The per-host snapshot history: shipped envelopes in a directory, the as-of join per host, drift flags, and a
 * ruleset change between two shipped snapshots explained correctly on both sides of it.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  SILENT,
  SnapshotDirectoryFeed,
  SnapshotStore,
  makeEnvelope,
  parseEnvelope,
  snapshotHash,
} from '../src';
import {
  MemoryDeadLetter,
  MemorySink,
  MemorySource,
  SAVE_0101,
  SAVE_0103,
  acceptPacket,
  dropPacket,
  minimal,
  run,
} from './helpers';

function ship(dir: string, host: string, takenAt: string, content: string, name = `${takenAt}.json`): void {
  mkdirSync(join(dir, host), { recursive: true });
  const env = makeEnvelope({
    host,
    family: 'ipv4',
    format: 'iptables-save',
    takenAt,
    tool: 'iptables-save',
    content,
  });
  writeFileSync(join(dir, host, name), JSON.stringify(env));
}

describe('per-host snapshot history', () => {
  it('explains a ruleset change between two shipped snapshots correctly on both sides of it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rt-snap-'));
    ship(dir, 'cos74', '2023-01-01T21:20:02Z', SAVE_0101);
    ship(dir, 'cos74', '2023-01-03T13:48:51Z', SAVE_0103);
    const store = new SnapshotStore();
    const dl = new MemoryDeadLetter();
    const feed = new SnapshotDirectoryFeed(dir, store, SILENT, dl, 1000);
    await feed.start();
    await feed.stop();
    const sink = new MemorySink();
    await run(minimal(), [new MemorySource('kern', [dropPacket(1), acceptPacket(2)])], [sink], store);
    const [before, after] = sink.bodies('explanation');
    // Before the change: the Jan 1 rules drop port 52000 through KUBE-MARK-DROP.
    assert.equal(before.verdict, 'DROP');
    assert.equal(before.snapshot.hash, snapshotHash(SAVE_0101));
    assert.equal(before.snapshot.generatedAt, '2023-01-01T21:20:02.000Z');
    // After it: the Jan 3 rules (KUBE-NODEPORTS shorter, a DNAT added) accept port 80.
    assert.equal(after.verdict, 'ACCEPT');
    assert.equal(after.snapshot.hash, snapshotHash(SAVE_0103));
    for (const x of [before, after]) assert.ok(!x.flags.includes('snapshot_mismatch'), x.cause);
    assert.equal(dl.errors.length, 0);
  });

  it('flags drift: no snapshot yet, an event older than every snapshot, a step impossible in the snapshot', async () => {
    const store = new SnapshotStore();
    store.add(
      makeEnvelope({
        host: 'cos74',
        family: 'ipv4',
        format: 'iptables-save',
        takenAt: '2023-01-03T13:48:51Z',
        tool: 'iptables-save',
        content: SAVE_0103,
      }),
    );
    const sink = new MemorySink();
    await run(
      minimal(),
      [new MemorySource('kern', [dropPacket(1), dropPacket(2, 'node-without-snapshots')])],
      [sink],
      store,
    );
    const [old, unknownHost] = sink.bodies('explanation');
    assert.equal(old.packet.host, 'cos74');
    assert.deepEqual(
      [old.verdict, old.flags.includes('event_before_snapshots'), old.flags.includes('snapshot_mismatch')],
      ['UNKNOWN', true, true],
    );
    assert.equal(unknownHost.packet.host, 'node-without-snapshots');
    assert.equal(unknownHost.verdict, 'UNKNOWN');
    assert.ok(unknownHost.flags.includes('no_snapshot'));
  });

  it('joins each host with its own history only', async () => {
    const store = new SnapshotStore();
    const env = (host: string, at: string, c: string) =>
      makeEnvelope({
        host,
        family: 'ipv4',
        format: 'iptables-save',
        takenAt: at,
        tool: 'iptables-save',
        content: c,
      });
    store.add(env('a', '2023-01-01T00:00:00Z', SAVE_0101));
    store.add(env('b', '2023-01-01T00:00:00Z', SAVE_0103));
    const sink = new MemorySink();
    await run(minimal(), [new MemorySource('kern', [dropPacket(1, 'a'), dropPacket(2, 'b')])], [sink], store);
    const [a, b] = sink.bodies('explanation');
    assert.equal(a.verdict, 'DROP');
    assert.equal(a.snapshot.hash, snapshotHash(SAVE_0101));
    assert.equal(b.snapshot.hash, snapshotHash(SAVE_0103));
    assert.ok(b.flags.includes('snapshot_mismatch'));
  });

  it('keeps a bounded history and skips unchanged re-shipments', () => {
    const store = new SnapshotStore(2);
    const env = (at: string, c: string) =>
      makeEnvelope({
        host: 'h',
        family: 'ipv4',
        format: 'iptables-save',
        takenAt: at,
        tool: 'iptables-save',
        content: c,
      });
    assert.equal(store.add(env('2023-01-01T00:00:00Z', SAVE_0101)), 'added');
    assert.equal(store.add(env('2023-01-01T00:00:00Z', SAVE_0101)), 'duplicate');
    assert.equal(store.add(env('2023-01-01T01:00:00Z', SAVE_0101)), 'unchanged');
    assert.equal(store.add(env('2023-01-02T00:00:00Z', SAVE_0103)), 'added');
    assert.equal(store.add(env('2023-01-03T00:00:00Z', SAVE_0101)), 'added');
    const h = store.forHost('h');
    assert.equal(h.size, 2);
    // The oldest (Jan 1) was dropped: a packet of Jan 1 now gets the oldest kept and the flag.
    assert.deepEqual(h.pick('ipv4', Date.parse('2023-01-01T12:00:00Z')).flags, ['event_before_snapshots']);
    assert.equal(h.pick('ipv4', Date.parse('2023-01-02T12:00:00Z')).ruleset!.hash, snapshotHash(SAVE_0103));
    assert.equal(h.pick('ipv4', Date.parse('2023-01-04T00:00:00Z')).ruleset!.hash, snapshotHash(SAVE_0101));
    assert.equal(
      store.add(
        makeEnvelope({
          host: 'h',
          format: 'nft-json',
          takenAt: '2023-01-05T00:00:00Z',
          tool: 'nft -j list ruleset',
          content: '{}',
        }),
      ),
      'unsupported',
    );
  });

  it('dead-letters an envelope whose hash does not match, and keeps the others', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rt-snap-'));
    ship(dir, 'cos74', '2023-01-01T21:20:02Z', SAVE_0101);
    const bad = {
      ...makeEnvelope({
        host: 'cos74',
        family: 'ipv4',
        format: 'iptables-save',
        takenAt: '2023-01-02T00:00:00Z',
        tool: 'iptables-save',
        content: SAVE_0103,
      }),
      hash: '00',
    };
    writeFileSync(join(dir, 'cos74', 'bad.json'), JSON.stringify(bad));
    const store = new SnapshotStore();
    const dl = new MemoryDeadLetter();
    const feed = new SnapshotDirectoryFeed(dir, store, SILENT, dl, 1000);
    await feed.start();
    await feed.stop();
    assert.equal(store.forHost('cos74').size, 1);
    assert.equal(dl.errors.length, 1);
    assert.equal(dl.errors[0]!.code, 'RT_ERR_SNAPSHOT_INVALID');
    assert.match(dl.errors[0]!.reason, /hash does not match/);
    assert.throws(() => parseEnvelope('{"schema":"other"}'), /schema is not/);
  });

  it('picks up snapshots shipped while running', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rt-snap-'));
    const store = new SnapshotStore();
    const feed = new SnapshotDirectoryFeed(dir, store, SILENT, new MemoryDeadLetter(), 50);
    await feed.start();
    assert.equal(store.hostCount, 0);
    ship(dir, 'cos74', '2023-01-01T21:20:02Z', SAVE_0101);
    const end = Date.now() + 3000;
    while (store.hostCount === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    await feed.stop();
    assert.equal(store.hostCount, 1);
  });

  it("parses a host's snapshots only when the host has a packet, and reports one that cannot be parsed then", async () => {
    const invalid: string[] = [];
    const store = new SnapshotStore(16, (host, err) => invalid.push(`${host}: ${err.message}`));
    const env = (host: string, content: string) =>
      makeEnvelope({
        host,
        family: 'ipv4',
        format: 'iptables-save',
        takenAt: '2023-01-01T00:00:00Z',
        tool: 'iptables-save',
        content,
      });
    assert.equal(store.add(env('cos74', SAVE_0101)), 'added');
    assert.equal(store.add(env('idle', SAVE_0101)), 'added');
    assert.equal(store.add(env('broken', '*filter\n-A NOWHERE -j ACCEPT\nCOMMIT\n')), 'added');
    assert.deepEqual([store.forHost('cos74').parsed, store.forHost('idle').parsed], [0, 0]);
    const sink = new MemorySink();
    await run(minimal(), [new MemorySource('kern', [dropPacket(1), dropPacket(2, 'broken')])], [sink], store);
    const [ok, broken] = sink.bodies('explanation');
    assert.equal(ok.verdict, 'DROP');
    assert.equal(store.forHost('cos74').parsed, 1);
    assert.equal(store.forHost('idle').parsed, 0, 'a host with no traffic here was parsed');
    assert.ok(broken.flags.includes('no_snapshot'));
    assert.equal(invalid.length, 1);
    assert.match(invalid[0]!, /^broken: /);
  });
});
