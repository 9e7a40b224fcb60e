export type { DecodedBatch, DecodeOptions, IngestAdapter, DeadLetterOutput } from './types';
export { InputError, UsageError, formatPosition, type InputPosition } from './errors';
export { openInput, readHead, isGzip, READ_CHUNK_BYTES } from './input';
export {
  splitLines,
  splitLinesContaining,
  decodeLines,
  MAX_LINE_BYTES,
  type LineBatch,
  type LineResult,
  type NumberedLines,
  decodeStatefulLines,
  type StatefulLineDecoder,
  type LineOutput,
} from './lines';
export {
  NdjsonDeadLetterFile,
  StreamDeadLetter,
  TeeDeadLetter,
  toDeadLetterRecord,
  type DeadLetterRecord,
} from './dead-letter';
export { canonicalIp, canonicalIpv6, ecsMac, endpointOf } from './addresses';
export {
  SINK_SCHEMA_VERSION,
  DELIVERED,
  NOOP_LOGGER,
  REDACTED,
  Redactor,
  SinkError,
  bodyJson,
  collectSecrets,
  explainedPacketRecord,
  isCertificateError,
  recordSize,
  sinkRecordId,
  streamLogger,
  type Sink,
  type SinkLogger,
  type SinkOutcome,
  type SinkRecord,
  type SinkRecordKind,
} from './sink';
export {
  DEFAULT_BATCH,
  DEFAULT_RETRY,
  MemorySinkDeadLetter,
  NdjsonSinkDeadLetterFile,
  SinkRunner,
  backoffDelay,
  type SinkBatchOptions,
  type SinkCounters,
  type SinkDeadLetter,
  type SinkDeadLetterEntry,
  type SinkRetryOptions,
  type SinkRunnerOptions,
} from './sink-runner';
export * from './netfilter-fields';
export { ByteReader, ShortRead, hexExcerpt } from './byte-reader';
export {
  NO_OPTIONS,
  defineIngest,
  defineSink,
  defineSource,
  problemsOf,
  type ComponentIdentity,
  type Framing,
  type IngestPlugin,
  type OptionsSchema,
  type PluginContext,
  type PluginRegistry,
  type SinkPlugin,
  type SinkRunnerDefaults,
  type SourcePlugin,
} from './plugin';
export { tlsOptionsSchema } from './option-schemas';
export { checkIngestAdapter, checkSink } from './conformance';
