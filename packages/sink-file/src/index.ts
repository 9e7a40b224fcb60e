/** `@ruletrail/sink-file`: NDJSON to a file or stdout, the embedded default sink. */
export { FileSink, FILE_SINK_ERRORS, type FileSinkContext, type FileSinkOptions } from './file-sink';
export { fileSinkPlugin } from './plugin';
