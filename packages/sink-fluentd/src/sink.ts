/**
 * Fluentd sink: fluent-logger in PackedForward mode with `requireAckResponse`, so every chunk carries a `chunk`
 * id and a record counts as delivered only when the receiver answered `{ ack: <chunk> }`.
 *
 * fluent-logger's own reconnect timer is off: after any socket error or a missing ack the sender is dropped and
 * every record of that write is retriable; the next write opens a new connection (the runner's backoff paces
 * reconnects). A late ack for a dropped chunk cannot be matched, so such records are re-sent: at-least-once,
 * with `ruletrail.id` in every record for downstream dedupe.
 */
import { EventTime, createFluentSender, type FluentSender, type FluentSenderOptions } from 'fluent-logger';
import {
  DELIVERED,
  NOOP_LOGGER,
  Redactor,
  SINK_SCHEMA_VERSION,
  SinkError,
  collectSecrets,
  isCertificateError,
  type Sink,
  type SinkLogger,
  type SinkOutcome,
  type SinkRecord,
} from '@ruletrail/core';
import { FLUENTD_DEFAULTS, validateFluentdConfig, type FluentdSinkConfig } from './config';
import { connect as netConnect, isIP } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';

export interface FluentdSinkOptions {
  readonly logger?: SinkLogger;
}

/** The record a Fluentd receiver gets: the body plus a `ruletrail` envelope. Exported for tests and docs. */
export function fluentdPayload(r: SinkRecord): Record<string, unknown> {
  return { ...r.body, ruletrail: { id: r.id, key: r.key, kind: r.kind, schema: SINK_SCHEMA_VERSION } };
}

function eventTime(r: SinkRecord): EventTime {
  const t = r.timestamp ?? (typeof r.body['@timestamp'] === 'string' ? r.body['@timestamp'] : undefined);
  const ms = t === undefined ? NaN : Date.parse(t);
  return EventTime.fromTimestamp(Number.isFinite(ms) ? ms : Date.now());
}

export class FluentdSink implements Sink {
  readonly name = 'fluentd';
  private readonly _cfg: FluentdSinkConfig;
  private readonly _redactor: Redactor;
  private readonly _log: SinkLogger;
  private _sender: FluentSender | undefined;

  constructor(config: FluentdSinkConfig, options: FluentdSinkOptions = {}) {
    validateFluentdConfig(config);
    this._cfg = config;
    this._redactor = new Redactor(collectSecrets(config));
    this._log = this._redactor.logger(options.logger ?? NOOP_LOGGER);
  }

  /**
   * Checks the receiver accepts connections (the forward protocol has no request/response to probe). With TLS it
   * completes the handshake with the configured trust, so a certificate the sink will never accept fails here,
   * not retry by retry at the first write: that is a configuration error, not retriable.
   */
  async connect(): Promise<void> {
    if (this._cfg.path !== undefined) return;
    const host = this._cfg.host ?? FLUENTD_DEFAULTS.host;
    const port = this._cfg.port ?? FLUENTD_DEFAULTS.port;
    const tlsOptions = this._tlsOptions();
    await new Promise<void>((resolve, reject) => {
      const s =
        tlsOptions === undefined
          ? netConnect({ port, host })
          : tlsConnect({
              port,
              host,
              ...tlsOptions,
              ...(tlsOptions.servername === undefined && isIP(host) === 0 ? { servername: host } : {}),
            });
      s.setTimeout(10_000);
      s.once(tlsOptions === undefined ? 'connect' : 'secureConnect', () => {
        s.destroy();
        resolve();
      });
      s.once('timeout', () => {
        s.destroy();
        reject(
          new SinkError('RT_ERR_FLUENTD_CONNECT', `Fluentd: connect to ${host}:${port} timed out`, {
            retriable: true,
          }),
        );
      });
      s.once('error', (err: Error) => {
        s.destroy();
        const cert = isCertificateError(err);
        reject(
          new SinkError(
            cert ? 'RT_ERR_FLUENTD_TLS' : 'RT_ERR_FLUENTD_CONNECT',
            `Fluentd: ${cert ? 'TLS certificate of' : 'cannot connect to'} ${host}:${port}: ${this._redactor.error(err)}`,
            { retriable: !cert },
          ),
        );
      });
    });
  }

