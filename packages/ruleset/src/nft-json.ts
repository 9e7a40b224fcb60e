/**
 * `nft -j list ruleset` → {@link Ruleset}: the nftables snapshot the `nft monitor trace` channel is joined with.
 *
 * The JSON (libnftables-json(5)) is an array `nftables` of objects: `metainfo`, `table`, `chain`, `rule`, `set`,
 * `map`, … Tables are keyed by name (what `nft monitor trace` prints), chains keep their order, rules are numbered
 * 1..n per chain in listing order. Base chains (`type`/`hook`/`prio`) are the built-in chains of the model, with
 * their hook mapped to the iptables names and their priority kept, so the engine orders them at the hook.
 *
 * Rule text: the JSON carries no text, and the trace channel names each rule by the text nft prints for it, so
 * each rule is rendered here exactly as `nft list ruleset` (nft 1.0.x) prints it — checked rule by rule against
 * real listings in the tests — except that `counter packets N bytes M` is written `counter`: the values differ
 * between the moment of the trace and of the snapshot (they are in `Rule.counters`). An expression this renderer
 * does not know is written `<unsupported KEY>` and noted in `warnings`; that rule then never joins by text.
 *
 * Targets, for the engine's `targetEffect`: the rule's verdict statement (`ACCEPT`, `DROP`, `RETURN`, `REJECT`,
 * `QUEUE`, `CONTINUE`; `jump`/`goto` give the chain name and `jumpKind`), NAT statements (`DNAT`, `SNAT`,
 * `MASQUERADE`, `REDIRECT` with `to-destination`/`to-source`/`to-ports`), `meta mark set` → `MARK` with
 * `set-xmark value/mask` (iptables' meaning: mark = (mark & ~mask) ^ value), `ct mark set` → `CONNMARK`,
 * `meta nftrace set` → `TRACE`, `log` → `LOG`, `notrack` → `NOTRACK`. A verdict map (`vmap`) decides per packet:
 * its target is `VMAP` and only the trace can say what it did.
 */
import { createHash } from 'node:crypto';
import { CODE_JSON_TOO_DEEP, InputError, jsonDepthExceeds } from '@ruletrail/core';
import type {
  Chain,
  Counters,
  Family,
  IpSpec,
  Rule,
  RuleMatch,
  RuleOption,
  Ruleset,
  Table,
  VerdictMapElement,
} from './model';
import { RULESET_SYNTAX_ERROR } from './iptables-save';

/** Options for {@link parseNftJson}. */
export interface ParseNftJsonOptions {
  /** File name or label, used in `Ruleset.source` and in error messages. */
  readonly source: string;
  /**
   * Keep the tables of this family (`ip` for ipv4, `ip6` for ipv6, plus `inet` tables for both). Default: the
   * family of the `ip`/`ip6` tables present; with both present, ipv4 (the `ip6` tables are left out and a warning
   * says so); with `inet` tables only, all of them and `family: null`.
   */
  readonly family?: Family;
  /** When the snapshot was taken (the JSON has no time), ISO 8601. */
  readonly generatedAt?: string;
}

/** The hooks the model knows, by nftables hook name. */
const HOOKS: Readonly<Record<string, NonNullable<Chain['hook']>>> = {
  prerouting: 'PREROUTING',
  input: 'INPUT',
  forward: 'FORWARD',
  output: 'OUTPUT',
  postrouting: 'POSTROUTING',
};

/** Meta keys nft prints without the `meta` keyword (meta_key_is_unqualified()). */
const UNQUALIFIED_META = new Set(['iif', 'oif', 'iifname', 'oifname', 'iifgroup', 'oifgroup']);
/** Keys whose string values nft prints quoted (interface names, helper names). */
const QUOTED_KEYS = new Set([
  'iifname',
  'oifname',
  'iif',
  'oif',
  'ibrname',
  'obrname',
  'iifkind',
  'oifkind',
  'ibriport',
  'obriport',
  'bri_iifname',
  'bri_oifname',
  'sdifname',
  'helper',
]);
/** Keys whose numbers nft prints as 32-bit hex (mark_type, ct mark). */
const HEX_KEYS = new Set(['mark']);

type Json = unknown;
type Obj = Record<string, Json>;

function isObj(v: Json): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** How to print a constant: decided by the expression it is compared with or assigned to. */
interface Hint {
  readonly hex?: boolean;
  readonly quote?: boolean;
}

/** Renders expressions and statements as nft prints them; collects what it could not render. */
class Renderer {
  readonly unsupported = new Set<string>();

  hintOf(e: Json): Hint {
    if (!isObj(e)) return {};
    const meta = e['meta'];
    if (isObj(meta) && typeof meta['key'] === 'string')
      return { hex: HEX_KEYS.has(meta['key']), quote: QUOTED_KEYS.has(meta['key']) };
    const ct = e['ct'];
    if (isObj(ct) && typeof ct['key'] === 'string')
      return { hex: HEX_KEYS.has(ct['key']), quote: QUOTED_KEYS.has(ct['key']) };
    for (const op of BINOPS) {
      const b = e[op];
      if (Array.isArray(b) && b.length === 2) return this.hintOf(b[0]);
    }
    return {};
  }

