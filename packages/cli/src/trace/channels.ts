/**
 * Trace channels, live: each turns the kernel's trace output into a byte stream for the matching ingest adapter,
 * and tees the bytes into the capture file (so `ruletrail explain` can read the very same input again).
 *
 *  kernel-log       /dev/kmsg (nf_log), read non-blocking; each TRACE record is rewritten with its wall-clock
 *                   time (the record carries the monotonic clock only) as a `short-unix` line
 *  nflog-pcap       `tcpdump -i nflog:0 -U -w -` (nfnetlink_log group 0, where TRACE goes), pcap bytes
 *  xtables-monitor  `xtables-monitor --trace` (iptables-nft)
 *  nft-monitor      `nft monitor` (trace and ruleset events; the adapter skips the latter, the session uses them
 *                   to re-read the ruleset)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  constants,
  createWriteStream,
  openSync,
  readSync,
  writeFileSync,
  type WriteStream,
} from 'node:fs';
import { hostname } from 'node:os';
import { StringDecoder } from 'node:string_decoder';
import { join } from 'node:path';
import type { IngestAdapter } from '@ruletrail/core';
import { adapterByName, withInterfaceNames } from '../builtins';
import type { TraceChannel } from './options';
import type { ChildRecord } from './state';
import { DEBIAN_PACKAGE, childEnv, type Host } from './system';
import { TraceError } from './errors';

/** An async iterable fed by pushes: the bridge from callbacks to the adapter's `decode`. */
export class ChunkQueue implements AsyncIterable<Buffer> {
  private readonly _items: Buffer[] = [];
  private _ended = false;
  private _wake: (() => void) | undefined;

  push(b: Buffer): void {
    if (this._ended) return;
    this._items.push(b);
    this._wake?.();
  }

  end(): void {
    this._ended = true;
    this._wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    for (;;) {
      const b = this._items.shift();
      if (b) {
        yield b;
        continue;
      }
      if (this._ended) return;
      await new Promise<void>((resolve) => (this._wake = resolve));
      this._wake = undefined;
    }
  }
}

/** A running channel. */
export interface LiveChannel {
  readonly name: TraceChannel;
  readonly adapter: IngestAdapter;
  /** File name of the capture inside the session directory. */
  readonly captureFile: string;
  /** Extra files for `ruletrail explain` (`--if-names links.json`). */
  readonly explainArgs: readonly string[];
  readonly chunks: AsyncIterable<Buffer>;
  /** Whether events lack times (monitor tools print none): the session stamps them on arrival. */
  readonly stampArrival: boolean;
  readonly children: readonly ChildRecord[];
  /** Called with each ruleset event line the channel sees (nft monitor). */
  onRulesetEvent?: () => void;
  /** Set when the channel's process died on its own: why. */
  readonly failure: string | undefined;
  /**
   * Restarts the channel's process (nft monitor: it reads the ruleset once, at start, and prints "unknown rule
   * handle" for rules added later). Traces in the moment between the two processes are lost, not duplicated.
   */
  restart?(): Promise<void>;
  /** Stops reading; resolves when the stream has ended and the capture file is complete. */
  stop(): Promise<void>;
}

export interface ChannelContext {
  readonly host: Host;
  readonly netns?: string;
  readonly dir: string;
  /** Records a child process before it can do anything (state file). */
  readonly recordChild: (c: ChildRecord) => void;
}

/** Starts a channel; resolves when it is ready to receive the first trace record. */
export async function openChannel(name: TraceChannel, ctx: ChannelContext): Promise<LiveChannel> {
  switch (name) {
    case 'kernel-log':
      return openKmsg(ctx);
    case 'nflog-pcap':
      return openNflog(ctx);
    case 'xtables-monitor':
      return openTool(ctx, name, 'xtables-monitor.txt', ['xtables-monitor', '--trace'], 'xtables-monitor');
    case 'nft-monitor':
      return openTool(ctx, name, 'nft-monitor.txt', ['nft', 'monitor'], 'nft');
  }
}

/** The commands each channel runs (checked before anything on the node is changed). */
export const CHANNEL_TOOLS: Readonly<Record<TraceChannel, readonly string[]>> = {
  'kernel-log': [],
  'nflog-pcap': ['tcpdump'],
  'xtables-monitor': ['xtables-monitor', 'stdbuf'],
  'nft-monitor': ['nft', 'stdbuf'],
};

