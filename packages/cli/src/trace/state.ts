/**
 * The session state file and clean-up. Before a trace changes anything on the node it records the change in
 * `<state dir>/trace-<id>.json` (write-ahead), so whatever happens to the process — even SIGKILL — the next
 * `ruletrail trace` or `ruletrail trace --cleanup` knows exactly what to undo. Rules whose state file was lost
 * are still found by their `ruletrail-trace:<id>` comment. Nothing else is ever touched: a rule is removed only
 * by the exact spec it was added with, or when its comment names a session that no longer runs.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { COMMENT_PREFIX, NFT_TABLE_PREFIX, deleteArgv, type IptablesRule } from './plan';
import { shellSplit } from './options';
import type { Host } from './system';

/** A sysctl a session changed. */
export interface SysctlChange {
  readonly key: string;
  readonly netns?: string;
  readonly before: string;
  readonly value: string;
}

/** A process a session started (killed on clean-up if it still runs that command). */
export interface ChildRecord {
  readonly pid: number;
  readonly command: string;
  readonly netns?: string;
}

export interface SessionState {
  readonly version: 1;
  readonly id: string;
  readonly pid: number;
  readonly started: string;
  readonly netns?: string;
  readonly backend: string;
  readonly channel: string;
  readonly rules: IptablesRule[];
  readonly nftTables: { readonly family: string; readonly name: string; readonly netns?: string }[];
  readonly sysctls: SysctlChange[];
  readonly children: ChildRecord[];
  /**
   * nft tables and chains iptables-nft created for our rules (`table ip raw`, its PREROUTING chain): removed
   * again when empty, so the ruleset is exactly as before.
   */
  readonly nftCreated?: NftObject[];
}

/** An nft table (no chain) or chain. */
export interface NftObject {
  readonly family: string;
  readonly table: string;
  readonly chain?: string;
  readonly netns?: string;
}

/** Which of the objects iptables-nft is about to use do not exist yet (table first, then its chains). */
export function missingNftObjects(
  host: Host,
  family: string,
  table: string,
  chains: readonly string[],
  netns?: string,
): NftObject[] {
  const o = netns ? { netns } : {};
  const ns = netns ? { netns } : {};
  if (host.run(['nft', 'list', 'table', family, table], o).code !== 0)
    return [{ family, table, ...ns }, ...chains.map((chain) => ({ family, table, chain, ...ns }))];
  return chains
    .filter((chain) => host.run(['nft', 'list', 'chain', family, table, chain], o).code !== 0)
    .map((chain) => ({ family, table, chain, ...ns }));
}

/** Removes created nft objects that are empty now (chains without rules, then tables without chains). */
function removeEmptyCreated(host: Host, objs: readonly NftObject[]): string[] {
  const done: string[] = [];
  const chains = objs.filter((x) => x.chain !== undefined);
  const tables = objs.filter((x) => x.chain === undefined);
  for (const c of [...chains].reverse()) {
    const o = c.netns ? { netns: c.netns } : {};
    const r = host.run(['nft', '-j', 'list', 'chain', c.family, c.table, c.chain!], o);
    if (r.code !== 0 || r.stdout.includes('"rule"')) continue;
    if (host.run(['nft', 'delete', 'chain', c.family, c.table, c.chain!], o).code === 0)
      done.push(
        `removed the empty chain ${c.family} ${c.table} ${c.chain} that iptables-nft created for the trace`,
      );
  }
  for (const t of [...tables].reverse()) {
    const o = t.netns ? { netns: t.netns } : {};
    const r = host.run(['nft', '-j', 'list', 'table', t.family, t.table], o);
    if (r.code !== 0 || r.stdout.includes('"chain"')) continue;
    if (host.run(['nft', 'delete', 'table', t.family, t.table], o).code === 0)
      done.push(`removed the empty table ${t.family} ${t.table} that iptables-nft created for the trace`);
  }
  return done;
}

export function stateFileName(dir: string, id: string): string {
  return join(dir, `trace-${id}.json`);
}

/** The state file of the running session: every change is recorded before it is made. */
export class StateFile {
  readonly path: string;
  constructor(
    readonly dir: string,
    readonly state: SessionState,
  ) {
    this.path = stateFileName(dir, state.id);
  }

  /** Writes the state atomically (a half-written state file would hide what to undo). */
  save(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.state, null, 2) + '\n', { mode: 0o600 });
    renameSync(tmp, this.path);
  }

  remove(): void {
    rmSync(this.path, { force: true });
  }
}

/** Every state file in the directory (unreadable ones are reported, not thrown). */
export function listSessions(dir: string): { file: string; state?: SessionState; error?: string }[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => /^trace-[A-Za-z0-9_-]+\.json$/.test(n))
    .map((n) => {
      const file = join(dir, n);
      try {
        const s = JSON.parse(readFileSync(file, 'utf8')) as SessionState;
        if (s.version !== 1 || typeof s.id !== 'string' || typeof s.pid !== 'number')
          return { file, error: 'not a trace state file' };
        return { file, state: s };
      } catch (e) {
        return { file, error: (e as Error).message };
      }
    });
}

/** Whether the process that wrote a state file still runs (and is a ruletrail trace). */
export function sessionAlive(host: Host, s: SessionState): boolean {
  return s.pid !== process.pid && host.processAlive(s.pid, 'trace');
}

