/**
 * Fuzz targets (issue #15): every parser and decoder that meets outside input, each with its seed corpus from
 * the lab captures (test/fixtures/lab) and the bundled examples. A target gets one input and must either return
 * or throw one of the errors its contract documents (InputError / UsageError / ConfigError / the envelope's
 * plain Error); anything else — TypeError, RangeError (stack overflow), a hang — is a crash.
 *
 * Each target returns a small "behaviour signature" (error codes seen, events bucketed): the mutation fuzzer
 * keeps inputs that show a new signature, a cheap stand-in for coverage feedback (see docs/reliability.md).
 */
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { InputError, UsageError, type DecodedBatch, type IngestAdapter } from '@ruletrail/core';
import { kernelLogAdapter } from '@ruletrail/ingest-kernel-log';
import { nflogPcapAdapter } from '@ruletrail/ingest-nflog-pcap';
import { nftMonitorAdapter } from '@ruletrail/ingest-nft-monitor';
import { ulogdJsonAdapter } from '@ruletrail/ingest-ulogd-json';
import { wiresharkCsvAdapter } from '@ruletrail/ingest-wireshark-csv';
import { xtablesMonitorAdapter } from '@ruletrail/ingest-xtables-monitor';
import { parseIptablesSave, parseNftJson } from '@ruletrail/ruleset';
import { REGISTRY } from '@ruletrail/cli';
import { ConfigError, makeEnvelope, parseConfig, parseEnvelope } from '@ruletrail/pipeline';
import { TcpFramer } from '@ruletrail/source-syslog';

export const ROOT = join(__dirname, '../..');
const LAB = join(ROOT, 'test/fixtures/lab');

/** A target: runs one input (split into `cuts` chunks where it streams) and returns its behaviour signature. */
export interface FuzzTarget {
  readonly name: string;
  /** Seed inputs (real captures). */
  seeds(): Buffer[];
  run(input: Buffer, cuts: readonly number[]): Promise<string> | string;
  /** Whether `err` is an error the target's contract allows for bad input. */
  expected(err: unknown): boolean;
}

