/**
 * What the file source knows about each file: its identity (device, inode, and a hash of its first bytes so a
 * recycled inode is not taken for the old file), the acknowledged position, and the checkpointed book of them.
 */
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import type { CheckpointSlot } from '@ruletrail/pipeline';

/**
 * Largest read; a unit is at most this big. Small enough that one unit's events and packets stay a few MB of
 * heap and a replay after a crash repeats little; large enough that the per-unit cost is noise.
 */
export const CHUNK_BYTES = 256 << 10;
/** Bytes hashed to recognise a file. */
export const HEAD_BYTES = 1024;
/** Fewest head bytes that identify a copy (shorter heads are too likely to collide). */
export const MIN_COPY_HEAD = 64;

/** Persisted state of one file. */
export interface FileState {
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

export function keyOf(dev: number, ino: number): string {
  return `${dev}:${ino}`;
}

export async function headHash(fh: FileHandle, len: number): Promise<string> {
  const buf = Buffer.alloc(len);
  const { bytesRead } = await fh.read(buf, 0, len, 0);
  return createHash('sha256').update(buf.subarray(0, bytesRead)).digest('hex');
}

/** Lines a chunk holds (a last line without its newline counts). */
export function lineCount(buf: Buffer): number {
  let n = 0;
  for (let p = buf.indexOf(0x0a); p >= 0; p = buf.indexOf(0x0a, p + 1)) n++;
  return n + (buf[buf.length - 1] === 0x0a ? 0 : 1);
}

/** Offset just after the last newline before `size` (0 when there is none). */
export async function lastLineStart(fh: FileHandle, size: number): Promise<number> {
  const len = Math.min(size, CHUNK_BYTES);
  const buf = Buffer.alloc(len);
  await fh.read(buf, 0, len, size - len);
  const i = buf.lastIndexOf(0x0a);
  return i < 0 ? (size > len ? size - len : 0) : size - len + i + 1;
}

/** The state of every file by identity, persisted in the source's checkpoint slot (written soon, atomically). */
export class FileBook {
  private _state: Persisted = { files: {} };

  constructor(private readonly _checkpoint: CheckpointSlot | undefined) {
    const saved = _checkpoint?.get() as Persisted | undefined;
    if (saved && typeof saved === 'object' && saved.files) this._state = saved;
  }

  get(key: string): FileState | undefined {
    return this._state.files[key];
  }

  set(key: string, e: FileState): void {
    this._state.files[key] = e;
    this.save();
  }

  entries(): [string, FileState][] {
    return Object.entries(this._state.files);
  }

  /** Forgets files gone from disk; a file still present keeps its entry so it is never read twice. */
  keepOnly(present: (key: string) => boolean): void {
    for (const k of Object.keys(this._state.files)) if (!present(k)) delete this._state.files[k];
  }

  save(): void {
    this._checkpoint?.set(this._state);
  }
}
