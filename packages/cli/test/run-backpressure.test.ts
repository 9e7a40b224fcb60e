/**
 * Backpressure end to end: a sink that stops taking records (stdout nobody reads) must stop the reading of the
 * input — bytes read by the process stop growing — and memory must stay flat instead of buffering the file.
 * Then the reader resumes and every packet comes out.
 */
import assert from 'node:assert/strict';
import { createWriteStream, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  collectStderr,
  dropPacket,
  exited,
  incidentSnapshots,
  killChildren,
  startRun,
  tempDir,
  waitFor,
  writeConfig,
} from './pipeline-helpers';

function procStat(pid: number): { rssKb: number; readBytes: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  return { rssKb: Number(/VmRSS:\s+(\d+)/.exec(status)![1]), readBytes: Number(/rchar: (\d+)/.exec(io)![1]) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ruletrail run: backpressure from a slow sink', function () {
  this.timeout(120000);
  afterEach(killChildren);

  it('stops reading while stdout is not read, keeps memory flat, then delivers everything', async function () {
    if (process.platform !== 'linux') this.skip();
    const dir = tempDir();
    const log = join(dir, 'kern.log');
    const N = 6000;
    const w = createWriteStream(log);
    for (let i = 0; i < N; i++) w.write(dropPacket(i).join('\n') + '\n');
    await new Promise((r) => w.end(r));
    const size = statSync(log).size;
    const cfg = writeConfig(dir, {
      version: 1,
      sources: [{ id: 'kern', type: 'file', paths: [log], mode: 'read', year: 2023 }],
      snapshots: incidentSnapshots(),
      sinks: [{ id: 'stdout', type: 'file', path: '-', records: ['explanation'] }],
      pipeline: { maxInFlight: 100 },
    });
    // A heap far smaller than input + output: buffering either would end in an out-of-memory crash.
    const child = startRun(cfg, [], 'pipe', ['--max-old-space-size=64']);
    const err = collectStderr(child);
    child.stdout!.pause();
    // Nobody reads stdout: the pipe (64 KiB) fills, the sink stops acknowledging, the source stops reading.
    // Wait for that condition (two one-second windows in a row with under 1 MiB read), however long a loaded
    // machine takes to get there, rather than a fixed sleep; then watch a further window while it is stuck.
    await waitFor(() => err.text.includes('Pipeline started.'), 60_000, 'the pipeline to start');
    // Bytes read so far are the program's own modules; the input is read from here on.
    const base = procStat(child.pid!);
    let prev = base;
    let quiet = 0;
    const giveUp = Date.now() + 60_000;
    while (quiet < 2) {
      await sleep(1000);
      const now = procStat(child.pid!);
      const stalled = now.readBytes - base.readBytes >= 256 << 10 && now.readBytes - prev.readBytes < 1 << 20;
      quiet = stalled ? quiet + 1 : 0;
      assert.ok(Date.now() < giveUp, `still reading while the sink is stuck: ${now.readBytes} bytes`);
      prev = now;
    }
    const a = procStat(child.pid!);
    await sleep(1500);
    const b = procStat(child.pid!);
    assert.ok(
      b.readBytes - a.readBytes < 1 << 20,
      `still reading while the sink is stuck: +${b.readBytes - a.readBytes} bytes`,
    );
    assert.ok(a.readBytes < size / 2, `read ${a.readBytes} of ${size} bytes with a stuck sink`);
    assert.ok(b.rssKb - a.rssKb < 8 * 1024, `memory grew while stuck: ${a.rssKb} → ${b.rssKb} kB`);

    // Now a slow reader: memory must stay flat while the whole file goes through.
    let lines = 0;
    let carry = '';
    let peakKb = b.rssKb;
    const sampler = setInterval(() => {
      try {
        peakKb = Math.max(peakKb, procStat(child.pid!).rssKb);
      } catch {
        // exited
      }
    }, 100);
    child.stdout!.on('data', (buf: Buffer) => {
      const s = carry + buf.toString();
      const parts = s.split('\n');
      carry = parts.pop()!;
      lines += parts.length;
    });
    child.stdout!.resume();
    const code = await exited(child);
    clearInterval(sampler);
    assert.equal(code, 0, err.text);
    assert.equal(lines, N);
    // The input is ~50 MB and the output ~70 MB; the process finished under a 64 MB heap, and its resident
    // memory stayed below the size of either (the rest is garbage not yet collected, bounded by the heap cap).
    assert.ok(peakKb < 200 * 1024, `peak RSS ${peakKb} kB for a ${size >> 20} MB input`);
  });
});
