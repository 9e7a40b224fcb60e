/**
 * The @platformatic/kafka 1.x adapter (an ES module: loaded with `import()` by the factory, only when chosen).
 * 1.x is the last major that runs on Node 20 (2.x needs Node ≥ 22.22).
 */
import type * as Plt from '@platformatic/kafka' with { 'resolution-mode': 'import' };
import {
  KAFKA_CONNECTION_DEFAULTS,
  kafkaTlsOptions,
  type KafkaConnectionConfig,
  type SinkLogger,
} from '@ruletrail/core';
import { PRODUCER_STATE_ERRORS, RECORD_ERRORS } from './error-classes';
import { worstClass } from './kafkajs';
import type {
  KafkaAdmin,
  KafkaClient,
  KafkaConsumedMessage,
  KafkaErrorClass,
  KafkaGroupConsumeOptions,
  KafkaGroupConsumer,
  KafkaOutMessage,
  KafkaProducer,
  KafkaProducerOptions,
} from './types';

type PltModule = typeof Plt;

interface PltErrorLike {
  code?: string;
  apiId?: string;
  canRetry?: boolean;
  errors?: unknown[];
  cause?: unknown;
}

/** Classifies a @platformatic/kafka error (`MultipleErrors` hold the errors of every retry and broker). */
export function classifyPlatformaticError(err: unknown, depth = 0): KafkaErrorClass {
  const e = err as PltErrorLike | undefined;
  if (e === undefined || e === null || typeof e !== 'object' || depth > 6) return 'retriable';
  if (Array.isArray(e.errors) && e.errors.length > 0)
    return worstClass(e.errors.map((x) => classifyPlatformaticError(x, depth + 1)));
  switch (e.code) {
    case 'PLT_KFK_PROTOCOL':
      if (e.apiId !== undefined && RECORD_ERRORS.has(e.apiId)) return 'record';
      if (e.apiId !== undefined && PRODUCER_STATE_ERRORS.has(e.apiId)) return 'producer-state';
      return e.canRetry === false ? 'fatal' : 'retriable';
    case 'PLT_KFK_AUTHENTICATION':
    case 'PLT_KFK_USER':
    case 'PLT_KFK_UNSUPPORTED':
    case 'PLT_KFK_UNSUPPORTED_API':
    case 'PLT_KFK_UNSUPPORTED_COMPRESSION':
      return 'fatal';
    default:
      // Network errors, timeouts and anything unknown: try again later.
      return e.cause !== undefined ? classifyPlatformaticError(e.cause, depth + 1) : 'retriable';
  }
}

/** True when a SASL authentication failed somewhere in the error tree. */
export function isPlatformaticAuthError(err: unknown, depth = 0): boolean {
  const e = err as PltErrorLike | undefined;
  if (e === undefined || e === null || typeof e !== 'object' || depth > 6) return false;
  if (e.code === 'PLT_KFK_AUTHENTICATION' || e.apiId === 'SASL_AUTHENTICATION_FAILED') return true;
  if (Array.isArray(e.errors) && e.errors.some((x) => isPlatformaticAuthError(x, depth + 1))) return true;
  return isPlatformaticAuthError(e.cause, depth + 1);
}