/** Undoes one session's recorded changes, newest first. Returns one line per action (for the operator). */
export function undoSession(host: Host, s: SessionState): string[] {
  const done: string[] = [];
  for (const c of [...s.children].reverse()) {
    if (host.processAlive(c.pid, c.command)) {
      host.kill(c.pid, 'SIGTERM');
      done.push(`stopped ${c.command} (pid ${c.pid})`);
    }
  }
  for (const r of [...s.rules].reverse()) {
    const res = host.run(deleteArgv(r), s.netns ? { netns: s.netns } : {});
    if (res.code === 0) done.push(`removed ${r.tool} -t ${r.table} ${r.chain} rule '${r.spec.join(' ')}'`);
  }
  for (const t of [...s.nftTables].reverse()) {
    const res = host.run(['nft', 'delete', 'table', t.family, t.name], t.netns ? { netns: t.netns } : {});
    if (res.code === 0) done.push(`removed nft table ${t.family} ${t.name}`);
  }
  if (s.nftCreated?.length) done.push(...removeEmptyCreated(host, s.nftCreated));
  for (const c of [...s.sysctls].reverse()) {
    const now = host.readSysctl(c.key, c.netns);
    if (now === undefined) continue;
    // Only put back what is still ours: someone who changed it since knows better.
    if (now === c.value) {
      const err = host.writeSysctl(c.key, c.before, c.netns);
      done.push(
        err
          ? `could not restore ${c.key}: ${err}`
          : `restored ${c.key}=${c.before}${c.netns ? ` (netns ${c.netns})` : ''}`,
      );
    } else if (now !== c.before) done.push(`left ${c.key}=${now} alone (changed by someone else since)`);
  }
  return done;
}

/** The session id in a rule comment or nft table name, if it is one of ours. */
export function sessionIdOf(text: string): string | undefined {
  const m = new RegExp(`${COMMENT_PREFIX}([A-Za-z0-9_-]+)`).exec(text);
  return m?.[1];
}

const SAVE_TOOLS: readonly [save: string, tool: string, family: 4 | 6][] = [
  ['iptables-legacy-save', 'iptables-legacy', 4],
  ['ip6tables-legacy-save', 'ip6tables-legacy', 6],
  ['iptables-nft-save', 'iptables-nft', 4],
  ['ip6tables-nft-save', 'ip6tables-nft', 6],
];

/** The iptables-legacy tables registered (in the netns): /proc/net/ip_tables_names or ip6_tables_names. */
export function legacyTables(host: Host, family: 4 | 6, netns: string | undefined): string[] {
  const r = host.run(
    ['cat', `/proc/net/${family === 4 ? 'ip' : 'ip6'}_tables_names`],
    netns ? { netns } : {},
  );
  return r.code === 0
    ? r.stdout
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean)
    : [];
}

/**
 * Rules and nft tables carrying a session comment whose session does not run (`keep` holds the ids that do).
 * Found from `*-save -t raw` and `nft list tables`; each is returned as the argv that removes exactly it.
 */
export function findLeftovers(
  host: Host,
  netns: string | undefined,
  keep: ReadonlySet<string>,
): { what: string; argv: string[] }[] {
  const out: { what: string; argv: string[] }[] = [];
  const opts = netns ? { netns } : {};
  for (const [save, tool, family] of SAVE_TOOLS) {
    if (!host.has(save)) continue;
    // `iptables-legacy-save -t raw` would register the legacy raw table where there is none: look first.
    if (tool.endsWith('-legacy') && !legacyTables(host, family, netns).includes('raw')) continue;
    const r = host.run([save, '-t', 'raw'], opts);
    if (r.code !== 0) continue;
    for (const line of r.stdout.split('\n')) {
      if (!line.startsWith('-A ') || !line.includes(COMMENT_PREFIX)) continue;
      const id = sessionIdOf(line);
      if (!id || keep.has(id)) continue;
      const words = shellSplit(line);
      const rule: IptablesRule = { tool, family, table: 'raw', chain: words[1]!, spec: words.slice(2) };
      out.push({ what: `${tool} -t raw ${line}`, argv: deleteArgv(rule) });
    }
  }
  if (host.has('nft')) {
    const r = host.run(['nft', 'list', 'tables'], opts);
    if (r.code === 0)
      for (const line of r.stdout.split('\n')) {
        const m = /^table (\S+) (\S+)$/.exec(line.trim());
        if (!m || !m[2]!.startsWith(NFT_TABLE_PREFIX)) continue;
        const id = m[2]!.slice(NFT_TABLE_PREFIX.length);
        if (keep.has(id)) continue;
        out.push({ what: `nft table ${m[1]} ${m[2]}`, argv: ['nft', 'delete', 'table', m[1]!, m[2]!] });
      }
  }
  return out;
}

/**
 * Cleans up after sessions that no longer run: undoes what their state files recorded (in their own netns),
 * then removes any rule or table still carrying a dead session's comment in `netns` (or the host). Live sessions
 * are left alone. Returns one line per action.
 */
export function cleanupStale(host: Host, stateDir: string, netns: string | undefined): string[] {
  const done: string[] = [];
  const live = new Set<string>();
  for (const { file, state, error } of listSessions(stateDir)) {
    if (!state) {
      done.push(`ignored ${file}: ${error}`);
      continue;
    }
    if (state.pid === process.pid) {
      live.add(state.id);
      continue;
    }
    if (sessionAlive(host, state)) {
      live.add(state.id);
      done.push(`session ${state.id} (pid ${state.pid}) is still running: left alone`);
      continue;
    }
    done.push(
      `session ${state.id} (pid ${state.pid}, started ${state.started}) is gone; undoing what it changed`,
    );
    done.push(...undoSession(host, state).map((l) => `  ${l}`));
    rmSync(file, { force: true });
  }
  for (const ns of new Set([netns])) {
    for (const l of findLeftovers(host, ns, live)) {
      const r = host.run(l.argv, ns ? { netns: ns } : {});
      done.push(
        r.code === 0
          ? `removed leftover ${l.what}`
          : `could not remove leftover ${l.what}: ${r.stderr.trim()}`,
      );
    }
  }
  return done;
}
