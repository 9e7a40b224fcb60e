/**
 * The sink contract: how explained packets and alerts leave ruletrail (Kafka, Elasticsearch, Fluentd, …).
 *
 * A sink only *delivers and classifies*. The runner (`sink-runner.ts`) owns batching, bounded concurrency,
 * retries with backoff and the dead-letter output, so every sink gets the same delivery semantics:
 *
 *   - `write()` resolves only after the remote side acknowledged (Kafka acks=all, the ES bulk response,
 *     a Fluentd forward `ack`), with one outcome per record, in order;
 *   - `delivered`: the remote side has it (an "already there" answer such as an ES 409 counts, because ids
 *     are deterministic);
 *   - `retriable`: try again later (timeouts, connection loss, 429, 5xx, leader elections);
 *   - `rejected`: will never succeed (mapping conflict, record too large); it goes to the dead-letter output.
 *
 * Third-party clients (kafkajs, @elastic/elasticsearch, fluent-logger) stay inside their sink packages.
 */
import { createHash } from 'node:crypto';
import type { SinkLogger } from './log';

/** Version of the record envelope sinks write (Kafka header, Fluentd field). Bump on breaking changes. */
export const SINK_SCHEMA_VERSION = 1;

export type SinkRecordKind = 'packet' | 'alert';

/** What sinks carry: one explained packet, or one alert. */
export interface SinkRecord {
  /**
   * Deterministic id (see `sinkRecordId`): the same packet explained twice gets the same id, so a retried
   * write is recognisable downstream (ES `_id` with `create`, consumer-side dedupe for Kafka).
   */
  readonly id: string;
  /** Ordering key: host + packet. Kafka uses it as the message key, so one packet's records share a partition. */
  readonly key: string;
  readonly kind: SinkRecordKind;
  /** RFC 3339 time of the record; defaults to `body['@timestamp']` where a sink needs one. */
  readonly timestamp?: string;
  /** The explained-packet JSON or the alert, as produced upstream. Sinks never mutate it. */
  readonly body: Readonly<Record<string, unknown>>;
}

/** Outcome of one record in one `write()` call. */
export type SinkOutcome =
  | {
      readonly status: 'delivered';
      /** The remote side already had it (e.g. ES 409 on `create`). */ readonly duplicate?: boolean;
    }
  | { readonly status: 'retriable'; readonly reason: string }
  | { readonly status: 'rejected'; readonly reason: string };

export const DELIVERED: SinkOutcome = Object.freeze({ status: 'delivered' });

export interface Sink {
  /** Short name for logs and counters, e.g. `kafka`. */
  readonly name: string;
  /** Connects and checks the remote side is usable. The runner retries it with backoff when it throws. */
  connect(signal?: AbortSignal): Promise<void>;
  /**
   * Delivers one batch. Resolves after the remote acknowledgement with exactly one outcome per record, in the
   * same order. Throwing means "the whole batch failed": the runner treats a thrown error as retriable unless it
   * is a `SinkError` with `retriable: false`.
   */
  write(records: readonly SinkRecord[], signal: AbortSignal): Promise<SinkOutcome[]>;
  /** Releases connections. The runner calls it after its last write settled. */
  close(): Promise<void>;
  /** Reopens output files (SIGHUP after an external rotation). Only sinks that write files have it. */
  reopen?(): void;
}

/** An error a sink throws for a whole batch (or from `connect`), with its retry classification. */
export class SinkError extends Error {
  override readonly name = 'SinkError';
  /** Stable, bounded code, safe as a metric label, e.g. `RT_ERR_KAFKA_CONNECT`. */
  readonly code: string;
  readonly retriable: boolean;
  constructor(code: string, message: string, opts: { retriable: boolean }) {
    super(message);
    this.code = code;
    this.retriable = opts.retriable;
  }
}

/**
 * OpenSSL / Node codes of a peer certificate the client's trust settings will never accept (unknown CA, name
 * mismatch, expired, self-signed). Retrying cannot fix these until someone changes the config or the server's
 * certificate, so sinks report them as not retriable from `connect()`.
 */
