/**
 * Loading a `ruletrail run` config: YAML (config-yaml.ts) → environment substitution (config-env.ts) → JSON
 * Schema validation against the schema built from the registered plugins (ajv, every error at once, each with
 * its path, line and column; defaults written into the config by ajv `useDefaults`, the schema being their only
 * definition) → each plugin's own `check` and the ingest adapters' `formatOptions`, then cross-field checks
 * (config-checks.ts) → resolved paths (config-resolve.ts). Nothing is started here, so `ruletrail validate` and
 * `ruletrail run` report exactly the same problems.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { collectSecrets, type PluginRegistry } from '@ruletrail/core';
import { crossCheck, pluginProblems } from './config-checks';
import { substituteEnv } from './config-env';
import { ConfigError, type ConfigProblem } from './config-problems';
import { resolveConfig, type RawConfig } from './config-resolve';
import { buildConfigSchema } from './config-schema';
import type { PipelineConfig } from './config-types';
import { capProblems, readConfigYaml } from './config-yaml';

interface Compiled {
  readonly config: ValidateFunction;
  /** formatOptions validators, by ingest type. */
  readonly formats: ReadonlyMap<string, ValidateFunction>;
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
  let mode: number;
  try {
    mode = statSync(file).mode;
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [{ path: '', message: (err as Error).message }]);
  }
  return parseConfig(text, file, plugins, env, { mode });
}

/** Validates config text (`file` names it in messages and anchors relative paths). */
export function parseConfig(
  text: string,
  file: string,
  plugins: PluginRegistry,
  env: NodeJS.ProcessEnv = process.env,
  /** `mode`: the file's mode, to refuse literal secrets in a file every user can read (core secret-file.ts). */
  opts: { readonly mode?: number } = {},
): PipelineConfig {
  const yaml = readConfigYaml(text, file);
  const problems: ConfigProblem[] = [];
  // Secrets written into the file (not `${NAME}` from the environment) make the file itself a secret file.
  if (opts.mode !== undefined && (opts.mode & 0o007) !== 0) {
    const literal = collectSecrets(yaml.js).filter((v) => !/\$\{[A-Za-z_]/.test(v));
    if (literal.length > 0)
      problems.push({
        path: '',
        message: `holds ${literal.length} secret value${literal.length === 1 ? '' : 's'} (password, key, token) and every user can read it (mode 0${(opts.mode & 0o777).toString(8)}): chmod 600 ${file}, or take the secrets from the environment (\${NAME})`,
      });
  }
  const raw = substituteEnv(yaml.js, env, '', problems);
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
      const where = unknown !== undefined ? yaml.whereKey(path, unknown) : yaml.where(path);
      problems.push({ path, ...where, message: describe(e) });
    }
  };
  const valid = validate(raw) === true;
  if (!valid) report(validate.errors ?? []);
  const invalid = (valid ? [] : (validate.errors ?? [])).map((e) => `${e.instancePath}/`);
  const itemValid = (prefix: string): boolean => !invalid.some((p) => p.startsWith(`${prefix}/`));
  for (const p of pluginProblems(raw as RawConfig, plugins, formats, report, itemValid))
    problems.push({ ...p, ...yaml.where(p.path) });
  // The checks the schema cannot express run even when it failed, so one pass reports everything; on a
  // document too broken to resolve they are skipped (the schema problems already say why).
  let cfg: PipelineConfig | undefined;
  try {
    cfg = resolveConfig(raw as RawConfig, resolve(dirname(file)), plugins);
    for (const p of crossCheck(cfg)) problems.push({ ...p, ...yaml.where(p.path) });
  } catch (err) {
    if (!problems.length) throw err;
  }
  if (problems.length || !cfg) throw new ConfigError(file, capProblems(problems));
  return cfg;
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
