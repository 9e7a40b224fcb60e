/**
 * `ruletrail setup elasticsearch`: installs the index templates (and by default creates the data streams) the
 * sink writes to. Idempotent: running it again updates the templates in place. Needs an admin credential
 * (`manage_index_templates`, and `manage` on the data streams), not the sink's writer key.
 */
import { NOOP_LOGGER, type SinkLogger } from '@ruletrail/core';
import { createEsClient, esRedactor, statusOf } from './client';
import { ES_DEFAULTS, type ElasticsearchSetupOptions, type ElasticsearchSinkConfig } from './config';
import { alertMappings, packetMappings } from './mapping';

export interface ElasticsearchSetupResult {
  /** Index templates written (name → index pattern). */
  readonly templates: Readonly<Record<string, string>>;
  /** Data streams created now (empty in `index` mode or when they already existed). */
  readonly createdDataStreams: readonly string[];
  /** Data streams the cluster could not create now (no create API); the first write creates them from the template. */
  readonly deferredDataStreams: readonly string[];
  readonly mode: 'data_stream' | 'index';
}

/** The index template body for one target. Exported so docs and tests can show exactly what is installed. */
export function indexTemplate(
  target: string,
  mappings: Record<string, unknown>,
  o: ElasticsearchSetupOptions = {},
): Record<string, unknown> {
  const mode = o.mode ?? 'data_stream';
  return {
    index_patterns: [mode === 'data_stream' ? target : `${target}*`],
    priority: o.priority ?? 200,
    ...(mode === 'data_stream' ? { data_stream: {} } : {}),
    template: {
      settings: {
        number_of_shards: o.shards ?? 1,
        number_of_replicas: o.replicas ?? 1,
        refresh_interval: o.refreshInterval ?? '5s',
        ...(o.translogDurability === 'async' ? { 'translog.durability': 'async' } : {}),
      },
      mappings,
    },
    _meta: { managed_by: 'ruletrail', description: 'ruletrail explained netfilter verdicts' },
  };
}

/**
 * Installs the templates for `config.index` (packets) and `config.alertIndex` (alerts).
 * Signature for the CLI: `setupElasticsearch(config, options?, { logger? }) → Promise<ElasticsearchSetupResult>`.
 * The third-party client stays inside this package: nothing here takes or returns it.
 */
export async function setupElasticsearch(
  config: ElasticsearchSinkConfig,
  options: ElasticsearchSetupOptions = {},
  extra: { logger?: SinkLogger } = {},
): Promise<ElasticsearchSetupResult> {
  const redactor = esRedactor(config);
  const log = redactor.logger(extra.logger ?? NOOP_LOGGER);
  const client = createEsClient(config);
  const mode = options.mode ?? 'data_stream';
  const targets: [string, Record<string, unknown>][] = [
    [config.index ?? ES_DEFAULTS.index, packetMappings()],
    [config.alertIndex ?? ES_DEFAULTS.alertIndex, alertMappings()],
  ];
  const templates: Record<string, string> = {};
  const created: string[] = [];
  const deferred: string[] = [];
  try {
    for (const [target, mappings] of targets) {
      const body = indexTemplate(target, mappings, options);
      await client.indices.putIndexTemplate({ name: target, ...body });
      templates[target] = (body.index_patterns as string[])[0]!;
      log.info('Installed index template.', { template: target, mode });
      if (mode === 'data_stream' && options.createDataStreams !== false) {
        try {
          await client.indices.createDataStream({ name: target });
          created.push(target);
          log.info('Created data stream.', { dataStream: target });
        } catch (err) {
          const status = statusOf(err);
          if (status === 400 && /resource_already_exists/.test(String((err as Error).message))) continue; // re-run
          // No create-data-stream API on this cluster (e.g. a minimal distribution without the data-streams
          // module): the template still makes the first write create the data stream. 8.x answers 405 there,
          // 9.x answers 400 "no handler found for uri".
          const noHandler = status === 400 && /no handler found/.test(String((err as Error).message));
          if (status === 404 || status === 405 || noHandler) {
            deferred.push(target);
            log.warn('Cannot create the data stream now; the first write will.', {
              dataStream: target,
              status,
            });
            continue;
          }
          throw err;
        }
      }
    }
  } catch (err) {
    throw new Error(`Elasticsearch setup failed: ${redactor.error(err)}`);
  } finally {
    await client.close();
  }
  return { templates, createdDataStreams: created, deferredDataStreams: deferred, mode };
}
