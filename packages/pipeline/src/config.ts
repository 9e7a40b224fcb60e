/**
 * Loading a `ruletrail run` config: YAML → environment substitution → JSON Schema validation (ajv, every error
 * at once, each with its path and line) → cross-field checks → defaults and resolved paths. Nothing is started
 * here, so `ruletrail validate` and `ruletrail run` report exactly the same problems.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import Ajv, { type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import { LineCounter, parseDocument, isMap, isSeq, isScalar, type Node as YamlNode } from 'yaml';
import {
  collectSecrets,
  escapeControl,
  jsonDepthExceeds,
  type KafkaConnectionConfig,
  type SinkRunnerOptions,
} from '@ruletrail/core';
import { CONFIG_SCHEMA } from './config-schema';

/** Fields every source has (see the schema for their meaning). */
export interface DecodeFields {
  readonly format?: string;
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
  /** Syslog over TLS (RFC 5425). Paths are absolute once loaded. */
  readonly tls?: SyslogTlsConfig;
  readonly maxMessageBytes: number;
  readonly batchMs: number;
  readonly maxConnections: number;
  readonly idleTimeoutMs: number;
}

export interface SyslogTlsConfig {
  readonly listen: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly passphrase?: string;
  readonly caFile?: string;
}

/** The Prometheus endpoint (`metrics:`). */
export interface MetricsConfig {
  readonly listen: string;
  readonly maxConnections: number;
  readonly idleTimeoutMs: number;
}

/**
 * Kafka client settings of the Kafka source and the snapshot topic: the connection config every Kafka package
 * shares (`@ruletrail/core` kafka-config.ts: brokers, client, tls with a private CA or mutual TLS, sasl).
 */
export interface KafkaClientConfig extends KafkaConnectionConfig {
  readonly clientId: string;
}

export interface KafkaSourceConfig extends DecodeFields, KafkaClientConfig {
  readonly id: string;
  readonly type: 'kafka';
  readonly topic: string;
  readonly groupId: string;
  readonly fromBeginning: boolean;
}

export type SourceConfig = FileSourceConfig | StdinSourceConfig | SyslogSourceConfig | KafkaSourceConfig;

export type RecordKindName = 'explanation' | 'alert';

export interface FileSinkConfig {
  readonly id: string;
  readonly type: 'file';
  /** Absolute path, or `-` for stdout. */
  readonly path: string;
  readonly records: readonly RecordKindName[];
  readonly fsync: boolean;
}

export interface PluginSinkConfig {
  readonly id: string;
  readonly type: 'kafka' | 'elasticsearch' | 'fluentd';
  readonly records: readonly RecordKindName[];
  /** Passed to the sink package (its own config type and validation). */
  readonly options: Record<string, unknown>;
  /** Core sink-runner settings (batch, maxInFlight, bufferMaxEvents, retry). */
  readonly runner?: Omit<
    SinkRunnerOptions,
    'onDelivered' | 'deadLetter' | 'logger' | 'redactor' | 'random' | 'sleep'
  >;
}

export type SinkConfig = FileSinkConfig | PluginSinkConfig;

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
  readonly metrics?: MetricsConfig;
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

/** Deepest `[` / `{` nesting accepted in a config (real ones use under 10). */
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

/** The first MAX_CONFIG_PROBLEMS problems, and one more naming how many were left out. */
function capProblems(problems: readonly ConfigProblem[]): readonly ConfigProblem[] {
  if (problems.length <= MAX_CONFIG_PROBLEMS) return problems;
  return [
    ...problems.slice(0, MAX_CONFIG_PROBLEMS),
    { path: '', message: `… and ${problems.length - MAX_CONFIG_PROBLEMS} more problems not listed` },
  ];
}

/** `file:line:col: /path: message`. */
export function formatProblem(file: string, p: ConfigProblem): string {
  const where = p.line !== undefined ? `${file}:${p.line}:${p.column ?? 1}` : file;
  return escapeControl(`${where}: ${p.path || '/'}: ${p.message}`);
}

let compiled: ReturnType<Ajv['compile']> | undefined;
function validator(): ReturnType<Ajv['compile']> {
  if (!compiled) {
    const ajv = new Ajv({ allErrors: true, strict: true, discriminator: true, allowUnionTypes: true });
    addFormats(ajv);
    compiled = ajv.compile(CONFIG_SCHEMA);
  }
  return compiled;
}

/** Reads, validates and resolves a config file. @throws ConfigError with every problem found. */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): PipelineConfig {
  let text: string;
  let mode: number;
  try {
    mode = statSync(file).mode;
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [{ path: '', message: (err as Error).message }]);
  }
  return parseConfig(text, file, env, { mode });
}

