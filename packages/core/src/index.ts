export type { DecodedBatch, DecodeOptions, IngestAdapter, DeadLetterOutput } from './types';
export { InputError, UsageError, formatPosition, type InputPosition } from './errors';
export { openInput, readFileRange, readHead, isGzip, isGzipFile, READ_CHUNK_BYTES } from './input';
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
  type NdjsonDeadLetterOptions,
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
export { escapeControl, escapeJsonControl, hasControl } from './escape';
export {
  CODE_JSON_TOO_DEEP,
  CODE_LINE_TOO_LONG,
  MAX_JSON_DEPTH,
  MAX_PARSED_LINE_CHARS,
  jsonDepthExceeds,
} from './caps';
export {
  KAFKA_CLIENT_NAMES,
  KAFKA_CONNECTION_DEFAULTS,
  KAFKA_CONNECTION_SCHEMA_PROPERTIES,
  KAFKA_ERROR_CODES,
  kafkaConnectionProblems,
  kafkaTlsOptions,
  type KafkaClientName,
  type KafkaConnectionConfig,
  type KafkaErrorCode,
  type KafkaSaslConfig,
  type KafkaTlsConfig,
} from './kafka-config';
export { SecretFileModeError, assertPrivateMode, readSecretFileSync } from './secret-file';
