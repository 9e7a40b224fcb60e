/** Configuration of the Elasticsearch sink and of `ruletrail setup elasticsearch`. */

/** How the sink authenticates. Use an API key with only `create_doc` + `auto_configure` on the target (docs/sinks.md). */
export type ElasticsearchAuth =
  /** The `encoded` value returned by `POST /_security/api_key`, or its `{ id, api_key }` parts. */
  | { readonly apiKey: string | { readonly id: string; readonly api_key: string } }
  | { readonly username: string; readonly password: string }
  /** A bearer (service account or OAuth) token. */
  | { readonly bearer: string };

export interface ElasticsearchTlsConfig {
  /** CA bundle (PEM) that signed the cluster's HTTP certificate. */
  readonly ca?: string | Buffer;
  /** Client certificate and key (PEM) for PKI auth. */
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  /** Pin the cluster's CA by its SHA-256 fingerprint (as `elasticsearch` prints it at first start). */
  readonly caFingerprint?: string;
  /** Verify certificates. Default true; false is refused unless `allowInsecure: true` is also set. */
  readonly rejectUnauthorized?: boolean;
  readonly allowInsecure?: boolean;
}

export interface ElasticsearchSinkConfig {
  /** Node URLs, e.g. `https://es1:9200`. Credentials in URLs are refused: use `auth`. */
  readonly nodes: readonly string[];
  readonly auth?: ElasticsearchAuth;
  readonly tls?: ElasticsearchTlsConfig;
  /**
   * Write target for explained packets: a data stream (the default `setup` creates) or an index / alias.
   * Default `ruletrail-packets`. The writer role needs `create_doc` (+ `auto_configure`) on it.
   */
  readonly index?: string;
  /** Write target for alerts. Default `ruletrail-alerts`. */
  readonly alertIndex?: string;
  /**
   * REST API compatibility the client announces (`compatible-with=N`). 9 for Elasticsearch 9 (default); 8 for
   * Elasticsearch 8.x, which refuses `compatible-with=9`. A 9.x cluster also accepts 8.
   */
  readonly apiVersion?: 8 | 9;
  /**
   * Gzip request bodies. Default false (like the official client): on a LAN the CPU costs more than the bytes
   * (measured in docs/benchmarks-sinks.md); turn it on for slow or metered links.
   */
  readonly compression?: boolean;
  /** Per-request timeout (a bulk request included). Default 60 000 ms. */
  readonly requestTimeoutMs?: number;
}

/** Settings of `setupElasticsearch` (index template, data streams). */
export interface ElasticsearchSetupOptions {
  /** `data_stream` (default): time-series data streams. `index`: plain indices created on first write. */
  readonly mode?: 'data_stream' | 'index';
  /** Replicas per shard. Default 1; use 0 on a single node. */
  readonly replicas?: number;
  /** Primary shards. Default 1. */
  readonly shards?: number;
  /** Template priority (higher wins over other templates matching the same names). Default 200. */
  readonly priority?: number;
  /** Refresh interval. Default `5s` (indexing throughput over search freshness). */
  readonly refreshInterval?: string;
  /**
   * `index.translog.durability`. Default `request`: a bulk item is acknowledged only after its translog is fsynced,
   * which is what "delivered" means to the sink. `async` fsyncs every 5 s: faster, but a node crash can lose
   * acknowledged documents. Opt-in only.
   */
  readonly translogDurability?: 'request' | 'async';
  /** Also create the data streams now (needs `manage` on them) rather than on the first write. Default true. */
  readonly createDataStreams?: boolean;
}

export const ES_DEFAULTS: Readonly<{
  index: string;
  alertIndex: string;
  apiVersion: 8 | 9;
  compression: boolean;
  requestTimeoutMs: number;
}> = Object.freeze({
  index: 'ruletrail-packets',
  alertIndex: 'ruletrail-alerts',
  apiVersion: 9,
  compression: false,
  requestTimeoutMs: 60_000,
});

export function validateElasticsearchConfig(c: ElasticsearchSinkConfig): void {
  const problems: string[] = [];
  const nodes: readonly unknown[] = Array.isArray(c.nodes) ? c.nodes : [];
  if (nodes.length === 0) problems.push('nodes: at least one URL is required');
  else
    for (const n of nodes) {
      let u: URL | undefined;
      try {
        u = new URL(String(n));
      } catch {
        problems.push('nodes: not a URL');
        continue;
      }
      if (u.protocol !== 'http:' && u.protocol !== 'https:')
        problems.push(`nodes: ${u.protocol} is not http(s)`);
      if (u.username || u.password) problems.push('nodes: put credentials in auth, not in the URL');
    }
  if (c.apiVersion !== undefined && c.apiVersion !== 8 && c.apiVersion !== 9)
    problems.push('apiVersion: 8 or 9');
  if (c.tls?.rejectUnauthorized === false && c.tls.allowInsecure !== true)
    problems.push('tls.rejectUnauthorized: false needs tls.allowInsecure: true as well');
  for (const [k, v] of [
    ['index', c.index],
    ['alertIndex', c.alertIndex],
  ] as const) {
    if (v !== undefined && !/^[a-z0-9][a-z0-9._-]*$/.test(v))
      problems.push(`${k}: lowercase letters, digits, ".", "_", "-"`);
  }
  if (problems.length > 0) throw new Error(`Invalid Elasticsearch sink config: ${problems.join('; ')}`);
}
