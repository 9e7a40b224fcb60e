/**
 * Loading a `ruletrail run` config: YAML → environment substitution → JSON Schema validation against the
 * schema built from the registered plugins (ajv, every error at once, each with its path, line and column;
 * defaults written into the config by ajv `useDefaults`, the schema being their only definition) → each
 * plugin's own `check` and the ingest adapters' `formatOptions` → cross-field checks → resolved paths.
 * Nothing is started here, so `ruletrail validate` and `ruletrail run` report exactly the same problems.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import Ajv, { type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import { LineCounter, parseDocument, isMap, isSeq, isScalar, type Node as YamlNode } from 'yaml';
import type { PluginRegistry, SinkPlugin, SinkRunnerDefaults } from '@ruletrail/core';
import { buildConfigSchema } from './config-schema';

/** Fields every source has (see the schema for their meaning). */
export interface DecodeFields {
  readonly format?: string;
  /** Options of the ingest adapter `format` names, validated against its plugin's schema. */
  readonly formatOptions?: Record<string, unknown>;
  readonly host?: string;
  readonly year?: number;
  readonly utcOffsetMinutes?: number;
}

export interface FileSourceConfig extends DecodeFields {
  readonly id: string;
  readonly type: 'file';
  readonly paths: readonly string[];
  readonly mode: 'tail' | 'read';
  readonly startAt: 'beginning' | 'end';
  readonly pollIntervalMs: number;
}

export interface StdinSourceConfig extends DecodeFields {
  readonly id: string;
  readonly type: 'stdin';
}

export interface SyslogSourceConfig extends DecodeFields {
  readonly id: string;
  readonly type: 'syslog';
  readonly udp?: string;
  readonly tcp?: string;
  readonly maxMessageBytes: number;
  readonly batchMs: number;
  readonly maxConnections: number;
}

/** Kafka client settings shared by the Kafka source and the snapshot topic. */
export interface KafkaClientConfig {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly ssl: boolean;
  readonly sasl?: {
    readonly mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
    readonly username: string;
    readonly password: string;
  };
}

export interface KafkaSourceConfig extends DecodeFields, KafkaClientConfig {
  readonly id: string;
  readonly type: 'kafka';
  readonly topic: string;
  readonly groupId: string;
  readonly fromBeginning: boolean;
}

/** A source of a type this package does not know: a registered plugin's options next to the decode fields. */
export interface PluginSourceConfig extends DecodeFields {
  readonly id: string;
  readonly type: string;
  readonly [option: string]: unknown;
}

export type SourceConfig =
  FileSourceConfig | StdinSourceConfig | SyslogSourceConfig | KafkaSourceConfig | PluginSourceConfig;

export type RecordKindName = 'explanation' | 'alert';

/** One sink of the config: the run-time's fields, and the options its plugin validated and defaulted. */
export interface SinkConfig {
  readonly id: string;
  readonly type: string;
  readonly records: readonly RecordKindName[];
  /** The plugin's options (written under `options:`, or inline for the file sink), paths resolved. */
  readonly options: Record<string, unknown>;
  /** Core sink-runner settings (batch, maxInFlight, bufferMaxEvents, retry). */
  readonly runner?: SinkRunnerDefaults;
}

/** A user alert rule. */
export interface AlertRuleConfig {
  readonly name: string;
  readonly table?: string;
  readonly chain?: string;
  readonly target?: string;
  readonly comment?: string;
  readonly verdict?: string;
  readonly on: 'any' | 'decision';
  readonly severity: 'info' | 'warning' | 'critical';
}

/** A validated config with every default applied and every path absolute. */
export interface PipelineConfig {
  readonly version: 1;
  /** Folder of the config file: what relative paths were resolved against. */
  readonly baseDir: string;
  readonly dataDir?: string;
  readonly sources: readonly SourceConfig[];
  readonly snapshots: {
    readonly directory?: string;
    readonly pollIntervalMs: number;
    readonly files: readonly { path: string; host: string; family?: 'ipv4' | 'ipv6'; takenAt?: string }[];
    readonly kafka?: KafkaClientConfig & { readonly topic: string };
    readonly historyPerHost: number;
  };
  readonly correlation: {
    readonly windowMs: number;
    readonly maxOpenPackets: number;
    readonly idleFlushMs: number;
    /** Lines of one host arriving at most this late are put back in log-time order (0 = off). */
    readonly reorderMs: number;
  };
  readonly alerts: {
    readonly builtin: { readonly kubeMarkDrop: boolean; readonly kubeNoEndpoints: boolean };
    readonly rules: readonly AlertRuleConfig[];
    readonly windowMs: number;
    readonly maxPerWindow: number;
  };
  readonly sinks: readonly SinkConfig[];
  readonly deadLetter?: { readonly path: string };
  readonly pipeline: {
    readonly maxInFlight: number;
    readonly shutdownTimeoutMs: number;
    readonly checkpointIntervalMs: number;
  };
  readonly metrics?: { readonly listen: string };
  readonly log: {
    readonly level: 'debug' | 'info' | 'warn' | 'error';
    readonly progress: 'auto' | 'on' | 'off';
  };
}

