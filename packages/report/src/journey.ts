/**
 * One packet's journey as HTML: the cause sentence, the packet, an SVG of the netfilter hooks with their tables
 * in priority order and the packet's path drawn through them, then every visited chain as a `<details>` block
 * with its steps, coloured like the text renderer (rule green, policy blue, return gray, problem yellow), each
 * also marked by a symbol and a word so colour is never the only cue. NAT rewrites and mark changes are shown
 * at the step where they happen, as before → after.
 */
import type { ExplainedStep, Explanation, RuleRef } from '@ruletrail/explain';
import { attr, html } from './escape';
import { look, verdictClass } from './verdicts';

type Hook = 'PREROUTING' | 'INPUT' | 'FORWARD' | 'OUTPUT' | 'POSTROUTING';

/** The iptables tables at each hook, in priority order (nf_ip_hook_priorities). */
const STANDARD_TABLES: Record<Hook, readonly string[]> = {
  PREROUTING: ['raw', 'mangle', 'nat'],
  INPUT: ['mangle', 'filter', 'security', 'nat'],
  FORWARD: ['mangle', 'filter', 'security'],
  OUTPUT: ['raw', 'mangle', 'nat', 'filter', 'security'],
  POSTROUTING: ['mangle', 'nat'],
};
const STANDARD = new Set(['raw', 'mangle', 'nat', 'filter', 'security']);

/** The hook a chain name names: iptables built-ins, and nftables base chains named like `nat-prerouting`. */
const HOOK_NAME = /(?:^|[-_])(prerouting|input|forward|output|postrouting)$/i;

function hookOfChain(chain: string): Hook | undefined {
  const m = HOOK_NAME.exec(chain);
  return m ? (m[1]!.toUpperCase() as Hook) : undefined;
}

/** Where the diagram draws each hook: column, row (0 = top, 1 = bottom). */
const HOOK_AT: Record<Hook, { col: number; row: number }> = {
  PREROUTING: { col: 0, row: 0 },
  FORWARD: { col: 2, row: 0 },
  POSTROUTING: { col: 3, row: 0 },
  INPUT: { col: 1, row: 1 },
  OUTPUT: { col: 3, row: 1 },
};
const HOOKS = Object.keys(HOOK_AT) as Hook[];

/** A run of consecutive steps in one chain. */
interface Segment {
  readonly table: string;
  readonly chain: string;
  readonly hook: Hook | undefined;
  readonly depth: number;
  /** How the packet got here from the previous segment. */
  readonly entry: 'hook' | 'jump' | 'goto' | 'return' | 'next';
  readonly steps: { step: ExplainedStep; index: number }[];
}

/** What happened at one step besides its rule: rewrites, mark changes, the deciding role. */
interface StepNotes {
  decides: boolean;
  onPath: boolean;
  notes: string[];
}

const sameRef = (s: ExplainedStep, r: RuleRef) =>
  s.table === r.table && s.chain === r.chain && s.rulenum === r.rulenum;

/** Splits the steps into chain runs, with the hook each run belongs to and its call depth. */
function segments(steps: readonly ExplainedStep[]): Segment[] {
  const out: Segment[] = [];
  let hook: Hook | undefined;
  let depth = 0;
  let prev: ExplainedStep | undefined;
  steps.forEach((step, index) => {
    const cur = out[out.length - 1];
    if (cur && cur.table === step.table && cur.chain === step.chain) {
      cur.steps.push({ step, index });
      prev = step;
      return;
    }
    const named = hookOfChain(step.chain);
    let entry: Segment['entry'];
    if (!prev || prev.table !== step.table || (named !== undefined && named !== hook)) {
      // A new table's traversal (or a new hook): its base chain, or the chain it starts in when unnamed.
      entry = 'hook';
      depth = 0;
      if (named) hook = named;
    } else if (prev.effect === 'jump') {
      entry = 'jump';
      depth++;
    } else if (prev.effect === 'goto') entry = 'goto';
    else if (prev.effect === 'return' || prev.resolution === 'implicit-return') {
      entry = 'return';
      depth = Math.max(0, depth - 1);
    } else entry = 'next';
    out.push({ table: step.table, chain: step.chain, hook, depth, entry, steps: [{ step, index }] });
    prev = step;
  });
  return out;
}

