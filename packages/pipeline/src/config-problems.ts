/** A config problem (where and what) and the error that carries every problem found in one pass. */
import { escapeControl } from '@ruletrail/core';

/** One problem in a config file: where (JSON pointer path and, when known, line:column) and what. */
export interface ConfigProblem {
  /** `/sources/0/paths`; `` for the document root. */
  readonly path: string;
  readonly line?: number;
  readonly column?: number;
  readonly message: string;
}

/** Deepest `[` / `{` nesting accepted in a config (real ones use under 10). */
/** A config that cannot be used; `problems` lists every one found. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly file: string,
    readonly problems: readonly ConfigProblem[],
  ) {
    super(
      `${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${problems.map((p) => `  ${formatProblem(file, p)}`).join('\n')}`,
    );
  }
}

/** `file:line:col: /path: message`. */
export function formatProblem(file: string, p: ConfigProblem): string {
  const where = p.line !== undefined ? `${file}:${p.line}:${p.column ?? 1}` : file;
  return escapeControl(`${where}: ${p.path || '/'}: ${p.message}`);
}
