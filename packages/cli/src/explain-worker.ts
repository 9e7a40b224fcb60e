/**
 * Worker thread of the parallel `explain` (see explain-parallel.ts): one segment task per message
 * (explain-segment.ts), one result per task, until the main thread terminates it.
 */
import { parentPort } from 'node:worker_threads';
import type { SegmentTask } from './explain-parallel';
import { explainSegment } from './explain-segment';

parentPort!.on('message', (t: SegmentTask) => {
  explainSegment(t).then(
    (r) => parentPort!.postMessage(r, [r.keys.buffer as ArrayBuffer]),
    (err: unknown) => {
      // Surfaces as the worker's 'error' event in the main thread.
      setImmediate(() => {
        throw err;
      });
    },
  );
});
