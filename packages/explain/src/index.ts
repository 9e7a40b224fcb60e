/**
 * The explain engine: correlate trace steps into packets, join each step with the snapshot in force, decide
 * the verdict and its cause. Pure computation: no I/O here (the CLI and the pipeline do the reading/writing).
 */
export type * from './types';
export {
  Correlator,
  EVENT_COST_BYTES,
  invariantHash,
  invariantKey,
  sameInvariant,
  type CorrelatorOptions,
  type CompletedPacket,
  type CompletionPhase,
} from './correlate';
export { explainPacket, type ExplainOptions } from './explain';
export {
  joinStep,
  targetEffect,
  resolveRulenum,
  normalizeRuleText,
  type JoinedStep,
  type StepAddress,
} from './join';
export { SnapshotSet, type SnapshotPick } from './snapshots';
export { parseSelector, selectorMatches, type PacketSelector } from './selector';
export { renderText, ANSI, PLAIN, type Palette, type RenderOptions } from './render-text';
export { parseServiceComment, type ServiceRef } from './kubernetes';
export { hookOf, chainHook, lastTableAt, type Hook } from './hooks';
export { parseMarkSpec, markSetByRule, markMatchOf, hex } from './marks';
export * from './evaluate';
export {
  baseChainsAt,
  isNatChain,
  natStateAfter,
  natStateOfTcp,
  whatFollows,
  type BaseChain,
  type NatState,
} from './hooks';
export * from './simulate';
