/**
 * Choosing the ingest adapter for an input: by name from the config, or by sniffing its first bytes (the same
 * detection `ruletrail explain` does).
 */
import { UsageError, type IngestAdapter } from '@ruletrail/core';

/**
 * The adapter named `format`, or (`auto`) the first whose `sniff` accepts `head`. @throws UsageError naming the
 * input when none fits or the name is unknown.
 */
export function pickAdapter(
  adapters: readonly IngestAdapter[],
  format: string | undefined,
  head: Buffer | undefined,
  name: string,
): IngestAdapter {
  if (format !== undefined && format !== 'auto') {
    const a = adapters.find((x) => x.channel === format);
    if (!a)
      throw new UsageError(
        `${name}: unknown format '${format}' (known: ${adapters.map((x) => x.channel).join(', ')})`,
      );
    return a;
  }
  if (head !== undefined) {
    const a = adapters.find((x) => x.sniff(head, name));
    if (a) return a;
    throw new UsageError(
      `${name}: cannot tell its format (tried ${adapters.map((x) => x.channel).join(', ')}); set 'format' in the config`,
    );
  }
  const k = adapters.find((x) => x.channel === 'kernel-log');
  if (!k) throw new UsageError(`${name}: no kernel-log adapter built in`);
  return k;
}
