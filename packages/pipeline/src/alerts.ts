/**
 * Alerts: conditions on explained packets worth telling someone about, as records any sink can carry.
 *
 * Built-in rules: `kube_mark_drop` (the packet went through KUBE-MARK-DROP, the pre-1.28 kube-proxy drop path)
 * and `kube_no_endpoints` (one of today's kube-proxy DROP/REJECT rules commented "has no endpoints" / "has no
 * local endpoints" matched). User rules match table / chain / target / comment (and the verdict) on any step or
 * on the deciding one.
 *
 * Deduplication and rate limiting are per (host, service, rule) and per window of *event* time (so a replay
 * after a crash produces the same alerts): the first `maxPerWindow` packets of a window alert, the rest are
 * counted and reported in one `repeat` alert when the window closes (the next packet for that key after the
 * window, a later packet of any key, or shutdown). Memory: one small entry per open key, capped.
 */
import type { Explanation, ExplainedStep, SnapshotPick } from '@ruletrail/explain';
import type { Rule, Ruleset } from '@ruletrail/ruleset';
import type { AlertRuleConfig, PipelineConfig } from './config-types';

/** The `alert` object of an alert record. A public format: fields are only added. */
export interface AlertInfo {
  /** Rule name: `kube_mark_drop`, `kube_no_endpoints` or a user rule's name. */
  readonly rule: string;
  readonly severity: 'info' | 'warning' | 'critical';
  readonly host: string;
  /** Kubernetes service (`namespace/name:port`), when known. */
  readonly service?: string;
  /** One sentence for a human. */
  readonly summary: string;
  /** Packets this alert stands for: 1, or the suppressed count of a `repeat` alert. */
  readonly count: number;
  /** True for the end-of-window summary of suppressed packets. */
  readonly repeat: boolean;
  /** The dedup window (event time) this alert belongs to. */
  readonly window: { readonly start: string; readonly end: string };
}

/** One alert record body: `{ "@timestamp", "alert": {…}, "explanation": {…without steps} }`. */
export interface AlertRecord {
  readonly '@timestamp': string;
  readonly alert: AlertInfo;
  /** The packet's explanation without `steps` (absent on `repeat` alerts: they stand for many packets). */
  readonly explanation?: Omit<Explanation, 'steps'>;
}

interface Matcher {
  readonly name: string;
  readonly severity: AlertInfo['severity'];
  /** Returns the summary sentence when the packet matches; `ruleset` is the snapshot the packet was joined with. */
  match(x: Explanation, ruleset: Ruleset | undefined): string | undefined;
}

interface WindowState {
  readonly host: string;
  readonly service?: string;
  readonly rule: string;
  readonly severity: AlertInfo['severity'];
  readonly start: number;
  readonly end: number;
  emitted: number;
  suppressed: number;
  lastSummary: string;
}

const MAX_KEYS = 100_000;

/** Evaluates rules on explanations and applies dedup / rate limits. */
export class AlertEngine {
  private readonly _matchers: Matcher[];
  private readonly _windows = new Map<string, WindowState>();
  private readonly _windowMs: number;
  private readonly _max: number;

  constructor(config: PipelineConfig['alerts']) {
    this._windowMs = config.windowMs;
    this._max = config.maxPerWindow;
    this._matchers = [];
    if (config.builtin.kubeMarkDrop)
      this._matchers.push({
        name: 'kube_mark_drop',
        severity: 'warning',
        match: (x) =>
          x.flags.includes('kube_mark_drop')
            ? `${describePacket(x)} was marked for drop by KUBE-MARK-DROP${x.kubernetes?.service ? ` (service ${x.kubernetes.service})` : ''}: ${x.cause}`
            : undefined,
      });
    if (config.builtin.kubeNoEndpoints)
      this._matchers.push({
        name: 'kube_no_endpoints',
        severity: 'critical',
        match: (x) =>
          x.flags.includes('kube_no_endpoints')
            ? `${describePacket(x)} was ${x.verdict === 'REJECT' ? 'rejected' : 'dropped'} by kube-proxy: ${x.kubernetes?.service ?? 'a service'} ${x.kubernetes?.reason ?? 'has no endpoints'}`
            : undefined,
      });
    for (const r of config.rules) this._matchers.push(userMatcher(r));
  }

  /**
   * Alerts for one explanation (0 or more), plus `repeat` alerts of windows that closed before it. `ruleset` is
   * the snapshot the packet was explained with: `comment:` rules read the matched rules' comments from it
   * (`Rule.comments`, parsed once for iptables-save and nft alike), never from the rule text.
   */
  evaluate(x: Explanation, ruleset?: Ruleset): AlertRecord[] {
    const out: AlertRecord[] = [];
    const t = x.packet.firstSeen !== undefined ? Date.parse(x.packet.firstSeen) : Date.now();
    const now = Number.isNaN(t) ? Date.now() : t;
    this._closeBefore(now, out);
    const host = x.packet.host ?? '';
    const service = x.kubernetes?.service;
    for (const m of this._matchers) {
      const summary = m.match(x, ruleset);
      if (summary === undefined) continue;
      const key = `${host}\u0000${service ?? ''}\u0000${m.name}`;
      let w = this._windows.get(key);
      if (w && now >= w.end) {
        this._close(key, w, out);
        w = undefined;
      }
      if (!w) {
        if (this._windows.size >= MAX_KEYS) {
          const [oldKey, old] = this._windows.entries().next().value as [string, WindowState];
          this._close(oldKey, old, out);
        }
        w = {
          host,
          ...(service !== undefined ? { service } : {}),
          rule: m.name,
          severity: m.severity,
          start: now,
          end: now + this._windowMs,
          emitted: 0,
          suppressed: 0,
          lastSummary: summary,
        };
        this._windows.set(key, w);
      }
      w.lastSummary = summary;
      if (w.emitted < this._max) {
        w.emitted++;
        out.push({
          '@timestamp': new Date(now).toISOString(),
          alert: info(w, summary, 1, false),
          explanation: withoutSteps(x),
        });
      } else w.suppressed++;
    }
    return out;
  }