/** One problem in a config file: where (JSON pointer path and, when known, line:column) and what. */
export interface ConfigProblem {
  /** `/sources/0/paths`; `` for the document root. */
  readonly path: string;
  readonly line?: number;
  readonly column?: number;
  readonly message: string;
}

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
  return `${where}: ${p.path || '/'}: ${p.message}`;
}

type Validate = ReturnType<Ajv['compile']>;
interface Compiled {
  readonly config: Validate;
  /** formatOptions validators, by ingest type. */
  readonly formats: ReadonlyMap<string, Validate>;
}
const compiled = new WeakMap<PluginRegistry, Compiled>();

/** The config schema of a registry and its ingest plugins' option schemas, compiled once per registry. */
function validators(plugins: PluginRegistry): Compiled {
  let c = compiled.get(plugins);
  if (!c) {
    const ajv = new Ajv({
      allErrors: true,
      strict: true,
      discriminator: true,
      allowUnionTypes: true,
      useDefaults: true,
    });
    addFormats(ajv);
    c = {
      config: ajv.compile(buildConfigSchema(plugins)),
      formats: new Map(plugins.ingest.map((i) => [i.type, ajv.compile(i.options)])),
    };
    compiled.set(plugins, c);
  }
  return c;
}

/** Reads, validates and resolves a config file. @throws ConfigError with every problem found. */
export function loadConfig(
  file: string,
  plugins: PluginRegistry,
  env: NodeJS.ProcessEnv = process.env,
): PipelineConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [{ path: '', message: (err as Error).message }]);
  }
  return parseConfig(text, file, plugins, env);
}

/** Validates config text (`file` names it in messages and anchors relative paths). */
export function parseConfig(
  text: string,
  file: string,
  plugins: PluginRegistry,
  env: NodeJS.ProcessEnv = process.env,
): PipelineConfig {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  const at = (offset: number | undefined): { line?: number; column?: number } => {
    if (offset === undefined) return {};
    const p = lc.linePos(offset);
    return { line: p.line, column: p.col };
  };
  if (doc.errors.length)
    throw new ConfigError(
      file,
      doc.errors.map((e) => ({ path: '', ...at(e.pos[0]), message: e.message.split('\n')[0]! })),
    );
  const problems: ConfigProblem[] = [];
  const raw = substituteEnv(doc.toJS({ maxAliasCount: 100 }) as unknown, env, '', problems);
  const { config: validate, formats } = validators(plugins);
  const envPaths = new Set(problems.map((p) => p.path));
  const report = (errors: readonly ErrorObject[], prefix = ''): void => {
    // A discriminator error ("unknown type") already says what the enum error on its `type` field says.
    const unknownType = new Set(
      errors.filter((e) => e.keyword === 'discriminator').map((e) => `${e.instancePath}/type`),
    );
    for (const e of dedupe(errors)) {
      const path = prefix + e.instancePath;
      if (envPaths.has(path) || unknownType.has(path)) continue;
      // An unknown field is reported where its key is written, not where its parent object starts.
      const unknown = e.keyword === 'additionalProperties' ? String(e.params.additionalProperty) : undefined;
      const node = unknown !== undefined ? keyAt(doc.contents, path, unknown) : undefined;
      problems.push({ path, ...at((node ?? nodeAt(doc.contents, path))?.range?.[0]), message: describe(e) });
    }
  };
  const valid = validate(raw) === true;
  if (!valid) report(validate.errors ?? []);
  const invalid = (valid ? [] : (validate.errors ?? [])).map((e) => `${e.instancePath}/`);
  const itemValid = (prefix: string): boolean => !invalid.some((p) => p.startsWith(`${prefix}/`));
  for (const p of pluginProblems(raw as RawConfig, plugins, formats, report, itemValid))
    problems.push({ ...p, ...at(nodeAt(doc.contents, p.path)?.range?.[0]) });
  // The checks the schema cannot express run even when it failed, so one pass reports everything; on a
  // document too broken to resolve they are skipped (the schema problems already say why).
  let cfg: PipelineConfig | undefined;
  try {
    cfg = resolveConfig(raw as RawConfig, resolve(dirname(file)), plugins);
    for (const p of crossCheck(cfg)) problems.push({ ...p, ...at(nodeAt(doc.contents, p.path)?.range?.[0]) });
  } catch (err) {
    if (!problems.length) throw err;
  }
  if (problems.length || !cfg) throw new ConfigError(file, problems);
  return cfg;
}

