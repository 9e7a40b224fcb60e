/**
 * Choosing and configuring the ingest adapter for a source's input, in one place for every source: by the
 * `format` of its config (with the adapter's `formatOptions`), or by sniffing the input's first bytes (the
 * same detection `ruletrail explain` does). The registered ingest plugin also says how the input is framed
 * (`lines`, or `whole-file` for pcap and CSV), and the decode options come from the source's decode fields.
 */
import {
  UsageError,
  type DecodeOptions,
  type Framing,
  type IngestAdapter,
  type IngestPlugin,
} from '@ruletrail/core';
import type { DecodeFields } from './config-types';

/** What a source decodes its input with. */
export interface IngestChoice {
  readonly adapter: IngestAdapter;
  readonly framing: Framing;
  /** Host, year and time zone for framings that carry none (`file` is set per unit from its origin). */
  readonly decode: Omit<DecodeOptions, 'file'>;
}

/** Picks the ingest adapter for one source's inputs (see `SourceContext.ingest`). */
export class IngestResolver {
  private readonly _configured = new Map<string, IngestAdapter>();
  private readonly _decode: Omit<DecodeOptions, 'file'>;

  constructor(
    private readonly _plugins: readonly IngestPlugin<never>[],
    private readonly _fields: DecodeFields,
  ) {
    const f = _fields;
    this._decode = {
      ...(f.host !== undefined ? { host: f.host } : {}),
      ...(f.year !== undefined ? { year: f.year } : {}),
      ...(f.utcOffsetMinutes !== undefined ? { utcOffsetMinutes: f.utcOffsetMinutes } : {}),
    };
  }

  /**
   * The adapter the config names, or (`auto` / no format) the first whose `sniff` accepts `head`; without a
   * head (a stream: stdin, syslog, Kafka) `auto` means kernel-log. @throws UsageError naming the input when
   * none fits or the name is unknown.
   */
  choose(head: Buffer | undefined, name: string): IngestChoice {
    const plugin = this._plugin(head, name);
    let adapter = this._configured.get(plugin.type);
    if (!adapter) {
      // formatOptions were validated against this plugin's schema by the config loader.
      adapter = plugin.configure((this._fields.formatOptions ?? {}) as never);
      this._configured.set(plugin.type, adapter);
    }
    return { adapter, framing: plugin.framing, decode: this._decode };
  }

  private _plugin(head: Buffer | undefined, name: string): IngestPlugin<never> {
    const plugins = this._plugins;
    const format = this._fields.format;
    const known = (): string => plugins.map((x) => x.type).join(', ');
    if (format !== undefined && format !== 'auto') {
      const p = plugins.find((x) => x.type === format);
      if (!p) throw new UsageError(`${name}: unknown format '${format}' (known: ${known()})`);
      return p;
    }
    if (head !== undefined) {
      const p = plugins.find((x) => x.adapter.sniff(head, name));
      if (p) return p;
      throw new UsageError(`${name}: cannot tell its format (tried ${known()}); set 'format' in the config`);
    }
    const k = plugins.find((x) => x.type === 'kernel-log');
    if (!k) throw new UsageError(`${name}: no kernel-log adapter registered`);
    return k;
  }
}
