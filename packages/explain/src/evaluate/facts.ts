/** Host facts (the snapshot's `ip -j addr`) as the evaluator's {@link AddressTyper}. */
import { addressType, addressTypes, type HostFacts } from '@ruletrail/ruleset';
import type { AddressTyper } from './packet';

const typers = new WeakMap<HostFacts, AddressTyper>();

/**
 * What `-m addrtype` / nft `fib … type` ask of an address on the host the facts describe; one typer per facts
 * document (its identity keys the evaluation memo). An address the facts cannot type leaves the criterion unknown.
 */
export function addressTyperOf(facts: HostFacts): AddressTyper {
  let t = typers.get(facts);
  if (!t) {
    t = {
      addressType: (ip) => {
        try {
          return addressType(facts, ip);
        } catch {
          return undefined;
        }
      },
      addressTypes: (ip) => {
        try {
          return addressTypes(facts, ip);
        } catch {
          return undefined;
        }
      },
    };
    typers.set(facts, t);
  }
  return t;
}
