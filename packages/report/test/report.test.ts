/**
 * The report without a browser: escaping of hostile input, the bounded aggregates, grouping by path, the caps
 * and their notes, and the CLI's `report` / `explain --format html` on the bundled incident.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Explanation } from '@ruletrail/explain';
import { TimeBuckets, TopCounter, attr, html, parseExplanationLine, pathSignature } from '../src';
import { CLI, INCIDENT_ARGS, cli, incident, renderReport } from './support';
import { spawnSync } from 'node:child_process';
import { REPO_ROOT } from '../../../test/support/services';

/** Raw control characters (other than the newlines the page itself uses between rows). */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

let cached: Explanation[] | undefined;
/** The incident's explanations, computed once for this file. */
const incidentOnce = () => (cached ??= incident());

describe('report: escaping', () => {
  it('markup is escaped, control characters become visible \\xNN, bidi overrides \\uNNNN', () => {
    assert.equal(html('<b a="1">&\''), '&lt;b a=&quot;1&quot;&gt;&amp;&#39;');
    assert.equal(html('a\x1b[31mb'), 'a<span class="ctl">\\x1b</span>[31mb');
    assert.equal(html('x\u202ey'), 'x<span class="ctl">\\u202e</span>y');
    assert.equal(attr('q"\n\x00'), 'q&quot;\\x0a\\x00');
    assert.equal(html('\ud800'), '<span class="ctl">\\ud800</span>', 'a lone surrogate');
    assert.equal(html('😀'), '😀', 'a surrogate pair is kept');
  });

  it('a rule comment holding markup and terminal escapes cannot inject anything into the page', async () => {
    const [drop] = incidentOnce();
    const evil = '"><img src=x onerror=alert(1)></script><script>alert(2)</script>\x1b[2J\u202e\r\n\x00';
    const x: Explanation = {
      ...drop!,
      cause: `cause ${evil}`,
      packet: { ...drop!.packet, host: `h${evil}`, tcpOptions: `0204${evil}` },
      kubernetes: { chains: [], service: `ns/svc${evil}:http`, reason: evil },
      steps: drop!.steps.map((s) => (s.rule ? { ...s, rule: `${s.rule} --comment "${evil}"` } : s)),
    };
    const page = await renderReport([x]);
    assert.ok(!RAW_CONTROL.test(page), 'no raw control character in the page');
    assert.equal(page.match(/<script\b/g)?.length, 1, 'only the page’s own script');
    assert.ok(!/<img\b/.test(page), 'no injected element');
    assert.ok(page.includes('&lt;img src=x onerror=alert(1)&gt;'), 'the markup is shown as text');
    assert.ok(page.includes('<span class="ctl">\\x1b</span>[2J'), 'ESC is shown visibly');
  });
});

describe('report: bounded aggregates', () => {
  it('TopCounter keeps the heavy hitters within its capacity and says when counts are estimates', () => {
    const c = new TopCounter(8);
    for (let i = 0; i < 1000; i++) c.add('heavy', undefined);
    for (let i = 0; i < 500; i++) c.add('second', undefined);
    for (let i = 0; i < 300; i++) c.add(`tail-${i}`, undefined);
    const top = c.top(2);
    assert.deepEqual(
      top.map((t) => t.key),
      ['heavy', 'second'],
    );
    assert.equal(top[0]!.count, 1000, 'a key never pruned keeps its exact count');
    assert.ok(c.approximate);
    assert.ok(c.top(100).length <= 8, 'never more keys than the capacity');
    const exact = new TopCounter(8);
    exact.add('a', undefined, 3);
    assert.equal(exact.approximate, false);
  });

  it('TimeBuckets widens its buckets (merging exactly) to stay within maxBuckets', () => {
    const t = new TimeBuckets(10);
    const start = Date.UTC(2023, 0, 1);
    for (let s = 0; s < 3600; s++) t.add(start + s * 1000, s % 2 ? 'DROP' : 'ACCEPT');
    t.add(undefined, 'DROP');
    const b = t.buckets();
    assert.ok(b.length <= 10, `${b.length} buckets`);
    assert.equal(t.widthMs, 600_000, '10-minute buckets for an hour');
    const total = b.reduce((n, x) => n + [...x.counts.values()].reduce((a, c) => a + c, 0), 0);
    assert.equal(total, 3600, 'every timed packet is in a bucket');
    assert.equal(t.untimed, 1);
    assert.equal(b[0]!.counts.get('ACCEPT'), 300);
  });
});

