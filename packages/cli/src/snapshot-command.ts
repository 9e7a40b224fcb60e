/**
 * `ruletrail snapshot ship`: runs iptables-save (and ip6tables-save, and `nft -j list ruleset` with --nft)
 * periodically, and ships each snapshot — stamped with host, time and the sha256 of its content — to a
 * directory, a Kafka topic or an Elasticsearch index whenever its hash changed (and again every --resend, so a
 * consumer that lost its state gets the rules in force). The enrichment stage of `ruletrail run` joins each
 * packet with its host's snapshot in force at the packet's time.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError, escapeControl } from '@ruletrail/core';
import { hostFactsFromJson, type HostFactsDocument } from '@ruletrail/ruleset';
import {
  JsonLogger,
  makeEnvelope,
  type Logger,
  type SnapshotEnvelope,
  type SnapshotFormat,
} from '@ruletrail/pipeline';
import { KafkaSnapshotPublisher } from '@ruletrail/source-kafka';

export const SNAPSHOT_USAGE = `usage: ruletrail snapshot ship --to <destination> [options]
       ruletrail snapshot facts [--host NAME] [--out FILE] [--command addr=CMD] [--command link=CMD]

snapshot facts: prints this host's addresses and interfaces (ip -j addr, ip -d -j link) as the host-facts
document 'ruletrail explain --host-facts FILE' reads (docs/pipeline.md).

snapshot ship: runs iptables-save / ip6tables-save (and nft -j list ruleset with --nft) every --interval and
ships each snapshot whose content (or host facts) changed, stamped with host, time and sha256, with the
host's addresses and interfaces attached as 'facts', to:

  --to dir:PATH                 one JSON file per snapshot under PATH/<host>/ (read by snapshots.directory)
  --to kafka:HOST:PORT[,…]/TOPIC  a message keyed by host (read by snapshots.kafka)
  --to es:URL/INDEX             a document per snapshot (id: host-family-hash-time), for search and archive

  --host NAME          host name stamped on snapshots; must match the HOSTNAME of the host's trace lines
                       (default: this machine's short host name)
  --interval SECONDS   how often the rules are read (default 60)
  --resend SECONDS     ship unchanged rules again after this long (default 3600; 0 = never)
  --once               read and ship once, then exit
  --nft                also ship 'nft -j list ruleset' (stored, not yet joined with traces)
  --command FAMILY=CMD replace a command, e.g. ipv4='iptables-legacy-save' or ipv6='ip6tables-nft-save'
                       (FAMILY is ipv4, ipv6, nft, or addr / link for the host facts: default 'ip -j addr'
                       and 'ip -d -j link'; CMD runs with sh -c; FAMILY= with nothing switches it off, and
                       addr= ships no facts)
  --keep N             dir: snapshots kept per host (oldest removed; default 64)

Exit status: 0 ok, 1 a snapshot could not be taken or shipped (--once), 2 usage error.`;

interface Probe {
  readonly key: 'ipv4' | 'ipv6' | 'nft';
  readonly format: SnapshotFormat;
  readonly command: string;
  lastHash?: string;
  lastShipped?: number;
}

/** Where envelopes go. */
interface Destination {
  ship(env: SnapshotEnvelope): Promise<void>;
  close(): Promise<void>;
}

