/**
 * The streaming report writer. Packets arrive one at a time (from the explain engine or an NDJSON file); what
 * is kept in memory is bounded whatever the capture's size:
 *  - the summary's counters (top-N, time buckets: see summary.ts);
 *  - one entry per distinct path signature, up to `maxPaths` (beyond, packets are counted as "other paths"), and
 *    the rendered journey of the first packet of each of the first `maxJourneys` paths;
 *  - nothing per packet: each packet's table row is appended to a temporary file as it arrives (the first
 *    `maxPackets` rows; the rest are only counted), and copied into the page when the capture ends, after the
 *    summary and the journeys, which are only known then.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { Explanation } from '@ruletrail/explain';
import { attr, count, html } from './escape';
import { packetLine, renderJourney } from './journey';
import { pageEnd, pageStart } from './page';
import { Summary, link, term } from './summary';
import { look, verdictClass } from './verdicts';

export interface ReportOptions {
  /** Page title (default "ruletrail report"). */
  readonly title?: string;
  /** What the report was made from (file names), shown under the title. */
  readonly sources?: readonly string[];
  /** Packet rows embedded in the page (default 10 000); the rest are counted in the summary only. */
  readonly maxPackets?: number;
  /** Distinct paths whose journey is drawn (default 200). */
  readonly maxJourneys?: number;
  /** Distinct paths counted (default 10 000); packets of further paths are counted as "other paths". */
  readonly maxPaths?: number;
  /** Directory for the temporary rows file (default the OS temp directory). */
  readonly tmpDir?: string;
  /** Time shown as "generated at" (default now; fixed in tests). */
  readonly generatedAt?: Date;
}

export const REPORT_DEFAULTS = { maxPackets: 10_000, maxJourneys: 200, maxPaths: 10_000 } as const;

/** What a finished report contains. */
export interface ReportStats {
  readonly packets: number;
  readonly rows: number;
  readonly paths: number;
  readonly journeys: number;
  readonly otherPathPackets: number;
  readonly bytes: number;
}

interface PathGroup {
  readonly n: number;
  count: number;
  readonly verdict: string;
  /** The first packet's journey, rendered (only for the first `maxJourneys` paths). */
  readonly journey: string | undefined;
  readonly example: string;
  readonly cause: string;
}

const FLUSH = 1 << 16;
const ROW_BLOCK = 250;

/** A path signature: the verdict, the snapshot and every step's position (not the packet's addresses). */
export function pathSignature(x: Explanation): string {
  const h = createHash('sha1');
  h.update(`${x.verdict}|${x.snapshot?.hash ?? ''}|`);
  for (const s of x.steps)
    h.update(`${s.table}\u0000${s.chain}\u0000${String(s.kind)}\u0000${String(s.rulenum)}\u0001`);
  return h.digest('base64');
}

export class HtmlReport {
  private readonly _summary = new Summary();
  private readonly _paths = new Map<string, PathGroup>();
  private _otherPaths = 0;
  private _packets = 0;
  private _rows = 0;
  private _buf = '';
  private _waiting: Promise<void> | undefined;
  private readonly _o: Required<Omit<ReportOptions, 'title' | 'sources' | 'tmpDir' | 'generatedAt'>>;

  private constructor(
    private readonly _out: Writable,
    private readonly _dir: string,
    private readonly _rowsFile: WriteStream,
    private readonly _opts: ReportOptions,
  ) {
    this._o = {
      maxPackets: _opts.maxPackets ?? REPORT_DEFAULTS.maxPackets,
      maxJourneys: _opts.maxJourneys ?? REPORT_DEFAULTS.maxJourneys,
      maxPaths: _opts.maxPaths ?? REPORT_DEFAULTS.maxPaths,
    };
  }

  /** A report written to `out` when `finish()` is called. */
  static async create(out: Writable, opts: ReportOptions = {}): Promise<HtmlReport> {
    const dir = await mkdtemp(join(opts.tmpDir ?? tmpdir(), 'ruletrail-report-'));
    const rows = createWriteStream(join(dir, 'rows.html'));
    await new Promise<void>((resolve, reject) => rows.once('open', () => resolve()).once('error', reject));
    return new HtmlReport(out, dir, rows, opts);
  }

  /** Adds one packet. Call `drain()` now and then (between input batches) for backpressure. */
  add(x: Explanation): void {
    this._packets++;
    this._summary.add(x);
    const sig = pathSignature(x);
    let g = this._paths.get(sig);
    if (!g && this._paths.size < this._o.maxPaths) {
      const n = this._paths.size + 1;
      g = {
        n,
        count: 0,
        verdict: x.verdict,
        journey: n <= this._o.maxJourneys ? renderJourney(`j${n}`, x) : undefined,
        example: packetLine(x),
        cause: x.cause,
      };
      this._paths.set(sig, g);
    }
    if (g) g.count++;
    else this._otherPaths++;
    if (this._rows < this._o.maxPackets) {
      this._rows++;
      // Rows come in blocks of ROW_BLOCK, each its own <tbody>, so the browser can skip laying out and painting
      // the blocks off screen (content-visibility): a page of 10 000 rows stays responsive.
      if (this._rows > 1 && this._rows % ROW_BLOCK === 1) this._buf += '</tbody><tbody>';
      this._buf += this._row(x, g);
      if (this._buf.length >= FLUSH) this._flush();
    }
  }