/** A @platformatic/kafka client for the config; `plt` is the loaded module. */
export function platformaticClient(plt: PltModule, c: KafkaConnectionConfig, log: SinkLogger): KafkaClient {
  const tls = kafkaTlsOptions(c);
  const base = {
    clientId: c.clientId ?? KAFKA_CONNECTION_DEFAULTS.clientId,
    bootstrapBrokers: [...c.brokers],
    connectTimeout: c.connectionTimeoutMs ?? KAFKA_CONNECTION_DEFAULTS.connectionTimeoutMs,
    requestTimeout: c.requestTimeoutMs ?? KAFKA_CONNECTION_DEFAULTS.requestTimeoutMs,
    retries: c.clientRetries ?? KAFKA_CONNECTION_DEFAULTS.clientRetries,
    // Exponential backoff from 300 ms to 5 s, the same schedule as the kafkajs adapter.
    retryDelay: (_client: unknown, _op: string, attempt: number) => Math.min(5_000, 300 * 2 ** (attempt - 1)),
    ...(tls ? { tls, ...(tls.servername ? { tlsServerName: tls.servername } : {}) } : {}),
    ...(c.sasl
      ? {
          sasl: {
            mechanism: c.sasl.mechanism.toUpperCase() as 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512',
            username: c.sasl.username,
            password: c.sasl.password,
          },
        }
      : {}),
  };
  return {
    name: 'platformatic',
    producer: (o) => new PltProducer(plt, base, o),
    groupConsumer: (o) => new PltGroupConsumer(plt, base, o.groupId, log),
    admin: () => new PltAdmin(plt, base),
    classify: (err) => classifyPlatformaticError(err),
    isAuthError: (err) => isPlatformaticAuthError(err),
  };
}

type BaseOptions = Plt.BaseOptions;

class PltProducer implements KafkaProducer {
  private readonly _p: Plt.Producer<string, string, string, string>;
  constructor(plt: PltModule, base: BaseOptions, o: KafkaProducerOptions) {
    this._p = new plt.Producer<string, string, string, string>({
      ...base,
      // An idempotent producer with `retries` ≤ 1 retries forever in @platformatic/kafka 1.x (a failed SASL login
      // would then never return): 2 is the least that keeps a bounded `clientRetries: 0`.
      ...(o.idempotent ? { retries: Math.max(2, Number(base.retries ?? 0)) } : {}),
      serializers: plt.stringSerializers,
      idempotent: o.idempotent,
      acks: plt.ProduceAcks.ALL,
      timeout: o.ackTimeoutMs,
      ...(o.compression === 'gzip' ? { compression: 'gzip' as const } : {}),
      // Java's partitioner (murmur2 & 0x7fffffff), as kafkajs's default: one key, one partition, whatever the client.
      partitioner: plt.compatibilityPartitioner,
      autocreateTopics: false,
    });
  }

  async connect(): Promise<void> {
    // The client connects lazily; fetching metadata connects (TLS, SASL) now, so configuration errors show here.
    await this._p.metadata({ topics: [], forceUpdate: true });
  }

  async send(messages: readonly KafkaOutMessage[]): Promise<void> {
    await this._p.send({
      messages: messages.map((m) => ({
        topic: m.topic,
        key: m.key,
        value: m.value,
        headers: m.headers,
        ...(m.timestamp !== undefined ? { timestamp: BigInt(m.timestamp) } : {}),
      })),
    });
  }

  close(): Promise<void> {
    return this._p.close();
  }
}

