/**
 * The docker-compose demo stack (docker-compose.yml, Dockerfile, demo/). There is no Docker engine on the CI
 * machines, so the stack itself is not started here; what can be checked for real is:
 *
 * 1. always: the compose file is consistent with the repo and with what the project tests (image versions equal
 *    the versions services/start.sh runs, every mounted path and every Dockerfile COPY source exists, the
 *    pipeline's `${VARS}` are all set by the `ruletrail` service and its config validates with them, the service
 *    addresses match the compose service names and ports, the Kibana import names an object that exists);
 * 2. with RUN_SERVICE_TESTS=1: the demo's own replayer and pipeline config, run against the real Kafka,
 *    Elasticsearch and Fluent forward receiver of services/start.sh: every replayed scenario is explained exactly
 *    as `ruletrail explain` explains the original lab capture, lands in Elasticsearch, on the Kafka topic and at the
 *    Fluentd receiver, and the incident raises its KUBE-MARK-DROP alert.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { parse } from 'yaml';
import { REGISTRY } from '@ruletrail/cli';
import { parseConfig } from '@ruletrail/pipeline';
import {
  collectStderr,
  exited,
  freePort,
  killChildren,
  startRun,
  tempDir,
  waitFor,
} from '../packages/cli/test/pipeline-helpers';
import { INCIDENT_ARGS, explainCapture } from './support/explain-capture';
import { REPO_ROOT, requireServices } from './support/services';

type Service = {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  entrypoint?: string[] | string;
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
};
const compose = parse(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8')) as {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
};
const services = compose.services;
const PIPELINE = join(REPO_ROOT, 'demo/pipeline.yaml');
/** The pipeline's snapshot files, one host per replayed scenario (`demo-<scenario>`). */
const SNAPSHOTS = (
  parse(readFileSync(PIPELINE, 'utf8')) as { snapshots: { files: { path: string; host: string }[] } }
).snapshots.files;
const SCENARIOS = SNAPSHOTS.map((f) => f.host.replace(/^demo-/, ''));

/** A version the services scripts pin, e.g. `ES_VERSION="${ES_VERSION:-9.5.3}"` → 9.5.3. */
function pinnedVersion(name: string): string {
  const m = new RegExp(`^${name}="\\$\\{${name}:-([^}]+)\\}"`, 'm').exec(
    readFileSync(join(REPO_ROOT, 'services/lib.sh'), 'utf8'),
  );
  assert.ok(m, `${name} not found in services/lib.sh`);
  return m[1]!;
}

function tag(image: string): string {
  return image.slice(image.lastIndexOf(':') + 1);
}

