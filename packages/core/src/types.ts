/**
 * The ruletrail plugin contract. See docs/plugin-contract.md for the rules every plugin follows.
 *
 * An ingest adapter turns the bytes of one capture channel (kernel log, ulogd JSON, NFLOG pcap, …) into
 * `NetfilterEvent`s. Everything downstream — correlation, the snapshot join, the verdict — only ever sees
 * those events, so a new channel is one new adapter and nothing else.
 */
import type { Channel, NetfilterEvent } from '@ruletrail/event';
import type { InputError } from './errors';

/** What an adapter decoded from one chunk of input. Batched, because per-record async iteration is slow. */
export interface DecodedBatch {
  /** Records that are netfilter TRACE steps or packet logs. */
  readonly events: NetfilterEvent[];
  /** Records that looked like ours but could not be decoded: each goes to the dead-letter output. */
  readonly errors: InputError[];
  /** Records that are not netfilter records at all (other syslog traffic): counted, not reported. */
  readonly skipped: number;
}

/** Options every adapter accepts; adapters ignore what does not apply to their channel. */
export interface DecodeOptions {
  /** Name of the input, used in `ruletrail.origin.file` and in error positions. */
  readonly file: string;
  /** Host to stamp when the channel carries none (pcap, ulogd without `dvc`). */
  readonly host?: string;
  /**
   * Year for timestamps whose framing has none (RFC 3164 `Jan  1 21:23:16`). Default: the current year,
   * stepping back one year when the date would lie in the future (the logrotate rule syslog readers use).
   */
  readonly year?: number;
  /** Keep the raw record in `event.original`. Off by default: it doubles memory and output size. */
  readonly keepOriginal?: boolean;
  /** Time zone offset in minutes for framings without one (RFC 3164); default 0 (UTC). */
  readonly utcOffsetMinutes?: number;
  /**
   * Text adapters may skip, before parsing, every line that does not contain this substring (a pre-filter for
   * one-packet queries: the caller re-checks what it selects). Skipped lines are not counted.
   */
  readonly lineFilter?: string;
  /**
   * Number of the input's first line (default 1): a reader that starts inside a file (the parallel `explain`
   * reads byte ranges) keeps the file's own line numbers in events and errors. Line-oriented adapters honour it.
   */
  readonly firstLine?: number;
}

/** One capture channel's decoder. Stateless apart from what `decode` keeps while it runs. */
export interface IngestAdapter {
  /** The channel name stamped in `ruletrail.channel`. */
  readonly channel: Channel;
  /** One sentence for `--help` and the docs. */
  readonly summary: string;
  /**
   * Whether `head` (the first bytes of a file, decompressed) looks like this channel. Used for format
   * auto-detection, so it must be cheap and must not claim another channel's input.
   */
  sniff(head: Buffer, fileName: string): boolean;
  /**
   * Decodes a byte stream. Must stream: memory may grow with the largest single record, never with the input.
   * Must not throw on bad records (they become `errors`); may throw `UsageError` when the whole input is
   * unusable (e.g. a ulogd stack without IP2STR).
   */
  decode(chunks: AsyncIterable<Buffer>, options: DecodeOptions): AsyncIterable<DecodedBatch>;
}

/** Where records we could not process go. Implementations must not throw on a write. */
export interface DeadLetterOutput {
  write(error: InputError): void;
  /** Records written so far. */
  readonly count: number;
  close(): Promise<void>;
}
