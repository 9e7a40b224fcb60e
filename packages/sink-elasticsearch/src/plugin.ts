/** The Elasticsearch sink as the CLI's registry knows it (options schema, factory). */
import { defineSink, problemsOf, tlsOptionsSchema } from '@ruletrail/core';
import { ES_DEFAULTS, validateElasticsearchConfig, type ElasticsearchSinkConfig } from './config';
import { setupElasticsearch } from './setup';
import { ElasticsearchSink } from './sink';

/** The sink's options: the client config plus `setup` (create the index templates at start). */
export type ElasticsearchSinkPluginOptions = ElasticsearchSinkConfig & { readonly setup?: boolean };

/** `type: elasticsearch`. Field meanings: `ElasticsearchSinkConfig` in config.ts. */
export const elasticsearchSinkPlugin = defineSink<ElasticsearchSinkPluginOptions>({
  type: 'elasticsearch',
  summary: 'Elasticsearch index or data stream (bulk API, deterministic ids).',
  options: {
    type: 'object',
    additionalProperties: false,
    required: ['nodes'],
    properties: {
      nodes: {
        type: 'array',
        minItems: 1,
        items: { type: 'string', pattern: '^https?://' },
        description: 'Node URLs, e.g. https://es1:9200 (credentials go in auth).',
      },
      auth: {
        type: 'object',
        additionalProperties: false,
        description: 'One of apiKey, username + password, bearer.',
        properties: {
          apiKey: {
            type: ['string', 'object'],
            additionalProperties: false,
            required: ['id', 'api_key'],
            properties: { id: { type: 'string' }, api_key: { type: 'string' } },
          },
          username: { type: 'string' },
          password: { type: 'string' },
          bearer: { type: 'string' },
        },
      },
      tls: tlsOptionsSchema('TLS to the cluster.', {
        caFingerprint: { type: 'string', description: "SHA-256 fingerprint of the cluster's CA." },
      }),
      index: { type: 'string', minLength: 1, default: ES_DEFAULTS.index },
      alertIndex: { type: 'string', minLength: 1, default: ES_DEFAULTS.alertIndex },
      apiVersion: { enum: [8, 9], default: ES_DEFAULTS.apiVersion },
      compression: { type: 'boolean', default: ES_DEFAULTS.compression },
      requestTimeoutMs: { type: 'integer', minimum: 1, default: ES_DEFAULTS.requestTimeoutMs },
      setup: {
        type: 'boolean',
        default: false,
        description:
          'Create the index templates and data streams at start (needs manage_index_templates); see ruletrail setup.',
      },
    },
  },
  check: problemsOf(validateElasticsearchConfig),
  create: async (options, { logger, kinds }) => {
    const { setup, ...config } = options;
    if (setup) await setupElasticsearch(config, {}, { logger });
    return new ElasticsearchSink(config, { logger, kinds });
  },
});
