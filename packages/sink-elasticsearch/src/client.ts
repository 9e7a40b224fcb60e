/** Builds the @elastic/elasticsearch client for a sink config, and the redactor for its secrets. */
import { Client, Transport, type ClientOptions } from '@elastic/elasticsearch';
import { Redactor, collectSecrets } from '@ruletrail/core';
import { ES_DEFAULTS, validateElasticsearchConfig, type ElasticsearchSinkConfig } from './config';

type TransportCtorOptions = ConstructorParameters<typeof Transport>[0];

/** A transport that announces `compatible-with=<apiVersion>` instead of the client's own major. */
function compatTransport(apiVersion: 8 | 9): typeof Transport {
  return class CompatTransport extends Transport {
    constructor(opts: TransportCtorOptions) {
      super({
        ...opts,
        vendoredHeaders: {
          jsonContentType: `application/vnd.elasticsearch+json; compatible-with=${apiVersion}`,
          ndjsonContentType: `application/vnd.elasticsearch+x-ndjson; compatible-with=${apiVersion}`,
          accept: `application/vnd.elasticsearch+json; compatible-with=${apiVersion},text/plain`,
        },
      });
    }
  };
}

/** The secrets of a config plus the header values derived from them (Basic base64, ApiKey encoding). */
export function esRedactor(config: ElasticsearchSinkConfig): Redactor {
  const r = new Redactor(collectSecrets(config));
  const a = config.auth;
  if (a && 'password' in a) r.add(Buffer.from(`${a.username}:${a.password}`).toString('base64'));
  if (a && 'apiKey' in a && typeof a.apiKey === 'object')
    r.add(a.apiKey.api_key, Buffer.from(`${a.apiKey.id}:${a.apiKey.api_key}`).toString('base64'));
  return r;
}

export function createEsClient(config: ElasticsearchSinkConfig): Client {
  validateElasticsearchConfig(config);
  const apiVersion = config.apiVersion ?? ES_DEFAULTS.apiVersion;
  const a = config.auth;
  const tls = config.tls;
  const opts: ClientOptions = {
    nodes: [...config.nodes],
    // The sink runner owns retries (with backoff and per-record classification); the transport must not resend.
    maxRetries: 0,
    requestTimeout: config.requestTimeoutMs ?? ES_DEFAULTS.requestTimeoutMs,
    compression: config.compression ?? ES_DEFAULTS.compression,
    name: 'ruletrail',
    ...(apiVersion === 9 ? {} : { Transport: compatTransport(apiVersion) }),
    ...(a === undefined
      ? {}
      : 'apiKey' in a
        ? { auth: { apiKey: a.apiKey } }
        : 'bearer' in a
          ? { auth: { bearer: a.bearer } }
          : { auth: { username: a.username, password: a.password } }),
    ...(tls === undefined
      ? {}
      : {
          ...(tls.caFingerprint !== undefined ? { caFingerprint: tls.caFingerprint } : {}),
          tls: {
            ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
            ...(tls.cert !== undefined ? { cert: tls.cert } : {}),
            ...(tls.key !== undefined ? { key: tls.key } : {}),
            rejectUnauthorized: tls.rejectUnauthorized !== false,
          },
        }),
  };
  return new Client(opts);
}

/** HTTP status of a client error, if the server answered. */
export function statusOf(err: unknown): number | undefined {
  const s = (err as { meta?: { statusCode?: unknown } } | undefined)?.meta?.statusCode;
  return typeof s === 'number' ? s : undefined;
}
