/**
 * End to end through the engine: the real captures of all three NFLOG-family channels, joined with the capture
 * namespace's ruleset, give the verdicts the rules dictate. Loads the engine and the sibling adapters from the
 * workspace at run time and skips when one of them is not built.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { IngestAdapter } from '@ruletrail/core';
import type { NetfilterEvent } from '@ruletrail/event';
import { createNflogPcapAdapter } from '../src/index';

interface Explained {
  verdict: string;
  cause: string;
  packet: { proto?: string; src?: string; dst?: string; dport?: number; family?: string };
  decidedBy?: { table: string; chain: string; rulenum?: number };
}
interface Engine {
  parseIptablesSave(text: string, o: { source: string; family: 'ipv4' | 'ipv6' }): unknown;
  SnapshotSet: new (rulesets: unknown[]) => unknown;
  Correlator: new (
    s: unknown,
    emit: (p: { events: NetfilterEvent[]; pick: unknown; flags: unknown }) => void,
    o: object,
  ) => { push(e: NetfilterEvent): void; flush(): void };
  explainPacket(events: NetfilterEvent[], pick: unknown, flags: unknown): Explained;
  ulogd: IngestAdapter;
  csv: IngestAdapter;
}

/* eslint-disable @typescript-eslint/no-require-imports */
function load(): Engine | undefined {
  try {
    const ruleset = require('@ruletrail/ruleset') as Pick<Engine, 'parseIptablesSave'>;
    const explain = require('@ruletrail/explain') as Pick<
      Engine,
      'SnapshotSet' | 'Correlator' | 'explainPacket'
    >;
    const ulogd = (require('@ruletrail/ingest-ulogd-json') as { ulogdJsonAdapter: IngestAdapter })
      .ulogdJsonAdapter;
    const csv = (require('@ruletrail/ingest-wireshark-csv') as { wiresharkCsvAdapter: IngestAdapter })
      .wiresharkCsvAdapter;
    return { ...ruleset, ...explain, ulogd, csv };
  } catch {
    return undefined;
  }
}
/* eslint-enable @typescript-eslint/no-require-imports */

const REAL = join(__dirname, 'fixtures', 'real');
const PKG = join(__dirname, '..', '..');

async function explainAll(engine: Engine, adapter: IngestAdapter, file: string): Promise<Explained[]> {
  const rulesets = [
    engine.parseIptablesSave(readFileSync(join(REAL, 'iptables-save.txt'), 'utf8'), {
      source: 'iptables-save.txt',
      family: 'ipv4',
    }),
    engine.parseIptablesSave(readFileSync(join(REAL, 'ip6tables-save.txt'), 'utf8'), {
      source: 'ip6tables-save.txt',
      family: 'ipv6',
    }),
  ];
  const out: Explained[] = [];
  const c = new engine.Correlator(
    new engine.SnapshotSet(rulesets),
    (p) => out.push(engine.explainPacket(p.events, p.pick, p.flags)),
    {},
  );
  for await (const b of adapter.decode(Readable.from([readFileSync(file)]), { file })) {
    assert.deepEqual(b.errors, []);
    for (const e of b.events) c.push(e);
  }
  c.flush();
  return out;
}

describe('NFLOG-family channels through the engine', () => {
  const channels: Array<[string, (e: Engine) => IngestAdapter, string]> = [
    [
      'nflog-pcap',
      () => createNflogPcapAdapter({ ifNames: { '1': 'lo', '18': 'rtvb1602' } }),
      join(REAL, 'trace.pcap'),
    ],
    ['ulogd-json', (e) => e.ulogd, join(PKG, 'ingest-ulogd-json/test/fixtures/real/ulogd.json')],
    [
      'wireshark-csv (tshark fields)',
      (e) => e.csv,
      join(PKG, 'ingest-wireshark-csv/test/fixtures/real/tshark-fields.csv'),
    ],
  ];
  for (const [name, adapter, file] of channels)
    it(`${name}: the REJECT rule, the ACCEPT rules and the policies decide what the ruleset says`, async function () {
      const engine = load();
      if (!engine) this.skip(); // engine or sibling adapters not built in this checkout
      const out = await explainAll(engine, adapter(engine), file);
      const find = (proto: string, dport: number | undefined, family: string): Explained | undefined =>
        out.find((x) => x.packet.proto === proto && x.packet.dport === dport && x.packet.family === family);
      const syn4 = out.find(
        (x) => x.packet.proto === 'tcp' && x.packet.dport === 52000 && x.packet.family === 'ipv4',
      )!;
      const syn6 = out.find(
        (x) => x.packet.proto === 'tcp' && x.packet.dport === 52000 && x.packet.family === 'ipv6',
      )!;
      assert.deepEqual([syn4.verdict, syn4.cause], ['REJECT', 'rejected by filter INPUT rule 3']);
      assert.deepEqual([syn6.verdict, syn6.cause], ['REJECT', 'rejected by filter INPUT rule 3']);
      const mdns = out.find(
        (x) => x.packet.proto === 'udp' && x.packet.dport === 5353 && x.verdict === 'ACCEPT',
      )!;
      assert.equal(mdns.cause, 'accepted by filter INPUT rule 2 (delivered locally)');
      const ping = out.find((x) => x.packet.proto === 'icmp' && x.packet.dst === '10.231.0.2')!;
      assert.deepEqual(
        [ping.verdict, ping.cause],
        ['ACCEPT', 'accepted by filter RT-CHECK rule 2 (delivered locally)'],
      );
      const ret = find('tcp', 52001, 'ipv4')!;
      assert.deepEqual(
        [ret.verdict, ret.cause],
        ['ACCEPT', 'accepted by the filter INPUT policy ACCEPT (delivered locally)'],
      );
      assert.equal(out.filter((x) => x.verdict === 'REJECT').length, 2);
    });
});
