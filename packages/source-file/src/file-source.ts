/**
 * The file source: reads files once (`mode: read`) or follows them (`mode: tail`), checkpointing each file's
 * offset only once every record derived from the lines before it was acknowledged by every sink.
 *
 * Identity: a file is its (device, inode), checked against a hash of its first bytes (up to 1 KiB) so a
 * recycled inode is not mistaken for the old file. Units end on a line boundary, so a checkpoint is always the
 * start of a line (and its line number is kept with it, so origins name true lines after a restart).
 *
 * Rotation:
 *  - by rename (logrotate's default): the open descriptor still reads the old inode; once the path shows a new
 *    inode and the old file stopped growing, the old one is read to its end and closed, and the new file is
 *    read from its start;
 *  - by copytruncate: the file shrinks below our position. Lines written between our last read and the copy
 *    exist only in the copy, so the rotated sibling whose first bytes match ours (`kern.log.1`,
 *    `kern.log-2023…`) is read from our position to its end first; then the truncated file from its start.
 *    (Lines written between the copy and the truncation are lost: copytruncate's own window.)
 * A rotated copy that a glob also matches is recognised by its first bytes and resumes at the known offset
 * rather than being read again.
 *
 * gzip files and binary channels (pcap) are read whole, as one unit, in read mode; their checkpoint is
 * "done" once every packet of the file was acknowledged (a crash re-reads the whole file).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { UsageError, isGzip, readHead, type IngestAdapter } from '@ruletrail/core';
import {
  OffsetTracker,
  pickAdapter,
  type FileSourceConfig,
  type Progress,
  type Source,
  type SourceContext,
} from '@ruletrail/pipeline';
import { expandGlobs } from './glob';

/**
 * Largest read; a unit is at most this big. Small enough that one unit's events and packets stay a few MB of
 * heap and a replay after a crash repeats little; large enough that the per-unit cost is noise.
 */
const CHUNK_BYTES = 256 << 10;
/** Bytes hashed to recognise a file. */
const HEAD_BYTES = 1024;
/** Fewest head bytes that identify a copy (shorter heads are too likely to collide). */
const MIN_COPY_HEAD = 64;
/** Discovery passes (about a second each) a possible copy in progress is waited for. */
const MAX_DEFERRALS = 5;
/** Channels whose input is not line-framed. */
const BINARY_CHANNELS = new Set(['nflog-pcap']);

/** Persisted state of one file. */
interface FileState {
  path: string;
  dev: number;
  ino: number;
  /** Acknowledged byte offset (a line start). */
  offset: number;
  /** Line number at `offset`. */
  line: number;
  headLen: number;
  head: string;
  /** Hash of the first 64 bytes, once the file has them: recognises a copy still being written. */
  head64?: string;
  /** Whole-file inputs: every packet acknowledged. */
  done?: boolean;
}

interface Persisted {
  files: Record<string, FileState>;
}

function keyOf(dev: number, ino: number): string {
  return `${dev}:${ino}`;
}

async function headHash(fh: FileHandle, len: number): Promise<string> {
  const buf = Buffer.alloc(len);
  const { bytesRead } = await fh.read(buf, 0, len, 0);
  return createHash('sha256').update(buf.subarray(0, bytesRead)).digest('hex');
}

function countNewlines(buf: Buffer): number {
  let n = 0;
  for (let p = buf.indexOf(0x0a); p >= 0; p = buf.indexOf(0x0a, p + 1)) n++;
  return n;
}

/** Reads or tails the files of one `type: file` source. */
export class FileSource implements Source {
  readonly id: string;
  readonly finite: boolean;
  private _state: Persisted = { files: {} };
  private readonly _tailers = new Map<string, Tailer>();
  private _ctx: SourceContext | undefined;
  private _firstPass = true;
  /** New files skipped while they may be copies still being written, with the passes skipped. */
  private readonly _deferred = new Map<string, number>();
  /** Copies (copytruncate) read by the tailer of the truncated file: the glob discovery leaves them alone. */
  private readonly _claimed = new Set<string>();

  constructor(private readonly _config: FileSourceConfig) {
    this.id = _config.id;
    this.finite = _config.mode === 'read';
  }

  progress(): Progress | undefined {
    let done = 0;
    let total = 0;
    for (const t of this._tailers.values()) {
      done += t.readPos;
      total += Math.max(t.size, t.readPos);
    }
    return { done, total };
  }

