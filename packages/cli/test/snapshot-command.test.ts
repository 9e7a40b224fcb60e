/**
 * `ruletrail snapshot ship` as an operator runs it, then `ruletrail run` joining with what it shipped: the rules
 * change between two shipped snapshots, and each packet is explained with the rules in force at its time.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import {
  BIN,
  INCIDENT,
  acceptPacket,
  dropPacket,
  exited,
  readNdjson,
  type Rec,
  tempDir,
  waitFor,
  writeConfig,
} from './pipeline-helpers';

const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
/** rsyslog's high-precision framing with the current time: `2026-11-27T10:40:00.123456+00:00 host kernel: …`. */
const now = () => new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000+00:00');
const envelopes = (d: string) =>
  readdirSync(d)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(d, f), 'utf8')));

/** `snapshot ship --once` of the incident's first snapshot (IPv4 only) as `host`, plus extra `--command`s. */
function shipOnce(host: string, ...commands: string[]) {
  const dir = tempDir();
  const r = spawnSync(
    process.execPath,
    [
      BIN,
      'snapshot',
      'ship',
      '--once',
      '--host',
      host,
      '--to',
      `dir:${dir}`,
      '--command',
      `ipv4=cat ${join(INCIDENT, 'iptables-save-0101.txt')}`,
      '--command',
      'ipv6=',
      ...commands.flatMap((c) => ['--command', c]),
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  return { env: envelopes(join(dir, host))[0], log: r.stdout + r.stderr };
}

/** Real `ip -j addr` / `ip -d -j link` output of a lab namespace, printed the way `ip` prints it. */
const FACTS = join(__dirname, '../../ruleset/test/fixtures/host-facts/node.json');
const factsPart = (k: 'addr' | 'link') =>
  `${k}=node -e 'process.stdout.write(JSON.stringify(require("${FACTS}").${k}))'`;

describe('ruletrail snapshot ship', function () {
  this.timeout(60000);

  it('ships once to a directory with host, time and hash stamped', () => {
    // Facts switched off here: whether `ip` exists is not what this test is about.
    const { env } = shipOnce('cos74', 'addr=');
    assert.equal(env.schema, 'ruletrail.snapshot/v1');
    assert.equal(env.host, 'cos74');
    assert.equal(env.family, 'ipv4');
    assert.equal(env.format, 'iptables-save');
    assert.equal(env.hash, sha(join(INCIDENT, 'iptables-save-0101.txt')));
    assert.ok(Math.abs(Date.parse(env.takenAt) - Date.now()) < 60000);
  });

  it('attaches the host facts to every snapshot; ships without them when they cannot be read', () => {
    const ship = (...facts: string[]) => shipOnce('node-1', ...facts);
    const doc = JSON.parse(readFileSync(FACTS, 'utf8'));
    const ok = ship(factsPart('addr'), factsPart('link'));
    assert.equal(ok.env.facts.version, 1);
    assert.equal(ok.env.facts.host, 'node-1');
    assert.deepEqual(ok.env.facts.addr, doc.addr);
    assert.deepEqual(ok.env.facts.link, doc.link);
    assert.match(ok.log, /"facts":"9 addresses, 3 interfaces"/);
    const broken = ship('addr=echo not-json');
    assert.equal(broken.env.family, 'ipv4', 'the rules are shipped anyway');
    assert.equal(broken.env.facts, undefined);
    assert.match(broken.log, /Reading the host facts failed.*did not print JSON/);
    assert.equal(ship('addr=').env.facts, undefined);
  });

  it('snapshot facts prints the host-facts document explain --host-facts reads', () => {
    const r = spawnSync(
      process.execPath,
      [
        BIN,
        'snapshot',
        'facts',
        '--host',
        'n1',
        '--command',
        factsPart('addr'),
        '--command',
        factsPart('link'),
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual([out.version, out.host, out.addr.length, out.link.length], [1, 'n1', 3, 3]);
    const bad = spawnSync(process.execPath, [BIN, 'snapshot', 'facts', '--command', 'addr=echo "[{}]"'], {
      encoding: 'utf8',
    });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /snapshot facts: .*addr\[0\]: 'ifindex' undefined is not a positive integer/);
  });

  it('fails with status 1 when a command fails (--once), naming it', () => {
    const dir = tempDir();
    const r = spawnSync(
      process.execPath,
      [
        BIN,
        'snapshot',
        'ship',
        '--once',
        '--to',
        `dir:${dir}`,
        '--command',
        'ipv4=exit 3',
        '--command',
        'ipv6=',
      ],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(r.status, 1);
    assert.match(r.stderr, /'exit 3' exited with 3/);
  });

  it('ships on change only; ruletrail run explains each packet with the snapshot in force at its time', async () => {
    const dir = tempDir();
    const rules = join(dir, 'rules.save');
    const snaps = join(dir, 'snapshots');
    const log = join(dir, 'kern.log');
    copyFileSync(join(INCIDENT, 'iptables-save-0101.txt'), rules);
    const shipper = spawn(
      process.execPath,
      [
        BIN,
        'snapshot',
        'ship',
        '--interval',
        '0.1',
        '--host',
        'cos74',
        '--to',
        `dir:${snaps}`,
        '--command',
        `ipv4=cat ${rules}`,
        '--command',
        'ipv6=',
        // This machine is not cos74: its addresses would (rightly) contradict the trace's addrtype steps.
        '--command',
        'addr=',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    try {
      const count = () => {
        try {
          return envelopes(join(snaps, 'cos74')).length;
        } catch {
          return 0;
        }
      };
      await waitFor(() => count() === 1, 10000, 'the first snapshot');
      await new Promise((r) => setTimeout(r, 300));
      // Traced while the Jan 1 rules are loaded.
      const before = dropPacket(1).map((l) => now() + l.slice(l.indexOf(' cos74 ')));
      // The rules change (kube-proxy resynced, a DNAT was added)…
      copyFileSync(join(INCIDENT, 'iptables-save-0103.txt'), rules);
      await waitFor(() => count() === 2, 10000, 'the second snapshot');
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(count(), 2, 'an unchanged ruleset must not be shipped again');
      // …and a packet traced after the change.
      const after = acceptPacket(2).map((l) => now() + l.slice(l.indexOf(' cos74 ')));
      writeFileSync(log, [...before, ...after].join('\n') + '\n');
    } finally {
      shipper.kill('SIGTERM');
    }
    assert.equal(await exited(shipper), 0);

    const out = join(dir, 'out.ndjson');
    const cfg = writeConfig(dir, {
      version: 1,
      sources: [{ id: 'kern', type: 'file', paths: [log], mode: 'read' }],
      snapshots: { directory: snaps },
      sinks: [{ id: 'out', type: 'file', path: out, records: ['explanation'] }],
    });
    const r = spawnSync(process.execPath, [BIN, 'run', '--config', cfg], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const [drop, accept] = readNdjson(out) as [Rec, Rec];
    assert.equal(drop.verdict, 'DROP');
    assert.equal(drop.snapshot.hash, sha(join(INCIDENT, 'iptables-save-0101.txt')));
    assert.equal(accept.verdict, 'ACCEPT');
    assert.equal(accept.snapshot.hash, sha(join(INCIDENT, 'iptables-save-0103.txt')));
    for (const x of [drop, accept])
      assert.deepEqual(
        x.flags.filter((f: string) => f.startsWith('snapshot') || f.includes('before')),
        [],
      );
  });
});