class PltAdmin implements KafkaAdmin {
  private readonly _a: Plt.Admin;
  constructor(plt: PltModule, base: BaseOptions) {
    this._a = new plt.Admin(base);
  }
  listTopics(): Promise<string[]> {
    return this._a.listTopics();
  }
  async createTopics(
    topics: readonly string[],
    o: { numPartitions: number; replicationFactor: number },
  ): Promise<void> {
    await this._a.createTopics({
      topics: [...topics],
      partitions: o.numPartitions,
      replicas: o.replicationFactor,
    });
    // CreateTopics answers before every partition has a leader; wait until metadata shows them all.
    for (let i = 0; i < 50; i++) {
      const md = await this._a.metadata({ topics: [...topics], forceUpdate: true }).catch(() => undefined);
      const ready = md && topics.every((t) => md.topics.get(t)?.partitions.every((p) => p.leader >= 0));
      if (ready) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  async topicOffsets(topic: string): Promise<{ partition: number; low: number; high: number }[]> {
    const md = await this._a.metadata({ topics: [topic], forceUpdate: true });
    const count = md.topics.get(topic)?.partitionsCount ?? 0;
    const partitions = Array.from({ length: count }, (_, i) => i);
    const list = async (timestamp: bigint): Promise<Map<number, number>> => {
      const r = await this._a.listOffsets({
        topics: [{ name: topic, partitions: partitions.map((p) => ({ partitionIndex: p, timestamp })) }],
      });
      return new Map(
        r.flatMap((t) => t.partitions.map((p) => [p.partitionIndex, Number(p.offset)] as const)),
      );
    };
    const low = await list(-2n);
    const high = await list(-1n);
    return partitions.map((p) => ({ partition: p, low: low.get(p) ?? 0, high: high.get(p) ?? 0 }));
  }
  close(): Promise<void> {
    return this._a.close();
  }
}

/** Messages handed to `onBatch` at most at once per partition. */
const BATCH_MESSAGES = 2000;

class PltGroupConsumer implements KafkaGroupConsumer {
  private readonly _c: Plt.Consumer<Buffer, Buffer, Buffer, Buffer>;
  private _stream: Plt.MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined;
  private _stopped = false;
  private _idle: Promise<void> = Promise.resolve();

  constructor(
    plt: PltModule,
    base: BaseOptions,
    groupId: string,
    private readonly _log: SinkLogger,
  ) {
    this._c = new plt.Consumer({ ...base, groupId, autocommit: false, maxWaitTime: 1000 });
  }

  async start(o: KafkaGroupConsumeOptions): Promise<void> {
    this._c.on('consumer:group:join', (p: { assignments?: unknown }) =>
      o.onJoin?.({ assignment: p.assignments }),
    );
    const stream = await this._c.consume({
      topics: [o.topic],
      mode: 'committed',
      fallbackMode: o.fromBeginning ? 'earliest' : 'latest',
      autocommit: false,
    });
    this._stream = stream;
    // Messages arrive one by one; group what arrived in one turn of the event loop per partition, and pause the
    // stream while a group is processed (backpressure reaches the fetcher).
    let pending = new Map<number, KafkaConsumedMessage[]>();
    let scheduled = false;
    const drain = async (): Promise<void> => {
      scheduled = false;
      const groups = pending;
      pending = new Map();
      stream.pause();
      try {
        for (const [partition, messages] of groups) {
          for (let i = 0; i < messages.length && !this._stopped; i += BATCH_MESSAGES)
            await o.onBatch(
              { topic: o.topic, partition, messages: messages.slice(i, i + BATCH_MESSAGES) },
              { active: () => !this._stopped, heartbeat: () => Promise.resolve() },
            );
        }
      } catch (err) {
        o.onFatal(err);
      } finally {
        if (!this._stopped) stream.resume();
      }
    };
    stream.on('data', (m) => {
      let list = pending.get(m.partition);
      if (list === undefined) pending.set(m.partition, (list = []));
      list.push({ offset: Number(m.offset), value: m.value ?? null });
      if (!scheduled) {
        scheduled = true;
        this._idle = this._idle.then(drain);
      }
    });
    stream.on('error', (err) => {
      if (this._stopped) return;
      this._log.warn('Kafka consumer stream failed.', { error: err });
      o.onFatal(err);
    });
  }

  async commit(offsets: readonly { topic: string; partition: number; offset: number }[]): Promise<void> {
    await this._c.commit({
      offsets: offsets.map((x) => ({ ...x, offset: BigInt(x.offset), leaderEpoch: -1 })),
    });
  }

  async stop(): Promise<void> {
    this._stopped = true;
    await this._stream?.close();
    await this._idle;
  }

  async close(): Promise<void> {
    if (!this._stopped) await this.stop();
    // force: also closes a stream still open after a failed start.
    await new Promise<void>((resolve, reject) =>
      this._c.close(true, (err) => (err ? reject(err) : resolve())),
    );
  }
}
