/**
 * Kafka sink: one kafkajs producer, acks=all, records grouped per topic into one `sendBatch` per write.
 *
 * Outcome mapping (kafkajs errors carry `retriable`):
 *   - the send resolved                          → every record delivered (the leader answered after all ISRs had it);
 *   - retriable error (connection, timeout,
 *     NOT_LEADER, leader election, …)            → every record retriable;
 *   - per-record errors (MESSAGE_TOO_LARGE,
 *     INVALID_RECORD, CORRUPT_MESSAGE, …)        → the batch is split in halves and re-sent until the offending
 *                                                  record stands alone; it is rejected, the others delivered;
 *   - sequence / producer-id errors (idempotence) → retriable, and the producer is re-created (new producer id);
 *   - any other non-retriable error (topic authorization, invalid topic) → rejected with the reason.
 */
import {
  CompressionTypes,
  Kafka,
  Partitioners,
  logLevel,
  type LogEntry,
  type Message,
  type Producer,
  type SASLOptions,
  type TopicMessages,
} from 'kafkajs';
import type { ConnectionOptions } from 'node:tls';
import {
  DELIVERED,
  NOOP_LOGGER,
  Redactor,
  SINK_SCHEMA_VERSION,
  SinkError,
  isCertificateError,
  bodyJson,
  collectSecrets,
  type Sink,
  type SinkLogger,
  type SinkOutcome,
  type SinkRecord,
} from '@ruletrail/core';
import { KAFKA_DEFAULTS, KAFKA_HEADERS, validateKafkaConfig, type KafkaSinkConfig } from './config';

const RECORD_ERRORS = new Set([
  'MESSAGE_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_TIMESTAMP',
  'INVALID_REQUIRED_ACKS',
]);
const PRODUCER_STATE_ERRORS = new Set([
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'DUPLICATE_SEQUENCE_NUMBER',
  'UNKNOWN_PRODUCER_ID',
  'INVALID_PRODUCER_EPOCH',
  'INVALID_PRODUCER_ID_MAPPING',
]);

interface KafkaErrorLike {
  name?: string;
  message?: string;
  type?: string;
  retriable?: boolean;
  originalError?: unknown;
  cause?: unknown;
  errors?: unknown[];
}

/** What a kafkajs error means for the records of the failed send. */
export type KafkaErrorClass = 'retriable' | 'record' | 'producer-state' | 'fatal';

/** Classifies a kafkajs error (unwrapping "number of retries exceeded"). Exported for tests. */
export function classifyKafkaError(err: unknown): KafkaErrorClass {
  let e = err as KafkaErrorLike | undefined;
  // kafkajs wraps the real error: "number of retries exceeded" and its retrier's KafkaJSNonRetriableError keep
  // it in `cause` (`originalError` in older versions).
  for (let i = 0; i < 5 && e !== undefined && e !== null; i++) {
    const inner = e.originalError ?? e.cause;
    const wrapper = e.name === 'KafkaJSNumberOfRetriesExceeded' || e.name === 'KafkaJSNonRetriableError';
    if (!wrapper || inner === undefined || inner === e) break;
    e = inner as KafkaErrorLike;
  }
  if (e === undefined || e === null || typeof e !== 'object') return 'retriable';
  if (e.name === 'KafkaJSAggregateError' && Array.isArray(e.errors) && e.errors.length > 0) {
    const classes = e.errors.map(classifyKafkaError);
    for (const c of ['fatal', 'record', 'producer-state'] as const) if (classes.includes(c)) return c;
    return 'retriable';
  }
  if (typeof e.type === 'string' && RECORD_ERRORS.has(e.type)) return 'record';
  if (typeof e.type === 'string' && PRODUCER_STATE_ERRORS.has(e.type)) return 'producer-state';
  if (e.retriable === true) return 'retriable';
  // Connection-level failures that kafkajs marks non-retriable after its own retries are still worth retrying later.
  if (
    e.name === 'KafkaJSConnectionError' ||
    e.name === 'KafkaJSConnectionClosedError' ||
    e.name === 'KafkaJSRequestTimeoutError' ||
    e.name === 'KafkaJSNoBrokerAvailableError' ||
    e.name === 'KafkaJSBrokerNotFound' ||
    e.name === 'KafkaJSLockTimeout' ||
    e.name === 'KafkaJSTimeout'
  )
    return 'retriable';
  if (e.retriable === false) return 'fatal';
  return 'retriable';
}

export interface KafkaSinkOptions {
  readonly logger?: SinkLogger;
  /**
   * Record kinds this sink will be given (default both): `connect()` checks that their topics exist, so a topic
   * only alerts go to is not required of a sink that takes explanations only.
   */
  readonly kinds?: readonly SinkRecord['kind'][];
}

