/**
 * The capture's summary, accumulated packet by packet in bounded memory: counts per verdict and flag, the top
 * deciding rules, the top Kubernetes services of DROP/REJECT packets, and packets over time per verdict. Every
 * row links to its packets through the page's search (`#q=…`).
 */
import type { Explanation } from '@ruletrail/explain';
import { TimeBuckets, TopCounter } from './aggregate';
import { attr, count, html } from './escape';
import { VERDICT_ORDER, look, verdictClass } from './verdicts';

/** Search terms a packet row carries (lower-cased), used by the summary's links. */
export const term = {
  verdict: (v: string) => `verdict:${v}`.toLowerCase(),
  rule: (table: string, chain: string, rulenum: number) => `rule:${table}/${chain}/${rulenum}`.toLowerCase(),
  service: (s: string) => `svc:${s}`.toLowerCase(),
  flag: (f: string) => `flag:${f}`.toLowerCase(),
  path: (n: number) => `path:${n};`,
};

/** A link that shows the packets matching search `q`. */
export const link = (q: string, text: string) => `<a href="#q=${attr(encodeURIComponent(q))}">${text}</a>`;

interface RuleInfo {
  table: string;
  chain: string;
  rulenum: number;
  kind: string;
  verdict: string;
  rule: string | undefined;
  target: string | undefined;
}

export class Summary {
  total = 0;
  readonly verdicts = new Map<string, number>();
  readonly flags = new TopCounter(64);
  readonly rules = new TopCounter<RuleInfo>(512);
  readonly services = new TopCounter<{ reason: string | undefined }>(512);
  readonly hosts = new TopCounter(256);
  readonly time = new TimeBuckets(96);
  first: string | undefined;
  last: string | undefined;
  private _firstMs = Infinity;
  private _lastMs = -Infinity;

  add(x: Explanation): void {
    this.total++;
    this.verdicts.set(x.verdict, (this.verdicts.get(x.verdict) ?? 0) + 1);
    for (const f of x.flags) this.flags.add(String(f), undefined);
    const d = x.decidedBy;
    if (d)
      this.rules.add(`${x.verdict}|${d.table}|${d.chain}|${d.rulenum}`, {
        table: d.table,
        chain: d.chain,
        rulenum: d.rulenum,
        kind: d.kind,
        verdict: x.verdict,
        rule: d.rule,
        target: d.target,
      });
    if ((x.verdict === 'DROP' || x.verdict === 'REJECT') && x.kubernetes?.service)
      this.services.add(x.kubernetes.service, { reason: x.kubernetes.reason });
    if (x.packet.host) this.hosts.add(x.packet.host, undefined);
    const t = x.packet.firstSeen;
    const ms = t ? Date.parse(t) : NaN;
    this.time.add(Number.isFinite(ms) ? ms : undefined, x.verdict);
    if (t && Number.isFinite(ms)) {
      if (ms < this._firstMs) [this.first, this._firstMs] = [t, ms];
      if (ms > this._lastMs) [this.last, this._lastMs] = [t, ms];
    }
  }

  /** The summary section's inner HTML. */
  render(): string {
    const verdicts = [
      ...VERDICT_ORDER,
      ...[...this.verdicts.keys()].filter((v) => !(VERDICT_ORDER as readonly string[]).includes(v)),
    ].filter((v) => this.verdicts.has(v));
    const pct = (n: number) => (this.total ? `${((100 * n) / this.total).toFixed(1)} %` : '');
    const approx = (c: TopCounter<unknown>) =>
      c.approximate
        ? '<p class="muted">≈ counts are estimates: more distinct values than the report keeps.</p>'
        : '';
    const out: string[] = [];
    out.push(
      '<div class="cards">',
      ...verdicts.map((v) => {
        const n = this.verdicts.get(v)!;
        return `<a class="card v-${verdictClass(v)}" href="#q=${attr(encodeURIComponent(term.verdict(v)))}"><span class="big">${look(v).symbol} ${count(n)}</span><span>${html(v)} · ${pct(n)}</span></a>`;
      }),
      '</div>',
    );
    out.push(this._chart());
    out.push('<div class="tables">');
    out.push(
      '<section aria-labelledby="h-verdicts"><h3 id="h-verdicts">Verdicts</h3><table><thead><tr><th scope="col">verdict</th><th scope="col" class="num">packets</th><th scope="col" class="num">share</th></tr></thead><tbody>',
      ...verdicts.map((v) => {
        const n = this.verdicts.get(v)!;
        return `<tr><td>${link(term.verdict(v), `<span class="v-${verdictClass(v)}">${look(v).symbol} ${html(v)}</span>`)}</td><td class="num">${count(n)}</td><td class="num">${pct(n)}</td></tr>`;
      }),
      '</tbody></table></section>',
    );
    const rules = this.rules.top(10);
    out.push(
      '<section aria-labelledby="h-rules"><h3 id="h-rules">Top deciding rules</h3>',
      rules.length
        ? '<table><thead><tr><th scope="col">rule</th><th scope="col">verdict</th><th scope="col" class="num">packets</th></tr></thead><tbody>' +
            rules
              .map(({ count: n, value: r }) => {
                const name = `${r.table} ${r.chain} ${r.kind === 'policy' ? 'policy' : `rule ${r.rulenum}`}`;
                return `<tr><td>${link(term.rule(r.table, r.chain, r.rulenum), html(name))}${r.rule ? `<br><code class="rule small">${html(r.rule)}</code>` : ''}</td><td class="nowrap"><span class="v-${verdictClass(r.verdict)}">${look(r.verdict).symbol} ${html(r.verdict)}</span></td><td class="num">${count(n)}</td></tr>`;
              })
              .join('') +
            '</tbody></table>'
        : '<p class="muted">No packet has a deciding rule.</p>',
      approx(this.rules),
      '</section>',
    );
    const svcs = this.services.top(10);
    out.push(
      '<section aria-labelledby="h-svc"><h3 id="h-svc">Top Kubernetes services, DROP/REJECT</h3>',
      svcs.length
        ? '<table><thead><tr><th scope="col">service</th><th scope="col">kube-proxy says</th><th scope="col" class="num">packets</th></tr></thead><tbody>' +
            svcs
              .map(
                ({ key, count: n, value }) =>
                  `<tr><td>${link(term.service(key), html(key))}</td><td>${html(value.reason ?? '')}</td><td class="num">${count(n)}</td></tr>`,
              )
              .join('') +
            '</tbody></table>'
        : '<p class="muted">No dropped or rejected packet is attributed to a Kubernetes service.</p>',
      approx(this.services),
      '</section>',
    );
    const flags = this.flags.top(20);
    out.push(
      '<section aria-labelledby="h-flags"><h3 id="h-flags">Flags</h3>',
      flags.length
        ? '<table><thead><tr><th scope="col">flag</th><th scope="col" class="num">packets</th></tr></thead><tbody>' +
            flags
              .map(
                ({ key, count: n }) =>
                  `<tr><td>${link(term.flag(key), `⚐ ${html(key)}`)}</td><td class="num">${count(n)}</td></tr>`,
              )
              .join('') +
            '</tbody></table>'
        : '<p class="muted">No packet is flagged.</p>',
      '</section>',
    );
    out.push('</div>');
    return out.join('');
  }

