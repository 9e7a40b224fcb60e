/**
 * One segment of the parallel `explain` (see explain-parallel.ts): explains the packets whose first line lies in
 * the segment, reading a warm-up stretch before it and past its end until those packets are complete, and reports
 * what the main thread needs to merge and to check the segment's boundaries. Runs in a worker thread
 * (explain-worker.ts) or on the main thread itself.
 */
import { readFileRange, type DecodeOptions } from '@ruletrail/core';
import { Correlator, SnapshotSet, explainPacket } from '@ruletrail/explain';
import { kernelLogAdapter } from '@ruletrail/ingest-kernel-log';
import type { SegmentResult, SegmentTask } from './explain-parallel';
import { loadRules } from './rules-files';

/** Explains one segment. */
export async function explainSegment(t: SegmentTask): Promise<SegmentResult> {
  const snapshots = new SnapshotSet((await Promise.all(t.rules.map(loadRules))).flat());
  const texts: string[] = [];
  const keys: number[] = [];
  const counters: SegmentResult['counters'] = { records: 0, events: 0, skipped: 0, packets: 0 };
  const verdicts: string[] = [];
  const errors: SegmentResult['errors'] = [];
  const hosts = new Set<string>();
  const joinedPastEnd: number[] = [];
  const joinedBeforeOwned: number[] = [];
  const owns = (line: number) => line >= t.firstLine && line < t.endLine;

  const correlator = new Correlator(
    snapshots,
    (p) => {
      if (owns(p.firstLine)) {
        counters.packets++;
        const x = explainPacket(p.events, p.pick, p.flags);
        verdicts.push(x.verdict);
        texts.push(JSON.stringify(x));
        keys.push(p.completedAt, p.phase, p.lastLine);
        for (const e of p.events) {
          const l = e.ruletrail.origin.line ?? 0;
          if (l >= t.endLine) joinedPastEnd.push(l);
        }
      } else if (p.firstLine < t.firstLine) {
        for (const e of p.events) {
          const l = e.ruletrail.origin.line ?? 0;
          if (owns(l)) joinedBeforeOwned.push(l);
        }
      }
    },
    t.windowMs !== undefined ? { windowMs: t.windowMs } : {},
  );

  const options = (firstLine: number): DecodeOptions => ({
    file: t.file,
    firstLine,
    ...(t.year !== undefined ? { year: t.year } : {}),
    ...(t.host !== undefined ? { host: t.host } : {}),
    ...(t.utcOffsetMinutes !== undefined ? { utcOffsetMinutes: t.utcOffsetMinutes } : {}),
  });
  const openFirstLines = () => Array.from(correlator.open(), (p) => p.firstLine).sort((a, b) => a - b);
  const ownedOpen = () => {
    for (const p of correlator.open()) if (owns(p.firstLine)) return true;
    return false;
  };

  // Warm-up: state only.
  if (t.warmStart < t.start)
    for await (const b of kernelLogAdapter.decode(
      readFileRange(t.file, t.warmStart, t.start),
      options(t.warmFirstLine),
    ))
      for (const e of b.events) correlator.push(e);
  const openAtStart = openFirstLines();

  // The segment: counted, errors reported.
  for await (const b of kernelLogAdapter.decode(
    readFileRange(t.file, t.start, t.end),
    options(t.firstLine),
  )) {
    counters.records += b.events.length + b.errors.length + b.skipped;
    counters.events += b.events.length;
    counters.skipped += b.skipped;
    for (const err of b.errors)
      errors.push({
        code: err.code,
        line: err.position.line ?? 0,
        reason: err.reason,
        ...(err.record !== undefined ? { record: err.record } : {}),
      });
    for (const e of b.events) {
      if (e.host?.name) hosts.add(e.host.name);
      correlator.push(e);
    }
  }
  const openAtEnd = openFirstLines();

  // Past the end, until every packet this segment owns is complete; at the end of input, flush like one core.
  if (ownedOpen()) {
    let eof = true;
    for await (const b of kernelLogAdapter.decode(readFileRange(t.file, t.end), options(t.endLine))) {
      for (const e of b.events) correlator.push(e);
      if (!ownedOpen()) {
        eof = false;
        break;
      }
    }
    if (eof) correlator.flush();
  }
  // Packets from before the segment still open here: their lines inside it count for the boundary check too.
  for (const p of correlator.open())
    if (p.firstLine < t.firstLine)
      for (const e of p.events) {
        const l = e.ruletrail.origin.line ?? 0;
        if (owns(l)) joinedBeforeOwned.push(l);
      }
  return {
    seg: t.seg,
    texts,
    keys: Float64Array.from(keys),
    verdicts,
    counters,
    errors,
    hosts: [...hosts],
    joinedPastEnd: joinedPastEnd.sort((a, b) => a - b),
    joinedBeforeOwned: joinedBeforeOwned.sort((a, b) => a - b),
    openAtStart,
    openAtEnd,
  };
}
