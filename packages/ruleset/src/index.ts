export * from './model';
export { parseIptablesSave, type ParseIptablesSaveOptions } from './iptables-save';
