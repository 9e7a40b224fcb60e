/**
 * Reading a config's YAML with bounded cost (size and nesting caps: the parser recurses per level) and finding
 * the line and column of a JSON pointer in it, so every problem is reported where it is written.
 */
import {
  LineCounter,
  parseDocument,
  isMap,
  isSeq,
  isScalar,
  type Document,
  type Node as YamlNode,
} from 'yaml';
import { jsonDepthExceeds } from '@ruletrail/core';
import { ConfigError, type ConfigProblem } from './config-problems';

const MAX_CONFIG_NESTING = 64;
/**
 * Largest config accepted: real ones are a few KiB (the biggest bundled one is under 3 KiB). The `yaml` parser
 * costs tens of microseconds per character on mutated input (fuzzing, issue #15: 20–56 KB configs took 0.5–3.8 s
 * on the loaded 2-core machine), so 32 Ki characters keeps any config well under a second.
 */
export const MAX_CONFIG_CHARS = 32 * 1024;
/** Aliases expanded by `toJS` (an alias bomb stops here); real configs use a handful. */
export const MAX_CONFIG_ALIASES = 100;
/**
 * Problems reported for one config: a mutated config produced 25,000 (one per broken line), and building and
 * printing them cost more than the parse. The count of the rest is still reported.
 */
export const MAX_CONFIG_PROBLEMS = 50;

/** The first MAX_CONFIG_PROBLEMS problems, and one more naming how many were left out. */
export function capProblems(problems: readonly ConfigProblem[]): readonly ConfigProblem[] {
  if (problems.length <= MAX_CONFIG_PROBLEMS) return problems;
  return [
    ...problems.slice(0, MAX_CONFIG_PROBLEMS),
    { path: '', message: `… and ${problems.length - MAX_CONFIG_PROBLEMS} more problems not listed` },
  ];
}

/** A parsed config document and how to place a problem in it. */
export interface ConfigYaml {
  /** The document as plain data (aliases resolved). */
  readonly js: unknown;
  /** `{ line, column }` of a JSON pointer's node (its nearest existing parent when it is missing). */
  where(pointer: string): Pick<ConfigProblem, 'line' | 'column'>;
  /** Same, for the key of `key` in the map at `pointer` (where an unknown field is written). */
  whereKey(pointer: string, key: string): Pick<ConfigProblem, 'line' | 'column'>;
}

/** Parses config text. @throws ConfigError for text too large or too nested, or YAML syntax errors. */
export function readConfigYaml(text: string, file: string): ConfigYaml {
  const lc = new LineCounter();
  // The YAML parser recurses per nesting level: absurd nesting overflowed the stack (fuzzing, issue #15).
  // A pipeline config is a few levels deep; refuse deep flow nesting before parsing, and turn any remaining
  // overflow (deep block nesting) into a config problem instead of a crash.
  if (text.length > MAX_CONFIG_CHARS)
    throw new ConfigError(file, [
      { path: '', message: `${text.length} characters, over the cap of ${MAX_CONFIG_CHARS} for a config` },
    ]);
  if (jsonDepthExceeds(text, MAX_CONFIG_NESTING))
    throw new ConfigError(file, [{ path: '', message: `nested deeper than ${MAX_CONFIG_NESTING} levels` }]);
  let doc: Document.Parsed;
  // The yaml library builds an Error (with a stack trace) per syntax problem: thousands of them on a broken file
  // made stack capture most of the parse time (fuzzing). The messages carry the line; the stacks are not used.
  const stackLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  } catch (err) {
    if (err instanceof RangeError)
      throw new ConfigError(file, [
        { path: '', message: `cannot parse: ${err.message} (nested too deeply?)` },
      ]);
    throw err;
  } finally {
    Error.stackTraceLimit = stackLimit;
  }
  const at = (offset: number | undefined): Pick<ConfigProblem, 'line' | 'column'> => {
    if (offset === undefined) return {};
    const p = lc.linePos(offset);
    return { line: p.line, column: p.col };
  };
  if (doc.errors.length)
    throw new ConfigError(
      file,
      capProblems(doc.errors.map((e) => ({ path: '', ...at(e.pos[0]), message: e.message.split('\n')[0]! }))),
    );
  let js: unknown;
  try {
    js = doc.toJS({ maxAliasCount: MAX_CONFIG_ALIASES });
  } catch (err) {
    // e.g. "Unresolved alias" (a ReferenceError from the yaml library), or an alias bomb past maxAliasCount.
    throw new ConfigError(file, [{ path: '', message: `cannot read the YAML: ${(err as Error).message}` }]);
  }
  return {
    js,
    where: (pointer) => at(nodeAt(doc.contents, pointer)?.range?.[0]),
    whereKey: (pointer, key) =>
      at((keyAt(doc.contents, pointer, key) ?? nodeAt(doc.contents, pointer))?.range?.[0]),
  };
}

/** The YAML node at a JSON pointer, for line numbers. */
function nodeAt(root: YamlNode | null, pointer: string): YamlNode | undefined {
  let n: unknown = root;
  for (const seg of pointer.split('/').slice(1)) {
    const key = seg.replace(/~1/g, '/').replace(/~0/g, '~');
    if (isMap(n)) {
      const pair = n.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === key);
      if (!pair) return n;
      n = pair.value;
    } else if (isSeq(n)) {
      const item = n.items[Number(key)];
      if (item === undefined) return n;
      n = item;
    } else return n as YamlNode;
  }
  return (n as YamlNode | null) ?? undefined;
}

/** The key node of `key` in the map at a JSON pointer (where an unknown field is written). */
function keyAt(root: YamlNode | null, pointer: string, key: string): YamlNode | undefined {
  const map = nodeAt(root, pointer);
  if (!isMap(map)) return undefined;
  const pair = map.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === key);
  return pair && isScalar(pair.key) ? pair.key : undefined;
}