describe('demo stack: docker-compose.yml against the repo', () => {
  it('pins every image to a version, and runs the Elasticsearch and Kafka versions the tests run', () => {
    for (const [name, s] of Object.entries(services)) {
      assert.ok(s.image, `${name} has no image`);
      if (s.build !== undefined) continue; // built from this checkout (the Dockerfile's base image is checked below)
      assert.match(tag(s.image), /\d/, `${name}: image ${s.image} is not pinned to a version`);
    }
    const es = pinnedVersion('ES_VERSION');
    assert.equal(tag(services.elasticsearch!.image!), es);
    assert.equal(tag(services.kibana!.image!), es, 'Kibana must match Elasticsearch');
    assert.equal(tag(services.kafka!.image!), pinnedVersion('KAFKA_VERSION'));
    const from = /^FROM node:(\d+)\./m.exec(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8'));
    assert.equal(from?.[1], '20', 'the image runs the Node major the project is tested on');
  });

  it('mounts and copies only paths that exist, and the image has the config the pipeline service runs', () => {
    for (const [name, s] of Object.entries(services))
      for (const v of s.volumes ?? []) {
        const src = v.split(':')[0]!;
        if (src.startsWith('.'))
          assert.ok(existsSync(join(REPO_ROOT, src)), `${name}: ${src} does not exist`);
        else assert.ok(compose.volumes && src in compose.volumes, `${name}: volume ${src} is not declared`);
      }
    const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
    const copies = [...dockerfile.matchAll(/^COPY (.+) \S+$/gm)].flatMap((m) => m[1]!.split(' '));
    assert.ok(copies.length >= 5);
    for (const c of copies) assert.ok(existsSync(join(REPO_ROOT, c)), `Dockerfile COPY ${c}: missing`);
    // Everything under /app comes from the COPY lines: the pipeline config and the replayer must be among them.
    const inImage = (p: string) => copies.some((c) => `/app/${p}`.startsWith(`/app/${c.replace(/\/$/, '')}`));
    assert.deepEqual(services.ruletrail!.command, ['run', '--config', '/app/demo/pipeline.yaml']);
    assert.ok(
      inImage('demo/pipeline.yaml') && inImage('demo/replay.mjs') && inImage('test/fixtures/lab/incident'),
    );
    for (const dep of Object.keys(services.ruletrail!.depends_on ?? {})) assert.ok(services[dep], dep);
    assert.ok(/node_modules/.test(readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8')));
  });

  it("sets every ${VAR} of demo/pipeline.yaml, and the config validates with the service's environment", () => {
    const env = services.ruletrail!.environment!;
    const used = new Set(
      [...readFileSync(PIPELINE, 'utf8').matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!),
    );
    assert.ok(used.size >= 5);
    for (const v of used)
      assert.ok(env[v] !== undefined, `docker-compose.yml does not set ${v} for ruletrail`);
    const cfg = parseConfig(readFileSync(PIPELINE, 'utf8'), PIPELINE, REGISTRY, env);
    assert.deepEqual(
      cfg.sinks.map((s) => s.type).sort(),
      ['elasticsearch', 'fluentd', 'file', 'kafka'].sort(),
    );
    // Every snapshot file of the config exists (parseConfig resolved them against demo/).
    for (const f of cfg.snapshots?.files ?? []) assert.ok(existsSync(f.path), f.path);
  });

  it('replays exactly the scenarios the pipeline has snapshots for, one host each', () => {
    assert.ok(SCENARIOS.length >= 5, SCENARIOS.join(','));
    const out = join(tempDir('ruletrail-replay-'), 'kern.log');
    const r = spawnSync(process.execPath, [join(REPO_ROOT, 'demo/replay.mjs'), '--out', out, '--once'], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    const hosts = new Set(
      readFileSync(out, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(' ')[1]),
    );
    assert.deepEqual([...hosts].sort(), SCENARIOS.map((s) => `demo-${s}`).sort());
  });

  it('points the pipeline at the compose services by their names and ports', () => {
    const env = services.ruletrail!.environment!;
    assert.equal(new URL(env.ES_URL!).hostname, 'elasticsearch');
    const kafka = services.kafka!.environment!;
    assert.ok(kafka.KAFKA_ADVERTISED_LISTENERS!.split(',').includes(`PLAINTEXT://${env.KAFKA_BROKERS}`));
    assert.equal(env.FLUENTD_HOST, 'fluentd');
    const fluentConf = readFileSync(join(REPO_ROOT, 'demo/fluentd/fluent.conf'), 'utf8');
    assert.equal(/^\s*port (\d+)/m.exec(fluentConf)?.[1], env.FLUENTD_PORT);
    assert.match(fluentConf, /<match ruletrail\.\*\*>/, 'Fluentd must match the tag the pipeline sends');
    assert.equal(env.TRACE_FILE!.split('/')[1], services.replay!.volumes![0]!.split(':')[1]!.split('/')[1]);
    assert.ok((services.replay!.command as string[]).includes(env.TRACE_FILE!));
  });

  it('imports a Kibana file that exists and makes an existing data view the default', () => {
    const cmd = String((services['kibana-setup']!.command as string[])[0]);
    const file = /file=@\/kibana\/([\w.-]+)/.exec(cmd)?.[1];
    assert.match(cmd, /grep -q '"success":true'/, 'a partial import must fail the setup');
    assert.ok(file);
    const ndjson = join(REPO_ROOT, 'demo/kibana', file);
    assert.ok(existsSync(ndjson), `${ndjson} missing`);
    const dataView = /"data_view_id":"([^"]+)"/.exec(cmd)?.[1];
    const objects = readFileSync(ndjson, 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as { type: string; id: string });
    assert.ok(
      objects.some((o) => o.type === 'index-pattern' && o.id === dataView),
      `no data view ${dataView} in ${file}`,
    );
  });
});

describe('demo stack: the Dockerfile recipe, without Docker', function () {
  this.timeout(300_000);

  // What `docker build` would do, step by step, in an empty directory: copy exactly the Dockerfile's COPY sources
  // (what .dockerignore drops excluded), run its install step, then run the image's entrypoint the way the compose
  // services do. It catches a source the build needs but the Dockerfile does not copy, and a runtime dependency
  // that `npm prune --omit=dev` removes. (Slow: it installs; it runs with the service tests, as in CI.)
  it('builds from the COPY sources alone and runs `explain` and the demo config on the pruned tree', function () {
    if (process.env.RUN_SERVICE_TESTS !== '1') {
      console.log('      skipped: RUN_SERVICE_TESTS=1 is not set (this test installs dependencies)');
      this.skip();
    }
    const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
    const ctx = tempDir('ruletrail-image-');
    const copy = (src: string) =>
      cpSync(join(REPO_ROOT, src), join(ctx, src), {
        recursive: true,
        filter: (f) => !/(^|\/)(node_modules|dist)(\/|$)|\.tsbuildinfo$/.test(f.slice(REPO_ROOT.length)),
      });
    for (const line of dockerfile.split('\n')) {
      const c = /^COPY (.+) \S+$/.exec(line);
      if (c) for (const src of c[1]!.split(' ')) copy(src);
      const r = /^RUN (npm ci .*)$/.exec(line);
      if (r) {
        // The image's own step, minus the cache clean (this is the developer's npm cache, not an image layer).
        const cmd = r[1]!.replace(/\s*&&\s*npm cache clean --force/, '');
        const run = spawnSync('sh', ['-c', cmd.replace(/npm ci /, 'npm ci --prefer-offline ')], {
          cwd: ctx,
          encoding: 'utf8',
        });
        assert.equal(run.status, 0, `${cmd}\n${run.stdout}\n${run.stderr}`);
      }
    }
    const entry = /^ENTRYPOINT \["node", "\/app\/([^"]+)"\]$/m.exec(dockerfile)?.[1];
    assert.ok(entry && existsSync(join(ctx, entry)), `entrypoint ${entry} missing after the build`);
    assert.ok(!existsSync(join(ctx, 'node_modules/typescript')), 'dev dependencies are pruned');
    const env = { ...process.env, NODE_ENV: 'production', ...services.ruletrail!.environment! };
    const explain = spawnSync(process.execPath, [entry, 'explain', ...INCIDENT_ARGS], {
      cwd: ctx,
      encoding: 'utf8',
      env,
    });
    assert.equal(explain.status, 0, explain.stderr);
    assert.match(explain.stdout, /=> DROP: dropped by filter KUBE-FIREWALL rule 1/);
    const validate = spawnSync(process.execPath, [entry, ...['validate', 'demo/pipeline.yaml']], {
      cwd: ctx,
      encoding: 'utf8',
      env,
    });
    assert.equal(validate.status, 0, validate.stderr + validate.stdout);
    const replay = spawnSync(
      process.execPath,
      ['demo/replay.mjs', '--out', join(ctx, 'traces/kern.log'), '--once'],
      {
        cwd: ctx,
        encoding: 'utf8',
      },
    );
    assert.equal(replay.status, 0, replay.stderr);
  });
});

describe('demo stack: replayer + pipeline against the real services', function () {
  this.timeout(240_000);
  afterEach(killChildren);

  it('explains every replayed scenario like `ruletrail explain` does, into Elasticsearch, Kafka and Fluentd, with the alert', async function () {
    const env = requireServices(this, ['ES_URL', 'KAFKA_BROKERS', 'FLUENTD_PORT', 'FLUENTD_RECEIVED_FILE']);
    const dir = tempDir('ruletrail-demo-');
    const traces = join(dir, 'traces/kern.log');
    mkdirSync(join(dir, 'state'));
    const t0 = new Date(Date.now() - 1000).toISOString();
    const replay = spawnSync(
      process.execPath,
      [join(REPO_ROOT, 'demo/replay.mjs'), '--out', traces, '--once'],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(replay.status, 0, replay.stderr);

    const child = startRun(PIPELINE, [], 'ignore', [], {
      TRACE_FILE: traces,
      RULETRAIL_STATE_DIR: join(dir, 'state'),
      ES_URL: env.ES_URL,
      KAFKA_BROKERS: env.KAFKA_BROKERS,
      FLUENTD_HOST: '127.0.0.1',
      FLUENTD_PORT: env.FLUENTD_PORT,
      METRICS_LISTEN: `127.0.0.1:${await freePort()}`,
    });
    const err = collectStderr(child);

    // What the CLI says about each original lab capture with the snapshot the pipeline gives its host, keyed by
    // the packet's 5-tuple.
    const expected = new Map<string, Record<string, unknown>>();
    for (const f of SNAPSHOTS) {
      const name = f.host.replace(/^demo-/, '');
      const capture = join(REPO_ROOT, 'test/fixtures/lab', name, 'kernel-log/kern.log');
      const rules = [join(REPO_ROOT, 'demo', f.path)];
      for (const x of explainCapture({ name, host: f.host, rules, capture, kernelLog: true }))
        expected.set(tupleKey(f.host, x.packet), x as unknown as Record<string, unknown>);
    }
    assert.ok(expected.size >= SCENARIOS.length, `only ${expected.size} packets explained by the CLI`);

    // Elasticsearch: this run's documents (the replayer stamped them after t0), one per packet.
    const docs = new Map<string, Record<string, unknown>>();
    await waitFor(
      async () => {
        for (const h of await search(env.ES_URL!, 'ruletrail-packets', t0)) docs.set(h._id, h._source);
        return docs.size >= expected.size;
      },
      120_000,
      `${expected.size} documents in ruletrail-packets (${err.text.slice(-2000)})`,
      500,
    );
    const byTuple = new Map(
      [...docs.values()].map((d) => [tupleKey((d.host as { name: string }).name, d.packet as object), d]),
    );
    assert.deepEqual([...byTuple.keys()].sort(), [...expected.keys()].sort());
    for (const [k, want] of expected) {
      const got = byTuple.get(k)!;
      for (const f of ['verdict', 'decidedBy', 'markSetBy', 'kubernetes', 'nat'] as const)
        assert.deepEqual(got[f], want[f], `${k}: ${f}`);
      // The cause may name the packet's time (drift: "supply the snapshot in force at <time>"), which moved.
      const untimed = (c: unknown) =>
        String(c).replace(/\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:\d\d)/g, '<time>');
      assert.equal(untimed(got.cause), untimed(want.cause), `${k}: cause`);
      // `event_before_snapshots` depends on time: in the lab a packet can precede its snapshot's whole-second
      // "Generated … on" stamp; replayed now, every packet is after it.
      const flags = (x: Record<string, unknown>) =>
        ((x.flags as string[]) ?? []).filter((f) => f !== 'event_before_snapshots').sort();
      assert.deepEqual(flags(got), flags(want), `${k}: flags`);
    }
    // The incident's two probes, as the write-up tells them: 52000 dropped through KUBE-MARK-DROP, 80 accepted.
    const incident = [...docs.values()].filter((d) => (d.host as { name: string }).name === 'demo-incident');
    const drop = incident.find((d) => (d.packet as { dport: number }).dport === 52000)!;
    assert.equal(drop.verdict, 'DROP');
    assert.ok((drop.flags as string[]).includes('kube_mark_drop'));
    assert.equal(incident.find((d) => (d.packet as { dport: number }).dport === 80)?.verdict, 'ACCEPT');
    // Drift: the packet sent after the rules changed is flagged against the stale snapshot, not explained wrongly.
    assert.ok(
      [...docs.values()].some(
        (d) =>
          (d.host as { name: string }).name === 'demo-drift' &&
          d.verdict === 'UNKNOWN' &&
          (d.flags as string[]).includes('snapshot_mismatch'),
      ),
    );

    // The alert for the incident's KUBE-MARK-DROP drop.
    const alerts = await search(env.ES_URL!, 'ruletrail-alerts', t0);
    assert.ok(
      alerts.some((a) => {
        const al = a._source.alert as { rule: string; host: string };
        return al.rule === 'kube_mark_drop' && al.host === 'demo-incident';
      }),
      JSON.stringify(alerts.map((a) => a._source.alert)),
    );

    // Kafka: the same records on the explained topic (ids are the Elasticsearch _ids).
    const ids = new Set(docs.keys());
    const seen = new Set<string>();
    const consumer = new Kafka({ brokers: [env.KAFKA_BROKERS!], logLevel: logLevel.NOTHING }).consumer({
      groupId: `demo-test-${Date.now()}`,
    });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: 'ruletrail.explained', fromBeginning: true });
      await consumer.run({
        eachMessage: ({ message }) => {
          const id = message.headers?.['ruletrail-id']?.toString();
          if (id && ids.has(id)) seen.add(id);
          return Promise.resolve();
        },
      });
      await waitFor(() => seen.size === ids.size, 60_000, `all ${ids.size} records on ruletrail.explained`);
    } finally {
      await consumer.disconnect();
    }
    // Fluentd: every record acknowledged by the real receiver is in its output file.
    await waitFor(
      () => {
        const text = existsSync(env.FLUENTD_RECEIVED_FILE!)
          ? readFileSync(env.FLUENTD_RECEIVED_FILE!, 'utf8')
          : '';
        return [...ids].every((id) => text.includes(id));
      },
      60_000,
      'every record at the Fluentd receiver',
    );

    child.kill('SIGTERM');
    assert.equal(await exited(child), 0, err.text.slice(-3000));
  });
});

/** Host, protocol, addresses, ports or ICMP type/code, IP ID: what identifies a lab probe in both outputs. */
function tupleKey(host: string, packet: object): string {
  const p = packet as Record<string, unknown>;
  const parts = [p.proto, p.src, p.sport, p.dst, p.dport, p.icmpType, p.icmpCode, p.ipId];
  return [host, ...parts.map((x) => (typeof x === 'string' || typeof x === 'number' ? String(x) : ''))].join(
    '|',
  );
}

async function search(
  url: string,
  index: string,
  since: string,
): Promise<{ _id: string; _source: Record<string, unknown> }[]> {
  await fetch(`${url}/${index}/_refresh`, { method: 'POST' });
  const r = await fetch(`${url}/${index}/_search`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      size: 1000,
      query: {
        bool: {
          filter: [{ range: { '@timestamp': { gte: since } } }, { prefix: { 'host.name': 'demo-' } }],
        },
      },
    }),
  });
  if (r.status === 404) return [];
  const j = (await r.json()) as { hits?: { hits: { _id: string; _source: Record<string, unknown> }[] } };
  return j.hits?.hits ?? [];
}
