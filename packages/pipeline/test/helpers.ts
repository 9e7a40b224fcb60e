/** Test helpers: real kernel-log lines of the bundled incident, an in-memory source and sink, a pipeline run. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  NO_OPTIONS,
  StreamDeadLetter,
  defineSink,
  defineSource,
  type InputError,
  type PluginRegistry,
  type SinkRecord,
  type SinkRecordKind,
} from '@ruletrail/core';
import { kernelLogAdapter, kernelLogPlugin } from '@ruletrail/ingest-kernel-log';
import {
  OffsetTracker,
  Pipeline,
  PipelineMetrics,
  SILENT,
  SnapshotStore,
  parseConfig,
  sinkRecordKind,
  type FinalStatus,
  type PipelineConfig,
  type RecordKindName,
  type RecordSink,
  type RunSummary,
  type Source,
  type SourceContext,
} from '../src';

export const INCIDENT = join(__dirname, '../../../examples/incident');
const KERN = readFileSync(join(INCIDENT, 'kern.log'), 'utf8').split('\n');
export const SAVE_0101 = readFileSync(join(INCIDENT, 'iptables-save-0101.txt'), 'utf8');
export const SAVE_0103 = readFileSync(join(INCIDENT, 'iptables-save-0103.txt'), 'utf8');

/** The write-up's DROP packet (Jan 1, port 52000), copy `n` (unique IP ID / SEQ), optionally on another host. */
export function dropPacket(n: number, host?: string): string[] {
  return KERN.slice(1, 26).map((l) => vary(l, 'ID=41569', 'SEQ=2805899841', n, host));
}

/** The ACCEPT packet (Jan 3, port 80 DNAT'ed to 52000), copy `n`. */
export function acceptPacket(n: number, host?: string): string[] {
  return KERN.slice(28, 48).map((l) => vary(l, 'ID=52941', 'SEQ=3510886474', n, host));
}

function vary(l: string, id: string, seq: string, n: number, host?: string): string {
  const s = l.replace(id, `ID=${n % 65536}`).replace(seq, `SEQ=${1_000_000 + n}`);
  return host ? s.replace(' cos74 ', ` ${host} `) : s;
}

/**
 * The plugins pipeline test configs name. Tests hand the pipeline in-memory sources and sinks, so these are
 * never built: they only give the config loader the `stdin` source and `file` sink types (the real registry is
 * the CLI's, tested in packages/cli/test/config.test.ts).
 */
const notBuilt = (): never => {
  throw new Error('pipeline tests do not build components from the config');
};
export const TEST_PLUGINS: PluginRegistry = {
  ingest: [kernelLogPlugin],
  sources: [defineSource({ type: 'stdin', summary: 'stdin', options: NO_OPTIONS, create: notBuilt })],
  sinks: [
    defineSink({
      type: 'file',
      summary: 'file',
      placement: 'inline',
      options: {
        type: 'object',
        additionalProperties: false,
        properties: { path: { type: 'string', default: '-' } },
      },
      create: notBuilt,
    }),
  ],
};

/** A config from YAML text (validated like a file). */
export function config(yaml: string): PipelineConfig {
  return parseConfig(yaml, join(__dirname, 'test.yaml'), TEST_PLUGINS, {});
}

/** Hands fixed chunks of lines to the pipeline, with acknowledgement tracking. */
export class MemorySource implements Source {
  readonly finite = true;
  readonly tracker: OffsetTracker;
  constructor(
    readonly id: string,
    private readonly _chunks: string[][],
    private readonly _year = 2023,
  ) {
    this.tracker = new OffsetTracker(0);
  }
  async run(ctx: SourceContext): Promise<void> {
    let line = 1;
    let i = 0;
    for (const lines of this._chunks) {
      await ctx.emit({
        origin: this.id,
        data: Buffer.from(lines.join('\n') + '\n'),
        firstLine: line,
        adapter: kernelLogAdapter,
        decode: { year: this._year },
        segment: this.tracker.open(++i),
      });
      line += lines.length;
    }
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Keeps records; acknowledges after `delayMs` (0 = next tick), or rejects those `reject` says. */
export class MemorySink implements RecordSink {
  readonly records: SinkRecord[] = [];
  readonly kinds: ReadonlySet<SinkRecordKind>;
  private _pending = 0;
  maxPending = 0;
  constructor(
    readonly id = 'mem',
    kinds: RecordKindName[] = ['explanation', 'alert'],
    private readonly _delayMs = 0,
    private readonly _reject?: (r: SinkRecord) => string | undefined,
  ) {
    this.kinds = new Set(kinds.map(sinkRecordKind));
  }
  send(record: SinkRecord, done: (s: FinalStatus, reason?: string) => void): void {
    this._pending++;
    this.maxPending = Math.max(this.maxPending, this._pending);
    setTimeout(() => {
      this._pending--;
      const why = this._reject?.(record);
      if (why) done('rejected', why);
      else {
        this.records.push(record);
        done('delivered');
      }
    }, this._delayMs);
  }
  async flush(): Promise<void> {
    while (this._pending > 0) await new Promise((r) => setTimeout(r, 5));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  /** Bodies of one kind. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  bodies(kind: RecordKindName): any[] {
    return this.records.filter((r) => r.kind === sinkRecordKind(kind)).map((r) => r.body);
  }
}

/** Collects dead letters. */
export class MemoryDeadLetter extends StreamDeadLetter {
  readonly errors: InputError[] = [];
  override write(e: InputError): void {
    this.errors.push(e);
  }
}

/** Runs a pipeline to the end of its sources, handing the pipeline to `peek` first. */
export async function runWith(
  cfg: PipelineConfig,
  sources: Source[],
  sinks: RecordSink[],
  snapshots: SnapshotStore,
  peek: (p: Pipeline) => void,
): Promise<RunSummary> {
  const p = new Pipeline({
    config: cfg,
    sources,
    sinks,
    ingest: [kernelLogPlugin],
    snapshots,
    log: SILENT,
    metrics: new PipelineMetrics(),
    deadLetter: new MemoryDeadLetter(),
  });
  peek(p);
  return p.run(new AbortController().signal);
}

/** Runs a pipeline to the end of its sources. */
export async function run(
  cfg: PipelineConfig,
  sources: Source[],
  sinks: RecordSink[],
  snapshots = new SnapshotStore(),
  deadLetter = new MemoryDeadLetter(),
): Promise<RunSummary> {
  const p = new Pipeline({
    config: cfg,
    sources,
    sinks,
    ingest: [kernelLogPlugin],
    snapshots,
    log: SILENT,
    metrics: new PipelineMetrics(),
    deadLetter,
  });
  return p.run(new AbortController().signal);
}

/** Minimal valid config YAML with extra top-level YAML appended. */
export function minimal(extra = ''): PipelineConfig {
  return config(`version: 1\nsources: [{ id: s, type: stdin }]\nsinks: [{ id: o, type: file }]\n${extra}`);
}
