/**
 * `@ruletrail/ingest-ulogd-json`: ulogd2 JSON output → NetfilterEvents. record.ts maps one JSON line to an event
 * (field decisions documented there); adapter.ts is the `IngestAdapter`; plugin.ts registers it.
 */
export { parseUlogdLine, type FileState as UlogdFileState } from './record';
export { sniffUlogdJson, ulogdJsonAdapter } from './adapter';
export { ulogdJsonPlugin } from './plugin';
export { ulogdJsonAdapter as default } from './adapter';
