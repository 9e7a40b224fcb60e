/**
 * `ruletrail explain --format json` over a capture, as the demo tests compare it: run through the real CLI, with
 * the packets attributed to a chosen host (the lab captured every scenario on one node, `rtlab-node`; the demo
 * gives each scenario its own host, as demo/replay.mjs does).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Explanation } from '@ruletrail/explain';
import { REPO_ROOT } from './services';

const CLI = join(REPO_ROOT, 'packages/cli/bin/ruletrail.js');

/** `ruletrail explain` arguments for the bundled incident (README quick start), relative to the repository root. */
export const INCIDENT_ARGS: readonly string[] = [
  '--year',
  '2023',
  '--rules',
  'examples/incident/iptables-save-0101.txt',
  '--rules',
  'examples/incident/iptables-save-0103.txt',
  'examples/incident/kern.log',
];

export interface CaptureToExplain {
  /** Label for assertion messages. */
  readonly name: string;
  /** The host every packet must be attributed to. */
  readonly host: string;
  /** `--rules` files. */
  readonly rules: readonly string[];
  readonly capture: string;
  /**
   * An rsyslog kernel log from the lab: its syslog hostname is rewritten to `host` (the kernel-log adapter reads
   * the host from there). Otherwise the capture carries no host and `--host` gives it.
   */
  readonly kernelLog: boolean;
}

/** The explanations of a capture, every one checked to be attributed to `c.host`. */
export function explainCapture(c: CaptureToExplain): Explanation[] {
  const args = [CLI, 'explain', '--format', 'json', ...c.rules.flatMap((r) => ['--rules', r])];
  let input: string | undefined;
  if (c.kernelLog) {
    const lines = readFileSync(c.capture, 'utf8').split('\n').filter(Boolean);
    input =
      lines.map((l) => l.replace(/^(\S+) rtlab-node kernel: /, `$1 ${c.host} kernel: `)).join('\n') + '\n';
    assert.equal(input.split(`${c.host} kernel: `).length - 1, lines.length, `${c.name}: host rewritten`);
    args.push('--input-format', 'kernel-log', '-');
  } else args.push('--host', c.host, c.capture);
  const r = spawnSync(process.execPath, args, { cwd: REPO_ROOT, input, encoding: 'utf8' });
  assert.equal(r.status, 0, `explain ${c.name}: ${r.stderr}`);
  const out = r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Explanation);
  for (const x of out) assert.equal(x.packet.host, c.host, `${c.name}: packet.host`);
  return out;
}
