/**
 * Helpers for the `ruletrail run` end-to-end tests: real kernel-log TRACE lines (the bundled incident's two
 * packets, with a fresh IP ID and TCP SEQ per copy so every packet is distinct), configs written to temp
 * folders, the CLI as a child process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { stringify } from 'yaml';

export const ROOT = join(__dirname, '../../..');
export const BIN = join(ROOT, 'packages/cli/bin/ruletrail.js');
export const INCIDENT = join(ROOT, 'examples/incident');

const KERN = readFileSync(join(INCIDENT, 'kern.log'), 'utf8').split('\n');
/** The write-up's DROP packet (port 52000, 25 lines) and the ACCEPT packet (port 80, 20 lines). */
const DROP = KERN.slice(1, 26);
const ACCEPT = KERN.slice(28, 48);

/** Lines of the `n`-th copy of the DROP packet (IP ID and SEQ made unique; host and time optional). */
export function dropPacket(n: number, opts: { host?: string; time?: string } = {}): string[] {
  return DROP.map((l) => rewrite(l, 'ID=41569', 'SEQ=2805899841', n, opts));
}

/** Lines of the `n`-th copy of the ACCEPT packet. */
export function acceptPacket(n: number, opts: { host?: string; time?: string } = {}): string[] {
  return ACCEPT.map((l) => rewrite(l, 'ID=52941', 'SEQ=3510886474', n, opts));
}

/** The SEQ the `n`-th copy carries (how tests recognise a packet in the output). */
export function seqOf(n: number): number {
  return 1_000_000 + n;
}

function rewrite(
  l: string,
  id: string,
  seq: string,
  n: number,
  opts: { host?: string; time?: string },
): string {
  let s = l.replace(id, `ID=${n % 65536}`).replace(seq, `SEQ=${seqOf(n)}`);
  if (opts.host) s = s.replace(' cos74 ', ` ${opts.host} `);
  if (opts.time) s = opts.time + s.slice(s.indexOf(' ', s.indexOf(' ', s.indexOf(' ') + 1) + 1));
  return s;
}

/** A fresh temp folder. */
export function tempDir(prefix = 'ruletrail-run-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Writes a config object as YAML; returns its path. */
export function writeConfig(dir: string, config: object, name = 'pipeline.yaml'): string {
  const p = join(dir, name);
  writeFileSync(p, stringify(config));
  return p;
}

/** The incident's two snapshots for host `host`. */
export function incidentSnapshots(host = 'cos74'): { files: { path: string; host: string }[] } {
  return {
    files: [
      { path: join(INCIDENT, 'iptables-save-0101.txt'), host },
      { path: join(INCIDENT, 'iptables-save-0103.txt'), host },
    ],
  };
}

const children = new Set<ChildProcess>();

/** Starts `ruletrail run --config` as a child process (killed by `killChildren` if a test fails). */
export function startRun(
  config: string,
  extra: string[] = [],
  stdio: 'pipe' | 'ignore' = 'pipe',
  nodeArgs: string[] = [],
  env: NodeJS.ProcessEnv = {},
): ChildProcess {
  const c = spawn(
    process.execPath,
    [...nodeArgs, BIN, 'run', '--config', config, '--no-progress', ...extra],
    {
      stdio: ['ignore', stdio, 'pipe'],
      env: { ...process.env, NO_COLOR: '1', ...env },
    },
  );
  children.add(c);
  c.once('exit', () => children.delete(c));
  return c;
}

/** SIGKILLs every child still running: call from `afterEach`, so a failed test never leaves one behind. */
export function killChildren(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.clear();
}

/** Resolves with the exit code (or signal name) of a child. */
export function exited(child: ChildProcess): Promise<number | string> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    if (child.signalCode !== null) return resolve(child.signalCode);
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1));
  });
}

/** Collects a child's stderr (the JSON logs). */
export function collectStderr(child: ChildProcess): { text: string } {
  const out = { text: '' };
  child.stderr?.on('data', (b: Buffer) => (out.text += b.toString()));
  return out;
}

/** An output record as parsed JSON (tests read fields freely). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Rec = Record<string, any>;

/** Parsed NDJSON lines of a file (missing file → []); a torn last line is ignored. */
export function readNdjson(path: string): Rec[] {
  if (!existsSync(path)) return [];
  const out: Rec[] = [];
  for (const l of readFileSync(path, 'utf8').split('\n')) {
    if (!l) continue;
    try {
      out.push(JSON.parse(l) as Rec);
    } catch {
      // the line being written right now
    }
  }
  return out;
}

export { waitFor } from '../../../test/support/wait';

/** A TCP port free on 127.0.0.1 right now (for a listener the test's child process opens). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Explanations (not alerts) in an output file, by TCP SEQ. */
export function explainedSeqs(path: string): number[] {
  return readNdjson(path)
    .filter((r) => r.verdict !== undefined)
    .map((r) => r.packet.tcpSeq as number);
}
