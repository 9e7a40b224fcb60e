export * from './model';
export { parseIptablesSave, RULESET_SYNTAX_ERROR, type ParseIptablesSaveOptions } from './iptables-save';
export { parseNftJson, type ParseNftJsonOptions } from './nft-json';
export {
  HOST_FACTS_ERROR,
  addressType,
  addressTypes,
  hostFactsFromJson,
  interfaceByIndex,
  parseHostFacts,
  parseIp,
  type AddressType,
  type HostAddress,
  type HostFacts,
  type HostFactsDocument,
  type HostInterface,
} from './host-facts';
export { printIptablesSave, printRule } from './print';
