/**
 * The one logger of ruletrail: every package (run-time, sources, sinks, the sink runner, the Kafka client
 * factory) logs through `Logger`, and `JsonLogger` writes one JSON object per line on stderr
 * (`{"time","level","msg","component",…}`), so a log shipper can index them without a parser. Messages are
 * capitalised sentences ending with a period; variable parts go in fields, never in the message, and no secret is
 * ever logged (sinks log through a `Redactor`).
 */
import { escapeJsonControl } from './escape';

/** Severity, lowest first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** A structured logger bound to a component. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** A logger whose lines carry `component` (and its kind). */
  child(component: string, kind?: string): Logger;
}

/**
 * The part of `Logger` a sink, the sink runner and the Kafka client use (they are handed a logger already bound
 * to their component, so they never bind one).
 */
export type SinkLogger = Pick<Logger, LogLevel>;

/** Logger writing JSON lines to a stream. */
export class JsonLogger implements Logger {
  private readonly _min: number;

  constructor(
    private readonly _level: LogLevel = 'info',
    private readonly _stream: NodeJS.WritableStream = process.stderr,
    private readonly _bound: Record<string, unknown> = {},
  ) {
    this._min = RANK[_level];
  }

  debug(msg: string, fields?: Record<string, unknown>): void {
    this._write('debug', msg, fields);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this._write('info', msg, fields);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this._write('warn', msg, fields);
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this._write('error', msg, fields);
  }

  child(component: string, kind?: string): Logger {
    return new JsonLogger(this._level, this._stream, {
      ...this._bound,
      component,
      ...(kind ? { componentKind: kind } : {}),
    });
  }

  private _write(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
    if (RANK[level] < this._min) return;
    const line = { time: new Date().toISOString(), level, msg, ...this._bound, ...fields };
    // JSON escapes C0 controls; C1 controls and bidi overrides from input would still act on a terminal.
    this._stream.write(escapeJsonControl(JSON.stringify(line, errorReplacer)) + '\n');
  }
}

/** A logger that drops everything (tests, `validate`). */
export const SILENT: Logger = Object.freeze({
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => SILENT,
});

/** The same, as a sink's logger. */
export const NOOP_LOGGER: SinkLogger = SILENT;

// Errors serialise to {} by default: keep the message and code, never the stack (it may be long and noisy).
function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return { message: value.message, ...(code !== undefined ? { code } : {}) };
  }
  return value;
}
