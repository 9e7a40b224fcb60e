/**
 * Loading `--rules` snapshot files. `--rules FILE` infers the family from the file; `--rules ipv6:FILE`
 * (or `ipv4:`) forces it. gzip is detected by magic.
 */
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { isGzip, UsageError } from '@ruletrail/core';
import { parseIptablesSave, type Family, type Ruleset } from '@ruletrail/ruleset';

/** Parses one `--rules` argument into a snapshot. @throws UsageError / InputError with file and line. */
export async function loadRules(arg: string): Promise<Ruleset> {
  let family: Family | undefined;
  let path = arg;
  const m = /^(ipv4|ipv6):(.+)$/.exec(arg);
  if (m) {
    family = m[1] as Family;
    path = m[2]!;
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new UsageError(`--rules ${path}: ${(err as Error).message}`);
  }
  const text = (isGzip(bytes) ? gunzipSync(bytes) : bytes).toString('utf8');
  return parseIptablesSave(text, { source: path, ...(family ? { family } : {}) });
}
