/**
 * `ruletrail run --config <file>`: the long-running pipeline. Builds the sources, sinks, snapshot feeds,
 * metrics endpoint and checkpoint store the config describes, runs until every finite input ended or SIGTERM /
 * SIGINT arrives, then shuts down gracefully (complete open packets, wait for the sinks, checkpoint).
 * A second signal exits at once (nothing is lost: positions not acknowledged are read again on restart).
 */
import { parseArgs } from 'node:util';
import type { Server } from 'node:http';
import {
  InputError,
  NdjsonDeadLetterFile,
  TeeDeadLetter,
  UsageError,
  formatPosition,
  type DeadLetterOutput,
  type Sink,
} from '@ruletrail/core';
import {
  CheckpointStore,
  ConfigError,
  JsonLogger,
  Pipeline,
  PipelineMetrics,
  RunnerSink,
  SnapshotDirectoryFeed,
  SnapshotStore,
  formatProblem,
  loadConfig,
  loadStaticSnapshots,
  type Logger,
  type PipelineConfig,
  type RecordSink,
  type SnapshotFeed,
  type Source,
} from '@ruletrail/pipeline';
import { FileSource, StdinSource } from '@ruletrail/source-file';
import { SyslogSource } from '@ruletrail/source-syslog';
import { KafkaSnapshotFeed, KafkaSource } from '@ruletrail/source-kafka';
import { FileSink } from '@ruletrail/sink-file';
import { KafkaSink, validateKafkaConfig, type KafkaSinkConfig } from '@ruletrail/sink-kafka';
import {
  ElasticsearchSink,
  setupElasticsearch,
  validateElasticsearchConfig,
  type ElasticsearchSinkConfig,
} from '@ruletrail/sink-elasticsearch';
import { FluentdSink, validateFluentdConfig, type FluentdSinkConfig } from '@ruletrail/sink-fluentd';
import { nflogPcapAdapter } from '@ruletrail/ingest-nflog-pcap';
import { ADAPTERS } from './builtins';

/** The explain adapters, plus the NFLOG pcap reader for `pcap` files when the built-in list lacks it. */
const RUN_ADAPTERS = ADAPTERS.some((a) => a.channel === 'nflog-pcap')
  ? ADAPTERS
  : [nflogPcapAdapter, ...ADAPTERS];

export const RUN_USAGE = `usage: ruletrail run --config <config.yaml> [--log-level debug|info|warn|error] [--no-progress]

Runs the streaming pipeline a config file describes: sources (file tail, stdin, syslog, Kafka) → ingest
adapters → per-host snapshot join and explanation → alerts → sinks (NDJSON file/stdout, Kafka, Elasticsearch,
Fluentd). Logs are JSON lines on stderr. SIGTERM/SIGINT: stop reading, complete open packets, wait for the
sinks, checkpoint, exit 0 — or exit 3 when a sink refused records or had not delivered them when the run stopped
(each such record is in the dead-letter output with the reason). Check a config first with 'ruletrail validate'. Docs: docs/pipeline.md.`;

/** Exit status of a run that ended with records not delivered by some sink (each one dead-lettered). */
export const EXIT_UNDELIVERED = 3;