export class KafkaSink implements Sink {
  readonly name = 'kafka';
  private readonly _cfg: Required<
    Pick<
      KafkaSinkConfig,
      | 'clientId'
      | 'compression'
      | 'idempotent'
      | 'ackTimeoutMs'
      | 'requestTimeoutMs'
      | 'connectionTimeoutMs'
      | 'maxMessageBytes'
      | 'clientRetries'
    >
  > &
    KafkaSinkConfig;
  private readonly _redactor: Redactor;
  private readonly _log: SinkLogger;
  private readonly _kafka: Kafka;
  private _producer: Producer | undefined;
  private _connecting: Promise<Producer> | undefined;
  /** Idempotent sends are serialised: kafkajs does not track sequence numbers across concurrent sends. */
  private _chain: Promise<unknown> = Promise.resolve();
  private readonly _kinds: readonly SinkRecord['kind'][];

  constructor(config: KafkaSinkConfig, options: KafkaSinkOptions = {}) {
    validateKafkaConfig(config);
    this._cfg = { ...KAFKA_DEFAULTS, ...config };
    this._redactor = new Redactor(collectSecrets(config));
    this._log = this._redactor.logger(options.logger ?? NOOP_LOGGER);
    this._kinds = options.kinds ?? ['packet', 'alert'];
    const log = this._log;
    this._kafka = new Kafka({
      clientId: this._cfg.clientId,
      brokers: [...config.brokers],
      connectionTimeout: this._cfg.connectionTimeoutMs,
      requestTimeout: this._cfg.requestTimeoutMs,
      ...(config.tls ? { ssl: tlsOptions(config.tls) } : {}),
      ...(config.sasl
        ? {
            sasl: {
              mechanism: config.sasl.mechanism,
              username: config.sasl.username,
              password: config.sasl.password,
            } as SASLOptions,
          }
        : {}),
      retry: { retries: this._cfg.clientRetries, initialRetryTime: 300, maxRetryTime: 5_000 },
      logLevel: logLevel.WARN,
      logCreator:
        () =>
        ({ level, log: entry }: LogEntry) => {
          const { message } = entry;
          const fields: Record<string, unknown> = {};
          for (const [k, v] of Object.entries(entry))
            if (k !== 'message' && k !== 'timestamp' && k !== 'logger') fields[k] = v;
          // Our runner owns retries beyond kafkajs's own, which is what this warning is about.
          if (message.startsWith('Limiting retries for the idempotent producer')) return;
          const m = `kafkajs: ${message}`;
          if (level === logLevel.ERROR) log.warn(m, fields);
          else if (level === logLevel.WARN) log.warn(m, fields);
          else log.debug(m, fields);
        },
    });
  }

  /** Topic a record goes to. */
  topicFor(record: SinkRecord): string {
    return record.kind === 'alert' ? (this._cfg.alertTopic ?? `${this._cfg.topic}.alerts`) : this._cfg.topic;
  }

  async connect(): Promise<void> {
    let missingTopics: string[] = [];
    try {
      const admin = this._kafka.admin();
      await admin.connect();
      try {
        const topics = [...new Set(this._kinds.map((kind) => this.topicFor({ kind } as SinkRecord)))];
        const existing = new Set(await admin.listTopics());
        const missing = topics.filter((t) => !existing.has(t));
        // The producer never auto-creates topics (allowAutoTopicCreation: false): without createTopics a missing
        // topic would make every send retry until the run stops (issue #15). Fail now, naming it.
        if (!this._cfg.createTopics) missingTopics = missing;
        else {
          if (missing.length > 0) {
            await admin.createTopics({
              waitForLeaders: true,
              topics: missing.map((topic) => ({
                topic,
                numPartitions: this._cfg.createTopics?.numPartitions ?? 6,
                replicationFactor: this._cfg.createTopics?.replicationFactor ?? -1,
              })),
            });
            this._log.info('Created Kafka topics.', { topics: missing });
          }
        }
      } finally {
        await admin.disconnect();
      }
      if (missingTopics.length === 0) await this._getProducer();
    } catch (err) {
      // Wrong credentials and a certificate the config will never accept are configuration errors: fail now.
      const auth = (err as KafkaErrorLike).name === 'KafkaJSSASLAuthenticationError';
      const cert = isCertificateError(err);
      throw new SinkError(
        cert ? 'RT_ERR_KAFKA_TLS' : 'RT_ERR_KAFKA_CONNECT',
        `Kafka: cannot connect to ${this._cfg.brokers.join(',')}: ${this._redactor.error(err)}`,
        { retriable: !auth && !cert },
      );
    }
    if (missingTopics.length > 0)
      throw new SinkError(
        'RT_ERR_KAFKA_TOPIC_MISSING',
        `Kafka: topic${missingTopics.length > 1 ? 's' : ''} ${missingTopics.map((t) => `'${t}'`).join(', ')} ` +
          `do${missingTopics.length > 1 ? '' : 'es'} not exist on ${this._cfg.brokers.join(',')} and will not be ` +
          `created: create ${missingTopics.length > 1 ? 'them' : 'it'} (kafka-topics.sh --create) or set ` +
          `createTopics in the sink's options`,
        { retriable: false },
      );
  }

