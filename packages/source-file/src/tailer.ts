/**
 * Follows one file (one inode) for the file source: reads complete lines in units, checkpoints a position only
 * once its unit was acknowledged, reads gzip and whole-file channels as one unit, and handles rotation by
 * rename (read the old inode to its end once the path shows a new one) and by copytruncate (read the rest from
 * the rotated copy, then start over at 0). See file-source.ts for the rotation rules.
 */
import { createReadStream } from 'node:fs';
import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { UsageError, abortableSleep, isGzip, readHead } from '@ruletrail/core';
import {
  OffsetTracker,
  type FileSourceConfig,
  type IngestChoice,
  type SourceContext,
} from '@ruletrail/pipeline';
import {
  CHUNK_BYTES,
  HEAD_BYTES,
  MIN_COPY_HEAD,
  headHash,
  keyOf,
  lineCount,
  type FileBook,
  type FileState,
} from './file-state';

/** What a tailer needs from the source that opened it. */
export interface TailerOwner {
  readonly book: FileBook;
  /** Whether an identity is being read or was read (a rotated copy already handled is not read again). */
  known(key: string): boolean;
  /** This tailer is done with its file (a renamed file read to its end). */
  forget(key: string): void;
  /** This tailer reads a copytruncate copy itself: discovery must not open a second reader on it. */
  claim(key: string): void;
}

/** A file as discovery opened it. */
export interface OpenedFile {
  readonly path: string;
  readonly fh: FileHandle;
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
  /** Bytes hashed to identify it, and their hash. */
  readonly headLen: number;
  readonly head: string;
}

/** Where reading starts: a checkpoint, a rotated copy's known position, the end, or the start. */
export interface StartAt {
  readonly offset: number;
  readonly line: number;
  /** A whole-file input already fully acknowledged. */
  readonly done: boolean;
}

export class Tailer {
  readonly key: string;
  readonly path: string;
  readPos: number;
  size: number;
  /** Hash of the first 64 bytes (undefined while the file is shorter). */
  head64: string | undefined;
  private readonly _fh: FileHandle;
  private readonly _dev: number;
  private readonly _ino: number;
  private _headLen: number;
  private _head: string;
  private _done: boolean;
  private _line: number;
  /** Inside a line longer than a chunk whose head was emitted: the rest is skipped up to its newline. */
  private _skipLine = false;
  private _tracker: OffsetTracker;
  private _gen = 0;
  /** Trackers of content truncated away, by generation: their position now moves the copy's entry. */
  private readonly _retired = new Map<number, (pos: number, line: number) => void>();
  private _ingest: IngestChoice | undefined;
  private _closed = false;

  constructor(
    private readonly _owner: TailerOwner,
    private readonly _ctx: SourceContext,
    private readonly _cfg: FileSourceConfig,
    file: OpenedFile,
    start: StartAt,
  ) {
    this.path = file.path;
    this._fh = file.fh;
    this._dev = file.dev;
    this._ino = file.ino;
    this._headLen = file.headLen;
    this._head = file.head;
    this._done = start.done;
    this.key = keyOf(file.dev, file.ino);
    this.size = file.size;
    this.readPos = start.offset;
    this._line = start.line;
    this._tracker = this._newTracker(start.offset, start.line);
  }

  /** Line number at `readPos`. */
  get line(): number {
    return this._line;
  }

  get headLen(): number {
    return this._headLen;
  }

  get head(): string {
    return this._head;
  }

  /** The file's state as checkpointed: the acknowledged position, not the read one. */
  entry(): FileState {
    return {
      path: this.path,
      dev: this._dev,
      ino: this._ino,
      offset: this._tracker.committed,
      line: this._tracker.committedMark,
      headLen: this._headLen,
      head: this._head,
      ...(this.head64 ? { head64: this.head64 } : {}),
      ...(this._done ? { done: true } : {}),
    };
  }

