/**
 * The snapshots a trace joins with, live. Each snapshot is written to the session directory first and read back
 * with the same loader `ruletrail explain --rules` uses, so a packet explained live and the same packet explained
 * later from the saved files are joined with the same ruleset. The ruleset is re-read every second (and at once
 * on an `nft monitor` ruleset event); a changed content — counters and generation stamps aside — becomes a new
 * snapshot, and each packet is joined with the snapshot in force at its time (SnapshotSet picks by time).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SnapshotSet, type SnapshotPick } from '@ruletrail/explain';
import type { Family, Ruleset } from '@ruletrail/ruleset';
import { loadRules } from '../rules-files';
import type { Backend } from './options';
import { iptablesTool } from './plan';
import { TraceError } from './errors';
import { childEnv } from './system';

/** A SnapshotSet whose content can be replaced while the Correlator holds it. */
export class LiveSnapshotSet extends SnapshotSet {
  private _inner: SnapshotSet;
  constructor(rulesets: readonly Ruleset[] = []) {
    super([]);
    this._inner = new SnapshotSet(rulesets);
  }
  replace(rulesets: readonly Ruleset[]): void {
    this._inner = new SnapshotSet(rulesets);
  }
  override of(family: Family): readonly Ruleset[] {
    return this._inner.of(family);
  }
  override pick(family: string, timeMs: number | undefined): SnapshotPick {
    return this._inner.pick(family, timeMs);
  }
}

/** What is hashed to tell a changed ruleset: no packet/byte counters, no `# Generated`/`# Completed` stamps. */
export function normalizeForHash(text: string): string {
  return text
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .map((l) => l.replace(/\[\d+:\d+\]/g, '').replace(/"packets":\s*\d+,\s*"bytes":\s*\d+/g, ''))
    .join('\n');
}

interface Source {
  /** File name stem in the session directory. */
  readonly stem: string;
  readonly ext: string;
  readonly argv: readonly string[];
  /** nft JSON carries no time: the file's mtime says when it was taken (what loadRules reads). */
  readonly stampMtime: boolean;
}

/** A snapshot file written during the session. */
export interface SnapshotFile {
  readonly file: string;
  readonly takenAt: string;
  readonly hash: string;
}

export class LiveSnapshots {
  readonly set = new LiveSnapshotSet();
  readonly files: SnapshotFile[] = [];
  private readonly _rulesets: Ruleset[] = [];
  private readonly _sources: Source[];
  private readonly _lastHash = new Map<string, string>();
  private _count = 0;
  /** Number of ruleset changes seen after the first snapshot. */
  changes = 0;

  constructor(
    backend: Backend,
    families: readonly (4 | 6)[],
    private readonly _dir: string,
    private readonly _netns: string | undefined,
  ) {
    this._sources =
      backend === 'nftables'
        ? [{ stem: 'nft-ruleset', ext: 'json', argv: ['nft', '-j', 'list', 'ruleset'], stampMtime: true }]
        : families.map((f) => ({
            stem: f === 4 ? 'iptables-save' : 'ip6tables-save',
            ext: 'txt',
            argv: [iptablesTool(backend, f, true)],
            stampMtime: false,
          }));
  }

  /** Reads the ruleset; adds a snapshot for every source whose content changed. Resolves to whether any did. */
  async refresh(): Promise<boolean> {
    let changed = false;
    for (const s of this._sources) {
      const takenAt = new Date();
      const text = await this._run(s.argv);
      const hash = createHash('sha256').update(normalizeForHash(text)).digest('hex');
      if (this._lastHash.get(s.stem) === hash) continue;
      const first = !this._lastHash.has(s.stem);
      this._lastHash.set(s.stem, hash);
      const n = this._count++;
      const file = `${s.stem}${first ? '' : `.${n}`}.${s.ext}`;
      const path = join(this._dir, file);
      writeFileSync(path, text);
      if (s.stampMtime) utimesSync(path, takenAt, takenAt);
      const loaded = await loadRules(path);
      // The loader names rulesets by the path it was given; the session directory is the working directory of
      // the explain that reads the files again, so the bare name is what both say.
      this._rulesets.push(...loaded.map((r) => ({ ...r, source: file })));
      this.files.push({ file, takenAt: takenAt.toISOString(), hash });
      if (!first) this.changes++;
      changed = true;
    }
    if (changed) this.set.replace(this._rulesets);
    return changed;
  }

  private _run(argv: readonly string[]): Promise<string> {
    const full = this._netns ? ['ip', 'netns', 'exec', this._netns, ...argv] : [...argv];
    return new Promise((resolve, reject) => {
      execFile(
        full[0]!,
        full.slice(1),
        { maxBuffer: 512 * 1024 * 1024, env: childEnv() },
        (err, stdout, stderr) => {
          if (err)
            reject(
              new TraceError(
                `taking the snapshot with '${argv.join(' ')}' failed: ${stderr.trim() || err.message}`,
              ),
            );
          else resolve(stdout);
        },
      );
    });
  }
}
