// One capture pass: fresh namespaces, one backend, one channel, one scenario.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Channel } from './capture';
import { createTopology, linkMap } from './netns';
import type { Bg } from './proc';
import { nsRun, run, sleep, startBg, waitFor } from './proc';
import { canonIp, readRecords } from './records';
import type { Backend, ChannelName, LabAddresses, PassMeta, Probe, ProbeRun, Scenario } from './types';

const PROBE_PY = path.join(__dirname, '..', 'probe.py');
/** Timeout of a probe that expects no answer: below the 1 s initial SYN RTO, so one SYN per probe. */
const PROBE_TIMEOUT_S = '0.9';

export interface PassContext {
  readonly prefix: string;
  readonly tmp: string;
  readonly addresses: LabAddresses;
  readonly macPrefix: string;
}

export interface PassResult {
  readonly meta: PassMeta;
  readonly dir: string;
  /** Capture-level failures: connectivity not as expected, no TRACE records for a probe. */
  readonly problems: string[];
}

function bins(backend: Backend) {
  const s = backend === 'legacy' ? '-legacy' : '-nft';
  return {
    v4: `iptables${s}`,
    v6: `ip6tables${s}`,
    restore4: `iptables${s}-restore`,
    restore6: `ip6tables${s}-restore`,
    save4: `iptables${s}-save`,
    save6: `ip6tables${s}-save`,
  };
}

function version(argv: string[]): string {
  const r = run(argv, { allowFail: true });
  return (
    (r.stdout + r.stderr)
      .split('\n')
      .find((l) => l.trim())
      ?.trim() ?? '?'
  );
}

export function toolVersions(): Record<string, string> {
  return {
    iptables: version(['iptables-legacy', '-V']),
    'iptables-nft': version(['iptables-nft', '-V']),
    tcpdump: version(['tcpdump', '--version']),
    ulogd: version(['ulogd', '-V']),
    rsyslogd: version(['rsyslogd', '-v']),
  };
}

export async function startService(
  ns: string,
  kind: 'http' | 'udp',
  port: number,
  dir: string,
  tmp: string,
): Promise<Bg> {
  const www = path.join(tmp, 'www');
  fs.mkdirSync(www, { recursive: true });
  fs.writeFileSync(path.join(www, 'This is a test http server'), '');
  const argv =
    kind === 'http'
      ? ['ip', 'netns', 'exec', ns, 'python3', PROBE_PY, 'serve-http', String(port), www]
      : ['ip', 'netns', 'exec', ns, 'python3', PROBE_PY, 'serve-udp', String(port)];
  const logs = path.join(dir, 'logs');
  fs.mkdirSync(logs, { recursive: true });
  const bg = startBg(
    `${kind} service :${port} in ${ns}`,
    argv,
    path.join(logs, `svc-${port}.out`),
    path.join(logs, `svc-${port}.err`),
  );
  await waitFor(`${kind} service on ${port}`, () => {
    if (bg.exited()) throw new Error(`service ${port} exited: ${bg.stderr()}`);
    const ss = nsRun(ns, ['ss', '-H', kind === 'http' ? '-ltn' : '-lun', `sport = :${port}`], {
      allowFail: true,
    });
    return ss.stdout.trim().length > 0;
  });
  return bg;
}

export function runProbe(ns: string, probe: Probe, src: string, dst: string): ProbeRun {
  const base = { id: probe.id, expect: probe.expect, src, dst };
  if (probe.proto === 'icmp') {
    const t0 = Date.now();
    const r = nsRun(ns, ['ping', '-n', '-c', '1', '-W', '1', dst], { allowFail: true });
    return {
      ...base,
      result: r.code === 0 ? 'answer' : 'timeout',
      ms: Date.now() - t0,
      detail: r.stdout.split('\n')[1] ?? '',
    };
  }
  const argv = ['python3', PROBE_PY, probe.proto, dst, String(probe.dport), '--timeout', PROBE_TIMEOUT_S];
  if (probe.http) argv.push('--http');
  const r = nsRun(ns, argv, { allowFail: true });
  try {
    const o = JSON.parse(r.stdout.trim()) as { result: string; sport: number; ms: number; detail: string };
    return { ...base, result: o.result, sport: o.sport, ms: o.ms, detail: o.detail };
  } catch {
    return { ...base, result: 'error', detail: (r.stdout + r.stderr).trim() };
  }
}

