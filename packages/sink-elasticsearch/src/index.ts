/** Elasticsearch sink (@elastic/elasticsearch 9) behind the ruletrail sink interface, and its setup. See docs/sinks.md. */
export {
  ElasticsearchSink,
  autoCreateAllows,
  docJson,
  itemOutcome,
  type ElasticsearchSinkOptions,
} from './sink';
export { setupElasticsearch, indexTemplate, type ElasticsearchSetupResult } from './setup';
export { packetMappings, alertMappings } from './mapping';
export {
  ES_DEFAULTS,
  validateElasticsearchConfig,
  type ElasticsearchAuth,
  type ElasticsearchSetupOptions,
  type ElasticsearchSinkConfig,
  type ElasticsearchTlsConfig,
} from './config';
export { elasticsearchSinkPlugin, type ElasticsearchSinkPluginOptions } from './plugin';