  value(v: Json, hint: Hint = {}): string {
    if (typeof v === 'number') return hint.hex ? `0x${(v >>> 0).toString(16).padStart(8, '0')}` : String(v);
    if (typeof v === 'string') return hint.quote && !v.startsWith('@') ? `"${v}"` : v;
    if (typeof v === 'boolean') return v ? 'exists' : 'missing';
    if (Array.isArray(v)) return v.map((x) => this.value(x, hint)).join(',');
    // `null` is no expression: without this, value(null) and expr(null) called each other forever (fuzzing,
    // issue #15).
    if (!isObj(v)) return this.bad(String(v));
    return this.expr(v, hint);
  }

  expr(e: Json, hint: Hint = {}): string {
    if (!isObj(e)) return this.value(e, hint);
    const [key] = Object.keys(e);
    if (key === undefined) return this.bad('{}');
    const b = e[key];
    switch (key) {
      case 'payload': {
        if (!isObj(b)) return this.bad(key);
        if (typeof b['protocol'] === 'string') return `${b['protocol']} ${str(b['field'])}`;
        return `@${str(b['base'])},${str(b['offset'])},${str(b['len'])}`;
      }
      case 'meta': {
        if (!isObj(b) || typeof b['key'] !== 'string') return this.bad(key);
        return UNQUALIFIED_META.has(b['key']) ? b['key'] : `meta ${b['key']}`;
      }
      case 'ct': {
        if (!isObj(b) || typeof b['key'] !== 'string') return this.bad(key);
        const dir = typeof b['dir'] === 'string' ? `${b['dir']} ` : '';
        const fam = typeof b['family'] === 'string' ? `${b['family']} ` : '';
        return `ct ${dir}${fam}${b['key']}`;
      }
      case 'fib': {
        if (!isObj(b)) return this.bad(key);
        const flags = Array.isArray(b['flags']) ? b['flags'] : [b['flags']];
        return `fib ${flags.map(str).join(' . ')} ${str(b['result'])}`;
      }
      case 'rt':
        if (!isObj(b)) return this.bad(key);
        return `rt ${typeof b['family'] === 'string' ? `${b['family']} ` : ''}${str(b['key'])}`;
      case 'socket':
        if (!isObj(b)) return this.bad(key);
        return `socket ${str(b['key'])}`;
      case 'numgen': {
        if (!isObj(b)) return this.bad(key);
        const off = typeof b['offset'] === 'number' && b['offset'] !== 0 ? ` offset ${b['offset']}` : '';
        return `numgen ${str(b['mode'])} mod ${str(b['mod'])}${off}`;
      }
      case 'symhash': {
        if (!isObj(b)) return this.bad(key);
        const off = typeof b['offset'] === 'number' && b['offset'] !== 0 ? ` offset ${b['offset']}` : '';
        return `symhash mod ${str(b['mod'])}${off}`;
      }
      case 'jhash': {
        if (!isObj(b)) return this.bad(key);
        const seed = typeof b['seed'] === 'number' ? ` seed 0x${b['seed'].toString(16)}` : '';
        const off = typeof b['offset'] === 'number' && b['offset'] !== 0 ? ` offset ${b['offset']}` : '';
        return `jhash ${this.expr(b['expr'])} mod ${str(b['mod'])}${seed}${off}`;
      }
      case 'tcp option':
        if (!isObj(b)) return this.bad(key);
        return `tcp option ${str(b['name'])}${b['field'] !== undefined ? ` ${str(b['field'])}` : ''}`;
      case 'exthdr':
        if (!isObj(b)) return this.bad(key);
        return `exthdr ${str(b['name'])}${b['field'] !== undefined ? ` ${str(b['field'])}` : ''}`;
      case 'concat':
        return Array.isArray(b) ? b.map((x) => this.expr(x)).join(' . ') : this.bad(key);
      case 'prefix':
        return isObj(b) ? `${this.value(b['addr'])}/${str(b['len'])}` : this.bad(key);
      case 'range':
        return Array.isArray(b) && b.length === 2
          ? `${this.value(b[0], hint)}-${this.value(b[1], hint)}`
          : this.bad(key);
      case 'set':
        return this.set(b, hint);
      case 'elem': {
        if (!isObj(b)) return this.bad(key);
        const c = typeof b['comment'] === 'string' ? ` comment "${b['comment']}"` : '';
        return `${this.value(b['val'], hint)}${c}`;
      }
      case 'map':
        return isObj(b) ? `${this.expr(b['key'])} map ${this.value(b['data'])}` : this.bad(key);
      case 'accept':
      case 'drop':
      case 'continue':
      case 'return':
        return key;
      case 'jump':
      case 'goto':
        return isObj(b) ? `${key} ${str(b['target'])}` : this.bad(key);
      default:
        if (BINOPS.includes(key as BinOp) && Array.isArray(b) && b.length === 2) {
          const h = this.hintOf(b[0]);
          return `${this.expr(b[0], h)} ${key} ${this.value(b[1], h)}`;
        }
        return this.bad(key);
    }
  }

