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
  /** Largest ordinary input (default 2048); whole-document formats (JSON) need their seeds whole. */
  readonly maxLen?: number;
  /** A window of at most `maxLen` bytes of a long corpus entry that keeps its framing (default: whole lines). */
  window?(b: Buffer, maxLen: number, r: () => number): Buffer;
}

/** A window of at most `maxLen` bytes of `b` starting and ending on a line boundary where there is one. */
export function lineWindow(b: Buffer, maxLen: number, r: () => number): Buffer {
  if (b.length <= maxLen) return b;
  let start = Math.floor(r() * (b.length - maxLen / 2));
  const nl = b.indexOf(0x0a, start);
  start = nl >= 0 && nl + 1 < b.length ? nl + 1 : start;
  let end = Math.min(b.length, start + maxLen);
  const last = b.lastIndexOf(0x0a, end - 1);
  if (last > start) end = last + 1;
  return b.subarray(start, end);
}

/** The header line (column names) and a window of whole lines of the rest. */
function headerWindow(b: Buffer, maxLen: number, r: () => number): Buffer {
  if (b.length <= maxLen) return b;
  const nl = b.indexOf(0x0a);
  if (nl < 0 || nl + 1 >= maxLen) return b.subarray(0, maxLen);
  return Buffer.concat([b.subarray(0, nl + 1), lineWindow(b.subarray(nl + 1), maxLen - nl - 1, r)]);
}

/** The 24-byte pcap file header and whole records from a random one on, up to `maxLen` bytes. */
function pcapWindow(b: Buffer, maxLen: number, r: () => number): Buffer {
  if (b.length <= maxLen || b.length < 24) return b.subarray(0, maxLen);
  const le = b.readUInt32LE(0) === 0xa1b2c3d4 || b.readUInt32LE(0) === 0xa1b23c4d;
  const starts: number[] = [];
  for (let off = 24; off + 16 <= b.length;) {
    starts.push(off);
    const incl = le ? b.readUInt32LE(off + 8) : b.readUInt32BE(off + 8);
    off += 16 + incl;
  }
  if (starts.length === 0) return b.subarray(0, maxLen);
  const from = starts[Math.floor(r() * starts.length)]!;
  let to = from;
  for (const s of starts) if (s > from && s - from + 24 <= maxLen) to = s;
  if (to === from) to = Math.min(b.length, from + maxLen - 24);
  return Buffer.concat([b.subarray(0, 24), b.subarray(from, to)]);
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

function adapterTarget(
  name: string,
  adapter: IngestAdapter,
  seeds: () => Buffer[],
  extra: Pick<FuzzTarget, 'window'> = {},
): FuzzTarget {
  return {
    name,
    seeds,
    ...extra,
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
  adapterTarget(
    'wireshark-csv',
    wiresharkCsvAdapter,
    () =>
      ['wireshark-gui.csv', 'wireshark-gui-abs.csv', 'tshark-fields.csv'].map((f) =>
        readFileSync(join(ROOT, 'packages/ingest-wireshark-csv/test/fixtures/real', f)),
      ),
    { window: headerWindow },
  ),
  adapterTarget('nflog-pcap', nflogPcapAdapter, () => labFiles('nflog.pcap'), { window: pcapWindow }),
  {
    name: 'iptables-save',
    seeds: () =>
      labFiles('iptables-save.txt', [
        'examples/incident/iptables-save-0101.txt',
        'examples/incident/iptables-save-0103.txt',
      ]),
    maxLen: 8192,
    run(input) {
      const r = parseIptablesSave(input.toString('utf8'), { source: 'fuzz' });
      return `ok|${Math.min(r.tables.size, 8)}`;
    },
    expected: inputErrors,
  },
  {
    name: 'nft-json',
    seeds: () => labFiles('nft-ruleset.json'),
    // JSON is parsed whole: most lab rulesets (4–17 KB) stay whole; windows of the big one are broken JSON.
    maxLen: 20 * 1024,
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
      const c = parseConfig(input.toString('utf8'), join(ROOT, 'fuzz.yaml'), { RT_FUZZ: 'x' });
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
      // Small lab snapshots, so a whole envelope fits the 8 KiB inputs (the JSON is parsed whole).
      const save = labFiles('iptables-save.txt')
        .filter((b) => b.length < 3000)[0]!
        .toString('utf8');
      const nft = labFiles('nft-ruleset.json')
        .filter((b) => b.length < 5000)[0]!
        .toString('utf8');
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
    maxLen: 8192,
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
