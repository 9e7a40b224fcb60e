/**
 * The mutation fuzzer behind `npm run fuzz` (issue #15). @jazzer.js/core cannot run on this platform (its 4.0.0
 * prebuilt addon needs glibc 2.38, Debian 12 has 2.36; 2.1.0 downloads its addon from github.com at install or
 * builds it with cmake-js and a libFuzzer checkout — see docs/reliability.md), so this is the working alternative:
 *
 *  - seeds: the target's real captures; inputs: 1–8 stacked mutations of a corpus entry (bit flips, interesting
 *    bytes and numbers, inserted / deleted / duplicated ranges, splices with another entry, newline and quote
 *    injection, truncation, a range repeated up to 64 Ki times to reach the caps);
 *  - inputs are at most `--max-len` bytes (2 KiB by default; libFuzzer bounds its inputs the same way): a longer corpus entry is
 *    first cut to a window of whole records (`FuzzTarget.window`); one input in `--large-every` (1024) may grow to
 *    4 MiB (the repeat mutation up to 64 Ki times) so the caps on line, TLV, JSON depth and CSV field are crossed
 *    too. Feeding whole 16–70 KB captures every time cost ~1 ms per input (decode of the whole capture, 64 Ki
 *    repeats, GC): 1,000,000 inputs per target was out of reach (issue #15);
 *  - feedback: an input whose behaviour signature (error codes, events) is new joins the corpus (bounded);
 *  - every streaming target gets the input in randomly cut chunks;
 *  - a crash is any error outside the target's contract; a hang is one input over `--timeout-ms` (1 s) of CPU
 *    time (user + system of this process, not wall time: the shared machine's load stretched wall time tenfold);
 *    unbounded allocation is the resident set over `--rss-limit-mb` (2048, libFuzzer's default);
 *  - deterministic: `--seed` fixes the whole run, and a crash prints the seed and writes the input to
 *    test/fuzz/crashes/<target>-<sha1>.bin so it becomes a regression input (test/fuzz/regressions/).
 *
 * usage: npm run fuzz -- <target|all> [--runs N] [--seed S] [--timeout-ms MS] [--max-seconds S] [--max-len B]
 *        [--large-every N] [--rss-limit-mb MB] [--quiet]
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, TARGETS, lineWindow, targetByName, type FuzzTarget } from './targets';

/** Small, fast, seedable PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const INTERESTING_BYTES = [
  0, 0xff, 0x7f, 0x80, 0x0a, 0x0d, 0x22, 0x5c, 0x7b, 0x5b, 0x7d, 0x5d, 0x20, 0x3d, 0x3a, 0x2c, 0x1b,
];
const TOKENS = [
  '0',
  '-1',
  '4294967295',
  '4294967296',
  '18446744073709551616',
  '99999999999999999999',
  '1e308',
  'NaN',
  '-0',
  '""',
  '"',
  '\\',
  '\n',
  '\r\n',
  '\x1b[2J',
  '{',
  '[',
  '}',
  ']',
  ':',
  '=',
  ' ',
  '\t',
  '\u202e',
  '\ud800',
  '%',
  'TRACE:',
  'SRC=',
  'DST=',
  'PROTO=',
  'ID=',
  'LEN=',
  '-A ',
  '-j ',
  '*filter',
  'COMMIT',
  ':INPUT ACCEPT [0:0]',
  '"family"',
  '"nftables"',
  '"rule"',
  'trace id',
  'packet:',
  '${RT_FUZZ}',
  '${NOPE}',
  '!!binary',
  '&a',
  '*a',
];

function pick<T>(xs: readonly T[], r: () => number): T {
  return xs[Math.floor(r() * xs.length)]!;
}

/** One random mutation of `b`, using `other` for splices; `large` allows the 64 Ki-times repeat. */
function mutateOnce(b: Buffer, other: Buffer, r: () => number, large: boolean): Buffer {
  const n = b.length;
  const at = Math.floor(r() * (n + 1));
  switch (Math.floor(r() * 11)) {
    case 0: {
      if (n === 0) return Buffer.from([Math.floor(r() * 256)]);
      const c = Buffer.from(b);
      const i = Math.floor(r() * n);
      c[i] = c[i]! ^ (1 << Math.floor(r() * 8));
      return c;
    }
    case 1: {
      if (n === 0) return Buffer.from([pick(INTERESTING_BYTES, r)]);
      const c = Buffer.from(b);
      c[Math.floor(r() * n)] = r() < 0.5 ? pick(INTERESTING_BYTES, r) : Math.floor(r() * 256);
      return c;
    }
    case 2: {
      const i = at;
      return Buffer.concat([b.subarray(0, i), Buffer.from(pick(TOKENS, r)), b.subarray(i)]);
    }
    case 3: {
      const i = at;
      const len = Math.floor(r() * Math.min(64, n - i + 1));
      return Buffer.concat([b.subarray(0, i), b.subarray(i + len)]);
    }
    case 4: {
      const i = at;
      const j = Math.min(n, i + Math.floor(r() * 256));
      const k = Math.floor(r() * (n + 1));
      return Buffer.concat([b.subarray(0, k), b.subarray(i, j), b.subarray(k)]);
    }
    case 5: {
      const i = Math.floor(r() * (other.length + 1));
      const j = Math.min(other.length, i + Math.floor(r() * 1024));
      const k = Math.floor(r() * (n + 1));
      return Buffer.concat([b.subarray(0, k), other.subarray(i, j), b.subarray(k)]);
    }
    case 6:
      return b.subarray(0, at);
    case 7: {
      // Replace a run of digits (the first one from a random offset) with a boundary number.
      let i = at;
      while (i < n && (b[i]! < 0x30 || b[i]! > 0x39)) i++;
      if (i >= n) return b;
      let j = i;
      while (j < n && b[j]! >= 0x30 && b[j]! <= 0x39) j++;
      return Buffer.concat([
        b.subarray(0, i),
        Buffer.from(
          pick(['0', '-1', '65535', '65536', '4294967295', '4294967296', '9007199254740993', '1e400'], r),
        ),
        b.subarray(j),
      ]);
    }
    case 8: {
      // A short range repeated many times: lines, fields and nesting past every cap.
      const i = at;
      const len = 1 + Math.floor(r() * 8);
      const unit =
        n > 0 ? b.subarray(Math.min(i, n - 1), Math.min(n, i + len)) : Buffer.from(pick(TOKENS, r));
      const times = large ? pick([256, 4096, 65536], r) : pick([2, 4, 16, 64, 256], r);
      return Buffer.concat([b.subarray(0, i), Buffer.alloc(unit.length * times, unit), b.subarray(i)]);
    }
    case 9: {
      // Swap two lines (framing and ordering).
      const lines = b.toString('latin1').split('\n');
      if (lines.length < 2) return b;
      const x = Math.floor(r() * lines.length);
      const y = Math.floor(r() * lines.length);
      [lines[x], lines[y]] = [lines[y]!, lines[x]!];
      return Buffer.from(lines.join('\n'), 'latin1');
    }
    default: {
      const i = at;
      const len = Math.floor(r() * 16);
      const junk = Buffer.alloc(len);
      for (let k = 0; k < len; k++) junk[k] = Math.floor(r() * 256);
      return Buffer.concat([b.subarray(0, i), junk, b.subarray(i)]);
    }
  }
}

