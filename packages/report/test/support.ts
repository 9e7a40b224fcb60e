/**
 * Shared by the report tests: the bundled incident explained by the real CLI (`explain --format json`), and a
 * report rendered in memory from explanations.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { Explanation } from '@ruletrail/explain';
import { HtmlReport, type ReportOptions } from '../src';
import { REPO_ROOT } from '../../../test/support/services';
import { INCIDENT_ARGS } from '../../../test/support/explain-capture';

export const CLI = join(REPO_ROOT, 'packages/cli/bin/ruletrail.js');
export { INCIDENT_ARGS };

/** Runs the CLI in the repository root; asserts exit status 0. */
export function cli(args: readonly string[], input?: string): string {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, encoding: 'utf8', input });
  assert.equal(r.status, 0, `ruletrail ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** The incident's two explanations (DROP on 52000, ACCEPT on 80 after DNAT), from the real CLI. */
export function incident(): Explanation[] {
  return cli(['explain', '--format', 'json', '--quiet', ...INCIDENT_ARGS])
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Explanation);
}

/** A report of `xs`, as a string. */
export async function renderReport(xs: Iterable<Explanation>, opts: ReportOptions = {}): Promise<string> {
  const out = new PassThrough();
  const parts: Buffer[] = [];
  out.on('data', (c: Buffer) => parts.push(c));
  const r = await HtmlReport.create(out, { generatedAt: new Date(0), ...opts });
  for (const x of xs) r.add(x);
  await r.finish();
  return Buffer.concat(parts).toString('utf8');
}
