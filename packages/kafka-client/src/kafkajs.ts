/**
 * The kafkajs 2 adapter. kafkajs's own logging goes to ruletrail's structured logs (never its console output).
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
} from 'kafkajs';
import {
  KAFKA_CONNECTION_DEFAULTS,
  kafkaTlsOptions,
  type KafkaConnectionConfig,
  type SinkLogger,
} from '@ruletrail/core';
import type {
  KafkaAdmin,
  KafkaClient,
  KafkaErrorClass,
  KafkaGroupConsumeOptions,
  KafkaGroupConsumer,
  KafkaOutMessage,
  KafkaProducer,
  KafkaProducerOptions,
} from './types';
import { PRODUCER_STATE_ERRORS, RECORD_ERRORS } from './error-classes';

interface KafkaErrorLike {
  name?: string;
  message?: string;
  type?: string;
  retriable?: boolean;
  originalError?: unknown;
  cause?: unknown;
  errors?: unknown[];
}

/** Classifies a kafkajs error (unwrapping "number of retries exceeded"). */
export function classifyKafkajsError(err: unknown): KafkaErrorClass {
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
  if (e.name === 'KafkaJSAggregateError' && Array.isArray(e.errors) && e.errors.length > 0)
    return worstClass(e.errors.map(classifyKafkajsError));
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

/** The class that decides for a set of errors: fatal over record over producer-state over retriable. */
export function worstClass(classes: readonly KafkaErrorClass[]): KafkaErrorClass {
  for (const c of ['fatal', 'record', 'producer-state'] as const) if (classes.includes(c)) return c;
  return 'retriable';
}

/** A kafkajs client for the config. */
export function kafkajsClient(c: KafkaConnectionConfig, log: SinkLogger): KafkaClient {
  const retries = c.clientRetries ?? KAFKA_CONNECTION_DEFAULTS.clientRetries;
  const retry = { retries, initialRetryTime: 300, maxRetryTime: 5_000 };
  const tls = kafkaTlsOptions(c);
  const kafka = new Kafka({
    clientId: c.clientId ?? KAFKA_CONNECTION_DEFAULTS.clientId,
    brokers: [...c.brokers],
    connectionTimeout: c.connectionTimeoutMs ?? KAFKA_CONNECTION_DEFAULTS.connectionTimeoutMs,
    requestTimeout: c.requestTimeoutMs ?? KAFKA_CONNECTION_DEFAULTS.requestTimeoutMs,
    ...(tls ? { ssl: tls } : {}),
    ...(c.sasl
      ? {
          sasl: {
            mechanism: c.sasl.mechanism,
            username: c.sasl.username,
            password: c.sasl.password,
          } as SASLOptions,
        }
      : {}),
    retry,
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message } = entry;
        // Our runner owns retries beyond kafkajs's own, which is what this warning is about.
        if (message.startsWith('Limiting retries for the idempotent producer')) return;
        const fields: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(entry))
          if (k !== 'message' && k !== 'timestamp' && k !== 'logger') fields[k] = v;
        const m = `kafkajs: ${message}`;
        if (level <= logLevel.WARN) log.warn(m, fields);
        else log.debug(m, fields);
      },
  });
  return {
    name: 'kafkajs',
    producer: (o) => new KafkajsProducer(kafka, o, retry),
    groupConsumer: (o) => new KafkajsGroupConsumer(kafka, o.groupId, log),
    admin: () => new KafkajsAdmin(kafka),
    classify: classifyKafkajsError,
    isAuthError: (err) => (err as KafkaErrorLike | undefined)?.name === 'KafkaJSSASLAuthenticationError',
  };
}

class KafkajsProducer implements KafkaProducer {
  private readonly _p: Producer;
  constructor(
    kafka: Kafka,
    private readonly _o: KafkaProducerOptions,
    retry: { retries: number; initialRetryTime: number; maxRetryTime: number },
  ) {
    this._p = kafka.producer({
      idempotent: _o.idempotent,
      // Java's partitioner (murmur2 & 0x7fffffff): the same key lands on the same partition with every client.
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
      // kafkajs refuses an idempotent producer without retries; one retry keeps `clientRetries: 0` usable.
      retry: _o.idempotent ? { ...retry, retries: Math.max(1, retry.retries) } : retry,
      ...(_o.idempotent ? { maxInFlightRequests: 1 } : {}),
    });
  }