export interface FuzzResult {
  readonly target: string;
  readonly runs: number;
  readonly crashes: {
    readonly seed: number;
    readonly run: number;
    readonly error: string;
    readonly file?: string;
  }[];
  /** Slowest input, CPU milliseconds (user + system). */
  readonly slowest: number;
  /** Slowest input, wall milliseconds (inflated by the machine's load). */
  readonly slowestWall: number;
  /** Inputs that were allowed past `maxLen` (up to 4 MiB). */
  readonly largeInputs: number;
  readonly corpus: number;
  readonly signatures: number;
  readonly elapsedMs: number;
  readonly peakRssMb: number;
}

/** Writes a failing input to test/fuzz/crashes/ (git-ignored) for triage; returns its path. */
function saveInput(target: string, input: Buffer, kind: 'crash' | 'hang'): string {
  const dir = join(ROOT, 'test/fuzz/crashes');
  mkdirSync(dir, { recursive: true });
  const file = join(
    dir,
    `${target}-${kind}-${createHash('sha1').update(input).digest('hex').slice(0, 12)}.bin`,
  );
  writeFileSync(file, input);
  return file;
}

const MAX_INPUT = 4 * 1024 * 1024;
const MAX_CORPUS = 512;

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * CPU milliseconds of one more run of `input` (targets are deterministic). process.cpuUsage() costs ~70 µs a call
 * here (getrusage on this VM), more than a typical input: it is only taken for inputs whose wall time was over
 * the limit, which on a loaded machine are mostly inputs that waited for a core.
 */
