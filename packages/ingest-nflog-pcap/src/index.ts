/**
 * `@ruletrail/ingest-nflog-pcap`: NFLOG captures (`tcpdump -i nflog -w`, dumpcap, Wireshark) → NetfilterEvents.
 * capture-file.ts frames pcap/pcapng records, nflog-record.ts parses one nfnetlink_log message, ip-packet.ts the
 * packet in it, record-event.ts maps a record to an event, adapter.ts is the `IngestAdapter` and plugin.ts
 * registers it (with the `ifNames` option).
 */
export { CaptureFramer, LINKTYPE_NFLOG, type CaptureRecord, type FrameOutput } from './capture-file';
export { parseNflog, NflogCorrupt, type NflogRecord } from './nflog-record';
export { decodeIpv4, decodeIpv6, ipv6String, toInnerPacket, type PacketFields } from './ip-packet';
export { nflogRecordToEvent, type NflogDecodeOptions } from './record-event';
export { createNflogPcapAdapter, nflogPcapAdapter, sniffNflogCapture } from './adapter';
export { nflogPcapPlugin, type NflogPcapOptions } from './plugin';
export { nflogPcapAdapter as default } from './adapter';
