/**
 * The per-host snapshot history of the enrichment stage. Each host's trace lines are joined with that host's
 * snapshots only, with the explain engine's own rule (`SnapshotSet.pick`): the newest snapshot taken at or
 * before the packet's first step; a packet older than every snapshot gets the oldest one and
 * `event_before_snapshots`; a host with none gets `no_snapshot`; a step the chosen snapshot cannot contain is
 * `snapshot_mismatch`. So drift is flagged by the same code that flags it in `ruletrail explain`.
 *
 * Memory is bounded: at most `historyPerHost` snapshots per host and family (the oldest are dropped), and a
 * re-shipped snapshot whose hash equals the one before it in time is not stored again (the shipper re-sends
 * unchanged rules periodically as a heartbeat; only changes matter for the join).
 */
import {
  hostFactsFromJson,
  parseIptablesSave,
  type Family,
  type HostFacts,
  type Ruleset,
} from '@ruletrail/ruleset';
import { SnapshotSet, type SnapshotPick } from '@ruletrail/explain';
import type { SnapshotEnvelope } from './snapshot-envelope';

interface Entry {
  readonly time: number;
  readonly hash: string;
  /** Parses the snapshot; called once, when the host first needs it (see `HostSnapshots`), then dropped. */
  build?: () => Ruleset;
  ruleset?: Ruleset;
}

/** What `add` did with a snapshot. */
export type AddResult = 'added' | 'unchanged' | 'duplicate' | 'unsupported';

/** Told about a stored snapshot that turned out unparsable when its host first needed it. */
export type InvalidSnapshot = (host: string, err: Error) => void;

/**
 * One host's snapshots, exposed as the `SnapshotSet` the correlator picks from.
 *
 * Parsing is deferred until the host has a packet to explain: an instance of a scaled-out pipeline reads every
 * host's snapshots from the topic but parses only those of the hosts whose lines it consumes. Once a host is
 * active, new snapshots are parsed as they arrive (so a bad one is reported right away).
 */
export class HostSnapshots extends SnapshotSet {
  private _set: SnapshotSet | undefined = new SnapshotSet([]);
  private readonly _entries = new Map<Family, Entry[]>();
  /** The host's facts by time (any snapshot's envelope may carry them), oldest first. */
  private readonly _facts: { readonly time: number; readonly facts: HostFacts }[] = [];
  private _active = false;

  constructor(
    readonly host: string,
    private readonly _onInvalid: InvalidSnapshot = () => undefined,
  ) {
    super([]);
  }

  /** Snapshots held, all families. */
  get size(): number {
    let n = 0;
    for (const l of this._entries.values()) n += l.length;
    return n;
  }

  /** Snapshots parsed so far (the others wait for the host's first packet). */
  get parsed(): number {
    let n = 0;
    for (const l of this._entries.values()) for (const e of l) if (e.ruleset) n++;
    return n;
  }

  override of(family: Family): readonly Ruleset[] {
    return this._current().of(family);
  }

  override pick(family: string, timeMs: number | undefined): SnapshotPick {
    return this._current().pick(family, timeMs);
  }

  /** Inserts in time order; see the module comment for what is skipped. @throws the parser's error (active host). */
  insert(family: Family, time: number, hash: string, build: () => Ruleset, limit: number): AddResult {
    const list = this._entries.get(family) ?? [];
    let i = list.length;
    while (i > 0 && list[i - 1]!.time > time) i--;
    const before = list[i - 1];
    if (before && before.hash === hash) return before.time === time ? 'duplicate' : 'unchanged';
    const entry: Entry = this._active ? { time, hash, ruleset: build() } : { time, hash, build };
    const after = list[i];
    // The same rules shipped earlier than what we hold: the interval simply starts earlier.
    if (after && after.hash === hash) list.splice(i, 1);
    list.splice(i, 0, entry);
    while (list.length > limit) list.shift();
    this._entries.set(family, list);
    this._set = undefined;
    return 'added';
  }

  /** Keeps the host facts shipped at `time` (the newest `limit` are held). */
  insertFacts(time: number, facts: HostFacts, limit: number): void {
    let i = this._facts.length;
    while (i > 0 && this._facts[i - 1]!.time > time) i--;
    if (this._facts[i - 1]?.time === time) this._facts[i - 1] = { time, facts };
    else this._facts.splice(i, 0, { time, facts });
    while (this._facts.length > limit) this._facts.shift();
  }

