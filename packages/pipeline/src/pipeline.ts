/**
 * The run-time. One process, one event loop:
 *
 *   sources ──units──▶ decode (ingest adapter) ──events──▶ per-host Correlator ──packets──▶ explainPacket
 *      ▲                   │ bad records                      (host's SnapshotSet)              │
 *      │                   ▼                                                                     ▼
 *      │              dead letter                                       alert rules + dedup ──▶ records
 *      │                                                                                          │
 *      └──── checkpoint ◀── segment released ◀── every sink reached a final status ◀── sinks ◀────┘
 *
 * Backpressure: `emit` (the only way in) waits while more than `maxInFlight` records are unacknowledged, so a
 * slow sink stops the reading; memory is bounded by that, by the open packets (per-host cap) and by one unit.
 * Delivery: at-least-once — see acks.ts for when a position may be checkpointed.
 */
import { createHash } from 'node:crypto';
import { InputError, type DeadLetterOutput, type DecodedBatch } from '@ruletrail/core';
import type { NetfilterEvent } from '@ruletrail/event';
import {
  Correlator,
  addressTyperOf,
  explainPacket,
  type CompletedPacket,
  type Explanation,
} from '@ruletrail/explain';
import type { Segment } from './acks';
import { AlertEngine, usedSnapshot, type AlertRecord } from './alerts';
import type { CheckpointStore } from './checkpoints';
import type { PipelineConfig } from './config';
import type { Logger } from './log';
import type { ComponentMetrics, PipelineMetrics } from './metrics';
import type { SnapshotStore } from './snapshot-store';
import type { OutputRecord, RecordSink, Source, SourceContext, SourceUnit } from './types';
import type { IngestAdapter } from '@ruletrail/core';
import { ProgressBar } from './progress';
import { ReorderBuffer } from './reorder';

/** Everything a run needs, built by the caller (the CLI) from the config. */
export interface PipelineParts {
  readonly config: PipelineConfig;
  readonly sources: readonly Source[];
  readonly sinks: readonly RecordSink[];
  readonly adapters: readonly IngestAdapter[];
  readonly snapshots: SnapshotStore;
  readonly log: Logger;
  readonly metrics: PipelineMetrics;
  readonly deadLetter: DeadLetterOutput;
  readonly checkpoints?: CheckpointStore;
  /** Where the progress bar goes (a TTY); undefined = no bar. */
  readonly progressStream?: NodeJS.WriteStream;
}

/** Totals of a run, logged at the end and returned to the CLI. */
export interface RunSummary {
  units: number;
  events: number;
  skipped: number;
  errors: number;
  packets: number;
  alerts: number;
  delivered: number;
  /** Records a sink refused for good (each is in the dead-letter output with the reason). */
  rejected: number;
  /**
   * Records a sink had not delivered when the run stopped (given up at the shutdown timeout, or never answered):
   * each is in the dead-letter output with the reason and its input is not checkpointed.
   */
  undelivered: number;
  verdicts: Record<string, number>;
  /** Why the run ended: every finite source finished, or a signal. */
  reason: 'end-of-input' | 'signal' | 'error';
}

interface HostState {
  readonly correlator: Correlator;
  /** Puts the host's lines back in log-time order before the correlator (correlation.reorderMs). */
  readonly reorder: ReorderBuffer;
  lastActivity: number;
}

/** A packet's records in flight: when the last one is final, the packet's lines are released. */
interface PacketAck {
  remaining: number;
  readonly segments: Map<Segment, number>;
}

/** A record a sink could not deliver is dead-lettered whole up to this size, so it can be replayed from there. */
const SINK_RECORD_MAX_CHARS = 4 * 1024 * 1024;

/** One record handed to one sink. */
interface Dispatched {
  readonly record: OutputRecord;
  readonly sink: string;
  /** The sink called `done` already. */
  answered: boolean;
  /** Dead-lettered at shutdown for want of an answer (a late `delivered` still releases its input). */
  abandoned: boolean;
}

