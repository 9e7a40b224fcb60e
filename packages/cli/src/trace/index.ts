/**
 * `ruletrail trace`: the whole TRACE set-up of a live investigation, in one command that always cleans up.
 * See TRACE_USAGE (options.ts) and README "Trace a packet on this node".
 */
import { createHash } from 'node:crypto';
import { renderText, ANSI, PLAIN, type Explanation } from '@ruletrail/explain';
import { loadConfig, JsonLogger, type RecordSink } from '@ruletrail/pipeline';
import { buildSink } from '../run-command';
import { chooseBackend, defaultChannel, probeBackend, requireNetns } from './backend';
import { CHANNEL_TOOLS, requireTool } from './channels';
import { TraceError } from './errors';
import { CHANNELS_OF, TRACE_USAGE, parseTraceOptions, type TraceOptions } from './options';
import { iptablesTool } from './plan';
import { runSession, type PacketOutput } from './session';
import { cleanupStale } from './state';
import { LocalHost, type Host } from './system';

export { TRACE_USAGE } from './options';

/** Runs `trace`; returns the exit code. */
export async function traceCommand(argv: string[], host: Host = new LocalHost()): Promise<number> {
  const o = parseTraceOptions(argv, process.env, process.stdout.isTTY === true);
  if (o.help) {
    process.stdout.write(TRACE_USAGE + '\n');
    return 0;
  }
  const log = (l: string): void => void process.stderr.write(l + '\n');
  try {
    return await trace(o, host, log);
  } catch (e) {
    if (e instanceof TraceError) {
      log(`ruletrail trace: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

async function trace(o: TraceOptions, host: Host, log: (l: string) => void): Promise<number> {
  if (host.uid() !== 0)
    throw new TraceError(
      'must run as root: it adds TRACE rules, sets net.netfilter sysctls and reads the kernel trace channel (sudo ruletrail trace …)',
    );
  requireTool(host, 'ip', 'ruletrail trace');
  if (o.netns) requireNetns(host, o.netns);

  // Leftovers of a killed session first: its rules would trace (and its sysctls log) forever otherwise.
  const cleaned = cleanupStale(host, o.stateDir, o.netns);
  if (o.cleanupOnly) {
    for (const l of cleaned) log(l);
    log(
      `ruletrail trace --cleanup: ${cleaned.length ? 'done' : 'nothing left behind'}${o.netns ? ` (netns ${o.netns})` : ''}`,
    );
    return 0;
  }
  if (cleaned.length && !o.quiet) for (const l of cleaned) log(`ruletrail trace: ${l}`);

  let backend = o.backend;
  if (!backend) {
    const chosen = chooseBackend(probeBackend(host, o.netns));
    backend = chosen.backend;
    if (chosen.note && !o.quiet) log(`ruletrail trace: ${chosen.note}`);
  }
  const channel = o.channel ?? defaultChannel(backend);
  if (!CHANNELS_OF[backend].includes(channel))
    throw new TraceError(
      `--channel ${channel} does not carry ${backend} traces (use ${CHANNELS_OF[backend].join(' or ')})`,
    );
  for (const t of CHANNEL_TOOLS[channel]) requireTool(host, t, `the ${channel} channel`);
  if (backend === 'nftables') requireTool(host, 'nft', 'the nftables backend');
  else
    for (const f of [4, 6] as const)
      for (const t of [iptablesTool(backend, f), iptablesTool(backend, f, true)])
        requireTool(host, t, `the ${backend} backend`);

  const output = o.sink ? await sinkOutput(o.sink, log) : stdoutOutput(o);
  const started = Date.now();
  const r = await runSession({ host, options: o, backend, channel, output, log });
  if (!o.quiet) {
    const v = Object.entries(r.verdicts)
      .map(([k, n]) => `${n} ${k}`)
      .join(', ');
    log(
      `ruletrail trace: ${r.packets} packet${r.packets === 1 ? '' : 's'}${v ? ` (${v})` : ''} in ${((Date.now() - started) / 1000).toFixed(1)} s, ` +
        `stopped by ${r.stoppedBy}; ${r.changes} ruleset change${r.changes === 1 ? '' : 's'} seen; ${r.errors} unreadable records; ` +
        'TRACE rules removed and sysctls restored',
    );
  }
  return r.errors > 0 ? 1 : 0;
}

function stdoutOutput(o: TraceOptions): PacketOutput {
  const palette = o.color ? ANSI : PLAIN;
  return {
    write(x: Explanation, index: number) {
      process.stdout.write(
        o.format === 'json' ? JSON.stringify(x) + '\n' : renderText(x, index, palette) + '\n\n',
      );
    },
    close: () => Promise.resolve(),
  };
}

/** `--sink CONFIG`: the explanations go to the sinks of a pipeline config (its sources are not used). */
export async function sinkOutput(configPath: string, log: (l: string) => void): Promise<PacketOutput> {
  const config = loadConfig(configPath);
  const jlog = new JsonLogger(config.log.level);
  const sinks: RecordSink[] = [];
  for (const s of config.sinks) sinks.push(await buildSink(s, jlog, () => undefined));
  let rejected = 0;
  return {
    write(x: Explanation) {
      const id = createHash('sha256')
        .update(
          `${x.packet.host ?? ''}|${x.packet.firstSeen ?? ''}|${x.steps[0]?.origin.file ?? ''}|${x.steps[0]?.origin.line ?? x.steps[0]?.origin.offset ?? ''}`,
        )
        .digest('hex')
        .slice(0, 32);
      for (const s of sinks) {
        if (!s.kinds.has('explanation')) continue;
        s.send(
          {
            kind: 'explanation',
            key: x.packet.host ?? '',
            id,
            ...(x.packet.firstSeen ? { time: x.packet.firstSeen } : {}),
            body: x,
          },
          (status, reason) => {
            if (status === 'rejected') {
              rejected++;
              log(`ruletrail trace: sink ${s.id} rejected a packet: ${reason ?? ''}`);
            }
          },
        );
      }
    },
    async close() {
      for (const s of sinks) await s.flush(30_000);
      for (const s of sinks) await s.close();
      if (rejected) log(`ruletrail trace: ${rejected} explanations were rejected by a sink`);
    },
  };
}