/** Per-step notes: the deciding step, the jump path, mark setters, NAT rewrites and observed field changes. */
function stepNotes(x: Explanation): StepNotes[] {
  const steps = x.steps;
  const notes: StepNotes[] = steps.map(() => ({ decides: false, onPath: false, notes: [] }));
  const d = x.decidedBy;
  if (d) {
    let at = -1;
    steps.forEach((s, i) => {
      if (sameRef(s, d) && s.kind === d.kind) at = i;
    });
    if (at < 0) steps.forEach((s, i) => sameRef(s, d) && (at = i));
    if (at >= 0) {
      notes[at]!.decides = true;
      // The jump rules that led there: the last occurrence of each before the deciding step.
      for (const r of d.path ?? []) {
        for (let i = at - 1; i >= 0; i--)
          if (sameRef(steps[i]!, r)) {
            notes[i]!.onPath = true;
            break;
          }
      }
    }
  }
  for (const m of x.markSetBy ?? []) {
    const i = steps.findIndex((s) => sameRef(s, m) && s.resolution !== 'unresolved');
    if (i >= 0) {
      notes[i]!.notes.push(`⚑ sets mark ${html(m.mark)} (the deciding rule matches it)`);
      for (const r of m.path ?? []) {
        for (let j = i - 1; j >= 0; j--)
          if (sameRef(steps[j]!, r)) {
            notes[j]!.onPath = true;
            break;
          }
      }
    }
  }
  let from = 0;
  for (const n of x.nat ?? []) {
    if (!n.by) continue;
    const by = n.by;
    const i = steps.findIndex((s, k) => k >= from && sameRef(s, by));
    if (i < 0) continue;
    notes[i]!.notes.push(`⇄ ${html(n.kind)} ${html(n.from)} → ${html(n.to)}`);
    from = i + 1;
  }
  // Observed changes: the trace shows the new value at the first step after the change.
  const p = x.packet;
  const state: Record<string, string> = {};
  for (const k of ['src', 'dst', 'sport', 'dport', 'in', 'out'] as const) {
    const v: unknown = p[k];
    if (typeof v === 'string' || typeof v === 'number') state[k] = String(v);
  }
  let mark = '0x0';
  steps.forEach((s, i) => {
    for (const [k, v] of Object.entries(s.changed ?? {})) {
      const before = k === 'mark' ? mark : (state[k] ?? '∅');
      notes[i]!.notes.push(
        `△ ${html(k.toUpperCase())} ${html(before)} → ${html(String(v))} (seen from this step on)`,
      );
      if (k !== 'mark') state[k] = String(v);
    }
    mark = s.mark ?? '0x0';
  });
  return notes;
}

/** Text mark + class for a step, as the text renderer colours it. */
function stepLook(s: ExplainedStep): { cls: string; mark: string; word: string } {
  switch (s.resolution) {
    case 'rule':
      return { cls: 's-rule', mark: '●', word: `rule ${s.rulenum}` };
    case 'unconditional-rule':
      return { cls: 's-rule', mark: '●', word: `rule ${s.rulenum} (unconditional, logged as ${s.kind})` };
    case 'policy':
      return { cls: 's-policy', mark: '■', word: `policy ${s.target ?? '?'}` };
    case 'implicit-return':
      return { cls: 's-return', mark: '↩', word: 'return' };
    case 'unresolved':
      return { cls: 's-problem', mark: '?', word: `${s.kind} ${s.rulenum} (not in the snapshot)` };
    default:
      // A resolution added to the contract later: shown plainly.
      return { cls: 's-other', mark: '·', word: `${String(s.kind)} ${String(s.rulenum)}` };
  }
}

function effectText(s: ExplainedStep): string {
  switch (s.effect) {
    case 'jump':
      return `→ jump to ${html(s.target ?? '?')}`;
    case 'goto':
      return `↷ goto ${html(s.target ?? '?')}`;
    case 'return':
      return '↩ return to the calling chain';
    case 'accept':
    case 'drop':
    case 'reject':
    case 'queue':
      return `⇒ ${s.effect.toUpperCase()}`;
    case 'nat':
      return `⇄ ${html(s.target ?? 'NAT')}`;
    default:
      return '';
  }
}

