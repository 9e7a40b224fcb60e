/**
 * The shared conformance suite (`@ruletrail/core` conformance.ts) run for every registered ingest adapter on
 * real lab captures, for the file sink, and for the example plugin of docs/plugin-contract.md. The remote sinks
 * (Kafka, Elasticsearch, Fluentd) run it in their integration tests when RUN_SERVICE_TESTS=1.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkIngestAdapter, checkSink, type SinkRecord } from '@ruletrail/core';
import { REGISTRY } from '@ruletrail/cli';
import { FileSink } from '@ruletrail/sink-file';
import { LineCountSink, lineCountSinkPlugin } from './support/example-sink';

const ROOT = join(__dirname, '..');
const LAB = join(ROOT, 'test/fixtures/lab');
const read = (p: string): Buffer => readFileSync(join(ROOT, p));

/** Good input of each channel, and the same with one bad record in the middle. */
function inputs(channel: string): { good: Buffer; mixed: Buffer } {
  const lines = (file: string, bad: (good: string) => string) => {
    const good = read(file);
    const ls = good.toString('utf8').split('\n');
    const mid = Math.floor(ls.length / 2);
    const mixed = [...ls.slice(0, mid), bad(ls[mid]!), ...ls.slice(mid)].join('\n');
    return { good, mixed: Buffer.from(mixed) };
  };
  switch (channel) {
    case 'kernel-log':
      return lines(`${LAB.slice(ROOT.length + 1)}/incident/kernel-log/kern.log`, (l) =>
        l.replace(/TRACE: (\S+?):(\S+?):(rule|policy|return):\d+/, 'TRACE: $1:$2'),
      );
    case 'ulogd-json':
      return lines(`${LAB.slice(ROOT.length + 1)}/incident/ulogd-json/ulogd.json`, (l) => l.slice(0, 40));
    case 'xtables-monitor':
      return lines(
        `${LAB.slice(ROOT.length + 1)}/modern-kube-proxy/xtables-monitor/xtables-monitor.txt`,
        (l) => l.replace(/:(rule|policy|return):?\S*/, ':bogus'),
      );
    case 'nft-monitor':
      return lines(
        `${LAB.slice(ROOT.length + 1)}/modern-kube-proxy/nft-monitor/nft-monitor.txt`,
        () => 'trace id 78d4b807 ip raw PREROUTING rule tcp dport 80 (verdict',
      );
    case 'wireshark-csv':
      return lines('packages/ingest-wireshark-csv/test/fixtures/real/tshark-fields.csv', (l) =>
        l.replace(/TRACE: [^,"]*/, 'TRACE: raw'),
      );
    case 'nflog-pcap': {
      const good = read(`${LAB.slice(ROOT.length + 1)}/incident/nflog-pcap/nflog.pcap`);
      // A record cut off at the end of the capture: an InputError at its byte offset, the others decode.
      return { good, mixed: Buffer.concat([good, good.subarray(24, 24 + 40)]) };
    }
    default:
      throw new Error(`no conformance input for ${channel}`);
  }
}

const rec = (i: number): SinkRecord => ({ kind: 'packet', key: 'h', id: `r${i}`, body: { n: i } });
const records = Array.from({ length: 50 }, (_, i) => rec(i));

describe('plugin conformance', () => {
  for (const plugin of REGISTRY.ingest)
    it(`ingest ${plugin.type}: valid events, InputErrors with positions, neighbours survive`, async () => {
      await checkIngestAdapter(plugin.adapter, inputs(plugin.type));
    });

  it('sink file: acknowledged only once written, every record once, close twice', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'rt-conf-')), 'out.ndjson');
    const written = (): Set<string> => {
      let text = '';
      try {
        text = readFileSync(path, 'utf8');
      } catch {
        /* not created yet */
      }
      return new Set(
        text
          .split('\n')
          .filter(Boolean)
          .map((l) => `r${(JSON.parse(l) as { n: number }).n}`),
      );
    };
    await checkSink(() => new FileSink({ path, fsync: false }), records, written);
  });

  it('the example plugin of docs/plugin-contract.md: conformant, and the docs show its code verbatim', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rt-example-'));
    const sinks: LineCountSink[] = [];
    const make = (): LineCountSink => {
      const s = lineCountSinkPlugin.create(
        { dir, maxBytes: 200 },
        {
          baseDir: dir,
          logger: { debug() {}, info() {}, warn() {}, error() {} },
          stop() {},
          kinds: ['packet', 'alert'],
        },
      );
      assert.ok(s instanceof LineCountSink);
      sinks.push(s);
      return s;
    };
    const tooBig: SinkRecord = { kind: 'alert', key: 'h', id: 'big', body: { pad: 'x'.repeat(500) } };
    await checkSink(make, records, () => sinks[0]!.ids(), tooBig);
    const docs = readFileSync(join(ROOT, 'docs/plugin-contract.md'), 'utf8');
    const code = readFileSync(join(__dirname, 'support/example-sink.ts'), 'utf8');
    assert.ok(
      docs.includes(code.trim()),
      'docs/plugin-contract.md does not show test/support/example-sink.ts',
    );
  });
});