export function requireTool(host: Host, tool: string, why: string): void {
  if (!host.has(tool))
    throw new TraceError(
      `${tool} is not installed; ${why} needs it (Debian/Ubuntu: apt-get install ${DEBIAN_PACKAGE[tool] ?? tool})`,
    );
}

// ---------------------------------------------------------------------------------------------------------
// /dev/kmsg

/** `/dev/kmsg` record `prio,seq,usec,flags[,…];message\n[ continuation]` → message and monotonic µs. */
export function parseKmsgRecord(rec: string): { usec: number; message: string } | undefined {
  const semi = rec.indexOf(';');
  if (semi < 0) return undefined;
  const head = rec.slice(0, semi).split(',');
  if (head.length < 3) return undefined;
  const usec = Number(head[2]);
  if (!Number.isFinite(usec)) return undefined;
  const nl = rec.indexOf('\n', semi);
  return { usec, message: rec.slice(semi + 1, nl < 0 ? undefined : nl) };
}

/**
 * A kernel message as a journald `short-unix` line with its wall-clock time: the kernel-log adapter reads it,
 * and so does `ruletrail explain` from the capture file. `offsetUs` = wall clock − monotonic clock, in µs.
 */
export function kmsgToLine(usec: number, message: string, offsetUs: number, host: string): string {
  const wall = usec + offsetUs;
  const sec = Math.floor(wall / 1e6);
  const frac = String(Math.floor(wall - sec * 1e6)).padStart(6, '0');
  return `${sec}.${frac} ${host} kernel: ${message}\n`;
}

/** Wall clock minus the kernel's monotonic clock (what /dev/kmsg stamps), in µs. */
export function monotonicOffsetUs(): number {
  return Date.now() * 1000 - Number(process.hrtime.bigint() / 1000n);
}

function openKmsg(ctx: ChannelContext): Promise<LiveChannel> {
  const fd = openSync('/dev/kmsg', constants.O_RDONLY | constants.O_NONBLOCK);
  const buf = Buffer.alloc(16384);
  const read = (): string | null | undefined => {
    try {
      const n = readSync(fd, buf, 0, buf.length, null);
      return n > 0 ? buf.toString('utf8', 0, n) : null;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') return null;
      // EPIPE: records were overwritten before we read them; the next read goes on with the oldest kept one.
      if (code === 'EPIPE') return undefined;
      throw e;
    }
  };
  // Skip what the kernel log held before the trace started.
  for (let i = 0; i < 1_000_000; i++) if (read() === null) break;
  const offsetUs = monotonicOffsetUs();
  const host = hostname().split('.')[0]!;
  const q = new ChunkQueue();
  const file = createWriteStream(join(ctx.dir, 'kern.log'));
  let failure: string | undefined;
  const timer = setInterval(() => {
    const lines: string[] = [];
    try {
      for (let i = 0; i < 10_000; i++) {
        const rec = read();
        if (rec === null) break;
        if (rec === undefined) continue;
        const r = parseKmsgRecord(rec);
        if (!r || !r.message.startsWith('TRACE: ')) continue;
        lines.push(kmsgToLine(r.usec, r.message, offsetUs, host));
      }
    } catch (e) {
      failure = `reading /dev/kmsg failed: ${(e as Error).message}`;
      clearInterval(timer);
      q.end();
    }
    if (lines.length) {
      const b = Buffer.from(lines.join(''));
      file.write(b);
      q.push(b);
    }
  }, 50);
  return Promise.resolve({
    name: 'kernel-log',
    adapter: adapterByName('kernel-log')!,
    captureFile: 'kern.log',
    explainArgs: [],
    chunks: q,
    stampArrival: false,
    children: [],
    get failure() {
      return failure;
    },
    async stop() {
      clearInterval(timer);
      q.end();
      closeSync(fd);
      await endStream(file);
    },
  });
}

// ---------------------------------------------------------------------------------------------------------
// Child-process channels

function spawnIn(ctx: ChannelContext, argv: readonly string[]): ChildProcess {
  const full = ctx.netns ? ['ip', 'netns', 'exec', ctx.netns, ...argv] : [...argv];
  return spawn(full[0]!, full.slice(1), {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: childEnv(),
  });
}

interface Piped {
  readonly child: ChildProcess;
  readonly queue: ChunkQueue;
  readonly file: WriteStream;
  stderr(): string;
  exited(): boolean;
  replaced: boolean;
  readonly closed: Promise<void>;
}