/** Runs `snapshot <sub>`; returns the exit code. */
export async function snapshotCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    process.stdout.write(SNAPSHOT_USAGE + '\n');
    return sub === undefined ? 2 : 0;
  }
  if (sub === 'facts') return factsCommand(rest);
  if (sub !== 'ship') throw new UsageError(`snapshot: unknown subcommand '${sub}' (known: ship, facts)`);
  const { values } = parseArgs({
    args: rest,
    strict: true,
    options: {
      to: { type: 'string' },
      host: { type: 'string' },
      interval: { type: 'string', default: '60' },
      resend: { type: 'string', default: '3600' },
      once: { type: 'boolean', default: false },
      nft: { type: 'boolean', default: false },
      command: { type: 'string', multiple: true },
      keep: { type: 'string', default: '64' },
      'log-level': { type: 'string', default: 'info' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(SNAPSHOT_USAGE + '\n');
    return 0;
  }
  if (!values.to)
    throw new UsageError('snapshot ship: --to is required (dir:PATH, kafka:BROKERS/TOPIC or es:URL/INDEX)');
  const interval = seconds('--interval', values.interval);
  const resend = seconds('--resend', values.resend);
  const keep = seconds('--keep', values.keep);
  const host = values.host ?? hostname().split('.')[0]!;
  const log = new JsonLogger(values['log-level'] as 'info').child('snapshot-ship');
  const commands = commandTable(values.command, {
    ipv4: 'iptables-save',
    ipv6: 'ip6tables-save',
    nft: 'nft -j list ruleset',
    ...FACTS_COMMANDS,
  });
  const probes: Probe[] = [
    { key: 'ipv4', format: 'iptables-save', command: commands.ipv4! },
    { key: 'ipv6', format: 'iptables-save', command: commands.ipv6! },
  ];
  if (values.nft) probes.push({ key: 'nft', format: 'nft-json', command: commands.nft! });
  // An empty command (`--command ipv6=`) switches that snapshot off.
  for (let i = probes.length - 1; i >= 0; i--) if (probes[i]!.command.trim() === '') probes.splice(i, 1);
  if (!probes.length) throw new UsageError('snapshot ship: every command is switched off');
  const dest = destination(values.to, keep, log);

  const ctl = new AbortController();
  const stop = (): void => ctl.abort();
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  let failures = 0;
  try {
    for (;;) {
      // Once per round, attached to every snapshot of the round. A host whose facts cannot be read still ships
      // its rules (the facts only make addrtype decidable).
      let facts: Facts | undefined;
      if (commands.addr!.trim() !== '') {
        try {
          facts = await takeFacts(commands, host);
        } catch (err) {
          log.warn('Reading the host facts failed; the snapshots are shipped without them.', {
            command: `${commands.addr} / ${commands.link}`,
            error: err,
          });
        }
      }
      for (const p of probes) {
        try {
          const content = await runCommand(p.command);
          const takenAt = new Date().toISOString();
          const env = makeEnvelope({
            host,
            ...(p.key !== 'nft' ? { family: p.key } : {}),
            format: p.format,
            takenAt,
            tool: p.command,
            content,
            ...(facts ? { facts: facts.document } : {}),
          });
          const now = Date.now();
          // The facts count as a change too (an address added), but not their capture time or lifetimes.
          const key = `${env.hash}/${facts?.hash ?? ''}`;
          const changed = key !== p.lastHash;
          if (!changed && (resend === 0 || now - (p.lastShipped ?? 0) < resend * 1000)) continue;
          await dest.ship(env);
          p.lastHash = key;
          p.lastShipped = now;
          log.info(
            changed ? 'Snapshot shipped (changed).' : 'Snapshot shipped again (unchanged, resend interval).',
            {
              host,
              family: p.key,
              hash: env.hash,
              takenAt,
              bytes: content.length,
              facts: facts ? facts.summary : 'none',
            },
          );
        } catch (err) {
          failures++;
          log.error('Taking or shipping a snapshot failed.', {
            family: p.key,
            command: p.command,
            error: err,
          });
        }
      }
      if (values.once || ctl.signal.aborted) break;
      await sleep(interval * 1000, ctl.signal);
      if (ctl.signal.aborted) break;
    }
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
    await dest.close();
  }
  return values.once && failures > 0 ? 1 : 0;
}

/** The host-facts commands (`ip -j addr` lists every address with its link; `ip -d -j link` adds the kind). */
const FACTS_COMMANDS = { addr: 'ip -j addr', link: 'ip -d -j link' } as const;

/** `--command KEY=CMD` over the defaults; only the defaults' keys are accepted. */
function commandTable(
  given: readonly string[] | undefined,
  defaults: Record<string, string>,
): Record<string, string> {
  const commands = { ...defaults };
  const keys = Object.keys(defaults);
  for (const c of given ?? []) {
    const m = /^([a-z0-9]+)=(.*)$/.exec(c);
    if (!m || !keys.includes(m[1]!))
      throw new UsageError(`--command: expected KEY=CMD with KEY one of ${keys.join(', ')}, got '${c}'`);
    commands[m[1]!] = m[2]!;
  }
  return commands;
}

interface Facts {
  readonly document: HostFactsDocument;
  /** sha256 of what the facts say (addresses, interfaces), not of when they were read. */
  readonly hash: string;
  readonly summary: string;
}

/** Runs the facts commands and checks what they printed with the reader consumers use. @throws on bad output. */
async function takeFacts(commands: Record<string, string>, host: string): Promise<Facts> {
  const json = async (cmd: string): Promise<unknown[]> => {
    const out = await runCommand(cmd);
    let v: unknown;
    try {
      v = JSON.parse(out);
    } catch (err) {
      throw new Error(`'${cmd}' did not print JSON: ${(err as Error).message}`);
    }
    if (!Array.isArray(v)) throw new Error(`'${cmd}' did not print a JSON array`);
    return v as unknown[];
  };
  const addr = await json(commands.addr!);
  const link = commands.link!.trim() !== '' ? await json(commands.link!) : undefined;
  const document: HostFactsDocument = {
    version: 1,
    host,
    capturedAt: new Date().toISOString(),
    addr,
    ...(link ? { link } : {}),
  };
  const parsed = hostFactsFromJson(document, commands.addr!);
  const said = JSON.stringify({ a: parsed.addresses, i: parsed.interfaces });
  return {
    document,
    hash: createHash('sha256').update(said).digest('hex'),
    summary: `${parsed.addresses.length} addresses, ${parsed.interfaces.length} interfaces`,
  };
}

/** `snapshot facts`: the host-facts document on stdout or in --out FILE. */
async function factsCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      host: { type: 'string' },
      out: { type: 'string' },
      command: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(SNAPSHOT_USAGE + '\n');
    return 0;
  }
  const commands = commandTable(values.command, { ...FACTS_COMMANDS });
  if (commands.addr!.trim() === '')
    throw new UsageError('snapshot facts: the addr command cannot be switched off');
  let facts: Facts;
  try {
    facts = await takeFacts(commands, values.host ?? hostname().split('.')[0]!);
  } catch (err) {
    process.stderr.write(`ruletrail: snapshot facts: ${escapeControl((err as Error).message)}\n`);
    return 1;
  }
  const text = JSON.stringify(facts.document, null, 1) + '\n';
  if (values.out) await writeFile(values.out, text);
  else process.stdout.write(text);
  return 0;
}

