/**
 * `ruletrail trace` options: parsed and checked before anything touches the node, so a typo never leaves a rule
 * behind.
 */
import { parseArgs } from 'node:util';
import { UsageError } from '@ruletrail/core';
import { compileFilter, FilterError, type CompiledFilter } from './filter';

export const TRACE_USAGE = `usage: ruletrail trace [filter] [options]          (as root, on the node)
       ruletrail trace --cleanup [--netns NAME]

Installs a rate-limited TRACE for the packets the filter selects, reads the kernel's trace channel, and prints
each packet explained (verdict, deciding rule, who set the mark, NAT, Kubernetes service) as soon as it is
complete, then a summary. Every rule and sysctl it adds is removed when it stops: after --duration/--count,
Ctrl-C, SIGTERM, a crash or a failed start; after a SIGKILL, the next 'ruletrail trace' (or --cleanup) does it.

  filter                 tcpdump-like: tcp and dst port 52000 and src 10.0.0.0/8   (words, quoted or not)
                         primitives: tcp udp sctp icmp icmp6 ip ip6, [src|dst] host|net|port|portrange,
                         src|dst ADDR[/LEN], tcp[tcpflags] & tcp-syn != 0, tcp[tcpflags] == tcp-syn;
                         and/or/not and parentheses
  --match 'ARGS'         instead of a filter: iptables match arguments ('-p tcp --dport 52000 --syn'), or for
                         --backend nft an nft expression ('tcp dport 52000')
  --duration TIME        stop after TIME (30s, 2m, 500ms; default 60s; 0 = until Ctrl-C/SIGTERM)
  --count N              stop after N explained packets
  --format text|json     coloured text (default) or NDJSON, one explanation per line
  --rate N[/s|/m]        TRACE at most N packets per second (default 10/s; a burst of N)
  --no-limit             no rate limit (required to trace without one: a TRACE on a busy node floods the log)
  --netns NAME           trace inside network namespace NAME (ip netns); sets nf_log_all_netns for kernel-log
  --backend B            iptables-legacy | iptables-nft | nftables (default: detected from the node's rules)
  --channel C            kernel-log (legacy default) | nflog-pcap (legacy) | xtables-monitor (iptables-nft
                         default) | nft-monitor (nftables default; also for iptables-nft)
  --sink CONFIG          send explanations through the sinks of a 'ruletrail run' pipeline config instead
  --save DIR             keep the capture and the snapshots in DIR ('ruletrail explain' reads them again)
  --window MS            correlation window (default 2000)
  --cleanup              only remove what a killed trace left behind (rules by their comment, sysctls), then exit
  --state-dir DIR        where sessions record what they changed (default /run/ruletrail)
  --no-color, --quiet

Exit status: 0 ok, 1 the trace failed (the node is restored), 2 usage error.`;

export type Backend = 'iptables-legacy' | 'iptables-nft' | 'nftables';
export type TraceChannel = 'kernel-log' | 'nflog-pcap' | 'xtables-monitor' | 'nft-monitor';

export const BACKENDS: readonly Backend[] = ['iptables-legacy', 'iptables-nft', 'nftables'];
export const CHANNELS: readonly TraceChannel[] = [
  'kernel-log',
  'nflog-pcap',
  'xtables-monitor',
  'nft-monitor',
];

/** Which channels each backend's TRACE reaches. */
export const CHANNELS_OF: Record<Backend, readonly TraceChannel[]> = {
  'iptables-legacy': ['kernel-log', 'nflog-pcap'],
  'iptables-nft': ['xtables-monitor', 'nft-monitor'],
  nftables: ['nft-monitor'],
};

/** What to trace: a compiled tcpdump-like filter, or raw match text for the backend. */
export type Selection =
  | { readonly kind: 'filter'; readonly filter: CompiledFilter }
  | { readonly kind: 'match'; readonly text: string; readonly args: readonly string[] };