  /** The state discovery compares a new file with: what was read already counts as handled. */
  liveEntry(saved: FileState): FileState {
    return {
      ...saved,
      offset: this.readPos,
      line: this._line,
      headLen: this._headLen,
      head: this._head,
      ...(this.head64 ? { head64: this.head64 } : {}),
    };
  }

  private _newTracker(offset: number, line: number): OffsetTracker {
    const gen = ++this._gen;
    return new OffsetTracker(
      offset,
      (pos, mark) => {
        // A tracker from before a truncation must not move the new position; it moves its copy's.
        if (gen === this._gen) this._owner.book.set(this.key, this.entry());
        else this._retired.get(gen)?.(pos, mark);
      },
      line,
    );
  }

  async run(): Promise<void> {
    try {
      const head = Buffer.alloc(8192);
      let { bytesRead } = await this._fh.read(head, 0, head.length, 0);
      // A tailed file may be empty (or hold half a line) when found: format detection waits for a first line.
      while (
        this._cfg.mode === 'tail' &&
        (this._cfg.format ?? 'auto') === 'auto' &&
        bytesRead < head.length &&
        !head.subarray(0, bytesRead).includes(0x0a)
      ) {
        if (this._ctx.signal.aborted) return;
        await abortableSleep(this._cfg.pollIntervalMs, this._ctx.signal);
        ({ bytesRead } = await this._fh.read(head, 0, head.length, 0));
      }
      // Sniff the decompressed start of a gzip file, as `ruletrail explain` does.
      const sniffed = isGzip(head) ? await readHead(this.path, 8192) : head.subarray(0, bytesRead);
      this._ingest = this._ctx.ingest(sniffed, this.path);
      const whole = isGzip(head) || this._ingest.framing === 'whole-file';
      if (whole && this._cfg.mode !== 'read' && isGzip(head)) {
        // A glob like kern.log* also matches logrotate's compressed generations: older than what is tailed.
        this._ctx.log.debug('Not tailing a compressed file.', { path: this.path });
        return;
      }
      if (whole) {
        if (this._cfg.mode !== 'read')
          throw new UsageError(`${this.path}: gzip and binary captures are read with mode: read, not tailed`);
        await this._readWhole();
      } else if (this._cfg.mode === 'read') {
        while ((await this._readOnce(true)) > 0 && !this._ctx.signal.aborted);
      } else await this._tail();
    } catch (err) {
      if (err instanceof UsageError)
        this._ctx.log.error('Cannot read a file.', { path: this.path, error: err });
      else throw err;
    } finally {
      await this.close();
    }
  }

  async close(): Promise<void> {
    if (this._closed) return;
    this._closed = true;
    await this._fh.close();
  }

  /** Hands one chunk of lines on as a unit; `segment` acknowledges it. */
  private _emitLines(
    origin: string,
    data: Buffer,
    firstLine: number,
    segment: ReturnType<OffsetTracker['open']>,
  ): Promise<void> {
    return this._ctx.emit({
      origin,
      data,
      firstLine,
      adapter: this._ingest!.adapter,
      decode: this._ingest!.decode,
      segment,
    });
  }