  /** `{ a, b }`; map elements `k : v`. */
  set(b: Json, hint: Hint): string {
    const items = Array.isArray(b) ? b : [b];
    const parts = items.map((it) => {
      if (Array.isArray(it) && it.length === 2) return `${this.value(it[0], hint)} : ${this.value(it[1])}`;
      return this.value(it, hint);
    });
    return `{ ${parts.join(', ')} }`;
  }

  match(m: Obj): string {
    const left = m['left'];
    const op = str(m['op']);
    const hint = this.hintOf(left);
    // `tcp flags & (syn | ack) == syn` is printed `tcp flags syn / syn,ack` (nft 1.0.x).
    if (op === '==' && isObj(left) && Array.isArray(left['&'])) {
      const [inner, mask] = left['&'] as Json[];
      if (
        isObj(inner) &&
        isObj(inner['payload']) &&
        inner['payload']['field'] === 'flags' &&
        Array.isArray(mask)
      )
        return `${this.expr(inner)} ${this.value(m['right'])} / ${this.value(mask)}`;
    }
    const l = this.expr(left, hint);
    const r = this.value(m['right'], hint);
    if (op === 'in') return `${l} ${r}`;
    // A relational on a binary operation keeps its `==`; elsewhere equality is implicit.
    if (op === '==') return isObj(left) && BINOPS.some((o) => o in left) ? `${l} == ${r}` : `${l} ${r}`;
    return `${l} ${op} ${r}`;
  }

  statement(s: Json): string {
    if (!isObj(s)) return this.bad(str(s));
    const [key] = Object.keys(s);
    const b = key === undefined ? undefined : s[key];
    switch (key) {
      case 'match':
        return isObj(b) ? this.match(b) : this.bad(key);
      case 'accept':
      case 'drop':
      case 'continue':
      case 'return':
      case 'jump':
      case 'goto':
        return this.expr(s);
      case 'counter':
        // Values left out on purpose (see the module comment); a named counter keeps its name.
        return typeof b === 'string' ? `counter name "${b}"` : 'counter';
      case 'mangle': {
        if (!isObj(b)) return this.bad(key);
        const hint = this.hintOf(b['key']);
        return `${this.expr(b['key'])} set ${this.value(b['value'], hint)}`;
      }
      case 'vmap':
        return isObj(b) ? `${this.expr(b['key'])} vmap ${this.value(b['data'])}` : this.bad(key);
      case 'dnat':
      case 'snat':
        return this.nat(key, b);
      case 'masquerade':
      case 'redirect': {
        const o = isObj(b) ? b : {};
        const port = o['port'] !== undefined ? ` to :${this.value(o['port'])}` : '';
        return `${key}${port}${natFlags(o['flags'])}`;
      }
      case 'reject': {
        if (!isObj(b)) return 'reject';
        const type = str(b['type'] ?? '');
        if (type === 'tcp reset') return 'reject with tcp reset';
        const code = b['expr'];
        if (code === undefined || code === 'port-unreachable') return 'reject';
        return `reject with ${type} ${str(code)}`;
      }
      case 'log': {
        const o = isObj(b) ? b : {};
        let t = 'log';
        if (typeof o['prefix'] === 'string') t += ` prefix "${o['prefix']}"`;
        if (o['level'] !== undefined) t += ` level ${str(o['level'])}`;
        if (o['group'] !== undefined) t += ` group ${str(o['group'])}`;
        if (o['snaplen'] !== undefined) t += ` snaplen ${str(o['snaplen'])}`;
        if (o['flags'] !== undefined)
          t += ` flags ${(Array.isArray(o['flags']) ? o['flags'] : [o['flags']]).map(str).join(',')}`;
        return t;
      }
      case 'limit': {
        if (!isObj(b)) return this.bad(key);
        const unit =
          typeof b['rate_unit'] === 'string' && b['rate_unit'] !== 'packets' ? ` ${b['rate_unit']}` : '';
        let t = `limit rate ${b['inv'] === true ? 'over ' : ''}${str(b['rate'])}${unit}/${str(b['per'])}`;
        const burst = typeof b['burst'] === 'number' ? b['burst'] : undefined;
        const packets = unit === '';
        if (burst !== undefined && burst !== (packets ? 5 : 0))
          t += ` burst ${burst} ${typeof b['burst_unit'] === 'string' ? b['burst_unit'] : 'packets'}`;
        return t;
      }
      case 'notrack':
        return 'notrack';
      case 'queue': {
        const o = isObj(b) ? b : {};
        const flags =
          o['flags'] !== undefined
            ? ` flags ${(Array.isArray(o['flags']) ? o['flags'] : [o['flags']]).map(str).join(',')}`
            : '';
        const num = o['num'] !== undefined ? ` to ${this.value(o['num'])}` : '';
        return `queue${flags}${num}`;
      }
      case 'xt':
        return isObj(b) ? `xt ${str(b['type'])} "${str(b['name'])}"` : this.bad(key);
      case 'set':
        return isObj(b) ? `${str(b['op'])} ${str(b['set'])} { ${this.expr(b['elem'])} }` : this.bad(key);
      default:
        return this.bad(key ?? '{}');
    }
  }

