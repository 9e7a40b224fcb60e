/**
 * Opening inputs: files (gzip detected by magic, not by name), or `-` for stdin. Everything is streamed in
 * large chunks; nothing here reads a whole file.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip, gunzipSync } from 'node:zlib';
import type { Readable } from 'node:stream';

/** Chunk size for file reads: large chunks amortise the per-chunk split and decode cost. */
export const READ_CHUNK_BYTES = 1 << 20;
const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

/** Whether a buffer starts with the gzip magic. */
export function isGzip(head: Buffer): boolean {
  return head.length >= 2 && head[0] === GZIP_MAGIC_0 && head[1] === GZIP_MAGIC_1;
}

/** The input as a stream of byte chunks, gunzipped when it is gzip. `-` reads stdin. */
export async function openInput(path: string): Promise<Readable> {
  if (path === '-') return process.stdin;
  const head = await readRawHead(path, 2);
  const file = createReadStream(path, { highWaterMark: READ_CHUNK_BYTES });
  if (!isGzip(head)) return file;
  const gunzip = createGunzip({ chunkSize: READ_CHUNK_BYTES });
  // Errors on the file stream are not forwarded by pipe(); forward them so the reader sees them.
  file.on('error', (err) => gunzip.destroy(err));
  return file.pipe(gunzip);
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