  /** Closes every window (shutdown, end of input): `repeat` alerts for what was suppressed. */
  flush(): AlertRecord[] {
    const out: AlertRecord[] = [];
    for (const [k, w] of [...this._windows]) this._close(k, w, out);
    return out;
  }

  private _closeBefore(now: number, out: AlertRecord[]): void {
    // Windows are inserted in start order and all have the same length, so they also end in order.
    for (const [k, w] of this._windows) {
      if (w.end > now) break;
      this._close(k, w, out);
    }
  }

  private _close(key: string, w: WindowState, out: AlertRecord[]): void {
    this._windows.delete(key);
    if (w.suppressed === 0) return;
    out.push({
      '@timestamp': new Date(w.end).toISOString(),
      alert: info(
        w,
        `${w.suppressed} more packet${w.suppressed === 1 ? '' : 's'} like this in the window: ${w.lastSummary}`,
        w.suppressed,
        true,
      ),
    });
  }
}

function withoutSteps(x: Explanation): Omit<Explanation, 'steps'> {
  const copy: Record<string, unknown> = { ...x };
  delete copy.steps;
  return copy as unknown as Omit<Explanation, 'steps'>;
}

function info(w: WindowState, summary: string, count: number, repeat: boolean): AlertInfo {
  return {
    rule: w.rule,
    severity: w.severity,
    host: w.host,
    ...(w.service !== undefined ? { service: w.service } : {}),
    summary,
    count,
    repeat,
    window: { start: new Date(w.start).toISOString(), end: new Date(w.end).toISOString() },
  };
}

function describePacket(x: Explanation): string {
  const p = x.packet;
  const ep = (a?: string, port?: number) => `${a ?? '?'}${port !== undefined ? `:${port}` : ''}`;
  return `${p.proto ?? 'packet'} ${ep(p.src, p.sport)} -> ${ep(p.dst, p.dport)} on ${p.host ?? 'unknown host'}`;
}

/** The snapshot a packet was explained with: the pick's, or (picked by fit) the candidate the explanation names. */
export function usedSnapshot(pick: SnapshotPick, x: Explanation): Ruleset | undefined {
  const hash = x.snapshot?.hash;
  if (hash === undefined) return undefined;
  if (pick.ruleset?.hash === hash) return pick.ruleset;
  return pick.candidates?.find((r) => r.hash === hash);
}

/** The snapshot rule a step or the deciding rule stands for, when it is a rule (not a policy or chain end). */
export function snapshotRule(
  ruleset: Ruleset | undefined,
  ref: Pick<ExplainedStep, 'table' | 'chain' | 'rulenum'>,
): Rule | undefined {
  const rule = ruleset?.tables.get(ref.table)?.chains.get(ref.chain)?.rules[ref.rulenum - 1];
  return rule !== undefined && rule.num === ref.rulenum ? rule : undefined;
}

function userMatcher(r: AlertRuleConfig): Matcher {
  const chainRe =
    r.chain !== undefined && /^\/.*\/$/.test(r.chain) ? new RegExp(r.chain.slice(1, -1)) : undefined;
  const commentRe = r.comment !== undefined ? new RegExp(r.comment) : undefined;
  type Step = Pick<ExplainedStep, 'table' | 'chain' | 'target' | 'rulenum' | 'rule'>;
  const stepMatches = (s: Step, ruleset: Ruleset | undefined): boolean =>
    (r.table === undefined || s.table === r.table) &&
    (r.chain === undefined || (chainRe ? chainRe.test(s.chain) : s.chain === r.chain)) &&
    (r.target === undefined || s.target === r.target) &&
    (commentRe === undefined || (snapshotRule(ruleset, s)?.comments ?? []).some((c) => commentRe.test(c)));
  const stepless =
    r.table === undefined && r.chain === undefined && r.target === undefined && r.comment === undefined;
  return {
    name: r.name,
    severity: r.severity,
    match: (x, ruleset) => {
      if (r.verdict !== undefined && x.verdict !== r.verdict) return undefined;
      let hit: Step | undefined;
      if (!stepless) {
        if (r.on === 'decision')
          hit = x.decidedBy && stepMatches(x.decidedBy, ruleset) ? x.decidedBy : undefined;
        else hit = x.steps.find((s) => s.resolution !== 'unresolved' && stepMatches(s, ruleset));
        if (!hit) return undefined;
      }
      const where = hit ? ` at ${hit.table} ${hit.chain}${hit.target ? ` -j ${hit.target}` : ''}` : '';
      return `${describePacket(x)} matched alert rule ${r.name}${where}; verdict ${x.verdict}: ${x.cause}`;
    },
  };
}
