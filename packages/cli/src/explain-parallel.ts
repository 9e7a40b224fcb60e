/**
 * `ruletrail explain` over every core: a kernel log is cut into byte segments at line starts, worker threads
 * explain the segments, and the main thread merges their output into exactly the bytes one core writes.
 *
 * Why that is exact:
 *  - a worker owns the packets whose first line lies in its segment; it starts reading a warm-up stretch before
 *    the segment (so the packets open at the segment start are open in it too, and lines that continue them are
 *    not mistaken for new packets) and reads past the segment end until every packet it owns is complete;
 *  - every completed packet carries where it completed (line being pushed, phase, its last line: see
 *    CompletedPacket), and one core writes packets in exactly that order, so a k-way merge of the workers' sorted
 *    outputs by that key is the one-core output;
 *  - each boundary is checked: the worker before it reports which lines past its end joined its packets and which
 *    packets were open there; the worker after it reports which lines joined packets it does not own and which
 *    were open at its start. Different answers mean the warm-up was too short (a packet open longer than it):
 *    that segment is explained again with a longer warm-up (at most from the start of the file, which is the
 *    one-core computation), before any of its output is written.
 * Only `--format json` of plain kernel-log files runs this way (text output numbers packets, and the other
 * channels are not line-splittable); `--jobs 1` or a small file keeps the one-core path.
 */