  write(records: readonly SinkRecord[], signal: AbortSignal): Promise<SinkOutcome[]> {
    const sender = (this._sender ??= this._createSender());
    const ackTimeoutMs = this._cfg.ackTimeoutMs ?? FLUENTD_DEFAULTS.ackTimeoutMs;
    return new Promise<SinkOutcome[]>((resolve) => {
      const out = new Array<SinkOutcome | undefined>(records.length);
      let remaining = records.length;
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        sender.removeListener('error', onError);
        signal.removeEventListener('abort', onAbort);
        resolve(out.map((o) => o ?? { status: 'retriable', reason: 'not acknowledged' }));
      };
      const failAll = (reason: string): void => {
        if (done) return;
        for (let i = 0; i < out.length; i++)
          if (out[i] === undefined) out[i] = { status: 'retriable', reason };
        this._drop(sender, reason);
        finish();
      };
      const onError = (err: Error): void => failAll(this._redactor.error(err));
      const onAbort = (): void => failAll('aborted');
      const timer = setTimeout(
        () => failAll(`no ack from the receiver within ${ackTimeoutMs} ms`),
        ackTimeoutMs,
      );
      sender.on('error', onError);
      signal.addEventListener('abort', onAbort, { once: true });
      for (let i = 0; i < records.length; i++) {
        const r = records[i]!;
        sender.emit(r.kind, fluentdPayload(r), eventTime(r), (err?: Error) => {
          if (done) return;
          out[i] = err ? { status: 'retriable', reason: this._redactor.error(err) } : DELIVERED;
          if (--remaining === 0) finish();
        });
      }
    });
  }

  close(): Promise<void> {
    const s = this._sender;
    this._sender = undefined;
    if (s === undefined) return Promise.resolve();
    return new Promise((resolve) => s.end(undefined, undefined, () => resolve()));
  }

  /** Node TLS options for the config, shared by the connect() probe and the sender; undefined without TLS. */
  private _tlsOptions(): ConnectionOptions | undefined {
    const t = this._cfg.tls;
    if (t === undefined) return undefined;
    return {
      ...(t.ca !== undefined ? { ca: t.ca } : {}),
      ...(t.cert !== undefined ? { cert: t.cert } : {}),
      ...(t.key !== undefined ? { key: t.key } : {}),
      ...(t.servername !== undefined ? { servername: t.servername } : {}),
      rejectUnauthorized: t.rejectUnauthorized !== false,
    };
  }

  private _createSender(): FluentSender {
    const c = this._cfg;
    const log = this._log;
    const tlsOptions = this._tlsOptions();
    const opts: FluentSenderOptions = {
      host: c.host ?? FLUENTD_DEFAULTS.host,
      port: c.port ?? FLUENTD_DEFAULTS.port,
      ...(c.path !== undefined ? { path: c.path } : {}),
      eventMode: c.eventMode ?? FLUENTD_DEFAULTS.eventMode,
      requireAckResponse: true,
      ackResponseTimeout: c.ackTimeoutMs ?? FLUENTD_DEFAULTS.ackTimeoutMs,
      // The runner batches; fluent-logger should send what it has at once (its minimum is 1 ms).
      flushInterval: 1,
      sendQueueSizeLimit: 64 * 1024 * 1024,
      enableReconnect: false,
      internalLogger: {
        info: (...a: unknown[]) => log.debug(`fluent-logger: ${a.map(String).join(' ')}`),
        error: (...a: unknown[]) =>
          log.warn(`fluent-logger: ${a.map((x) => (x instanceof Error ? x.message : String(x))).join(' ')}`),
      },
      ...(tlsOptions !== undefined ? { tls: true, tlsOptions } : {}),
      ...(c.security
        ? {
            security: {
              clientHostname: c.security.selfHostname,
              sharedKey: c.security.sharedKey,
              username: c.security.username ?? '',
              password: c.security.password ?? '',
            },
          }
        : {}),
    };
    return createFluentSender(c.tag, opts);
  }

  private _drop(sender: FluentSender, reason: string): void {
    if (this._sender !== sender) return;
    this._sender = undefined;
    this._log.warn('Fluentd connection dropped; reconnecting on the next write.', { reason });
    try {
      sender._disconnect();
    } catch {
      // Already closed.
    }
  }
}