  /** Reads what is there; emits complete lines (and a final partial line when `final`). Returns bytes consumed. */
  private async _readOnce(final: boolean): Promise<number> {
    let consumed = 0;
    const buf = Buffer.allocUnsafe(CHUNK_BYTES);
    for (;;) {
      if (this._ctx.signal.aborted) return consumed;
      const { bytesRead } = await this._fh.read(buf, 0, CHUNK_BYTES, this.readPos);
      if (bytesRead === 0) return consumed;
      if (this._skipLine) {
        // The rest of an over-long line: dropped through its newline (the line was counted with its head).
        const nl = buf.subarray(0, bytesRead).indexOf(0x0a);
        const skip = nl >= 0 ? nl + 1 : bytesRead;
        if (nl >= 0) this._skipLine = false;
        this.readPos += skip;
        consumed += skip;
        continue;
      }
      let take = buf.lastIndexOf(0x0a, bytesRead - 1) + 1;
      if (take === 0) {
        // No newline: a partial line (wait for the rest) unless this is the end, or the line is absurdly long.
        if (!final && bytesRead < CHUNK_BYTES) return consumed;
        take = bytesRead;
        // A line longer than a chunk: its head goes on as one line (the adapter's line cap dead-letters it) and
        // the rest is skipped, so it is neither split into several records nor shifts later line numbers (caught
        // by test/run-caps.test.ts, issue #15: a 3 MiB line became 12 dead letters and renumbered the file).
        if (bytesRead === CHUNK_BYTES) this._skipLine = true;
      } else if (final && bytesRead < CHUNK_BYTES && take < bytesRead) take = bytesRead;
      const data = Buffer.from(buf.subarray(0, take));
      const lines = lineCount(data);
      const firstLine = this._line;
      this.readPos += take;
      this._line += lines;
      this.size = Math.max(this.size, this.readPos);
      consumed += take;
      this._ctx.metrics.received(lines);
      await this._emitLines(this.path, data, firstLine, this._tracker.open(this.readPos, this._line));
      this._ctx.metrics.sent(lines);
      if (this._headLen < HEAD_BYTES || !this.head64) await this._refreshHead();
    }
  }

  private async _refreshHead(): Promise<void> {
    const len = Math.min(HEAD_BYTES, this.readPos);
    if (!this.head64 && this.readPos >= MIN_COPY_HEAD) this.head64 = await headHash(this._fh, MIN_COPY_HEAD);
    if (len <= this._headLen) return;
    this._headLen = len;
    this._head = await headHash(this._fh, len);
  }

  private async _readWhole(): Promise<void> {
    if (this._done) return;
    const st = await this._fh.stat();
    this.size = st.size;
    const raw = createReadStream(this.path, { highWaterMark: CHUNK_BYTES });
    const head = Buffer.alloc(2);
    await this._fh.read(head, 0, 2, 0);
    // Progress counts compressed bytes read: what the file size is measured in.
    const counted = async function* (this: Tailer): AsyncIterable<Buffer> {
      for await (const c of raw as AsyncIterable<Buffer>) {
        this.readPos += c.length;
        yield c;
      }
    }.call(this);
    const stream: AsyncIterable<Buffer> = isGzip(head)
      ? Readable.from(counted).pipe(createGunzip({ chunkSize: CHUNK_BYTES }))
      : counted;
    const tracker = new OffsetTracker(0, () => {
      this._done = true;
      this._owner.book.set(this.key, this.entry());
    });
    this._ctx.metrics.received();
    await this._ctx.emit({
      origin: this.path,
      data: stream,
      adapter: this._ingest!.adapter,
      decode: this._ingest!.decode,
      segment: tracker.open(st.size),
    });
    this._ctx.metrics.sent();
  }

  private async _tail(): Promise<void> {
    const poll = this._cfg.pollIntervalMs;
    // After a rename, keep reading the old inode until it has been quiet this long (the writer reopens late).
    const grace = Math.max(1000, poll * 4);
    let renamedAt: number | undefined;
    while (!this._ctx.signal.aborted) {
      if ((await this._readOnce(false)) > 0) {
        renamedAt = undefined;
        continue;
      }
      const st = await this._fh.stat();
      // Shrunk below our position, or (rewritten past it already) different first bytes: truncated.
      if (
        st.size < this.readPos ||
        (this._headLen > 0 && (await headHash(this._fh, this._headLen)) !== this._head)
      ) {
        await this._copyTruncated(st.size);
        continue;
      }
      this.size = st.size;
      if (!(await this._pathStillOurs())) {
        renamedAt ??= Date.now();
        if (Date.now() - renamedAt >= grace) {
          await this._readOnce(true);
          this._ctx.log.info('A rotated file was read to its end.', {
            path: this.path,
            offset: this.readPos,
          });
          this._owner.forget(this.key);
          return;
        }
      }
      await abortableSleep(poll, this._ctx.signal);
    }
  }