function seconds(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`${name} must be a non-negative number, got '${v}'`);
  return n;
}

/** stdout of `sh -c cmd`; rejects with its stderr when it fails. */
function runCommand(cmd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', cmd], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
      else
        reject(
          new Error(
            `'${cmd}' exited with ${code}: ${Buffer.concat(err).toString('utf8').trim().slice(0, 500)}`,
          ),
        );
    });
  });
}

function destination(to: string, keep: number, log: Logger): Destination {
  const m = /^(dir|kafka|es):(.+)$/.exec(to);
  if (!m) throw new UsageError(`--to: expected dir:PATH, kafka:BROKERS/TOPIC or es:URL/INDEX, got '${to}'`);
  const where = m[2]!;
  switch (m[1]) {
    case 'dir':
      return new DirectoryDestination(where, keep);
    case 'kafka': {
      const slash = where.lastIndexOf('/');
      if (slash < 0) throw new UsageError(`--to kafka: expected BROKERS/TOPIC, got '${where}'`);
      const pub = new KafkaSnapshotPublisher(
        {
          brokers: where.slice(0, slash).split(','),
          topic: where.slice(slash + 1),
          clientId: 'ruletrail-snapshot-ship',
        },
        log,
      );
      return { ship: (e) => pub.publish(e), close: () => pub.close() };
    }
    default: {
      const slash = where.lastIndexOf('/');
      if (slash < 0 || !/^https?:\/\//.test(where))
        throw new UsageError(`--to es: expected http(s)://HOST:PORT/INDEX, got '${where}'`);
      return new EsDestination(where.slice(0, slash), where.slice(slash + 1));
    }
  }
}

/** `dir:PATH`: PATH/<host>/<time>-<family>-<hash12>.json, written atomically, oldest pruned beyond `keep`. */
class DirectoryDestination implements Destination {
  constructor(
    private readonly _dir: string,
    private readonly _keep: number,
  ) {}

  async ship(env: SnapshotEnvelope): Promise<void> {
    const dir = join(this._dir, env.host.replace(/[^A-Za-z0-9._-]/g, '_'));
    await mkdir(dir, { recursive: true });
    const name = `${env.takenAt.replace(/[:.]/g, '')}-${env.family ?? 'nft'}-${env.hash.slice(0, 12)}.json`;
    const tmp = join(dir, `.${name}.tmp`);
    await writeFile(tmp, JSON.stringify(env) + '\n');
    // The reader only looks at *.json: a half-written file is never seen.
    await rename(tmp, join(dir, name));
    if (this._keep > 0) {
      const files = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
      for (const f of files.slice(0, Math.max(0, files.length - this._keep)))
        await rm(join(dir, f), { force: true });
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** `es:URL/INDEX`: one document per snapshot with a deterministic id (a re-ship is an overwrite, not a copy). */
class EsDestination implements Destination {
  constructor(
    private readonly _url: string,
    private readonly _index: string,
  ) {}

  async ship(env: SnapshotEnvelope): Promise<void> {
    const id = encodeURIComponent(
      `${env.host}-${env.family ?? 'nft'}-${env.hash.slice(0, 16)}-${env.takenAt}`,
    );
    const res = await fetch(`${this._url}/${encodeURIComponent(this._index)}/_doc/${id}?refresh=false`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ '@timestamp': env.takenAt, ...env }),
    });
    if (!res.ok) throw new Error(`Elasticsearch answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
