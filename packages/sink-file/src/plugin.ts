/** The file sink as the CLI's registry knows it (options schema, factory). */
import { defineSink } from '@ruletrail/core';
import { FileSink, type FileSinkOptions } from './file-sink';

/** `type: file`. Its options are written next to `id` and `type` (`placement: inline`). */
export const fileSinkPlugin = defineSink<FileSinkOptions>({
  type: 'file',
  summary:
    'NDJSON, one record per line, to a file (appended) or to standard output. Needs no external service.',
  placement: 'inline',
  options: {
    type: 'object',
    additionalProperties: false,
    properties: {
      path: {
        type: 'string',
        minLength: 1,
        default: '-',
        description: "File to append to, relative to the config file; '-' = stdout.",
      },
      fsync: {
        type: 'boolean',
        default: false,
        description:
          'fsync before acknowledging (survives power loss, not only a crash of ruletrail). Slower.',
      },
    },
  },
  pathOptions: ['path'],
  // One write at a time keeps the lines in order; a batch waits a few ms for company, not the runner's second.
  runner: { maxInFlight: 1, batch: { maxWaitMs: 5 } },
  create: (options, { logger, stop }) => new FileSink(options, { logger, stop }),
});
