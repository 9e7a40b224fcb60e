/**
 * The shared sink conformance suite (`checkSink`, core conformance.ts) for the remote sinks, against the real
 * services started by services/start.sh (RUN_SERVICE_TESTS=1): Kafka (both clients), Elasticsearch and Fluentd.
 * The remote side is read back by ids when the runner reports them acknowledged; each sink is built by its
 * registered plugin, as `ruletrail run` builds it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import {
  KAFKA_CLIENT_NAMES,
  NOOP_LOGGER,
  checkSink,
  explainedPacketRecord,
  type Sink,
  type SinkContext,
  type SinkRecord,
} from '@ruletrail/core';
import { REGISTRY } from '@ruletrail/cli';
import { setupElasticsearch } from '@ruletrail/sink-elasticsearch';
import { alertRecord, explainedPacket, requireServices } from './support/services';
import { waitFor } from './support/wait';

const RECORDS: SinkRecord[] = [
  ...Array.from({ length: 40 }, (_, i) => explainedPacketRecord(explainedPacket(i, 'conformance-host'))),
  ...Array.from({ length: 5 }, (_, i) => alertRecord(i)),
];

const CONTEXT: SinkContext = {
  baseDir: __dirname,
  logger: NOOP_LOGGER,
  stop: () => undefined,
  kinds: ['packet', 'alert'],
};

/**
 * A sink built through its registered plugin (as `ruletrail run` does) when the runner connects it (a factory
 * may be async; `checkSink` takes a synchronous one). `afterConnect` runs once the remote side is ready.
 */
function pluginSink(
  type: string,
  options: Record<string, unknown>,
  afterConnect: () => Promise<void> = () => Promise.resolve(),
): Sink {
  let sink: Sink | undefined;
  return {
    name: type,
    connect: async () => {
      sink = await REGISTRY.sinks.find((p) => p.type === type)!.create(options as never, CONTEXT);
      await sink.connect();
      await afterConnect();
    },
    write: (records, signal) => sink!.write(records, signal),
    close: async () => {
      await sink?.close();
    },
  };
}

function unique(prefix: string): string {
  return `ruletrail-conf-${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}

describe('sink conformance against the real services', function () {
  this.timeout(300_000);

  for (const client of KAFKA_CLIENT_NAMES)
    it(`Kafka (${client}): acknowledged only once on the topic, an oversize record dead-lettered`, async function () {
      const env = requireServices(this, ['KAFKA_BROKERS']);
      const topic = unique(`kafka-${client}`);
      const options = {
        client,
        brokers: [env.KAFKA_BROKERS!],
        topic,
        alertTopic: `${topic}.alerts`,
        createTopics: { numPartitions: 1 },
        maxMessageBytes: 50_000,
      };
      // A consumer reading both topics from the start collects the ids the broker holds.
      const onTopic = new Set<string>();
      const kafka = new Kafka({
        brokers: options.brokers,
        clientId: 'rt-conformance',
        logLevel: logLevel.NOTHING,
      });
      let consumer: Consumer | undefined;
      const startConsumer = async (): Promise<void> => {
        consumer = kafka.consumer({ groupId: unique('group') });
        await consumer.connect();
        await consumer.subscribe({ topics: [topic, options.alertTopic], fromBeginning: true });
        await consumer.run({
          eachMessage: async ({ message }) => {
            const id = message.headers?.['ruletrail-id'];
            if (id !== undefined) onTopic.add(String(id));
            await Promise.resolve();
          },
        });
      };
      const oversize: SinkRecord = {
        id: 'oversize',
        key: 'h',
        kind: 'packet',
        body: { pad: 'x'.repeat(60_000) },
      };
      try {
        await checkSink(
          // The sink creates the topics on start; the consumer subscribes once they exist.
          () => pluginSink('kafka', options, startConsumer),
          RECORDS,
          async (ids) => {
            await waitFor(() => ids.every((id) => onTopic.has(id)), 60_000, `${ids.length} ids on ${topic}`);
            return onTopic;
          },
          oversize,
        );
      } finally {
        await consumer?.disconnect();
      }
    });

  it('Elasticsearch: acknowledged only once searchable by id, a mapping conflict dead-lettered', async function () {
    const env = requireServices(this, ['ES_URL']);
    const apiVersion: 8 | 9 = env.ES_VERSION?.startsWith('9.') ? 9 : 8;
    const options = {
      nodes: [env.ES_URL!],
      apiVersion,
      index: unique('packets'),
      alertIndex: unique('alerts'),
    };
    await setupElasticsearch(options, { replicas: 0 });
    const url = env.ES_URL!;
    const indices = `${options.index},${options.alertIndex}`;
    // `packet.src` is mapped as an IP address: this document can never be indexed.
    const conflict = explainedPacketRecord({
      ...explainedPacket(999, 'conformance-host'),
      packet: { ...(explainedPacket(999).packet as object), src: 'not-an-address' },
    });
    await checkSink(
      () => pluginSink('elasticsearch', options),
      RECORDS,
      async (ids) => {
        await fetch(`${url}/${indices}/_refresh`, { method: 'POST' });
        const r = await fetch(`${url}/${indices}/_search`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ size: ids.length, _source: false, query: { ids: { values: ids } } }),
        });
        const body = (await r.json()) as { hits: { hits: { _id: string }[] } };
        return new Set(body.hits.hits.map((h) => h._id));
      },
      conflict,
    );
  });

  it('Fluentd: acknowledged only once the forward receiver has it', async function () {
    const env = requireServices(this, ['FLUENTD_PORT', 'FLUENTD_RECEIVED_FILE']);
    const options = { host: '127.0.0.1', port: Number(env.FLUENTD_PORT), tag: unique('fluentd') };
    const file = env.FLUENTD_RECEIVED_FILE!;
    await checkSink(
      () => pluginSink('fluentd', options),
      RECORDS,
      async (ids) => {
        // The receiver acknowledges a chunk when it has it; its file exporter writes it a moment later.
        const text = (): string => (existsSync(file) ? readFileSync(file, 'utf8') : '');
        await waitFor(
          () => ids.every((id) => text().includes(id)),
          30_000,
          `${ids.length} ids in ${file}`,
          200,
        );
        const all = text();
        return new Set(ids.filter((id) => all.includes(id)));
      },
    );
  });
});
