/**
 * The page shell: one self-contained HTML document. Styles and the small script are inline; a Content Security
 * Policy forbids every network fetch (`default-src 'none'`), so the file works offline and cannot phone home
 * even if some input text escaped its escaping. The script only adds search and keyboard navigation: without it
 * the page still shows everything (journeys are `<details>`, links are plain anchors).
 */
import { count, html } from './escape';
import { verdictPatterns } from './verdicts';

const CSS = `
:root{--fg:#1f2328;--muted:#59636e;--bg:#fff;--line:#d0d7de;--rule:#1a7f37;--policy:#0550ae;--return:#6e7781;--problem:#9a6700;--cyan:#0a7b83}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg);margin:0 auto;padding:0 16px 48px;max-width:1280px}
header{padding:12px 0;border-bottom:1px solid var(--line)}
h1{font-size:22px;margin:4px 0}h2{font-size:18px;margin:24px 0 8px;border-bottom:1px solid var(--line)}h3{font-size:15px;margin:12px 0 6px}
nav a{margin-right:12px}
a{color:#0969da}a:focus-visible,summary:focus-visible,input:focus-visible,[tabindex]:focus-visible,tr:focus-within{outline:3px solid #fb8500;outline-offset:1px}
code,kbd{font:12.5px/1.4 ui-monospace,"DejaVu Sans Mono",monospace}kbd{border:1px solid var(--line);border-radius:3px;padding:0 3px}
.muted{color:var(--muted)}.small{font-size:12px}.num{text-align:right;font-variant-numeric:tabular-nums}.nowrap{white-space:nowrap}
.skip{position:absolute;left:-9999px}.skip:focus{left:8px;top:8px;background:#fff;padding:4px;z-index:9}
.cap{border:2px solid #bf8700;background:#fff8c5;padding:4px 10px;border-radius:6px}
.ctl{background:#ffebe9;color:#82071e;border:1px dashed #cf222e;border-radius:2px;padding:0 1px}
.cards{display:flex;gap:10px;flex-wrap:wrap;margin:8px 0}
.card{display:flex;flex-direction:column;border:2px solid currentColor;border-radius:8px;padding:6px 14px;text-decoration:none;min-width:130px}
.card .big{font-size:22px;font-weight:600}
.v-ACCEPT{color:#1a7f37}.v-DROP{color:#cf222e}.v-REJECT{color:#bc4c00}.v-QUEUE{color:#8250df}.v-UNKNOWN,.v-OTHER{color:#57606a}
.tables{display:grid;grid-template-columns:repeat(auto-fit,minmax(400px,1fr));gap:4px 24px}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid var(--line);padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f6f8fa}
.chart svg{max-width:100%;height:auto}.axis{stroke:#8c959f}text.small{font-size:11px;fill:var(--muted)}
.journey{border:1px solid var(--line);border-left:6px solid currentColor;border-radius:6px;padding:4px 14px 10px;margin:14px 0;color:var(--fg)}
.journey.v-DROP{border-left-color:#cf222e}.journey.v-ACCEPT{border-left-color:#1a7f37}.journey.v-REJECT{border-left-color:#bc4c00}.journey.v-UNKNOWN{border-left-color:#57606a}
.groupcount{font-weight:normal}
.cause{font-size:15px;font-weight:500;color:var(--fg)}
.vbadge{display:inline-block;border:2px solid currentColor;border-radius:4px;padding:0 6px;font-weight:700;margin-right:6px}
.flag{border:1px solid #bf8700;border-radius:10px;padding:0 6px;margin-right:4px;color:#7d4e00;background:#fff8c5}
svg.hooks{max-width:100%;height:auto;display:block;margin:6px 0}
.hookbox{fill:#f6f8fa;stroke:#8c959f}.hook.used .hookbox{stroke:#24292f;stroke-width:1.5}.hook:not(.used){opacity:.55}
.hooktitle{font:600 12px ui-monospace,"DejaVu Sans Mono",monospace;fill:var(--fg)}
.tablerow{fill:#fff;stroke:#d0d7de}.tablerow.visited{fill:#ddf4ff;stroke:#0969da;stroke-width:1.5}.tablerow.decides{fill:#fff8c5;stroke:#24292f;stroke-width:2.5;stroke-dasharray:5 2}
.tname{font-size:12px;fill:var(--fg)}.tmarks{font-size:11px;font-weight:700;fill:#24292f}
a.cell:focus .tablerow,a.cell:hover .tablerow{stroke:#fb8500;stroke-width:3}
.plumb{stroke:#afb8c1;stroke-width:2;fill:none}.route{fill:#fff;stroke:#8c959f}.local{fill:#fff;stroke:#8c959f}
.path{stroke:#24292f;stroke-width:2.5;fill:none;stroke-linejoin:round}
.stepno{fill:#24292f}.stepnotext{fill:#fff;font:700 10px sans-serif}
.verdictmark{font:700 13px sans-serif}.verdictmark.v-DROP{fill:#cf222e}.verdictmark.v-ACCEPT{fill:#1a7f37}.verdictmark.v-REJECT{fill:#bc4c00}.verdictmark.v-UNKNOWN{fill:#57606a}
.legend span{margin-right:10px}
.chains details{border-left:2px solid var(--line);margin:2px 0 2px 0;padding-left:8px}
.chains .d1{margin-left:1.5em}.chains .d2{margin-left:3em}.chains .d3{margin-left:4.5em}.chains .d4{margin-left:6em}.chains .d5,.chains .d6,.chains .d7,.chains .d8{margin-left:7.5em}
.chains summary{cursor:pointer;padding:1px 0}.chains details.decides{border-left:3px dashed #cf222e}
.hookname{font:11px ui-monospace,monospace;color:var(--cyan)}.tbl{color:var(--muted)}.chn{font-family:ui-monospace,"DejaVu Sans Mono",monospace}
.entry{display:inline-block;width:1.2em;text-align:center}
.badge{margin-left:8px;font-size:12px;border:1px solid var(--line);border-radius:10px;padding:0 6px}.b-decides{border:2px dashed #cf222e;color:#a40e26;font-weight:700}
.steps{list-style:none;margin:2px 0 6px;padding-left:8px}
.st{padding:2px 4px;border-radius:4px}.st .word{font-weight:600}
.s-rule,.s-rule .mk,.s-rule .word{color:var(--rule)}.s-policy,.s-policy .mk,.s-policy .word{color:var(--policy)}.s-return,.s-return .mk,.s-return .word{color:var(--return)}.s-problem,.s-problem .mk,.s-problem .word{color:var(--problem)}
.st code.rule{color:var(--fg);background:#f6f8fa;padding:0 4px;border-radius:3px;word-break:break-all}
.st.decides{outline:2px dashed #cf222e;background:#fff5f5}.dec{color:#a40e26}
.st.onpath{background:#f0f6ff}.pathmark{color:#0550ae;font-size:12px}
.eff{color:var(--muted)}.markv{font:12px ui-monospace,monospace;color:#7d4e00}.origin{font-size:11px;color:var(--muted)}
.note{margin-left:2em;font:12.5px ui-monospace,"DejaVu Sans Mono",monospace;color:#7d4e00}.problem{margin-left:2em;color:var(--problem)}
.search{position:sticky;top:0;background:var(--bg);padding:6px 0;z-index:2}
#q{width:min(640px,90%);font-size:15px;padding:4px 8px}
table.packets{table-layout:fixed}table.packets tbody{content-visibility:auto;contain-intrinsic-size:auto 9000px}table.packets td{font-size:12.5px;overflow-wrap:anywhere}table.packets .mono{font:12px ui-monospace,"DejaVu Sans Mono",monospace}table.packets .opt{word-break:break-all;font-size:11px}
tr[hidden]{display:none}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9198a1;--bg:#0d1117;--line:#3d444d;--rule:#3fb950;--policy:#58a6ff;--return:#9198a1;--problem:#d29922;--cyan:#39c5cf}
th{background:#151b23}.hookbox{fill:#151b23}.tablerow{fill:#0d1117}.tablerow.visited{fill:#0c2d6b}.tablerow.decides{fill:#5d0f12}.route,.local{fill:#0d1117}
.path{stroke:#e6edf3}.stepno{fill:#e6edf3}.stepnotext{fill:#0d1117}.tmarks{fill:#e6edf3}.st code.rule{background:#151b23}.st.decides{background:#2d1214}.st.onpath{background:#0f2240}
.cap{background:#3b2e00}.flag{background:#3b2e00;color:#e3b341}a{color:#4493f8}}
`;

