/**
 * The run loop's guarantees, in process: a position is released only after every sink acknowledged every
 * record derived from it; rejected records are dead-lettered (and still release); a slow sink bounds what is
 * in flight; bad lines are dead-lettered with their true line numbers.
 */
import assert from 'node:assert/strict';
import { OffsetTracker, Pipeline, PipelineMetrics, SILENT } from '../src';
import { kernelLogAdapter } from '@ruletrail/ingest-kernel-log';
import {
  MemoryDeadLetter,
  MemorySink,
  MemorySource,
  acceptPacket,
  dropPacket,
  minimal,
  run,
  runWith,
} from './helpers';
import { SnapshotStore, makeEnvelope } from '../src';
import { SAVE_0101, SAVE_0103 } from './helpers';

function store(): SnapshotStore {
  const s = new SnapshotStore();
  s.add(
    makeEnvelope({
      host: 'cos74',
      family: 'ipv4',
      format: 'iptables-save',
      takenAt: '2023-01-01T21:20:02Z',
      tool: 'iptables-save',
      content: SAVE_0101,
    }),
  );
  s.add(
    makeEnvelope({
      host: 'cos74',
      family: 'ipv4',
      format: 'iptables-save',
      takenAt: '2023-01-03T13:48:51Z',
      tool: 'iptables-save',
      content: SAVE_0103,
    }),
  );
  return s;
}