describe('report: grouping, caps and notes', () => {
  it('packets with the same path are grouped; addresses do not split a group', async () => {
    const [drop, accept] = incidentOnce();
    const many = Array.from({ length: 1240 }, (_, i) => ({
      ...drop!,
      packet: { ...drop!.packet, sport: 10000 + i, ipId: i },
    }));
    assert.equal(pathSignature(many[0]!), pathSignature(many[1]!));
    assert.notEqual(pathSignature(drop!), pathSignature(accept!));
    const page = await renderReport([...many, accept!]);
    assert.match(page, /id="j1" data-path="1" data-count="1240"/);
    assert.ok(page.includes('1\u2009240 packets took this path'));
    assert.match(page, /id="j2" data-path="2" data-count="1"/);
    assert.equal(page.match(/<tr id="p\d+"/g)?.length, 1241, 'every packet listed (under the cap)');
  });

  it('caps: packets listed, journeys drawn and paths counted, each with a clear note', async () => {
    const [drop] = incidentOnce();
    // One distinct path per prefix of the steps.
    const n = drop!.steps.length;
    assert.ok(n > 20);
    const xs = Array.from({ length: n }, (_, k) => ({ ...drop!, steps: drop!.steps.slice(0, k + 1) }));
    const page = await renderReport(xs, { maxPackets: 5, maxJourneys: 3, maxPaths: 20 });
    assert.equal(page.match(/<tr id="p\d+"/g)?.length, 5);
    assert.equal(page.match(/<article class="journey/g)?.length, 3);
    assert.ok(page.includes(`Only the first 5 of ${n} packets are listed`));
    assert.ok(page.includes('Journeys are drawn for the first 3 of 20 distinct paths'));
    assert.ok(page.includes(`${n - 20} packets took one of more than 20 distinct paths`));
    assert.ok(page.includes('<p class="cap" role="note">'), 'the cap note above the packet list');
  });

  it('reads records tolerantly: unknown fields kept, alerts skipped, bad lines named', () => {
    const [drop] = incidentOnce();
    const r = parseExplanationLine(JSON.stringify({ ...drop, skipped: [{ any: 1 }], newField: true }));
    assert.equal(r.kind, 'explanation');
    assert.equal(parseExplanationLine('{"alert":{"rule":"x"},"explanation":{}}').kind, 'alert');
    const es = parseExplanationLine(JSON.stringify({ _index: 'i', _source: drop }));
    assert.equal(es.kind, 'explanation', 'an Elasticsearch hit');
    const bad = parseExplanationLine('{"verdict":"DROP"}');
    assert.equal(bad.kind, 'error');
    assert.match((bad as { reason: string }).reason, /missing packet \(object\), steps \(array\)/);
    assert.equal(parseExplanationLine('nope').kind, 'error');
  });
});

describe('report: the CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ruletrail-report-test-'));

  it('explain --format html -o and report FILE.ndjson make the same page body from the same packets', () => {
    const a = join(dir, 'a.html');
    const nd = join(dir, 'x.ndjson');
    const b = join(dir, 'b.html');
    cli(['explain', '--format', 'html', '-o', a, '--quiet', ...INCIDENT_ARGS]);
    cli(['explain', '--format', 'json', '-o', nd, '--quiet', ...INCIDENT_ARGS]);
    cli(['report', '-o', b, '--quiet', nd]);
    const strip = (s: string) => s.replace(/<header>[\s\S]*?<\/header>/, '');
    const pa = readFileSync(a, 'utf8');
    assert.equal(strip(pa), strip(readFileSync(b, 'utf8')));
    assert.match(pa, /^<!DOCTYPE html>/);
    assert.ok(pa.includes("default-src 'none'"), 'a CSP that forbids network fetches');
    assert.ok(!/(src|href)="(https?:)?\/\//.test(pa), 'no external URL');
  });

  it('report: unreadable lines are reported as file:line and the rest is still reported (exit 1)', () => {
    const nd = join(dir, 'mixed.ndjson');
    const good = cli(['explain', '--format', 'json', '--quiet', ...INCIDENT_ARGS])
      .split('\n')
      .filter(Boolean);
    writeFileSync(nd, [good[0], '{"verdict":', '{"alert":{"rule":"r"}}', good[1], ''].join('\n'));
    const out = join(dir, 'mixed.html');
    const r = spawnSync(process.execPath, [CLI, 'report', '-o', out, nd], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /mixed\.ndjson:2: not JSON/);
    assert.match(r.stderr, /report of 2 packets .* 1 alert records skipped; 1 unreadable/);
    assert.equal(readFileSync(out, 'utf8').match(/<tr id="p\d+"/g)?.length, 2);
  });

  it('usage errors exit 2', () => {
    const r = spawnSync(process.execPath, [CLI, 'report', '--max-packets', '0', 'x'], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--max-packets must be a positive integer/);
    const e = spawnSync(process.execPath, [CLI, 'explain', '--format', 'pdf', '--rules', 'x', 'y'], {
      encoding: 'utf8',
    });
    assert.equal(e.status, 2);
    assert.match(e.stderr, /--format must be text, json or html/);
  });
});
