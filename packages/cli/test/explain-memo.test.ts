/**
 * The explanation memo (packages/explain/src/memo.ts) must never change a byte of `--format json`: every lab capture
 * (real kernel output of every channel, IPv4 and IPv6, NAT, drops, nft verdict maps), repeated so that its packets
 * recur and are served from templates, gives exactly what explaining each packet in full gives
 * (RULETRAIL_MEMO=0), with RULETRAIL_MEMO_VERIFY=1 recomputing every served packet on top.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

const ROOT = join(__dirname, '../../..');
const BIN = join(ROOT, 'packages/cli/bin/ruletrail.js');
const LAB = join(ROOT, 'test/fixtures/lab');

interface Pass {
  readonly capture: string;
  readonly rules: readonly string[];
  readonly hostFacts?: string;
}

/** The capture with its records repeated `n` times (a pcap keeps one global header). */
function repeated(file: string, n: number): Buffer {
  const b = readFileSync(file);
  if (file.endsWith('.pcap'))
    return Buffer.concat([b, ...Array.from({ length: n - 1 }, () => b.subarray(24))]);
  const text = b.length && b[b.length - 1] !== 0x0a ? Buffer.concat([b, Buffer.from('\n')]) : b;
  return Buffer.concat(Array.from({ length: n }, () => text));
}

function explain(args: string[], env: Record<string, string>) {
  const r = spawnSync(process.execPath, [BIN, 'explain', '--format', 'json', '--stats', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    maxBuffer: 64 << 20,
  });
  const stats = r.stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { memo?: { hits: number; templates: number; rejected: number } })[0];
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, stats };
}

describe('explain --format json: the explanation memo changes no byte', function () {
  this.timeout(300_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'rt-memo-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const passes: { name: string; dir: string; meta: Pass }[] = [];
  for (const scenario of readdirSync(LAB))
    for (const channel of readdirSync(join(LAB, scenario))) {
      const d = join(LAB, scenario, channel);
      if (existsSync(join(d, 'pass.json')))
        passes.push({
          name: `${scenario}/${channel}`,
          dir: d,
          meta: JSON.parse(readFileSync(join(d, 'pass.json'), 'utf8')) as Pass,
        });
    }

  it('finds the lab captures', () => assert.ok(passes.length >= 40, `${passes.length} captures`));

  let served = 0;
  for (const p of passes)
    it(`${p.name}: repeated 5 times, served from templates, the same bytes`, () => {
      const input = join(dir, `${p.name.replace('/', '-')}-${basename(p.meta.capture)}`);
      writeFileSync(input, repeated(join(p.dir, p.meta.capture), 5));
      const args = p.meta.rules.flatMap((r) => ['--rules', join(p.dir, r)]);
      if (p.meta.hostFacts && existsSync(join(p.dir, p.meta.hostFacts)))
        args.push('--host-facts', join(p.dir, p.meta.hostFacts));
      args.push(input);
      const full = explain(args, { RULETRAIL_MEMO: '0' });
      const memo = explain(args, { RULETRAIL_MEMO_VERIFY: '1' });
      assert.equal(memo.status, full.status, memo.stderr);
      assert.ok(full.stdout.length > 0, `${p.name}: no output`);
      assert.equal(memo.stdout, full.stdout);
      assert.equal(full.stats?.memo, undefined, 'RULETRAIL_MEMO=0 explains in full');
      const m = memo.stats!.memo!;
      // The repeats recur: every template was made from one of them and checked; none failed its check.
      assert.ok(m.hits > 0 && m.templates > 0, `${p.name}: ${JSON.stringify(m)}`);
      assert.equal(m.rejected, 0, `${p.name}: a template did not reproduce its packet`);
      served += m.hits;
    });

  it('served packets from templates across the captures', () => assert.ok(served > 300, `${served}`));
});
