/**
 * The real-kernel lab capture of a ruleset change (test/fixtures/lab/drift: kube-proxy's NodePort drop, then the
 * fix), tailed by `ruletrail run` with the two snapshots as `ruletrail snapshot ship` writes them: each packet
 * must be explained with the rules in force at its time — and with only the first snapshot shipped, the second
 * packet must be flagged as drift, never explained wrongly.
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeEnvelope } from '@ruletrail/pipeline';
import {
  ROOT,
  collectStderr,
  exited,
  killChildren,
  readNdjson,
  startRun,
  tempDir,
  waitFor,
  writeConfig,
  type Rec,
} from './pipeline-helpers';

const LAB = join(ROOT, 'test/fixtures/lab/drift/kernel-log');
const BEFORE = readFileSync(join(LAB, 'iptables-save.txt'), 'utf8');
const AFTER = readFileSync(join(LAB, 'iptables-save.after.txt'), 'utf8');
const LINES = readFileSync(join(LAB, 'kern.log'), 'utf8').trim().split('\n');

/** Writes a shipped envelope the way `snapshot ship --to dir:` does. */
function ship(dir: string, takenAt: string, content: string): void {
  mkdirSync(join(dir, 'rtlab-node'), { recursive: true });
  const env = makeEnvelope({
    host: 'rtlab-node',
    family: 'ipv4',
    format: 'iptables-save',
    takenAt,
    tool: 'iptables-save',
    content,
  });
  writeFileSync(join(dir, 'rtlab-node', `${takenAt.replace(/[:.]/g, '')}.json`), JSON.stringify(env));
}

async function tailLab(withAfter: boolean): Promise<Rec[]> {
  const dir = tempDir();
  const snaps = join(dir, 'snapshots');
  ship(snaps, '2026-11-27T10:08:38Z', BEFORE);
  if (withAfter) ship(snaps, '2026-11-27T10:08:42Z', AFTER);
  const log = join(dir, 'kern.log');
  const out = join(dir, 'out.ndjson');
  writeFileSync(log, '');
  const cfg = writeConfig(dir, {
    version: 1,
    dataDir: join(dir, 'state'),
    sources: [{ id: 'lab', type: 'file', paths: [log], pollIntervalMs: 50 }],
    snapshots: { directory: snaps, pollIntervalMs: 100 },
    correlation: { idleFlushMs: 500 },
    sinks: [{ id: 'out', type: 'file', path: out }],
  });
  const child = startRun(cfg, [], 'ignore');
  const err = collectStderr(child);
  await waitFor(() => /Pipeline started/.test(err.text), 20000, 'the pipeline');
  // The capture arrives as the kernel wrote it: the first packet, then (after the fix) the second.
  appendFileSync(log, LINES.slice(0, 15).join('\n') + '\n');
  await new Promise((r) => setTimeout(r, 200));
  appendFileSync(log, LINES.slice(15).join('\n') + '\n');
  await waitFor(() => readNdjson(out).filter((r) => r.verdict).length === 2, 20000, 'two explanations');
  child.kill('SIGTERM');
  assert.equal(await exited(child), 0, err.text);
  return readNdjson(out);
}

describe('ruletrail run on the real-kernel lab capture of a ruleset change', function () {
  this.timeout(60000);
  afterEach(killChildren);

  it('explains the packet before the fix with the old rules and the one after with the new rules', async () => {
    const records = await tailLab(true);
    const [before, after] = records.filter((r) => r.verdict);
    assert.equal(before!.verdict, 'DROP');
    assert.equal(before!.markSetBy[0].chain, 'KUBE-MARK-DROP');
    assert.equal(before!.snapshot.generatedAt, '2026-11-27T10:08:38.000Z');
    assert.equal(after!.verdict, 'ACCEPT');
    assert.equal(after!.snapshot.generatedAt, '2026-11-27T10:08:42.000Z');
    for (const x of [before!, after!]) assert.ok(!x.flags.includes('snapshot_mismatch'), x.cause);
    // The drop raised the built-in alerts; the accepted packet did not.
    const alerts = records.filter((r) => r.alert).map((r) => `${r.alert.rule}:${r.explanation.verdict}`);
    assert.ok(alerts.includes('kube_mark_drop:DROP'), alerts.join());
    assert.ok(
      alerts.every((a) => a.endsWith(':DROP')),
      alerts.join(),
    );
  });

  it('flags the packet after the change as drift when only the old snapshot was shipped', async () => {
    const [before, after] = (await tailLab(false)).filter((r) => r.verdict);
    assert.equal(before!.verdict, 'DROP');
    assert.equal(after!.verdict, 'UNKNOWN');
    assert.ok(after!.flags.includes('snapshot_mismatch'), after!.cause);
  });
});