import { Worker } from 'node:worker_threads';
import { closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '@ruletrail/core';
import { explainSegment } from './explain-segment';

/** What a worker needs to explain one segment (plain data: it crosses the thread boundary). */
export interface SegmentTask {
  readonly file: string;
  readonly rules: readonly string[];
  readonly year?: number;
  readonly windowMs?: number;
  readonly host?: string;
  readonly utcOffsetMinutes?: number;
  readonly seg: number;
  /** Byte offsets: warm-up start ≤ start < end; lines are numbered from warmFirstLine at warmStart. */
  readonly warmStart: number;
  readonly start: number;
  readonly end: number;
  readonly warmFirstLine: number;
  readonly firstLine: number;
  readonly endLine: number;
}

/** Per-segment counters (the owned lines only). */
export interface SegmentCounters {
  records: number;
  events: number;
  skipped: number;
  packets: number;
}

/** A worker's answer for one segment. */
export interface SegmentResult {
  readonly seg: number;
  /** One NDJSON line (without newline) per owned packet, in completion order. */
  readonly texts: string[];
  /** Three numbers per text: completedAt, phase, lastLine (the merge key). */
  readonly keys: Float64Array;
  /** Each text's verdict (counted by the main thread in output order, like one core counts them). */
  readonly verdicts: string[];
  readonly counters: SegmentCounters;
  /** Unreadable owned lines, in order: code, file, line, reason, record. */
  readonly errors: { code: string; line: number; reason: string; record?: string }[];
  /** Hosts of the owned events, in order of first appearance. */
  readonly hosts: string[];
  /** Lines at or past `endLine` that joined owned packets. */
  readonly joinedPastEnd: number[];
  /** Lines at or past `firstLine` that joined packets first seen before it. */
  readonly joinedBeforeOwned: number[];
  /** First lines of the packets open when the worker reached `firstLine` / `endLine` (sorted). */
  readonly openAtStart: number[];
  readonly openAtEnd: number[];
}

/** Segment size: large enough that the warm-up and the tail past the end are a small share of the work. */
const SEGMENT_BYTES = 8 << 20;
/** Warm-up before a segment; grown when a boundary check fails. */
const WARMUP_BYTES = 1 << 20;
/**
 * Old-space cap of a worker: V8 grows an isolate's heap far beyond its live set under allocation pressure, and
 * every worker's heap counts in the process's RSS. A segment's live set is its output (~1.1× the segment) plus
 * the open packets (bounded by the correlator).
 */
const WORKER_OLD_SPACE_MB = 48;
/** Below this a file is explained on one core (worker start-up would cost more than it saves). */
export const PARALLEL_MIN_BYTES = 48 << 20;

interface Boundary {
  /** Byte offset of a line start and its line number. */
  readonly offset: number;
  readonly line: number;
}

/** For each wanted offset (sorted), the first line start at or after it, with its line number. */
function lineStarts(file: string, wanted: number[]): Boundary[] {
  const out: Boundary[] = [];
  const fd = openSync(file, 'r');
  const buf = Buffer.allocUnsafe(4 << 20);
  // Invariant: `line` is 1 + the newlines in [0, cur); `last` is the byte at cur - 1 (0x0a at the start).
  let cur = 0;
  let line = 1;
  let last = 0x0a;
  const countTo = (to: number): void => {
    while (cur < to) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, to - cur), cur);
      if (n === 0) return;
      for (let p = buf.indexOf(0x0a, 0); p >= 0 && p < n; p = buf.indexOf(0x0a, p + 1)) line++;
      last = buf[n - 1]!;
      cur += n;
    }
  };
  try {
    for (const o of wanted) {
      if (o > cur) countTo(o);
      if (last !== 0x0a) {
        // Inside a line: move past its newline (or to the end of the file).
        for (;;) {
          const n = readSync(fd, buf, 0, buf.length, cur);
          if (n === 0) break;
          const nl = buf.indexOf(0x0a, 0);
          if (nl >= 0 && nl < n) {
            countTo(cur + nl + 1);
            break;
          }
          countTo(cur + n);
        }
      }
      out.push({ offset: cur, line });
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/** What the merge writes and counts; the caller owns the output stream and the dead-letter output. */
export interface ParallelSink {
  /** One packet's output line and its verdict, in one-core order. */
  packet(text: string, verdict: string): void;
  drain(): Promise<void>;
  error(err: InputError): void;
}

/** Totals over all segments. */
export interface ParallelTotals extends SegmentCounters {
  hosts: string[];
  segments: number;
  jobs: number;
  reruns: number;
}

/**
 * Explains one plain kernel-log file over `jobs` worker threads, writing exactly what the one-core path writes for
 * `--format json`.
 */
export async function explainFileParallel(
  task: Omit<SegmentTask, 'seg' | 'warmStart' | 'start' | 'end' | 'warmFirstLine' | 'firstLine' | 'endLine'>,
  size: number,
  jobs: number,
  sink: ParallelSink,
  sizes: { segmentBytes?: number; warmupBytes?: number } = {},
): Promise<ParallelTotals> {
  const segmentBytes = sizes.segmentBytes ?? SEGMENT_BYTES;
  const warmupBytes = sizes.warmupBytes ?? WARMUP_BYTES;
  const nseg = Math.max(jobs, Math.ceil(size / segmentBytes));
  const wanted: number[] = [];
  for (let i = 1; i < nseg; i++) {
    const at = Math.floor((size * i) / nseg);
    wanted.push(Math.max(0, at - warmupBytes), at);
  }
  const found = wanted.length ? lineStarts(task.file, wanted) : [];
  // Segment i (i ≥ 1) starts at found[2i-1] with warm-up from found[2i-2]; segment 0 starts at byte 0.
  const starts: Boundary[] = [{ offset: 0, line: 1 }];
  const warms: Boundary[] = [{ offset: 0, line: 1 }];
  for (let i = 1; i < nseg; i++) {
    const s = found[2 * i - 1];
    const w = found[2 * i - 2];
    if (!s || !w || s.offset >= size || s.offset <= starts[starts.length - 1]!.offset) continue;
    starts.push(s);
    warms.push(w);
  }
  const segs = starts.map((s, i) => ({
    start: s,
    warm: warms[i]!,
    end: starts[i + 1] ?? { offset: size, line: Infinity },
  }));

  const results: (SegmentResult | undefined)[] = segs.map(() => undefined);
  const verified: boolean[] = segs.map((_, i) => i === 0);
  const totals: ParallelTotals = {
    records: 0,
    events: 0,
    skipped: 0,
    packets: 0,
    hosts: [],
    segments: segs.length,
    jobs,
    reruns: 0,
  };
  const hostSeen = new Set<string>();
  const queue: { seg: number; warm: Boundary }[] = segs.map((s, i) => ({ seg: i, warm: s.warm }));
  const running = new Set<Promise<void>>();
  // From sources (tests run under tsx) the worker is TypeScript too, and needs the same loader.
  const fromSource = __filename.endsWith('.ts');
  const workerFile = join(__dirname, fromSource ? 'explain-worker.ts' : 'explain-worker.js');

  // Merge state: the next segment whose output is not yet released, and per-released-segment read positions.
  let nextRelease = 0;
  const released: { r: SegmentResult; i: number }[] = [];

  // `jobs` slots: the main thread itself (it would otherwise idle between merges, and every isolate adds its heap to
  // the RSS) and a pool of jobs - 1 workers, each started once (a worker's start-up loads the explain modules).
  let mainBusy = false;
  const idle: Worker[] = [];
  const all: Worker[] = [];
  const runOne = async (seg: number, warm: Boundary): Promise<void> => {
    const s = segs[seg]!;
    const t: SegmentTask = {
      ...task,
      seg,
      warmStart: warm.offset,
      start: s.start.offset,
      end: s.end.offset,
      warmFirstLine: warm.line,
      firstLine: s.start.line,
      endLine: s.end.line,
    };
    if (!mainBusy) {
      mainBusy = true;
      try {
        results[seg] = await explainSegment(t);
      } finally {
        mainBusy = false;
      }
      return;
    }
    let w = idle.pop();
    if (!w) {
      // A small young generation: the worker's garbage is short-lived, and every isolate's heap adds to the RSS.
      w = new Worker(workerFile, {
        ...(fromSource ? { execArgv: ['--require', 'tsx/cjs'] } : {}),
        resourceLimits: { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: WORKER_OLD_SPACE_MB },
      });
      all.push(w);
    }
    const worker = w;
    const r = await new Promise<SegmentResult>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      const onExit = (code: number) => reject(new Error(`explain worker exited with ${code}`));
      worker.once('error', onError);
      worker.once('exit', onExit);
      worker.once('message', (m: SegmentResult) => {
        worker.off('error', onError);
        worker.off('exit', onExit);
        resolve(m);
      });
      worker.postMessage(t);
    });
    idle.push(worker);
    results[seg] = r;
  };

  /** Checks boundary i (between segments i-1 and i); on failure queues segment i again with a longer warm-up. */
  const check = (i: number): void => {
    const a = results[i - 1];
    const b = results[i];
    if (!a || !b || verified[i]) return;
    const s = segs[i]!;
    const same = (x: number[], y: number[]) => x.length === y.length && x.every((v, k) => v === y[k]);
    // Lines past a's end that joined a's packets, as far as b's own lines go (b reads all of those).
    const joined = a.joinedPastEnd.filter((l) => l < s.end.line);
    // A warm-up from the start of the file is the one-core computation itself.
    if (s.warm.offset === 0 || (same(joined, b.joinedBeforeOwned) && same(a.openAtEnd, b.openAtStart))) {
      verified[i] = true;
      return;
    }
    const grown = Math.max(0, s.start.offset - (s.start.offset - s.warm.offset) * 8);
    const warm =
      grown === 0 ? { offset: 0, line: 1 } : (lineStarts(task.file, [grown])[0] ?? { offset: 0, line: 1 });
    segs[i] = { ...s, warm };
    results[i] = undefined;
    // The next boundary was checked against the discarded result.
    if (i + 1 < segs.length) verified[i + 1] = false;
    totals.reruns++;
    queue.unshift({ seg: i, warm });
  };

  const release = async (): Promise<void> => {
    // Release segments in order once they are in and their boundary with the previous one holds.
    while (nextRelease < segs.length && results[nextRelease] && verified[nextRelease]) {
      const r = results[nextRelease]!;
      const c = r.counters;
      totals.records += c.records;
      totals.events += c.events;
      totals.skipped += c.skipped;
      totals.packets += c.packets;
      for (const h of r.hosts)
        if (!hostSeen.has(h)) {
          hostSeen.add(h);
          totals.hosts.push(h);
        }
      for (const e of r.errors)
        sink.error(new InputError(e.code, { file: task.file, line: e.line }, e.reason, e.record));
      released.push({ r, i: 0 });
      nextRelease++;
    }
    // Everything the unreleased segments will still write completes at or after their first line.
    const bound = nextRelease < segs.length ? segs[nextRelease]!.start.line : Infinity;
    for (;;) {
      let best: { r: SegmentResult; i: number } | undefined;
      for (const q of released) {
        if (q.i >= q.r.texts.length) continue;
        if (!best || less(q.r.keys, q.i, best.r.keys, best.i)) best = q;
      }
      if (!best || best.r.keys[best.i * 3]! >= bound) break;
      sink.packet(best.r.texts[best.i]!, best.r.verdicts[best.i]!);
      best.i++;
      if (best.i % 512 === 0) await sink.drain();
    }
    for (let k = released.length - 1; k >= 0; k--)
      if (released[k]!.i >= released[k]!.r.texts.length) released.splice(k, 1);
    await sink.drain();
  };

  while (queue.length || running.size) {
    while (queue.length && running.size < jobs) {
      // Keep at most jobs + 1 segments ahead of the one being released, so buffered output stays bounded.
      if (queue[0]!.seg > nextRelease + jobs && running.size > 0) break;
      const { seg, warm } = queue.shift()!;
      const p: Promise<void> = runOne(seg, warm).then(() => {
        running.delete(p);
        check(seg);
        if (seg + 1 < segs.length) check(seg + 1);
      });
      running.add(p);
    }
    if (running.size === 0) break;
    await Promise.race(running);
    await release();
  }
  await release();
  await Promise.all(all.map((w) => w.terminate()));
  if (nextRelease < segs.length) throw new Error('parallel explain: not every segment was released');
  return totals;
}

function less(a: Float64Array, i: number, b: Float64Array, j: number): boolean {
  for (let k = 0; k < 3; k++) {
    const x = a[i * 3 + k]!;
    const y = b[j * 3 + k]!;
    if (x !== y) return x < y;
  }
  return false;
}