  /** Stacked bars of packets per time bucket and verdict, with patterns per verdict and a data table. */
  private _chart(): string {
    const buckets = this.time.buckets();
    if (buckets.length === 0)
      return `<p class="muted">No packet carries a time${this.time.untimed ? ` (${count(this.time.untimed)} untimed)` : ''}: no chart.</p>`;
    const W = 920;
    const H = 220;
    const left = 48;
    const bottom = 30;
    const top = 10;
    const plotW = W - left - 10;
    const plotH = H - top - bottom;
    const max = Math.max(1, ...buckets.map((b) => [...b.counts.values()].reduce((a, c) => a + c, 0)));
    const bw = plotW / buckets.length;
    const series = [...VERDICT_ORDER, 'OTHER'];
    const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
    const widthText = humanWidth(this.time.widthMs);
    const bars: string[] = [];
    buckets.forEach((b, i) => {
      let y = top + plotH;
      for (const v of series) {
        const n =
          v === 'OTHER'
            ? [...b.counts]
                .filter(([k]) => !(VERDICT_ORDER as readonly string[]).includes(k))
                .reduce((a, [, c]) => a + c, 0)
            : (b.counts.get(v) ?? 0);
        if (!n) continue;
        const h = (n / max) * plotH;
        y -= h;
        const lk = look(v);
        bars.push(
          `<rect x="${(left + i * bw + 1).toFixed(1)}" y="${y.toFixed(1)}" width="${Math.max(1, bw - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="url(#${lk.pattern})" stroke="${lk.colour}" stroke-width="0.8" class="bar" data-verdict="${attr(v)}"><title>${html(`${iso(b.startMs)} + ${widthText}: ${n} ${v}`)}</title></rect>`,
        );
      }
    });
    const legend = VERDICT_ORDER.filter((v) => this.verdicts.has(v))
      .map((v, i) => {
        const lk = look(v);
        return `<g transform="translate(${left + i * 120},${H - 8})"><rect width="14" height="10" y="-9" fill="url(#${lk.pattern})" stroke="${lk.colour}"/><text x="18" class="small">${lk.symbol} ${v}</text></g>`;
      })
      .join('');
    const table = buckets
      .map(
        (b) =>
          `<tr><td>${iso(b.startMs)}</td>${VERDICT_ORDER.map((v) => `<td class="num">${b.counts.get(v) ?? 0}</td>`).join('')}</tr>`,
      )
      .join('');
    return [
      `<figure class="chart"><figcaption>Packets over time per verdict (first seen; ${buckets.length} buckets of ${widthText})${this.time.untimed ? `; ${count(this.time.untimed)} packets carry no time` : ''}</figcaption>`,
      `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="packets over time per verdict, from ${iso(buckets[0]!.startMs)}; the table below has the numbers">`,
      `<line x1="${left}" y1="${top + plotH}" x2="${W - 10}" y2="${top + plotH}" class="axis"/><line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" class="axis"/>`,
      `<text x="${left - 4}" y="${top + 8}" class="small" text-anchor="end">${max}</text><text x="${left - 4}" y="${top + plotH}" class="small" text-anchor="end">0</text>`,
      `<text x="${left}" y="${top + plotH + 12}" class="small">${iso(buckets[0]!.startMs)}</text>`,
      `<text x="${W - 10}" y="${top + plotH + 12}" class="small" text-anchor="end">${iso(buckets[buckets.length - 1]!.startMs + this.time.widthMs)}</text>`,
      ...bars,
      legend,
      '</svg>',
      `<details><summary>chart data</summary><table class="small"><thead><tr><th scope="col">bucket start</th>${VERDICT_ORDER.map((v) => `<th scope="col" class="num">${v}</th>`).join('')}</tr></thead><tbody>${table}</tbody></table></details>`,
      '</figure>',
    ].join('');
  }
}

function humanWidth(ms: number): string {
  const s = ms / 1000;
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${s / 60} min`;
  if (s < 86400) return `${s / 3600} h`;
  return `${s / 86400} d`;
}