export interface TraceOptions {
  readonly cleanupOnly: boolean;
  readonly selection: Selection;
  /** ms; 0 = until interrupted. */
  readonly durationMs: number;
  readonly count?: number;
  readonly format: 'text' | 'json';
  /** Packets per second; undefined only with --no-limit. */
  readonly rate?: { readonly perSecond: number; readonly text: string };
  readonly netns?: string;
  readonly backend?: Backend;
  readonly channel?: TraceChannel;
  readonly sink?: string;
  readonly save?: string;
  readonly windowMs: number;
  readonly stateDir: string;
  readonly color: boolean;
  readonly quiet: boolean;
  readonly help: boolean;
}

export const DEFAULT_DURATION_MS = 60_000;
export const DEFAULT_RATE = 10;
export const DEFAULT_STATE_DIR = '/run/ruletrail';

/** Parses `ruletrail trace` arguments. @throws UsageError with the reason. */
export function parseTraceOptions(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = {},
  isTty = false,
): TraceOptions {
  // `--match '-p tcp …'`: a value that starts with a dash is refused by parseArgs unless attached with '='.
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--match' && i + 1 < argv.length) args.push(`--match=${argv[++i]!}`);
    else args.push(a);
  }
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      duration: { type: 'string' },
      count: { type: 'string' },
      format: { type: 'string', default: 'text' },
      rate: { type: 'string' },
      'no-limit': { type: 'boolean', default: false },
      netns: { type: 'string' },
      match: { type: 'string' },
      backend: { type: 'string' },
      channel: { type: 'string' },
      sink: { type: 'string' },
      save: { type: 'string' },
      window: { type: 'string' },
      cleanup: { type: 'boolean', default: false },
      'state-dir': { type: 'string' },
      'no-color': { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const format = values.format;
  if (format !== 'text' && format !== 'json')
    throw new UsageError(`--format must be text or json, got '${format}'`);
  const backend = values.backend !== undefined ? parseBackend(values.backend) : undefined;
  const channel = values.channel !== undefined ? parseChannel(values.channel) : undefined;
  if (backend && channel && !CHANNELS_OF[backend].includes(channel))
    throw new UsageError(
      `--channel ${channel} does not carry ${backend} traces (it takes: ${CHANNELS_OF[backend].join(', ')})`,
    );
  if (values.netns !== undefined && !/^[A-Za-z0-9_.-]+$/.test(values.netns))
    throw new UsageError(`--netns: '${values.netns}' is not a network namespace name`);
  const common = {
    netns: values.netns,
    stateDir: values['state-dir'] ?? DEFAULT_STATE_DIR,
    quiet: values.quiet,
    help: values.help,
  };
  if (values.cleanup) {
    const extra = positionals.length ? 'a filter' : values.match !== undefined ? '--match' : undefined;
    if (extra)
      throw new UsageError(`--cleanup takes no ${extra}: it only removes what earlier traces left behind`);
    return {
      ...strip(common),
      cleanupOnly: true,
      selection: { kind: 'match', text: '', args: [] },
      durationMs: 0,
      format,
      windowMs: 2000,
      color: false,
      ...(backend ? { backend } : {}),
    };
  }

  let selection: Selection;
  const filterText = positionals.join(' ').trim();
  if (values.match !== undefined) {
    if (filterText) throw new UsageError('give either a filter or --match, not both');
    selection = { kind: 'match', text: values.match, args: parseMatchArgs(values.match) };
  } else {
    try {
      selection = { kind: 'filter', filter: compileFilter(filterText) };
    } catch (e) {
      if (e instanceof FilterError) throw new UsageError(`filter: ${e.message}`);
      throw e;
    }
  }

  if (values['no-limit'] && values.rate !== undefined)
    throw new UsageError('--rate and --no-limit contradict each other: give one');
  const rate = values['no-limit'] ? undefined : parseRate(values.rate ?? `${DEFAULT_RATE}/s`);
  const durationMs = values.duration !== undefined ? parseDuration(values.duration) : DEFAULT_DURATION_MS;
  const count = values.count !== undefined ? positiveInt('--count', values.count) : undefined;
  const windowMs = values.window !== undefined ? positiveInt('--window', values.window) : 2000;
  const color = format === 'text' && !values['no-color'] && !env.NO_COLOR && (isTty || !!env.FORCE_COLOR);
  return {
    ...strip(common),
    cleanupOnly: false,
    selection,
    durationMs,
    ...(count !== undefined ? { count } : {}),
    format,
    ...(rate ? { rate } : {}),
    ...(backend ? { backend } : {}),
    ...(channel ? { channel } : {}),
    ...(values.sink !== undefined ? { sink: values.sink } : {}),
    ...(values.save !== undefined ? { save: values.save } : {}),
    windowMs,
    color,
  };
}

