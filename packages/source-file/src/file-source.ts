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
 * gzip files and whole-file channels (pcap, CSV: their ingest plugin's framing) are read whole, as one unit, in
 * read mode; their checkpoint is "done" once every packet of the file was acknowledged (a crash re-reads the whole
 * file).
 *
 * This module finds the files (globs, identity, where each starts); tailer.ts reads one file; file-state.ts holds
 * identities and the checkpointed positions.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { abortableSleep } from '@ruletrail/core';
import type { FileSourceConfig, Progress, Source, SourceContext } from '@ruletrail/pipeline';
import {
  FileBook,
  HEAD_BYTES,
  MIN_COPY_HEAD,
  headHash,
  keyOf,
  lastLineStart,
  type FileState,
} from './file-state';
import { expandGlobs } from './glob';
import { Tailer, type StartAt, type TailerOwner } from './tailer';

/** Discovery passes (about a second each) a possible copy in progress is waited for. */
const MAX_DEFERRALS = 5;

/** Reads or tails the files of one `type: file` source. */
export class FileSource implements Source, TailerOwner {
  readonly id: string;
  readonly finite: boolean;
  private _book = new FileBook(undefined);
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

  get book(): FileBook {
    return this._book;
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
    this._book = new FileBook(ctx.checkpoint);
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
      await abortableSleep(Math.max(1000, this._config.pollIntervalMs * 4), ctx.signal);
      if (ctx.signal.aborted) break;
    }
    if (this.finite && this._tailers.size === 0)
      ctx.log.warn('No file matched.', { paths: this._config.paths });
    await Promise.all(running);
  }

  async close(): Promise<void> {
    for (const t of this._tailers.values()) await t.close();
    this._book.save();
  }

  known(key: string): boolean {
    return this._tailers.has(key) || this._book.get(key) !== undefined;
  }

  forget(key: string): void {
    this._tailers.delete(key);
  }

  claim(key: string): void {
    this._claimed.add(key);
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
      const start = await this._startOf(path, fh, st.size, key);
      if (start === 'wait' || start === 'live') {
        await fh.close();
        continue;
      }
      const t = new Tailer(
        this,
        ctx,
        this._config,
        { path, fh, dev: st.dev, ino: st.ino, size: st.size, headLen, head },
        start,
      );
      if (st.size >= MIN_COPY_HEAD) t.head64 = await headHash(fh, MIN_COPY_HEAD);
      this._tailers.set(key, t);
      this._book.set(key, t.entry());
      out.push(t);
    }
    this._book.keepOnly((k) => seen.has(k) || this._tailers.has(k));
    return out;
  }

  /**
   * Where a newly found file starts: its checkpoint (same identity, same first bytes), the known position of the
   * file it is a rotated copy of, the last complete line (`startAt: end`), or its start; `wait` while it may be
   * a copy still being written.
   */
  private async _startOf(
    path: string,
    fh: FileHandle,
    size: number,
    key: string,
  ): Promise<StartAt | 'wait' | 'live'> {
    const ctx = this._ctx!;
    const saved = this._book.get(key);
    if (saved && saved.headLen <= size && (await headHash(fh, saved.headLen)) === saved.head) {
      const resume = saved.offset <= size;
      if (resume && saved.offset > 0)
        ctx.log.info('Resuming a file at its checkpoint.', { path, offset: saved.offset, line: saved.line });
      return {
        offset: resume ? saved.offset : 0,
        line: resume ? saved.line : 1,
        done: saved.done === true,
      };
    }
    const copyOf = await this._copyOf(fh, size, key);
    // A copy of a file still tailed: its tailer reads the copy itself when it sees the truncation (with the
    // acknowledgement state of what it already read); a second reader here would checkpoint the copy past
    // records still in flight, lost if the process dies (found by test/chaos, scenario kill).
    if (copyOf === 'live') return 'live';
    if (copyOf === 'wait') {
      // Maybe a copy still being written (logrotate's copytruncate copies in place): look again next pass,
      // for a few passes at most.
      const n = (this._deferred.get(key) ?? 0) + 1;
      if (n <= MAX_DEFERRALS) {
        this._deferred.set(key, n);
        return 'wait';
      }
    }
    this._deferred.delete(key);
    if (copyOf && copyOf !== 'wait') {
      ctx.log.info('A rotated copy of a known file: resuming at the known position.', {
        path,
        of: copyOf.path,
        offset: copyOf.offset,
      });
      return { offset: copyOf.offset, line: copyOf.line, done: false };
    }
    if (this._firstPass && this._config.startAt === 'end' && this._config.mode === 'tail')
      // Start at the last complete line, so the next unit starts on a line boundary.
      return { offset: await lastLineStart(fh, size), line: 1, done: false };
    return { offset: 0, line: 1, done: false };
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
    for (const [k, e] of this._book.entries()) {
      if (k === key) continue;
      // A file still being read: what it already handed on (acknowledged or in flight) is not read again.
      const live = this._tailers.get(k);
      const at = live?.liveEntry(e) ?? e;
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
}