// ---------------------------------------------------------------------------------------------------------------

type RawConfig = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * `${NAME}` in any string value → the environment variable (so secrets stay out of the file). A value that is
 * exactly `${NAME:number}` becomes a number (a port from the environment, say); the type is never guessed from
 * the text, so a numeric password stays a string.
 */
function substituteEnv(v: unknown, env: NodeJS.ProcessEnv, path: string, problems: ConfigProblem[]): unknown {
  if (typeof v === 'string') {
    const lookup = (name: string): string | undefined => {
      const val = env[name];
      if (val === undefined) problems.push({ path, message: `environment variable ${name} is not set` });
      return val;
    };
    const whole = /^\$\{([A-Za-z_][A-Za-z0-9_]*):number\}$/.exec(v);
    if (whole) {
      const val = lookup(whole[1]!);
      if (val !== undefined && /^-?\d+(\.\d+)?$/.test(val.trim())) return Number(val);
      if (val !== undefined)
        problems.push({ path, message: `environment variable ${whole[1]} is not a number` });
      return v;
    }
    return v.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => lookup(name) ?? '');
  }
  if (Array.isArray(v)) return v.map((x, i) => substituteEnv(x, env, `${path}/${i}`, problems));
  if (v && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = substituteEnv(x, env, `${path}/${k}`, problems);
    return o;
  }
  return v;
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

function describe(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return `unknown field '${String(p.additionalProperty)}'`;
    case 'required':
      return `missing required field '${String(p.missingProperty)}'`;
    case 'enum':
      return `must be one of ${(p.allowedValues as unknown[]).map((x) => JSON.stringify(x)).join(', ')}`;
    case 'const':
      return `must be ${JSON.stringify(p.allowedValue)}`;
    case 'discriminator':
      return p.error === 'mapping' ? `unknown type ${JSON.stringify(p.tagValue)}` : `needs a 'type'`;
    default:
      return e.message ?? e.keyword;
  }
}

