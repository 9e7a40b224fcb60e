/**
 * xtables-monitor ingest adapter: `xtables-monitor --trace` output, the only text form of iptables-nft's TRACE
 * (with the nf_tables backend `-j TRACE` becomes `meta nftrace set 1` and the steps reach user space over
 * nfnetlink, never the kernel log).
 */
export { xtablesMonitorAdapter } from './adapter';
export {
  XtablesMonitorDecoder,
  XTABLES_MONITOR_ERROR_CODES,
  MAX_OPEN_TRACES,
  type XtablesMonitorDecoderOptions,
  type LineOutput,
} from './decoder';
export { parsePacketLine, PacketSyntaxError, type PacketFields, type PacketLine } from './packet';
export { parseTraceLine, saveForm, TraceSyntaxError, FAMILY_NAMES, type TraceLine } from './trace-line';
export { xtablesMonitorPlugin } from './plugin';