/** Files named `name` in every lab scenario and channel folder, plus extra paths. */
function labFiles(name: string, extra: string[] = []): Buffer[] {
  const out: Buffer[] = [];
  for (const scenario of readdirSync(LAB))
    for (const channel of readdirSync(join(LAB, scenario))) {
      const p = join(LAB, scenario, channel, name);
      if (existsSync(p)) out.push(readFileSync(p));
    }
  for (const p of extra) out.push(readFileSync(join(ROOT, p)));
  // Identical files (the same ruleset in two channel folders) would only weigh the corpus.
  const seen = new Set<string>();
  return out.filter((b) => {
    const k = b.toString('base64');
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** The input as chunks cut at the given offsets (framing must not depend on them). */
// eslint-disable-next-line @typescript-eslint/require-await -- an AsyncIterable is what decode() takes
async function* chunked(input: Buffer, cuts: readonly number[]): AsyncIterable<Buffer> {
  let prev = 0;
  for (const c of cuts) {
    if (c <= prev || c >= input.length) continue;
    yield input.subarray(prev, c);
    prev = c;
  }
  yield input.subarray(prev);
}

const inputErrors = (err: unknown): boolean => err instanceof InputError || err instanceof UsageError;

function adapterTarget(name: string, adapter: IngestAdapter, seeds: () => Buffer[]): FuzzTarget {
  return {
    name,
    seeds,
    async run(input, cuts) {
      let events = 0;
      const codes = new Set<string>();
      const batches: AsyncIterable<DecodedBatch> = adapter.decode(chunked(input, cuts), {
        file: 'fuzz',
        year: 2023,
      });
      for await (const b of batches) {
        events += b.events.length;
        for (const e of b.errors) {
          if (!(e instanceof InputError)) throw new Error(`decoder yielded a non-InputError: ${String(e)}`);
          codes.add(e.code);
        }
      }
      return `${[...codes].sort().join(',')}|${Math.min(events, 8)}`;
    },
    expected: inputErrors,
  };
}

export const TARGETS: readonly FuzzTarget[] = [
  adapterTarget('kernel-log', kernelLogAdapter, () => labFiles('kern.log', ['examples/incident/kern.log'])),
  adapterTarget('xtables-monitor', xtablesMonitorAdapter, () => labFiles('xtables-monitor.txt')),
  adapterTarget('nft-monitor', nftMonitorAdapter, () => labFiles('nft-monitor.txt')),
  adapterTarget('ulogd-json', ulogdJsonAdapter, () => labFiles('ulogd.json')),
  adapterTarget('wireshark-csv', wiresharkCsvAdapter, () =>
    ['wireshark-gui.csv', 'wireshark-gui-abs.csv', 'tshark-fields.csv'].map((f) =>
      readFileSync(join(ROOT, 'packages/ingest-wireshark-csv/test/fixtures/real', f)),
    ),
  ),
  adapterTarget('nflog-pcap', nflogPcapAdapter, () => labFiles('nflog.pcap')),
  {
    name: 'iptables-save',
    seeds: () =>
      labFiles('iptables-save.txt', [
        'examples/incident/iptables-save-0101.txt',
        'examples/incident/iptables-save-0103.txt',
      ]),
    run(input) {
      const r = parseIptablesSave(input.toString('utf8'), { source: 'fuzz' });
      return `ok|${Math.min(r.tables.size, 8)}`;
    },
    expected: inputErrors,
  },
  {
    name: 'nft-json',
    seeds: () => labFiles('nft-ruleset.json'),
    run(input) {
      const r = parseNftJson(input.toString('utf8'), { source: 'fuzz' });
      return `ok|${Math.min(r.tables.size, 8)}`;
    },
    expected: inputErrors,
  },
  {
    name: 'pipeline-yaml',
    seeds: () => {
      const dir = join(ROOT, 'examples');
      const out: Buffer[] = [];
      const walk = (d: string): void => {
        for (const e of readdirSync(d, { withFileTypes: true })) {
          if (e.isDirectory()) walk(join(d, e.name));
          else if (/\.ya?ml$/.test(e.name)) out.push(readFileSync(join(d, e.name)));
        }
      };
      walk(dir);
      if (existsSync(join(ROOT, 'demo'))) walk(join(ROOT, 'demo'));
      return out;
    },
    run(input) {
      const c = parseConfig(input.toString('utf8'), join(ROOT, 'fuzz.yaml'), REGISTRY, { RT_FUZZ: 'x' });
      return `ok|${c.sources.length}|${c.sinks.length}`;
    },
    expected: (err) => err instanceof ConfigError || inputErrors(err),
  },
  {
    name: 'syslog-framing',
    seeds: () => {
      const lines = readFileSync(join(ROOT, 'examples/incident/kern.log'), 'utf8').split('\n').slice(0, 30);
      const octet = lines.map((l) => `<4>${l}`).map((m) => `${Buffer.byteLength(m)} ${m}`);
      return [
        Buffer.from(lines.map((l) => `<4>${l}\n`).join('')),
        Buffer.from(octet.join('')),
        Buffer.from(lines.map((l) => `<4>${l}\r\n`).join('')),
      ];
    },
    run(input, cuts) {
      const max = 4096;
      const f = new TcpFramer(max);
      let n = 0;
      for (const chunk of (function* () {
        let prev = 0;
        for (const c of cuts) {
          if (c <= prev || c >= input.length) continue;
          yield input.subarray(prev, c);
          prev = c;
        }
        yield input.subarray(prev);
      })()) {
        for (const m of f.push(chunk)) {
          if (m.length > max) throw new Error(`framer returned ${m.length} bytes, over maxBytes ${max}`);
          n++;
        }
      }
      return `ok|${Math.min(n, 8)}|${f.truncated > 0}`;
    },
    expected: () => false,
  },
  {
    name: 'snapshot-envelope',
    seeds: () => {
      const save = readFileSync(join(ROOT, 'examples/incident/iptables-save-0101.txt'), 'utf8');
      const nft = labFiles('nft-ruleset.json')[0]!.toString('utf8');
      return [
        makeEnvelope({
          host: 'node-1',
          family: 'ipv4',
          format: 'iptables-save',
          takenAt: '2023-01-01T21:20:02Z',
          tool: 'iptables-save',
          content: save,
        }),
        makeEnvelope({
          host: 'node-2',
          family: 'ipv4',
          format: 'nft-json',
          takenAt: '2023-01-01T21:20:02Z',
          tool: 'nft',
          content: nft,
        }),
      ].map((e) => Buffer.from(JSON.stringify(e)));
    },
    run(input) {
      const e = parseEnvelope(input.toString('utf8'));
      return `ok|${e.format}`;
    },
    // parseEnvelope documents a plain Error naming the problem (the caller adds where it came from).
    expected: (err) => err instanceof Error && err.constructor === Error,
  },
];

export function targetByName(name: string): FuzzTarget | undefined {
  return TARGETS.find((t) => t.name === name);
}
