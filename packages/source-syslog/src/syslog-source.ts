/**
 * The syslog receiver: UDP datagrams and TCP connections carrying RFC 3164 or RFC 5424 messages, e.g. from
 * rsyslog's omfwd. Messages are handed to the kernel-log adapter as lines, with their `<PRI>` header: its
 * framing parser reads both syslog formats (timestamp, HOSTNAME → host) exactly as it reads log files.
 *
 * Batching: messages are collected and handed on every `batchMs` or at 1000 messages / 1 MiB.
 * Backpressure: while the pipeline is full, TCP sockets are paused (the sender's TCP window closes, rsyslog
 * queues); UDP has no way to slow the sender, so datagrams beyond a bounded buffer are dropped and counted
 * (`discarded{reason="backpressure"}`).
 * Delivery: syslog has no acknowledgement, so nothing is checkpointed; what is in memory at a crash is lost.
 * A graceful stop closes the listeners first, then hands on what was received.
 * Exposure (issue #15): an address without a host binds 127.0.0.1; TCP and TLS connections together are capped
 * at `maxConnections`, closed after `idleTimeoutMs` of silence, and every frame is cut at `maxMessageBytes`.
 * TLS (RFC 5425) carries octet-counted frames (LF framing is accepted too, like on TCP); with `caFile`, clients
 * must present a certificate that chains to it.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { readFileSync } from 'node:fs';
import { readSecretFileSync } from '@ruletrail/core';
import { splitHostPort, type Source, type SourceContext, type SyslogSourceConfig } from '@ruletrail/pipeline';
import { TcpFramer } from './framing';

const BATCH_MESSAGES = 1000;
const BATCH_BYTES = 1 << 20;
/** Bytes received but not yet handed on, beyond which TCP pauses and UDP drops. */
const MAX_BUFFERED = 8 << 20;

/** `type: syslog`. */
export class SyslogSource implements Source {
  readonly id: string;
  readonly finite = false;
  private _udp: UdpSocket | undefined;
  private _tcp: Server | undefined;
  private _tls: Server | undefined;
  private readonly _sockets = new Set<Socket>();
  private _pending: Buffer[] = [];
  private _pendingBytes = 0;
  private _line = 1;
  private _paused = false;
  private _ready: Promise<void>;
  private _readyResolve!: () => void;

  constructor(private readonly _config: SyslogSourceConfig) {
    this.id = _config.id;
    this._ready = new Promise((r) => (this._readyResolve = r));
  }

  /** Resolves once the listeners are bound. */
  ready(): Promise<void> {
    return this._ready;
  }

  /** Bound addresses (`udp`/`tcp`/`tls` → host:port), e.g. after listening on port 0. */
  addresses(): { udp?: string; tcp?: string; tls?: string } {
    const fmt = (a: AddressInfo): string => `${a.address}:${a.port}`;
    return {
      ...(this._udp ? { udp: fmt(this._udp.address()) } : {}),
      ...(this._tcp?.address() ? { tcp: fmt(this._tcp.address() as AddressInfo) } : {}),
      ...(this._tls?.address() ? { tls: fmt(this._tls.address() as AddressInfo) } : {}),
    };
  }

