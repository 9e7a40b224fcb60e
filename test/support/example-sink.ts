import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DELIVERED, bodyJson, defineSink, type Sink, type SinkOutcome } from '@ruletrail/core';
import type { SinkRecord } from '@ruletrail/core';

export interface LineCountOptions {
  readonly dir: string;
  readonly maxBytes: number;
}

/** Appends each record as `id<TAB>json` to <dir>/<kind>.tsv; refuses records over maxBytes. */
export class LineCountSink implements Sink {
  readonly name = 'line-count';
  constructor(private readonly _o: LineCountOptions) {}
  connect(): Promise<void> {
    return Promise.resolve();
  }
  async write(records: readonly SinkRecord[]): Promise<SinkOutcome[]> {
    const out: SinkOutcome[] = [];
    for (const r of records) {
      const json = bodyJson(r);
      if (json.length > this._o.maxBytes) out.push({ status: 'rejected', reason: 'too large' });
      else {
        await appendFile(join(this._o.dir, `${r.kind}.tsv`), `${r.id}\t${json}\n`);
        out.push(DELIVERED); // only after the append completed
      }
    }
    return out;
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  /** Ids written so far (what the conformance suite reads back). */
  async ids(): Promise<Set<string>> {
    const text = await readFile(join(this._o.dir, 'packet.tsv'), 'utf8').catch(() => '');
    return new Set(
      text
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('\t')[0]!),
    );
  }
}

export const lineCountSinkPlugin = defineSink<LineCountOptions>({
  type: 'line-count',
  summary: 'Example: records as id<TAB>json lines, one file per kind.',
  options: {
    type: 'object',
    additionalProperties: false,
    required: ['dir'],
    properties: { dir: { type: 'string' }, maxBytes: { type: 'integer', default: 1000000 } },
  },
  pathOptions: ['dir'],
  create: (o) => new LineCountSink(o),
});
