/**
 * The chaos harness's command line:
 *
 *   npm run chaos -- [kill|kafka|elasticsearch|network|enospc|all]... [--packets N] [--seed S] [--json FILE]
 *
 * Runs each scenario (test/chaos/scenarios.ts) and prints, per scenario and sink, the ledger: packets
 * delivered, duplicated, lost (must be 0), and the time to recover after each fault. Exit status 1 when a
 * packet was lost or `ruletrail run` did not exit 0 at the final SIGTERM. The scenarios that touch services read
 * services/.env.ports (`services/start.sh kafka elasticsearch toxiproxy`); enospc needs root (a tmpfs mount).
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { killRuns } from './harness';
import { SCENARIOS, type ScenarioName, type ScenarioResult } from './scenarios';

/** One Markdown row per sink of each result (the docs/reliability.md table). */
export function resultRows(results: readonly ScenarioResult[]): string[] {
  const rows = [
    '| scenario | sink | packets | delivered | duplicated | lost | faults | recovery (ms, per fault) | exit | seconds |',
    '| -------- | ---- | ------: | --------: | ---------: | ---: | -----: | ------------------------ | ---: | ------: |',
  ];
  for (const r of results)
    for (const [sink, l] of Object.entries(r.sinks))
      rows.push(
        `| ${r.scenario} | ${sink} | ${l.packets} | ${l.delivered} | ${l.duplicated} | ${l.lost} | ${r.faults} | ${r.recoveryMs.map((m) => (Number.isFinite(m) ? Math.round(m) : 'none')).join(', ')} | ${r.exit} | ${r.seconds.toFixed(0)} |`,
      );
  return rows;
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      packets: { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'string' },
    },
  });
  const names = (
    positionals.length === 0 || positionals.includes('all') ? Object.keys(SCENARIOS) : positionals
  ) as ScenarioName[];
  for (const n of names)
    if (!(n in SCENARIOS)) {
      console.error(`chaos: unknown scenario '${n}' (${Object.keys(SCENARIOS).join('|')}|all)`);
      return 2;
    }
  const results: ScenarioResult[] = [];
  let failed = false;
  for (const name of names) {
    console.error(`chaos: ${name} …`);
    try {
      const r = await SCENARIOS[name]({
        ...(values.packets ? { packets: Number(values.packets) } : {}),
        ...(values.seed ? { seed: Number(values.seed) } : {}),
        log: (m) => console.error(`chaos: ${name}: ${m}`),
      });
      results.push(r);
      const lost = Object.values(r.sinks).some((l) => l.lost > 0 || l.foreign > 0);
      if (lost || r.exit !== 0) failed = true;
      for (const note of r.notes) console.error(`chaos: ${name}: ${note}`);
      for (const [sink, l] of Object.entries(r.sinks))
        if (l.lost > 0)
          console.error(`chaos: ${name}: ${sink} lost ${l.lost}, e.g. packets ${l.missing.join(', ')}`);
      console.error(`chaos: ${name}: folder ${r.dir}`);
    } catch (err) {
      killRuns();
      failed = true;
      console.error(`chaos: ${name} failed: ${(err as Error).stack ?? String(err)}`);
    }
  }
  console.log(resultRows(results).join('\n'));
  if (values.json) writeFileSync(values.json, JSON.stringify(results, null, 2));
  return failed ? 1 : 0;
}

if (require.main === module)
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      killRuns();
      console.error(err);
      process.exit(1);
    },
  );