/** Runs `run`; returns the exit code. */
export async function runCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      config: { type: 'string', short: 'c' },
      'log-level': { type: 'string' },
      'no-progress': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(RUN_USAGE + '\n');
    return 0;
  }
  if (!values.config) throw new UsageError('--config <file> is required (see ruletrail run --help)');
  let config: PipelineConfig;
  try {
    config = loadConfig(values.config);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const p of err.problems) process.stderr.write(`${formatProblem(values.config, p)}\n`);
    process.stderr.write(
      `ruletrail: ${values.config}: invalid configuration (${err.problems.length} problem${err.problems.length === 1 ? '' : 's'})\n`,
    );
    return 2;
  }
  const level = (values['log-level'] ?? config.log.level) as 'debug' | 'info' | 'warn' | 'error';
  if (!['debug', 'info', 'warn', 'error'].includes(level))
    throw new UsageError(`--log-level: unknown level '${level}'`);
  const log = new JsonLogger(level);
  const metrics = new PipelineMetrics();
  const outputs: DeadLetterOutput[] = [new LoggedDeadLetter(log.child('dead-letter'))];
  // A full disk under the dead-letter file must neither crash the run nor lose the reports silently: they are
  // held in memory (bounded) and written when the file can be written again; what never was fails the exit status.
  const dlLog = log.child('dead-letter');
  const dlFile = config.deadLetter
    ? new NdjsonDeadLetterFile(config.deadLetter.path, {
        onError: (err, pending) =>
          dlLog.error('Cannot write the dead-letter file; holding dead letters in memory and retrying.', {
            path: config.deadLetter?.path,
            error: err.code ?? err.message,
            pending,
          }),
        onRecover: (written) =>
          dlLog.info('The dead-letter file can be written again.', {
            path: config.deadLetter?.path,
            written,
          }),
      })
    : undefined;
  if (dlFile) outputs.push(dlFile);
  const deadLetter = new TeeDeadLetter(outputs);
  const checkpoints = config.dataDir
    ? new CheckpointStore(config.dataDir, config.pipeline.checkpointIntervalMs)
    : undefined;
  if (!checkpoints && config.sources.some((s) => s.type === 'file' && s.mode === 'tail'))
    log.warn(
      'No dataDir: tailed file positions are not checkpointed, a restart reads the files from their start position again.',
    );

  const store = new SnapshotStore(config.snapshots.historyPerHost, (host, err) =>
    deadLetter.write(new InputError('RT_ERR_SNAPSHOT_INVALID', { file: `snapshot:${host}` }, err.message)),
  );
  await loadStaticSnapshots(config.snapshots.files, store, log.child('snapshots'));
  const feeds: SnapshotFeed[] = [];
  if (config.snapshots.directory)
    feeds.push(
      new SnapshotDirectoryFeed(
        config.snapshots.directory,
        store,
        log.child('snapshots'),
        deadLetter,
        config.snapshots.pollIntervalMs,
      ),
    );
  if (config.snapshots.kafka)
    feeds.push(new KafkaSnapshotFeed(config.snapshots.kafka, store, log.child('snapshots'), deadLetter));

  const sinks: RecordSink[] = [];
  const sources: Source[] = [];
  let server: Server | undefined;
  const ctl = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++;
    if (signals === 1) {
      log.info('Signal received: stopping the sources, completing open packets, waiting for the sinks.', {
        signal: sig,
      });
      ctl.abort();
    } else {
      log.warn('Second signal: exiting now; unacknowledged input will be read again after a restart.', {
        signal: sig,
      });
      checkpoints?.flush();
      process.exit(130);
    }
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // SIGHUP: logrotate renamed our output files; write new ones at the configured paths.
  const onHup = (): void => {
    log.info('SIGHUP: reopening output files.');
    for (const s of sinks) s.reopen?.();
  };
  process.on('SIGHUP', onHup);
  try {
    for (const f of feeds) await f.start();
    if (config.snapshots.directory || config.snapshots.files.length || config.snapshots.kafka)
      log.info('Snapshot store ready.', { hosts: store.hostCount });
    for (const s of config.sinks) sinks.push(await buildSink(s, log, () => ctl.abort()));
    for (const s of config.sources) sources.push(buildSource(s));
    if (config.metrics) {
      server = await metrics.serve(config.metrics.listen, config.metrics);
      log.info('Serving Prometheus metrics.', { listen: config.metrics.listen, path: '/metrics' });
    }
    const progress =
      !values['no-progress'] &&
      (config.log.progress === 'on' || (config.log.progress === 'auto' && process.stderr.isTTY))
        ? process.stderr
        : undefined;
    const pipeline = new Pipeline({
      config,
      sources,
      sinks,
      adapters: RUN_ADAPTERS,
      snapshots: store,
      log,
      metrics,
      deadLetter,
      ...(checkpoints ? { checkpoints } : {}),
      ...(progress ? { progressStream: progress } : {}),
    });
    log.info('Pipeline started.', { sources: sources.map((s) => s.id), sinks: sinks.map((s) => s.id) });
    const summary = await pipeline.run(ctl.signal);
    log.info('Pipeline stopped.', { ...summary, deadLetters: deadLetter.count });
    // Records a sink refused or had not delivered at the stop are in the dead-letter output; the exit status
    // says so, so a supervisor or script never takes a lossy run for a clean one (issue #15).
    const lost = summary.rejected + summary.undelivered;
    await deadLetter.close();
    if (dlFile && dlFile.unwritten > 0) {
      log.error('Some dead letters could not be written to the dead-letter file.', {
        path: config.deadLetter?.path,
        unwritten: dlFile.unwritten,
        ...(dlFile.failing ? { error: dlFile.failing.code ?? dlFile.failing.message } : {}),
      });
      return EXIT_UNDELIVERED;
    }
    if (lost > 0) {
      log.error('Some records were not delivered by every sink; see the dead-letter output.', {
        rejected: summary.rejected,
        undelivered: summary.undelivered,
        ...(config.deadLetter ? { deadLetter: config.deadLetter.path } : {}),
      });
      return EXIT_UNDELIVERED;
    }
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      log.error('Cannot run the pipeline.', { error: err });
      return 2;
    }
    log.error('The pipeline failed.', { error: err });
    return 1;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    process.off('SIGHUP', onHup);
    for (const f of feeds) await f.stop();
    await deadLetter.close();
    server?.close();
    checkpoints?.flush();
  }
}

