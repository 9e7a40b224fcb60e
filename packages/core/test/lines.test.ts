/**
 * Line framing across arbitrary chunk boundaries: splitLines and the byte-level pre-filter must give exactly
 * the lines (and 1-based line numbers) a naive split of the whole text gives, however the stream is cut.
 */
import assert from 'node:assert/strict';
import { splitLines, splitLinesContaining } from '../src';

/** Deterministic PRNG (mulberry32) so a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// eslint-disable-next-line @typescript-eslint/require-await -- an async source that never waits, like a page-cached file
async function* chunked(buf: Buffer, sizes: number[]): AsyncIterable<Buffer> {
  for (let i = 0, k = 0; i < buf.length; k++) {
    const n = sizes[k % sizes.length]!;
    yield buf.subarray(i, i + n);
    i += n;
  }
}

describe('line framing', () => {
  it('agrees with a naive split for 500 random texts and chunkings (CRLF, empty lines, no final newline)', async () => {
    const rnd = prng(42);
    for (let t = 0; t < 500; t++) {
      const n = 1 + Math.floor(rnd() * 40);
      const lines = Array.from({ length: n }, (_, i) =>
        rnd() < 0.2
          ? ''
          : `line ${i} ${rnd() < 0.3 ? 'OPT (0204)' : 'x'}${'é'.repeat(Math.floor(rnd() * 30))}`,
      );
      const crlf = rnd() < 0.3;
      const text = lines.join(crlf ? '\r\n' : '\n') + (rnd() < 0.5 ? '\n' : '');
      if (text === '') continue;
      const buf = Buffer.from(text);
      const sizes = Array.from({ length: 5 }, () => 1 + Math.floor(rnd() * 20));
      const want = (text.endsWith('\n') ? text.slice(0, -1) : text)
        .split('\n')
        .map((l) => l.replace(/\r$/, ''));
      const got: string[] = [];
      for await (const b of splitLines(chunked(buf, sizes))) got.push(...b.lines);
      assert.deepEqual(got, want, `text ${JSON.stringify(text)} sizes ${sizes.join(',')}`);
      const wantHits = want.flatMap((l, i) => (l.includes('OPT (0204)') ? [[l, i + 1]] : []));
      const gotHits: (string | number)[][] = [];
      for await (const b of splitLinesContaining(chunked(buf, sizes), 'OPT (0204)'))
        b.lines.forEach((l, i) => gotHits.push([l, b.numbers(i)]));
      assert.deepEqual(gotHits, wantHits, `text ${JSON.stringify(text)} sizes ${sizes.join(',')}`);
    }
  });

  it('yields nothing for an empty stream', async () => {
    const got: string[] = [];
    for await (const b of splitLines(chunked(Buffer.alloc(0), [1]))) got.push(...b.lines);
    assert.deepEqual(got, []);
  });
});
