/**
 * The embedded default sink: NDJSON, one record per line, appended to a file or written to stdout. Needs no
 * external service, so `ruletrail run` works out of the box.
 *
 * A record is acknowledged once its line was handed to the operating system (the write completed): that
 * survives a crash or SIGKILL of ruletrail. With `fsync: true` it is acknowledged only after fdatasync, which
 * also survives a power cut. Lines are written in large chunks; a slow reader of stdout delays the
 * acknowledgements, which is how backpressure reaches the sources. When stdout's reader goes away (EPIPE), the
 * records are left unacknowledged and the run is asked to stop.
 */
import { open, type FileHandle } from 'node:fs/promises';
import type {
  FileSinkConfig,
  FinalStatus,
  Logger,
  OutputRecord,
  RecordKind,
  RecordSink,
} from '@ruletrail/pipeline';

type Done = (status: FinalStatus, reason?: string) => void;

const CHUNK_BYTES = 1 << 16;
const RETRY_MS = 1000;

/** NDJSON to a file or stdout. */
export class FileSink implements RecordSink {
  readonly id: string;
  readonly kinds: ReadonlySet<RecordKind>;
  private _lines: string[] = [];
  private _dones: Done[] = [];
  private _size = 0;
  private _writing: Promise<void> | undefined;
  private _scheduled = false;
  private _handle: FileHandle | undefined;
  private _pending = 0;
  private _drainWaiters: (() => void)[] = [];
  private _closed = false;
  private _reopen = false;
  /** stdout failed for good: records are no longer written or acknowledged. */
  private _failed: Error | undefined;

  constructor(
    private readonly _config: Pick<FileSinkConfig, 'id' | 'path' | 'records' | 'fsync'>,
    private readonly _log: Logger,
    /** Where `-` writes: stdout unless a test says otherwise. */
    private readonly _stdout: NodeJS.WritableStream = process.stdout,
    /** Called once when stdout is gone for good (the run should stop: nothing more can be delivered). */
    private readonly _onFatal: (err: Error) => void = () => undefined,
  ) {
    this.id = _config.id;
    this.kinds = new Set(_config.records);
    // EPIPE also arrives as an 'error' event; unhandled it would crash the process. The write callback handles it.
    if (_config.path === '-') _stdout.on('error', () => undefined);
  }

  /** Records queued or being written. */
  get pending(): number {
    return this._pending;
  }

  send(record: OutputRecord, done: Done): void {
    if (this._closed) {
      done('rejected', 'sink closed');
      return;
    }
    const line = JSON.stringify(record.body);
    this._lines.push(line, '\n');
    this._dones.push(done);
    this._size += line.length + 1;
    this._pending++;
    if (this._size >= CHUNK_BYTES) this._kick();
    else if (!this._scheduled) {
      // Coalesce what arrives in the same turn of the event loop into one write.
      this._scheduled = true;
      setImmediate(() => {
        this._scheduled = false;
        this._kick();
      });
    }
  }

  async flush(timeoutMs: number): Promise<void> {
    this._kick();
    if (this._pending === 0 || this._failed) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, timeoutMs);
      t.unref();
      this._drainWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /**
   * Reopens the output file before the next write (SIGHUP after logrotate renamed it): what is being written
   * finishes in the old file, everything after goes to a new file at the configured path.
   */
  reopen(): void {
    this._reopen = true;
  }

  async close(): Promise<void> {
    this._closed = true;
    await this._writing;
    await this._handle?.close();
    this._handle = undefined;
  }

  private _kick(): void {
    if (this._writing || this._size === 0 || this._failed) return;
    const chunk = this._lines.join('');
    const dones = this._dones;
    this._lines = [];
    this._dones = [];
    this._size = 0;
    this._writing = this._write(chunk).then(
      () => {
        this._writing = undefined;
        this._pending -= dones.length;
        for (const d of dones) d('delivered');
        if (this._pending === 0) for (const w of this._drainWaiters.splice(0)) w();
        this._kick();
      },
      (err: Error) => {
        // stdout gone (EPIPE: the reader exited). Nothing written there can ever be acknowledged, and rejecting
        // would let the sources checkpoint past records nobody received: leave them unacknowledged (read again
        // after a restart) and ask the run to stop.
        this._writing = undefined;
        this._failed = err;
        this._log.error('Standard output is closed; stopping.', { error: err });
        this._onFatal(err);
        for (const w of this._drainWaiters.splice(0)) w();
      },
    );
  }

  private async _write(chunk: string): Promise<void> {
    if (this._config.path === '-') {
      await new Promise<void>((resolve, reject) =>
        this._stdout.write(chunk, (err) => (err ? reject(err) : resolve())),
      );
      return;
    }
    // A file error (disk full, permissions) may heal: retry until it does; the backpressure holds the input.
    for (let attempt = 1; ; attempt++) {
      try {
        if (this._reopen && this._handle) {
          this._reopen = false;
          await this._handle.close();
          this._handle = undefined;
          this._log.info('Output file reopened.', { path: this._config.path });
        }
        this._handle ??= await open(this._config.path, 'a');
        await this._handle.write(chunk);
        if (this._config.fsync) await this._handle.datasync();
        return;
      } catch (err) {
        if (this._closed) throw err;
        this._log.warn('Writing the output file failed; retrying.', {
          path: this._config.path,
          attempt,
          error: err,
        });
        await this._handle?.close().catch(() => undefined);
        this._handle = undefined;
        await new Promise((r) => setTimeout(r, RETRY_MS));
      }
    }
  }
}

/** Builds the sink from its validated config. */
export function createFileSink(config: FileSinkConfig, log: Logger): FileSink {
  return new FileSink(config, log);
}
