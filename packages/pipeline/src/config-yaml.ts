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
/** Largest config accepted: real ones are a few KiB; YAML parsing time grows fast past this (fuzzing). */
const MAX_CONFIG_CHARS = 64 * 1024;

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
  try {
    doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  } catch (err) {
    if (err instanceof RangeError)
      throw new ConfigError(file, [
        { path: '', message: `cannot parse: ${err.message} (nested too deeply?)` },
      ]);
    throw err;
  }
  const at = (offset: number | undefined): Pick<ConfigProblem, 'line' | 'column'> => {
    if (offset === undefined) return {};
    const p = lc.linePos(offset);
    return { line: p.line, column: p.col };
  };
  if (doc.errors.length)
    throw new ConfigError(
      file,
      doc.errors.map((e) => ({ path: '', ...at(e.pos[0]), message: e.message.split('\n')[0]! })),
    );
  let js: unknown;
  try {
    js = doc.toJS({ maxAliasCount: 100 });
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
