/**
 * `@ruletrail/ingest-wireshark-csv`: Wireshark CSV exports of an NFLOG capture → NetfilterEvents. row.ts maps a
 * header and rows to events (accepted producers and column decisions documented there); csv.ts parses one CSV
 * record; adapter.ts is the `IngestAdapter`; plugin.ts registers it.
 */
export { parseCsvRecord } from './csv';
export { sniffWiresharkCsv, wiresharkCsvAdapter } from './adapter';
export { wiresharkCsvPlugin } from './plugin';
export { wiresharkCsvAdapter as default } from './adapter';
