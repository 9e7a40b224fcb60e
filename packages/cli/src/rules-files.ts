/**
 * Loading `--rules` snapshot files: iptables-save / ip6tables-save / iptables-nft-save text, or
 * `nft -j list ruleset` JSON. `--rules FILE` infers the family from the file; `--rules ipv4:FILE` or
 * `ipv6:FILE` forces it. gzip is detected by magic.
 */
import { readFile, stat } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { isGzip, UsageError } from '@ruletrail/core';
import { parseIptablesSave, parseNftJson, type Family, type Ruleset } from '@ruletrail/ruleset';

/**
 * Parses one `--rules` argument into its snapshots: one, or two for an nft JSON ruleset holding both `ip` and
 * `ip6` tables (unless a family is forced). @throws UsageError / InputError naming the file (and line).
 */
export async function loadRules(arg: string): Promise<Ruleset[]> {
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
  if (/^\s*\{/.test(text) && text.includes('"nftables"')) {
    // The JSON carries no time: the file's modification time stands in for "when it was taken".
    const generatedAt = (await stat(path)).mtime.toISOString();
    if (family) return [parseNftJson(text, { source: path, family, generatedAt })];
    const families: Family[] = [];
    if (/"family"\s*:\s*"(ip|inet)"/.test(text)) families.push('ipv4');
    if (/"family"\s*:\s*"(ip6|inet)"/.test(text)) families.push('ipv6');
    if (families.length === 0) return [parseNftJson(text, { source: path, generatedAt })];
    return families.map((f) => parseNftJson(text, { source: path, family: f, generatedAt }));
  }
  return [parseIptablesSave(text, { source: path, ...(family ? { family } : {}) })];
}