  /** Resolves when the temporary rows file has taken what was written. */
  async drain(): Promise<void> {
    if (this._waiting) await this._waiting;
  }

  /** Writes the page to the output and removes the temporary file. Does not end `out`. */
  async finish(): Promise<ReportStats> {
    this._flush();
    await new Promise<void>((resolve, reject) =>
      this._rowsFile.end((err?: Error | null) => (err ? reject(err) : resolve())),
    );
    let bytes = 0;
    const write = async (s: string | Buffer) => {
      bytes += typeof s === 'string' ? Buffer.byteLength(s) : s.length;
      if (!this._out.write(s)) await new Promise<void>((r) => this._out.once('drain', () => r()));
    };
    try {
      const groups = [...this._paths.values()].sort((a, b) => b.count - a.count || a.n - b.n);
      const journeys = groups.filter((g) => g.journey !== undefined);
      await write(
        pageStart({
          title: this._opts.title ?? 'ruletrail report',
          sources: this._opts.sources ?? [],
          generatedAt: (this._opts.generatedAt ?? new Date()).toISOString(),
          packets: this._packets,
          first: this._summary.first,
          last: this._summary.last,
        }),
      );
      await write(this._notes(journeys.length));
      await write(
        `<section id="summary" aria-labelledby="h-summary"><h2 id="h-summary">Summary</h2>${this._summary.render()}`,
      );
      await write(this._pathsTable(groups));
      await write('</section>');
      await write(
        `<section id="journeys" aria-labelledby="h-journeys"><h2 id="h-journeys">Journeys</h2><p class="muted">One per distinct path, most frequent first; each shows the first packet that took it. Keys: <kbd>n</kbd>/<kbd>p</kbd> next/previous journey.</p>`,
      );
      for (const g of journeys)
        await write(
          `<article class="journey v-${verdictClass(g.verdict)}" id="j${g.n}" data-path="${g.n}" data-count="${g.count}" aria-labelledby="j${g.n}-h"><h3 id="j${g.n}-h" tabindex="-1">Path ${g.n}: <span class="groupcount">${count(g.count)} packet${g.count === 1 ? '' : 's'} took this path</span> <a class="small" href="#q=${attr(encodeURIComponent(term.path(g.n)))}">show them</a></h3>${g.journey!}</article>`,
        );
      await write('</section>');
      await write(
        `<section id="packets" aria-labelledby="h-packets"><h2 id="h-packets">Packets</h2>` +
          `<div class="search" role="search"><label for="q">Search packets</label> <input id="q" type="search" autocomplete="off" spellcheck="false" placeholder="address, port, id:41569, opt:0204…, verdict:drop, svc:…" aria-describedby="q-help q-count"> <span id="q-count" aria-live="polite">${count(this._rows)} packets</span>` +
          `<p id="q-help" class="muted small">Every word must match: 5-tuple (<code>src:10.0.0.1</code>, <code>dport:52000</code>, <code>proto:tcp</code>, or <code>10.0.0.1:52000</code>), IP ID (<code>id:41569</code>), TCP options (<code>opt:020405b4…</code>), <code>verdict:drop</code>, <code>rule:filter/kube-firewall/1</code>, <code>svc:ns/name:port</code>, <code>flag:silent_drop</code>, <code>path:3;</code>. Keys: <kbd>/</kbd> search, <kbd>j</kbd>/<kbd>k</kbd> next/previous packet, <kbd>Enter</kbd> its journey, <kbd>Esc</kbd> clear.</p></div>` +
          (this._rows < this._packets
            ? `<p class="cap" role="note">⚠ Only the first ${count(this._rows)} of ${count(this._packets)} packets are listed (the summary counts all of them); raise the cap with <code>--max-packets</code> or select packets with <code>--packet</code>.</p>`
            : '') +
          `<table class="packets"><colgroup><col style="width:4em"><col style="width:11em"><col style="width:6.5em"><col style="width:18em"><col style="width:6em"><col style="width:4.5em"><col style="width:12em"><col style="width:10em"><col style="width:10em"><col style="width:8em"><col style="width:4.5em"></colgroup><thead><tr><th scope="col">#</th><th scope="col">first seen</th><th scope="col">verdict</th><th scope="col">packet</th><th scope="col">host</th><th scope="col">IP ID</th><th scope="col">TCP options</th><th scope="col">decided by</th><th scope="col">service</th><th scope="col">flags</th><th scope="col">path</th></tr></thead><tbody>`,
      );
      for await (const chunk of createReadStream(join(this._dir, 'rows.html'))) await write(chunk as Buffer);
      await write('</tbody></table></section>');
      await write(pageEnd());
      return {
        packets: this._packets,
        rows: this._rows,
        paths: this._paths.size,
        journeys: journeys.length,
        otherPathPackets: this._otherPaths,
        bytes,
      };
    } finally {
      await rm(this._dir, { recursive: true, force: true });
    }
  }

