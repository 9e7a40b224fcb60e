/** Config loading: defaults, resolved paths, every error at once with its path and line, the committed schema. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_SCHEMA, ConfigError, loadConfig, parseConfig, type ConfigProblem } from '../src';

const ROOT = join(__dirname, '../../..');
const SCHEMA_FILE = join(ROOT, 'schemas/config/v1/config.schema.json');

function problems(yaml: string, env: NodeJS.ProcessEnv = {}): ConfigProblem[] {
  try {
    parseConfig(yaml, '/etc/ruletrail/p.yaml', env);
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  assert.fail('the config was accepted');
}

describe('pipeline config', () => {
  it('accepts every example config in examples/pipeline', () => {
    const dir = join(ROOT, 'examples/pipeline');
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
    assert.ok(files.length >= 3);
    for (const f of files)
      loadConfig(join(dir, f), { KAFKA_BROKERS: '127.0.0.1:9092', ES_URL: 'http://127.0.0.1:9200' });
  });

  it('applies defaults and resolves paths against the config file', () => {
    const cfg = loadConfig(join(ROOT, 'examples/pipeline/incident.yaml'));
    const src = cfg.sources[0]!;
    assert.equal(src.type, 'file');
    if (src.type !== 'file') return;
    assert.deepEqual(src.paths, [join(ROOT, 'examples/incident/kern.log')]);
    assert.equal(src.mode, 'read');
    assert.equal(src.pollIntervalMs, 250);
    assert.equal(cfg.correlation.windowMs, 2000);
    assert.equal(cfg.pipeline.maxInFlight, 10000);
    assert.deepEqual(cfg.alerts.builtin, { kubeMarkDrop: true, kubeNoEndpoints: true });
    assert.deepEqual(cfg.sinks[0], {
      id: 'stdout',
      type: 'file',
      path: '-',
      records: ['explanation', 'alert'],
      fsync: false,
    });
    assert.equal(cfg.snapshots.files[0]!.path, join(ROOT, 'examples/incident/iptables-save-0101.txt'));
  });

  it('reports every problem at once, each with its JSON path and line', () => {
    const p = problems(`version: 2
sources:
  - id: kern
    type: file
    mode: follow
  - id: kern
    type: carrier-pigeon
  - id: net
    type: syslog
    udp: "nowhere"
alerts:
  rules:
    - { name: a, comment: "(" }
    - { name: b }
sinks:
  - id: out
    type: file
    colour: red
`);
    const got = p.map((x) => `${x.line ?? '?'} ${x.path} ${x.message}`);
    for (const want of [
      /^1 \/version must be 1$/,
      /^3 \/sources\/0 missing required field 'paths'$/,
      /^5 \/sources\/0\/mode must be one of "tail", "read"$/,
      /^6 \/sources\/1 unknown type "carrier-pigeon"$/,
      /^10 \/sources\/2\/udp must match pattern/,
      /^16 \/sinks\/0 unknown field 'colour'$/,
    ])
      assert.ok(
        got.some((g) => want.test(g)),
        `${String(want)} not in:\n${got.join('\n')}`,
      );
  });

  it('reports cross-field problems with their paths: duplicate ids, bad regular expressions, empty alert rules', () => {
    const p = problems(`version: 1
sources: [{ id: a, type: stdin }, { id: a, type: syslog }]
alerts:
  rules:
    - { name: r1, comment: "(" }
    - { name: r2 }
sinks: [{ id: o, type: file }, { id: p, type: file }]
`);
    const got = p.map((x) => `${x.path} ${x.message}`);
    assert.ok(got.includes("/sources/1/id id 'a' is already used by /sources/0"), got.join('\n'));
    assert.ok(got.includes('/sources/1 needs udp, tcp, tls or several'), got.join('\n'));
    assert.ok(
      got.some((g) => g.startsWith('/alerts/rules/0/comment not a regular expression')),
      got.join('\n'),
    );
    assert.ok(
      got.includes('/alerts/rules/1 needs at least one of table, chain, target, comment, verdict'),
      got.join('\n'),
    );
    assert.ok(got.includes('/sinks only one file sink may write to stdout (-)'), got.join('\n'));
  });

  it('substitutes ${ENV} and names a missing variable', () => {
    const yaml = `version: 1
sources: [{ id: k, type: kafka, brokers: ["\${BROKER}"], topic: raw, groupId: g }]
sinks: [{ id: o, type: file }]
`;
    const cfg = parseConfig(yaml, '/x/p.yaml', { BROKER: '127.0.0.1:9092' });
    assert.deepEqual((cfg.sources[0] as { brokers: readonly string[] }).brokers, ['127.0.0.1:9092']);
    assert.deepEqual(
      problems(yaml).map((x) => `${x.path} ${x.message}`),
      ['/sources/0/brokers/0 environment variable BROKER is not set'],
    );
  });

  it('${NAME:number} makes a number of a whole value, and never guesses the type of plain ${NAME}', () => {
    const yaml = `version: 1
sources: [{ id: s, type: stdin }]
sinks:
  - id: f
    type: fluentd
    options: { host: "\${FH}", port: "\${FP:number}", tag: rt, security: { selfHostname: n, sharedKey: "\${FP}" } }
`;
    const cfg = parseConfig(yaml, '/x/p.yaml', { FH: 'fluentd', FP: '24224' });
    const options = (cfg.sinks[0] as { options: Record<string, unknown> }).options;
    assert.equal(options.port, 24224);
    assert.equal(options.host, 'fluentd');
    assert.equal((options.security as { sharedKey: unknown }).sharedKey, '24224');
    const bad = (env: NodeJS.ProcessEnv) => problems(yaml, env).map((x) => `${x.path} ${x.message}`);
    assert.ok(
      bad({ FH: 'f', FP: '24224x' }).includes(
        '/sinks/0/options/port environment variable FP is not a number',
      ),
    );
    assert.ok(bad({ FH: 'f' }).includes('/sinks/0/options/port environment variable FP is not set'));
  });

  it('reports YAML syntax errors with their line', () => {
    const p = problems('version: 1\nsources: [\n');
    assert.equal(p.length >= 1, true);
    assert.ok(p[0]!.line !== undefined);
  });

  it('keeps schemas/config/v1/config.schema.json identical to the schema in code (UPDATE_SCHEMA=1 rewrites it)', () => {
    // Compared as data: the file is formatted by prettier (run it after UPDATE_SCHEMA=1).
    if (process.env.UPDATE_SCHEMA === '1')
      writeFileSync(SCHEMA_FILE, JSON.stringify(CONFIG_SCHEMA, null, 2) + '\n');
    assert.deepEqual(
      JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')),
      JSON.parse(JSON.stringify(CONFIG_SCHEMA)),
      'run the test with UPDATE_SCHEMA=1 and commit the file',
    );
  });
});