  /** Whether our path still names our inode (not after a rename by logrotate). */
  private async _pathStillOurs(): Promise<boolean> {
    try {
      const p = await stat(this.path);
      return p.ino === this._ino && p.dev === this._dev;
    } catch {
      return false;
    }
  }

  /** The file shrank under us: read the rest from the rotated copy, then start over at 0. */
  private async _copyTruncated(newSize: number): Promise<void> {
    const from = this.readPos;
    const copy = await this._findCopy(from);
    this._ctx.log.info('File truncated (copytruncate).', {
      path: this.path,
      offset: from,
      size: newSize,
      copy: copy?.path,
    });
    if (copy) await this._readCopy(copy, from, this._line);
    this.readPos = 0;
    this._line = 1;
    this._skipLine = false;
    this._headLen = 0;
    this._head = '';
    this.head64 = undefined;
    this._tracker = this._newTracker(0, 1);
    this._owner.book.set(this.key, this.entry());
  }

  /**
   * Reads a rotated copy from our position to its end, checkpointed under the copy's own identity. The copy holds
   * the same bytes at the same offsets, so the tracker of what was read before the truncation goes on over the
   * copy: the copy's checkpoint is the first byte not yet acknowledged — records still in flight from the
   * original are read again from the copy after a crash, never skipped (a fresh tracker at `from` lost them:
   * found by test/chaos, scenario kill).
   */
  private async _readCopy(copy: { path: string; fh: FileHandle }, from: number, line: number): Promise<void> {
    const st = await copy.fh.stat();
    const key = keyOf(st.dev, st.ino);
    this._owner.claim(key);
    const headLen = this._headLen;
    const head = this._head;
    const save = (offset: number, mark: number): void =>
      this._owner.book.set(key, {
        path: copy.path,
        dev: st.dev,
        ino: st.ino,
        offset,
        line: mark,
        headLen,
        head,
      });
    const tracker = this._tracker;
    this._retired.set(this._gen, save);
    // Registered now, so a restart (or the glob discovery) resumes there instead of re-reading it whole.
    save(tracker.committed, tracker.committedMark);
    let pos = from;
    let ln = line;
    const buf = Buffer.allocUnsafe(CHUNK_BYTES);
    for (;;) {
      const { bytesRead } = await copy.fh.read(buf, 0, CHUNK_BYTES, pos);
      if (bytesRead === 0) break;
      const data = Buffer.from(buf.subarray(0, bytesRead));
      const first = ln;
      pos += bytesRead;
      ln += lineCount(data);
      this._ctx.metrics.received(ln - first);
      await this._emitLines(copy.path, data, first, tracker.open(pos, ln));
    }
    await copy.fh.close();
  }

  /** A sibling (`kern.log.1`, `kern.log-20230101`) with our first bytes and more data than we read. */
  private async _findCopy(from: number): Promise<{ path: string; fh: FileHandle } | undefined> {
    if (this._headLen < MIN_COPY_HEAD) return undefined;
    const dir = dirname(this.path);
    const base = basename(this.path);
    let names: string[];
    try {
      names = (await readdir(dir)).filter((n) => n !== base && n.startsWith(base) && !n.endsWith('.gz'));
    } catch {
      return undefined;
    }
    for (const n of names) {
      const p = join(dir, n);
      let fh: FileHandle | undefined;
      try {
        fh = await open(p, 'r');
        const st = await fh.stat();
        if (!st.isFile() || st.size < from || this._owner.known(keyOf(st.dev, st.ino))) {
          await fh.close();
          continue;
        }
        if ((await headHash(fh, this._headLen)) === this._head) return { path: p, fh };
        await fh.close();
      } catch {
        await fh?.close().catch(() => undefined);
      }
    }
    return undefined;
  }
}
