export * from './model';
export { parseIptablesSave, RULESET_SYNTAX_ERROR, type ParseIptablesSaveOptions } from './iptables-save';