  nat(kind: 'dnat' | 'snat', b: Json): string {
    if (!isObj(b)) return kind;
    const fam = typeof b['family'] === 'string' ? ` ${b['family']}` : '';
    const addr = b['addr'] !== undefined ? this.value(b['addr']) : '';
    const port = b['port'] !== undefined ? this.value(b['port']) : '';
    let to = addr;
    if (port !== '')
      to = addr.includes(':') && !addr.startsWith('[') ? `[${addr}]:${port}` : `${addr}:${port}`;
    return `${kind}${fam} to ${to}${natFlags(b['flags'])}`;
  }

  private bad(key: string): string {
    this.unsupported.add(key);
    return `<unsupported ${key}>`;
  }
}

type BinOp = '&' | '|' | '^' | '<<' | '>>';
const BINOPS: readonly BinOp[] = ['&', '|', '^', '<<', '>>'];

/** A JSON scalar as text; anything else as its JSON (never `[object Object]`). */
function str(v: Json): string {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'
    ? String(v)
    : JSON.stringify(v);
}

function natFlags(f: Json): string {
  if (f === undefined) return '';
  return ` ${(Array.isArray(f) ? f : [f]).map(str).join(',')}`;
}

/** What the engine needs from a rule besides its text. */
interface Semantics {
  target?: string;
  jumpKind?: 'jump' | 'goto';
  targetOptions: RuleOption[];
  matches: RuleMatch[];
  ip: { -readonly [K in keyof IpSpec]: IpSpec[K] };
  counters?: Counters;
}

const VERDICT_TARGETS: Readonly<Record<string, string>> = {
  accept: 'ACCEPT',
  drop: 'DROP',
  return: 'RETURN',
  continue: 'CONTINUE',
  queue: 'QUEUE',
  reject: 'REJECT',
};

function opt(name: string, value?: string, negated = false): RuleOption {
  return { name, values: value === undefined ? [] : [value], negated };
}

function hex(n: number): string {
  return `0x${(n >>> 0).toString(16)}`;
}

/** The statements' meaning in the terms the engine's iptables model uses. */
function semantics(exprs: readonly Json[], r: Renderer): Semantics {
  const s: Semantics = { targetOptions: [], matches: [], ip: {} };
  const side: { target?: string; targetOptions: RuleOption[] } = { targetOptions: [] };
  for (const e of exprs) {
    if (!isObj(e)) continue;
    const [key] = Object.keys(e);
    const b = key === undefined ? undefined : e[key];
    switch (key) {
      case 'match':
        // A match the model cannot express is kept as an opaque `nft` criterion, so that an evaluator answers
        // "unknown" for it instead of silently treating the rule as if the expression were not there.
        if (isObj(b) && !matchSemantics(b, s, r))
          s.matches.push({ module: 'nft', options: [opt('expr', r.statement(e))] });
        break;
      case 'counter':
        if (isObj(b) && typeof b['packets'] === 'number' && typeof b['bytes'] === 'number')
          s.counters = { packets: b['packets'], bytes: b['bytes'] };
        break;
      case 'accept':
      case 'drop':
      case 'return':
      case 'continue':
      case 'queue':
      case 'reject':
        s.target = VERDICT_TARGETS[key];
        s.targetOptions = [];
        break;
      case 'jump':
      case 'goto':
        if (isObj(b) && typeof b['target'] === 'string') {
          s.target = b['target'];
          s.jumpKind = key;
          s.targetOptions = [];
        }
        break;
      case 'xt':
        // iptables-nft's compat expressions: the JSON names the match or target but not its options. A match
        // (other than a comment) stays an opaque criterion — never a rule that matches everything — and a target
        // keeps its name, so DNAT/REJECT/MARK are not taken for a rule without a target.
        if (isObj(b) && b['type'] === 'match' && b['name'] !== 'comment')
          s.matches.push({ module: 'nft', options: [opt('expr', r.statement(e))] });
        else if (
          isObj(b) &&
          b['type'] === 'target' &&
          typeof b['name'] === 'string' &&
          s.target === undefined
        ) {
          s.target = b['name'];
          s.targetOptions = [];
        }
        break;
      case 'vmap':
        s.target = 'VMAP';
        s.targetOptions = isObj(b) ? [opt('vmap', r.value(b['data']))] : [];
        break;
      case 'dnat':
      case 'snat': {
        s.target = key === 'dnat' ? 'DNAT' : 'SNAT';
        const to = r
          .nat(key, b)
          .replace(/^[ds]nat( \w+)? to /, '')
          .split(' ')[0]!;
        s.targetOptions = [opt(key === 'dnat' ? 'to-destination' : 'to-source', to)];
        break;
      }
      case 'masquerade':
      case 'redirect': {
        s.target = key === 'masquerade' ? 'MASQUERADE' : 'REDIRECT';
        const port = isObj(b) && b['port'] !== undefined ? r.value(b['port']) : undefined;
        s.targetOptions = port !== undefined ? [opt('to-ports', port)] : [];
        break;
      }
      case 'mangle': {
        if (!isObj(b)) break;
        const k = b['key'];
        const mark = markSet(k, b['value']);
        if (isObj(k) && isObj(k['meta']) && k['meta']['key'] === 'nftrace') {
          side.target ??= 'TRACE';
        } else if (mark) {
          const isCt = isObj(k) && isObj(k['ct']);
          side.target ??= isCt ? 'CONNMARK' : 'MARK';
          if (side.target === (isCt ? 'CONNMARK' : 'MARK'))
            side.targetOptions = [opt('set-xmark', `${hex(mark.value)}/${hex(mark.mask)}`)];
        }
        break;
      }
      case 'log':
        side.target ??= 'LOG';
        break;
      case 'notrack':
        side.target ??= 'NOTRACK';
        break;
      default:
        break;
    }
  }
  // A verdict decides the rule's effect; otherwise the first non-terminal statement names it (MARK, LOG…).
  if (s.target === undefined && side.target !== undefined) {
    s.target = side.target;
    s.targetOptions = side.targetOptions;
  }
  return s;
}