/** Validates config text (`file` names it in messages and anchors relative paths). */
export function parseConfig(
  text: string,
  file: string,
  env: NodeJS.ProcessEnv = process.env,
  /** `mode`: the file's mode, to refuse literal secrets in a file every user can read (secret-file.ts). */
  opts: { readonly mode?: number } = {},
): PipelineConfig {
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
  let doc: ReturnType<typeof parseDocument>;
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
  const at = (offset: number | undefined): { line?: number; column?: number } => {
    if (offset === undefined) return {};
    const p = lc.linePos(offset);
    return { line: p.line, column: p.col };
  };
  if (doc.errors.length)
    throw new ConfigError(
      file,
      capProblems(doc.errors.map((e) => ({ path: '', ...at(e.pos[0]), message: e.message.split('\n')[0]! }))),
    );
  const problems: ConfigProblem[] = [];
  let js: unknown;
  try {
    js = doc.toJS({ maxAliasCount: MAX_CONFIG_ALIASES });
  } catch (err) {
    // e.g. "Unresolved alias" (a ReferenceError from the yaml library), or an alias bomb past maxAliasCount.
    throw new ConfigError(file, [{ path: '', message: `cannot read the YAML: ${(err as Error).message}` }]);
  }
  // Secrets written into the file (not `${NAME}` from the environment) make the file itself a secret file.
  if (opts.mode !== undefined && (opts.mode & 0o007) !== 0) {
    const literal = collectSecrets(js).filter((v) => !/\$\{[A-Za-z_]/.test(v));
    if (literal.length > 0)
      problems.push({
        path: '',
        message: `holds ${literal.length} secret value${literal.length === 1 ? '' : 's'} (password, key, token) and every user can read it (mode 0${(opts.mode & 0o777).toString(8)}): chmod 600 ${file}, or take the secrets from the environment (\${NAME})`,
      });
  }
  const raw = substituteEnv(js, env, '', problems);
  const validate = validator();
  if (!validate(raw)) {
    const envPaths = new Set(problems.map((p) => p.path));
    const errors = validate.errors ?? [];
    // A discriminator error ("unknown type") already says what the enum error on its `type` field says.
    const unknownType = new Set(
      errors.filter((e) => e.keyword === 'discriminator').map((e) => `${e.instancePath}/type`),
    );
    for (const e of dedupe(errors)) {
      const path = e.instancePath;
      if (envPaths.has(path) || unknownType.has(path)) continue;
      problems.push({ path, ...at(nodeAt(doc.contents, path)?.range?.[0]), message: describe(e) });
    }
  }
  // The checks the schema cannot express run even when it failed, so one pass reports everything; on a
  // document too broken to resolve they are skipped (the schema problems already say why).
  let cfg: PipelineConfig | undefined;
  try {
    cfg = resolveConfig(raw as RawConfig, resolve(dirname(file)));
    for (const p of crossCheck(cfg)) problems.push({ ...p, ...at(nodeAt(doc.contents, p.path)?.range?.[0]) });
  } catch (err) {
    if (!problems.length) throw err;
  }
  if (problems.length || !cfg) throw new ConfigError(file, capProblems(problems));
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
function dedupe(errors: ErrorObject[]): ErrorObject[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const k = `${e.instancePath}|${describe(e)}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** Kafka TLS file paths (`caFile`, `certFile`, `keyFile`) resolved against the config's directory. */
function withKafkaFiles<T extends KafkaClientConfig>(base: string, c: T): T {
  if (typeof c.tls !== 'object') return c;
  const tls = { ...c.tls };
  for (const k of ['caFile', 'certFile', 'keyFile'] as const) {
    const v = tls[k];
    if (v !== undefined) tls[k] = abs(base, v);
  }
  return { ...c, tls };
}

function abs(base: string, p: string): string {
  return p === '-' || isAbsolute(p) ? p : resolve(base, p);
}

function resolveConfig(raw: RawConfig, baseDir: string): PipelineConfig {
  const sources = (raw.sources as RawConfig[]).map((s): SourceConfig => {
    switch (s.type) {
      case 'file':
        return {
          mode: 'tail',
          startAt: 'beginning',
          pollIntervalMs: 250,
          format: 'auto',
          ...s,
          paths: (s.paths as string[]).map((p) => abs(baseDir, p)),
        } as unknown as FileSourceConfig;
      case 'syslog':
        return {
          maxMessageBytes: 65536,
          batchMs: 100,
          maxConnections: 1024,
          idleTimeoutMs: 300000,
          format: 'kernel-log',
          ...s,
          ...(s.tls
            ? {
                tls: {
                  ...(s.tls as SyslogTlsConfig),
                  certFile: abs(baseDir, (s.tls as SyslogTlsConfig).certFile),
                  keyFile: abs(baseDir, (s.tls as SyslogTlsConfig).keyFile),
                  ...((s.tls as SyslogTlsConfig).caFile !== undefined
                    ? { caFile: abs(baseDir, (s.tls as SyslogTlsConfig).caFile!) }
                    : {}),
                },
              }
            : {}),
        } as SyslogSourceConfig;
      case 'kafka':
        return withKafkaFiles(baseDir, {
          clientId: 'ruletrail',
          fromBeginning: true,
          format: 'kernel-log',
          ...s,
        } as KafkaSourceConfig);
      default:
        return { format: 'kernel-log', ...s } as StdinSourceConfig;
    }
  });
  const sinks = (raw.sinks as RawConfig[]).map((s): SinkConfig => {
    const records = (s.records as RecordKindName[] | undefined) ?? ['explanation', 'alert'];
    if (s.type === 'file')
      return {
        fsync: false,
        ...s,
        records,
        path: abs(baseDir, (s.path as string | undefined) ?? '-'),
      } as unknown as FileSinkConfig;
    return {
      ...s,
      records,
      options: (s.options as Record<string, unknown> | undefined) ?? {},
    } as unknown as PluginSinkConfig;
  });
  const snap = (raw.snapshots ?? {}) as RawConfig;
  const alerts = (raw.alerts ?? {}) as RawConfig;
  const corr = (raw.correlation ?? {}) as RawConfig;
  const pipe = (raw.pipeline ?? {}) as RawConfig;
  const log = (raw.log ?? {}) as RawConfig;
  return {
    version: 1,
    baseDir,
    ...(raw.dataDir !== undefined ? { dataDir: abs(baseDir, raw.dataDir as string) } : {}),
    sources,
    snapshots: {
      ...(snap.directory !== undefined ? { directory: abs(baseDir, snap.directory as string) } : {}),
      pollIntervalMs: (snap.pollIntervalMs as number | undefined) ?? 2000,
      files: ((snap.files ?? []) as RawConfig[]).map((f) => ({
        ...f,
        path: abs(baseDir, f.path as string),
      })) as unknown as PipelineConfig['snapshots']['files'],
      ...(snap.kafka !== undefined
        ? {
            kafka: withKafkaFiles(baseDir, {
              clientId: 'ruletrail',
              ...(snap.kafka as RawConfig),
            } as KafkaClientConfig & { topic: string }),
          }
        : {}),
      historyPerHost: (snap.historyPerHost as number | undefined) ?? 16,
    },
    correlation: { windowMs: 2000, maxOpenPackets: 100000, idleFlushMs: 5000, reorderMs: 250, ...corr },
    alerts: {
      builtin: { kubeMarkDrop: true, kubeNoEndpoints: true, ...((alerts.builtin ?? {}) as RawConfig) },
      rules: ((alerts.rules ?? []) as RawConfig[]).map(
        (r) => ({ on: 'any', severity: 'warning', ...r }) as AlertRuleConfig,
      ),
      windowMs: (alerts.windowMs as number | undefined) ?? 300000,
      maxPerWindow: (alerts.maxPerWindow as number | undefined) ?? 1,
    },
    sinks,
    ...(raw.deadLetter !== undefined
      ? { deadLetter: { path: abs(baseDir, (raw.deadLetter as RawConfig).path as string) } }
      : {}),
    pipeline: { maxInFlight: 10000, shutdownTimeoutMs: 30000, checkpointIntervalMs: 1000, ...pipe },
    ...(raw.metrics !== undefined
      ? { metrics: { maxConnections: 16, idleTimeoutMs: 30000, ...(raw.metrics as { listen: string }) } }
      : {}),
    log: { level: 'info', progress: 'auto', ...log },
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
    if (s.type === 'syslog' && s.udp === undefined && s.tcp === undefined && s.tls === undefined)
      out.push({ path: `/sources/${i}`, message: 'needs udp, tcp, tls or several' });
  });
  cfg.sinks.forEach((s, i) => {
    const prev = ids.get(s.id);
    if (prev) out.push({ path: `/sinks/${i}/id`, message: `id '${s.id}' is already used by ${prev}` });
    else ids.set(s.id, `/sinks/${i}`);
  });
  const stdout = cfg.sinks.filter((s) => s.type === 'file' && s.path === '-');
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