  async run(ctx: SourceContext): Promise<void> {
    this._ctx = ctx;
    const saved = ctx.checkpoint?.get() as Persisted | undefined;
    if (saved && typeof saved === 'object' && saved.files) this._state = saved;
    const running = new Set<Promise<void>>();
    for (;;) {
      const found = await this._discover();
      for (const t of found) {
        const p = t
          .run()
          .catch((err: unknown) => ctx.log.error('Reading a file failed.', { path: t.path, error: err }));
        running.add(p);
        void p.finally(() => running.delete(p));
      }
      this._firstPass = false;
      if (this.finite || ctx.signal.aborted) break;
      await sleep(Math.max(1000, this._config.pollIntervalMs * 4), ctx.signal);
      if (ctx.signal.aborted) break;
    }
    if (this.finite && this._tailers.size === 0)
      ctx.log.warn('No file matched.', { paths: this._config.paths });
    await Promise.all(running);
  }

  async close(): Promise<void> {
    for (const t of this._tailers.values()) await t.close();
    this._save();
  }

  /** Persists the state object (the store writes it soon, atomically). */
  _save(): void {
    this._ctx?.checkpoint?.set(this._state);
  }

  /** State of a file, by identity. */
  _entry(key: string): FileState | undefined {
    return this._state.files[key];
  }

  _setEntry(key: string, e: FileState): void {
    this._state.files[key] = e;
    this._save();
  }

  /** Whether a (device, inode) is being read or was read. */
  _known(key: string): boolean {
    return this._tailers.has(key) || this._state.files[key] !== undefined;
  }

  /** New files matching the globs, with their start positions. */
  private async _discover(): Promise<Tailer[]> {
    const ctx = this._ctx!;
    const paths = await expandGlobs(this._config.paths);
    const out: Tailer[] = [];
    const seen = new Set<string>();
    for (const path of paths) {
      let fh: FileHandle;
      try {
        fh = await open(path, 'r');
      } catch (err) {
        ctx.log.warn('Cannot open a matched file.', { path, error: err });
        continue;
      }
      const st = await fh.stat();
      const key = keyOf(st.dev, st.ino);
      seen.add(key);
      if (this._tailers.has(key) || this._claimed.has(key)) {
        await fh.close();
        continue;
      }
      const headLen = Math.min(HEAD_BYTES, st.size);
      const head = await headHash(fh, headLen);
      let start = { offset: 0, line: 1 };
      let done = false;
      const saved = this._state.files[key];
      if (saved && saved.headLen <= st.size && (await headHash(fh, saved.headLen)) === saved.head) {
        done = saved.done === true;
        if (saved.offset <= st.size) start = { offset: saved.offset, line: saved.line };
        if (start.offset > 0)
          ctx.log.info('Resuming a file at its checkpoint.', {
            path,
            offset: start.offset,
            line: start.line,
          });
      } else {
        const copyOf = await this._copyOf(fh, st.size, key);
        if (copyOf === 'live') {
          // A copy of a file still tailed: its tailer reads the copy itself when it sees the truncation (with
          // the acknowledgement state of what it already read); a second reader here would checkpoint the copy
          // past records still in flight, lost if the process dies (found by test/chaos, scenario kill).
          await fh.close();
          continue;
        }
        if (copyOf === 'wait') {
          // Maybe a copy still being written (logrotate's copytruncate copies in place): look again next pass,
          // for a few passes at most.
          const n = (this._deferred.get(key) ?? 0) + 1;
          if (n <= MAX_DEFERRALS) {
            this._deferred.set(key, n);
            await fh.close();
            continue;
          }
        }
        this._deferred.delete(key);
        if (copyOf && copyOf !== 'wait') {
          start = { offset: copyOf.offset, line: copyOf.line };
          ctx.log.info('A rotated copy of a known file: resuming at the known position.', {
            path,
            of: copyOf.path,
            offset: start.offset,
          });
        } else if (this._firstPass && this._config.startAt === 'end' && this._config.mode === 'tail') {
          // Start at the last complete line, so the next unit starts on a line boundary.
          const tailStart = await lastLineStart(fh, st.size);
          start = { offset: tailStart, line: 1 };
        }
      }
      const t = new Tailer(
        this,
        ctx,
        this._config,
        path,
        fh,
        st.dev,
        st.ino,
        st.size,
        start.offset,
        start.line,
        headLen,
        head,
        done,
      );
      if (st.size >= MIN_COPY_HEAD) t.head64 = await headHash(fh, MIN_COPY_HEAD);
      this._tailers.set(key, t);
      this._setEntry(key, t.entry());
      out.push(t);
    }
    // Forget files that are gone; a file still present keeps its entry so it is never read twice.
    for (const k of Object.keys(this._state.files))
      if (!seen.has(k) && !this._tailers.has(k)) delete this._state.files[k];
    return out;
  }

