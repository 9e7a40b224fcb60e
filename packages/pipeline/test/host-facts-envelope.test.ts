/**
 * Host facts in shipped snapshot envelopes: real `ip -j addr` / `ip -d -j link` output of a lab namespace rides
 * along with the rules (`facts`, its own version 1), envelopes from before facts existed still load, a bad facts
 * document rejects the envelope, and the store answers which facts were in force at a packet's time.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { addressType, type HostFactsDocument } from '@ruletrail/ruleset';
import { SnapshotStore, makeEnvelope, parseEnvelope } from '../src';
import { MemorySink, MemorySource, SAVE_0101, SAVE_0103, minimal, run } from './helpers';

const FACTS = JSON.parse(
  readFileSync(join(__dirname, '..', '..', 'ruleset', 'test', 'fixtures', 'host-facts', 'node.json'), 'utf8'),
) as HostFactsDocument;

const env = (takenAt: string, content: string, facts?: HostFactsDocument) =>
  makeEnvelope({
    host: 'node-1',
    family: 'ipv4',
    format: 'iptables-save',
    takenAt,
    tool: 'iptables-save',
    content,
    ...(facts ? { facts } : {}),
  });

describe('host facts in shipped snapshots', () => {
  it('round-trips facts through the envelope text; an envelope without facts (older shippers) still loads', () => {
    const withFacts = parseEnvelope(JSON.stringify(env('2026-12-04T12:00:00Z', SAVE_0101, FACTS)));
    assert.deepEqual(withFacts.facts, FACTS);
    const old = JSON.parse(JSON.stringify(env('2026-12-04T12:00:00Z', SAVE_0101))) as Record<string, unknown>;
    assert.equal('facts' in old, false);
    assert.equal(parseEnvelope(JSON.stringify(old)).content, SAVE_0101);
  });

  it('rejects an envelope whose facts cannot be read, saying why', () => {
    const bad = { ...env('2026-12-04T12:00:00Z', SAVE_0101), facts: { version: 7, addr: [] } };
    assert.throws(
      () => parseEnvelope(JSON.stringify(bad)),
      /'facts' cannot be read: .*version 7 is not supported/,
    );
    const noAddr = { ...env('2026-12-04T12:00:00Z', SAVE_0101), facts: { version: 1 } };
    assert.throws(() => parseEnvelope(JSON.stringify(noAddr)), /'addr' is missing/);
  });

  it('keeps the facts in force at each time, also when the rules did not change', () => {
    const store = new SnapshotStore();
    const moved = {
      ...FACTS,
      // The node's lo address 10.96.0.50 is gone in the second reading.
      addr: (FACTS.addr as { ifname: string; addr_info: { local: string }[] }[]).map((l) =>
        l.ifname === 'lo' ? { ...l, addr_info: l.addr_info.filter((a) => a.local !== '10.96.0.50') } : l,
      ),
    };
    assert.equal(store.add(env('2026-12-04T12:00:00Z', SAVE_0101, FACTS)), 'added');
    // Same rules an hour later, other facts: the rules are a repeat, the facts are not.
    assert.equal(store.add(env('2026-12-04T13:00:00Z', SAVE_0101, moved)), 'unchanged');
    assert.equal(store.add(env('2026-12-04T14:00:00Z', SAVE_0103)), 'added');
    const h = store.forHost('node-1');
    const at = (t: string) => h.factsAt(Date.parse(t));
    assert.equal(addressType(at('2026-12-04T12:30:00Z')!, '10.96.0.50'), 'LOCAL');
    assert.equal(addressType(at('2026-12-04T13:30:00Z')!, '10.96.0.50'), 'UNICAST');
    // After a snapshot without facts the last facts shipped still hold; before the first, the first.
    assert.equal(addressType(at('2026-12-04T15:00:00Z')!, '10.96.0.50'), 'UNICAST');
    assert.equal(addressType(at('2026-12-04T11:00:00Z')!, '10.96.0.50'), 'LOCAL');
    assert.equal(store.forHost('other').factsAt(Date.now()), undefined);
  });

  it('the pipeline checks addrtype with the facts shipped with the host snapshot (real lab capture)', async () => {
    const LAB = join(__dirname, '..', '..', '..', 'test', 'fixtures', 'lab', 'addrtype', 'kernel-log');
    const save = readFileSync(join(LAB, 'iptables-save.txt'), 'utf8');
    const facts = JSON.parse(readFileSync(join(LAB, 'host-facts.json'), 'utf8')) as HostFactsDocument;
    const lines = readFileSync(join(LAB, 'kern.log'), 'utf8').split('\n').filter(Boolean);
    /** filter INPUT rule 1 (`-m addrtype --src-type LOCAL … -j ACCEPT`), passed by the SYN to 30091: why not. */
    const passedRule1 = async (withFacts: boolean): Promise<unknown> => {
      const store = new SnapshotStore();
      store.add({
        ...makeEnvelope({
          host: 'rtlab-node',
          family: 'ipv4',
          format: 'iptables-save',
          takenAt: '2026-12-04T00:00:00Z',
          tool: 'iptables-save',
          content: save,
          ...(withFacts ? { facts } : {}),
        }),
      });
      const sink = new MemorySink();
      await run(minimal(), [new MemorySource('kern', [lines])], [sink], store);
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const x = sink.bodies('explanation').find((e: any) => e.packet.dport === 30091);
      assert.ok(x, 'the SYN to 30091 was explained');
      assert.equal(x.verdict, 'REJECT');
      const ranges = (
        x.steps as {
          table: string;
          chain: string;
          skipped?: { from: number; to: number; result: string }[];
        }[]
      )
        .filter((st) => st.table === 'filter' && st.chain === 'INPUT')
        .flatMap((st) => st.skipped ?? []);
      return ranges.find((r) => r.from <= 1 && 1 <= r.to)?.result;
    };
    // The client's address is not the node's: decidable only with the node's addresses.
    assert.equal(await passedRule1(false), 'unknown');
    assert.equal(await passedRule1(true), 'no');
  });
});
