/** `ruletrail setup elasticsearch`: usage errors, secrets kept out of messages, and a real install. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireServices } from '../../../test/support/services';

const BIN = join(__dirname, '../bin/ruletrail.js');
function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('ruletrail setup elasticsearch', () => {
  it('refuses a missing --url and an unknown target with exit status 2', () => {
    assert.equal(run(['setup', 'elasticsearch']).code, 2);
    assert.match(run(['setup', 'elasticsearch']).stderr, /at least one --url/);
    const unknown = run(['setup', 'opensearch', '--url', 'http://127.0.0.1:9']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown target 'opensearch'/);
  });

  it('never echoes a secret it reads from a file, even when the request fails', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rt-setup-'));
    const keyFile = join(dir, 'key');
    const secret = 'c2VjcmV0LWlkOnRvcC1zZWNyZXQtYXBpLWtleQ==';
    writeFileSync(keyFile, secret, { mode: 0o600 });
    // Port 9 (discard) on loopback: nothing listens, so the request fails after the key was loaded.
    const r = run(['setup', 'elasticsearch', '--url', 'http://127.0.0.1:9', '--api-key-file', keyFile]);
    assert.notEqual(r.code, 0);
    assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), 'the API key must not appear');
    const missing = run([
      'setup',
      'elasticsearch',
      '--url',
      'http://127.0.0.1:9',
      '--api-key-file',
      join(dir, 'none'),
    ]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--api-key-file .*none: ENOENT/);
    // A key file every user can read is refused before it is used (issue #15), naming the mode, not the key.
    chmodSync(keyFile, 0o644);
    const open = run(['setup', 'elasticsearch', '--url', 'http://127.0.0.1:9', '--api-key-file', keyFile]);
    assert.equal(open.code, 2);
    assert.match(open.stderr, /--api-key-file .*key is accessible by every user \(mode 0644\)/);
    assert.ok(!open.stderr.includes(secret));
  });

  it('installs the templates on a real Elasticsearch node', async function () {
    this.timeout(60_000);
    const env = requireServices(this, ['ES_URL']);
    const url = env.ES_URL!;
    const apiVersion = (env.ES_VERSION ?? process.env.ES_VERSION ?? '8').split('.')[0]!;
    const r = run([
      'setup',
      'elasticsearch',
      '--url',
      url,
      '--api-version',
      apiVersion,
      '--index',
      'rt-setup-test-packets',
      '--alert-index',
      'rt-setup-test-alerts',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const templates = [...r.stdout.matchAll(/^index template (\S+) installed for (\S+)$/gm)].map(
      (m) => m[1]!,
    );
    assert.equal(templates.length, 2, r.stdout);
    for (const name of templates) {
      const res = await fetch(`${url}/_index_template/${name}`);
      assert.equal(res.status, 200);
      const body = (await res.json()) as {
        index_templates: {
          index_template: { template: { mappings: { properties: Record<string, unknown> } } };
        }[];
      };
      const props = body.index_templates[0]!.index_template.template.mappings.properties;
      assert.ok('@timestamp' in props, `template ${name} maps @timestamp`);
    }
  });
});
