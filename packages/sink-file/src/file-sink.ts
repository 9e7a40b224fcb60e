/**
 * The embedded default sink: NDJSON, one record per line, appended to a file or written to stdout. Needs no
 * external service, so `ruletrail run` works out of the box.
 *
 * It is a core `Sink` like every other: the sink runner batches records (a batch is one write), retries a
 * failed write with backoff and bounds what is in flight. A batch is delivered once its lines were handed to
 * the operating system (the write completed): that survives a crash or SIGKILL of ruletrail. With
 * `fsync: true` only after fdatasync, which also survives a power cut. A slow reader of stdout delays the
 * acknowledgements, which is how backpressure reaches the sources.
 *
 * When stdout's reader goes away (EPIPE) nothing written there can ever be acknowledged, and rejecting the
 * records would let the sources checkpoint past records nobody received: the sink asks the run to stop and
 * keeps failing retriably, so the records are still outstanding when the runner closes (read again after a
 * restart).
 */
import { open, type FileHandle } from 'node:fs/promises';
import {
  DELIVERED,
  NOOP_LOGGER,
  SinkError,
  bodyJson,
  type Sink,
  type SinkLogger,
  type SinkOutcome,
  type SinkRecord,
} from '@ruletrail/core';

/** Stable error codes of this sink (see docs/errors.md). */
export const FILE_SINK_ERRORS = {
  /** Appending to the output file failed (disk full, permissions); retried with backoff. */
  write: 'RT_ERR_FILE_WRITE',
  /** Standard output's reader went away (EPIPE); the run stops. */
  stdoutClosed: 'RT_ERR_FILE_STDOUT_CLOSED',
} as const;

export interface FileSinkOptions {
  /** Absolute path to append to, or `-` for standard output. */
  readonly path: string;
  /** fdatasync before acknowledging. */
  readonly fsync: boolean;
}

export interface FileSinkContext {
  readonly logger?: SinkLogger;
  /** Where `-` writes: stdout unless a test says otherwise. */
  readonly stdout?: NodeJS.WritableStream;
  /** Called once when stdout is gone for good (the run should stop: nothing more can be delivered). */
  readonly stop?: (err: Error) => void;
}

/** NDJSON to a file or stdout. */
export class FileSink implements Sink {
  readonly name = 'file';
  private readonly _log: SinkLogger;
  private readonly _stdout: NodeJS.WritableStream;
  private readonly _stop: (err: Error) => void;
  private _handle: FileHandle | undefined;
  private _reopen = false;
  /** stdout failed for good: nothing is written any more. */
  private _failed: Error | undefined;

  constructor(
    private readonly _options: FileSinkOptions,
    context: FileSinkContext = {},
  ) {
    this._log = context.logger ?? NOOP_LOGGER;
    this._stdout = context.stdout ?? process.stdout;
    this._stop = context.stop ?? (() => undefined);
    // EPIPE also arrives as an 'error' event; unhandled it would crash the process. The write callback handles it.
    if (_options.path === '-') this._stdout.on('error', () => undefined);
  }

  connect(): Promise<void> {
    return Promise.resolve();
  }

  async write(records: readonly SinkRecord[]): Promise<SinkOutcome[]> {
    let chunk = '';
    for (const r of records) chunk += bodyJson(r) + '\n';
    if (this._options.path === '-') await this._writeStdout(chunk);
    else await this._writeFile(chunk);
    return records.map(() => DELIVERED);
  }

  /**
   * Reopens the output file before the next write (SIGHUP after logrotate renamed it): what is being written
   * finishes in the old file, everything after goes to a new file at the configured path.
   */
  reopen(): void {
    this._reopen = true;
  }

  async close(): Promise<void> {
    const h = this._handle;
    this._handle = undefined;
    await h?.close();
  }

  private async _writeStdout(chunk: string): Promise<void> {
    if (this._failed) throw this._stdoutError(this._failed);
    try {
      await new Promise<void>((resolve, reject) =>
        this._stdout.write(chunk, (err) => (err ? reject(err) : resolve())),
      );
    } catch (err) {
      this._failed = err as Error;
      this._log.error('Standard output is closed; stopping.', { error: err });
      this._stop(err as Error);
      throw this._stdoutError(err as Error);
    }
  }

  private _stdoutError(cause: Error): SinkError {
    // Retriable on purpose: the records stay outstanding until the runner closes (see the header).
    return new SinkError(FILE_SINK_ERRORS.stdoutClosed, `standard output is closed: ${cause.message}`, {
      retriable: true,
    });
  }

  private async _writeFile(chunk: string): Promise<void> {
    try {
      if (this._reopen && this._handle) {
        this._reopen = false;
        await this.close();
        this._log.info('Output file reopened.', { path: this._options.path });
      }
      this._handle ??= await open(this._options.path, 'a');
      await this._handle.write(chunk);
      if (this._options.fsync) await this._handle.datasync();
    } catch (err) {
      // A file error (disk full, permissions) may heal: the runner retries with backoff while the input waits.
      await this.close().catch(() => undefined);
      throw new SinkError(FILE_SINK_ERRORS.write, `${this._options.path}: ${(err as Error).message}`, {
        retriable: true,
      });
    }
  }
}
