/** `ruletrail simulate`: a packet's predicted path through a snapshot, without a trace. */
export { parsePacketSpec, formatPacketSpec, PacketSpecError, type SimPacket } from './packet-spec';
export {
  simulate,
  type Simulation,
  type SimulationBranch,
  type SimulatedStep,
  type SimulateOptions,
  type Assumption,
  type Route,
} from './simulate';
export { renderSimulation } from './render';
