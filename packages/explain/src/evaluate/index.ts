/** The rule evaluator: does a snapshot rule match a packet? yes / no / unknown, with the reason in words. */
export {
  evaluateRule,
  describeEvaluation,
  type Tri,
  type RuleEvaluation,
  type CriterionOutcome,
  type EvalContext,
} from './rule';
export { packetOfEvent, type PacketView, type CtState, type AddressTyper } from './packet';
export { parseAddress, parsePrefix, inPrefix, type Prefix, type Words } from './address';
export { addressTyperOf } from './facts';