/**
 * `meta mark set V` → V/0xffffffff; `meta mark set meta mark | V` → V/V; `… & M` → 0/~M; `… ^ V` → V/0 — the
 * `--set-xmark value/mask` form, mark = (mark & ~mask) ^ value.
 */
function markSet(key: Json, value: Json): { value: number; mask: number } | undefined {
  const isMark =
    isObj(key) &&
    ((isObj(key['meta']) && key['meta']['key'] === 'mark') ||
      (isObj(key['ct']) && key['ct']['key'] === 'mark'));
  if (!isMark) return undefined;
  if (typeof value === 'number') return { value: value >>> 0, mask: 0xffffffff };
  if (!isObj(value)) return undefined;
  for (const op of ['|', '&', '^'] as const) {
    const b = value[op];
    if (!Array.isArray(b) || b.length !== 2 || typeof b[1] !== 'number') continue;
    const v = b[1] >>> 0;
    if (op === '|') return { value: v, mask: v };
    if (op === '&') return { value: 0, mask: ~v >>> 0 };
    return { value: v, mask: 0 };
  }
  return undefined;
}

/** Match statements the engine reads through the iptables model: marks, ports, addresses, interfaces. */
function matchSemantics(m: Obj, s: Semantics, r: Renderer): boolean {
  const left = m['left'];
  const right = m['right'];
  const op = str(m['op']);
  const negated = op === '!=';
  if (!isObj(left)) return false;
  // meta mark [& M] ==/!= V → -m mark [!] --mark V/M
  const markOf = (e: Json): boolean => isObj(e) && isObj(e['meta']) && e['meta']['key'] === 'mark';
  if ((op === '==' || op === '!=') && typeof right === 'number') {
    let mask: number | undefined;
    if (markOf(left)) mask = 0xffffffff;
    else if (Array.isArray(left['&']) && markOf(left['&'][0]) && typeof left['&'][1] === 'number')
      mask = left['&'][1] >>> 0;
    if (mask !== undefined) {
      s.matches.push({ module: 'mark', options: [opt('mark', `${hex(right)}/${hex(mask)}`, negated)] });
      return true;
    }
  }
  // Only equality is modelled: a `<`, `>=` or flag (`in`) comparison stays an opaque nft criterion.
  const equality = op === '==' || op === '!=';
  // tcp flags & (fin|syn|rst|ack) == syn → -m tcp --tcp-flags FIN,SYN,RST,ACK SYN
  const and = left['&'];
  if (
    equality &&
    Array.isArray(and) &&
    isObj(and[0]) &&
    isObj(and[0]['payload']) &&
    and[0]['payload']['protocol'] === 'tcp' &&
    and[0]['payload']['field'] === 'flags'
  ) {
    const names = (v: Json): string | undefined =>
      typeof v === 'string'
        ? v.toUpperCase()
        : Array.isArray(v) && v.every((x) => typeof x === 'string')
          ? v.map((x) => String(x).toUpperCase()).join(',')
          : undefined;
    const mask = names(and[1]);
    const comp = names(right) ?? (Array.isArray(right) && right.length === 0 ? 'NONE' : undefined);
    if (mask !== undefined && comp !== undefined) {
      s.matches.push({
        module: 'tcp',
        options: [{ name: 'tcp-flags', values: [mask, comp], negated }],
      });
      return true;
    }
  }
  // icmp type echo-request → -m icmp --icmp-type echo-request (and icmpv6)
  const pl = left['payload'];
  if (
    equality &&
    isObj(pl) &&
    (pl['protocol'] === 'icmp' || pl['protocol'] === 'icmpv6') &&
    pl['field'] === 'type' &&
    (typeof right === 'string' || typeof right === 'number')
  ) {
    const v6 = pl['protocol'] === 'icmpv6';
    s.matches.push({
      module: v6 ? 'icmp6' : 'icmp',
      options: [opt(v6 ? 'icmpv6-type' : 'icmp-type', String(right), negated)],
    });
    return true;
  }
  // fib daddr type local → -m addrtype --dst-type LOCAL (kube-proxy's nftables mode uses it for NodePorts)
  const fib = left['fib'];
  if (equality && isObj(fib) && fib['result'] === 'type' && typeof right === 'string') {
    const flags = Array.isArray(fib['flags']) ? fib['flags'].map(str) : [str(fib['flags'])];
    if (flags.length === 1 && (flags[0] === 'daddr' || flags[0] === 'saddr')) {
      s.matches.push({
        module: 'addrtype',
        options: [opt(flags[0] === 'daddr' ? 'dst-type' : 'src-type', right.toUpperCase(), negated)],
      });
      return true;
    }
  }
  const payload = left['payload'];
  if (equality && isObj(payload) && typeof payload['protocol'] === 'string') {
    const proto = payload['protocol'];
    const field = str(payload['field']);
    if (
      (proto === 'tcp' || proto === 'udp' || proto === 'sctp' || proto === 'th') &&
      (field === 'dport' || field === 'sport')
    ) {
      // `th dport` is any transport header's port: its own module, which does not imply a protocol.
      const module = proto;
      const set = isObj(right) && right['set'] !== undefined;
      if (set) {
        const v = r
          .value(right)
          .replace(/^\{ | \}$/g, '')
          .replace(/, /g, ',')
          .replace(/-/g, ':');
        s.matches.push({ module: 'multiport', options: [opt(`${field}s`, v, negated)] });
      } else if (typeof right === 'object' && !(isObj(right) && right['range'] !== undefined)) return false;
      else s.matches.push({ module, options: [opt(field, r.value(right).replace('-', ':'), negated)] });
      return true;
    }
    if (
      (proto === 'ip' || proto === 'ip6') &&
      (field === 'saddr' || field === 'daddr') &&
      (typeof right !== 'object' || (isObj(right) && isObj(right['prefix'])))
    ) {
      s.ip[field === 'saddr' ? 'source' : 'destination'] = { value: r.value(right), negated };
      return true;
    }
    if ((proto === 'ip' && field === 'protocol') || (proto === 'ip6' && field === 'nexthdr')) {
      if (typeof right !== 'string') return false;
      s.ip.protocol = { value: right, negated };
      return true;
    }
  }
  const meta = left['meta'];
  if (isObj(meta) && typeof right === 'string' && (op === '==' || op === '!=')) {
    if (meta['key'] === 'iifname') s.ip.inInterface = { value: right.replace(/\*$/, '+'), negated };
    else if (meta['key'] === 'oifname') s.ip.outInterface = { value: right.replace(/\*$/, '+'), negated };
    else if (meta['key'] === 'l4proto') s.ip.protocol = { value: right, negated };
    else return false;
    return true;
  }
  const ct = left['ct'];
  if (isObj(ct) && ct['key'] === 'state') {
    const states: unknown[] = Array.isArray(right) ? right : [right];
    // A state that is not a name (fuzzing, issue #15: `{"set": …}`, a number) is not rendered as a match.
    if (states.length === 0 || !states.every((x) => typeof x === 'string')) return false;
    const v = states.map((x) => x.toUpperCase()).join(',');
    s.matches.push({ module: 'conntrack', options: [opt('ctstate', v, negated)] });
    return true;
  }
  return false;
}

