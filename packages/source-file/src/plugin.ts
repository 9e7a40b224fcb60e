/** The file and stdin sources as the CLI's registry knows them (options schema, factory). */
import { defineSource } from '@ruletrail/core';
import { positiveInt, type FileSourceConfig, type Source, type StdinSourceConfig } from '@ruletrail/pipeline';
import { FileSource } from './file-source';
import { StdinSource } from './stdin-source';

/** `type: file`. */
export const fileSourcePlugin = defineSource<FileSourceConfig, Source>({
  type: 'file',
  summary: 'Reads or tails files matched by globs (gzip read whole in read mode).',
  options: {
    type: 'object',
    additionalProperties: false,
    required: ['paths'],
    properties: {
      paths: {
        type: 'array',
        minItems: 1,
        items: { type: 'string', minLength: 1 },
        description:
          'Files or globs (* ? ** [..]); relative to the config file. New matches are picked up while tailing.',
      },
      mode: {
        enum: ['tail', 'read'],
        default: 'tail',
        description:
          "'tail' follows the files forever (rotation by rename and copytruncate); 'read' reads them once and ends.",
      },
      startAt: {
        enum: ['beginning', 'end'],
        default: 'beginning',
        description: 'Where to start in a file that has no checkpoint yet.',
      },
      pollIntervalMs: {
        ...positiveInt,
        default: 250,
        description: 'How often a tailed file is checked for new data and rotation.',
      },
    },
  },
  pathOptions: ['paths'],
  create: (config) => new FileSource(config),
});

/** `type: stdin`. */
export const stdinSourcePlugin = defineSource<StdinSourceConfig, Source>({
  type: 'stdin',
  summary: 'Reads standard input until it ends. No checkpoint: what was read cannot be read again.',
  options: { type: 'object', additionalProperties: false, properties: {} },
  create: (config) => new StdinSource(config),
});
