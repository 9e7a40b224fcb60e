/**
 * Opening inputs: files (gzip detected by magic, not by name), or `-` for stdin. Everything is streamed in
 * large chunks; nothing here reads a whole file.
 */
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip, gunzipSync } from 'node:zlib';

/** Chunk size for file reads: large chunks amortise the per-chunk split and decode cost. */
export const READ_CHUNK_BYTES = 1 << 20;
const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

/** Whether a buffer starts with the gzip magic. */
export function isGzip(head: Buffer): boolean {
  return head.length >= 2 && head[0] === GZIP_MAGIC_0 && head[1] === GZIP_MAGIC_1;
}

/** The input as a stream of byte chunks, gunzipped when it is gzip. `-` reads stdin. */
export async function openInput(path: string): Promise<AsyncIterable<Buffer>> {
  if (path === '-') return process.stdin;
  const head = await readRawHead(path, 2);
  if (!isGzip(head)) return readFileChunks(path);
  const file = createReadStream(path, { highWaterMark: READ_CHUNK_BYTES });
  const gunzip = createGunzip({ chunkSize: READ_CHUNK_BYTES });
  // Errors on the file stream are not forwarded by pipe(); forward them so the reader sees them.
  file.on('error', (err) => gunzip.destroy(err));
  return file.pipe(gunzip);
}

/**
 * A plain file's chunks, read synchronously: a file on local disk is mostly in the page cache, and a
 * synchronous read skips the thread-pool round trip a stream pays per chunk (a fifth of a one-packet query's
 * time was spent waiting on it). Each chunk is a fresh buffer, since decoders may keep slices of it.
 */
// eslint-disable-next-line @typescript-eslint/require-await -- synchronous reads on purpose (see above)
async function* readFileChunks(path: string): AsyncIterable<Buffer> {
  const fd = openSync(path, 'r');
  try {
    for (;;) {
      const buf = Buffer.allocUnsafe(READ_CHUNK_BYTES);
      const n = readSync(fd, buf, 0, READ_CHUNK_BYTES, null);
      if (n === 0) return;
      yield n === READ_CHUNK_BYTES ? buf : buf.subarray(0, n);
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * The chunks of a plain (not gzip) file from byte `start` to `end` (default: to its end), read like
 * {@link openInput} reads a whole file. The consumer may stop early: the file is closed when iteration ends.
 */
// eslint-disable-next-line @typescript-eslint/require-await -- synchronous reads on purpose (see readFileChunks)
export async function* readFileRange(path: string, start: number, end = Infinity): AsyncIterable<Buffer> {
  const fd = openSync(path, 'r');
  try {
    let pos = start;
    while (pos < end) {
      const want = Math.min(READ_CHUNK_BYTES, end - pos);
      const buf = Buffer.allocUnsafe(want);
      const n = readSync(fd, buf, 0, want, pos);
      if (n === 0) return;
      pos += n;
      yield n === want ? buf : buf.subarray(0, n);
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * The first `bytes` bytes of a file, decompressed when it is gzip: what format sniffing looks at.
 * For gzip only the first compressed 64 KiB are inflated, so a huge file costs nothing here.
 */
export async function readHead(path: string, bytes = 4096): Promise<Buffer> {
  const raw = await readRawHead(path, Math.max(bytes, 65536));
  if (!isGzip(raw)) return raw.subarray(0, bytes);
  try {
    return gunzipSync(raw, { finishFlush: 2 /* Z_SYNC_FLUSH: tolerate the cut-off stream */ }).subarray(
      0,
      bytes,
    );
  } catch {
    return Buffer.alloc(0);
  }
}

/** Whether a file starts with the gzip magic (the raw bytes, unlike readHead). */
export async function isGzipFile(path: string): Promise<boolean> {
  return isGzip(await readRawHead(path, 2));
}

async function readRawHead(path: string, bytes: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    const { bytesRead } = await fh.read(buf, 0, bytes, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}