function pipeChild(
  ctx: ChannelContext,
  argv: readonly string[],
  command: string,
  captureFile: string,
  onData?: (b: Buffer) => void,
  /** A restarted process goes on writing into its predecessor's queue and capture file. */
  shared?: { readonly queue: ChunkQueue; readonly file: WriteStream },
  /**
   * Text output whose lines carry no time (the monitors): each complete line is prefixed with the time it
   * arrived (`2026-12-04T15:51:49.916Z `), in the saved capture and in what the adapter reads live alike, so
   * `ruletrail explain` on the saved capture joins each packet with the snapshot the live trace used.
   */
  stampLines = false,
): Piped {
  const child = spawnIn(ctx, argv);
  if (child.pid !== undefined)
    ctx.recordChild({ pid: child.pid, command, ...(ctx.netns ? { netns: ctx.netns } : {}) });
  const queue = shared?.queue ?? new ChunkQueue();
  const file = shared?.file ?? createWriteStream(join(ctx.dir, captureFile));
  let err = '';
  let exited = false;
  child.stderr!.on('data', (b: Buffer) => {
    if (err.length < 65536) err += b.toString('utf8');
  });
  const text = new StringDecoder('utf8');
  let partial = '';
  const stamped = (chunk: string, all: boolean): Buffer | undefined => {
    const t = partial + chunk;
    const end = all ? t.length : t.lastIndexOf('\n') + 1;
    partial = t.slice(end);
    if (end === 0) return undefined;
    const at = new Date().toISOString();
    const lines = t.slice(0, end).split('\n');
    if (lines.at(-1) === '') lines.pop();
    return Buffer.from(lines.map((l) => `${at} ${l}\n`).join(''), 'utf8');
  };
  const out = (b: Buffer | undefined): void => {
    if (!b) return;
    file.write(b);
    queue.push(b);
  };
  child.stdout!.on('data', (b: Buffer) => {
    onData?.(b);
    out(stampLines ? stamped(text.write(b), false) : b);
  });
  const piped: Piped = {
    child,
    queue,
    file,
    stderr: () => err,
    exited: () => exited,
    replaced: false,
    closed: new Promise<void>((resolve) => {
      const done = (): void => {
        if (exited) return;
        exited = true;
        // A last line without its newline.
        if (stampLines) out(stamped(text.end(), true));
        // A process being replaced must not end the stream its successor writes to.
        if (!piped.replaced) queue.end();
        resolve();
      };
      child.on('error', (e) => {
        err += e.message;
        done();
      });
      child.on('close', done);
    }),
  };
  return piped;
}

async function stopChild(p: Piped): Promise<void> {
  if (!p.exited()) {
    p.child.kill('SIGTERM');
    const t = setTimeout(() => p.child.kill('SIGKILL'), 2000);
    await p.closed;
    clearTimeout(t);
  }
  await endStream(p.file);
}

function endStream(s: WriteStream): Promise<void> {
  return new Promise((resolve) => s.end(resolve));
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** `nfnetlink_log` groups bound in the namespace: `/proc/net/netfilter/nfnetlink_log` (group, portid, …). */
export function boundNflogGroups(text: string): { group: number; portid: number }[] {
  const out: { group: number; portid: number }[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 2 && /^\d+$/.test(f[0]!) && /^\d+$/.test(f[1]!))
      out.push({ group: Number(f[0]), portid: Number(f[1]) });
  }
  return out;
}

