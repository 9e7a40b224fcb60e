/**
 * Plugin definitions: how an ingest adapter, a source or a sink describes itself to the CLI's registry
 * (`packages/cli/src/registry.ts`). One definition carries everything the run-time needs to know about a
 * plugin — its `type`, a one-line summary, the JSON Schema of its options and the factory — so the config
 * schema, `ruletrail validate`, `ruletrail plugins` and `ruletrail run` are all built from the same objects and
 * nothing else names a plugin type. See docs/plugin-contract.md.
 */
import type { Channel } from '@ruletrail/event';
import type { SinkLogger } from './log';
import type { Sink, SinkRecordKind } from './sink';
import type { SinkRunnerOptions } from './sink-runner';
import type { IngestAdapter } from './types';

/**
 * The JSON Schema (draft-07) of a plugin's options. Always a closed object: an unknown or misspelt option is an
 * error that names its line, never silently ignored. `default`s are written into the config by the loader
 * (ajv `useDefaults`), so a factory receives every defaulted option and defines no defaults of its own.
 */
export interface OptionsSchema {
  readonly type: 'object';
  readonly additionalProperties: false;
  readonly properties: Readonly<Record<string, unknown>>;
  readonly required?: readonly string[];
  readonly description?: string;
}

/** An options schema with no options. */
export const NO_OPTIONS: OptionsSchema = Object.freeze({
  type: 'object',
  additionalProperties: false,
  properties: {},
});

/** How the run-time hands an input to an ingest adapter. */
export type Framing =
  /** Line-framed text: sources cut the input on line boundaries, so any line is a safe resume point. */
  | 'lines'
  /** A binary or structured file that only decodes from its start (pcap): read whole, as one unit. */
  | 'whole-file';

/** An ingest adapter as the registry knows it. */
export interface IngestPlugin<O = Record<string, unknown>> {
  readonly kind: 'ingest';
  /** The channel name: the `format` of a source, `--input-format` of `explain`. */
  readonly type: Channel;
  readonly summary: string;
  readonly framing: Framing;
  /** Options a source gives the adapter (`sources[].formatOptions`); `NO_OPTIONS` for most adapters. */
  readonly options: OptionsSchema;
  /** The adapter with default options: what auto-detection and `explain` use. */
  readonly adapter: IngestAdapter;
  /** The adapter for validated options (defaults filled in). */
  configure(options: O): IngestAdapter;
}

/** Defines an ingest plugin from its adapter; `type` and `summary` are the adapter's own. */
export function defineIngest<O = Record<string, unknown>>(def: {
  readonly adapter: IngestAdapter;
  readonly framing: Framing;
  readonly options?: OptionsSchema;
  readonly configure?: (options: O) => IngestAdapter;
}): IngestPlugin<O> {
  const { adapter, configure } = def;
  return Object.freeze({
    kind: 'ingest' as const,
    type: adapter.channel,
    summary: adapter.summary,
    framing: def.framing,
    options: def.options ?? NO_OPTIONS,
    adapter,
    configure: configure ?? (() => adapter),
  });
}

/** What the run-time hands every factory. */
export interface PluginContext {
  /** Folder of the config file (paths named in `pathOptions` are already resolved against it). */
  readonly baseDir: string;
  /** Logger bound to this component (its id). */
  readonly logger: SinkLogger;
  /** Asks the run to stop: for a component whose output is gone for good (stdout closed). */
  readonly stop: (reason: Error) => void;
}

/** What the run-time hands a sink's factory. */
export interface SinkContext extends PluginContext {
  /**
   * Record kinds this sink will be given (its config's `records`): a sink whose start() checks its destinations
   * exist (Kafka topics, Elasticsearch indices) checks exactly these, so a missing one fails the start at once.
   */
  readonly kinds: readonly SinkRecordKind[];
}

/** Fields the config gives every component besides its options. */
export interface ComponentIdentity {
  readonly id: string;
  readonly type: string;
}

/**
 * A source as the registry knows it. `S` is the run-time's source type (`Source` of `@ruletrail/pipeline`); it
 * is a parameter so the contract lives here, below the run-time.
 */
export interface SourcePlugin<O = Record<string, unknown>, S = unknown> {
  readonly kind: 'source';
  readonly type: string;
  readonly summary: string;
  /** The source's own options, written next to `id`, `type` and the decode fields in the config. */
  readonly options: OptionsSchema;
  /** Option names holding file paths (or arrays of them): resolved against the config's folder by the loader. */
  readonly pathOptions: readonly string[];
  /** Rules the schema cannot express (e.g. "udp, tcp or both"): one message per problem, none when valid. */
  readonly check?: (config: O & ComponentIdentity) => readonly string[];
  create(config: O & ComponentIdentity, context: PluginContext): S;
}

export function defineSource<O = Record<string, unknown>, S = unknown>(
  def: Omit<SourcePlugin<O, S>, 'kind' | 'pathOptions'> & { readonly pathOptions?: readonly string[] },
): SourcePlugin<O, S> {
  return Object.freeze({ kind: 'source' as const, pathOptions: [], ...def });
}

/** A sink as the registry knows it: its factory builds a core `Sink`, which the sink runner drives. */
export interface SinkPlugin<O = Record<string, unknown>> {
  readonly kind: 'sink';
  readonly type: string;
  readonly summary: string;
  readonly options: OptionsSchema;
  /**
   * Where the options are written: under `options:` (default), or (`inline`) next to `id` and `type` — the
   * file sink's `path` and `fsync`, kept flat because that is the one sink every example config has.
   */
  readonly placement: 'options' | 'inline';
  readonly pathOptions: readonly string[];
  /** Rules the schema cannot express: one message per problem, none when valid. Run by `validate` and `run`. */
  readonly check?: (options: O) => readonly string[];
  /** The sink's own runner defaults, under the config's `runner:` (the file sink writes in order, at once). */
  readonly runner?: SinkRunnerDefaults;
  create(options: O, context: SinkContext): Sink | Promise<Sink>;
}

/** The runner settings a config (or a sink's defaults) may give. */
export type SinkRunnerDefaults = Pick<
  SinkRunnerOptions,
  'batch' | 'maxInFlight' | 'bufferMaxEvents' | 'retry'
>;

export function defineSink<O = Record<string, unknown>>(
  def: Omit<SinkPlugin<O>, 'kind' | 'placement' | 'pathOptions'> & {
    readonly placement?: 'options' | 'inline';
    readonly pathOptions?: readonly string[];
  },
): SinkPlugin<O> {
  return Object.freeze({ kind: 'sink' as const, placement: 'options' as const, pathOptions: [], ...def });
}

/**
 * Every plugin a program knows, in order (ingest order is the auto-detection order). Option types are `never`
 * here: any plugin fits, and whoever calls a factory passes options the loader validated against its schema.
 */
export interface PluginRegistry {
  readonly ingest: readonly IngestPlugin<never>[];
  readonly sources: readonly SourcePlugin<never, unknown>[];
  readonly sinks: readonly SinkPlugin<never>[];
}

/**
 * Adapts a package's `validateXConfig(options)` (which throws one Error listing its problems) to a plugin's
 * `check`, so the same rules run in `validate` as when the sink is built.
 */
export function problemsOf<O>(validate: (options: O) => void): (options: O) => readonly string[] {
  return (options) => {
    try {
      validate(options);
      return [];
    } catch (err) {
      return [(err as Error).message];
    }
  };
}
