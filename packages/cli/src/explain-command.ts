/**
 * `ruletrail explain`: trace files + snapshots → one explanation per packet, as coloured text or NDJSON.
 * Streams: inputs are read in chunks, packets are explained and written as they complete, memory is bounded by
 * the packets open inside the correlation window.
 */
import { parseArgs } from 'node:util';
import {
  NdjsonDeadLetterFile,
  StreamDeadLetter,
  TeeDeadLetter,
  UsageError,
  escapeControl,
  isGzipFile,
  openInput,
  readHead,
  type DeadLetterOutput,
  type IngestAdapter,
} from '@ruletrail/core';
import {
  ANSI,
  Correlator,
  ExplanationMemo,
  PLAIN,
  SnapshotSet,
  addressTyperOf,
  detach,
  explainPacket,
  parseSelector,
  renderText,
  selectorMatches,
  type ExplainOptions,
  type Explanation,
  type PacketSelector,
} from '@ruletrail/explain';
import { readFile, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { parseHostFacts, type HostFacts } from '@ruletrail/ruleset';
import { HtmlReport } from '@ruletrail/report';
import { ADAPTERS, adapterByName, withInterfaceNames } from './builtins';
import { PARALLEL_MIN_BYTES, explainFileParallel } from './explain-parallel';
import { LineWriter, openOutput } from './output';
import { loadRules } from './rules-files';

export const EXPLAIN_USAGE = `usage: ruletrail explain --rules <save file> [--rules <save file>…] [options] <trace files…>

Joins netfilter TRACE output with the iptables-save snapshots in force and explains every packet: its verdict,
the deciding rule, who set the mark it matched, NAT rewrites and the Kubernetes service.

  --rules [ipv4:|ipv6:]FILE  iptables-save / ip6tables-save output (repeat: one per family, and several per family
                             taken at different times — each packet is joined with the one in force when it was
                             traced). The family is read from the file; prefix ipv4: or ipv6: to force it.
  --format text|json|html    text (default; coloured on a terminal), NDJSON (one object per packet), or one
                             self-contained HTML report (summary, paths drawn, packet search; docs/report.md)
  -o, --output FILE          write to FILE instead of stdout
  --packet SELECTOR          only packets matching: opt=<TCP OPT hex> (or the bare hex), id=<IP ID>, or
                             src=,dst=,sport=,dport=,proto= (comma separated, all must match)
  --input-format NAME        skip auto-detection: ${ADAPTERS.map((a) => a.channel).join(', ')}
  --year YYYY                year for timestamps that have none (RFC 3164 "Jan  1 21:23:16")
  --window MS                correlation window: longest gap between two lines of one packet (default 2000)
  --host NAME                host name for inputs that carry none
  --if-names FILE            ifindex → name map for NFLOG captures (they carry indexes only): the output of
                             'ip -j link show' on the traced host
  --host-facts FILE          the traced host's addresses and interfaces ('ruletrail snapshot facts' output:
                             ip -j addr + ip -j link), for addrtype matches; also names NFLOG interfaces
                             when --if-names is not given
  --utc-offset MINUTES       time zone of timestamps that carry none (Wireshark CSV absolute times)
  --dead-letter FILE         append records that could not be read to FILE as NDJSON (also reported on stderr)
  --why-not                  text: also show why the rules between two steps did not match, and which
                             criteria of a step's rule the log cannot check (JSON always has them: skipped, check)
  --no-color                 plain text (also: NO_COLOR=1)
  --jobs N                   threads for one large plain kernel-log file with --format json (default: one per
                             core for files of 48 MB and more; 1 = one thread). The output is the same bytes.
  --stats                    print run statistics as JSON on stderr
  --quiet                    no summary line on stderr

Trace files may be gzip-compressed; '-' reads stdin. Exit status: 0 ok, 1 some input records could not be
read (see stderr / --dead-letter), 2 usage error.`;

interface Counters {
  bytes: number;
  records: number;
  events: number;
  skipped: number;
  errors: number;
  packets: number;
  shown: number;
  verdicts: Record<string, number>;
}

/** Runs `explain`; returns the exit code. */
export async function explainCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      rules: { type: 'string', multiple: true },
      format: { type: 'string', default: 'text' },
      output: { type: 'string', short: 'o' },
      packet: { type: 'string' },
      'input-format': { type: 'string' },
      year: { type: 'string' },
      window: { type: 'string' },
      host: { type: 'string' },
      'if-names': { type: 'string' },
      'host-facts': { type: 'string' },
      'utc-offset': { type: 'string' },
      'dead-letter': { type: 'string' },
      'no-color': { type: 'boolean', default: false },
      'why-not': { type: 'boolean', default: false },
      stats: { type: 'boolean', default: false },
      jobs: { type: 'string' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(EXPLAIN_USAGE + '\n');
    return 0;
  }
  const format = values.format;
  if (format !== 'text' && format !== 'json' && format !== 'html')
    throw new UsageError(`--format must be text, json or html, got '${format}'`);
  if (!values.rules?.length) throw new UsageError('at least one --rules <iptables-save file> is needed');
  if (positionals.length === 0) throw new UsageError('no trace files given (use - for stdin)');
  const year = values.year !== undefined ? intOption('--year', values.year) : undefined;
  const windowMs = values.window !== undefined ? intOption('--window', values.window) : undefined;
  const utcOffsetMinutes =
    values['utc-offset'] !== undefined ? signedIntOption('--utc-offset', values['utc-offset']) : undefined;
  // The engine's input besides traces and snapshots: which addresses are the host's own (addrtype, fib type).
  const hostFacts =
    values['host-facts'] !== undefined ? await loadHostFacts(values['host-facts']) : undefined;
  const explainOptions: ExplainOptions = hostFacts ? { facts: addressTyperOf(hostFacts) } : {};
  const ifNames =
    values['if-names'] !== undefined
      ? await loadInterfaceNames(values['if-names'])
      : hostFacts
        ? new Map(hostFacts.interfaces.map((i) => [i.ifindex, i.ifname] as const))
        : undefined;
  const jobsOption = values.jobs !== undefined ? intOption('--jobs', values.jobs) : undefined;
  if (jobsOption === 0) throw new UsageError('--jobs must be at least 1');
  const selector: PacketSelector | undefined =
    values.packet !== undefined ? parseSelector(values.packet) : undefined;
  const forced = values['input-format'];
  if (forced !== undefined && !adapterByName(forced))
    throw new UsageError(
      `--input-format: unknown format '${forced}' (known: ${ADAPTERS.map((a) => a.channel).join(', ')})`,
    );

  const snapshots = new SnapshotSet((await Promise.all(values.rules.map(loadRules))).flat());
  const colour =
    format === 'text' &&
    !values['no-color'] &&
    !process.env.NO_COLOR &&
    ((values.output === undefined && process.stdout.isTTY) || !!process.env.FORCE_COLOR);
  const palette = colour ? ANSI : PLAIN;
  const output = await openOutput(values.output);
  const out = new LineWriter(output.stream);
  const report =
    format === 'html' ? await HtmlReport.create(output.stream, { sources: positionals }) : undefined;
  const deadLetters: DeadLetterOutput[] = [new StreamDeadLetter(process.stderr)];
  if (values['dead-letter']) deadLetters.push(new NdjsonDeadLetterFile(values['dead-letter']));
  const deadLetter = new TeeDeadLetter(deadLetters);
  const c: Counters = {
    bytes: 0,
    records: 0,
    events: 0,
    skipped: 0,
    errors: 0,
    packets: 0,
    shown: 0,
    verdicts: {},
  };
  const started = process.hrtime.bigint();
  const hosts = new Set<string>();
  let parallel: { jobs: number; segments: number; reruns: number } | undefined;

  // NDJSON: repeated paths are served from templates (memo.ts), the same bytes as JSON.stringify of each.
  // RULETRAIL_MEMO=0 explains every packet in full (to compare against; RULETRAIL_MEMO_VERIFY=1 does it per packet).
  const memo =
    format === 'json' && !report && process.env.RULETRAIL_MEMO !== '0'
      ? new ExplanationMemo(explainOptions)
      : undefined;
  const correlator = new Correlator(
    snapshots,
    (p) => {
      c.packets++;
      if (selector && !selectorMatches(selector, p.events)) return;
      if (memo) {
        const r = memo.explain(p.events, p.pick, p.flags);
        c.shown++;
        c.verdicts[r.verdict] = (c.verdicts[r.verdict] ?? 0) + 1;
        out.line(r.json);
        return;
      }
      const x: Explanation = explainPacket(p.events, p.pick, p.flags, explainOptions);
      c.shown++;
      c.verdicts[x.verdict] = (c.verdicts[x.verdict] ?? 0) + 1;
      if (report) report.add(x);
      else
        out.line(
          format === 'json'
            ? JSON.stringify(x)
            : renderText(x, c.shown, palette, { whyNot: values['why-not'] }) + '\n',
        );
    },
    windowMs !== undefined ? { windowMs } : {},
  );

  const jobs = jobsOption ?? availableParallelism();
  const single = positionals.length === 1 ? positionals[0]! : undefined;
  // Every core: one large plain kernel-log file, NDJSON out, no selector (see explain-parallel.ts).
  // (Not with --host-facts yet: the workers explain without host facts, and the output must be the same bytes.)
  if (single !== undefined && single !== '-' && jobs > 1 && format === 'json' && !selector && !hostFacts) {
    const adapter = forced ? adapterByName(forced)! : await detect(single);
    const size = (await stat(single)).size;
    if (
      adapter.channel === 'kernel-log' &&
      (size >= PARALLEL_MIN_BYTES || jobsOption !== undefined) &&
      !(await isGzipFile(single))
    ) {
      const t = await explainFileParallel(
        {
          file: single,
          rules: values.rules,
          ...(year !== undefined ? { year } : {}),
          ...(windowMs !== undefined ? { windowMs } : {}),
          ...(values.host !== undefined ? { host: values.host } : {}),
          ...(utcOffsetMinutes !== undefined ? { utcOffsetMinutes } : {}),
        },
        size,
        jobs,
        {
          packet: (line, verdict) => {
            c.shown++;
            c.verdicts[verdict] = (c.verdicts[verdict] ?? 0) + 1;
            out.bytes(line);
          },
          drain: () => out.drain(),
          error: (err) => {
            deadLetter.write(err);
            c.errors++;
          },
        },
      );
      c.bytes += size;
      c.records += t.records;
      c.events += t.events;
      c.skipped += t.skipped;
      c.packets += t.packets;
      for (const h of t.hosts) hosts.add(h);
      parallel = { jobs: t.jobs, segments: t.segments, reruns: t.reruns };
      positionals.length = 0;
    }
  }

  for (const file of positionals) {
    const adapter = withInterfaceNames(forced ? adapterByName(forced)! : await detect(file), ifNames);
    const input = await openInput(file);
    const counted = countBytes(input, c);
    const decoded = adapter.decode(counted, {
      file,
      ...(year !== undefined ? { year } : {}),
      ...(values.host !== undefined ? { host: values.host } : {}),
      ...(utcOffsetMinutes !== undefined ? { utcOffsetMinutes } : {}),
      ...(selector?.kernelLineNeedle && adapter.channel === 'kernel-log'
        ? { lineFilter: selector.kernelLineNeedle }
        : {}),
    });
    for await (const batch of decoded) {
      c.records += batch.events.length + batch.errors.length + batch.skipped;
      c.events += batch.events.length;
      c.skipped += batch.skipped;
      for (const err of batch.errors) deadLetter.write(err);
      c.errors += batch.errors.length;
      for (const e of batch.events) {
        if (e.host?.name && !hosts.has(e.host.name)) hosts.add(detach(e.host.name));
        correlator.push(e);
      }
      await out.drain();
      await report?.drain();
    }
  }
  correlator.flush();
  await out.end();
  await report?.finish();
  await output.close();
  await deadLetter.close();

  const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
  if (hosts.size > 1 && !values.quiet)
    process.stderr.write(
      `ruletrail: warning: the traces come from ${hosts.size} hosts (${escapeControl([...hosts].slice(0, 5).join(', '))}…) but one set of snapshots was given for all of them\n`,
    );
  if (!values.quiet) {
    const v = Object.entries(c.verdicts)
      .map(([k, n]) => `${n} ${k}`)
      .join(', ');
    process.stderr.write(
      `ruletrail: ${c.shown} packet${c.shown === 1 ? '' : 's'}${selector ? ` selected of ${c.packets}` : ''}${v ? ` (${v})` : ''} from ${c.events} netfilter records; ${c.skipped} other lines skipped; ${c.errors} unreadable\n`,
    );
  }
  if (values.stats) {
    process.stderr.write(
      JSON.stringify({
        bytes: c.bytes,
        lines: c.records,
        events: c.events,
        packets: c.packets,
        shown: c.shown,
        skipped: c.skipped,
        errors: c.errors,
        elapsedMs: Math.round(elapsedMs),
        ...(hostFacts
          ? {
              hostFacts: {
                ...(hostFacts.host !== undefined ? { host: hostFacts.host } : {}),
                addresses: hostFacts.addresses.length,
                interfaces: hostFacts.interfaces.length,
              },
            }
          : {}),
        maxRssKb: process.resourceUsage().maxRSS,
        ...(parallel ? { parallel } : {}),
        ...(memo && !parallel ? { memo: memo.stats } : {}),
      }) + '\n',
    );
  }
  return c.errors > 0 ? 1 : 0;
}

