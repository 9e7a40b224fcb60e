// Process helpers for the lab: synchronous commands, background processes, and a LIFO cleanup stack that runs
// on success, on failure, on SIGINT/SIGTERM/SIGHUP and on an uncaught exception.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';

export let verbose = false;
export function setVerbose(v: boolean): void {
  verbose = v;
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export class CommandError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly result: RunResult,
  ) {
    super(`command failed (exit ${result.code}): ${argv.join(' ')}\n${result.stderr.trim()}`);
  }
}

export interface RunOptions {
  readonly input?: string;
  readonly allowFail?: boolean;
  readonly timeoutMs?: number;
  readonly cwd?: string;
}

export function run(argv: readonly string[], opts: RunOptions = {}): RunResult {
  if (verbose) process.stderr.write(`  $ ${argv.join(' ')}\n`);
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error('empty command');
  const r = spawnSync(cmd, args, {
    input: opts.input,
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 60_000,
    cwd: opts.cwd,
    maxBuffer: 64 * 1024 * 1024,
  });
  const result: RunResult = {
    code: r.status ?? (r.error ? 127 : 128),
    stdout: r.stdout ?? '',
    stderr: (r.stderr ?? '') + (r.error ? `\n${r.error.message}` : ''),
  };
  if (result.code !== 0 && !opts.allowFail) throw new CommandError(argv, result);
  return result;
}

/** Runs a command inside a named network namespace. */
export function nsRun(ns: string, argv: readonly string[], opts: RunOptions = {}): RunResult {
  return run(['ip', 'netns', 'exec', ns, ...argv], opts);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Blocking sleep, for cleanup code that must stay synchronous (the 'exit' handler). */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export async function waitFor(
  what: string,
  pred: () => boolean,
  timeoutMs = 5000,
  stepMs = 50,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (pred()) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}

/** Whether a pid is a live (non-zombie) process. */
export function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Sends SIGTERM, waits up to `graceMs`, then SIGKILL. Synchronous so it can run from any handler. */
export function killPid(pid: number, graceMs = 2000): void {
  if (!alive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const end = Date.now() + graceMs;
  while (Date.now() < end && alive(pid)) sleepSync(20);
  if (alive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Cleanup stack

interface CleanupEntry {
  readonly id: number;
  readonly what: string;
  readonly fn: () => void;
}

const stack: CleanupEntry[] = [];
let nextId = 1;
let handlersInstalled = false;

/** Registers an undo action; returns a handle that runs it early (and removes it from the stack). */
export function onCleanup(what: string, fn: () => void): () => void {
  const entry: CleanupEntry = { id: nextId++, what, fn };
  stack.push(entry);
  return () => {
    const i = stack.findIndex((e) => e.id === entry.id);
    if (i < 0) return;
    stack.splice(i, 1);
    runEntry(entry);
  };
}

function runEntry(e: CleanupEntry): void {
  try {
    if (verbose) process.stderr.write(`  cleanup: ${e.what}\n`);
    e.fn();
  } catch (err) {
    process.stderr.write(`cleanup step failed (${e.what}): ${String(err)}\n`);
  }
}

/** Runs every registered undo action, newest first. Safe to call more than once. */
export function runCleanup(): void {
  while (stack.length > 0) {
    const e = stack.pop();
    if (e) runEntry(e);
  }
}

export function installSignalHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const onSignal = (sig: NodeJS.Signals, code: number) => () => {
    process.stderr.write(`\nlab: received ${sig}, cleaning up\n`);
    runCleanup();
    process.exit(code);
  };
  process.on('SIGINT', onSignal('SIGINT', 130));
  process.on('SIGTERM', onSignal('SIGTERM', 143));
  process.on('SIGHUP', onSignal('SIGHUP', 129));
  process.on('uncaughtException', (err) => {
    process.stderr.write(`lab: uncaught exception: ${err.stack ?? String(err)}\n`);
    runCleanup();
    process.exit(2);
  });
  process.on('unhandledRejection', (err) => {
    process.stderr.write(`lab: unhandled rejection: ${String(err)}\n`);
    runCleanup();
    process.exit(2);
  });
  process.on('exit', () => runCleanup());
}

// ---------------------------------------------------------------------------------------------------------
// Background processes

export interface Bg {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly stdoutFile: string;
  readonly stderrFile: string;
  /** Stops the process (SIGTERM, then SIGKILL) and removes its cleanup entry. */
  stop(graceMs?: number): Promise<void>;
  exited(): boolean;
  stderr(): string;
  stdout(): string;
}

export function startBg(name: string, argv: readonly string[], stdoutFile: string, stderrFile: string): Bg {
  if (verbose) process.stderr.write(`  $ ${argv.join(' ')} >${stdoutFile} 2>${stderrFile} &\n`);
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error('empty command');
  const outFd = fs.openSync(stdoutFile, 'a');
  const errFd = fs.openSync(stderrFile, 'a');
  const child = spawn(cmd, args, { stdio: ['ignore', outFd, errFd] });
  fs.closeSync(outFd);
  fs.closeSync(errFd);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${name}: ${argv.join(' ')}`);
  let done = false;
  child.on('exit', () => {
    done = true;
  });
  child.on('error', () => {
    done = true;
  });
  const undo = onCleanup(`stop ${name} (pid ${pid})`, () => killPid(pid));
  const read = (f: string) => {
    try {
      return fs.readFileSync(f, 'utf8');
    } catch {
      return '';
    }
  };
  return {
    name,
    child,
    pid,
    stdoutFile,
    stderrFile,
    exited: () => done || !alive(pid),
    stderr: () => read(stderrFile),
    stdout: () => read(stdoutFile),
    async stop(graceMs = 3000) {
      if (!done && alive(pid)) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          /* gone */
        }
        const end = Date.now() + graceMs;
        while (!done && alive(pid) && Date.now() < end) await sleep(20);
        if (alive(pid)) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
      }
      undo();
    },
  };
}