describe('acknowledgements and checkpoints', () => {
  it('moves the resume position only over leading segments that are sealed and fully released', () => {
    const moves: number[] = [];
    const t = new OffsetTracker(0, (p) => moves.push(p));
    const a = t.open(10);
    const b = t.open(20);
    const c = t.open(30);
    a.retain(2);
    b.retain(1);
    c.seal(); // nothing retained: done, but behind a and b
    b.seal();
    b.release();
    assert.equal(t.committed, 0);
    a.seal();
    a.release();
    assert.equal(t.committed, 0);
    a.release();
    assert.equal(t.committed, 30);
    assert.deepEqual(moves, [30]);
    assert.equal(t.outstanding, 0);
  });

  it('releases a chunk only when the packets that span it were delivered to every sink', async () => {
    // Packet 1's lines are split across two chunks; packet 2 is whole in the second.
    const lines = dropPacket(1);
    const src = new MemorySource('kern', [lines.slice(0, 12), [...lines.slice(12), ...acceptPacket(2)]]);
    const fast = new MemorySink('fast', ['explanation', 'alert'], 0);
    const slow = new MemorySink('slow', ['explanation'], 30);
    await run(minimal(), [src], [fast, slow], store());
    assert.equal(src.tracker.committed, 2);
    assert.equal(slow.bodies('explanation').length, 2);
  });

  it('does not release a position while a sink holds its records (a crash would replay it)', async () => {
    const src = new MemorySource('kern', [dropPacket(1)]);
    let release: (() => void) | undefined;
    const sink = new MemorySink();
    const held = {
      id: 'held',
      kinds: new Set(['explanation'] as const),
      send: (_r: unknown, done: (s: 'delivered') => void) => {
        release = () => done('delivered');
      },
      flush: () => Promise.resolve(),
      close: () => Promise.resolve(),
    };
    await run(minimal(), [src], [sink, held], store());
    assert.equal(src.tracker.committed, 0, 'released although the held sink did not acknowledge');
    release!();
    assert.equal(src.tracker.committed, 1);
  });

  it('dead-letters records a sink rejects, with the reason, and still moves on', async () => {
    const src = new MemorySource('kern', [dropPacket(1), acceptPacket(2)]);
    const sink = new MemorySink('picky', ['explanation'], 0, (r) =>
      (r.body as { verdict: string }).verdict === 'DROP' ? 'mapping conflict' : undefined,
    );
    const dl = new MemoryDeadLetter();
    const summary = await run(minimal(), [src], [sink], store(), dl);
    assert.equal(summary.rejected, 1);
    assert.equal(dl.errors.length, 1);
    assert.equal(dl.errors[0]!.code, 'RT_ERR_SINK_REJECTED');
    assert.equal(dl.errors[0]!.position.file, 'sink:picky');
    assert.equal(dl.errors[0]!.reason, 'mapping conflict');
    assert.equal(src.tracker.committed, 2);
  });

  it('dead-letters every record a sink gave up at shutdown, or never answered, and keeps its input unacknowledged (issue #15)', async () => {
    const src = new MemorySource('kern', [dropPacket(1), acceptPacket(2)]);
    let calls = 0;
    // First record: the sink gives up at close (`undelivered`); second: the sink never answers at all.
    const stuck = {
      id: 'stuck',
      kinds: new Set(['explanation'] as const),
      dones: [] as ((s: 'undelivered', reason?: string) => void)[],
      send(_r: unknown, done: (s: 'undelivered', reason?: string) => void) {
        calls++;
        this.dones.push(done);
      },
      flush: () => Promise.resolve(),
      close(): Promise<void> {
        this.dones[0]!('undelivered', 'runner closed before delivery (last error: 429)');
        return Promise.resolve();
      },
    };
    const dl = new MemoryDeadLetter();
    const summary = await run(minimal(), [src], [stuck], store(), dl);
    assert.equal(calls, 2);
    assert.equal(summary.undelivered, 2);
    assert.equal(summary.delivered, 0);
    assert.deepEqual(
      dl.errors.map((e) => [e.code, e.position.file]),
      [
        ['RT_ERR_SINK_UNDELIVERED', 'sink:stuck'],
        ['RT_ERR_SINK_UNDELIVERED', 'sink:stuck'],
      ],
    );
    assert.match(dl.errors[0]!.reason, /runner closed before delivery \(last error: 429\)/);
    assert.match(dl.errors[1]!.reason, /no answer from the sink before shutdown/);
    // The dead-letter entry carries the record itself, so nothing is lost even without a replay.
    assert.equal(JSON.parse(dl.errors[1]!.record!).verdict, 'ACCEPT');
    assert.equal(src.tracker.committed, 0, 'an undelivered record released its input');
    // A late answer after shutdown changes no count.
    stuck.dones[1]!('undelivered', 'late');
    assert.equal(summary.undelivered, 2);
    assert.equal(dl.errors.length, 2);
  });

  it('dead-letters a line over the parse cap with its number, counts it by code, and explains its neighbours (issue #15)', async () => {
    const huge = `Jan  1 21:23:16 cos74 kernel: TRACE: raw:PREROUTING:policy:3 ${'A'.repeat(70_000)}`;
    const src = new MemorySource('kern', [[...dropPacket(1), huge, ...acceptPacket(2)]]);
    const sink = new MemorySink();
    const dl = new MemoryDeadLetter();
    const metrics = new PipelineMetrics();
    const p = new Pipeline({
      config: minimal(),
      sources: [src],
      sinks: [sink],
      adapters: [kernelLogAdapter],
      snapshots: store(),
      log: SILENT,
      metrics,
      deadLetter: dl,
    });
    const summary = await p.run(new AbortController().signal);
    assert.equal(summary.packets, 2);
    assert.deepEqual(
      dl.errors.map((e) => [e.code, e.position.line]),
      [['RT_ERR_LINE_TOO_LONG', 26]],
    );
    assert.match(dl.errors[0]!.reason, /70\d{3} characters, over the cap of 65536/);
    assert.ok(dl.errors[0]!.record!.length < 400, 'the dead letter keeps an excerpt, not the whole line');
    assert.match(
      await metrics.registry.metrics(),
      /ruletrail_component_errors_total\{[^}]*error_code="RT_ERR_LINE_TOO_LONG"[^}]*\} 1/,
    );
  });

  it('counts per sink: records handed to it, delivered, rejected (the chaos harness reads these)', async () => {
    const src = new MemorySource('kern', [[...dropPacket(1), ...acceptPacket(2), ...dropPacket(3)]]);
    const ok = new MemorySink('ok', ['explanation']);
    const picky = new MemorySink('picky', ['explanation'], 0, (r) =>
      (r.body as { verdict?: string }).verdict === 'ACCEPT' ? 'no ACCEPT here' : undefined,
    );
    const metrics = new PipelineMetrics();
    const p = new Pipeline({
      config: minimal(),
      sources: [src],
      sinks: [ok, picky],
      adapters: [kernelLogAdapter],
      snapshots: store(),
      log: SILENT,
      metrics,
      deadLetter: new MemoryDeadLetter(),
    });
    await p.run(new AbortController().signal);
    const page = await metrics.registry.metrics();
    const value = (name: string, id: string, extra = ''): string | undefined =>
      new RegExp(`${name}\\{component_id="${id}",component_kind="sink"${extra}\\} (\\d+)`).exec(page)?.[1];
    assert.equal(value('ruletrail_component_received_events_total', 'ok'), '3');
    assert.equal(value('ruletrail_component_sent_events_total', 'ok'), '3');
    assert.equal(value('ruletrail_component_received_events_total', 'picky'), '3');
    assert.equal(value('ruletrail_component_sent_events_total', 'picky'), '2');
    assert.equal(
      value('ruletrail_component_errors_total', 'picky', ',error_code="RT_ERR_SINK_REJECTED"'),
      '1',
    );
  });

  it('dead-letters unreadable lines with their line number in the whole input', async () => {
    const bad = dropPacket(9)[2]!.replace(
      'TRACE: mangle:cali-PREROUTING:rule:3',
      'TRACE: mangle:cali-PREROUTING',
    );
    const src = new MemorySource('kern', [dropPacket(1), [bad]]);
    const dl = new MemoryDeadLetter();
    const summary = await run(minimal(), [src], [new MemorySink()], store(), dl);
    assert.equal(summary.errors, 1);
    assert.equal(dl.errors[0]!.position.line, 26);
    assert.equal(dl.errors[0]!.position.file, 'kern');
  });

  it('bounds records in flight by maxInFlight when a sink is slow (backpressure reaches the source)', async () => {
    const chunks = Array.from({ length: 60 }, (_, i) => dropPacket(i));
    const sink = new MemorySink('slow', ['explanation'], 5);
    await run(minimal('pipeline: { maxInFlight: 8 }\n'), [new MemorySource('kern', chunks)], [sink], store());
    assert.equal(sink.bodies('explanation').length, 60);
    // A unit is decoded whole once admitted, so the bound is maxInFlight plus one unit's packets.
    assert.ok(sink.maxPending <= 9, `max pending ${sink.maxPending}`);
  });

  it('tolerates interleaved and out-of-order lines within the window, per host', async () => {
    // High-precision stamps (rsyslog's default file format), one microsecond apart per packet line, as the
    // kernel writes them; packet k's lines start k µs later.
    const stamp = (lines: string[], k: number) =>
      lines.map(
        (l, i) =>
          `2023-01-01T21:23:16.${String(100 + i * 10 + k).padStart(6, '0')}+00:00${l.slice(l.indexOf(' cos74 ') === -1 ? l.indexOf(' other-host ') : l.indexOf(' cos74 '))}`,
      );
    const a = stamp(dropPacket(1), 0);
    const b = stamp(dropPacket(2), 1);
    const c = stamp(dropPacket(3, 'other-host'), 2);
    // Lines of three packets (two hosts) interleaved, two of one packet swapped (a relay delivered them out of
    // order), and split across units at odd places.
    const mixed: string[] = [];
    for (let i = 0; i < a.length; i++) mixed.push(a[i]!, b[i]!, c[i]!);
    [mixed[4], mixed[7]] = [mixed[7]!, mixed[4]!];
    const src = new MemorySource('kern', [mixed.slice(0, 10), mixed.slice(10, 41), mixed.slice(41)]);
    const s2 = store();
    s2.add(
      makeEnvelope({
        host: 'other-host',
        family: 'ipv4',
        format: 'iptables-save',
        takenAt: '2023-01-01T00:00:00Z',
        tool: 'iptables-save',
        content: SAVE_0101,
      }),
    );
    const sink = new MemorySink('m', ['explanation']);
    await run(minimal(), [src], [sink], s2);
    const x = sink.bodies('explanation');
    assert.equal(x.length, 3);
    for (const e of x) {
      assert.equal(e.verdict, 'DROP', e.cause);
      assert.equal(e.steps.length, 25);
      assert.deepEqual(
        e.flags.filter((f: string) => f === 'trace_gap'),
        [],
      );
    }
    assert.deepEqual(x.map((e) => e.packet.host).sort(), ['cos74', 'cos74', 'other-host']);
    assert.equal(src.tracker.committed, 3);
    // With reordering off, the swapped lines split their packet: the window is what makes it whole.
    const off = new MemorySink('m', ['explanation']);
    await run(minimal('correlation: { reorderMs: 0 }\n'), [new MemorySource('kern', [mixed])], [off], s2);
    assert.equal(off.bodies('explanation').length, 4);
  });

  it('completes the open packets of a host that went quiet (idleFlushMs), without waiting for the input to end', async () => {
    const partial = dropPacket(1).slice(0, 10); // no terminal step: stays open
    let deliveredAt = 0;
    let endedAt = 0;
    const sink = new MemorySink('m', ['explanation']);
    const send = sink.send.bind(sink);
    sink.send = (r, d) => {
      deliveredAt = Date.now();
      send(r, d);
    };
    const src = new MemorySource('kern', [partial]);
    const runOnce = src.run.bind(src);
    src.run = async (ctx) => {
      await runOnce(ctx);
      await new Promise((r) => setTimeout(r, 600));
      endedAt = Date.now();
    };
    await run(minimal('correlation: { idleFlushMs: 100 }\n'), [src], [sink], store());
    const [x] = sink.bodies('explanation');
    assert.equal(x.verdict, 'UNKNOWN');
    assert.ok(x.flags.includes('silent_drop'));
    assert.ok(deliveredAt > 0 && deliveredAt < endedAt - 200, 'the open packet waited for the end of input');
  });

  it('caps open packets in total across hosts, completing the least recently active host first', async () => {
    // 30 hosts, each with one half packet (no terminal step): 30 open packets against a cap of 10.
    const chunks = Array.from({ length: 30 }, (_, i) => dropPacket(i, `h${i}`).slice(0, 8));
    const sink = new MemorySink('m', ['explanation']);
    const src = new MemorySource('kern', chunks);
    let pipeline: { openPackets: number } | undefined;
    let maxOpen = 0;
    const runOnce = src.run.bind(src);
    src.run = (ctx) =>
      runOnce({
        ...ctx,
        emit: async (u) => {
          await ctx.emit(u);
          maxOpen = Math.max(maxOpen, pipeline!.openPackets);
        },
      });
    const summary = await runWith(
      minimal('correlation: { maxOpenPackets: 10 }\n'),
      [src],
      [sink],
      store(),
      (p) => (pipeline = p),
    );
    assert.equal(summary.packets, 30);
    assert.ok(maxOpen <= 10, `open packets reached ${maxOpen}`);
    assert.ok(maxOpen >= 9, `the cap completed more than it had to (${maxOpen})`);
  });
});