/** ajv can report the same problem twice (through a discriminator and its branch): keep one of each. */
function dedupe(errors: readonly ErrorObject[]): ErrorObject[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const k = `${e.instancePath}|${describe(e)}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function abs(base: string, p: string): string {
  return p === '-' || isAbsolute(p) ? p : resolve(base, p);
}

/**
 * What the plugins check beyond their schemas: a source's `formatOptions` against its ingest adapter's option
 * schema (schema errors go through `report`), and each source's and sink's `check` — for the items the schema
 * accepted (a known type, well-typed options), so one pass reports everything without checking garbage.
 */
function pluginProblems(
  raw: RawConfig,
  plugins: PluginRegistry,
  formats: ReadonlyMap<string, Validate>,
  report: (errors: readonly ErrorObject[], prefix: string) => void,
  itemValid: (pointer: string) => boolean,
): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const items = (v: unknown): RawConfig[] =>
    Array.isArray(v)
      ? (v as unknown[]).map((x) => (x !== null && typeof x === 'object' ? x : {}) as RawConfig)
      : [];
  items(raw?.sources).forEach((s, i) => {
    if (s.formatOptions !== null && typeof s.formatOptions === 'object') {
      const v = typeof s.format === 'string' ? formats.get(s.format) : undefined;
      if (!v)
        out.push({
          path: `/sources/${i}/formatOptions`,
          message: "needs a 'format' naming the ingest adapter the options are for",
        });
      else if (!v(s.formatOptions)) report(v.errors ?? [], `/sources/${i}/formatOptions`);
    }
    const plugin = plugins.sources.find((p) => p.type === s.type);
    if (itemValid(`/sources/${i}`))
      for (const message of plugin?.check?.(s as never) ?? []) out.push({ path: `/sources/${i}`, message });
  });
  items(raw?.sinks).forEach((s, i) => {
    const plugin = plugins.sinks.find((p) => p.type === s.type);
    if (!plugin?.check || !itemValid(`/sinks/${i}`)) return;
    const path = plugin.placement === 'inline' ? `/sinks/${i}` : `/sinks/${i}/options`;
    for (const message of plugin.check(sinkOptions(s, plugin) as never)) out.push({ path, message });
  });
  return out;
}

/** Fields of a sink item that are the run-time's, not its plugin's. */
const SINK_FIELDS = new Set(['id', 'type', 'records', 'runner']);

/** A sink item's plugin options: its `options`, or (inline placement) every field that is not the run-time's. */
function sinkOptions(item: RawConfig, plugin: SinkPlugin<never>): Record<string, unknown> {
  if (plugin.placement !== 'inline') return (item.options ?? {}) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(item).filter(([k]) => !SINK_FIELDS.has(k)));
}

/** Resolves the options a plugin names as paths (a string or a list of them) against the config's folder. */
function resolvePaths(o: RawConfig, names: readonly string[], baseDir: string): RawConfig {
  const out = { ...o };
  for (const n of names) {
    const v = out[n] as unknown;
    if (typeof v === 'string') out[n] = abs(baseDir, v);
    else if (Array.isArray(v))
      out[n] = (v as unknown[]).map((x) => (typeof x === 'string' ? abs(baseDir, x) : x));
  }
  return out;
}

/** The validated document (ajv wrote every default into it) with its paths resolved. */
function resolveConfig(raw: RawConfig, baseDir: string, plugins: PluginRegistry): PipelineConfig {
  const sources = (raw.sources as RawConfig[]).map((s): SourceConfig => {
    const plugin = plugins.sources.find((p) => p.type === s.type);
    return resolvePaths(s, plugin?.pathOptions ?? [], baseDir) as SourceConfig;
  });
  const sinks = (raw.sinks as RawConfig[]).map((s): SinkConfig => {
    const plugin = plugins.sinks.find((p) => p.type === s.type);
    if (!plugin) throw new Error(`unknown sink type ${String(s.type)}`);
    return {
      id: s.id as string,
      type: s.type as string,
      records: s.records as RecordKindName[],
      options: resolvePaths(sinkOptions(s, plugin), plugin.pathOptions, baseDir),
      ...(s.runner !== undefined ? { runner: s.runner as SinkRunnerDefaults } : {}),
    };
  });
  const snap = raw.snapshots as RawConfig;
  return {
    ...(raw as unknown as PipelineConfig),
    baseDir,
    ...(raw.dataDir !== undefined ? { dataDir: abs(baseDir, raw.dataDir as string) } : {}),
    sources,
    snapshots: {
      ...(snap as PipelineConfig['snapshots']),
      ...(snap.directory !== undefined ? { directory: abs(baseDir, snap.directory as string) } : {}),
      files: (snap.files as RawConfig[]).map((f) => ({
        ...f,
        path: abs(baseDir, f.path as string),
      })) as unknown as PipelineConfig['snapshots']['files'],
    },
    sinks,
    ...(raw.deadLetter !== undefined
      ? { deadLetter: { path: abs(baseDir, (raw.deadLetter as RawConfig).path as string) } }
      : {}),
  };
}

/** Checks the schema cannot express. */
function crossCheck(cfg: PipelineConfig): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const ids = new Map<string, string>();
  cfg.sources.forEach((s, i) => {
    const prev = ids.get(s.id);
    if (prev) out.push({ path: `/sources/${i}/id`, message: `id '${s.id}' is already used by ${prev}` });
    else ids.set(s.id, `/sources/${i}`);
  });
  cfg.sinks.forEach((s, i) => {
    const prev = ids.get(s.id);
    if (prev) out.push({ path: `/sinks/${i}/id`, message: `id '${s.id}' is already used by ${prev}` });
    else ids.set(s.id, `/sinks/${i}`);
  });
  // Standard output is the process's, whichever plugin writes to it.
  const stdout = cfg.sinks.filter((s) => s.options.path === '-');
  if (stdout.length > 1) out.push({ path: '/sinks', message: 'only one file sink may write to stdout (-)' });
  if (cfg.sources.filter((s) => s.type === 'stdin').length > 1)
    out.push({ path: '/sources', message: 'only one stdin source is possible' });
  cfg.alerts.rules.forEach((r, i) => {
    if ([r.table, r.chain, r.target, r.comment, r.verdict].every((x) => x === undefined))
      out.push({
        path: `/alerts/rules/${i}`,
        message: 'needs at least one of table, chain, target, comment, verdict',
      });
    for (const k of ['comment', 'chain'] as const) {
      const v = r[k];
      if (v === undefined || (k === 'chain' && !/^\/.*\/$/.test(v))) continue;
      try {
        new RegExp(k === 'chain' ? v.slice(1, -1) : v);
      } catch (err) {
        out.push({
          path: `/alerts/rules/${i}/${k}`,
          message: `not a regular expression: ${(err as Error).message}`,
        });
      }
    }
  });
  const names = new Set<string>();
  cfg.alerts.rules.forEach((r, i) => {
    if (names.has(r.name))
      out.push({ path: `/alerts/rules/${i}/name`, message: `alert rule '${r.name}' is defined twice` });
    names.add(r.name);
  });
  if (
    !cfg.sinks.some((s) => s.records.includes('explanation')) &&
    !cfg.sinks.some((s) => s.records.includes('alert'))
  )
    out.push({ path: '/sinks', message: 'no sink receives anything' });
  return out;
}
