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
}

export class ElasticsearchSink implements Sink {
  readonly name = 'elasticsearch';
  private readonly _client: Client;
  private readonly _redactor: Redactor;
  private readonly _log: SinkLogger;
  private readonly _index: string;
  private readonly _alertIndex: string;
  private readonly _createLines = new Map<string, string>();

  constructor(config: ElasticsearchSinkConfig, options: ElasticsearchSinkOptions = {}) {
    this._client = createEsClient(config);
    this._redactor = esRedactor(config);
    this._log = this._redactor.logger(options.logger ?? NOOP_LOGGER);
    this._index = config.index ?? ES_DEFAULTS.index;
    this._alertIndex = config.alertIndex ?? ES_DEFAULTS.alertIndex;
  }

  indexFor(record: SinkRecord): string {
    return record.kind === 'alert' ? this._alertIndex : this._index;
  }

  async connect(signal?: AbortSignal): Promise<void> {
    try {
      const h = await this._client.cluster.health({ timeout: '10s' }, signal ? { signal } : {});
      this._log.info('Connected to Elasticsearch.', { cluster: h.cluster_name, status: h.status });
    } catch (err) {
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