  write(records: readonly SinkRecord[]): Promise<SinkOutcome[]> {
    if (!this._cfg.idempotent) return this._write(records);
    const run = this._chain.then(() => this._write(records));
    this._chain = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    await this._chain.catch(() => undefined);
    const p = this._producer;
    this._producer = undefined;
    if (p) await p.disconnect();
  }

  // -------------------------------------------------------------------------------------------------- internals

  private async _write(records: readonly SinkRecord[]): Promise<SinkOutcome[]> {
    const out: SinkOutcome[] = new Array<SinkOutcome>(records.length);
    const send: number[] = [];
    for (let i = 0; i < records.length; i++) {
      const size = bodyJson(records[i]!).length;
      if (size > this._cfg.maxMessageBytes)
        out[i] = {
          status: 'rejected',
          reason: `record is ${size} bytes, over maxMessageBytes ${this._cfg.maxMessageBytes}`,
        };
      else send.push(i);
    }
    if (send.length > 0) await this._sendIndexes(records, send, out);
    return out;
  }

  /** Sends the records at `idx`; on a per-record error splits the set until the culprit is alone. */
  private async _sendIndexes(
    records: readonly SinkRecord[],
    idx: number[],
    out: SinkOutcome[],
  ): Promise<void> {
    let producer: Producer;
    try {
      producer = await this._getProducer();
    } catch (err) {
      const reason = `connect: ${this._redactor.error(err)}`;
      for (const i of idx) out[i] = { status: 'retriable', reason };
      return;
    }
    try {
      await producer.sendBatch({
        topicMessages: this._topicMessages(records, idx),
        acks: -1,
        timeout: this._cfg.ackTimeoutMs,
        compression: this._cfg.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None,
      });
      for (const i of idx) out[i] = DELIVERED;
    } catch (err) {
      const cls = classifyKafkaError(err);
      const reason = this._redactor.error(err);
      if (cls === 'record' && idx.length > 1) {
        const mid = idx.length >> 1;
        await this._sendIndexes(records, idx.slice(0, mid), out);
        await this._sendIndexes(records, idx.slice(mid), out);
        return;
      }
      if (cls === 'producer-state') await this._resetProducer(reason);
      const status = cls === 'record' || cls === 'fatal' ? 'rejected' : 'retriable';
      for (const i of idx) out[i] = { status, reason };
    }
  }

  private _topicMessages(records: readonly SinkRecord[], idx: number[]): TopicMessages[] {
    const byTopic = new Map<string, Message[]>();
    for (const i of idx) {
      const r = records[i]!;
      const topic = this.topicFor(r);
      let list = byTopic.get(topic);
      if (list === undefined) byTopic.set(topic, (list = []));
      const ts = r.timestamp === undefined ? NaN : Date.parse(r.timestamp);
      list.push({
        key: r.key,
        value: bodyJson(r),
        ...(Number.isFinite(ts) ? { timestamp: String(ts) } : {}),
        headers: {
          [KAFKA_HEADERS.schema]: String(SINK_SCHEMA_VERSION),
          [KAFKA_HEADERS.kind]: r.kind,
          [KAFKA_HEADERS.id]: r.id,
        },
      });
    }
    return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
  }

  private _getProducer(): Promise<Producer> {
    if (this._producer) return Promise.resolve(this._producer);
    if (this._connecting) return this._connecting;
    const p = this._kafka.producer({
      idempotent: this._cfg.idempotent,
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
      retry: { retries: this._cfg.clientRetries, initialRetryTime: 300, maxRetryTime: 5_000 },
      ...(this._cfg.idempotent ? { maxInFlightRequests: 1 } : {}),
    });
    this._connecting = p
      .connect()
      .then(() => {
        this._producer = p;
        return p;
      })
      .finally(() => {
        this._connecting = undefined;
      });
    return this._connecting;
  }

  private async _resetProducer(reason: string): Promise<void> {
    const p = this._producer;
    this._producer = undefined;
    this._log.warn('Re-creating the Kafka producer after a producer-state error.', { reason });
    if (p) await p.disconnect().catch(() => undefined);
  }
}

function tlsOptions(
  tls: true | NonNullable<Exclude<KafkaSinkConfig['tls'], boolean>>,
): ConnectionOptions | true {
  if (tls === true) return true;
  const out: ConnectionOptions = { rejectUnauthorized: tls.rejectUnauthorized !== false };
  if (tls.ca !== undefined)
    out.ca = Array.isArray(tls.ca) ? [...(tls.ca as (string | Buffer)[])] : (tls.ca as string | Buffer);
  if (tls.cert !== undefined) out.cert = tls.cert;
  if (tls.key !== undefined) out.key = tls.key;
  if (tls.passphrase !== undefined) out.passphrase = tls.passphrase;
  if (tls.servername !== undefined) out.servername = tls.servername;
  return out;
}
