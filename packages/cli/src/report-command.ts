/**
 * `ruletrail report`: explained NDJSON (what `explain --format json`, the file sink or a Kafka/Elasticsearch
 * export holds) → one self-contained HTML report. Streams: lines are read in chunks and each packet is added to
 * the report as it is read; the report itself keeps bounded memory (see @ruletrail/report).
 */
import { parseArgs } from 'node:util';
import {
  InputError,
  NdjsonDeadLetterFile,
  StreamDeadLetter,
  TeeDeadLetter,
  UsageError,
  openInput,
  splitLines,
  type DeadLetterOutput,
} from '@ruletrail/core';
import { HtmlReport, REPORT_DEFAULTS, parseExplanationLine, type ReportOptions } from '@ruletrail/report';
import { openOutput } from './output';

export const REPORT_USAGE = `usage: ruletrail report [options] <explained NDJSON files…>

Turns explained packets (the NDJSON of 'ruletrail explain --format json', the file sink, a Kafka topic dump or
an Elasticsearch export) into one self-contained HTML page: a summary, each distinct path drawn through the
netfilter hooks, and a searchable packet list.

  -o, --output FILE     write the page to FILE (default stdout)
  --title TEXT          page title
  --max-packets N       packets listed in the page (default ${REPORT_DEFAULTS.maxPackets}); the summary counts all
  --max-journeys N      distinct paths drawn (default ${REPORT_DEFAULTS.maxJourneys})
  --dead-letter FILE    append lines that could not be read to FILE as NDJSON (also reported on stderr)
  --quiet               no summary line on stderr

Files may be gzip-compressed; '-' reads stdin. Exit status: 0 ok, 1 some lines could not be read, 2 usage error.`;

/** Runs `report`; returns the exit code. */
export async function reportCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      output: { type: 'string', short: 'o' },
      title: { type: 'string' },
      'max-packets': { type: 'string' },
      'max-journeys': { type: 'string' },
      'dead-letter': { type: 'string' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(REPORT_USAGE + '\n');
    return 0;
  }
  if (positionals.length === 0) throw new UsageError('no explained NDJSON files given (use - for stdin)');
  const opts: ReportOptions = {
    sources: positionals,
    ...(values.title !== undefined ? { title: values.title } : {}),
    ...(values['max-packets'] !== undefined
      ? { maxPackets: positiveInt('--max-packets', values['max-packets']) }
      : {}),
    ...(values['max-journeys'] !== undefined
      ? { maxJourneys: positiveInt('--max-journeys', values['max-journeys']) }
      : {}),
  };
  const deadLetters: DeadLetterOutput[] = [new StreamDeadLetter(process.stderr)];
  if (values['dead-letter']) deadLetters.push(new NdjsonDeadLetterFile(values['dead-letter']));
  const deadLetter = new TeeDeadLetter(deadLetters);
  const inputs = await Promise.all(
    positionals.map(async (file) => {
      try {
        return { file, chunks: await openInput(file) };
      } catch (err) {
        throw new UsageError(`${file}: ${(err as Error).message}`);
      }
    }),
  );
  const { stream: out, close } = await openOutput(values.output);
  const report = await HtmlReport.create(out, opts);
  let errors = 0;
  let alerts = 0;
  try {
    for (const { file, chunks } of inputs)
      for await (const batch of splitLines(chunks)) {
        batch.lines.forEach((line, i) => {
          if (line.trim() === '') return;
          const r = parseExplanationLine(line);
          if (r.kind === 'explanation') report.add(r.value);
          else if (r.kind === 'alert') alerts++;
          else {
            errors++;
            deadLetter.write(
              new InputError('RT_ERR_REPORT_RECORD', { file, line: batch.firstLine + i }, r.reason, line),
            );
          }
        });
        await report.drain();
      }
  } catch (err) {
    await report.abort();
    throw err;
  }
  const stats = await report.finish();
  await close();
  await deadLetter.close();
  if (!values.quiet)
    process.stderr.write(
      `ruletrail: report of ${stats.packets} packets (${stats.rows} listed, ${stats.paths} paths, ${stats.journeys} drawn), ${Math.round(stats.bytes / 1024)} KiB${values.output ? ` in ${values.output}` : ''}; ${alerts} alert records skipped; ${errors} unreadable\n`,
    );
  return errors > 0 ? 1 : 0;
}

function positiveInt(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${name} must be a positive integer, got '${v}'`);
  return n;
}