/** The nftables family names of a model family. */
function familiesOf(f: Family): readonly string[] {
  return f === 'ipv4' ? ['ip', 'inet'] : ['ip6', 'inet'];
}

/** Deepest nesting accepted in `nft -j` output. */
const MAX_NFT_JSON_DEPTH = 128;

/**
 * Parses `nft -j list ruleset` output. Throws an {@link InputError} (code `RT_ERR_RULESET_SYNTAX`) when the text is
 * not that JSON; expressions it cannot render are reported in `warnings`, never thrown.
 */
export function parseNftJson(text: string, options: ParseNftJsonOptions): Ruleset {
  const { source } = options;
  let doc: Json;
  // The renderer walks expressions recursively: refuse absurd nesting before parsing (fuzzing found a stack
  // overflow, issue #15). Real rulesets nest about 10 levels deep.
  if (jsonDepthExceeds(text, MAX_NFT_JSON_DEPTH))
    throw new InputError(
      CODE_JSON_TOO_DEEP,
      { file: source },
      `JSON nested deeper than ${MAX_NFT_JSON_DEPTH} levels`,
    );
  try {
    doc = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text) as Json;
  } catch (e) {
    throw new InputError(RULESET_SYNTAX_ERROR, { file: source }, `not JSON: ${(e as Error).message}`);
  }
  const items = isObj(doc) ? doc['nftables'] : undefined;
  if (!Array.isArray(items))
    throw new InputError(
      RULESET_SYNTAX_ERROR,
      { file: source },
      'not `nft -j list ruleset` output: no "nftables" array',
    );

  const warnings: string[] = [];
  let generator: string | undefined;
  const families = new Set<string>();
  for (const it of items) {
    if (!isObj(it)) continue;
    const meta = it['metainfo'];
    if (isObj(meta) && typeof meta['version'] === 'string')
      generator = `nft v${meta['version']}${typeof meta['release_name'] === 'string' ? ` (${meta['release_name']})` : ''}`;
    const t = it['table'];
    if (isObj(t) && typeof t['family'] === 'string') families.add(t['family']);
  }

  let family: Family | null = null;
  let familyFrom: Ruleset['familyFrom'] = 'unknown';
  if (options.family !== undefined) {
    family = options.family;
    familyFrom = 'forced';
  } else if (families.has('ip')) {
    family = 'ipv4';
    familyFrom = 'generator';
    if (families.has('ip6'))
      warnings.push(
        `${source}: has ip and ip6 tables; the ip6 tables are left out (parse it again with family ipv6)`,
      );
  } else if (families.has('ip6')) {
    family = 'ipv6';
    familyFrom = 'generator';
  }
  const keep = family === null ? new Set(['inet']) : new Set(familiesOf(family));
  for (const f of families)
    if (!keep.has(f) && f !== 'ip' && f !== 'ip6')
      warnings.push(`${source}: ${f} tables are left out (the engine follows the ip/ip6/inet hooks only)`);

  // Table key: the name nft monitor prints. Two kept tables with one name (ip filter + inet filter) cannot both
  // have it; the second one is keyed "<family> <name>".
  const keyOf = new Map<string, string>();
  const drafts = new Map<
    string,
    {
      name: string;
      chains: Map<string, ChainDraft>;
      maps: Map<string, VerdictMapElement[]>;
      intervalMaps: Set<string>;
    }
  >();
  const renderer = new Renderer();
  for (let i = 0; i < items.length; i++) {
    const it: Json = items[i];
    if (!isObj(it)) continue;
    const t = it['table'];
    if (isObj(t) && typeof t['name'] === 'string' && typeof t['family'] === 'string') {
      if (!keep.has(t['family'])) continue;
      const id = `${t['family']} ${t['name']}`;
      let key = t['name'];
      if (drafts.has(key)) {
        key = id;
        warnings.push(`${source}: table ${id} has the name of another kept table; it is keyed "${id}"`);
      }
      keyOf.set(id, key);
      drafts.set(key, { name: t['name'], chains: new Map(), maps: new Map(), intervalMaps: new Set() });
      continue;
    }
    const c = it['chain'];
    if (isObj(c)) {
      const key = keyOf.get(`${str(c['family'])} ${str(c['table'])}`);
      if (key === undefined || typeof c['name'] !== 'string') continue;
      drafts.get(key)!.chains.set(c['name'], { obj: c, line: i + 1, rules: [] });
      continue;
    }
    const m = it['map'];
    if (isObj(m) && m['map'] === 'verdict' && typeof m['name'] === 'string') {
      const key = keyOf.get(`${str(m['family'])} ${str(m['table'])}`);
      if (key !== undefined) {
        drafts.get(key)!.maps.set(m['name'], verdictMapElements(m['elem']));
        const flags = Array.isArray(m['flags']) ? m['flags'] : [m['flags']];
        if (flags.includes('interval')) drafts.get(key)!.intervalMaps.add(m['name']);
      }
      continue;
    }
    const r = it['rule'];
    if (isObj(r)) {
      const key = keyOf.get(`${str(r['family'])} ${str(r['table'])}`);
      if (key === undefined) continue;
      const chain = drafts.get(key)!.chains.get(str(r['chain']));
      if (!chain) {
        warnings.push(
          `${source}: rule at item ${i + 1} is in unknown chain ${str(r['table'])} ${str(r['chain'])}`,
        );
        continue;
      }
      chain.rules.push({ obj: r, line: i + 1 });
    }
  }

  const tables = new Map<string, Table>();
  for (const [key, d] of drafts) {
    const chains = new Map<string, Chain>();
    for (const [name, cd] of d.chains) chains.set(name, buildChain(key, name, cd, renderer));
    tables.set(key, {
      name: d.name,
      chains,
      ...(d.maps.size ? { verdictMaps: d.maps } : {}),
      ...(d.intervalMaps.size ? { intervalVerdictMaps: d.intervalMaps } : {}),
    });
  }
  if (renderer.unsupported.size)
    warnings.push(
      `${source}: expressions not rendered (those rules cannot be joined by text): ${[...renderer.unsupported].sort().join(', ')}`,
    );
  if (tables.size === 0) warnings.push(`${source}: no tables in the snapshot`);

  const out: { -readonly [K in keyof Ruleset]: Ruleset[K] } = {
    source,
    family,
    familyFrom,
    backend: 'nf_tables',
    hash: createHash('sha256').update(text, 'utf8').digest('hex'),
    tables,
    warnings,
  };
  if (generator !== undefined) out.generator = generator;
  if (options.generatedAt !== undefined) out.generatedAt = options.generatedAt;
  return out;
}