const ENTRY_TEXT: Record<Segment['entry'], { mark: string; word: string }> = {
  hook: { mark: '◇', word: 'table traversal starts at the hook' },
  jump: { mark: '⤷', word: 'jumped to' },
  goto: { mark: '↷', word: 'goto' },
  return: { mark: '⤶', word: 'returned to' },
  next: { mark: '·', word: 'then' },
};

/** The steps as expandable chain blocks. */
function stepsHtml(id: string, x: Explanation, segs: Segment[], notes: StepNotes[]): string {
  const out: string[] = [`<div class="chains" role="list" aria-label="chains visited, in order">`];
  segs.forEach((seg, si) => {
    const ns = seg.steps.map((s) => notes[s.index]!);
    const decides = ns.some((n) => n.decides);
    const interesting = decides || ns.some((n) => n.onPath || n.notes.length > 0);
    const badges = [
      decides ? `<span class="badge b-decides">★ decides ${html(x.verdict)}</span>` : '',
      ns.some((n) => n.notes.some((t) => t.startsWith('⇄'))) ? '<span class="badge">⇄ NAT</span>' : '',
      ns.some((n) => n.notes.some((t) => t.startsWith('⚑') || t.includes('MARK')))
        ? '<span class="badge">⚑ mark</span>'
        : '',
    ].join('');
    const e = ENTRY_TEXT[seg.entry];
    out.push(
      `<details role="listitem" class="chain d${Math.min(seg.depth, 8)}${decides ? ' decides' : ''}" id="${id}-c${si}" data-table="${attr(seg.table)}" data-chain="${attr(seg.chain)}"${interesting ? ' open' : ''}>`,
      `<summary><span class="entry" title="${e.word}">${e.mark}</span> <span class="hookname">${html(seg.hook ?? '?')}</span> <span class="tbl">${html(seg.table)}</span> <b class="chn">${html(seg.chain)}</b> <span class="n">${seg.steps.length} step${seg.steps.length === 1 ? '' : 's'}</span>${badges}</summary>`,
      '<ol class="steps">',
    );
    for (const { step: s, index } of seg.steps) {
      const n = notes[index]!;
      const l = stepLook(s);
      const cls = ['st', l.cls, n.decides ? 'decides' : '', n.onPath ? 'onpath' : '']
        .filter(Boolean)
        .join(' ');
      const origin =
        s.origin?.line !== undefined
          ? `line ${s.origin.line}`
          : s.origin?.offset !== undefined
            ? `offset ${s.origin.offset}`
            : '';
      out.push(
        `<li class="${cls}" data-step="${index}" data-table="${attr(s.table)}" data-chain="${attr(s.chain)}" data-kind="${attr(String(s.kind))}" data-rulenum="${attr(String(s.rulenum))}" data-res="${attr(String(s.resolution))}">`,
        `<span class="mk" aria-hidden="true">${l.mark}</span> <span class="word">${html(l.word)}</span>`,
        n.decides
          ? ` <strong class="dec">★ decides: ${look(x.verdict).symbol} ${html(x.verdict)}</strong>`
          : '',
        n.onPath
          ? ' <span class="pathmark" title="on the path to the verdict">➜ on the deciding path</span>'
          : '',
        s.rule !== undefined ? ` <code class="rule">${html(s.rule)}</code>` : '',
        ` <span class="eff">${effectText(s)}</span>`,
        s.mark ? ` <span class="markv">mark ${html(s.mark)}</span>` : '',
        origin ? ` <span class="origin">${html(origin)}</span>` : '',
        ...n.notes.map((t) => `<div class="note">${t}</div>`),
        s.problem ? `<div class="problem">! ${html(s.problem)}</div>` : '',
        '</li>',
      );
    }
    out.push('</ol></details>');
  });
  out.push('</div>');
  return out.join('');
}

const BOX_W = 190;
const COL_W = 232;
const ROW_H = 22;
const HEAD_H = 24;

