/**
 * Prometheus metrics, named after Vector's component spec so dashboards built for it read ours:
 * `ruletrail_component_received_events_total`, `…_sent_events_total`, `…_errors_total`,
 * `…_discarded_events_total`, all labelled `{component_id, component_kind}`; errors also by `error_code` (a
 * bounded set: RT_ERR_*). Gauges cover what is held in memory (open packets, records in flight) and lag.
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/** Counters of one component. */
export interface ComponentMetrics {
  /** Records (lines, messages) read by a source, or records handed to a sink. */
  received(n?: number): void;
  /** Records a source handed on, or a sink delivered. */
  sent(n?: number): void;
  /** Records that failed with `code`. */
  error(code: string, n?: number): void;
  /** Records dropped on purpose (UDP under backpressure, rejected by a sink). */
  discarded(reason: string, n?: number): void;
  /** Input lag: seconds between a record's event time and now, or a Kafka offset lag. */
  lag(value: number): void;
}

/** The registry of one run. */
export class PipelineMetrics {
  readonly registry = new Registry();
  private readonly _received: Counter;
  private readonly _sent: Counter;
  private readonly _errors: Counter;
  private readonly _discarded: Counter;
  private readonly _lag: Gauge;
  /** Packets open in the correlators. */
  readonly openPackets: Gauge;
  /** Records handed to sinks that did not reach a final status yet. */
  readonly inFlight: Gauge;
  /** Packets explained, by verdict. */
  readonly packets: Counter;
  /** Alerts emitted / suppressed, by rule. */
  readonly alerts: Counter;
  /** Hosts with a snapshot history. */
  readonly snapshotHosts: Gauge;

  constructor() {
    const r = this.registry;
    const labels = ['component_id', 'component_kind'];
    this._received = new Counter({
      name: 'ruletrail_component_received_events_total',
      help: 'Records received by a component.',
      labelNames: labels,
      registers: [r],
    });
    this._sent = new Counter({
      name: 'ruletrail_component_sent_events_total',
      help: 'Records sent on (sources) or delivered (sinks).',
      labelNames: labels,
      registers: [r],
    });
    this._errors = new Counter({
      name: 'ruletrail_component_errors_total',
      help: 'Records that failed, by error code.',
      labelNames: [...labels, 'error_code'],
      registers: [r],
    });
    this._discarded = new Counter({
      name: 'ruletrail_component_discarded_events_total',
      help: 'Records dropped on purpose, by reason.',
      labelNames: [...labels, 'reason'],
      registers: [r],
    });
    this._lag = new Gauge({
      name: 'ruletrail_component_lag_seconds',
      help: 'Seconds between the newest record read and now (event time).',
      labelNames: labels,
      registers: [r],
    });
    this.openPackets = new Gauge({
      name: 'ruletrail_open_packets',
      help: 'Packets open in the correlators.',
      registers: [r],
    });
    this.inFlight = new Gauge({
      name: 'ruletrail_records_in_flight',
      help: 'Records handed to sinks and not yet delivered or rejected.',
      registers: [r],
    });
    this.packets = new Counter({
      name: 'ruletrail_packets_total',
      help: 'Packets explained, by verdict.',
      labelNames: ['verdict'],
      registers: [r],
    });
    this.alerts = new Counter({
      name: 'ruletrail_alerts_total',
      help: 'Alerts by rule and outcome (emitted, suppressed).',
      labelNames: ['rule', 'outcome'],
      registers: [r],
    });
    this.snapshotHosts = new Gauge({
      name: 'ruletrail_snapshot_hosts',
      help: 'Hosts with at least one snapshot.',
      registers: [r],
    });
    collectDefaultMetrics({ register: r, prefix: 'ruletrail_' });
  }

  /** Counters bound to one component. */
  component(id: string, kind: 'source' | 'sink' | 'transform'): ComponentMetrics {
    const l = { component_id: id, component_kind: kind };
    return {
      received: (n = 1) => this._received.inc(l, n),
      sent: (n = 1) => this._sent.inc(l, n),
      error: (code, n = 1) => this._errors.inc({ ...l, error_code: code }, n),
      discarded: (reason, n = 1) => this._discarded.inc({ ...l, reason }, n),
      lag: (v) => this._lag.set(l, v),
    };
  }

  /**
   * Serves `/metrics` on `host:port`; resolves with the server once listening. Exposure bounds (issue #15): at
   * most `maxConnections` at once (Node closes the others on accept), a connection idle or a request unfinished
   * for `idleTimeoutMs` is closed, request headers are capped at 8 KiB, and only `GET /metrics` is answered
   * (nothing reads a request body).
   */
  async serve(
    listen: string,
    opts: { readonly maxConnections?: number; readonly idleTimeoutMs?: number } = {},
  ): Promise<Server> {
    const { host, port } = splitHostPort(listen);
    const idle = opts.idleTimeoutMs ?? 30000;
    const server = createServer(
      { maxHeaderSize: 8192, requestTimeout: idle, headersTimeout: idle },
      (req, res) => {
        if (req.url !== '/metrics') {
          res.writeHead(404).end();
          return;
        }
        if (req.method !== 'GET' && req.method !== 'HEAD') {
          res.writeHead(405, { allow: 'GET, HEAD' }).end();
          return;
        }
        this.registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
          // The registry's message, not anything from the request.
          (err: Error) => res.writeHead(500).end(err.message),
        );
      },
    );
    server.maxConnections = opts.maxConnections ?? 16;
    server.keepAliveTimeout = Math.min(idle, 5000);
    server.timeout = idle;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, resolve);
    });
    return server;
  }
}

/** Metrics that go nowhere (components built outside a run, tests). */
export const NO_METRICS: ComponentMetrics = {
  received: () => undefined,
  sent: () => undefined,
  error: () => undefined,
  discarded: () => undefined,
  lag: () => undefined,
};

/**
 * `127.0.0.1:9464` / `[::1]:9464` / `:9464` → host and port. No host means loopback (127.0.0.1), not every
 * interface: a listener reachable from the network must be asked for by address (`0.0.0.0:9464`, issue #15).
 */
export function splitHostPort(s: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(s);
  if (!m) throw new Error(`'${s}' is not host:port`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port: Number(m[3]) };
}