function signedIntOption(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new UsageError(`${name} must be an integer, got '${v}'`);
  return n;
}

/** A host-facts document (`ruletrail snapshot facts`); a bad one is a usage error naming the file and reason. */
async function loadHostFacts(path: string): Promise<HostFacts> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`--host-facts ${path}: ${(err as Error).message}`);
  }
  try {
    return parseHostFacts(text, path);
  } catch (err) {
    throw new UsageError(`--host-facts ${(err as Error).message}`);
  }
}

/** `ip -j link show` output → ifindex → name. */
async function loadInterfaceNames(path: string): Promise<Map<number, string>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new UsageError(`--if-names ${path}: ${(err as Error).message}`);
  }
  if (!Array.isArray(parsed))
    throw new UsageError(`--if-names ${path}: expected the JSON array 'ip -j link show' prints`);
  const names = new Map<number, string>();
  for (const l of parsed as { ifindex?: unknown; ifname?: unknown }[])
    if (typeof l.ifindex === 'number' && typeof l.ifname === 'string') names.set(l.ifindex, l.ifname);
  return names;
}

function intOption(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0)
    throw new UsageError(`${name} must be a non-negative integer, got '${v}'`);
  return n;
}

async function detect(file: string): Promise<IngestAdapter> {
  if (file === '-') return adapterByName('kernel-log')!;
  let head: Buffer;
  try {
    head = await readHead(file, 8192);
  } catch (err) {
    throw new UsageError(`${file}: ${(err as Error).message}`);
  }
  const a = ADAPTERS.find((x) => x.sniff(head, file));
  if (!a)
    throw new UsageError(
      `${file}: cannot tell its format (tried ${ADAPTERS.map((x) => x.channel).join(', ')}); force one with --input-format`,
    );
  return a;
}

async function* countBytes(input: AsyncIterable<Buffer>, c: Counters): AsyncIterable<Buffer> {
  for await (const chunk of input) {
    c.bytes += chunk.length;
    yield chunk;
  }
}