async function openNflog(ctx: ChannelContext): Promise<LiveChannel> {
  requireTool(ctx.host, 'tcpdump', 'the nflog-pcap channel');
  const groups = ctx.host.run(
    ['cat', '/proc/net/netfilter/nfnetlink_log'],
    ctx.netns ? { netns: ctx.netns } : {},
  );
  const g0 = boundNflogGroups(groups.stdout).find((g) => g.group === 0);
  if (g0)
    throw new TraceError(
      `NFLOG group 0 (where TRACE goes through nfnetlink_log) is already bound by netlink port ${g0.portid}` +
        ` (usually that process id: another tracer, ulogd or tcpdump -i nflog)${ctx.netns ? ` in netns ${ctx.netns}` : ''};` +
        ' stop it, or use --channel kernel-log',
    );
  const links = ctx.host.run(['ip', '-j', 'link', 'show'], ctx.netns ? { netns: ctx.netns } : {});
  const ifNames = new Map<number, string>();
  if (links.code === 0) {
    writeFileSync(join(ctx.dir, 'links.json'), links.stdout);
    for (const l of JSON.parse(links.stdout) as { ifindex: number; ifname: string }[])
      ifNames.set(l.ifindex, l.ifname);
  }
  const p = pipeChild(ctx, ['tcpdump', '-i', 'nflog:0', '-U', '-w', '-'], 'tcpdump', 'nflog.pcap');
  for (let waited = 0; !p.stderr().includes('listening on'); waited += 50) {
    if (p.exited()) {
      const e = p.stderr().trim();
      if (/busy|Address already in use|EBUSY/i.test(e))
        throw new TraceError(`NFLOG group 0 is already bound by another process (another tracer?): ${e}`);
      throw new TraceError(`tcpdump -i nflog:0 exited: ${e}`);
    }
    if (waited > 10_000)
      throw new TraceError(`tcpdump did not start listening on nflog:0 within 10 s: ${p.stderr().trim()}`);
    await sleep(50);
  }
  return {
    name: 'nflog-pcap',
    adapter: withInterfaceNames(adapterByName('nflog-pcap')!, ifNames.size ? ifNames : undefined),
    captureFile: 'nflog.pcap',
    explainArgs: links.code === 0 ? ['--if-names', 'links.json'] : [],
    chunks: p.queue,
    stampArrival: false,
    children: [{ pid: p.child.pid!, command: 'tcpdump' }],
    get failure() {
      return p.exited() ? `tcpdump exited: ${p.stderr().trim()}` : undefined;
    },
    stop: () => stopChild(p),
  };
}

async function openTool(
  ctx: ChannelContext,
  name: TraceChannel,
  captureFile: string,
  argv: string[],
  tool: string,
): Promise<LiveChannel> {
  requireTool(ctx.host, tool === 'nft' ? 'nft' : 'xtables-monitor', `the ${name} channel`);
  requireTool(ctx.host, 'stdbuf', `the ${name} channel`);
  // The tools block-buffer a pipe: line buffering makes each trace line arrive as it is printed.
  let partial = '';
  const ch: { onRulesetEvent?: () => void } = {};
  const watchEvents = name === 'nft-monitor';
  const onData = (b: Buffer): void => {
    if (!watchEvents) return;
    const text = partial + b.toString('utf8');
    const lines = text.split('\n');
    partial = lines.pop() ?? '';
    // Ruleset events (`add rule …`, `# new generation …`) say the ruleset changed: re-read it now.
    if (lines.some((l) => l.trim() !== '' && !l.startsWith('trace id '))) ch.onRulesetEvent?.();
  };
  let p = pipeChild(ctx, ['stdbuf', '-oL', ...argv], tool, captureFile, onData, undefined, true);
  // Neither tool says when it is listening: give it a moment, and fail if it died.
  await sleep(400);
  if (p.exited())
    throw new TraceError(`${argv.join(' ')} exited at start: ${p.stderr().trim() || 'no message'}`);
  const live: LiveChannel = {
    name,
    adapter: adapterByName(name)!,
    captureFile,
    explainArgs: [],
    chunks: p.queue,
    stampArrival: true,
    children: [{ pid: p.child.pid!, command: tool }],
    get failure() {
      if (!p.exited()) return undefined;
      const e = p.stderr().trim();
      if (name === 'xtables-monitor' && /Parsing nftables rule failed/.test(e))
        return `xtables-monitor exited: it cannot print an ip6tables-nft rule that matches a protocol (a known bug of iptables 1.8.9); trace IPv6 with --channel nft-monitor (${e})`;
      return `${argv.join(' ')} exited: ${e || 'no message'}`;
    },
    stop: () => stopChild(p),
    ...(name === 'nft-monitor'
      ? {
          async restart() {
            const old = p;
            old.replaced = true;
            if (!old.exited()) {
              old.child.kill('SIGTERM');
              await old.closed;
            }
            partial = '';
            p = pipeChild(
              ctx,
              ['stdbuf', '-oL', ...argv],
              tool,
              captureFile,
              onData,
              { queue: old.queue, file: old.file },
              true,
            );
            await sleep(300);
          },
        }
      : {}),
  };
  Object.defineProperty(live, 'onRulesetEvent', {
    set(f: () => void) {
      ch.onRulesetEvent = f;
    },
    get() {
      return ch.onRulesetEvent;
    },
  });
  return live;
}