  /** Removes the temporary file without writing a page (on an error). */
  async abort(): Promise<void> {
    this._rowsFile.destroy();
    await rm(this._dir, { recursive: true, force: true });
  }

  private _notes(journeys: number): string {
    const notes: string[] = [];
    if (this._packets === 0) notes.push('No packets: the input held no explained packet.');
    if (journeys < this._paths.size)
      notes.push(
        `Journeys are drawn for the first ${count(journeys)} of ${count(this._paths.size)} distinct paths (cap --max-journeys); the others are listed in the paths table.`,
      );
    if (this._otherPaths)
      notes.push(
        `${count(this._otherPaths)} packets took one of more than ${count(this._o.maxPaths)} distinct paths and are counted in the summary only.`,
      );
    if (this._rows < this._packets)
      notes.push(
        `Only the first ${count(this._rows)} of ${count(this._packets)} packets are listed below (cap --max-packets).`,
      );
    return notes.length
      ? `<div class="cap" role="note">${notes.map((n) => `<p>⚠ ${n}</p>`).join('')}</div>`
      : '';
  }

  private _pathsTable(groups: PathGroup[]): string {
    if (groups.length === 0) return '';
    const shown = groups.slice(0, 15);
    return (
      `<section aria-labelledby="h-paths"><h3 id="h-paths">Paths</h3><table><thead><tr><th scope="col">path</th><th scope="col">verdict</th><th scope="col" class="num">packets</th><th scope="col">first packet</th><th scope="col">cause</th></tr></thead><tbody>` +
      shown
        .map(
          (g) =>
            `<tr><td>${g.journey !== undefined ? `<a href="#j${g.n}">path ${g.n}</a>` : `path ${g.n}`}</td><td class="nowrap"><span class="v-${verdictClass(g.verdict)}">${look(g.verdict).symbol} ${html(g.verdict)}</span></td><td class="num">${link(term.path(g.n), count(g.count))}</td><td><code>${html(g.example)}</code></td><td class="small">${html(g.cause)}</td></tr>`,
        )
        .join('') +
      `</tbody></table>${groups.length > shown.length ? `<p class="muted">and ${count(groups.length - shown.length)} less frequent paths (their journeys follow).</p>` : ''}</section>`
    );
  }

  private _row(x: Explanation, g: PathGroup | undefined): string {
    const p = x.packet;
    const d = x.decidedBy;
    const svc = x.kubernetes?.service;
    const s = [
      term.verdict(x.verdict),
      d ? term.rule(d.table, d.chain, d.rulenum) : '',
      svc ? term.service(svc) : '',
      ...x.flags.map((f) => term.flag(String(f))),
      g ? term.path(g.n) : '',
      p.proto ? `proto:${p.proto}` : '',
      p.src ? `src:${p.src}` : '',
      p.dst ? `dst:${p.dst}` : '',
      p.sport !== undefined ? `sport:${p.sport}` : '',
      p.dport !== undefined ? `dport:${p.dport}` : '',
      p.src && p.sport !== undefined ? `${p.src}:${p.sport}` : '',
      p.dst && p.dport !== undefined ? `${p.dst}:${p.dport}` : '',
      p.ipId !== undefined ? `id:${p.ipId}` : '',
      p.tcpOptions ? `opt:${p.tcpOptions}` : '',
      p.host ? `host:${p.host}` : '',
      ...(x.nat ?? []).map((n) => `nat:${n.to}`),
    ]
      .filter(Boolean)
      .join(' ')
      .toLowerCase();
    const v = look(x.verdict);
    const n = this._packets;
    return (
      `<tr id="p${n}" data-s="${attr(s)}" data-verdict="${attr(x.verdict)}"><td><a href="${g?.journey !== undefined ? `#j${g.n}` : `#p${n}`}" class="rowlink">${n}</a></td>` +
      `<td class="nowrap">${html(p.firstSeen ?? '')}</td>` +
      `<td class="nowrap v-${verdictClass(x.verdict)}">${v.symbol} ${html(x.verdict)}</td>` +
      `<td class="mono">${html(packetLine(x))}</td>` +
      `<td>${html(p.host ?? '')}</td>` +
      `<td class="num">${p.ipId !== undefined ? html(String(p.ipId)) : ''}</td>` +
      `<td class="mono opt">${html(p.tcpOptions ?? '')}</td>` +
      `<td>${d ? html(`${d.table} ${d.chain} ${d.kind === 'policy' ? 'policy' : `rule ${d.rulenum}`}`) : ''}</td>` +
      `<td>${svc ? html(svc) : ''}</td>` +
      `<td>${x.flags.map((f) => html(String(f))).join(' ')}</td>` +
      `<td>${g ? `path ${g.n}` : 'other'}</td></tr>\n`
    );
  }

  private _flush(): void {
    if (!this._buf) return;
    const chunk = this._buf;
    this._buf = '';
    if (!this._rowsFile.write(chunk) && !this._waiting)
      this._waiting = new Promise((resolve) =>
        this._rowsFile.once('drain', () => {
          this._waiting = undefined;
          resolve();
        }),
      );
  }
}