/** The host-facts document of a namespace (packages/ruleset/src/host-facts.ts, version 1). */
function hostFacts(ns: string): Record<string, unknown> {
  return {
    version: 1,
    host: 'rtlab-node',
    capturedAt: new Date().toISOString(),
    addr: JSON.parse(nsRun(ns, ['ip', '-j', 'addr']).stdout) as unknown,
    link: JSON.parse(nsRun(ns, ['ip', '-d', '-j', 'link']).stdout) as unknown,
  };
}

function save(ns: string, argv: string[], file: string): boolean {
  const out = nsRun(ns, argv).stdout;
  if (!/^\*/m.test(out)) return false;
  fs.writeFileSync(file, out);
  return true;
}

export async function runPass(
  ctx: PassContext,
  scenario: Scenario,
  channel: Channel,
  backend: Backend,
  dir: string,
): Promise<PassResult> {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const a = ctx.addresses;
  const problems: string[] = [];
  const started = new Date().toISOString();
  const topo = createTopology({
    prefix: ctx.prefix,
    clientAddr: a.client,
    nodeAddr: a.node,
    macPrefix: ctx.macPrefix,
    ...(scenario.pod ? { pod: { podAddr: a.pod, nodeSide: a.nodePodSide } } : {}),
  });
  for (const cidr of scenario.nodeExtraAddresses ?? []) {
    run(['ip', '-n', topo.node, 'addr', 'add', cidr, 'dev', 'lo']);
    run(['ip', '-n', topo.client, 'route', 'add', cidr.replace(/\/\d+$/, ''), 'via', a.node.v4]);
  }
  const services: Bg[] = [];
  const b = bins(backend);
  const rules: string[] = [];
  const rulesAfter: string[] = [];
  const extra: string[] = [];
  const probes: ProbeRun[] = [];
  let mutationAt: string | undefined;
  try {
    const rs = scenario.rules(a);
    if (rs.v4) nsRun(topo.node, [b.restore4], { input: rs.v4 });
    if (rs.v6) nsRun(topo.node, [b.restore6], { input: rs.v6 });
    if (scenario.nft) nsRun(topo.node, ['nft', '-f', '-'], { input: scenario.nft(a) });
    for (const s of scenario.services) {
      const ns = s.ns === 'node' ? topo.node : s.ns === 'pod' ? topo.pod : topo.client;
      if (!ns) throw new Error(`service ${s.port} needs a pod namespace`);
      services.push(await startService(ns, s.kind, s.port, dir, ctx.tmp));
    }
    // The node's addresses and interfaces, as `ruletrail snapshot facts` records them (addrtype, NFLOG ifindex).
    fs.writeFileSync(path.join(dir, 'host-facts.json'), JSON.stringify(hostFacts(topo.node), null, 1) + '\n');
    const snapshot = (suffix: string, into: string[]) => {
      if (save(topo.node, [b.save4], path.join(dir, `iptables-save${suffix}.txt`)))
        into.push(`iptables-save${suffix}.txt`);
      if (save(topo.node, [b.save6], path.join(dir, `ip6tables-save${suffix}.txt`)))
        into.push(`ip6tables-save${suffix}.txt`);
      if (backend === 'nft') {
        fs.writeFileSync(
          path.join(dir, `nft-ruleset${suffix}.txt`),
          nsRun(topo.node, ['nft', '-a', 'list', 'ruleset']).stdout,
        );
        extra.push(`nft-ruleset${suffix}.txt`);
        // The same ruleset as JSON (`nft -j list ruleset`), for joins by rule handle; for a native nftables
        // ruleset it is the snapshot itself (iptables-nft-save cannot list native tables).
        fs.writeFileSync(
          path.join(dir, `nft-ruleset${suffix}.json`),
          nsRun(topo.node, ['nft', '-j', 'list', 'ruleset']).stdout,
        );
        (scenario.nft ? into : extra).push(`nft-ruleset${suffix}.json`);
      }
    };
    // The snapshot in force when the capture starts: this is what ruletrail is given.
    snapshot('', rules);
    const tag = `${ctx.prefix}-${scenario.name}-${channel.name}`;
    // Packets the node sends itself (OUTPUT) carry no MAC in the kernel log: they are the node's by source.
    const nodeSrc = [a.node.v4, a.node.v6, a.nodePodSide.v4, a.nodePodSide.v6].map((x) => `SRC=${x} `);
    const mine = (line: string) =>
      line.includes(`MAC=${ctx.macPrefix}:`) ||
      line.includes(`:${ctx.macPrefix}:`) ||
      (!line.includes(' MAC=') && / IN= OUT=/.test(line) && nodeSrc.some((x) => line.includes(x)));
    await channel.start(topo.node, dir, tag, mine);
    for (const [i, probe] of scenario.probes.entries()) {
      if (scenario.mutation && scenario.mutation.afterProbe === i) {
        // Seconds apart: iptables-save stamps snapshots to the second, and kernel-log times can lag the wall
        // clock by up to a second (imkmsg), so the snapshot-at-time join needs this margin on both sides.
        await sleep(2000);
        for (const argv of scenario.mutation.iptables) nsRun(topo.node, [b.v4, ...argv]);
        mutationAt = new Date().toISOString();
        snapshot('.after', rulesAfter);
        await sleep(2000);
      }
      const fromNs = probe.from === 'pod' ? topo.pod : probe.from === 'node' ? topo.node : topo.client;
      if (!fromNs) throw new Error(`probe ${probe.id} needs a pod namespace`);
      const srcHost = probe.from === 'pod' ? a.pod : probe.from === 'node' ? a.node : a.client;
      const src = probe.family === 4 ? srcHost.v4 : srcHost.v6;
      const dstHost = probe.to === 'node' ? a.node : probe.to === 'pod' ? a.pod : a.client;
      const dst = probe.dstAddr ?? (probe.family === 4 ? dstHost.v4 : dstHost.v6);
      const pr = runProbe(fromNs, probe, src, dst);
      probes.push(pr);
      if (pr.result !== probe.expect)
        problems.push(
          `probe ${probe.id}: ${pr.result}${pr.detail ? ` (${pr.detail})` : ''}, expected ${probe.expect}`,
        );
      await sleep(150);
    }
    await channel.stop();
    if (backend === 'legacy' || channel.name === 'nflog-pcap' || channel.name === 'ulogd-json') {
      fs.writeFileSync(path.join(dir, 'links.json'), JSON.stringify(linkMap(topo.node), null, 2) + '\n');
      extra.push('links.json');
    }
  } finally {
    await channel.dispose();
    for (const s of services.reverse()) await s.stop();
    topo.destroy();
  }

  // Independent check that the capture holds TRACE records for every probe.
  const capture = path.join(dir, channel.file);
  const recs = fs.existsSync(capture) ? readRecords(channel.name, capture) : [];
  if (recs.length === 0) problems.push(`capture ${channel.file} holds no TRACE records`);
  for (const pr of probes) {
    const probe = scenario.probes.find((p) => p.id === pr.id);
    if (!probe) continue;
    const n = recs.filter(
      (r) =>
        r.src === canonIp(pr.src) &&
        r.proto === probe.proto &&
        (probe.proto === 'icmp' ||
          (r.dport === probe.dport && (pr.sport === undefined || r.sport === pr.sport))),
    ).length;
    pr.records = n;
    if (n === 0) problems.push(`capture has no TRACE record for probe ${pr.id}`);
  }

  const meta: PassMeta = {
    scenario: scenario.name,
    channel: channel.name as ChannelName,
    backend,
    capture: channel.file,
    rules,
    ...(rulesAfter.length ? { rulesAfter } : {}),
    ...(extra.length ? { extra } : {}),
    hostFacts: 'host-facts.json',
    addresses: a,
    probes,
    ...(scenario.mutation && mutationAt
      ? {
          mutation: {
            afterProbe: scenario.mutation.afterProbe,
            describe: scenario.mutation.describe,
            at: mutationAt,
          },
        }
      : {}),
    kernel: run(['uname', '-r']).stdout.trim(),
    tools: {},
    captureCommand: channel.command,
    started,
    finished: new Date().toISOString(),
  };
  return { meta, dir, problems };
}