  /**
   * The host's addresses and interfaces in force at `timeMs` (the newest shipped at or before it; the oldest for
   * an earlier time or no time), for `addrtype` and NFLOG interface names. Undefined when none were shipped.
   */
  factsAt(timeMs: number | undefined): HostFacts | undefined {
    if (this._facts.length === 0) return undefined;
    if (timeMs === undefined) return this._facts[this._facts.length - 1]!.facts;
    let best = this._facts[0]!;
    for (const f of this._facts) if (f.time <= timeMs) best = f;
    return best.facts;
  }

  /** The SnapshotSet over the held snapshots (rebuilt after a change: a few entries, cheap). */
  private _current(): SnapshotSet {
    this._active = true;
    if (this._set) return this._set;
    const rulesets: Ruleset[] = [];
    for (const [family, list] of this._entries)
      for (let i = 0; i < list.length; i++) {
        const e = list[i]!;
        if (!e.ruleset) {
          try {
            e.ruleset = e.build!();
            // The parsed form replaces the text the closure held.
            e.build = undefined;
          } catch (err) {
            list.splice(i--, 1);
            this._onInvalid(
              this.host,
              err instanceof Error ? err : new Error(`${family} snapshot cannot be parsed`),
            );
            continue;
          }
        }
        rulesets.push(e.ruleset);
      }
    // Reusing SnapshotSet keeps the explain engine's ordering and pick rule exactly.
    this._set = new SnapshotSet(rulesets);
    return this._set;
  }
}

/** Every host's history. */
export class SnapshotStore {
  private readonly _hosts = new Map<string, HostSnapshots>();

  constructor(
    private readonly _historyPerHost = 16,
    /** Where snapshots found unparsable at first use are reported (the run dead-letters them). */
    private readonly _onInvalid?: InvalidSnapshot,
  ) {}

  /** Hosts with at least one snapshot. */
  get hostCount(): number {
    let n = 0;
    for (const h of this._hosts.values()) if (h.size > 0) n++;
    return n;
  }

  /** The history of `host` (created empty on first use, so packets of unknown hosts get `no_snapshot`). */
  forHost(host: string): HostSnapshots {
    let h = this._hosts.get(host);
    if (!h) {
      h = new HostSnapshots(host, this._onInvalid);
      this._hosts.set(host, h);
    }
    return h;
  }

  /** Adds a shipped snapshot. @throws InputError/UsageError from the parser when the content is not iptables-save. */
  add(env: SnapshotEnvelope): AddResult {
    const time = Date.parse(env.takenAt);
    // Facts are the host's whatever the rules' format, and count even when the rules are a repeat.
    if (env.facts !== undefined)
      this.forHost(env.host).insertFacts(
        time,
        hostFactsFromJson(env.facts, `${env.host}:facts@${env.takenAt}`),
        this._historyPerHost,
      );
    if (env.format !== 'iptables-save') return 'unsupported';
    const source = `${env.host}:${env.tool}@${env.takenAt}`;
    const build = (): Ruleset => {
      const rs = parseIptablesSave(env.content, { source, ...(env.family ? { family: env.family } : {}) });
      // The shipper's clock stamp is the one that orders the history, whatever the file's own comment says.
      return { ...rs, generatedAt: new Date(time).toISOString() };
    };
    // The family must be known before parsing to find the slot; ip6tables-save always says so in the envelope.
    const family: Family = env.family ?? build().family ?? 'ipv4';
    return this.forHost(env.host).insert(family, time, env.hash, build, this._historyPerHost);
  }

  /** Adds a snapshot already parsed (static `snapshots.files`). */
  addRuleset(host: string, ruleset: Ruleset, takenAt: string | undefined): AddResult {
    const at = takenAt ?? ruleset.generatedAt;
    const time = at !== undefined ? Date.parse(at) : 0;
    const rs = at !== undefined ? { ...ruleset, generatedAt: new Date(time).toISOString() } : ruleset;
    return this.forHost(host).insert(
      ruleset.family ?? 'ipv4',
      time,
      ruleset.hash,
      () => rs,
      this._historyPerHost,
    );
  }
}