/** The SVG: five hooks with their tables, the routing decision and the local process, the path drawn. */
function diagram(id: string, x: Explanation, segs: Segment[], notes: StepNotes[]): string {
  const visitedStandard = segs.some((s) => STANDARD.has(s.table));
  // Tables per hook: the visited ones in visit order (that is their real priority order), the other standard
  // tables merged in by priority when the ruleset is iptables-like.
  const rows = new Map<Hook, string[]>();
  for (const h of HOOKS) rows.set(h, []);
  for (const s of segs) {
    if (!s.hook) continue;
    const r = rows.get(s.hook)!;
    if (!r.includes(s.table)) r.push(s.table);
  }
  if (visitedStandard)
    for (const h of HOOKS) {
      const r = rows.get(h)!;
      const std = STANDARD_TABLES[h];
      for (const t of std) {
        if (r.includes(t)) continue;
        const p = std.indexOf(t);
        const before = r.findIndex((v) => std.includes(v) && std.indexOf(v) > p);
        if (before < 0) r.push(t);
        else r.splice(before, 0, t);
      }
    }
  const unplaced = segs.filter((s) => !s.hook);
  const height = (h: Hook) => HEAD_H + Math.max(1, rows.get(h)!.length) * ROW_H + 6;
  const topH = Math.max(...HOOKS.filter((h) => HOOK_AT[h].row === 0).map(height));
  const botH = Math.max(...HOOKS.filter((h) => HOOK_AT[h].row === 1).map(height));
  const y0 = 34;
  const y1 = y0 + topH + 56;
  const pos = (h: Hook) => ({ x: 10 + HOOK_AT[h].col * COL_W, y: HOOK_AT[h].row === 0 ? y0 : y1 });
  const width = 10 + 4 * COL_W;
  const total = y1 + botH + 16;

  // Per (hook, table): visit numbers, whether the verdict or a change happened there, the first chain block.
  const cell = new Map<
    string,
    { order: number[]; decides: boolean; nat: boolean; mark: boolean; first: number }
  >();
  const visits: { hook: Hook; table: string }[] = [];
  segs.forEach((s, si) => {
    if (!s.hook) return;
    const key = `${s.hook}\u0000${s.table}`;
    const last = visits[visits.length - 1];
    if (!last || last.hook !== s.hook || last.table !== s.table)
      visits.push({ hook: s.hook, table: s.table });
    let c = cell.get(key);
    if (!c) cell.set(key, (c = { order: [], decides: false, nat: false, mark: false, first: si }));
    if (!last || last.hook !== s.hook || last.table !== s.table) c.order.push(visits.length);
    for (const { index } of s.steps) {
      const n = notes[index]!;
      if (n.decides) c.decides = true;
      if (n.notes.some((t) => t.startsWith('⇄'))) c.nat = true;
      if (n.notes.some((t) => t.startsWith('⚑') || t.includes('MARK'))) c.mark = true;
    }
  });
  const centre = (h: Hook, t: string) => {
    const p = pos(h);
    const i = rows.get(h)!.indexOf(t);
    return { x: p.x + BOX_W / 2, y: p.y + HEAD_H + i * ROW_H + ROW_H / 2 };
  };

  const v = look(x.verdict);
  const out: string[] = [
    `<svg class="hooks" viewBox="0 0 ${width} ${total}" width="${width}" height="${total}" role="group" aria-labelledby="${id}-svgt">`,
    `<title id="${id}-svgt">netfilter hooks and tables; the packet visited ${visits.length} table traversal${visits.length === 1 ? '' : 's'}: ${attr(visits.map((w) => `${w.hook} ${w.table}`).join(', '))}</title>`,
    `<defs><marker id="${id}-arr" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#24292f"/></marker>`,
    `<marker id="${id}-garr" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#afb8c1"/></marker></defs>`,
  ];
  // The fixed plumbing between hooks, in light gray.
  const pre = pos('PREROUTING');
  const fwd = pos('FORWARD');
  const post = pos('POSTROUTING');
  const inp = pos('INPUT');
  const outp = pos('OUTPUT');
  const routeX = 10 + COL_W + BOX_W / 2;
  const localX = 10 + 2 * COL_W + BOX_W / 2;
  const midTop = y0 + 12;
  const line = (d: string) => `<path d="${d}" class="plumb" marker-end="url(#${id}-garr)"/>`;
  out.push(
    line(`M${pre.x + BOX_W},${midTop} L${routeX - 34},${midTop}`),
    line(`M${routeX + 34},${midTop} L${fwd.x},${midTop}`),
    line(`M${fwd.x + BOX_W},${midTop} L${post.x},${midTop}`),
    line(`M${routeX},${midTop + 14} L${routeX},${inp.y}`),
    line(`M${inp.x + BOX_W},${y1 + 12} L${localX - 44},${y1 + 12}`),
    line(`M${localX + 44},${y1 + 12} L${outp.x},${y1 + 12}`),
    line(`M${outp.x + BOX_W / 2},${outp.y} L${post.x + BOX_W / 2},${y0 + height('POSTROUTING')}`),
    `<polygon points="${routeX - 34},${midTop} ${routeX},${midTop - 14} ${routeX + 34},${midTop} ${routeX},${midTop + 14}" class="route"/>`,
    `<text x="${routeX}" y="${midTop + 4}" class="small" text-anchor="middle">routing</text>`,
    `<rect x="${localX - 44}" y="${y1}" width="88" height="24" rx="12" class="local"/>`,
    `<text x="${localX}" y="${y1 + 16}" class="small" text-anchor="middle">local process</text>`,
  );
  for (const h of HOOKS) {
    const p = pos(h);
    const r = rows.get(h)!;
    const used = r.some((t) => cell.has(`${h}\u0000${t}`));
    out.push(
      `<g class="hook${used ? ' used' : ''}" data-hook="${h}">`,
      `<rect x="${p.x}" y="${p.y}" width="${BOX_W}" height="${height(h)}" rx="6" class="hookbox"/>`,
      `<text x="${p.x + 8}" y="${p.y + 17}" class="hooktitle">${h}</text>`,
    );
    r.forEach((t, i) => {
      const c = cell.get(`${h}\u0000${t}`);
      const ry = p.y + HEAD_H + i * ROW_H;
      const marks = c
        ? [c.decides ? `★ ${v.symbol} ${x.verdict}` : '', c.nat ? '⇄' : '', c.mark ? '⚑' : '']
            .filter(Boolean)
            .join(' ')
        : '';
      const body =
        `<rect x="${p.x + 4}" y="${ry + 1}" width="${BOX_W - 8}" height="${ROW_H - 3}" rx="3" class="tablerow${c ? ' visited' : ''}${c?.decides ? ' decides' : ''}"/>` +
        `<text x="${p.x + 30}" y="${ry + 15}" class="tname">${html(t)}</text>` +
        (marks
          ? `<text x="${p.x + BOX_W - 10}" y="${ry + 15}" class="tmarks" text-anchor="end">${html(marks)}</text>`
          : '');
      if (c)
        out.push(
          `<a href="#${id}-c${c.first}" class="cell" data-hook="${h}" data-table="${attr(t)}" aria-label="${attr(`${h} ${t}: visit ${c.order.join(', ')}${c.decides ? `, decides ${x.verdict}` : ''}`)}">${body}</a>`,
        );
      else out.push(`<g class="cell idle">${body}</g>`);
    });
    out.push('</g>');
  }
  // The packet's path: a line through the visited tables in order (via the routing decision when it moves on
  // from PREROUTING), a numbered circle at each visit, the verdict beside the last one.
  const px = (q: { x: number }) => q.x - BOX_W / 2 + 16;
  const pts = visits.map((w) => centre(w.hook, w.table));
  if (pts.length > 1) {
    const d = pts
      .map((q, i) => {
        // Leaving PREROUTING: out under the box (not across table names), through the routing decision, into the next hook.
        const to = visits[i]!.hook;
        const via =
          i > 0 && visits[i - 1]!.hook === 'PREROUTING' && to !== 'PREROUTING'
            ? `L${px(pts[i - 1]!)},${pre.y + height('PREROUTING') + 8} L${pre.x + BOX_W + 8},${pre.y + height('PREROUTING') + 8} L${routeX - 34},${midTop} ` +
              (to === 'INPUT'
                ? `L${routeX},${midTop + 14} L${routeX},${inp.y - 8} `
                : to === 'FORWARD'
                  ? `L${routeX + 34},${midTop} L${fwd.x - 8},${midTop} `
                  : '')
            : '';
        return `${i === 0 ? 'M' : via + 'L'}${px(q)},${q.y}`;
      })
      .join(' ');
    out.push(`<path d="${d}" class="path" marker-end="url(#${id}-arr)"/>`);
  }
  pts.forEach((q, i) => {
    out.push(
      `<circle cx="${px(q)}" cy="${q.y}" r="8" class="stepno"/><text x="${px(q)}" y="${q.y + 4}" class="stepnotext" text-anchor="middle">${i + 1}</text>`,
    );
  });
  if (pts.length > 0) {
    const last = pts[pts.length - 1]!;
    out.push(
      `<text x="${last.x + BOX_W / 2 + 6}" y="${last.y + 5}" class="verdictmark v-${verdictClass(x.verdict)}">${v.symbol} ${html(x.verdict)}</text>`,
    );
  }
  out.push('</svg>');
  if (unplaced.length)
    out.push(
      `<p class="muted">Chains not placed at a hook (no built-in chain seen before them): ${unplaced.map((s) => `${html(s.table)} ${html(s.chain)}`).join(', ')}.</p>`,
    );
  return out.join('');
}

