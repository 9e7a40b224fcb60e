/**
 * Properties with fast-check (issue #15), where an oracle exists:
 *  1. kernel-log line → event: the fields a generated TRACE line carries come back equal in the event;
 *  2. framing is independent of chunk boundaries, for every channel: each lab capture decoded in arbitrarily
 *     cut chunks gives exactly the events and dead letters of the one-chunk decode.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import type { IngestAdapter } from '@ruletrail/core';
import { kernelLogAdapter } from '@ruletrail/ingest-kernel-log';
import { nflogPcapAdapter } from '@ruletrail/ingest-nflog-pcap';
import { nftMonitorAdapter } from '@ruletrail/ingest-nft-monitor';
import { ulogdJsonAdapter } from '@ruletrail/ingest-ulogd-json';
import { wiresharkCsvAdapter } from '@ruletrail/ingest-wireshark-csv';
import { xtablesMonitorAdapter } from '@ruletrail/ingest-xtables-monitor';

const ROOT = join(__dirname, '..');
const LAB = join(ROOT, 'test/fixtures/lab');

/** Everything a decode produced, as comparable JSON (events and dead letters with positions). */
async function decodeAll(adapter: IngestAdapter, input: Buffer, cuts: readonly number[]): Promise<string> {
  const chunks = (async function* () {
    let prev = 0;
    for (const c of [...cuts].sort((a, b) => a - b)) {
      if (c <= prev || c >= input.length) continue;
      yield input.subarray(prev, c);
      prev = c;
      await Promise.resolve();
    }
    yield input.subarray(prev);
  })();
  const events: unknown[] = [];
  const errors: string[] = [];
  let skipped = 0;
  for await (const b of adapter.decode(chunks, { file: 'cap', year: 2023 })) {
    events.push(...b.events);
    for (const e of b.errors) errors.push(`${e.code}@${e.position.line ?? e.position.offset}:${e.reason}`);
    skipped += b.skipped;
  }
  return JSON.stringify({ events, errors, skipped });
}

describe('properties (fast-check)', function () {
  this.timeout(120000);

  it('kernel-log: the fields of a generated TRACE line come back equal in its event', async () => {
    const octet = fc.integer({ min: 0, max: 255 });
    const ip = fc.tuple(octet, octet, octet, octet).map((o) => o.join('.'));
    const name = fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9_-]{0,14}$/);
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          host: fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/),
          table: fc.constantFrom('raw', 'mangle', 'nat', 'filter', 'security'),
          chain: name,
          kind: fc.constantFrom('rule', 'return', 'policy'),
          rulenum: fc.integer({ min: 1, max: 100000 }),
          inIf: name,
          src: ip,
          dst: ip,
          len: fc.integer({ min: 20, max: 65535 }),
          ttl: fc.integer({ min: 0, max: 255 }),
          id: fc.integer({ min: 0, max: 65535 }),
          proto: fc.constantFrom('TCP', 'UDP'),
          spt: fc.integer({ min: 0, max: 65535 }),
          dpt: fc.integer({ min: 0, max: 65535 }),
          mark: fc.integer({ min: 0, max: 0xffffffff }),
        }),
        async (f) => {
          const l4 =
            f.proto === 'TCP'
              ? `PROTO=TCP SPT=${f.spt} DPT=${f.dpt} SEQ=1 ACK=0 WINDOW=100 RES=0x00 SYN URGP=0`
              : `PROTO=UDP SPT=${f.spt} DPT=${f.dpt} LEN=8`;
          const line =
            `Jan  1 21:23:16 ${f.host} kernel: TRACE: ${f.table}:${f.chain}:${f.kind}:${f.rulenum} ` +
            `IN=${f.inIf} OUT= SRC=${f.src} DST=${f.dst} LEN=${f.len} TOS=0x00 PREC=0x00 TTL=${f.ttl} ` +
            `ID=${f.id} ${l4} MARK=0x${f.mark.toString(16)} \n`;
          const out = JSON.parse(await decodeAll(kernelLogAdapter, Buffer.from(line), [])) as {
            events: Record<string, any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any
            errors: string[];
          };
          assert.deepEqual(out.errors, [], line);
          assert.equal(out.events.length, 1, line);
          const e = out.events[0]!;
          assert.deepEqual(
            {
              host: e.host.name,
              table: e.netfilter.trace.table,
              chain: e.netfilter.trace.chain,
              kind: e.netfilter.trace.kind,
              rulenum: e.netfilter.trace.rulenum,
              inIf: e.observer.ingress.interface.name,
              src: e.source.ip,
              dst: e.destination.ip,
              len: e.netfilter.ip.len,
              ttl: e.netfilter.ip.ttl,
              id: e.netfilter.ip.id,
              proto: String(e.network.transport).toUpperCase(),
              spt: e.source.port,
              dpt: e.destination.port,
              mark: e.netfilter.mark,
            },
            { ...f },
            line,
          );
        },
      ),
      { numRuns: 300, seed: 15 },
    );
  });

  const CHANNELS: [IngestAdapter, string][] = [
    [kernelLogAdapter, 'kern.log'],
    [xtablesMonitorAdapter, 'xtables-monitor.txt'],
    [nftMonitorAdapter, 'nft-monitor.txt'],
    [ulogdJsonAdapter, 'ulogd.json'],
    [nflogPcapAdapter, 'nflog.pcap'],
  ];
  for (const [adapter, file] of CHANNELS) {
    it(`${adapter.channel}: decoding is independent of chunk boundaries (every lab capture)`, async () => {
      for (const scenario of readdirSync(LAB)) {
        const p = join(LAB, scenario, adapter.channel, file);
        if (!existsSync(p)) continue;
        const input = readFileSync(p);
        const whole = await decodeAll(adapter, input, []);
        await fc.assert(
          fc.asyncProperty(
            fc.array(fc.integer({ min: 0, max: input.length }), { maxLength: 40 }),
            async (cuts) => {
              assert.equal(
                await decodeAll(adapter, input, cuts),
                whole,
                `${scenario}: cuts ${cuts.join(',')}`,
              );
            },
          ),
          { numRuns: 15, seed: 15 },
        );
      }
    });
  }

  it('wireshark-csv: decoding is independent of chunk boundaries (real exports)', async () => {
    for (const f of ['wireshark-gui.csv', 'tshark-fields.csv']) {
      const input = readFileSync(join(ROOT, 'packages/ingest-wireshark-csv/test/fixtures/real', f));
      const whole = await decodeAll(wiresharkCsvAdapter, input, []);
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.integer({ min: 0, max: input.length }), { maxLength: 40 }),
          async (cuts) => {
            assert.equal(
              await decodeAll(wiresharkCsvAdapter, input, cuts),
              whole,
              `${f}: cuts ${cuts.join(',')}`,
            );
          },
        ),
        { numRuns: 15, seed: 15 },
      );
    }
  });
});
