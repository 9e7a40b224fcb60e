/**
 * The file source in process, with the real adapters: a binary pcap capture read whole (auto-detected), a
 * gzip-compressed log, and a read-once file whose checkpoint makes a second run skip it.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { kernelLogPlugin } from '@ruletrail/ingest-kernel-log';
import { nflogPcapPlugin } from '@ruletrail/ingest-nflog-pcap';
import { fileSinkPlugin } from '@ruletrail/sink-file';
import {
  CheckpointStore,
  Pipeline,
  PipelineMetrics,
  SILENT,
  SnapshotStore,
  parseConfig,
  type FileSourceConfig,
  type FinalStatus,
  type RecordSink,
} from '@ruletrail/pipeline';
import { StreamDeadLetter, type PluginRegistry, type SinkRecord } from '@ruletrail/core';
import { FileSource, fileSourcePlugin } from '../src';

const PLUGINS: PluginRegistry = {
  ingest: [nflogPcapPlugin, kernelLogPlugin],
  sources: [fileSourcePlugin],
  sinks: [fileSinkPlugin],
};

const ROOT = join(__dirname, '../../..');
const PCAP = join(ROOT, 'packages/ingest-nflog-pcap/test/fixtures/real/trace.pcap');

class Collect implements RecordSink {
  readonly id = 'mem';
  readonly kinds = new Set(['packet'] as const);
  readonly bodies: Record<string, unknown>[] = [];
  send(r: SinkRecord, done: (s: FinalStatus) => void): void {
    this.bodies.push(r.body);
    setImmediate(() => done('delivered'));
  }
  flush(): Promise<void> {
    // Every `done` was scheduled with setImmediate when its record was sent: they have all run after this one.
    return new Promise((r) => setImmediate(r));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

async function readOnce(paths: string[], dataDir?: string): Promise<{ sink: Collect; events: number }> {
  const yaml = `version: 1\n${dataDir ? `dataDir: ${dataDir}\n` : ''}sources: [{ id: f, type: file, mode: read, year: 2023, paths: ${JSON.stringify(paths)} }]\nsinks: [{ id: o, type: file }]\n`;
  const cfg = parseConfig(yaml, join(tmpdir(), 'x.yaml'), PLUGINS, {});
  const sink = new Collect();
  const checkpoints = dataDir ? new CheckpointStore(dataDir) : undefined;
  const p = new Pipeline({
    config: cfg,
    sources: [new FileSource(cfg.sources[0] as FileSourceConfig)],
    sinks: [sink],
    ingest: PLUGINS.ingest,
    snapshots: new SnapshotStore(),
    log: SILENT,
    metrics: new PipelineMetrics(),
    deadLetter: new StreamDeadLetter(),
    ...(checkpoints ? { checkpoints } : {}),
  });
  const s = await p.run(new AbortController().signal);
  return { sink, events: s.events };
}

describe('file source (in process)', () => {
  it('reads a real NFLOG pcap capture whole, auto-detected by its magic', async () => {
    const { sink, events } = await readOnce([PCAP]);
    assert.ok(events > 0, 'no events decoded from the capture');
    assert.ok(sink.bodies.length > 0, 'no packets explained');
    for (const b of sink.bodies) assert.equal((b.packet as { channel: string }).channel, 'nflog-pcap');
  });

  it('reads a gzip-compressed log in read mode', async () => {
    const d = mkdtempSync(join(tmpdir(), 'rt-fs-'));
    writeFileSync(join(d, 'kern.log.gz'), gzipSync(readFileSync(join(ROOT, 'examples/incident/kern.log'))));
    const { sink } = await readOnce([join(d, 'kern.log.gz')]);
    assert.deepEqual(
      sink.bodies.map((b) => (b.packet as { dport: number }).dport),
      [52000, 80],
    );
  });

  it('checkpoints a file read once, so a second run with the same dataDir reads nothing again', async () => {
    const d = mkdtempSync(join(tmpdir(), 'rt-fs-'));
    copyFileSync(join(ROOT, 'examples/incident/kern.log'), join(d, 'kern.log'));
    copyFileSync(PCAP, join(d, 'trace.pcap'));
    const first = await readOnce([join(d, 'kern.log'), join(d, 'trace.pcap')], join(d, 'state'));
    assert.ok(first.sink.bodies.length > 2);
    const second = await readOnce([join(d, 'kern.log'), join(d, 'trace.pcap')], join(d, 'state'));
    assert.equal(second.sink.bodies.length, 0);
    assert.equal(second.events, 0);
  });
});