function strip<T extends Record<string, unknown>>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as T;
}

export function parseBackend(v: string): Backend {
  const aliases: Record<string, Backend> = {
    legacy: 'iptables-legacy',
    'iptables-legacy': 'iptables-legacy',
    'iptables-nft': 'iptables-nft',
    nft: 'nftables',
    nftables: 'nftables',
  };
  const b = aliases[v];
  if (!b) throw new UsageError(`--backend must be one of ${BACKENDS.join(', ')}, got '${v}'`);
  return b;
}

export function parseChannel(v: string): TraceChannel {
  const aliases: Record<string, TraceChannel> = {
    'kernel-log': 'kernel-log',
    kern: 'kernel-log',
    kmsg: 'kernel-log',
    'nflog-pcap': 'nflog-pcap',
    nflog: 'nflog-pcap',
    'xtables-monitor': 'xtables-monitor',
    'nft-monitor': 'nft-monitor',
  };
  const c = aliases[v];
  if (!c) throw new UsageError(`--channel must be one of ${CHANNELS.join(', ')}, got '${v}'`);
  return c;
}

/** `30s`, `2m`, `1h`, `500ms`, `45` (seconds) → ms. */
export function parseDuration(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v.trim());
  if (!m) throw new UsageError(`--duration: expected a time like 30s, 2m or 500ms, got '${v}'`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const ms = n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit]!;
  return Math.round(ms);
}

/** `10/s`, `10/second`, `600/m`, `10` → packets per second (as iptables' limit understands them). */
export function parseRate(v: string): { perSecond: number; text: string } {
  const m = /^(\d+)(?:\/(s|sec|second|m|min|minute))?$/.exec(v.trim());
  if (!m) throw new UsageError(`--rate: expected N/s or N/m (packets), got '${v}'`);
  const n = Number(m[1]);
  if (n <= 0)
    throw new UsageError('--rate must be at least 1 packet (use --no-limit to trace without a limit)');
  const perMinute = m[2] !== undefined && m[2].startsWith('m');
  return { perSecond: perMinute ? n / 60 : n, text: perMinute ? `${n}/minute` : `${n}/second` };
}

function positiveInt(name: string, v: string): number {
  if (!/^\d+$/.test(v) || Number(v) <= 0)
    throw new UsageError(`${name} must be a positive integer, got '${v}'`);
  return Number(v);
}

/** Options of iptables that select table, chain, target or action: a --match must not carry them. */
const FORBIDDEN_IN_MATCH = new Set([
  '-t',
  '--table',
  '-A',
  '--append',
  '-I',
  '--insert',
  '-D',
  '--delete',
  '-R',
  '--replace',
  '-F',
  '--flush',
  '-X',
  '-N',
  '-P',
  '-j',
  '--jump',
  '-g',
  '--goto',
]);

/** Splits `--match` text like a shell would (quotes, backslashes) and rejects table/chain/target options. */
export function parseMatchArgs(text: string): string[] {
  const args = shellSplit(text);
  if (args.length === 0) throw new UsageError('--match is empty');
  for (const a of args)
    if (FORBIDDEN_IN_MATCH.has(a))
      throw new UsageError(`--match takes match arguments only; '${a}' is chosen by ruletrail trace itself`);
  return args;
}

/** Splits a shell-quoted line into words (also used on iptables-save lines, which quote comments). */
export function shellSplit(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let has = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < text.length && '"\\'.includes(text[i + 1]!))
        cur += text[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      has = true;
    } else if (c === '\\' && i + 1 < text.length) {
      cur += text[++i];
      has = true;
    } else if (/\s/.test(c)) {
      if (has || cur) out.push(cur);
      cur = '';
      has = false;
    } else {
      cur += c;
      has = true;
    }
  }
  if (quote) throw new UsageError(`unbalanced ${quote} in '${text}'`);
  if (has || cur) out.push(cur);
  return out;
}
