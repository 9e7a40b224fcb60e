/**
 * The `ruletrail` command line. Each subcommand lives in its own module; this file only dispatches and turns
 * usage errors into exit status 2 with a one-line message.
 */
import { InputError, UsageError } from '@ruletrail/core';
import { EXPLAIN_USAGE, explainCommand } from './explain-command';
import { runCommand } from './run-command';
import { snapshotCommand } from './snapshot-command';
import { validateCommand } from './validate-command';

const USAGE = `usage: ruletrail <command> [options]

commands:
  explain   explain netfilter TRACE output against iptables-save snapshots (ruletrail explain --help)

Docs: README.md and docs/ in the ruletrail repository.`;

/** Runs the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'explain':
        return await explainCommand(rest);
      case 'run':
        return await runCommand(rest);
      case 'validate':
        return validateCommand(rest);
      case 'snapshot':
        return await snapshotCommand(rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(`${USAGE}\n\n${EXPLAIN_USAGE}\n`);
        return cmd === undefined ? 2 : 0;
      default:
        process.stderr.write(`ruletrail: unknown command '${cmd}'\n${USAGE}\n`);
        return 2;
    }
  } catch (err) {
    if (err instanceof UsageError || err instanceof InputError || isArgError(err)) {
      process.stderr.write(`ruletrail: ${(err as Error).message}\n`);
      return 2;
    }
    throw err;
  }
}

function isArgError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}
