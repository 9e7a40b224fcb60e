/**
 * `ruletrail setup elasticsearch`: installs the index templates (ECS-compatible mapping) and data streams the
 * Elasticsearch sink writes to. Run once per cluster, with a user allowed to manage templates; the pipeline's
 * own writer then only needs `create_doc`. Secrets are read from files or the environment, never from the
 * command line (where `ps` would show them).
 */
import { readFile, stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { SecretFileModeError, UsageError, assertPrivateMode } from '@ruletrail/core';
import {
  setupElasticsearch,
  type ElasticsearchAuth,
  type ElasticsearchSinkConfig,
} from '@ruletrail/sink-elasticsearch';

export const SETUP_USAGE = `usage: ruletrail setup elasticsearch --url URL [--url URL…] [options]

Installs the index templates and data streams for explained packets and alerts.

  --url URL               an Elasticsearch node (repeat for several)
  --api-key-file FILE     API key (the 'encoded' value); or set ELASTICSEARCH_API_KEY
  --username NAME         basic auth user, with --password-file FILE or ELASTICSEARCH_PASSWORD
  --ca FILE               CA bundle (PEM) that signed the cluster's HTTP certificate
  --index NAME            packets data stream / index (default ruletrail-packets)
  --alert-index NAME      alerts data stream / index (default ruletrail-alerts)
  --mode data_stream|index  data streams (default) or plain indices
  --api-version 8|9       the cluster's major version (default 9)`;

/** Runs `setup <target>`; returns the exit code. */
export async function setupCommand(argv: string[]): Promise<number> {
  const [target, ...rest] = argv;
  if (
    target === '--help' ||
    target === '-h' ||
    target === undefined ||
    rest.includes('--help') ||
    rest.includes('-h')
  ) {
    process.stdout.write(SETUP_USAGE + '\n');
    return target === undefined ? 2 : 0;
  }
  if (target !== 'elasticsearch')
    throw new UsageError(`setup: unknown target '${target}' (known: elasticsearch)`);
  const { values } = parseArgs({
    args: rest,
    strict: true,
    options: {
      url: { type: 'string', multiple: true },
      'api-key-file': { type: 'string' },
      username: { type: 'string' },
      'password-file': { type: 'string' },
      ca: { type: 'string' },
      index: { type: 'string' },
      'alert-index': { type: 'string' },
      mode: { type: 'string' },
      'api-version': { type: 'string' },
    },
  });
  if (!values.url?.length) throw new UsageError('setup elasticsearch: at least one --url is needed');
  const mode = values.mode ?? 'data_stream';
  if (mode !== 'data_stream' && mode !== 'index')
    throw new UsageError(`--mode must be data_stream or index, got '${mode}'`);
  const apiVersion = values['api-version'] ?? '9';
  if (apiVersion !== '8' && apiVersion !== '9')
    throw new UsageError(`--api-version must be 8 or 9, got '${apiVersion}'`);
  const auth = await authFrom(values);
  const config: ElasticsearchSinkConfig = {
    nodes: values.url,
    apiVersion: apiVersion === '8' ? 8 : 9,
    ...(auth ? { auth } : {}),
    ...(values.ca ? { tls: { ca: await readSecretFile('--ca', values.ca) } } : {}),
    ...(values.index ? { index: values.index } : {}),
    ...(values['alert-index'] ? { alertIndex: values['alert-index'] } : {}),
  };
  const r = await setupElasticsearch(config, { mode });
  for (const [name, pattern] of Object.entries(r.templates))
    process.stdout.write(`index template ${name} installed for ${pattern}\n`);
  for (const ds of r.createdDataStreams) process.stdout.write(`data stream ${ds} created\n`);
  for (const ds of r.deferredDataStreams)
    process.stdout.write(`data stream ${ds} will be created from its template by the first write\n`);
  return 0;
}

async function authFrom(v: {
  'api-key-file'?: string;
  username?: string;
  'password-file'?: string;
}): Promise<ElasticsearchAuth | undefined> {
  const apiKey = v['api-key-file']
    ? await readSecretFile('--api-key-file', v['api-key-file'])
    : process.env.ELASTICSEARCH_API_KEY;
  if (apiKey) return { apiKey: apiKey.trim() };
  if (v.username) {
    const password = v['password-file']
      ? await readSecretFile('--password-file', v['password-file'])
      : process.env.ELASTICSEARCH_PASSWORD;
    if (!password) throw new UsageError('--username needs --password-file FILE or ELASTICSEARCH_PASSWORD');
    return { username: v.username, password: password.trim() };
  }
  return undefined;
}

async function readSecretFile(option: string, path: string): Promise<string> {
  try {
    // A key or password file every user can read is refused (core secret-file.ts); the CA file is not secret.
    if (option !== '--ca') assertPrivateMode(path, await stat(path), option);
    return await readFile(path, 'utf8');
  } catch (err) {
    if (err instanceof SecretFileModeError) throw new UsageError(err.message);
    // The path is not secret; the content never appears in a message.
    throw new UsageError(`${option} ${path}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
}
