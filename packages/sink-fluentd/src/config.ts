/** Configuration of the Fluentd sink (forward protocol, with acknowledgements). */

export interface FluentdTlsConfig {
  /** CA bundle (PEM) that signed the receiver's certificate. */
  readonly ca?: string | Buffer;
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  readonly servername?: string;
  /** Verify the receiver's certificate. Default true; false is refused unless `allowInsecure: true` is also set. */
  readonly rejectUnauthorized?: boolean;
  readonly allowInsecure?: boolean;
}

export interface FluentdSinkConfig {
  /** Receiver host (`in_forward`). Default `127.0.0.1`. */
  readonly host?: string;
  /** Receiver port. Default 24224. */
  readonly port?: number;
  /** Unix socket path instead of host/port. */
  readonly path?: string;
  /** Tag prefix: packets go to `<tag>.packet`, alerts to `<tag>.alert`. */
  readonly tag: string;
  /**
   * A write fails (retriable) when the receiver has not acknowledged its chunk within this time. Default 30 000 ms.
   * Acknowledgements are always requested (`require_ack_response`): without them a write could only report
   * "handed to the socket", never "received".
   */
  readonly ackTimeoutMs?: number;
  /** `PackedForward` (default) or `CompressedPackedForward` (gzip, for slow links). */
  readonly eventMode?: 'PackedForward' | 'CompressedPackedForward';
  readonly tls?: FluentdTlsConfig;
  /** Forward-protocol handshake (`<security>` in `in_forward`): shared key and optional user auth. */
  readonly security?: {
    readonly selfHostname: string;
    readonly sharedKey: string;
    readonly username?: string;
    readonly password?: string;
  };
}

export const FLUENTD_DEFAULTS = Object.freeze({
  host: '127.0.0.1',
  port: 24224,
  ackTimeoutMs: 30_000,
  eventMode: 'PackedForward' as const,
});

export function validateFluentdConfig(c: FluentdSinkConfig): void {
  const problems: string[] = [];
  if (typeof c.tag !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(c.tag))
    problems.push('tag: required, letters, digits, ".", "_", "-"');
  if (c.port !== undefined && (!Number.isInteger(c.port) || c.port < 1 || c.port > 65535))
    problems.push('port: 1..65535');
  if (
    c.eventMode !== undefined &&
    c.eventMode !== 'PackedForward' &&
    c.eventMode !== 'CompressedPackedForward'
  )
    problems.push('eventMode: PackedForward or CompressedPackedForward');
  if (c.tls?.rejectUnauthorized === false && c.tls.allowInsecure !== true)
    problems.push('tls.rejectUnauthorized: false needs tls.allowInsecure: true as well');
  if (c.security !== undefined && (!c.security.sharedKey || !c.security.selfHostname))
    problems.push('security: selfHostname and sharedKey are required');
  if (problems.length > 0) throw new Error(`Invalid Fluentd sink config: ${problems.join('; ')}`);
}