/**
 * A verdict map's `elem` list: `[[key, verdict], …]`, where the key is a value, a `concat`, or an `elem` object
 * wrapping one with a `comment`. Interval keys (prefix, range) are left out: only exact keys are looked up.
 */
function verdictMapElements(elem: Json): VerdictMapElement[] {
  const out: VerdictMapElement[] = [];
  if (!Array.isArray(elem)) return out;
  for (const pair of elem) {
    if (!Array.isArray(pair) || pair.length !== 2) continue;
    let k: Json = pair[0];
    let comment: string | undefined;
    if (isObj(k) && isObj(k['elem'])) {
      if (typeof k['elem']['comment'] === 'string') comment = k['elem']['comment'];
      k = k['elem']['val'];
    }
    const parts = isObj(k) && Array.isArray(k['concat']) ? k['concat'] : [k];
    if (!parts.every((x) => typeof x === 'string' || typeof x === 'number')) continue;
    const v: Json = pair[1];
    const verdict = isObj(v)
      ? Object.entries(v)
          .map(([name, arg]) =>
            isObj(arg) && typeof arg['target'] === 'string' ? `${name} ${arg['target']}` : name,
          )
          .join(' ')
      : str(v);
    out.push({ key: parts.map((x) => String(x)), verdict, ...(comment !== undefined ? { comment } : {}) });
  }
  return out;
}

