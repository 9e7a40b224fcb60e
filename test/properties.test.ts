/**
 * Properties with fast-check (issue #15), where an oracle exists:
 *  1. kernel-log line → event: the fields a generated TRACE line carries come back equal in the event;
 *  2. framing is independent of chunk boundaries, for every channel: each lab capture decoded in arbitrarily
 *     cut chunks gives exactly the events and dead letters of the one-chunk decode;
 *  3. iptables-save parse → print → parse is stable: every real snapshot (lab, examples) and generated rulesets
 *     (random ip parts, matches, negations, comments with quotes, backslashes and control characters) read back
 *     to the same model, and printing is a fixpoint;
 *  4. explanations are independent of input chunking and of how several hosts' lines interleave: three hosts'
 *     copies of the bundled incident, merged in any order and cut anywhere, explain each host exactly as that
 *     host's lines alone do.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import type { IngestAdapter } from '@ruletrail/core';
import { Correlator, SnapshotSet, explainPacket } from '@ruletrail/explain';
import { parseIptablesSave, printIptablesSave, type Ruleset } from '@ruletrail/ruleset';
import { kernelLogAdapter } from '@ruletrail/ingest-kernel-log';
import { nflogPcapAdapter } from '@ruletrail/ingest-nflog-pcap';
import { nftMonitorAdapter } from '@ruletrail/ingest-nft-monitor';
import { ulogdJsonAdapter } from '@ruletrail/ingest-ulogd-json';
import { wiresharkCsvAdapter } from '@ruletrail/ingest-wireshark-csv';
import { xtablesMonitorAdapter } from '@ruletrail/ingest-xtables-monitor';

const ROOT = join(__dirname, '..');
const LAB = join(ROOT, 'test/fixtures/lab');

/** `input` as chunks cut at `cuts` (any order, out-of-range cuts ignored), one microtask apart. */
async function* cutInto(input: Buffer, cuts: readonly number[]): AsyncIterable<Buffer> {
  let prev = 0;
  for (const c of [...cuts].sort((a, b) => a - b)) {
    if (c <= prev || c >= input.length) continue;
    yield input.subarray(prev, c);
    prev = c;
    await Promise.resolve();
  }
  yield input.subarray(prev);
}

