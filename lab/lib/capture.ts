// The four capture channels. Only one logger per address family is active in a namespace
// (`net.netfilter.nf_log.<pf>`), and only one process can bind nfnetlink_log group 0, so every channel gets
// its own pass with a fresh topology.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Bg } from './proc';
import { onCleanup, run, sleep, startBg, waitFor } from './proc';
import { setHostSysctl, writeSysctl, readSysctl } from './netns';
import type { ChannelName } from './types';

/** A failure of a tool on this machine that the lab has proven and documents, rather than a lab failure. */
export class KnownIssue extends Error {}

export interface Channel {
  readonly name: ChannelName;
  /** File name of the capture inside the pass directory. */
  readonly file: string;
  /** The command line that produced the capture, for the record. */
  readonly command: string;
  /** Configures the node namespace's loggers; starts the capture; resolves when it is ready. */
  start(node: string, passDir: string, tag: string, mine: (kernelLogLine: string) => boolean): Promise<void>;
  /** Stops the capture and leaves the capture file at passDir/file. */
  stop(): Promise<void>;
  /** Idempotent: stops whatever still runs and undoes host settings, also when start or a probe failed. */
  dispose(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------
// nf_log_syslog (nf_log_ipv4/nf_log_ipv6) → kernel ring buffer → a private rsyslogd (imkmsg) → file

/**
 * One private rsyslogd for the whole run. It reads /dev/kmsg through imkmsg, which is non-destructive: other
 * readers (journald, a system rsyslogd with imklog on /proc/kmsg… which *is* destructive, see README) keep
 * working. It writes kern.* plus our marker lines, with RFC 3339 microsecond timestamps.
 */
export class PrivateRsyslog {
  private bg?: Bg;
  readonly out: string;
  private readonly conf: string;
  private readonly work: string;

  constructor(private readonly tmp: string) {
    this.out = path.join(tmp, 'rsyslog-kern.log');
    this.conf = path.join(tmp, 'rsyslog.conf');
    this.work = path.join(tmp, 'rsyslog-work');
  }

  async ensure(): Promise<void> {
    if (this.bg && !this.bg.exited()) return;
    fs.mkdirSync(this.work, { recursive: true });
    fs.writeFileSync(
      this.conf,
      [
        `global(workDirectory="${this.work}" localHostname="rtlab-node")`,
        'module(load="imkmsg")',
        'if ($syslogfacility-text == "kern") or ($msg contains "rtlab-marker") then {',
        `  action(type="omfile" file="${this.out}" template="RSYSLOG_FileFormat")`,
        '}',
        '',
      ].join('\n'),
    );
    onCleanup(`remove rsyslog config ${this.conf}`, () => fs.rmSync(this.conf, { force: true }));
    run(['rsyslogd', '-N1', '-f', this.conf]);
    this.bg = startBg(
      'rsyslogd',
      ['rsyslogd', '-n', '-f', this.conf, '-i', path.join(this.tmp, 'rsyslogd.pid')],
      path.join(this.tmp, 'rsyslogd.stdout'),
      path.join(this.tmp, 'rsyslogd.stderr'),
    );
    const probe = `rtlab-marker ${path.basename(this.tmp)} rsyslog-ready`;
    try {
      await this.marker(probe);
    } catch (e) {
      // Ubuntu confines rsyslogd with AppArmor, which forbids writing under /tmp.
      const profiles = readIf('/sys/kernel/security/apparmor/profiles');
      const hint = /rsyslogd/.test(profiles)
        ? ' (an AppArmor profile confines rsyslogd here and may forbid writing the lab file: aa-complain rsyslogd)'
        : '';
      throw new Error(`${e instanceof Error ? e.message : String(e)}${hint}`);
    }
  }

  /** Writes a marker into the kernel log and waits until rsyslogd has written it to the file. */
  async marker(text: string): Promise<number> {
    fs.writeFileSync('/dev/kmsg', `<13>${text}\n`);
    let at = -1;
    await waitFor(
      `rsyslogd to write "${text}"`,
      () => {
        if (this.bg?.exited()) throw new Error(`rsyslogd exited: ${this.bg.stderr()}`);
        const content = fs.existsSync(this.out) ? fs.readFileSync(this.out, 'utf8') : '';
        at = content.indexOf(text);
        return at >= 0;
      },
      10_000,
    );
    return at;
  }

  read(): string {
    return fs.existsSync(this.out) ? fs.readFileSync(this.out, 'utf8') : '';
  }

  async stop(): Promise<void> {
    await this.bg?.stop();
    this.bg = undefined;
  }
}

export function kernelLogChannel(rsyslog: PrivateRsyslog): Channel {
  let passDir = '';
  let tag = '';
  let mine: (line: string) => boolean = () => false;
  let restore: (() => void) | undefined;
  return {
    name: 'kernel-log',
    file: 'kern.log',
    command:
      'sysctl net.netfilter.nf_log_all_netns=1; (node netns) net.netfilter.nf_log.2=nf_log_ipv4 nf_log.10=nf_log_ipv6; ' +
      'rsyslogd -n -f rsyslog.conf (imkmsg; kern.* → omfile, RSYSLOG_FileFormat)',
    async start(node, dir, t, m) {
      passDir = dir;
      tag = t;
      mine = m;
      await rsyslog.ensure();
      writeSysctl('net.netfilter.nf_log.2', 'nf_log_ipv4', node);
      writeSysctl('net.netfilter.nf_log.10', 'nf_log_ipv6', node);
      // The kernel drops nf_log_syslog output from any netns but the initial one unless this host sysctl is 1.
      restore = setHostSysctl('net.netfilter.nf_log_all_netns', '1');
      await rsyslog.marker(`rtlab-marker ${tag} begin`);
    },
    async stop() {
      await sleep(300);
      await rsyslog.marker(`rtlab-marker ${tag} end`);
      if (readSysctl('net.netfilter.nf_log_all_netns') !== '1') {
        process.stderr.write(
          'lab: warning: net.netfilter.nf_log_all_netns was reset by someone else during the pass\n',
        );
      }
      restore?.();
      restore = undefined;
      const all = rsyslog.read();
      const begin = all.indexOf(`rtlab-marker ${tag} begin`);
      const end = all.indexOf(`rtlab-marker ${tag} end`);
      const segment = all.slice(all.indexOf('\n', begin) + 1, all.lastIndexOf('\n', end) + 1);
      // The kernel log is shared by the whole host: keep only TRACE lines of this pass's own packets.
      const lines = segment.split('\n').filter((l) => l.includes(' TRACE: ') && mine(l));
      fs.writeFileSync(path.join(passDir, 'kern.log'), lines.map((l) => l + '\n').join(''));
    },
    async dispose() {
      restore?.();
      restore = undefined;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// nfnetlink_log → tcpdump -i nflog (group 0, where TRACE goes) → pcap

function useNfnetlinkLog(node: string): void {
  writeSysctl('net.netfilter.nf_log.2', 'nfnetlink_log', node);
  writeSysctl('net.netfilter.nf_log.10', 'nfnetlink_log', node);
}

export function nflogPcapChannel(): Channel {
  let bg: Bg | undefined;
  return {
    name: 'nflog-pcap',
    file: 'nflog.pcap',
    command: '(node netns) net.netfilter.nf_log.{2,10}=nfnetlink_log; tcpdump -i nflog -n -U -w nflog.pcap',
    async start(node, dir) {
      useNfnetlinkLog(node);
      bg = startBg(
        'tcpdump',
        [
          'ip',
          'netns',
          'exec',
          node,
          'tcpdump',
          '-i',
          'nflog',
          '-n',
          '-U',
          '-w',
          path.join(dir, 'nflog.pcap'),
        ],
        path.join(dir, 'tcpdump.stdout'),
        path.join(dir, 'tcpdump.stderr'),
      );
      const b = bg;
      await waitFor('tcpdump to listen on nflog', () => {
        if (b.exited()) throw new Error(`tcpdump exited: ${b.stderr()}`);
        return b.stderr().includes('listening on');
      });
    },
    async stop() {
      await sleep(300);
      await bg?.stop();
      if (bg) for (const f of ['tcpdump.stdout', 'tcpdump.stderr']) moveToLogs(bg, f);
    },
    async dispose() {
      await bg?.stop();
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// nfnetlink_log → ulogd2 (NFLOG→BASE→IFINDEX→IP2STR→HWHDR→JSON) → ulogd.json

function ulogdPluginDir(): string {
  for (const d of [
    '/usr/lib/x86_64-linux-gnu/ulogd',
    '/usr/lib/aarch64-linux-gnu/ulogd',
    '/usr/lib/ulogd',
    '/usr/local/lib/ulogd',
  ]) {
    if (fs.existsSync(path.join(d, 'ulogd_output_JSON.so'))) return d;
  }
  throw new Error('ulogd2 JSON plugin not found (apt-get install ulogd2 ulogd2-json)');
}

export function ulogdJsonChannel(tmp: string): Channel {
  let bg: Bg | undefined;
  let confFile = '';
  return {
    name: 'ulogd-json',
    file: 'ulogd.json',
    command:
      'ulogd -c ulogd.conf (stack=log1:NFLOG,base1:BASE,ifi1:IFINDEX,ip2str1:IP2STR,mac2str1:HWHDR,json1:JSON; group=0)',
    async start(node, dir, tag) {
      useNfnetlinkLog(node);
      const plug = ulogdPluginDir();
      confFile = path.join(tmp, `ulogd-${tag}.conf`);
      const logFile = path.join(dir, 'ulogd.log');
      fs.writeFileSync(
        confFile,
        [
          '[global]',
          `logfile="${logFile}"`,
          'loglevel=3',
          ...[
            'inppkt_NFLOG',
            'raw2packet_BASE',
            'filter_IFINDEX',
            'filter_IP2STR',
            'filter_HWHDR',
            'output_JSON',
          ].map((p) => `plugin="${plug}/ulogd_${p}.so"`),
          'stack=log1:NFLOG,base1:BASE,ifi1:IFINDEX,ip2str1:IP2STR,mac2str1:HWHDR,json1:JSON',
          '',
          '[log1]',
          'group=0',
          '',
          '[json1]',
          `file="${path.join(dir, 'ulogd.json')}"`,
          'sync=1',
          'device="rtlab-node"',
          '',
        ].join('\n'),
      );
      onCleanup(`remove ${confFile}`, () => fs.rmSync(confFile, { force: true }));
      bg = startBg(
        'ulogd',
        ['ip', 'netns', 'exec', node, 'ulogd', '-c', confFile, '-p', path.join(tmp, `ulogd-${tag}.pid`)],
        path.join(dir, 'ulogd.stdout'),
        path.join(dir, 'ulogd.stderr'),
      );
      const b = bg;
      await waitFor('ulogd to bind nflog group 0', () => {
        if (b.exited()) throw new Error(`ulogd exited: ${b.stderr()} ${readIf(logFile)}`);
        return readIf(logFile).includes('entering main loop');
      });
    },
    async stop() {
      await sleep(300);
      await bg?.stop();
      if (bg) for (const f of ['ulogd.stdout', 'ulogd.stderr', 'ulogd.log']) moveToLogs(bg, f);
    },
    async dispose() {
      await bg?.stop();
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// iptables-nft: -j TRACE becomes `meta nftrace set 1`; events arrive over nfnetlink → xtables-monitor --trace

export function xtablesMonitorChannel(): Channel {
  let bg: Bg | undefined;
  return {
    name: 'xtables-monitor',
    file: 'xtables-monitor.txt',
    command: 'stdbuf -oL xtables-monitor --trace --event > xtables-monitor.txt',
    async start(node, dir) {
      bg = startBg(
        'xtables-monitor',
        ['ip', 'netns', 'exec', node, 'stdbuf', '-oL', 'xtables-monitor', '--trace', '--event'],
        path.join(dir, 'xtables-monitor.txt'),
        path.join(dir, 'xtables-monitor.stderr'),
      );
      // xtables-monitor prints nothing when it is ready; give it a moment to subscribe.
      await sleep(500);
      if (bg.exited()) throw new Error(`xtables-monitor exited: ${bg.stderr()}`);
    },
    async stop() {
      await sleep(300);
      const died = bg?.exited() ?? false;
      const err = bg?.stderr() ?? '';
      await bg?.stop();
      if (bg) moveToLogs(bg, 'xtables-monitor.stderr');
      if (died && /Parsing nftables rule failed/.test(err)) {
        throw new KnownIssue(
          `${run(['xtables-monitor', '-V'], { allowFail: true }).stdout.trim()} exited on the first IPv6 rule it had to ` +
            `print (${err.split('\n').filter(Boolean).slice(-2).join(' ')}): it cannot print an ip6tables-nft rule that ` +
            'matches a protocol (-p tcp, stored as meta l4proto); IPv6 rules without -p print fine. No trace of this pass is usable.',
        );
      }
      if (died) throw new Error(`xtables-monitor exited during the capture: ${err.trim()}`);
    },
    async dispose() {
      await bg?.stop();
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// iptables-nft: the same nftrace events printed by nftables' own `nft monitor trace` (opt-in channel)

export function nftMonitorChannel(): Channel {
  let bg: Bg | undefined;
  return {
    name: 'nft-monitor',
    file: 'nft-monitor.txt',
    command: 'stdbuf -oL nft monitor trace > nft-monitor.txt',
    async start(node, dir) {
      bg = startBg(
        'nft monitor trace',
        ['ip', 'netns', 'exec', node, 'stdbuf', '-oL', 'nft', 'monitor', 'trace'],
        path.join(dir, 'nft-monitor.txt'),
        path.join(dir, 'nft-monitor.stderr'),
      );
      await sleep(500);
      if (bg.exited()) throw new Error(`nft monitor trace exited: ${bg.stderr()}`);
    },
    async stop() {
      await sleep(300);
      const died = bg?.exited() ?? false;
      const err = bg?.stderr() ?? '';
      await bg?.stop();
      if (bg) moveToLogs(bg, 'nft-monitor.stderr');
      if (died) throw new Error(`nft monitor trace exited during the capture: ${err.trim()}`);
    },
    async dispose() {
      await bg?.stop();
    },
  };
}

function readIf(f: string): string {
  try {
    return fs.readFileSync(f, 'utf8');
  } catch {
    return '';
  }
}

/** Moves a tool's own log out of the pass directory (which holds only what fixtures need) into logs/. */
function moveToLogs(bg: Bg, name: string): void {
  const dir = path.dirname(bg.stderrFile);
  const src = path.join(dir, name);
  if (!fs.existsSync(src)) return;
  const logs = path.join(dir, 'logs');
  fs.mkdirSync(logs, { recursive: true });
  fs.renameSync(src, path.join(logs, name));
}
