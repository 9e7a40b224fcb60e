/**
 * Where the snapshot store is fed from: static files named in the config, and a directory of shipped
 * envelopes (`ruletrail snapshot ship --to dir:…`) read at start and re-scanned periodically. A snapshot that
 * cannot be used goes to the dead-letter output with its reason; the run goes on with the others.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { InputError, type DeadLetterOutput } from '@ruletrail/core';
import { parseIptablesSave } from '@ruletrail/ruleset';
import type { PipelineConfig } from './config-types';
import type { Logger } from './log';
import { SNAPSHOT_INVALID, parseEnvelope } from './snapshot-envelope';
import type { SnapshotStore } from './snapshot-store';

/** Something that keeps the store up to date while the pipeline runs. */
export interface SnapshotFeed {
  /** Loads what exists now (resolves once caught up), then keeps following until `stop`. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Loads the config's static snapshot files. @throws on an unreadable or unparsable file (a config error). */
export async function loadStaticSnapshots(
  files: PipelineConfig['snapshots']['files'],
  store: SnapshotStore,
  log: Logger,
): Promise<void> {
  for (const f of files) {
    const text = await readFile(f.path, 'utf8');
    const rs = parseIptablesSave(text, { source: f.path, ...(f.family ? { family: f.family } : {}) });
    const r = store.addRuleset(f.host, rs, f.takenAt);
    // Static files are config: check now that this host's set can be ordered in time (not at its first packet).
    store.forHost(f.host).of(rs.family ?? 'ipv4');
    log.info('Loaded a snapshot file.', {
      host: f.host,
      file: f.path,
      family: rs.family,
      takenAt: f.takenAt ?? rs.generatedAt,
      result: r,
    });
  }
}

/** A folder of envelope files (`*.json`, any depth), re-scanned every `pollIntervalMs`. */
export class SnapshotDirectoryFeed implements SnapshotFeed {
  private readonly _seen = new Set<string>();
  private _timer: NodeJS.Timeout | undefined;
  private _scanning: Promise<void> | undefined;

  constructor(
    private readonly _dir: string,
    private readonly _store: SnapshotStore,
    private readonly _log: Logger,
    private readonly _deadLetter: DeadLetterOutput,
    private readonly _pollIntervalMs: number,
  ) {}

  async start(): Promise<void> {
    await this.scan();
    this._timer = setInterval(() => {
      this._scanning ??= this.scan().finally(() => (this._scanning = undefined));
    }, this._pollIntervalMs);
    this._timer.unref();
  }

  async stop(): Promise<void> {
    if (this._timer) clearInterval(this._timer);
    await this._scanning;
  }

  /** Reads every envelope not read before. Files are taken in name order (the shipper names them by time). */
  async scan(): Promise<void> {
    let files: string[];
    try {
      files = await listJson(this._dir);
    } catch (err) {
      this._log.warn('Cannot read the snapshot directory.', { directory: this._dir, error: err });
      return;
    }
    files.sort();
    let added = 0;
    for (const f of files) {
      if (this._seen.has(f)) continue;
      let text: string;
      try {
        text = await readFile(f, 'utf8');
      } catch (err) {
        // Vanished between listing and reading (pruned by the shipper): nothing to do.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      this._seen.add(f);
      try {
        const r = this._store.add(parseEnvelope(text));
        if (r === 'added') added++;
        if (r === 'unsupported')
          this._log.debug('Snapshot format not joined with traces; kept out of the store.', { file: f });
      } catch (err) {
        const name = relative(this._dir, f) || f;
        this._deadLetter.write(
          new InputError(SNAPSHOT_INVALID, { file: join(this._dir, name) }, (err as Error).message),
        );
        this._log.warn('A shipped snapshot cannot be used.', { file: f, error: err });
      }
    }
    if (added)
      this._log.info('Snapshots added.', { directory: this._dir, added, hosts: this._store.hostCount });
  }
}

async function listJson(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const d of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, d.name);
    if (d.isDirectory()) out.push(...(await listJson(p)));
    else if (d.isFile() && d.name.endsWith('.json')) out.push(p);
  }
  return out;
}
