/**
 * The checkpoint file: one JSON document in `dataDir` holding each component's resume state (file offsets,
 * …). Written atomically — temp file, fsync, rename, fsync of the folder — so a SIGKILL or a power cut leaves
 * either the old or the new version, never a torn one (the zero-byte registry of elastic/beats #3537 came from
 * skipping the fsync). Writes are coalesced: at most one per `intervalMs`, plus one at shutdown.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { CheckpointSlot } from './types';

interface FileShape {
  readonly version: 1;
  readonly components: Record<string, unknown>;
}

/** All components' resume state, persisted under `dataDir/checkpoints.json`. */
export class CheckpointStore {
  readonly path: string;
  private readonly _values: Record<string, unknown>;
  private _dirty = false;
  private _timer: NodeJS.Timeout | undefined;
  private _writes = 0;

  constructor(
    readonly dataDir: string,
    private readonly _intervalMs = 1000,
  ) {
    mkdirSync(dataDir, { recursive: true });
    this.path = join(dataDir, 'checkpoints.json');
    this._values = readExisting(this.path);
  }

  /** Number of times the file was written (tests, metrics). */
  get writes(): number {
    return this._writes;
  }

  /** The slot of one component. */
  slot(componentId: string): CheckpointSlot {
    return {
      get: () => this._values[componentId],
      set: (value) => {
        this._values[componentId] = value;
        this._markDirty();
      },
    };
  }

  /** Writes now if anything changed. */
  flush(): void {
    if (this._timer) {
      clearTimeout(this._timer);
      this._timer = undefined;
    }
    if (!this._dirty) return;
    this._dirty = false;
    const doc: FileShape = { version: 1, components: this._values };
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify(doc, null, 1) + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
    // The rename itself must reach the disk, or a crash can bring back the old file.
    const dir = openSync(this.dataDir, 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
    this._writes++;
  }

  private _markDirty(): void {
    this._dirty = true;
    if (!this._timer) {
      this._timer = setTimeout(() => {
        this._timer = undefined;
        this.flush();
      }, this._intervalMs);
      this._timer.unref();
    }
  }
}

function readExisting(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
  const doc = JSON.parse(text) as Partial<FileShape>;
  if (doc.version !== 1 || typeof doc.components !== 'object' || doc.components === null)
    throw new Error(`${path}: not a ruletrail checkpoint file (version 1)`);
  return { ...doc.components };
}
