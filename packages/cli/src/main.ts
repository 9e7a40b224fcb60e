/**
 * The `ruletrail` command line. Each subcommand lives in its own module; this file only dispatches and turns
 * usage errors into exit status 2 with a one-line message.
 */
import { InputError, UsageError, escapeControl } from '@ruletrail/core';

const USAGE = `usage: ruletrail <command> [options]

commands:
  explain   explain netfilter TRACE output against iptables-save snapshots (ruletrail explain --help)
  simulate  predict a packet's path and verdict through a snapshot (ruletrail simulate --help)
  report    turn explained NDJSON into a self-contained HTML report (ruletrail report --help)
  run       run the streaming pipeline a config file describes (ruletrail run --config FILE)
  validate  check a pipeline config and report every problem at once (ruletrail validate FILE)
  plugins   list the registered ingest adapters, sources and sinks with their options
  snapshot  ship ruleset snapshots periodically and on change (ruletrail snapshot ship --help)
  setup     install the Elasticsearch index templates (ruletrail setup elasticsearch --help)
  trace     trace packets live on this node, as root, and explain each one (ruletrail trace --help)

Docs: README.md and docs/ in the ruletrail repository.`;

/** Runs the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      // Subcommands load lazily: `explain` must not pay for the Kafka and Elasticsearch clients at start-up.
      case 'explain':
        return await (await import('./explain-command.js')).explainCommand(rest);
      case 'simulate':
        return await (await import('./simulate-command.js')).simulateCommand(rest);
      case 'report':
        return await (await import('./report-command.js')).reportCommand(rest);
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
      case 'trace':
        return await (await import('./trace/index.js')).traceCommand(rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(`${USAGE}\n`);
        return cmd === undefined ? 2 : 0;
      default:
        process.stderr.write(`ruletrail: unknown command '${escapeControl(cmd)}'\n${USAGE}\n`);
        return 2;
    }
  } catch (err) {
    if (isUserError(err) || isArgError(err)) {
      // Messages quote file names and input: escape control characters (issue #15).
      process.stderr.write(`ruletrail: ${escapeControl((err as Error).message, { keepNewlines: true })}\n`);
      return 2;
    }
    throw err;
  }
}

/**
 * A usage or input error. By name as well as by class: the bundled explain path (dist/ruletrail.bundle.js) has its
 * own copy of @ruletrail/core, while the subcommands loaded from dist/ throw the node_modules copy's classes.
 */
function isUserError(err: unknown): boolean {
  if (err instanceof UsageError || err instanceof InputError) return true;
  const name = (err as { name?: unknown } | null)?.name;
  return err instanceof Error && (name === 'UsageError' || name === 'InputError');
}

function isArgError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}
