/**
 * A copy of `s` that does not keep its parent string alive. Decoders hand out fields as slices of the read chunk
 * (1 MiB): a long-lived cache keyed by such a slice pins the whole chunk, so a run's memory grew with its input
 * (every chunk that brought a new address, chain or host stayed). Concatenation makes a rope that slice() flattens
 * into a fresh string of its own. Use it for every key or value a cache keeps beyond the packet being explained.
 */
export function detach(s: string): string {
  return ` ${s}`.slice(1);
}
