/**
 * `ruletrail validate <config>`: checks a `ruletrail run` config without starting anything and reports every
 * problem at once, each with its file:line:column and JSON path. The schema is built from the registered
 * plugins (registry.ts), so an unknown or misspelt option of any source, sink or ingest adapter is an error
 * with its line. Exit 0 valid, 1 invalid, 2 usage error.
 */
import { parseArgs } from 'node:util';
import { UsageError } from '@ruletrail/core';
import { ConfigError, formatProblem, loadConfig } from '@ruletrail/pipeline';
import { REGISTRY } from './registry';

export const VALIDATE_USAGE = `usage: ruletrail validate <config.yaml>

Checks a 'ruletrail run' configuration file (YAML) against its schema (schemas/config/v1/config.schema.json,
built from the registered plugins: 'ruletrail plugins' lists their options) and the rules the schema cannot
express (unique ids, regular expressions, one stdout sink, each plugin's own checks). Every problem is
reported, each as file:line:column: /json/path: message. Exit status: 0 valid, 1 invalid, 2 usage error.`;

/** Runs `validate`; returns the exit code. */
export function validateCommand(argv: string[]): number {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      help: { type: 'boolean', short: 'h', default: false },
      quiet: { type: 'boolean', short: 'q', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(VALIDATE_USAGE + '\n');
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('validate takes exactly one config file');
  const file = positionals[0]!;
  try {
    const cfg = loadConfig(file, REGISTRY);
    if (!values.quiet)
      process.stdout.write(
        `${file}: valid (${cfg.sources.length} source${cfg.sources.length === 1 ? '' : 's'}: ${cfg.sources.map((s) => `${s.id}/${s.type}`).join(', ')}; ${cfg.sinks.length} sink${cfg.sinks.length === 1 ? '' : 's'}: ${cfg.sinks.map((s) => `${s.id}/${s.type}`).join(', ')})\n`,
      );
    return 0;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const p of err.problems) process.stderr.write(`${formatProblem(file, p)}\n`);
    process.stderr.write(
      `ruletrail: ${file}: ${err.problems.length} problem${err.problems.length === 1 ? '' : 's'}\n`,
    );
    return 1;
  }
}
