/**
 * The soak's outputs: an SVG chart (three panels over time: resident memory and heap, event-loop lag, open file
 * descriptors), written by hand so no browser or plotting library is needed, and a Markdown table.
 */

/** One sample of the soaked `ruletrail run`. */
export interface SoakSample {
  /** Seconds since the traffic started. */
  readonly t: number;
  /** Packets written so far. */
  readonly written: number;
  /** `process_resident_memory_bytes` (MiB) and VmRSS from /proc (MiB). */
  readonly rssMb: number;
  readonly procRssMb: number;
  readonly heapMb: number;
  /** Event-loop delay over the last interval (monitorEventLoopDelay, reset at each scrape), ms. */
  readonly lagMeanMs: number;
  readonly lagP99Ms: number;
  readonly lagMaxMs: number;
  /** `process_open_fds` and the entries of /proc/<pid>/fd. */
  readonly fds: number;
  readonly procFds: number;
  /** Records each sink delivered so far. */
  readonly kafka: number;
  readonly es: number;
  readonly inFlight: number;
}

interface Series {
  readonly label: string;
  readonly colour: string;
  readonly values: readonly number[];
}

const W = 880;
const PANEL_H = 170;
const LEFT = 70;
const RIGHT = 20;
const TOP = 40;
const GAP = 50;

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A "nice" upper bound for an axis (1, 2, 2.5, 5 × 10^k). */
function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function panel(
  y0: number,
  title: string,
  unit: string,
  minutes: readonly number[],
  series: readonly Series[],
  tMax: number,
): string {
  const plotW = W - LEFT - RIGHT;
  const yMax = niceMax(Math.max(...series.flatMap((s) => s.values.filter(Number.isFinite))) * 1.1);
  const x = (m: number) => LEFT + (m / tMax) * plotW;
  const y = (v: number) => y0 + PANEL_H - (v / yMax) * PANEL_H;
  const out: string[] = [];
  out.push(`<text x="${LEFT}" y="${y0 - 8}" class="title">${esc(title)}</text>`);
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    out.push(
      `<line x1="${LEFT}" x2="${W - RIGHT}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" class="grid"/>`,
      `<text x="${LEFT - 6}" y="${(y(v) + 4).toFixed(1)}" class="tick" text-anchor="end">${+v.toFixed(2)}</text>`,
    );
  }
  const step = tMax > 20 ? 5 : tMax > 5 ? 1 : 0.5;
  for (let m = 0; m <= tMax + 1e-9; m += step)
    out.push(
      `<line x1="${x(m).toFixed(1)}" x2="${x(m).toFixed(1)}" y1="${y0}" y2="${y0 + PANEL_H}" class="grid"/>`,
      `<text x="${x(m).toFixed(1)}" y="${y0 + PANEL_H + 14}" class="tick" text-anchor="middle">${+m.toFixed(1)}</text>`,
    );
  out.push(
    `<text x="14" y="${y0 + PANEL_H / 2}" class="tick" transform="rotate(-90 14 ${y0 + PANEL_H / 2})" text-anchor="middle">${esc(unit)}</text>`,
  );
  let lx = W - RIGHT;
  for (const s of [...series].reverse()) {
    const pts = s.values
      .map((v, i) => (Number.isFinite(v) ? `${x(minutes[i]!).toFixed(1)},${y(v).toFixed(1)}` : ''))
      .filter(Boolean)
      .join(' ');
    out.push(`<polyline points="${pts}" fill="none" stroke="${s.colour}" stroke-width="1.6"/>`);
    const w = s.label.length * 7.5 + 30;
    lx -= w;
    out.push(
      `<line x1="${lx}" x2="${lx + 14}" y1="${y0 - 12}" y2="${y0 - 12}" stroke="${s.colour}" stroke-width="2.5"/>`,
      `<text x="${lx + 18}" y="${y0 - 8}" class="tick">${esc(s.label)}</text>`,
    );
  }
  return out.join('\n');
}

/** The chart: RSS and heap (MiB), event-loop lag (ms), open file descriptors, against minutes. */
export function renderSoakSvg(
  samples: readonly SoakSample[],
  opts: { minutes: number; rate: number },
): string {
  const minutes = samples.map((s) => s.t / 60);
  const tMax = Math.max(opts.minutes, ...minutes);
  const H = TOP + 3 * PANEL_H + 2 * GAP + 40;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">`,
    '<style>.title{font-size:13px;font-weight:bold}.tick{font-size:11px;fill:#333}.grid{stroke:#ddd;stroke-width:1}</style>',
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${LEFT}" y="18" class="title">ruletrail run soak: ${opts.rate} packets/s of lab traffic into Kafka + Elasticsearch, sampled every ${
      samples.length > 1 ? Math.round(samples[1]!.t - samples[0]!.t) : 10
    } s</text>`,
    panel(
      TOP + 10,
      'Memory',
      'MiB',
      minutes,
      [
        { label: 'RSS', colour: '#1f77b4', values: samples.map((s) => s.rssMb) },
        { label: 'heap used', colour: '#2ca02c', values: samples.map((s) => s.heapMb) },
      ],
      tMax,
    ),
    panel(
      TOP + 10 + PANEL_H + GAP,
      'Event-loop delay per interval',
      'ms',
      minutes,
      [
        { label: 'mean', colour: '#2ca02c', values: samples.map((s) => s.lagMeanMs) },
        { label: 'p99', colour: '#ff7f0e', values: samples.map((s) => s.lagP99Ms) },
        { label: 'max', colour: '#d62728', values: samples.map((s) => s.lagMaxMs) },
      ],
      tMax,
    ),
    panel(
      TOP + 10 + 2 * (PANEL_H + GAP),
      'Open file descriptors',
      'fds',
      minutes,
      [{ label: 'open fds', colour: '#9467bd', values: samples.map((s) => s.fds) }],
      tMax,
    ),
    `<text x="${LEFT + (W - LEFT - RIGHT) / 2}" y="${H - 8}" class="tick" text-anchor="middle">minutes</text>`,
    '</svg>',
    '',
  ];
  return parts.join('\n');
}

const f1 = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '–');

/** The full sample table (Markdown), headed by the run's summary. */
export function renderSoakTable(samples: readonly SoakSample[], summary: Record<string, unknown>): string {
  const rows = samples.map(
    (s) =>
      `| ${f1(s.t / 60)} | ${s.written} | ${f1(s.rssMb)} | ${f1(s.procRssMb)} | ${f1(s.heapMb)} | ${f1(s.lagMeanMs)} | ${f1(s.lagP99Ms)} | ${f1(s.lagMaxMs)} | ${s.fds} | ${s.procFds} | ${s.kafka} | ${s.es} | ${s.inFlight} |`,
  );
  return [
    '# Soak samples (`npm run soak -- --write`)',
    '',
    'Written by test/soak/soak.ts; the summary and the chart are in [reliability.md](reliability.md#7-soak).',
    '',
    '```json',
    JSON.stringify(summary, null, 2),
    '```',
    '',
    '| min | packets written | RSS MiB | /proc RSS MiB | heap MiB | lag mean ms | lag p99 ms | lag max ms | fds | /proc fds | Kafka delivered | ES delivered | in flight |',
    '| --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: |',
    ...rows,
    '',
  ].join('\n');
}