function buildSource(s: PipelineConfig['sources'][number]): Source {
  switch (s.type) {
    case 'file':
      return new FileSource(s);
    case 'stdin':
      return new StdinSource(s);
    case 'syslog':
      return new SyslogSource(s);
    case 'kafka':
      return new KafkaSource(s);
  }
}

/** Builds one sink of a validated config (also used by `ruletrail trace --sink`). */
export async function buildSink(
  s: PipelineConfig['sinks'][number],
  log: Logger,
  stop: () => void,
): Promise<RecordSink> {
  const slog = log.child(s.id, 'sink');
  if (s.type === 'file') return new FileSink(s, slog, process.stdout, stop);
  const o = s.options;
  // The record kinds this sink takes: its start() checks that their topics / indices exist.
  const kinds = s.records.map((r) => (r === 'explanation' ? 'packet' : 'alert'));
  let sink: Sink;
  try {
    switch (s.type) {
      case 'kafka':
        validateKafkaConfig(o as unknown as KafkaSinkConfig);
        sink = new KafkaSink(o as unknown as KafkaSinkConfig, { logger: slog, kinds });
        break;
      case 'elasticsearch': {
        const c = o as unknown as ElasticsearchSinkConfig & { setup?: boolean };
        validateElasticsearchConfig(c);
        // Index templates / data streams: created on start when asked (needs the manage_index_templates privilege).
        if (c.setup) await setupElasticsearch(c, {}, { logger: slog });
        sink = new ElasticsearchSink(c, { logger: slog, kinds });
        break;
      }
      case 'fluentd':
        validateFluentdConfig(o as unknown as FluentdSinkConfig);
        sink = new FluentdSink(o as unknown as FluentdSinkConfig, { logger: slog });
        break;
    }
  } catch (err) {
    throw new UsageError(`sink ${s.id} (${s.type}): ${(err as Error).message}`);
  }
  const r = new RunnerSink(s.id, s.records, sink, { ...s.runner, logger: slog });
  await r.start();
  return r;
}

/** Dead letters as structured warnings (the first 100; the count stays exact in the summary). */
class LoggedDeadLetter implements DeadLetterOutput {
  private _count = 0;
  constructor(private readonly _log: Logger) {}
  get count(): number {
    return this._count;
  }
  write(e: InputError): void {
    this._count++;
    if (this._count <= 100)
      this._log.warn('Record dead-lettered.', {
        position: formatPosition(e.position),
        code: e.code,
        reason: e.reason,
      });
    else if (this._count === 101)
      this._log.warn('More records dead-lettered; see the dead-letter file and the summary count.');
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}
