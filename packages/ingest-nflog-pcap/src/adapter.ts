/** The NFLOG capture adapter: sniffing pcap/pcapng, framing records (capture-file.ts), mapping each to an event. */
import { InputError, type DecodedBatch, type DecodeOptions, type IngestAdapter } from '@ruletrail/core';
import type { NetfilterEvent } from '@ruletrail/event';
import { CaptureFramer, LINKTYPE_NFLOG } from './capture-file';
import { BATCH_EVENTS, nflogRecordToEvent, type NflogDecodeOptions } from './record-event';

/** Whether `head` is a pcap/pcapng file of NFLOG records. */
export function sniffNflogCapture(head: Buffer): boolean {
  if (head.length < 4) return false;
  const be = head.readUInt32BE(0);
  const le = head.readUInt32LE(0);
  const pcapMagic = (m: number): boolean => m === 0xa1b2c3d4 || m === 0xa1b23c4d;
  if (pcapMagic(be) || pcapMagic(le)) {
    if (head.length < 24) return true;
    const lt = (pcapMagic(le) ? head.readUInt32LE(20) : head.readUInt32BE(20)) & 0xffff;
    return lt === LINKTYPE_NFLOG;
  }
  if (be !== 0x0a0d0d0a || head.length < 12) return false;
  const isLe = head.readUInt32LE(8) === 0x1a2b3c4d;
  if (!isLe && head.readUInt32BE(8) !== 0x1a2b3c4d) return false;
  // Walk the blocks in the head: claim the file when an interface is NFLOG, or when no interface is visible yet.
  let p = 0;
  let sawIdb = false;
  while (p + 12 <= head.length) {
    const type = isLe ? head.readUInt32LE(p) : head.readUInt32BE(p);
    const len = isLe ? head.readUInt32LE(p + 4) : head.readUInt32BE(p + 4);
    if (len < 12 || len % 4 !== 0) return false;
    if (type === 1) {
      sawIdb = true;
      const lt = isLe ? head.readUInt16LE(p + 8) : head.readUInt16BE(p + 8);
      if (lt === LINKTYPE_NFLOG) return true;
    }
    p += len;
  }
  return !sawIdb;
}

/** Builds an adapter with default options (e.g. an ifindex map) merged under each decode's options. */
export function createNflogPcapAdapter(defaults: Partial<NflogDecodeOptions> = {}): IngestAdapter {
  return {
    channel: 'nflog-pcap',
    summary:
      'NFLOG captures (tcpdump -i nflog -w, pcap or pcapng, LINKTYPE_NFLOG 239): TRACE steps and NFLOG packet logs.',
    sniff(head: Buffer): boolean {
      return sniffNflogCapture(head);
    },
    async *decode(chunks: AsyncIterable<Buffer>, options: DecodeOptions): AsyncIterable<DecodedBatch> {
      const opts: NflogDecodeOptions = { ...defaults, ...options };
      const framer = new CaptureFramer(opts.file);
      for await (const chunk of chunks) {
        const out = framer.push(chunk);
        let events: NetfilterEvent[] = [];
        let errors: InputError[] = [...out.errors];
        let skipped = out.skipped;
        for (const rec of out.records) {
          const r = nflogRecordToEvent(rec, opts);
          if (r instanceof InputError) errors.push(r);
          else events.push(r);
          // Small batches: events die young (a scavenge) instead of a whole chunk's worth being promoted.
          if (events.length >= BATCH_EVENTS) {
            yield { events, errors, skipped };
            events = [];
            errors = [];
            skipped = 0;
          }
        }
        if (events.length || errors.length || skipped) yield { events, errors, skipped };
      }
      const tail = framer.end();
      if (tail.length) yield { events: [], errors: tail, skipped: 0 };
    },
  };
}

/** The NFLOG capture adapter with no ifindex map. */
export const nflogPcapAdapter: IngestAdapter = createNflogPcapAdapter();
export default nflogPcapAdapter;
