/**
 * `ruletrail run` end to end, as a user runs it: the CLI as a child process on real files, real signals.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BIN,
  ROOT,
  collectStderr,
  dropPacket,
  exited,
  explainedSeqs,
  incidentSnapshots,
  killChildren,
  readNdjson,
  seqOf,
  startRun,
  tempDir,
  waitFor,
  writeConfig,
} from './pipeline-helpers';

describe('ruletrail run (CLI)', function () {
  this.timeout(60000);
  afterEach(killChildren);

  it('runs the documented example on the bundled incident: two explanations and the two built-in alerts', () => {
    const r = spawnSync(
      process.execPath,
      [BIN, 'run', '--config', join(ROOT, 'examples/pipeline/incident.yaml')],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(r.status, 0, r.stderr);
    const records = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const explanations = records.filter((x) => x.verdict);
    const alerts = records.filter((x) => x.alert);
    assert.deepEqual(
      explanations.map((x) => [x.packet.dport, x.verdict]),
      [
        [52000, 'DROP'],
        [80, 'ACCEPT'],
      ],
    );
    assert.equal(explanations[0].markSetBy[0].chain, 'KUBE-MARK-DROP');
    assert.match(explanations[0].snapshot.source, /iptables-save-0101\.txt$/);
    assert.match(explanations[1].snapshot.source, /iptables-save-0103\.txt$/);
    assert.deepEqual(alerts.map((a) => a.alert.rule).sort(), ['kube_mark_drop', 'kube_no_endpoints']);
    const nodeAlert = alerts.find((a) => a.alert.rule === 'kube_no_endpoints');
    assert.equal(nodeAlert.alert.service, 'ootob9/ingress-nginx:http');
    assert.equal(nodeAlert.alert.host, 'cos74');
    assert.equal(nodeAlert.explanation.verdict, 'DROP');
    assert.equal(nodeAlert.explanation.steps, undefined);
    // Logs are JSON lines on stderr, ending with the summary.
    const logs = r.stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const last = logs[logs.length - 1];
    assert.equal(last.msg, 'Pipeline stopped.');
    assert.equal(last.packets, 2);
    assert.equal(last.reason, 'end-of-input');
  });

  it('writes exactly what `ruletrail explain --format json` writes for the same input and snapshots', () => {
    const dir = tempDir();
    const kern = join(ROOT, 'examples/incident/kern.log');
    const rules = ['iptables-save-0101.txt', 'iptables-save-0103.txt'].map((f) =>
      join(ROOT, 'examples/incident', f),
    );
    const cfg = writeConfig(dir, {
      version: 1,
      sources: [{ id: 'kern', type: 'file', paths: [kern], mode: 'read', year: 2023 }],
      snapshots: { files: rules.map((path) => ({ path, host: 'cos74' })) },
      sinks: [{ id: 'out', type: 'file', path: '-', records: ['explanation'] }],
    });
    const run = spawnSync(process.execPath, [BIN, 'run', '--config', cfg], { encoding: 'utf8' });
    const explain = spawnSync(
      process.execPath,
      [BIN, 'explain', '--year', '2023', '--format', 'json', ...rules.flatMap((r) => ['--rules', r]), kern],
      { encoding: 'utf8' },
    );
    assert.equal(run.status, 0, run.stderr);
    assert.equal(explain.status, 0, explain.stderr);
    // The two runs name the snapshot source and its time their own way; everything else is the same JSON.
    const norm = (text: string) =>
      text
        .trim()
        .split('\n')
        .map((l) => {
          const x = JSON.parse(l);
          delete x.snapshot.source;
          delete x.snapshot.generatedAt;
          return x;
        });
    assert.deepEqual(norm(run.stdout), norm(explain.stdout));
  });

  it('reopens its output file on SIGHUP (logrotate), losing nothing', async () => {
    const dir = tempDir();
    const log = join(dir, 'kern.log');
    const out = join(dir, 'out.ndjson');
    writeFileSync(log, dropPacket(1).join('\n') + '\n');
    const cfg = writeConfig(dir, {
      version: 1,
      sources: [{ id: 'kern', type: 'file', paths: [log], year: 2023, pollIntervalMs: 50 }],
      snapshots: incidentSnapshots(),
      sinks: [{ id: 'out', type: 'file', path: out, records: ['explanation'] }],
    });
    const child = startRun(cfg, [], 'ignore');
    const err = collectStderr(child);
    await waitFor(() => explainedSeqs(out).length === 1, 20000, 'the first packet');
    renameSync(out, `${out}.1`);
    child.kill('SIGHUP');
    await waitFor(() => /reopening output files/.test(err.text), 10000, 'the SIGHUP');
    appendFileSync(log, dropPacket(2).join('\n') + '\n');
    await waitFor(() => explainedSeqs(out).length === 1, 20000, 'the second packet in the new file');
    child.kill('SIGTERM');
    assert.equal(await exited(child), 0, err.text);
    assert.deepEqual(explainedSeqs(`${out}.1`), [seqOf(1)]);
    assert.deepEqual(explainedSeqs(out), [seqOf(2)]);
  });

  it('resumes after SIGKILL from the acknowledged checkpoint with no packet lost', async () => {
    const dir = tempDir();
    const log = join(dir, 'kern.log');
    const out = join(dir, 'out.ndjson');
    const N = 1500;
    writeFileSync(log, '');
    for (let i = 0; i < N; i++) appendFileSync(log, dropPacket(i).join('\n') + '\n');
    const cfg = writeConfig(dir, {
      version: 1,
      dataDir: join(dir, 'state'),
      sources: [{ id: 'kern', type: 'file', paths: [log], mode: 'tail', year: 2023, pollIntervalMs: 50 }],
      snapshots: incidentSnapshots(),
      sinks: [{ id: 'out', type: 'file', path: out, records: ['explanation'] }],
      pipeline: { maxInFlight: 50, checkpointIntervalMs: 20 },
    });
    const first = startRun(cfg, [], 'ignore');
    // Kill it for real, mid-file: some packets out, not all.
    const committed = (): number => {
      try {
        const ck = JSON.parse(readFileSync(join(dir, 'state/checkpoints.json'), 'utf8'));
        return (Object.values(ck.components['source:kern'].files)[0] as { offset: number }).offset;
      } catch {
        return 0;
      }
    };
    await waitFor(() => committed() > 0, 20000, 'a first checkpoint');
    first.kill('SIGKILL');
    assert.equal(await exited(first), 'SIGKILL');
    const before = new Set(explainedSeqs(out));
    assert.ok(before.size < N, `the first run should not have finished (${before.size})`);
    const ck = JSON.parse(readFileSync(join(dir, 'state/checkpoints.json'), 'utf8'));
    const saved = Object.values(
      ck.components['source:kern'].files as Record<string, { offset: number; line: number }>,
    )[0]!;
    assert.ok(saved.offset > 0 && saved.offset < statSync(log).size, `checkpoint mid-file: ${saved.offset}`);

    const second = startRun(cfg, [], 'ignore');
    const err = collectStderr(second);
    await waitFor(() => new Set(explainedSeqs(out)).size === N, 30000, 'every packet after the restart');
    second.kill('SIGTERM');
    assert.equal(await exited(second), 0, err.text);
    const all = explainedSeqs(out);
    const seen = new Set(all);
    for (let i = 0; i < N; i++) assert.ok(seen.has(seqOf(i)), `packet ${i} lost`);
    // At-least-once: a replay may repeat what was delivered but not yet checkpointed — a bounded amount.
    assert.ok(all.length - N < N / 2, `too many duplicates: ${all.length - N}`);
    assert.match(err.text, /Resuming a file at its checkpoint/);
    // Every explanation is whole and correct, including the ones from the replayed region.
    for (const r of readNdjson(out)) assert.equal(r.verdict, 'DROP', JSON.stringify(r).slice(0, 3000));
  });

  it('shuts down gracefully on SIGTERM: open packets completed, everything delivered, checkpoint at the end', async () => {
    const dir = tempDir();
    const log = join(dir, 'kern.log');
    const out = join(dir, 'out.ndjson');
    // Packet 2 stops half way (no terminal step): it stays open until shutdown completes it.
    writeFileSync(log, [...dropPacket(1), ...dropPacket(2).slice(0, 10)].join('\n') + '\n');
    const cfg = writeConfig(dir, {
      version: 1,
      dataDir: join(dir, 'state'),
      sources: [{ id: 'kern', type: 'file', paths: [log], year: 2023, pollIntervalMs: 50 }],
      snapshots: incidentSnapshots(),
      correlation: { idleFlushMs: 600000 },
      sinks: [{ id: 'out', type: 'file', path: out }],
    });
    const child = startRun(cfg, [], 'ignore');
    const err = collectStderr(child);
    await waitFor(() => explainedSeqs(out).length === 1, 20000, 'the DROP packet');
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGTERM');
    assert.equal(await exited(child), 0, err.text);
    assert.deepEqual(explainedSeqs(out).sort(), [seqOf(1), seqOf(2)]);
    const open = readNdjson(out).find((r) => r.packet?.tcpSeq === seqOf(2))!;
    assert.equal(open.verdict, 'UNKNOWN');
    assert.ok(open.flags.includes('silent_drop'));
    const ck = JSON.parse(readFileSync(join(dir, 'state/checkpoints.json'), 'utf8'));
    const saved = Object.values(ck.components['source:kern'].files as Record<string, { offset: number }>)[0]!;
    assert.equal(saved.offset, statSync(log).size);
    assert.match(err.text, /Signal received/);
    assert.match(err.text, /"reason":"signal"/);
  });

  it('stops cleanly when the reader of stdout goes away, without checkpointing what it did not receive', async () => {
    const dir = tempDir();
    const log = join(dir, 'kern.log');
    writeFileSync(log, '');
    for (let i = 0; i < 400; i++) appendFileSync(log, dropPacket(i).join('\n') + '\n');
    const cfg = writeConfig(dir, {
      version: 1,
      dataDir: join(dir, 'state'),
      sources: [{ id: 'kern', type: 'file', paths: [log], mode: 'read', year: 2023 }],
      snapshots: incidentSnapshots(),
      sinks: [{ id: 'out', type: 'file', path: '-', records: ['explanation'] }],
      pipeline: { maxInFlight: 20 },
    });
    const child = startRun(cfg);
    const err = collectStderr(child);
    // Like `ruletrail run … | head -c 1000`: read a little, then close the pipe.
    await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
    child.stdout!.destroy();
    assert.equal(await exited(child), 0, err.text);
    assert.match(err.text, /Standard output is closed; stopping/);
    // Nothing, or only a prefix, may be checkpointed: the rest was never received.
    const file = join(dir, 'state/checkpoints.json');
    const offset = existsSync(file)
      ? (Object.values(
          JSON.parse(readFileSync(file, 'utf8')).components['source:kern'].files as Record<
            string,
            { offset: number }
          >,
        )[0]?.offset ?? 0)
      : 0;
    assert.ok(offset < statSync(log).size, 'checkpointed records that were never received');
  });

  it('dead-letters unreadable lines to the configured file with position, code and reason, and goes on', () => {
    const dir = tempDir();
    const log = join(dir, 'kern.log');
    const bad = dropPacket(9)[2]!.replace('mangle:cali-PREROUTING:rule:3', 'mangle:cali-PREROUTING');
    writeFileSync(log, [...dropPacket(1), bad, ...dropPacket(2)].join('\n') + '\n');
    const cfg = writeConfig(dir, {
      version: 1,
      sources: [{ id: 'kern', type: 'file', paths: [log], mode: 'read', year: 2023 }],
      snapshots: incidentSnapshots(),
      sinks: [{ id: 'out', type: 'file', path: join(dir, 'out.ndjson'), records: ['explanation'] }],
      deadLetter: { path: join(dir, 'dead.ndjson') },
    });
    const r = spawnSync(process.execPath, [BIN, 'run', '--config', cfg], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(explainedSeqs(join(dir, 'out.ndjson')).sort(), [seqOf(1), seqOf(2)]);
    const [dl] = readNdjson(join(dir, 'dead.ndjson'));
    assert.equal(dl!.file, log);
    assert.equal(dl!.line, 26);
    assert.match(dl!.code, /^RT_ERR_/);
    assert.match(dl!.reason, /TRACE prefix/);
    assert.equal(dl!.record, bad);
    assert.match(r.stderr, /"msg":"Record dead-lettered\."/);
  });

  it('reads stdin until it ends', () => {
    const dir = tempDir();
    const cfg = writeConfig(dir, {
      version: 1,
      sources: [{ id: 'in', type: 'stdin', year: 2023 }],
      snapshots: incidentSnapshots(),
      sinks: [{ id: 'out', type: 'file', path: '-', records: ['explanation'] }],
    });
    const r = spawnSync(process.execPath, [BIN, 'run', '--config', cfg], {
      encoding: 'utf8',
      input: readFileSync(join(ROOT, 'examples/incident/kern.log')),
    });
    assert.equal(r.status, 0, r.stderr);
    const x = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      x.map((e) => [e.verdict, e.steps[0].origin.file, e.steps[0].origin.line]),
      [
        ['DROP', 'stdin', 2],
        ['ACCEPT', 'stdin', 29],
      ],
    );
  });

  it('reads pcap captures (NFLOG) given as files, detected by content', () => {
    const dir = tempDir();
    const cfg = writeConfig(dir, {
      version: 1,
      sources: [
        {
          id: 'pcap',
          type: 'file',
          mode: 'read',
          host: 'lab',
          paths: [join(ROOT, 'packages/ingest-nflog-pcap/test/fixtures/real/trace.pcap')],
        },
      ],
      sinks: [{ id: 'out', type: 'file', path: '-', records: ['explanation'] }],
    });
    const r = spawnSync(process.execPath, [BIN, 'run', '--config', cfg], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const x = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.ok(x.length > 0);
    for (const e of x) {
      assert.equal(e.packet.channel, 'nflog-pcap');
      assert.equal(e.packet.host, 'lab');
      assert.ok(e.flags.includes('no_snapshot'));
    }
  });

  it('draws a progress bar for finite inputs when asked (log.progress: on), ending at 100%', () => {
    const dir = tempDir();
    const cfg = writeConfig(dir, {
      version: 1,
      sources: [
        {
          id: 'kern',
          type: 'file',
          paths: [join(ROOT, 'examples/incident/kern.log')],
          mode: 'read',
          year: 2023,
        },
      ],
      snapshots: incidentSnapshots(),
      sinks: [{ id: 'out', type: 'file', path: join(dir, 'out.ndjson') }],
      log: { progress: 'on' },
    });
    const r = spawnSync(process.execPath, [BIN, 'run', '--config', cfg], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /\r\[#{30}\] 100% 0\.0\/0\.0 MB {2}2 packets {2}2 alerts/);
    // --no-progress wins over the config.
    const q = spawnSync(process.execPath, [BIN, 'run', '--config', cfg, '--no-progress'], {
      encoding: 'utf8',
    });
    assert.doesNotMatch(q.stderr, /\r\[/);
  });

  it('validate: prints a one-line summary for a valid config and every problem for a bad one', () => {
    const ok = spawnSync(process.execPath, [BIN, 'validate', join(ROOT, 'examples/pipeline/incident.yaml')], {
      encoding: 'utf8',
    });
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /incident\.yaml: valid \(1 source: incident\/file; 1 sink: stdout\/file\)/);
    const dir = tempDir();
    const bad = join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      'version: 1\nsources: [{ id: x, type: syslog }]\nsinks: [{ id: y, type: nowhere }]\npipline: {}\n',
    );
    const r = spawnSync(process.execPath, [BIN, 'validate', bad], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    const lines = r.stderr.trim().split('\n');
    assert.deepEqual(lines, [
      `${bad}:1:1: /: unknown field 'pipline'`,
      `${bad}:3:9: /sinks/0: unknown type "nowhere"`,
      `${bad}:2:11: /sources/0: needs udp, tcp, tls or several`,
      `ruletrail: ${bad}: 3 problems`,
    ]);
    // The sink packages' own option checks run too.
    writeFileSync(
      bad,
      'version: 1\nsources: [{ id: x, type: stdin }]\nsinks: [{ id: k, type: kafka, options: { topic: t } }]\n',
    );
    const k = spawnSync(process.execPath, [BIN, 'validate', bad], { encoding: 'utf8' });
    assert.equal(k.status, 1);
    assert.match(k.stderr, /\/sinks\/0\/options: .*brokers/);
  });

  it('reports a bad config with every problem and exit status 2, without starting', () => {
    const dir = tempDir();
    const cfg = join(dir, 'bad.yaml');
    writeFileSync(
      cfg,
      'version: 1\nsources:\n  - id: a\n    type: file\nsinks:\n  - id: b\n    type: file\n    colour: red\n',
    );
    const r = spawnSync(process.execPath, [BIN, 'run', '--config', cfg], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /bad\.yaml:3:\d+: \/sources\/0: missing required field 'paths'/);
    assert.match(r.stderr, /bad\.yaml:6:\d+: \/sinks\/0: unknown field 'colour'/);
    assert.equal(r.stdout, '');
  });
});