  async run(ctx: SourceContext): Promise<void> {
    const c = this._config;
    const { adapter, decode } = ctx.ingest(undefined, this.id);
    const origin = [
      c.udp ? `syslog+udp://${c.udp}` : '',
      c.tcp ? `syslog+tcp://${c.tcp}` : '',
      c.tls ? `syslog+tls://${c.tls.listen}` : '',
    ]
      .filter(Boolean)
      .join(',');
    const accept = (msg: Buffer, transport: 'udp' | 'tcp'): void => {
      ctx.metrics.received();
      if (transport === 'udp' && this._pendingBytes > MAX_BUFFERED) {
        ctx.metrics.discarded('backpressure');
        return;
      }
      // A message is one line for the adapter: embedded newlines (multi-line messages) become spaces.
      // TCP and TLS frames arrive cut already (counted per connection); a UDP datagram is cut here.
      if (msg.length > c.maxMessageBytes) ctx.metrics.discarded('truncated');
      let m = msg.length > c.maxMessageBytes ? msg.subarray(0, c.maxMessageBytes) : msg;
      if (m.length > 0 && m[m.length - 1] === 0x0a) m = m.subarray(0, m.length - 1);
      if (m.includes(0x0a)) m = Buffer.from(m.toString('utf8').replace(/\r?\n/g, ' '));
      this._pending.push(m, NEWLINE);
      this._pendingBytes += m.length + 1;
      if (transport === 'tcp' && this._pendingBytes > MAX_BUFFERED) this._pause(true);
      if (this._pending.length >= BATCH_MESSAGES * 2 || this._pendingBytes >= BATCH_BYTES) kick();
    };

    let flushing: Promise<void> | undefined;
    const flush = async (): Promise<void> => {
      while (this._pending.length) {
        const parts = this._pending;
        this._pending = [];
        this._pendingBytes = 0;
        const data = Buffer.concat(parts);
        const n = parts.length / 2;
        const firstLine = this._line;
        this._line += n;
        await ctx.emit({ origin, data, firstLine, adapter, decode });
        ctx.metrics.sent(n);
      }
      this._pause(false);
    };
    const kick = (): void => {
      flushing ??= flush().finally(() => (flushing = undefined));
    };

    await this._listen(ctx, accept);
    this._readyResolve();
    ctx.log.info('Syslog receiver listening.', this.addresses());
    const timer = setInterval(kick, c.batchMs);
    await new Promise<void>((resolve) => {
      if (ctx.signal.aborted) resolve();
      else ctx.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    clearInterval(timer);
    await this._stopListening();
    await flushing;
    await flush();
  }

  close(): Promise<void> {
    return this._stopListening();
  }

  private _pause(on: boolean): void {
    if (on === this._paused) return;
    this._paused = on;
    for (const s of this._sockets) {
      if (on) s.pause();
      else s.resume();
    }
  }

  private async _listen(ctx: SourceContext, accept: (m: Buffer, t: 'udp' | 'tcp') => void): Promise<void> {
    const c = this._config;
    if (c.udp) {
      const { host, port } = splitHostPort(c.udp);
      const sock = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', recvBufferSize: 4 << 20 });
      sock.on('message', (m) => accept(m, 'udp'));
      sock.on('error', (err) => ctx.log.error('UDP socket error.', { error: err }));
      await new Promise<void>((resolve, reject) => {
        sock.once('error', reject);
        sock.bind(port, host, () => {
          sock.off('error', reject);
          resolve();
        });
      });
      this._udp = sock;
    }
    // One handler for TCP and TLS connections: the same limit, idle timeout and framing.
    const onConnection = (s: Socket): void => {
      if (this._sockets.size >= c.maxConnections) {
        ctx.metrics.discarded('too_many_connections');
        s.destroy();
        return;
      }
      this._sockets.add(s);
      if (this._paused) s.pause();
      const framer = new TcpFramer(c.maxMessageBytes);
      let cut = 0;
      s.setTimeout(c.idleTimeoutMs, () => {
        ctx.metrics.discarded('idle_timeout');
        s.destroy();
      });
      s.on('data', (chunk: Buffer) => {
        for (const m of framer.push(chunk)) accept(m, 'tcp');
        if (framer.truncated > cut) {
          ctx.metrics.discarded('truncated', framer.truncated - cut);
          cut = framer.truncated;
        }
      });
      s.on('end', () => {
        for (const m of framer.end()) accept(m, 'tcp');
      });
      s.on('close', () => this._sockets.delete(s));
      s.on('error', (err) => ctx.log.debug('Syslog connection error.', { error: err.message }));
    };
    const listen = async (server: Server, address: string): Promise<void> => {
      const { host, port } = splitHostPort(address);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    };
    if (c.tcp) {
      const server = createServer(onConnection);
      await listen(server, c.tcp);
      this._tcp = server;
    }
    if (c.tls) {
      const t = c.tls;
      const server = createTlsServer(
        {
          cert: readFileSync(t.certFile),
          key: readSecretFileSync(t.keyFile, 'syslog tls.keyFile'),
          ...(t.passphrase !== undefined ? { passphrase: t.passphrase } : {}),
          ...(t.caFile !== undefined
            ? { ca: readFileSync(t.caFile), requestCert: true, rejectUnauthorized: true }
            : {}),
          minVersion: 'TLSv1.2',
          // A client that connects and never finishes the handshake holds a slot: bounded like idle time.
          handshakeTimeout: Math.min(c.idleTimeoutMs, 10000),
        },
        (s: TLSSocket) => onConnection(s),
      );
      // Failed handshakes (wrong CA, plain TCP on the TLS port) are the client's problem: counted, not logged
      // with the peer's bytes.
      server.on('tlsClientError', () => ctx.metrics.discarded('tls_handshake_failed'));
      await listen(server, t.listen);
      this._tls = server;
    }
  }

  private async _stopListening(): Promise<void> {
    const udp = this._udp;
    this._udp = undefined;
    if (udp) await new Promise<void>((r) => udp.close(() => r()));
    const servers = [this._tcp, this._tls];
    this._tcp = undefined;
    this._tls = undefined;
    // Everything received was already framed (data events are synchronous): drop the connections, then close.
    for (const s of this._sockets) s.destroy();
    this._sockets.clear();
    for (const srv of servers) if (srv) await new Promise<void>((r) => srv.close(() => r()));
  }
}

const NEWLINE = Buffer.from('\n');
