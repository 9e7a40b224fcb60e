/**
 * Glob expansion for file sources: `*` and `?` within a path segment, `[abc]` classes, `**` for any depth.
 * Node 20 has no fs.glob, and a dependency for this is not worth it. The walk starts at the longest prefix
 * without wildcards, so `/var/log/kern.log*` reads one directory.
 */
import { readdir, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';

const MAGIC = /[*?[]/;

/** Whether a pattern has wildcards. */
export function isGlob(pattern: string): boolean {
  return MAGIC.test(pattern);
}

/** The regular expression a glob stands for (whole path). */
export function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        // `**/` matches zero or more directories; a trailing `**` anything.
        const slash = pattern[i + 2] === '/';
        re += slash ? '(?:.*/)?' : '.*';
        i += slash ? 2 : 1;
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        const body = pattern.slice(i + 1, end).replace(/\\/g, '\\\\');
        re += `[${body.startsWith('!') ? '^' + body.slice(1) : body}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Regular files matching any pattern (absolute patterns), sorted, without duplicates. */
export async function expandGlobs(patterns: readonly string[]): Promise<string[]> {
  const out = new Set<string>();
  for (const p of patterns) {
    if (!isGlob(p)) {
      try {
        if ((await stat(p)).isFile()) out.add(p);
      } catch {
        // not there (yet): a tailed path may appear later
      }
      continue;
    }
    const segs = p.split(sep);
    const firstMagic = segs.findIndex((s) => MAGIC.test(s));
    const root = segs.slice(0, firstMagic).join(sep) || sep;
    const re = globToRegExp(p);
    const deep = p.includes('**');
    const maxDepth = deep ? 32 : segs.length - firstMagic;
    await walk(root, 1, maxDepth, re, out);
  }
  return [...out].sort();
}

async function walk(
  dir: string,
  depth: number,
  maxDepth: number,
  re: RegExp,
  out: Set<string>,
): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isFile() && re.test(p)) out.add(p);
    else if (e.isDirectory() && depth < maxDepth) await walk(p, depth + 1, maxDepth, re, out);
  }
}
