/**
 * Elasticsearch sink: one `_bulk` request per write, every record a `create` with `_id` = the record's
 * deterministic id, so a retried record can never become a second document.
 *
 * Per-item outcome (the bulk response lists one item per operation, in order):
 *   201                   → delivered;
 *   409 version conflict  → delivered, duplicate (an earlier attempt already indexed it);
 *   429, 5xx              → retriable (the runner backs off and resends only these);
 *   any other status      → rejected with `<status> <type>: <reason>` → dead-letter output.
 * Request-level: 429 / 5xx / 401 / 403 / no answer (connection, timeout) → every record retriable;
 * 400 / 413 → the batch is split in halves until the offending record stands alone (then rejected).
 */
import type { Client } from '@elastic/elasticsearch';
import {
  DELIVERED,
  NOOP_LOGGER,
  SinkError,
  isCertificateError,
  bodyJson,
  type Redactor,
  type Sink,
  type SinkLogger,
  type SinkOutcome,
  type SinkRecord,
} from '@ruletrail/core';
import { createEsClient, esRedactor, statusOf } from './client';
import { ES_DEFAULTS, type ElasticsearchSinkConfig } from './config';

const DUPLICATE: SinkOutcome = Object.freeze({ status: 'delivered', duplicate: true });

interface BulkItemResult {
  status: number;
  error?: { type?: string; reason?: string | null; caused_by?: { type?: string; reason?: string | null } };
}

/** The outcome of one bulk item. Exported for tests. */
export function itemOutcome(item: BulkItemResult | undefined): SinkOutcome {
  if (item === undefined) return { status: 'retriable', reason: 'bulk response has no item for this record' };
  const s = item.status;
  if (s >= 200 && s < 300) return DELIVERED;
  if (s === 409) return DUPLICATE;
  const e = item.error;
  const cause = e?.caused_by?.reason ? ` (${e.caused_by.type ?? 'caused by'}: ${e.caused_by.reason})` : '';
  const reason = `${s} ${e?.type ?? 'error'}: ${e?.reason ?? ''}${cause}`;
  return s === 429 || s >= 500 ? { status: 'retriable', reason } : { status: 'rejected', reason };
}

export interface ElasticsearchSinkOptions {
  readonly logger?: SinkLogger;
  /**
   * Record kinds this sink will be given (default both): `connect()` checks that their indices / data streams
   * exist or will be created by the first write.
   */
  readonly kinds?: readonly SinkRecord['kind'][];
}

/**
 * Whether `action.auto_create_index` lets a write create `index`: `true`/`false`, or comma-separated wildcard
 * patterns with an optional `+`/`-`, the first match deciding and no match meaning no (as Elasticsearch's
 * AutoCreateIndex). Exported for tests.
 */
export function autoCreateAllows(setting: string, index: string): boolean {
  const v = setting.trim();
  if (v === '' || v === 'true') return true;
  if (v === 'false') return false;
  for (const raw of v.split(',')) {
    let p = raw.trim();
    const negative = p.startsWith('-');
    if (negative || p.startsWith('+')) p = p.slice(1);
    const re = new RegExp(
      `^${p
        .split('*')
        .map((x) => x.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*')}$`,
    );
    if (re.test(index)) return !negative;
  }
  return false;
}

export class ElasticsearchSink implements Sink {
  readonly name = 'elasticsearch';
  private readonly _client: Client;
  private readonly _redactor: Redactor;
  private readonly _log: SinkLogger;
  private readonly _index: string;
  private readonly _alertIndex: string;
  private readonly _createLines = new Map<string, string>();
  private readonly _kinds: readonly SinkRecord['kind'][];

  constructor(config: ElasticsearchSinkConfig, options: ElasticsearchSinkOptions = {}) {
    this._client = createEsClient(config);
    this._redactor = esRedactor(config);
    this._log = this._redactor.logger(options.logger ?? NOOP_LOGGER);
    this._index = config.index ?? ES_DEFAULTS.index;
    this._alertIndex = config.alertIndex ?? ES_DEFAULTS.alertIndex;
    this._kinds = options.kinds ?? ['packet', 'alert'];
  }

  indexFor(record: SinkRecord): string {
    return record.kind === 'alert' ? this._alertIndex : this._index;
  }

