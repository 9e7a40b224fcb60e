/**
 * A full run as the issue describes it, with no external service: one `ruletrail run` tails a capture file and
 * receives syslog over loopback (UDP; TCP with octet counting and with LF framing; RFC 3164 and RFC 5424, as
 * rsyslog's omfwd sends them), joins each host with its own snapshots, writes NDJSON, and serves Prometheus
 * metrics that count what each component received and sent.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  INCIDENT,
  acceptPacket,
  collectStderr,
  dropPacket,
  exited,
  freePort,
  killChildren,
  readNdjson,
  seqOf,
  startRun,
  tempDir,
  waitFor,
  writeConfig,
} from './pipeline-helpers';

/** A free TCP port and a free UDP port on 127.0.0.1. */
async function freePorts(): Promise<{ tcp: number; udp: number }> {
  const tcp = await freePort();
  const u = createSocket('udp4');
  await new Promise<void>((r) => u.bind(0, '127.0.0.1', r));
  const udp = u.address().port;
  await new Promise<void>((r) => u.close(() => r()));
  return { tcp, udp };
}

/** The kernel message of a kern.log line (after `kernel: `). */
function msg(line: string): string {
  return line.slice(line.indexOf('kernel: ') + 'kernel: '.length);
}
const rfc3164 = (host: string, line: string) => `<4>Jan  1 21:23:16 ${host} kernel: ${msg(line)}`;
const rfc5424 = (host: string, line: string, time: string) =>
  `<4>1 ${time} ${host} kernel - - - ${msg(line)}`;

describe('ruletrail run: file tail + syslog receiver + metrics, one pipeline', function () {
  this.timeout(60000);
  afterEach(killChildren);

  it('explains packets from a tailed file and from syslog over UDP and TCP, each host with its own snapshots', async () => {
    const dir = tempDir();
    const log = join(dir, 'kern.log');
    const out = join(dir, 'out.ndjson');
    writeFileSync(log, [...dropPacket(0), ...acceptPacket(1)].join('\n') + '\n');
    const ports = await freePorts();
    const metricsPort = (await freePorts()).tcp;
    const snaps = (host: string) => [
      { path: join(INCIDENT, 'iptables-save-0101.txt'), host },
      { path: join(INCIDENT, 'iptables-save-0103.txt'), host },
    ];
    const cfg = writeConfig(dir, {
      version: 1,
      sources: [
        { id: 'kern', type: 'file', paths: [log], year: 2023, pollIntervalMs: 50 },
        {
          id: 'rsyslog',
          type: 'syslog',
          udp: `127.0.0.1:${ports.udp}`,
          tcp: `127.0.0.1:${ports.tcp}`,
          year: 2023,
          batchMs: 20,
        },
      ],
      snapshots: {
        files: [...snaps('cos74'), ...snaps('node-udp'), ...snaps('node-octet'), ...snaps('node-lf')],
      },
      sinks: [{ id: 'out', type: 'file', path: out, records: ['explanation'] }],
      metrics: { listen: `127.0.0.1:${metricsPort}` },
    });
    const child = startRun(cfg, [], 'ignore');
    const err = collectStderr(child);
    await waitFor(() => /Syslog receiver listening/.test(err.text), 10000, 'the receiver');

    // UDP, RFC 3164 (omfwd's RSYSLOG_ForwardFormat without high precision): one datagram per message.
    const udp = createSocket('udp4');
    for (const l of dropPacket(2, { host: 'node-udp' }))
      await new Promise<void>((r) => udp.send(rfc3164('node-udp', l), ports.udp, '127.0.0.1', () => r()));
    udp.close();
    // TCP with octet counting, RFC 5424 (omfwd TCP_Framing="octet-counted" + RSYSLOG_SyslogProtocol23Format).
    const octet = connect(ports.tcp, '127.0.0.1');
    for (const l of acceptPacket(3)) {
      const m = Buffer.from(rfc5424('node-octet', l, '2023-01-03T13:49:23.412000+00:00'));
      octet.write(`${m.length} `);
      octet.write(m);
    }
    octet.end();
    // TCP with LF framing (omfwd's default), RFC 3164.
    const lf = connect(ports.tcp, '127.0.0.1');
    lf.end(
      dropPacket(4)
        .map((l) => rfc3164('node-lf', l) + '\n')
        .join(''),
    );

    await waitFor(() => readNdjson(out).length === 5, 20000, 'five explanations');
    const byHost = new Map(readNdjson(out).map((x) => [x.packet.host, x]));
    assert.deepEqual([...byHost.keys()].sort(), ['cos74', 'node-lf', 'node-octet', 'node-udp']);
    const ex = readNdjson(out);
    const seqs = ex.map((x) => x.packet.tcpSeq).sort();
    assert.deepEqual(seqs, [0, 1, 2, 3, 4].map(seqOf).sort());
    for (const x of ex) {
      assert.ok(!x.flags.includes('snapshot_mismatch'), `${x.packet.host}: ${x.cause}`);
      assert.equal(x.verdict, x.packet.dport === 80 ? 'ACCEPT' : 'DROP');
    }
    assert.equal(byHost.get('node-octet')!.packet.firstSeen, '2023-01-03T13:49:23.412000+00:00');
    assert.match(byHost.get('node-udp')!.steps[0].origin.file, /^syslog\+udp:\/\/127\.0\.0\.1:\d+/);

    // Prometheus metrics: per-component received/sent, packets by verdict, gauges.
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const metric = (re: RegExp): number => Number(re.exec(text)?.[1] ?? NaN);
    assert.equal(
      metric(
        /ruletrail_component_received_events_total\{component_id="kern",component_kind="source"\} (\d+)/,
      ),
      45,
    );
    assert.equal(
      metric(
        /ruletrail_component_received_events_total\{component_id="rsyslog",component_kind="source"\} (\d+)/,
      ),
      70,
    );
    assert.equal(metric(/ruletrail_packets_total\{verdict="DROP"\} (\d+)/), 3);
    assert.equal(metric(/ruletrail_packets_total\{verdict="ACCEPT"\} (\d+)/), 2);
    assert.match(text, /ruletrail_records_in_flight \d+/);
    assert.match(text, /ruletrail_open_packets \d+/);

    child.kill('SIGTERM');
    assert.equal(await exited(child), 0, err.text);
  });
});
