/** Alerts on real explanations: built-in kube-proxy rules, user rules, dedup and rate limiting per window. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { NetfilterEvent } from '@ruletrail/event';
import { Correlator, SnapshotSet, explainPacket } from '@ruletrail/explain';
import { nftMonitorAdapter } from '@ruletrail/ingest-nft-monitor';
import { parseIptablesSave, parseNftJson } from '@ruletrail/ruleset';
import { AlertEngine, SnapshotStore, makeEnvelope, snapshotRule, usedSnapshot } from '../src';
import {
  MemorySink,
  MemorySource,
  SAVE_0101,
  SAVE_0103,
  acceptPacket,
  config,
  dropPacket,
  run,
} from './helpers';

function store(): SnapshotStore {
  const s = new SnapshotStore();
  for (const [at, c] of [
    ['2023-01-01T21:20:02Z', SAVE_0101],
    ['2023-01-03T13:48:51Z', SAVE_0103],
  ] as const)
    for (const host of ['cos74', 'other'])
      s.add(
        makeEnvelope({
          host,
          family: 'ipv4',
          format: 'iptables-save',
          takenAt: at,
          tool: 'iptables-save',
          content: c,
        }),
      );
  return s;
}

const base = `version: 1
sources: [{ id: s, type: stdin }]
sinks: [{ id: o, type: file }]
`;

describe('alerts', () => {
  it('raises the built-in KUBE-MARK-DROP and no-endpoints alerts on the incident drop, not on the accepted packet', async () => {
    const sink = new MemorySink();
    await run(config(base), [new MemorySource('kern', [dropPacket(1), acceptPacket(2)])], [sink], store());
    const alerts = sink.bodies('alert');
    assert.deepEqual(alerts.map((a) => a.alert.rule).sort(), ['kube_mark_drop', 'kube_no_endpoints']);
    const ne = alerts.find((a) => a.alert.rule === 'kube_no_endpoints');
    assert.equal(ne.alert.severity, 'critical');
    assert.equal(ne.alert.service, 'ootob9/ingress-nginx:http');
    assert.match(ne.alert.summary, /ootob9\/ingress-nginx:http has no local endpoints/);
    assert.equal(ne.explanation.packet.dport, 52000);
    assert.equal(ne['@timestamp'], '2023-01-01T21:23:16.000Z');
    // Alert records are keyed by host and carry deterministic ids.
    const rec = sink.records.find((r) => r.kind === 'alert')!;
    assert.equal(rec.key, 'cos74');
    assert.match(rec.id, /^[0-9a-f]{32}$/);
  });

  it('deduplicates per (host, service, rule) window and reports the suppressed count when the window closes', async () => {
    const cfg = config(
      `${base}alerts: { builtin: { kubeMarkDrop: false }, windowMs: 60000, maxPerWindow: 2 }\n`,
    );
    const sink = new MemorySink();
    // Five drops on cos74 and one on another host, all in the same second; then a packet two days later closes the window.
    const chunks = [
      dropPacket(1),
      dropPacket(2),
      dropPacket(3),
      dropPacket(4),
      dropPacket(5),
      dropPacket(6, 'other'),
      acceptPacket(7),
    ];
    await run(cfg, [new MemorySource('kern', chunks)], [sink], store());
    const alerts = sink.bodies('alert').map((a) => a.alert);
    const cos = alerts.filter((a) => a.host === 'cos74');
    assert.deepEqual(
      cos.map((a) => [a.rule, a.repeat, a.count]),
      [
        ['kube_no_endpoints', false, 1],
        ['kube_no_endpoints', false, 1],
        ['kube_no_endpoints', true, 3],
      ],
    );
    assert.match(cos[2].summary, /^3 more packets like this in the window/);
    assert.equal(cos[2].window.end, '2023-01-01T21:24:16.000Z');
    assert.deepEqual(
      alerts.filter((a) => a.host === 'other').map((a) => [a.rule, a.count]),
      [['kube_no_endpoints', 1]],
    );
    // Explanations are never rate-limited.
    assert.equal(sink.bodies('explanation').length, 7);
  });

  it('matches user rules on table / chain (exact or /regex/) / target / comment / verdict, on any step or the decision', async () => {
    const cfg = config(`${base}alerts:
  builtin: { kubeMarkDrop: false, kubeNoEndpoints: false }
  rules:
    - { name: nodeport-hit, table: nat, chain: KUBE-NODEPORTS, comment: "ingress-nginx" }
    - { name: firewall-drop, chain: "/^KUBE-FIRE/", target: DROP, on: decision, severity: critical }
    - { name: dnat-accept, target: DNAT, verdict: ACCEPT, severity: info }
    - { name: never, table: raw, target: DROP }
`);
    const sink = new MemorySink();
    await run(cfg, [new MemorySource('kern', [dropPacket(1), acceptPacket(2)])], [sink], store());
    const got = sink.bodies('alert').map((a) => [a.alert.rule, a.alert.severity, a.explanation.packet.dport]);
    assert.deepEqual(got, [
      ['nodeport-hit', 'warning', 52000],
      ['firewall-drop', 'critical', 52000],
      ['dnat-accept', 'info', 80],
    ]);
  });

  it('sends alerts only to sinks that take them', async () => {
    const explanations = new MemorySink('x', ['explanation']);
    const alerts = new MemorySink('a', ['alert']);
    await run(config(base), [new MemorySource('kern', [dropPacket(1)])], [explanations, alerts], store());
    assert.deepEqual(
      explanations.records.map((r) => r.kind),
      ['packet'],
    );
    assert.deepEqual(
      alerts.records.map((r) => r.kind),
      ['alert', 'alert'],
    );
  });

  it('matches comment: rules against an nftables snapshot (comments from the parsed rules, not --comment text)', async () => {
    const dir = join(__dirname, '../../ingest-nft-monitor/test/fixtures/kube-proxy');
    const events: NetfilterEvent[] = [];
    for await (const b of nftMonitorAdapter.decode(
      Readable.from([readFileSync(join(dir, 'nft-monitor.txt'))]),
      { file: 'nft-monitor.txt' },
    ))
      events.push(...b.events);
    const json = readFileSync(join(dir, 'ruleset.json'), 'utf8');
    const snapshots = new SnapshotSet([parseNftJson(json, { source: 'ruleset.json', family: 'ipv4' })]);
    const cfg = config(`${base}alerts:
  builtin: { kubeMarkDrop: false, kubeNoEndpoints: false }
  rules:
    - { name: web-dnat, comment: 'to the web app' }
`);
    const engine = new AlertEngine(cfg.alerts);
    const fired: string[] = [];
    const c = new Correlator(snapshots, (p) => {
      const x = explainPacket(p.events, p.pick, p.flags);
      for (const a of engine.evaluate(x, usedSnapshot(p.pick, x)))
        fired.push(`${a.alert.rule} ${x.packet.dport} ${x.verdict}`);
    });
    for (const e of events) c.push(e);
    c.flush();
    // The nft rule text is `… dnat to 172.28.129.4:52000 comment "host: 80 to the web app on 52000"`: a
    // `--comment` parser finds nothing in it. Only the port-80 packets went through that rule.
    assert.ok(
      fired.some((f) => f.startsWith('web-dnat 80 ')),
      fired.join('; '),
    );
    assert.ok(
      fired.filter((f) => f.startsWith('web-dnat')).every((f) => f.startsWith('web-dnat 80 ')),
      fired.join('; '),
    );
  });

  it('takes comments only from the snapshot the packet was joined with', () => {
    const ruleset = parseIptablesSave(SAVE_0101, { source: 'save' });
    const rule = [...ruleset.tables.get('filter')!.chains.values()]
      .flatMap((ch) => ch.rules)
      .find((r) => r.comments.length > 0)!;
    assert.deepEqual(
      snapshotRule(ruleset, { table: rule.table, chain: rule.chain, rulenum: rule.num }),
      rule,
    );
    assert.equal(
      snapshotRule(undefined, { table: rule.table, chain: rule.chain, rulenum: rule.num }),
      undefined,
    );
    // A chain's end (rulenum = rules + 1) is no rule.
    const n = ruleset.tables.get(rule.table)!.chains.get(rule.chain)!.rules.length;
    assert.equal(snapshotRule(ruleset, { table: rule.table, chain: rule.chain, rulenum: n + 1 }), undefined);
  });
});