  async connect(signal?: AbortSignal): Promise<void> {
    try {
      const h = await this._client.cluster.health({ timeout: '10s' }, signal ? { signal } : {});
      this._log.info('Connected to Elasticsearch.', { cluster: h.cluster_name, status: h.status });
      await this._checkTargets(signal);
    } catch (err) {
      if (err instanceof SinkError) throw err;
      // Wrong credentials and a certificate the config will never accept are configuration errors: fail now.
      const s = statusOf(err);
      const cert = isCertificateError(err);
      throw new SinkError(
        cert ? 'RT_ERR_ES_TLS' : 'RT_ERR_ES_CONNECT',
        `Elasticsearch: cannot connect: ${this._redactor.error(err)}`,
        { retriable: s !== 401 && !cert },
      );
    }
  }

  /**
   * A target that does not exist and that the first write will not create (action.auto_create_index forbids
   * it and no index template allows it) would make every record fail until the run stops: fail now, naming it
   * and the fix (issue #15). A writer key without the privileges to look only gets a warning.
   */
  private async _checkTargets(signal: AbortSignal | undefined): Promise<void> {
    const opts = signal ? { signal } : {};
    const targets = [...new Set(this._kinds.map((kind) => this.indexFor({ kind } as SinkRecord)))];
    let setting: string | undefined | null = null; // null: not read yet, undefined: not readable
    for (const target of targets) {
      let exists: boolean;
      try {
        exists = await this._client.indices.exists({ index: target }, opts);
      } catch (err) {
        const s = statusOf(err);
        if (s !== 401 && s !== 403) throw err;
        this._log.warn('Cannot check that the index exists (no privilege); going on.', { index: target });
        continue;
      }
      if (exists) continue;
      if (setting === null) setting = await this._autoCreateSetting(opts);
      const template = await this._template(target, opts);
      if (setting === undefined || template === undefined) {
        this._log.warn('The index does not exist and the sink cannot tell whether a write will create it.', {
          index: target,
        });
        continue;
      }
      // A template's allow_auto_create overrides the cluster setting (either way).
      if (template.allowAutoCreate ?? autoCreateAllows(setting, target)) {
        if (template.name === undefined)
          this._log.warn(
            'The index does not exist and no index template matches it: the first write creates it with dynamic mappings. Run `ruletrail setup elasticsearch` for the ruletrail mappings.',
            { index: target },
          );
        continue;
      }
      throw new SinkError(
        'RT_ERR_ES_INDEX_MISSING',
        `Elasticsearch: index '${target}' does not exist and will not be created (` +
          (template.allowAutoCreate === false
            ? `index template '${template.name}' sets allow_auto_create: false`
            : `action.auto_create_index is '${setting}'`) +
          `): run \`ruletrail setup elasticsearch\` (installs the index template and data stream) or create the index`,
        { retriable: false },
      );
    }
  }

  /** The effective `action.auto_create_index`, or undefined without the privilege to read it. */
  private async _autoCreateSetting(opts: { signal?: AbortSignal }): Promise<string | undefined> {
    try {
      const r = (await this._client.cluster.getSettings(
        { include_defaults: true, flat_settings: true },
        opts,
      )) as unknown as Record<'transient' | 'persistent' | 'defaults', Record<string, unknown> | undefined>;
      const key = 'action.auto_create_index';
      const v = r.transient?.[key] ?? r.persistent?.[key] ?? r.defaults?.[key] ?? 'true';
      return typeof v === 'string' || typeof v === 'boolean' ? String(v) : 'true';
    } catch (err) {
      const s = statusOf(err);
      if (s === 401 || s === 403) return undefined;
      throw err;
    }
  }

