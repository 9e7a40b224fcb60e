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
} from './lines';
export {
  NdjsonDeadLetterFile,
  StreamDeadLetter,
  TeeDeadLetter,
  toDeadLetterRecord,
  type DeadLetterRecord,
} from './dead-letter';
export { canonicalIp, canonicalIpv6, ecsMac } from './addresses';
