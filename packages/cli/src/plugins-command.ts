/**
 * `ruletrail plugins [name] [--json]`: what the registry (registry.ts) holds — ingest adapters, sources and
 * sinks, each with its summary and options (type, default, whether required, description), read from the same
 * option schemas `ruletrail validate` checks a config against.
 */
import { parseArgs } from 'node:util';
import { UsageError, type OptionsSchema, type PluginRegistry } from '@ruletrail/core';
import { REGISTRY } from './registry';

export const PLUGINS_USAGE = `usage: ruletrail plugins [name] [--json]

Lists the registered ingest adapters (a source's 'format'), sources and sinks with their options. With a name
(e.g. 'kafka'), only the plugins of that type. --json prints the option schemas themselves.`;

/** One option, flattened for display: `tls.ca`, its type, default, whether required, description. */
interface OptionRow {
  readonly name: string;
  readonly type: string;
  readonly required: boolean;
  readonly default?: unknown;
  readonly description?: string;
}

type Schema = Record<string, unknown>;

function typeOf(s: Schema): string {
  if (Array.isArray(s.enum)) return s.enum.map((v) => JSON.stringify(v)).join('|');
  if (s.const !== undefined) return JSON.stringify(s.const);
  const t = s.type;
  if (Array.isArray(t)) return t.join('|');
  if (t === 'array') return `${typeOf((s.items ?? {}) as Schema)}[]`;
  return typeof t === 'string' ? t : 'any';
}

/** The options of a schema, nested objects flattened to dotted names. */
export function optionRows(schema: OptionsSchema | Schema, prefix = ''): OptionRow[] {
  const props = (schema.properties ?? {}) as Record<string, Schema>;
  const required = new Set((schema.required ?? []) as readonly string[]);
  const rows: OptionRow[] = [];
  for (const [k, s] of Object.entries(props)) {
    rows.push({
      name: prefix + k,
      type: typeOf(s),
      required: required.has(k),
      ...(s.default !== undefined ? { default: s.default } : {}),
      ...(typeof s.description === 'string' ? { description: s.description } : {}),
    });
    if (s.properties) rows.push(...optionRows(s, `${prefix}${k}.`));
  }
  return rows;
}

interface Listed {
  readonly kind: 'ingest' | 'source' | 'sink';
  readonly type: string;
  readonly summary: string;
  readonly options: OptionsSchema;
  readonly extra?: string;
}

function listed(r: PluginRegistry): Listed[] {
  return [
    ...r.ingest.map((p) => ({ kind: 'ingest' as const, ...pick(p), extra: `framing: ${p.framing}` })),
    ...r.sources.map((p) => ({ kind: 'source' as const, ...pick(p) })),
    ...r.sinks.map((p) => ({
      kind: 'sink' as const,
      ...pick(p),
      extra: p.placement === 'inline' ? 'options next to id and type' : 'options under options:',
    })),
  ];
}

function pick(p: { type: string; summary: string; options: OptionsSchema }) {
  return { type: p.type, summary: p.summary, options: p.options };
}

/** Runs `plugins`; returns the exit code. */
export function pluginsCommand(argv: string[], registry: PluginRegistry = REGISTRY): number {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(PLUGINS_USAGE + '\n');
    return 0;
  }
  if (positionals.length > 1) throw new UsageError('plugins takes at most one name');
  const name = positionals[0];
  const all = listed(registry).filter((p) => name === undefined || p.type === name);
  if (all.length === 0) throw new UsageError(`no plugin named '${name}' (ruletrail plugins lists them)`);
  if (values.json) {
    process.stdout.write(JSON.stringify(all, null, 2) + '\n');
    return 0;
  }
  const out: string[] = [];
  for (const p of all) {
    out.push(`${p.kind} ${p.type}: ${p.summary}${p.extra ? ` (${p.extra})` : ''}`);
    for (const o of optionRows(p.options))
      out.push(
        `  ${o.name}  ${o.type}${o.required ? '  required' : ''}${o.default !== undefined ? `  default ${JSON.stringify(o.default)}` : ''}${o.description ? `\n      ${o.description}` : ''}`,
      );
  }
  process.stdout.write(out.join('\n') + '\n');
  return 0;
}
