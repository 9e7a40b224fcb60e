/**
 * Kafka sink: one producer (kafkajs or @platformatic/kafka, option `client`, behind `@ruletrail/kafka-client`),
 * acks=all, one send per write.
 *
 * Outcome mapping (the client adapter classifies its library's errors, see `KafkaErrorClass`):
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
  DELIVERED,
  NOOP_LOGGER,
  Redactor,
  SINK_SCHEMA_VERSION,
  SinkError,
  bodyJson,
  collectSecrets,
  type Sink,
  type SinkLogger,
  type SinkOutcome,
  type SinkRecord,
} from '@ruletrail/core';
import {
  classifyKafkajsError,
  createKafkaClient,
  kafkaConnectError,
  type KafkaClient,
  type KafkaErrorClass,
  type KafkaOutMessage,
  type KafkaProducer,
} from '@ruletrail/kafka-client';
import { KAFKA_DEFAULTS, KAFKA_HEADERS, validateKafkaConfig, type KafkaSinkConfig } from './config';

export type { KafkaErrorClass };

/** Classifies a kafkajs error (kept for callers of the kafkajs-only sink; the client adapters classify now). */
export const classifyKafkaError: (err: unknown) => KafkaErrorClass = classifyKafkajsError;

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
  private readonly _cfg: typeof KAFKA_DEFAULTS & KafkaSinkConfig;
  private readonly _redactor: Redactor;
  private readonly _log: SinkLogger;
  private _client: Promise<KafkaClient> | undefined;
  private _producer: KafkaProducer | undefined;
  private _connecting: Promise<KafkaProducer> | undefined;
  /** Idempotent sends are serialised: kafkajs does not track sequence numbers across concurrent sends. */
  private _chain: Promise<unknown> = Promise.resolve();
  private readonly _kinds: readonly SinkRecord['kind'][];

  constructor(config: KafkaSinkConfig, options: KafkaSinkOptions = {}) {
    validateKafkaConfig(config);
    this._cfg = { ...KAFKA_DEFAULTS, ...config };
    this._redactor = new Redactor(collectSecrets(config));
    this._log = this._redactor.logger(options.logger ?? NOOP_LOGGER);
    this._kinds = options.kinds ?? ['packet', 'alert'];
  }

  /** The client library in use (`kafkajs` or `platformatic`). */
  get client(): string {
    return this._cfg.client;
  }

  private _getClient(): Promise<KafkaClient> {
    return (this._client ??= createKafkaClient(this._cfg, this._log));
  }

  /** Topic a record goes to. */
  topicFor(record: SinkRecord): string {
    return record.kind === 'alert' ? (this._cfg.alertTopic ?? `${this._cfg.topic}.alerts`) : this._cfg.topic;
  }

  async connect(): Promise<void> {
    const client = await this._getClient();
    let missingTopics: string[] = [];
    try {
      const topics = [...new Set(this._kinds.map((kind) => this.topicFor({ kind } as SinkRecord)))];
      const admin = client.admin();
      try {
        const existing = new Set(await admin.listTopics());
        const missing = topics.filter((t) => !existing.has(t));
        // The producer never auto-creates topics: without createTopics a missing topic would make every send
        // retry until the run stops (issue #15). Fail now, naming it.
        if (!this._cfg.createTopics) missingTopics = missing;
        else if (missing.length > 0) {
          await admin.createTopics(missing, {
            numPartitions: this._cfg.createTopics.numPartitions ?? 6,
            replicationFactor: this._cfg.createTopics.replicationFactor ?? -1,
          });
          this._log.info('Created Kafka topics.', { topics: missing });
        }
      } finally {
        await admin.close().catch(() => undefined);
      }
      if (missingTopics.length === 0) await this._getProducer();
    } catch (err) {
      // Wrong credentials and a certificate the config will never accept are configuration errors: fail now.
      throw kafkaConnectError(client, this._cfg.brokers, err, (e) => this._redactor.error(e));
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
    if (p) await p.close();
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
    let producer: KafkaProducer;
    let client: KafkaClient;
    try {
      client = await this._getClient();
      producer = await this._getProducer();
    } catch (err) {
      const reason = `connect: ${this._redactor.error(err)}`;
      for (const i of idx) out[i] = { status: 'retriable', reason };
      return;
    }
    try {
      await producer.send(this._messages(records, idx));
      for (const i of idx) out[i] = DELIVERED;
    } catch (err) {
      const cls = client.classify(err);
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

  private _messages(records: readonly SinkRecord[], idx: number[]): KafkaOutMessage[] {
    const out: KafkaOutMessage[] = new Array<KafkaOutMessage>(idx.length);
    for (let j = 0; j < idx.length; j++) {
      const r = records[idx[j]!]!;
      const ts = r.timestamp === undefined ? NaN : Date.parse(r.timestamp);
      out[j] = {
        topic: this.topicFor(r),
        key: r.key,
        value: bodyJson(r),
        ...(Number.isFinite(ts) ? { timestamp: ts } : {}),
        headers: {
          [KAFKA_HEADERS.schema]: SCHEMA_HEADER,
          [KAFKA_HEADERS.kind]: r.kind,
          [KAFKA_HEADERS.id]: r.id,
        },
      };
    }
    return out;
  }

  private _getProducer(): Promise<KafkaProducer> {
    if (this._producer) return Promise.resolve(this._producer);
    if (this._connecting) return this._connecting;
    this._connecting = this._getClient()
      .then(async (client) => {
        const p = client.producer({
          idempotent: this._cfg.idempotent,
          compression: this._cfg.compression,
          ackTimeoutMs: this._cfg.ackTimeoutMs,
        });
        try {
          await p.connect();
        } catch (err) {
          await p.close().catch(() => undefined);
          throw err;
        }
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
    if (p) await p.close().catch(() => undefined);
  }
}

const SCHEMA_HEADER = String(SINK_SCHEMA_VERSION);
