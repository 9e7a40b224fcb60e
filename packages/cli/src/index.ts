export { REGISTRY } from './registry';