  /**
   * The known file whose first bytes this file starts with (a copy made by copytruncate), `wait` when it may be
   * one still being copied (too short to tell, or shorter than what we read of the original), `live` when it is a
   * copy of a file being tailed now, else undefined.
   */
  private async _copyOf(
    fh: FileHandle,
    size: number,
    key: string,
  ): Promise<FileState | 'wait' | 'live' | undefined> {
    if (this._firstPass) return undefined;
    let wait = false;
    for (const [k, e] of Object.entries(this._state.files)) {
      if (k === key) continue;
      // A file still being read: what it already handed on (acknowledged or in flight) is not read again.
      const live = this._tailers.get(k);
      const at: FileState = live
        ? {
            ...e,
            offset: live.readPos,
            line: live.line,
            headLen: live.headLen,
            head: live.head,
            ...(live.head64 ? { head64: live.head64 } : {}),
          }
        : e;
      if (at.headLen < MIN_COPY_HEAD || !at.head64) continue;
      if (size < MIN_COPY_HEAD) {
        wait = true;
        continue;
      }
      if ((await headHash(fh, MIN_COPY_HEAD)) !== at.head64) continue;
      if (live && (await headHash(fh, at.headLen)) === at.head) return 'live';
      if (size >= at.headLen && size >= at.offset && (await headHash(fh, at.headLen)) === at.head) return at;
      wait = true;
    }
    return wait ? 'wait' : undefined;
  }

  _forget(key: string): void {
    this._tailers.delete(key);
  }

  _claim(key: string): void {
    this._claimed.add(key);
  }
}

/** Follows one file (one inode). */
class Tailer {
  readonly key: string;
  readPos: number;
  size: number;
  private _line: number;
  /** Inside a line longer than a chunk whose head was emitted: the rest is skipped up to its newline. */
  private _skipLine = false;
  private _tracker: OffsetTracker;
  private _gen = 0;
  private _adapter: IngestAdapter | undefined;
  private _closed = false;

  constructor(
    private readonly _src: FileSource,
    private readonly _ctx: SourceContext,
    private readonly _cfg: FileSourceConfig,
    readonly path: string,
    private _fh: FileHandle,
    private readonly _dev: number,
    private readonly _ino: number,
    size: number,
    offset: number,
    line: number,
    private _headLen: number,
    private _head: string,
    private _done: boolean,
  ) {
    this.key = keyOf(_dev, _ino);
    this.size = size;
    this.readPos = offset;
    this._line = line;
    this._tracker = this._newTracker(offset, line);
  }

  /** Line number at `readPos`. */
  get line(): number {
    return this._line;
  }

  /** Hash of the first 64 bytes (undefined while the file is shorter). */
  head64: string | undefined;

  /** Bytes hashed to identify the file, and the hash. */
  get headLen(): number {
    return this._headLen;
  }

  get head(): string {
    return this._head;
  }

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

  /** Trackers of content truncated away, by generation: their position now moves the copy's entry. */
  private readonly _retired = new Map<number, (pos: number, line: number) => void>();