/**
 * The client script, plain ES5-level JavaScript (it runs in whatever browser opens the file). Search: every
 * whitespace-separated word must be a substring of a row's `data-s`; `#q=…` links set the search. Keys: `/`
 * focuses the search, j/k move between visible packet rows, n/p between journeys, Esc clears the search.
 */
const SCRIPT = `
(function () {
  'use strict';
  var q = document.getElementById('q');
  var countEl = document.getElementById('q-count');
  var rows = Array.prototype.slice.call(document.querySelectorAll('table.packets tbody tr'));
  var journeys = Array.prototype.slice.call(document.querySelectorAll('article.journey'));
  var texts = rows.map(function (r) { return r.getAttribute('data-s') || ''; });
  function apply(value) {
    var terms = value.toLowerCase().split(/\\s+/).filter(Boolean);
    var shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var s = texts[i], ok = true;
      for (var t = 0; t < terms.length && ok; t++) ok = s.indexOf(terms[t]) >= 0;
      // Touch the DOM only where the state changes: re-hiding 10 000 rows would restyle them all.
      if (rows[i].hidden === ok) rows[i].hidden = !ok;
      if (ok) shown++;
    }
    countEl.textContent = terms.length ? shown + ' of ' + rows.length + ' packets match' : rows.length + ' packets';
  }
  var timer;
  q.addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(function () { apply(q.value); }, rows.length > 5000 ? 150 : 0);
  });
  function openTo(el) {
    for (var e = el; e; e = e.parentElement) if (e.tagName === 'DETAILS') e.open = true;
  }
  function fromHash() {
    var h = location.hash;
    if (h.indexOf('#q=') === 0) {
      var v;
      try { v = decodeURIComponent(h.slice(3)); } catch (err) { v = h.slice(3); }
      q.value = v;
      apply(v);
      document.getElementById('packets').scrollIntoView();
      q.focus();
      return;
    }
    if (h.length > 1) {
      var el = document.getElementById(h.slice(1));
      if (el) {
        openTo(el);
        var target = el.tagName === 'ARTICLE' ? el.querySelector('h3') : el.querySelector('summary') || el;
        if (target && target.focus) target.focus();
      }
    }
  }
  window.addEventListener('hashchange', fromHash);
  function visibleRows() { return rows.filter(function (r) { return !r.hidden; }); }
  function moveRow(delta) {
    var vis = visibleRows();
    if (!vis.length) return;
    var cur = document.activeElement ? document.activeElement.closest('tr') : null;
    var i = vis.indexOf(cur);
    var next = vis[Math.max(0, Math.min(vis.length - 1, i < 0 ? 0 : i + delta))];
    next.querySelector('a').focus();
  }
  function moveJourney(delta) {
    if (!journeys.length) return;
    var cur = document.activeElement ? document.activeElement.closest('article.journey') : null;
    var i = journeys.indexOf(cur);
    var next = journeys[Math.max(0, Math.min(journeys.length - 1, i < 0 ? 0 : i + delta))];
    next.querySelector('h3').focus();
  }
  document.addEventListener('keydown', function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var inField = e.target === q;
    if (inField) {
      if (e.key === 'Escape') { q.value = ''; apply(''); }
      else if (e.key === 'ArrowDown' || e.key === 'Enter') { e.preventDefault(); moveRow(0); }
      return;
    }
    if (e.key === '/') { e.preventDefault(); q.focus(); q.select(); }
    else if (e.key === 'j') moveRow(1);
    else if (e.key === 'k') moveRow(-1);
    else if (e.key === 'n') moveJourney(1);
    else if (e.key === 'p') moveJourney(-1);
    else if (e.key === 'Escape' && q.value) { q.value = ''; apply(''); }
  });
  document.documentElement.classList.add('js');
  if (location.hash) fromHash();
})();
`;