interface ChainDraft {
  readonly obj: Obj;
  /** 1-based position of the chain object in the `nftables` array (the JSON has no lines). */
  readonly line: number;
  readonly rules: { obj: Obj; line: number }[];
}

function buildChain(table: string, name: string, d: ChainDraft, r: Renderer): Chain {
  const c = d.obj;
  const base = typeof c['hook'] === 'string';
  const rules: Rule[] = d.rules.map((ru, idx) => buildRule(table, name, idx + 1, ru.obj, ru.line, r));
  const chain: { -readonly [K in keyof Chain]: Chain[K] } = {
    table,
    name,
    builtin: base,
    rules,
    line: d.line,
  };
  if (base) {
    const hook = HOOKS[str(c['hook'])];
    if (hook) chain.hook = hook;
    if (typeof c['prio'] === 'number') chain.priority = c['prio'];
    const type = str(c['type']);
    if (type === 'filter' || type === 'nat' || type === 'route') chain.type = type;
    chain.policy = c['policy'] === 'drop' ? 'DROP' : 'ACCEPT';
  }
  return chain;
}

function buildRule(table: string, chain: string, num: number, o: Obj, line: number, r: Renderer): Rule {
  const exprs = Array.isArray(o['expr']) ? o['expr'] : [];
  let text = exprs.map((e) => r.statement(e)).join(' ');
  const comments: string[] = [];
  if (typeof o['comment'] === 'string') {
    comments.push(o['comment']);
    text += ` comment "${o['comment']}"`;
  }
  const s = semantics(exprs, r);
  const rule: { -readonly [K in keyof Rule]: Rule[K] } = {
    table,
    chain,
    num,
    text,
    line,
    ip: s.ip,
    matches: s.matches,
    targetOptions: s.targetOptions,
    comments,
    // nftables reports every matched rule as a rule: no iptables policy/return relabelling.
    tracedAsTail: false,
  };
  if (typeof o['handle'] === 'number') rule.handle = o['handle'];
  if (s.counters) rule.counters = s.counters;
  if (s.target !== undefined) rule.target = s.target;
  if (s.jumpKind !== undefined) rule.jumpKind = s.jumpKind;
  return rule;
}