const CERTIFICATE_ERROR_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'INVALID_CA',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * True when `err` (or an error it wraps, through `cause` or kafkajs's `originalError`) says the peer's TLS
 * certificate was refused by the client's verification. Client libraries wrap the socket error differently.
 */
export function isCertificateError(err: unknown): boolean {
  for (let e = err, depth = 0; e !== null && typeof e === 'object' && depth < 5; depth++) {
    const x = e as { code?: unknown; cause?: unknown; originalError?: unknown };
    if (typeof x.code === 'string' && CERTIFICATE_ERROR_CODES.has(x.code)) return true;
    // @elastic/transport's ConnectionError keeps only the message of the socket error, not its code.
    if (x.code === undefined && e instanceof Error && CERTIFICATE_ERROR_MESSAGE.test(e.message)) return true;
    e = x.cause ?? x.originalError;
  }
  return false;
}

/** OpenSSL's X509 verify strings (and Node's altname message) for the codes above, for wrappers that drop codes. */
const CERTIFICATE_ERROR_MESSAGE =
  /unable to verify the first certificate|self[- ]signed certificate|unable to get (local )?issuer certificate|certificate has expired|certificate is not yet valid|does not match certificate's altnames|certificate signature failure|invalid CA certificate/i;

// ------------------------------------------------------------------------------------------------ record helpers

/**
 * Deterministic record id: hex SHA-256 (first 32 chars, 128 bits) of the parts joined by NUL.
 * For a packet: `sinkRecordId(host, packetKey, firstStepTime)`; for an alert add the alert name.
 */
export function sinkRecordId(...parts: readonly (string | number | undefined)[]): string {
  const h = createHash('sha256');
  for (let i = 0; i < parts.length; i++) {
    if (i > 0) h.update('\0');
    h.update(String(parts[i] ?? ''));
  }
  return h.digest('hex').slice(0, 32);
}

const bodyJsonCache = new WeakMap<SinkRecord, string>();

/**
 * `JSON.stringify(record.body)`, computed once per record object: the runner uses its length for batch byte
 * limits and the sinks send the same string, so a record is serialised once on the hot path.
 */
export function bodyJson(record: SinkRecord): string {
  let s = bodyJsonCache.get(record);
  if (s === undefined) {
    s = JSON.stringify(record.body);
    bodyJsonCache.set(record, s);
  }
  return s;
}

/** Approximate wire size of a record (body JSON plus id and key), in UTF-16 code units ≈ bytes for ASCII. */
export function recordSize(record: SinkRecord): number {
  return bodyJson(record).length + record.id.length + record.key.length + 64;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

/**
 * Builds the `SinkRecord` for an explained packet (`{ "@timestamp", host: {name}, packet: {src,dst,proto,sport,dport}, … }`).
 * The key is host + 5-tuple, the id hashes host, 5-tuple and the first step's time, so re-explaining the same
 * trace yields the same id. `packetId` (e.g. the TRACE id / skb address) refines both when the caller has it.
 */
export function explainedPacketRecord(
  body: Readonly<Record<string, unknown>>,
  packetId?: string,
): SinkRecord {
  const p = (body.packet as Record<string, unknown> | undefined) ?? {};
  // `host.name` (ECS) when present, else the CLI's `packet.host`.
  const host = str((body.host as Record<string, unknown> | undefined)?.name) ?? str(p.host) ?? '';
  const tuple = [p.proto, p.src, p.sport, p.dst, p.dport].map((v) => str(v) ?? '').join('|');
  const step0 = (body.steps as ReadonlyArray<Record<string, unknown>> | undefined)?.[0];
  const first =
    str(step0?.['@timestamp']) ??
    str(step0?.time) ??
    str(step0?.timestamp) ??
    str(p.firstSeen) ??
    str(body['@timestamp']) ??
    '';
  const key = packetId === undefined ? `${host}|${tuple}` : `${host}|${packetId}`;
  const ts = str(body['@timestamp']) ?? str(p.firstSeen);
  return {
    id: sinkRecordId('packet', host, packetId ?? tuple, first),
    key,
    kind: 'packet',
    ...(ts !== undefined ? { timestamp: ts } : {}),
    body,
  };
}

// ------------------------------------------------------------------------------------------------------ redaction

/** Config keys whose values are secrets wherever they appear (matched case-insensitively, ignoring `_`/`-`). */
const SECRET_KEY =
  /pass(word|phrase)?|secret|token|apikey|credential|authorization|privatekey|^key$|^cert$|^pfx$|sasl|bearer/i;

export const REDACTED = '[REDACTED]';

/**
 * Removes known secret values from any text or structure before it reaches a log line or an error message.
 * Built from the configured secrets (passwords, API keys, tokens); also masks `user:pass@` in URLs and
 * `Authorization` / `ApiKey` / `Bearer` / `Basic` header values it sees.
 */
export class Redactor {
  private readonly _secrets: string[];

  constructor(secrets: Iterable<string | undefined | null> = []) {
    const set = new Set<string>();
    for (const s of secrets) {
      if (typeof s !== 'string' || s.length < 3) continue;
      set.add(s);
      // Secrets also travel URL-encoded (userinfo in URLs). Derived forms (a Basic header's base64) are
      // registered by the sink that derives them, with `add()`.
      set.add(encodeURIComponent(s));
    }
    // Longest first, so a secret that contains another is replaced whole.
    this._secrets = [...set].sort((a, b) => b.length - a.length);
  }

  /** Adds secrets after construction (e.g. derived header values). */
  add(...secrets: (string | undefined)[]): void {
    for (const s of secrets)
      if (typeof s === 'string' && s.length >= 3 && !this._secrets.includes(s)) this._secrets.push(s);
    this._secrets.sort((a, b) => b.length - a.length);
  }

  text(input: string): string {
    let out = input;
    for (const s of this._secrets) if (out.includes(s)) out = out.split(s).join(REDACTED);
    return out
      .replace(/(\/\/[^/\s:@]+:)[^@\s/]+@/g, `$1${REDACTED}@`)
      .replace(
        /\b(authorization["']?\s*[:=]\s*["']?)(ApiKey|Bearer|Basic)?\s*[A-Za-z0-9+/=._~-]+/gi,
        (_m, a: string, scheme?: string) => `${a}${scheme ? scheme + ' ' : ''}${REDACTED}`,
      );
  }

  /** Deep copy with secret-named keys masked and every string passed through `text`. Handles cycles and Errors. */
  value(input: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
    if (typeof input === 'string') return this.text(input);
    if (input === null || typeof input !== 'object') return input;
    if (seen.has(input) || depth > 8) return '[…]';
    seen.add(input);
    if (Buffer.isBuffer(input)) return `<${input.length} bytes>`;
    if (input instanceof Error) {
      const out: Record<string, unknown> = { name: input.name, message: this.text(input.message) };
      const code = (input as { code?: unknown }).code;
      if (code !== undefined) out.code = this.value(code, depth + 1, seen);
      return out;
    }
    if (Array.isArray(input)) return input.map((v) => this.value(v, depth + 1, seen));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(input)) {
      out[k] =
        SECRET_KEY.test(k.replace(/[-_]/g, '')) && v !== undefined && v !== null && v !== ''
          ? REDACTED
          : this.value(v, depth + 1, seen);
    }
    return out;
  }

  /** A readable one-line description of an error, redacted. Never includes request headers or bodies. */
  error(err: unknown): string {
    if (err instanceof Error) {
      const code = (err as { code?: unknown }).code;
      const base = `${err.name}: ${err.message}`;
      return this.text(typeof code === 'string' && !err.message.includes(code) ? `${base} (${code})` : base);
    }
    return this.text(String(err));
  }

  /** Wraps a logger so every message and field is redacted. */
  logger(inner: SinkLogger): SinkLogger {
    const wrap =
      (fn: (m: string, f?: Record<string, unknown>) => void) =>
      (m: string, f?: Record<string, unknown>): void =>
        fn(this.text(m), f === undefined ? undefined : (this.value(f) as Record<string, unknown>));
    return {
      debug: wrap(inner.debug.bind(inner)),
      info: wrap(inner.info.bind(inner)),
      warn: wrap(inner.warn.bind(inner)),
      error: wrap(inner.error.bind(inner)),
    };
  }
}

/** Collects the secret values in a sink config (any string under a secret-named key), for a `Redactor`. */
export function collectSecrets(config: unknown, out: string[] = [], depth = 0): string[] {
  if (config === null || typeof config !== 'object' || depth > 8) return out;
  for (const [k, v] of Object.entries(config)) {
    if (typeof v === 'string' && SECRET_KEY.test(k.replace(/[-_]/g, ''))) out.push(v);
    else if (Buffer.isBuffer(v) && SECRET_KEY.test(k.replace(/[-_]/g, ''))) out.push(v.toString('utf8'));
    else if (typeof v === 'object') collectSecrets(v, out, depth + 1);
  }
  return out;
}