async function cpuOf(t: FuzzTarget, input: Buffer, cuts: readonly number[]): Promise<number> {
  const c0 = cpuMs();
  try {
    await t.run(input, cuts);
  } catch {
    // the outcome was recorded by the first run
  }
  return cpuMs() - c0;
}

/** Fuzzes one target for `runs` inputs. Stops at the first crash when `stopOnCrash`. */
export async function fuzz(
  t: FuzzTarget,
  opts: {
    runs: number;
    /** Stop after this many seconds even if `runs` were not reached (the result says how many ran). */
    maxSeconds?: number;
    seed: number;
    /** CPU milliseconds one input may take. */
    timeoutMs: number;
    /** Largest input except the rare large ones (default 2048). */
    maxLen?: number;
    /**
     * One input in this many may grow to 4 MiB (default 1024; 0: never). A large input costs 0.1–1 s, so at 1 in
     * 256 they were most of a long run's CPU; 1 in 1024 still gives ~1,000 per million inputs.
     */
    largeEvery?: number;
    /** Resident set limit, MB (default 2048). */
    rssLimitMb?: number;
    stopOnCrash?: boolean;
    writeCrashes?: boolean;
    onProgress?: (n: number) => void;
  },
): Promise<FuzzResult> {
  const r = prng(opts.seed);
  const maxLen = opts.maxLen ?? t.maxLen ?? 2048;
  const largeEvery = opts.largeEvery ?? 1024;
  const rssLimit = (opts.rssLimitMb ?? 2048) * 1048576;
  const window = (b: Buffer, n: number, rr: () => number): Buffer =>
    t.window ? t.window(b, n, rr) : lineWindow(b, n, rr);
  const seeds = t.seeds();
  if (seeds.length === 0) throw new Error(`${t.name}: no seed inputs`);
  // The corpus starts with the whole seeds (each is run once as it is) and grows with inputs of new behaviour.
  const corpus = [...seeds];
  const signatures = new Set<string>();
  const crashes: FuzzResult['crashes'][number][] = [];
  let slowest = 0;
  let slowestWall = 0;
  let largeInputs = 0;
  let peak = 0;
  const t0 = Date.now();
  const deadline = opts.maxSeconds !== undefined ? t0 + opts.maxSeconds * 1000 : Infinity;
  const fail = (run: number, input: Buffer, kind: 'crash' | 'hang', error: string): boolean => {
    const crash: FuzzResult['crashes'][number] = { seed: opts.seed, run, error };
    if (opts.writeCrashes !== false) (crash as { file?: string }).file = saveInput(t.name, input, kind);
    crashes.push(crash);
    return opts.stopOnCrash === true;
  };
  const pickEntry = (): Buffer => window(corpus[Math.floor(r() * corpus.length)]!, maxLen, r);
  let run = 0;
  for (; run < opts.runs; run++) {
    if ((run & 63) === 0 && Date.now() > deadline) break;
    let input: Buffer;
    let large = false;
    if (run < seeds.length) input = seeds[run]!;
    else {
      large = largeEvery > 0 && Math.floor(r() * largeEvery) === 0;
      input = pickEntry();
      const depth = 1 + Math.floor(r() * 8);
      for (let d = 0; d < depth; d++) input = mutateOnce(input, pickEntry(), r, large);
      const limit = large ? MAX_INPUT : maxLen;
      if (input.length > limit) input = input.subarray(0, limit);
      if (input.length > maxLen) largeInputs++;
    }
    const cuts: number[] = [];
    const nCuts = Math.floor(r() * 4);
    for (let k = 0; k < nCuts; k++) cuts.push(Math.floor(r() * (input.length + 1)));
    cuts.sort((a, b) => a - b);
    const wall0 = performance.now();
    let sig: string;
    try {
      sig = await t.run(input, cuts);
    } catch (err) {
      if (t.expected(err))
        sig = `throw:${(err as { code?: string }).code ?? (err as Error).name}:${String((err as Error).message).slice(0, 12)}`;
      else {
        if (fail(run, input, 'crash', (err as Error)?.stack ?? String(err))) break;
        sig = 'crash';
      }
    }
    const wall = performance.now() - wall0;
    if (wall > slowestWall) slowestWall = wall;
    // Wall time bounds CPU time from above: only an input slow on the wall clock is timed again on the CPU.
    const cpu = wall > opts.timeoutMs / 4 ? await cpuOf(t, input, cuts) : wall;
    if (cpu > slowest) slowest = cpu;
    // The first inputs of a run (the whole seeds) pay one-time costs (JIT, schema compilation): not a hang.
    if (cpu > opts.timeoutMs && run >= seeds.length) {
      const msg = `hang: one input of ${input.length} bytes took ${Math.round(cpu)} ms of CPU (> ${opts.timeoutMs}; wall ${Math.round(wall)} ms)`;
      if (fail(run, input, 'hang', msg)) break;
    }
    if (!signatures.has(sig)) {
      signatures.add(sig);
      if (corpus.length < MAX_CORPUS && input.length <= maxLen) corpus.push(input);
    }
    if ((run & 255) === 0 || input.length > maxLen) {
      const rss = process.memoryUsage.rss();
      if (rss > peak) peak = rss;
      if (rss > rssLimit) {
        const msg = `out of memory: resident set ${Math.round(rss / 1048576)} MB over ${Math.round(rssLimit / 1048576)} MB after an input of ${input.length} bytes`;
        if (fail(run, input, 'crash', msg)) break;
      }
    }
    if ((run & 1023) === 0) opts.onProgress?.(run);
  }
  peak = Math.max(peak, process.memoryUsage.rss());
  return {
    target: t.name,
    runs: run,
    crashes,
    slowest: Math.round(slowest),
    slowestWall: Math.round(slowestWall),
    largeInputs,
    corpus: corpus.length,
    signatures: signatures.size,
    elapsedMs: Date.now() - t0,
    peakRssMb: Math.round(peak / 1048576),
  };
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      runs: { type: 'string', default: '20000' },
      seed: { type: 'string', default: '1' },
      'timeout-ms': { type: 'string', default: '1000' },
      'max-seconds': { type: 'string' },
      'max-len': { type: 'string' },
      'large-every': { type: 'string' },
      'rss-limit-mb': { type: 'string' },
      quiet: { type: 'boolean', default: false },
    },
  });
  const name = positionals[0];
  if (!name) {
    process.stderr.write(
      `usage: npm run fuzz -- <target|all> [--runs N] [--seed S] [--timeout-ms MS]\ntargets: ${TARGETS.map((t) => t.name).join(', ')}\n`,
    );
    return 2;
  }
  const targets = name === 'all' ? TARGETS : [targetByName(name)];
  if (targets.some((t) => t === undefined)) {
    process.stderr.write(`unknown target '${name}' (targets: ${TARGETS.map((t) => t.name).join(', ')})\n`);
    return 2;
  }
  let failed = false;
  for (const t of targets as FuzzTarget[]) {
    const res = await fuzz(t, {
      runs: Number(values.runs),
      seed: Number(values.seed),
      timeoutMs: Number(values['timeout-ms']),
      ...(values['max-seconds'] ? { maxSeconds: Number(values['max-seconds']) } : {}),
      ...(values['max-len'] ? { maxLen: Number(values['max-len']) } : {}),
      ...(values['large-every'] ? { largeEvery: Number(values['large-every']) } : {}),
      ...(values['rss-limit-mb'] ? { rssLimitMb: Number(values['rss-limit-mb']) } : {}),
      ...(values.quiet
        ? {}
        : {
            onProgress: (n: number) =>
              n % 65536 === 0 && n > 0 && process.stderr.write(`${t.name}: ${n} inputs\n`),
          }),
    });
    const { crashes, ...rest } = res;
    process.stdout.write(JSON.stringify({ ...rest, crashes: crashes.length }) + '\n');
    for (const c of crashes.slice(0, 5))
      process.stderr.write(`CRASH ${t.name} seed=${c.seed} run=${c.run} ${c.file ?? ''}\n${c.error}\n`);
    if (crashes.length > 0) failed = true;
  }
  return failed ? 1 : 0;
}

if (require.main === module)
  void main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
