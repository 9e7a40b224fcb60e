/** The part of fluent-logger 3 (untyped JavaScript) the sink uses. */
declare module 'fluent-logger' {
  import type { ConnectionOptions } from 'node:tls';

  export class EventTime {
    constructor(epoch: number, nano: number);
    static fromTimestamp(ms: number): EventTime;
  }

  export interface FluentSenderOptions {
    host?: string;
    port?: number;
    path?: string;
    /** Socket timeout in seconds. */
    timeout?: number;
    tls?: boolean;
    tlsOptions?: ConnectionOptions;
    eventMode?: 'Message' | 'PackedForward' | 'CompressedPackedForward';
    enableReconnect?: boolean;
    reconnectInterval?: number;
    requireAckResponse?: boolean;
    ackResponseTimeout?: number;
    flushInterval?: number;
    sendQueueSizeLimit?: number;
    milliseconds?: boolean;
    security?: { clientHostname: string; sharedKey: string; username?: string; password?: string };
    internalLogger?: { info(...args: unknown[]): void; error(...args: unknown[]): void };
  }

  export interface FluentSender {
    emit(
      label: string,
      data: Record<string, unknown>,
      timestamp: EventTime | Date | number,
      callback: (err?: Error) => void,
    ): void;
    on(event: 'error', listener: (err: Error) => void): void;
    on(event: 'connect', listener: () => void): void;
    removeListener(event: string, listener: (...args: never[]) => void): void;
    end(label?: string, data?: Record<string, unknown>, callback?: (err?: Error) => void): void;
    /** Destroys the socket (private in fluent-logger, stable since 2.x). */
    _disconnect(): void;
  }

  export function createFluentSender(tagPrefix: string, options: FluentSenderOptions): FluentSender;
}