/** Everything a decode produced, as comparable JSON (events and dead letters with positions). */
async function decodeAll(adapter: IngestAdapter, input: Buffer, cuts: readonly number[]): Promise<string> {
  const chunks = cutInto(input, cuts);
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

  /** The model without what printing cannot keep (source line numbers, rule text as written, file name). */
  function model(rs: Ruleset): unknown {
    return [...rs.tables.values()].map((t) => ({
      name: t.name,
      chains: [...t.chains.values()].map((c) => ({
        name: c.name,
        builtin: c.builtin,
        policy: c.policy,
        counters: c.counters,
        rules: c.rules.map((r) => ({ ...r, text: undefined, line: undefined })),
      })),
    }));
  }

  function roundTrip(text: string, where: string): void {
    const a = parseIptablesSave(text, { source: where });
    const printed = printIptablesSave(a);
    const b = parseIptablesSave(printed, { source: `${where} (printed)` });
    assert.deepEqual(model(b), model(a), `${where}: the printed ruleset reads back differently\n${printed}`);
    assert.equal(b.family, a.family, where);
    assert.equal(printIptablesSave(b), printed, `${where}: printing is not a fixpoint`);
  }

  it('iptables-save: parse → print → parse is stable on every real snapshot (lab captures, examples)', () => {
    const files = [
      join(ROOT, 'examples/incident/iptables-save-0101.txt'),
      join(ROOT, 'examples/incident/iptables-save-0103.txt'),
    ];
    for (const scenario of readdirSync(LAB))
      for (const channel of readdirSync(join(LAB, scenario))) {
        const p = join(LAB, scenario, channel, 'iptables-save.txt');
        if (existsSync(p)) files.push(p);
      }
    assert.ok(files.length > 10, `${files.length} snapshots`);
    for (const f of files) roundTrip(readFileSync(f, 'utf8'), f);
  });

  it('iptables-save: parse → print → parse is stable on generated rulesets (quotes, escapes, negations)', () => {
    const octet = fc.integer({ min: 0, max: 255 });
    const addr = fc
      .tuple(octet, octet, octet, octet, fc.integer({ min: 0, max: 32 }))
      .map(([a, b, c, d, m]) => `${a}.${b}.${c}.${d}/${m}`);
    const neg = fc.boolean();
    const ifname = fc.stringMatching(/^[a-z][a-z0-9.+-]{0,10}$/);
    // Comments and log prefixes: any text but a line break (a line-based file cannot hold one), including
    // quotes, backslashes, `!`, a leading `-`, escape sequences and non-ASCII.
    const text = fc
      .string({
        unit: fc.constantFrom('a', 'Z', ' ', '"', '\\', '!', '-', "'", '\x1b', '[', '\t', 'é', '\u202e', '0'),
        maxLength: 24,
      })
      .filter((t) => t.trim().length > 0 && !/^\s|\s$/.test(t));
    const port = fc.integer({ min: 0, max: 65535 });
    const match = fc.oneof(
      fc
        .record({ m: fc.constant('tcp'), dport: port, neg })
        .map((x) => `-m tcp ${x.neg ? '! ' : ''}--dport ${x.dport}`),
      fc.record({ c: text }).map((x) => `-m comment --comment ${quote(x.c)}`),
      fc
        .record({
          v: fc.integer({ min: 0, max: 0xffffffff }),
          k: fc.integer({ min: 1, max: 0xffffffff }),
          neg,
        })
        .map((x) => `-m mark ${x.neg ? '! ' : ''}--mark 0x${x.v.toString(16)}/0x${x.k.toString(16)}`),
      fc
        .subarray(['NEW', 'RELATED', 'ESTABLISHED', 'INVALID'], { minLength: 1 })
        .map((s) => `-m conntrack --ctstate ${s.join(',')}`),
    );
    const target = fc.oneof(
      fc.constantFrom('-j ACCEPT', '-j DROP', '-j RETURN', '-j USER-1', '-g USER-1'),
      fc.record({ p: text }).map((x) => `-j LOG --log-prefix ${quote(x.p)}`),
      fc.integer({ min: 0, max: 0xffff }).map((v) => `-j MARK --set-xmark 0x${v.toString(16)}/0xffffffff`),
    );
    const rule = fc
      .record({
        chain: fc.constantFrom('INPUT', 'FORWARD', 'OUTPUT', 'USER-1'),
        src: fc.option(fc.tuple(neg, addr)),
        dst: fc.option(fc.tuple(neg, addr)),
        inIf: fc.option(fc.tuple(neg, ifname)),
        proto: fc.option(fc.constantFrom('tcp', 'udp', 'icmp')),
        matches: fc.array(match, { maxLength: 3 }),
        target: fc.option(target),
        counters: fc.option(fc.tuple(fc.nat(), fc.nat())),
      })
      .map((r) => {
        const parts = [`-A ${r.chain}`];
        if (r.src) parts.push(`${r.src[0] ? '! ' : ''}-s ${r.src[1]}`);
        if (r.dst) parts.push(`${r.dst[0] ? '! ' : ''}-d ${r.dst[1]}`);
        if (r.inIf) parts.push(`${r.inIf[0] ? '! ' : ''}-i ${r.inIf[1]}`);
        // `-m tcp` needs `-p tcp`: generated rules say so, as iptables requires.
        const needsTcp = r.matches.some((m) => m.startsWith('-m tcp'));
        if (needsTcp) parts.push('-p tcp');
        else if (r.proto) parts.push(`-p ${r.proto}`);
        parts.push(...r.matches);
        if (r.target) parts.push(r.target);
        return `${r.counters ? `[${r.counters[0]}:${r.counters[1]}] ` : ''}${parts.join(' ')}`;
      });
    fc.assert(
      fc.property(fc.array(rule, { maxLength: 12 }), fc.constantFrom('ACCEPT', 'DROP'), (rules, policy) => {
        const save = [
          '*filter',
          `:INPUT ${policy} [0:0]`,
          ':FORWARD ACCEPT [1:2]',
          ':OUTPUT ACCEPT [0:0]',
          ':USER-1 - [0:0]',
          ...rules,
          'COMMIT',
          '',
        ].join('\n');
        roundTrip(save, 'generated');
      }),
      { numRuns: 400, seed: 15 },
    );
  });

  it('explanations are independent of chunking and of the interleaving of several hosts’ lines', async () => {
    // A lab capture (82 TRACE lines, established flows and new ones) copied to three hosts.
    const dir = join(LAB, 'established-no-mangle/kernel-log');
    const HOSTS = ['rtlab-node', 'node-a', 'node-b'];
    const lines = readFileSync(join(dir, 'kern.log'), 'utf8').split('\n').filter(Boolean);
    const perHost = HOSTS.map((h) =>
      lines.map((l) => l.replace(/^(\S+) rtlab-node kernel: /, `$1 ${h} kernel: `)),
    );
    const rulesets = [
      parseIptablesSave(readFileSync(join(dir, 'iptables-save.txt'), 'utf8'), {
        source: 'iptables-save.txt',
      }),
    ];
    /** Explanations by host, each as canonical JSON without input positions (they change with the merge). */
    const explain = async (input: Buffer, cuts: readonly number[]): Promise<Record<string, string[]>> => {
      const byHost: Record<string, string[]> = {};
      const corr = new Correlator(new SnapshotSet(rulesets), (p) => {
        const x = explainPacket(p.events, p.pick, p.flags, {});
        (byHost[x.packet.host ?? '(none)'] ??= []).push(
          JSON.stringify(x, (k, v: unknown) => (k === 'origin' ? undefined : v)),
        );
      });
      for await (const b of kernelLogAdapter.decode(cutInto(input, cuts), { file: 'merged', year: 2023 })) {
        assert.deepEqual(b.errors, []);
        for (const e of b.events) corr.push(e);
      }
      corr.flush();
      for (const list of Object.values(byHost)) list.sort();
      return byHost;
    };
    const alone: Record<string, string[]> = {};
    for (const [i, h] of HOSTS.entries()) {
      const r = await explain(Buffer.from(perHost[i]!.join('\n') + '\n'), []);
      assert.deepEqual(Object.keys(r), [h]);
      alone[h] = r[h]!;
    }
    assert.ok(alone['rtlab-node']!.length >= 10, `${alone['rtlab-node']!.length} packets`);
    await fc.assert(
      fc.asyncProperty(
        // Which host's next line comes next (each host's own order is kept, as one log per host guarantees).
        fc.array(fc.integer({ min: 0, max: HOSTS.length - 1 }), {
          minLength: lines.length * HOSTS.length,
          maxLength: lines.length * HOSTS.length,
        }),
        fc.array(fc.nat(), { maxLength: 30 }),
        async (order, rawCuts) => {
          const next = HOSTS.map(() => 0);
          const merged: string[] = [];
          for (const o of order) {
            // An exhausted host passes its turn to the next one that has lines left.
            let h = o;
            while (next[h]! >= lines.length) h = (h + 1) % HOSTS.length;
            merged.push(perHost[h]![next[h]!++]!);
          }
          const input = Buffer.from(merged.join('\n') + '\n');
          const got = await explain(
            input,
            rawCuts.map((c) => c % (input.length + 1)),
          );
          assert.deepEqual(got, alone);
        },
      ),
      { numRuns: 40, seed: 15 },
    );
  });

  /** iptables-save quoting of a generated argument. */
  function quote(v: string): string {
    return `"${v.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
  }
});