function endpoint(ip: string | undefined, port: number | undefined): string {
  if (ip === undefined) return '?';
  const a = ip.includes(':') && port !== undefined ? `[${ip}]` : ip;
  return port === undefined ? a : `${a}:${port}`;
}

/** One-line description of the packet (as first seen, before NAT). */
export function packetLine(x: Explanation): string {
  const p = x.packet;
  return `${p.proto ?? '?'} ${endpoint(p.src, p.sport)} → ${endpoint(p.dst, p.dport)}`;
}

/** The journey block's inner HTML (the caller wraps it with its heading and group count). */
export function renderJourney(id: string, x: Explanation): string {
  const segs = segments(x.steps ?? []);
  const notes = stepNotes(x);
  const p = x.packet;
  const v = look(x.verdict);
  const facts = [
    p.host ? `on ${html(p.host)}` : '',
    p.firstSeen ? `at ${html(p.firstSeen)}` : '',
    p.ipId !== undefined ? `ID=${html(String(p.ipId))}` : '',
    p.tcpSeq !== undefined ? `SEQ=${html(String(p.tcpSeq))}` : '',
    p.tcpOptions ? `OPT (${html(p.tcpOptions)})` : '',
    p.channel ? `via ${html(p.channel)}` : '',
  ].filter(Boolean);
  const conntrack = (x.nat ?? []).filter((n) => !n.by);
  return [
    `<p class="cause v-${verdictClass(x.verdict)}"><span class="vbadge v-${verdictClass(x.verdict)}">${v.symbol} ${html(x.verdict)}</span> ${html(x.cause ?? '')}</p>`,
    `<p class="pkt"><code>${html(packetLine(x))}</code> ${facts.join(' · ')}</p>`,
    x.snapshot
      ? `<p class="muted">snapshot ${html(x.snapshot.source)}${x.snapshot.generatedAt ? ` (${html(x.snapshot.generatedAt)})` : ''} sha256:${html(String(x.snapshot.hash).slice(0, 12))}</p>`
      : '<p class="muted">no snapshot</p>',
    x.kubernetes?.service
      ? `<p>Kubernetes service <b>${html(x.kubernetes.service)}</b>${x.kubernetes.reason ? ` (${html(x.kubernetes.reason)})` : ''}</p>`
      : '',
    conntrack.length
      ? `<p>${conntrack.map((n) => `⇄ ${html(n.kind)} ${html(n.from)} → ${html(n.to)} (existing connection)`).join('<br>')}</p>`
      : '',
    x.flags?.length
      ? `<p class="flags">flags: ${x.flags.map((f) => `<span class="flag">⚐ ${html(f)}</span>`).join(' ')}</p>`
      : '',
    diagram(id, x, segs, notes),
    `<p class="legend"><span class="s-rule">● rule</span> <span class="s-policy">■ policy</span> <span class="s-return">↩ return</span> <span class="s-problem">? not in snapshot</span> <span class="decides-l">★ decides</span> <span class="onpath-l">➜ on the deciding path</span> ⤷ jump ⤶ return ⇄ NAT △ field change ⚑ mark</p>`,
    stepsHtml(id, x, segs, notes),
  ].join('');
}