/** Runs sources → explain → sinks until the input ends or `signal` aborts. */
export class Pipeline {
  private readonly _hosts = new Map<string, HostState>();
  private readonly _segmentOf = new WeakMap<NetfilterEvent, Segment>();
  private readonly _alerts: AlertEngine;
  private _inFlight = 0;
  /** Every record handed to a sink and not yet final, so shutdown can dead-letter what never got an answer. */
  private readonly _unsettled = new Set<Dispatched>();
  private _waiters: (() => void)[] = [];
  private readonly _summary: RunSummary = {
    units: 0,
    events: 0,
    skipped: 0,
    errors: 0,
    packets: 0,
    alerts: 0,
    delivered: 0,
    rejected: 0,
    undelivered: 0,
    verdicts: {},
    reason: 'end-of-input',
  };
  private readonly _log: Logger;
  private readonly _transform: ComponentMetrics;
  /** Per sink: records handed to it (received), delivered (sent), rejected or undelivered (errors). */
  private readonly _sinkMetrics = new Map<string, ComponentMetrics>();

  constructor(private readonly _p: PipelineParts) {
    this._alerts = new AlertEngine(_p.config.alerts);
    this._log = _p.log.child('pipeline', 'transform');
    this._transform = _p.metrics.component('explain', 'transform');
    for (const s of _p.sinks) this._sinkMetrics.set(s.id, _p.metrics.component(s.id, 'sink'));
  }

  /** Records handed to sinks and not yet final. */
  get inFlight(): number {
    return this._inFlight;
  }

  /** Packets open in every host's correlator. */
  get openPackets(): number {
    let n = 0;
    for (const h of this._hosts.values()) n += h.correlator.openPackets;
    return n;
  }

