/**
 * Backpressure on the syslog receiver, with the real CLI: while the sink is stuck (stdout not read), a TCP
 * sender is slowed down (its socket stops draining: the receiver paused it), and UDP — which cannot be slowed —
 * is dropped beyond a bounded buffer and counted in the metrics. Memory stays bounded either way.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import {
  collectStderr,
  freePort,
  dropPacket,
  exited,
  incidentSnapshots,
  killChildren,
  startRun,
  tempDir,
  waitFor,
  writeConfig,
} from './pipeline-helpers';

const msg = (i: number, j: number) => `<4>${dropPacket(i)[j % 25]!}`;

describe('ruletrail run: syslog receiver under backpressure', function () {
  this.timeout(90000);
  afterEach(killChildren);

  it('pauses TCP senders and drops (and counts) UDP beyond its buffer while the sink is stuck', async () => {
    const dir = tempDir();
    const port = await freePort();
    const metrics = await freePort();
    const cfg = writeConfig(dir, {
      version: 1,
      sources: [
        {
          id: 'net',
          type: 'syslog',
          udp: `127.0.0.1:${port}`,
          tcp: `127.0.0.1:${port}`,
          year: 2023,
          batchMs: 10,
        },
      ],
      snapshots: incidentSnapshots(),
      sinks: [{ id: 'stdout', type: 'file', path: '-', records: ['explanation'] }],
      pipeline: { maxInFlight: 50 },
      metrics: { listen: `127.0.0.1:${metrics}` },
    });
    const child = startRun(cfg);
    const err = collectStderr(child);
    child.stdout!.pause(); // the sink is stuck from the start
    await waitFor(() => /Syslog receiver listening/.test(err.text), 20000, 'the receiver');

    // TCP: write until the kernel buffers are full and the socket stops draining.
    const sock = connect(port, '127.0.0.1');
    await new Promise<void>((r) => sock.once('connect', () => r()));
    let written = 0;
    let blocked = false;
    for (let i = 0; i < 200000 && !blocked; i++) {
      const line = msg(i, i) + '\n';
      written += line.length;
      if (!sock.write(line)) {
        // Give the receiver every chance to drain it; a paused receiver never will.
        blocked = !(await Promise.race([
          new Promise<boolean>((r) => sock.once('drain', () => r(true))),
          new Promise<boolean>((r) => setTimeout(() => r(false), 3000)),
        ]));
      }
    }
    assert.ok(blocked, `the receiver kept reading ${written} bytes although the sink was stuck`);
    assert.ok(written < 64 << 20, `${written} bytes accepted before the sender was slowed`);

    // UDP: the buffer is bounded, the rest is dropped and counted.
    const udp = createSocket('udp4');
    for (let i = 0; i < 40000; i++) {
      await new Promise<void>((r) => udp.send(msg(i, i), port, '127.0.0.1', () => r()));
      if (i % 1000 === 0) await new Promise((r) => setImmediate(r));
    }
    udp.close();
    let text = '';
    await waitFor(
      () => {
        void fetch(`http://127.0.0.1:${metrics}/metrics`)
          .then((r) => r.text())
          .then((t) => (text = t))
          .catch(() => undefined);
        return /ruletrail_component_discarded_events_total\{component_id="net",component_kind="source",reason="backpressure"\} [1-9]/.test(
          text,
        );
      },
      20000,
      'UDP datagrams counted as discarded',
    );
    const rss = Number(/process_resident_memory_bytes (\d+)/.exec(text)?.[1]);
    assert.ok(rss < 400 << 20, `resident memory ${rss} bytes`);
    sock.destroy();
    child.stdout!.resume();
    child.kill('SIGTERM');
    assert.equal(await exited(child), 0, err.text);
  });
});