  private _newTracker(offset: number, line: number): OffsetTracker {
    const gen = ++this._gen;
    return new OffsetTracker(
      offset,
      (pos, mark) => {
        // A tracker from before a truncation must not move the new position; it moves its copy's.
        if (gen === this._gen) this._src._setEntry(this.key, this.entry());
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
        await sleep(this._cfg.pollIntervalMs, this._ctx.signal);
        ({ bytesRead } = await this._fh.read(head, 0, head.length, 0));
      }
      // Sniff the decompressed start of a gzip file, as `ruletrail explain` does.
      const sniffed = isGzip(head) ? await readHead(this.path, 8192) : head.subarray(0, bytesRead);
      this._adapter = pickAdapter(this._ctx.adapters, this._cfg.format, sniffed, this.path);
      const whole = isGzip(head) || BINARY_CHANNELS.has(this._adapter.channel);
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
      const lines = countNewlines(data) + (data[data.length - 1] === 0x0a ? 0 : 1);
      const firstLine = this._line;
      this.readPos += take;
      this._line += lines;
      this.size = Math.max(this.size, this.readPos);
      consumed += take;
      this._ctx.metrics.received(lines);
      await this._ctx.emit({
        origin: this.path,
        data,
        firstLine,
        adapter: this._adapter!,
        decode: decodeOptions(this._cfg),
        segment: this._tracker.open(this.readPos, this._line),
      });
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
      this._src._setEntry(this.key, this.entry());
    });
    this._ctx.metrics.received();
    await this._ctx.emit({
      origin: this.path,
      data: stream,
      adapter: this._adapter!,
      decode: decodeOptions(this._cfg),
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
      let same = false;
      try {
        const p = await stat(this.path);
        same = p.ino === this._ino && p.dev === this._dev;
      } catch {
        same = false;
      }
      if (!same) {
        renamedAt ??= Date.now();
        if (Date.now() - renamedAt >= grace) {
          await this._readOnce(true);
          this._ctx.log.info('A rotated file was read to its end.', {
            path: this.path,
            offset: this.readPos,
          });
          this._src._forget(this.key);
          return;
        }
      }
      await sleep(poll, this._ctx.signal);
    }
  }

  /** The file shrank under us: read the rest from the rotated copy, then start over at 0. */
  private async _copyTruncated(newSize: number): Promise<void> {
    const from = this.readPos;
    const line = this._line;
    const copy = await this._findCopy(from);
    this._ctx.log.info('File truncated (copytruncate).', {
      path: this.path,
      offset: from,
      size: newSize,
      copy: copy?.path,
    });
    if (copy) {
      const st = await copy.fh.stat();
      const key = keyOf(st.dev, st.ino);
      this._src._claim(key);
      // The copy holds the same bytes at the same offsets, so the tracker of what was read before the truncation
      // goes on over the copy: the copy's checkpoint is the first byte not yet acknowledged — records still in
      // flight from the original are read again from the copy after a crash, never skipped.
      const tracker = this._tracker;
      const headLen = this._headLen;
      const head = this._head;
      const save = (pos: number, mark: number): void =>
        this._src._setEntry(key, {
          path: copy.path,
          dev: st.dev,
          ino: st.ino,
          offset: pos,
          line: mark,
          headLen,
          head,
        });
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
        const lines = countNewlines(data) + (data[data.length - 1] === 0x0a ? 0 : 1);
        const first = ln;
        pos += bytesRead;
        ln += lines;
        this._ctx.metrics.received(lines);
        await this._ctx.emit({
          origin: copy.path,
          data,
          firstLine: first,
          adapter: this._adapter!,
          decode: decodeOptions(this._cfg),
          segment: tracker.open(pos, ln),
        });
      }
      await copy.fh.close();
    }
    this.readPos = 0;
    this._line = 1;
    this._skipLine = false;
    this._headLen = 0;
    this._head = '';
    this.head64 = undefined;
    this._tracker = this._newTracker(0, 1);
    this._src._setEntry(this.key, this.entry());
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
        if (!st.isFile() || st.size < from || this._src._known(keyOf(st.dev, st.ino))) {
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

function decodeOptions(c: FileSourceConfig): { host?: string; year?: number; utcOffsetMinutes?: number } {
  return {
    ...(c.host !== undefined ? { host: c.host } : {}),
    ...(c.year !== undefined ? { year: c.year } : {}),
    ...(c.utcOffsetMinutes !== undefined ? { utcOffsetMinutes: c.utcOffsetMinutes } : {}),
  };
}

/** Offset just after the last newline before `size` (0 when there is none). */
async function lastLineStart(fh: FileHandle, size: number): Promise<number> {
  const len = Math.min(size, CHUNK_BYTES);
  const buf = Buffer.alloc(len);
  await fh.read(buf, 0, len, size - len);
  const i = buf.lastIndexOf(0x0a);
  return i < 0 ? (size > len ? size - len : 0) : size - len + i + 1;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
