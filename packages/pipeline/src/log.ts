/** The run-time logs through the one logger of `@ruletrail/core` (log.ts): JSON lines on stderr. */
export { JsonLogger, SILENT, type LogLevel, type Logger } from '@ruletrail/core';
