/**
 * The `ruletrail` command line. Each subcommand lives in its own module; this file only dispatches and turns
 * usage errors into exit status 2 with a one-line message.
 */
import { InputError, UsageError } from '@ruletrail/core';

const USAGE = `usage: ruletrail <command> [options]

commands:
  explain   explain netfilter TRACE output against iptables-save snapshots (ruletrail explain --help)
  run       run the streaming pipeline a config file describes (ruletrail run --config FILE)
  validate  check a pipeline config and report every problem at once (ruletrail validate FILE)
  plugins   list the registered ingest adapters, sources and sinks with their options
  snapshot  ship ruleset snapshots periodically and on change (ruletrail snapshot ship --help)
  setup     install the Elasticsearch index templates (ruletrail setup elasticsearch --help)

Docs: README.md and docs/ in the ruletrail repository.`;

/** Runs the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      // Subcommands load lazily: `explain` must not pay for the Kafka and Elasticsearch clients at start-up.
      case 'explain':
        return await (await import('./explain-command.js')).explainCommand(rest);
      case 'run':
        return await (await import('./run-command.js')).runCommand(rest);
      case 'validate':
        return (await import('./validate-command.js')).validateCommand(rest);
      case 'plugins':
        return (await import('./plugins-command.js')).pluginsCommand(rest);
      case 'snapshot':
        return await (await import('./snapshot-command.js')).snapshotCommand(rest);
      case 'setup':
        return await (await import('./setup-command.js')).setupCommand(rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(`${USAGE}\n`);
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
