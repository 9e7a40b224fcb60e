/**
 * nft-monitor ingest adapter: `nft monitor trace` output, the text form of nftables tracing (`meta nftrace set 1`
 * steps, read over nfnetlink): packet, rule, policy and return events per trace id.
 */
export { nftMonitorAdapter } from './adapter';
export {
  NftMonitorDecoder,
  NFT_MONITOR_ERROR_CODES,
  MAX_OPEN_TRACES,
  type NftMonitorDecoderOptions,
  type LineOutput,
} from './decoder';
export { parsePacketStatements, PacketSyntaxError, type PacketFields } from './packet';
export {
  parseNftTraceLine,
  normalizeNftRule,
  NftLineSyntaxError,
  type NftLine,
  type Head,
} from './trace-line';
export { nftMonitorPlugin } from './plugin';
