/**
 * From a validated config document (ajv wrote every default into it) to a `PipelineConfig`: each sink's plugin
 * options picked out, and every path a plugin names resolved against the config file's folder.
 */
import { isAbsolute, resolve } from 'node:path';
import {
  KAFKA_PATH_OPTIONS,
  type PluginRegistry,
  type SinkPlugin,
  type SinkRunnerDefaults,
} from '@ruletrail/core';
import type { PipelineConfig, RecordKindName, SinkConfig, SourceConfig } from './config-types';

/** The config document as parsed (validated or not). */
export type RawConfig = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export function abs(base: string, p: string): string {
  return p === '-' || isAbsolute(p) ? p : resolve(base, p);
}

/** Fields of a sink item that are the run-time's, not its plugin's. */
const SINK_FIELDS = new Set(['id', 'type', 'records', 'runner']);

/** A sink item's plugin options: its `options`, or (inline placement) every field that is not the run-time's. */
export function sinkOptions(item: RawConfig, plugin: SinkPlugin<never>): Record<string, unknown> {
  if (plugin.placement !== 'inline') return (item.options ?? {}) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(item).filter(([k]) => !SINK_FIELDS.has(k)));
}

/**
 * Resolves the options a plugin names as paths (a string or a list of them) against the config's folder. A
 * dotted name (`tls.caFile`) reaches into a nested object.
 */
function resolvePaths(o: RawConfig, names: readonly string[], baseDir: string): RawConfig {
  const out = { ...o };
  for (const n of names) {
    const dot = n.indexOf('.');
    if (dot > 0) {
      const head = n.slice(0, dot);
      const inner = out[head] as unknown;
      if (inner !== null && typeof inner === 'object' && !Array.isArray(inner))
        out[head] = resolvePaths(inner, [n.slice(dot + 1)], baseDir);
      continue;
    }
    const v = out[n] as unknown;
    if (typeof v === 'string') out[n] = abs(baseDir, v);
    else if (Array.isArray(v))
      out[n] = (v as unknown[]).map((x) => (typeof x === 'string' ? abs(baseDir, x) : x));
  }
  return out;
}

/** The validated document (ajv wrote every default into it) with its paths resolved. */
export function resolveConfig(raw: RawConfig, baseDir: string, plugins: PluginRegistry): PipelineConfig {
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
      ...(snap.kafka !== undefined
        ? {
            kafka: resolvePaths(
              snap.kafka as RawConfig,
              KAFKA_PATH_OPTIONS,
              baseDir,
            ) as unknown as PipelineConfig['snapshots']['kafka'],
          }
        : {}),
    },
    sinks,
    ...(raw.deadLetter !== undefined
      ? { deadLetter: { path: abs(baseDir, (raw.deadLetter as RawConfig).path as string) } }
      : {}),
  };
}