export interface PageHead {
  readonly title: string;
  readonly sources: readonly string[];
  readonly generatedAt: string;
  readonly packets: number;
  readonly first: string | undefined;
  readonly last: string | undefined;
}

/** Everything up to the first section. */
export function pageStart(h: PageHead): string {
  return [
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<meta name="generator" content="ruletrail report">`,
    `<title>${html(h.title)}</title><style>${CSS}</style></head><body>`,
    '<a class="skip" href="#packets">Skip to the packets</a>',
    `<svg width="0" height="0" style="position:absolute" aria-hidden="true" focusable="false">${verdictPatterns()}</svg>`,
    `<header><h1>${html(h.title)}</h1><p class="muted">${count(h.packets)} packet${h.packets === 1 ? '' : 's'}`,
    h.first ? `, first seen ${html(h.first)} to ${html(h.last ?? h.first)}` : '',
    h.sources.length ? ` · from ${h.sources.map((s) => `<code>${html(s)}</code>`).join(', ')}` : '',
    ` · generated ${html(h.generatedAt)} by ruletrail</p>`,
    `<nav aria-label="sections"><a href="#summary">Summary</a><a href="#journeys">Journeys</a><a href="#packets">Packets</a></nav></header><main>`,
  ].join('');
}

/** Closes the page. */
export function pageEnd(): string {
  return `</main><script>${SCRIPT}</script></body></html>\n`;
}
