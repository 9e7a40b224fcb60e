/**
 * The node as `ruletrail trace` sees it: commands (optionally inside a network namespace), sysctls, processes.
 * Synchronous on purpose: clean-up runs from signal and crash handlers, where only synchronous work is sure to
 * finish before the process goes. Behind an interface so the clean-up logic is tested without a kernel.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync, statSync } from 'node:fs';

/** What one command did. */
export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** Run inside this network namespace (`ip netns exec`). */
  readonly netns?: string;
  readonly input?: string;
}

/** The operations trace needs from the node. */
export interface Host {
  run(argv: readonly string[], options?: RunOptions): RunResult;
  /** Whether a command is installed (on PATH). */
  has(command: string): boolean;
  /** A sysctl's value, or undefined when it does not exist (module not loaded, not in this netns). */
  readSysctl(key: string, netns?: string): string | undefined;
  /** Sets a sysctl; returns the error text, or undefined on success. */
  writeSysctl(key: string, value: string, netns?: string): string | undefined;
  /** Whether a process runs and its command line contains `needle`. */
  processAlive(pid: number, needle?: string): boolean;
  /** Sends a signal; false when the process is gone. */
  kill(pid: number, signal: NodeJS.Signals): boolean;
  uid(): number;
}

const PATH_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/**
 * The PATH children run with: the caller's, then the sbin/bin directories (`sudo` or a service may start trace
 * with a PATH without /usr/sbin, where iptables and xtables-monitor live). `has` looks in the same places.
 */
function searchPath(): string[] {
  return [...new Set([...(process.env.PATH ?? '').split(':').filter(Boolean), ...PATH_DIRS])];
}

/** The environment of every child trace starts: the search PATH above, and the C locale (parsed output). */
export function childEnv(): NodeJS.ProcessEnv {
  return { ...process.env, PATH: searchPath().join(':'), LC_ALL: 'C' };
}

/** An executable regular file (a name bound over with /dev/null, or a directory, is not a command). */
function isCommand(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function sysctlPath(key: string): string {
  return `/proc/sys/${key.replace(/\./g, '/')}`;
}

/** The real node. */
export class LocalHost implements Host {
  run(argv: readonly string[], options: RunOptions = {}): RunResult {
    const full = options.netns ? ['ip', 'netns', 'exec', options.netns, ...argv] : [...argv];
    const r = spawnSync(full[0]!, full.slice(1), {
      input: options.input ?? '',
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
      timeout: 60_000,
      env: childEnv(),
    });
    if (r.error) return { code: 127, stdout: '', stderr: `${full[0]}: ${r.error.message}` };
    return { code: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
  }

  has(command: string): boolean {
    return searchPath().some((d) => isCommand(`${d}/${command}`));
  }

  readSysctl(key: string, netns?: string): string | undefined {
    if (netns) {
      const r = this.run(['cat', sysctlPath(key)], { netns });
      return r.code === 0 ? r.stdout.trim() : undefined;
    }
    try {
      return readFileSync(sysctlPath(key), 'utf8').trim();
    } catch {
      return undefined;
    }
  }

  writeSysctl(key: string, value: string, netns?: string): string | undefined {
    const r = this.run(['sysctl', '-q', '-w', `${key}=${value}`], netns ? { netns } : {});
    return r.code === 0 ? undefined : r.stderr.trim() || `sysctl exited with ${r.code}`;
  }

  processAlive(pid: number, needle?: string): boolean {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      return needle === undefined || cmdline.includes(needle);
    } catch {
      return false;
    }
  }

  kill(pid: number, signal: NodeJS.Signals): boolean {
    try {
      process.kill(pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  uid(): number {
    return process.getuid?.() ?? -1;
  }
}

/** The Debian package that ships each tool trace may need (named in "not installed" errors). */
export const DEBIAN_PACKAGE: Readonly<Record<string, string>> = {
  'iptables-legacy': 'iptables',
  'ip6tables-legacy': 'iptables',
  'iptables-legacy-save': 'iptables',
  'ip6tables-legacy-save': 'iptables',
  'iptables-nft': 'iptables',
  'ip6tables-nft': 'iptables',
  'iptables-nft-save': 'iptables',
  'ip6tables-nft-save': 'iptables',
  'xtables-monitor': 'iptables',
  nft: 'nftables',
  tcpdump: 'tcpdump',
  ip: 'iproute2',
  sysctl: 'procps',
  stdbuf: 'coreutils',
};