  /**
   * The index template that would apply to `name` (highest priority among those whose patterns match): its
   * name and allow_auto_create, `{}` when none matches, undefined without the privilege to look.
   */
  private async _template(
    name: string,
    opts: { signal?: AbortSignal },
  ): Promise<{ name?: string; allowAutoCreate?: boolean } | undefined> {
    try {
      const r = await this._client.indices.getIndexTemplate({}, opts);
      let best: { name: string; priority: number; allow: boolean | undefined } | undefined;
      for (const t of r.index_templates) {
        const patterns = ([] as string[]).concat(t.index_template.index_patterns);
        if (!patterns.some((p) => autoCreateAllows(p, name))) continue;
        const priority = t.index_template.priority ?? 0;
        if (best === undefined || priority > best.priority)
          best = { name: t.name, priority, allow: t.index_template.allow_auto_create };
      }
      if (best === undefined) return {};
      return { name: best.name, ...(best.allow !== undefined ? { allowAutoCreate: best.allow } : {}) };
    } catch (err) {
      const s = statusOf(err);
      if (s === 404) return {};
      if (s === 401 || s === 403) return undefined;
      throw err;
    }
  }

  async write(records: readonly SinkRecord[], signal: AbortSignal): Promise<SinkOutcome[]> {
    const out = new Array<SinkOutcome>(records.length);
    await this._bulk(records, [...records.keys()], out, signal);
    return out;
  }

  close(): Promise<void> {
    return this._client.close();
  }

  // -------------------------------------------------------------------------------------------------- internals

  private async _bulk(
    records: readonly SinkRecord[],
    idx: number[],
    out: SinkOutcome[],
    signal: AbortSignal,
  ): Promise<void> {
    const ops: string[] = new Array<string>(idx.length * 2);
    for (let j = 0; j < idx.length; j++) {
      const r = records[idx[j]!]!;
      ops[2 * j] = this._createLine(this.indexFor(r), r.id);
      ops[2 * j + 1] = docJson(r);
    }
    try {
      // Strings pass through the client's NDJSON serializer unchanged: each record is serialised once.
      const resp = await this._client.bulk(
        { operations: ops as unknown as Record<string, unknown>[] },
        { signal },
      );
      const items = resp.items;
      for (let j = 0; j < idx.length; j++) {
        const item = items[j];
        out[idx[j]!] = itemOutcome(item?.create ?? item?.index);
      }
    } catch (err) {
      const s = statusOf(err);
      const reason = this._redactor.error(err);
      if ((s === 400 || s === 413) && idx.length > 1) {
        const mid = idx.length >> 1;
        await this._bulk(records, idx.slice(0, mid), out, signal);
        await this._bulk(records, idx.slice(mid), out, signal);
        return;
      }
      const o: SinkOutcome =
        s === 400 || s === 413
          ? { status: 'rejected', reason }
          : { status: 'retriable', reason: s === undefined ? reason : `${s} ${reason}` };
      for (const i of idx) out[i] = o;
    }
  }

  private _createLine(index: string, id: string): string {
    // The `{"create":{"_index":…,"_id":` prefix is the same for every record of an index.
    let prefix = this._createLines.get(index);
    if (prefix === undefined)
      this._createLines.set(index, (prefix = `{"create":{"_index":${JSON.stringify(index)},"_id":`));
    return `${prefix}${JSON.stringify(id)}}}`;
  }
}

/**
 * The document for a record: its body JSON, with ECS fields added in front when the body has none:
 * `@timestamp` (data streams require it) from `record.timestamp`, else `packet.firstSeen`, else now; and
 * `host.name` from `packet.host` (explanations) or `alert.host` (alerts), so Kibana's host filters and ECS
 * dashboards work on ruletrail's documents as they are. The body itself, as Kafka and Fluentd get it, is unchanged.
 */
export function docJson(r: SinkRecord): string {
  const json = bodyJson(r);
  const b = r.body;
  const add: string[] = [];
  if (!Object.prototype.hasOwnProperty.call(b, '@timestamp')) {
    const p = b.packet as { firstSeen?: unknown } | undefined;
    const ts = r.timestamp ?? (typeof p?.firstSeen === 'string' ? p.firstSeen : new Date().toISOString());
    add.push(`"@timestamp":${JSON.stringify(ts)}`);
  }
  if (!Object.prototype.hasOwnProperty.call(b, 'host')) {
    const h =
      (b.packet as { host?: unknown } | undefined)?.host ?? (b.alert as { host?: unknown } | undefined)?.host;
    if (typeof h === 'string' && h !== '') add.push(`"host":{"name":${JSON.stringify(h)}}`);
  }
  if (add.length === 0) return json;
  return json === '{}' ? `{${add.join(',')}}` : `{${add.join(',')},${json.slice(1)}`;
}
