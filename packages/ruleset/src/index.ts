export * from './model';
export { parseIptablesSave, RULESET_SYNTAX_ERROR, type ParseIptablesSaveOptions } from './iptables-save';
export { parseNftJson, type ParseNftJsonOptions } from './nft-json';