  /**
   * Runs until every source returned (finite inputs ended, or `signal` aborted them), then completes open
   * packets, waits for the sinks, commits positions. Resolves with the totals.
   */
  async run(signal: AbortSignal): Promise<RunSummary> {
    const { config, sources, metrics } = this._p;
    const ctl = new AbortController();
    const onAbort = (): void => {
      this._summary.reason = 'signal';
      ctl.abort();
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    const idle = setInterval(
      () => this._flushIdleHosts(),
      Math.max(
        25,
        Math.min(1000, config.correlation.idleFlushMs / 2, config.correlation.reorderMs / 2 || Infinity),
      ),
    );
    idle.unref();
    const gauges = setInterval(() => {
      metrics.openPackets.set(this.openPackets);
      metrics.inFlight.set(this._inFlight);
      metrics.snapshotHosts.set(this._p.snapshots.hostCount);
    }, 1000);
    gauges.unref();
    const bar =
      this._p.progressStream && sources.some((s) => s.finite)
        ? new ProgressBar(this._p.progressStream, sources, () => this._summary)
        : undefined;
    bar?.start();
    let failure: unknown;
    try {
      await Promise.all(
        sources.map(async (s) => {
          const ctxMetrics = metrics.component(s.id, 'source');
          const ctx: SourceContext = {
            log: this._p.log.child(s.id, 'source'),
            metrics: ctxMetrics,
            checkpoint: this._p.checkpoints?.slot(`source:${s.id}`),
            adapters: this._p.adapters,
            signal: ctl.signal,
            emit: (u) => this._emit(u, ctxMetrics),
          };
          try {
            await s.run(ctx);
          } catch (err) {
            failure ??= err;
            this._summary.reason = 'error';
            this._log.error('A source failed; stopping the pipeline.', { source: s.id, error: err });
            ctl.abort();
          }
        }),
      );
    } finally {
      bar?.stop();
      clearInterval(idle);
      clearInterval(gauges);
      signal.removeEventListener('abort', onAbort);
      await this._shutdown();
    }
    if (failure) throw failure instanceof Error ? failure : new Error('a source failed');
    return this._summary;
  }

  /** Completes open packets, drains sinks within the timeout, closes sources (they commit), writes checkpoints. */
  private async _shutdown(): Promise<void> {
    const { config, sinks, sources, checkpoints } = this._p;
    for (const h of this._hosts.values()) {
      h.reorder.releaseAll();
      h.correlator.flush();
    }
    this._hosts.clear();
    for (const a of this._alerts.flush()) this._dispatchAlert(a, undefined);
    const deadline = Date.now() + config.pipeline.shutdownTimeoutMs;
    await Promise.all(sinks.map((s) => s.flush(Math.max(0, deadline - Date.now()))));
    if (this._inFlight > 0)
      this._log.warn(
        'Shutdown timeout: records not acknowledged by every sink; their input will be read again after a restart.',
        {
          records: this._inFlight,
        },
      );
    for (const s of sources) {
      try {
        await s.close();
      } catch (err) {
        this._log.error('A source failed to close.', { source: s.id, error: err });
      }
    }
    checkpoints?.flush();
    for (const s of sinks) {
      try {
        await s.close();
      } catch (err) {
        this._log.error('A sink failed to close.', { sink: s.id, error: err });
      }
    }
    // A sink that never answered for a record (a write hung past its close) must not lose it silently.
    for (const u of [...this._unsettled]) {
      this._unsettled.delete(u);
      u.abandoned = true;
      this._inFlight--;
      this._undelivered(
        u.record,
        u.sink,
        `no answer from the sink before shutdown (pipeline.shutdownTimeoutMs ${config.pipeline.shutdownTimeoutMs})`,
      );
    }
    if (this._summary.undelivered > 0)
      this._log.error(
        'Records not delivered at shutdown; each is in the dead-letter output with the reason.',
        {
          records: this._summary.undelivered,
        },
      );
  }

  /** Dead-letters a record a sink gave up on at shutdown. Its input stays unacknowledged (replayed on restart). */
  private _undelivered(record: OutputRecord, sink: string, reason: string): void {
    this._summary.undelivered++;
    this._p.deadLetter.write(
      new InputError(
        'RT_ERR_SINK_UNDELIVERED',
        { file: `sink:${sink}` },
        `not delivered: ${reason}`,
        JSON.stringify(record.body),
        SINK_RECORD_MAX_CHARS,
      ),
    );
  }

  /** The single way into the pipeline: decode a unit, feed the correlators; waits while sinks lag. */
  private async _emit(unit: SourceUnit, source: ComponentMetrics): Promise<void> {
    await this._room();
    this._summary.units++;
    const base = (unit.firstLine ?? 1) - 1;
    const data = unit.data;
    const chunks: AsyncIterable<Buffer> = Buffer.isBuffer(data) ? oneChunk(data) : data;
    const seg = unit.segment;
    try {
      for await (const batch of unit.adapter.decode(chunks, { ...unit.decode, file: unit.origin })) {
        const newest = this._batch(batch, base, seg);
        // Lag: how far behind the wall clock the newest record of this source is (event time).
        if (newest !== undefined) source.lag(Math.max(0, (Date.now() - newest) / 1000));
        this._capOpenPackets();
        // A whole binary file is one unit: keep backpressure inside it too.
        if (this._inFlight >= this._p.config.pipeline.maxInFlight) await this._room();
      }
    } catch (err) {
      // An input unusable as a whole (UsageError): dead-letter it, never stop the pipeline for one bad input.
      const e = new InputError('RT_ERR_PIPELINE_INPUT', { file: unit.origin }, (err as Error).message);
      this._p.deadLetter.write(e);
      this._summary.errors++;
      this._transform.error(e.code);
    } finally {
      seg?.seal();
    }
  }

  /** Feeds one decoded batch; returns the newest event time in it (epoch ms), if any. */
  private _batch(batch: DecodedBatch, base: number, seg: Segment | undefined): number | undefined {
    const s = this._summary;
    s.skipped += batch.skipped;
    for (const err of batch.errors) {
      const e =
        base > 0 && err.position.line !== undefined
          ? new InputError(
              err.code,
              { ...err.position, line: err.position.line + base },
              err.reason,
              err.record,
            )
          : err;
      this._p.deadLetter.write(e);
      this._transform.error(e.code);
    }
    s.errors += batch.errors.length;
    this._transform.received(batch.events.length);
    const now = Date.now();
    let newest: string | undefined;
    for (const e of batch.events) {
      s.events++;
      const ts = e['@timestamp'];
      if (ts !== undefined && (newest === undefined || ts > newest)) newest = ts;
      if (!e.netfilter.trace) continue; // packet logs without a trace step: nothing to correlate, nothing to hold
      const o = e.ruletrail.origin;
      if (base > 0 && o.line !== undefined) o.line += base;
      if (seg) {
        seg.retain();
        this._segmentOf.set(e, seg);
      }
      this._host(e.host?.name ?? '', now).reorder.push(e, now);
    }
    // RFC 3339 strings with the same offset compare in time order; parse only the newest.
    const t = newest !== undefined ? Date.parse(newest) : NaN;
    return Number.isNaN(t) ? undefined : t;
  }

  private _host(name: string, now: number): HostState {
    let h = this._hosts.get(name);
    if (!h) {
      const c = this._p.config.correlation;
      const correlator = new Correlator(this._p.snapshots.forHost(name), (p) => this._onPacket(p), {
        windowMs: c.windowMs,
        maxOpenPackets: c.maxOpenPackets,
      });
      h = {
        correlator,
        reorder: new ReorderBuffer(
          c.reorderMs,
          (e) => correlator.push(e),
          this._p.config.pipeline.maxInFlight,
        ),
        lastActivity: now,
      };
      this._hosts.set(name, h);
    }
    h.lastActivity = now;
    return h;
  }

  /**
   * The open-packet cap is per host inside each correlator and also global: many hosts must not multiply it.
   * Beyond it, the least recently active host's open packets are completed (they are the least likely to get
   * more lines soon).
   */
  private _capOpenPackets(): void {
    const max = this._p.config.correlation.maxOpenPackets;
    let open = this.openPackets;
    while (open > max && this._hosts.size > 1) {
      let oldest: [string, HostState] | undefined;
      for (const e of this._hosts) if (!oldest || e[1].lastActivity < oldest[1].lastActivity) oldest = e;
      const [name, h] = oldest!;
      open -= h.correlator.openPackets;
      h.reorder.releaseAll();
      h.correlator.flush();
      this._hosts.delete(name);
      this._log.warn(
        'Open-packet cap reached: completed the open packets of the least recently active host.',
        { host: name },
      );
    }
  }

  /**
   * Timer work per host: release reorder buffers of hosts quiet for `reorderMs`, and complete the open packets
   * of hosts silent for `idleFlushMs` (wall clock): they will not get more lines in time.
   */
  private _flushIdleHosts(): void {
    const now = Date.now();
    const limit = this._p.config.correlation.idleFlushMs;
    for (const [name, h] of this._hosts) {
      h.reorder.releaseIfQuiet(now);
      if (now - h.lastActivity < limit) continue;
      h.reorder.releaseAll();
      h.correlator.flush();
      this._hosts.delete(name);
    }
  }

  private _onPacket(p: CompletedPacket): void {
    const segments = new Map<Segment, number>();
    for (const e of p.events) {
      const seg = this._segmentOf.get(e);
      if (seg) segments.set(seg, (segments.get(seg) ?? 0) + 1);
    }
    let x: Explanation;
    try {
      // The host's addresses in force when the packet was traced decide `addrtype` criteria (else unknown).
      const first = p.events[0];
      const facts = first
        ? this._p.snapshots
            .forHost(first.host?.name ?? '')
            .factsAt(first['@timestamp'] !== undefined ? Date.parse(first['@timestamp']) : undefined)
        : undefined;
      x = explainPacket(p.events, p.pick, p.flags, facts ? { facts: addressTyperOf(facts) } : {});
    } catch (err) {
      // An engine bug on one packet must not wedge the checkpoint (its lines would be replayed into the same
      // failure forever): dead-letter the packet with its first line's position and move on.
      const o = p.events[0]?.ruletrail.origin;
      this._p.deadLetter.write(
        new InputError(
          'RT_ERR_PIPELINE_EXPLAIN',
          { file: o?.file ?? '', ...(o?.line !== undefined ? { line: o.line } : {}) },
          `cannot explain this packet: ${(err as Error).message}`,
        ),
      );
      this._summary.errors++;
      this._transform.error('RT_ERR_PIPELINE_EXPLAIN');
      for (const [seg, n] of segments) seg.release(n);
      return;
    }
    const s = this._summary;
    s.packets++;
    s.verdicts[x.verdict] = (s.verdicts[x.verdict] ?? 0) + 1;
    this._p.metrics.packets.inc({ verdict: x.verdict });
    this._transform.sent();
    const ack: PacketAck = { remaining: 1, segments };
    const id = packetId(x, p.events[0]);
    this._dispatch(
      {
        kind: 'explanation',
        key: x.packet.host ?? '',
        id,
        ...(x.packet.firstSeen ? { time: x.packet.firstSeen } : {}),
        body: x,
      },
      ack,
    );
    for (const a of this._alerts.evaluate(x, usedSnapshot(p.pick, x))) this._dispatchAlert(a, ack, id);
    this._settle(ack); // the initial 1: dispatching is over
  }

  private _dispatchAlert(a: AlertRecord, ack: PacketAck | undefined, packet?: string): void {
    this._summary.alerts++;
    this._p.metrics.alerts.inc({ rule: a.alert.rule, outcome: a.alert.repeat ? 'repeat' : 'emitted' });
    const id = createHash('sha256')
      .update(
        a.alert.repeat
          ? `${a.alert.host}|${a.alert.service ?? ''}|${a.alert.rule}|${a.alert.window.start}|repeat`
          : `${packet ?? ''}|${a.alert.rule}`,
      )
      .digest('hex')
      .slice(0, 32);
    this._dispatch({ kind: 'alert', key: a.alert.host, id, time: a['@timestamp'], body: a }, ack);
  }

  private _dispatch(record: OutputRecord, ack: PacketAck | undefined): void {
    for (const sink of this._p.sinks) {
      if (!sink.kinds.has(record.kind)) continue;
      this._inFlight++;
      if (ack) ack.remaining++;
      const entry: Dispatched = { record, sink: sink.id, answered: false, abandoned: false };
      this._unsettled.add(entry);
      const m = this._sinkMetrics.get(sink.id);
      m?.received();
      sink.send(record, (status, reason) => {
        if (entry.answered) return; // a second call breaks the contract: count the record once
        entry.answered = true;
        if (entry.abandoned) {
          // Answered after shutdown dead-lettered it: the counts stand, but a delivery may release the input.
          if (status === 'delivered' && ack) this._settle(ack);
          return;
        }
        this._unsettled.delete(entry);
        this._inFlight--;
        if (status === 'undelivered') {
          // Not final: the packet's lines are not released, so their position is not checkpointed.
          m?.error('RT_ERR_SINK_UNDELIVERED');
          this._undelivered(record, sink.id, reason ?? 'given up at shutdown');
          this._wake();
          return;
        }
        if (status === 'delivered') {
          this._summary.delivered++;
          m?.sent();
        } else {
          this._summary.rejected++;
          m?.error('RT_ERR_SINK_REJECTED');
          this._p.deadLetter.write(
            new InputError(
              'RT_ERR_SINK_REJECTED',
              { file: `sink:${sink.id}` },
              reason ?? 'rejected by the sink',
              JSON.stringify(record.body),
              SINK_RECORD_MAX_CHARS,
            ),
          );
        }
        if (ack) this._settle(ack);
        this._wake();
      });
    }
  }

  private _settle(ack: PacketAck): void {
    if (--ack.remaining > 0) return;
    for (const [seg, n] of ack.segments) seg.release(n);
  }

  private _room(): Promise<void> {
    if (this._inFlight < this._p.config.pipeline.maxInFlight) return Promise.resolve();
    return new Promise((resolve) => this._waiters.push(resolve));
  }

  private _wake(): void {
    if (this._inFlight < this._p.config.pipeline.maxInFlight && this._waiters.length) {
      const w = this._waiters;
      this._waiters = [];
      for (const f of w) f();
    }
  }
}

/** Same packet, same id: host, where its first line was read, and when. */
function packetId(x: Explanation, first: NetfilterEvent | undefined): string {
  const o = first?.ruletrail.origin;
  return createHash('sha256')
    .update(
      `${x.packet.host ?? ''}|${o?.file ?? ''}|${o?.line ?? ''}|${o?.offset ?? ''}|${x.packet.firstSeen ?? ''}`,
    )
    .digest('hex')
    .slice(0, 32);
}

// eslint-disable-next-line @typescript-eslint/require-await
async function* oneChunk(b: Buffer): AsyncIterable<Buffer> {
  yield b;
}
