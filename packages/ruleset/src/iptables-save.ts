import type { Family, Ruleset } from './model';

/** Options for {@link parseIptablesSave}. */
export interface ParseIptablesSaveOptions {
  /** File name or label, used in `Ruleset.source` and in error messages. */
  readonly source: string;
  /** Force the family instead of inferring it. */
  readonly family?: Family;
}

/** Parses iptables-save / ip6tables-save / iptables-nft-save output. (Placeholder: being implemented.) */
export function parseIptablesSave(_text: string, _options: ParseIptablesSaveOptions): Ruleset {
  throw new Error('not implemented yet');
}