  connect(): Promise<void> {
    return this._p.connect();
  }

  async send(messages: readonly KafkaOutMessage[]): Promise<void> {
    const byTopic = new Map<string, Message[]>();
    for (const m of messages) {
      let list = byTopic.get(m.topic);
      if (list === undefined) byTopic.set(m.topic, (list = []));
      list.push({
        key: m.key,
        value: m.value,
        ...(m.timestamp !== undefined ? { timestamp: String(m.timestamp) } : {}),
        headers: m.headers,
      });
    }
    await this._p.sendBatch({
      topicMessages: [...byTopic].map(([topic, msgs]) => ({ topic, messages: msgs })),
      acks: -1,
      timeout: this._o.ackTimeoutMs,
      compression: this._o.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None,
    });
  }

  close(): Promise<void> {
    return this._p.disconnect();
  }
}

class KafkajsAdmin implements KafkaAdmin {
  private readonly _admin;
  private _connected: Promise<void> | undefined;
  constructor(kafka: Kafka) {
    this._admin = kafka.admin();
  }
  private _connect(): Promise<void> {
    return (this._connected ??= this._admin.connect());
  }
  async listTopics(): Promise<string[]> {
    await this._connect();
    return this._admin.listTopics();
  }
  async createTopics(
    topics: readonly string[],
    o: { numPartitions: number; replicationFactor: number },
  ): Promise<void> {
    await this._connect();
    await this._admin.createTopics({
      waitForLeaders: true,
      topics: topics.map((topic) => ({ topic, ...o })),
    });
  }
  async topicOffsets(topic: string): Promise<{ partition: number; low: number; high: number }[]> {
    await this._connect();
    return (await this._admin.fetchTopicOffsets(topic)).map((o) => ({
      partition: o.partition,
      low: Number(o.low),
      high: Number(o.high),
    }));
  }
  close(): Promise<void> {
    return this._admin.disconnect();
  }
}

class KafkajsGroupConsumer implements KafkaGroupConsumer {
  private readonly _c;
  private _topic: string | undefined;
  constructor(
    kafka: Kafka,
    groupId: string,
    private readonly _log: SinkLogger,
  ) {
    this._c = kafka.consumer({ groupId, allowAutoTopicCreation: false });
  }

  async start(o: KafkaGroupConsumeOptions): Promise<void> {
    const c = this._c;
    this._topic = o.topic;
    c.on(c.events.GROUP_JOIN, (e) => o.onJoin?.({ assignment: e.payload.memberAssignment }));
    // kafkajs restarts the consumer after retriable failures by itself; a crash it will not restart from is fatal.
    c.on(c.events.CRASH, (e) => {
      if (e.payload.restart)
        this._log.warn('Kafka consumer crashed; kafkajs restarts it.', { error: e.payload.error });
      else o.onFatal(e.payload.error);
    });
    await c.connect();
    await c.subscribe({ topic: o.topic, fromBeginning: o.fromBeginning });
    await c.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async (p) => {
        const { batch } = p;
        if (batch.isEmpty()) return;
        const messages = batch.messages.map((m) => ({ offset: Number(m.offset), value: m.value }));
        const last = await o.onBatch(
          { topic: batch.topic, partition: batch.partition, messages },
          { active: () => p.isRunning() && !p.isStale(), heartbeat: () => p.heartbeat() },
        );
        const upTo = last ?? messages[messages.length - 1]!.offset;
        if (upTo >= messages[0]!.offset) p.resolveOffset(String(upTo));
        await p.heartbeat();
      },
    });
  }

  async commit(offsets: readonly { topic: string; partition: number; offset: number }[]): Promise<void> {
    await this._c.commitOffsets(offsets.map((x) => ({ ...x, offset: String(x.offset) })));
  }

  /**
   * Pauses fetching but stays in the group: kafkajs's own `stop()` drops the group, after which `commitOffsets`
   * fails, and the final commit of what the pipeline acknowledged during shutdown would be lost.
   */
  stop(): Promise<void> {
    if (this._topic !== undefined) this._c.pause([{ topic: this._topic }]);
    return Promise.resolve();
  }

  close(): Promise<void> {
    return this._c.disconnect();
  }
}
