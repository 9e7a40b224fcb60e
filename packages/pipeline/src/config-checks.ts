/**
 * The config checks beyond the JSON Schema: each plugin's own `check` and the ingest adapters' `formatOptions`
 * (pluginProblems), and the cross-field rules of the run-time (crossCheck: unique ids, one stdout, alert rules).
 */
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { PluginRegistry } from '@ruletrail/core';
import type { ConfigProblem } from './config-problems';
import { sinkOptions, type RawConfig } from './config-resolve';
import type { PipelineConfig } from './config-types';

/**
 * What the plugins check beyond their schemas: a source's `formatOptions` against its ingest adapter's option
 * schema (schema errors go through `report`), and each source's and sink's `check` — for the items the schema
 * accepted (a known type, well-typed options), so one pass reports everything without checking garbage.
 */
export function pluginProblems(
  raw: RawConfig,
  plugins: PluginRegistry,
  formats: ReadonlyMap<string, ValidateFunction>,
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

/** Checks the schema cannot express. */
export function crossCheck(cfg: PipelineConfig): ConfigProblem[] {
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
