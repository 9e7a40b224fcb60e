/**
 * Kubernetes / Calico attribution: which service a packet's fate belongs to, from kube-proxy's rule comments
 * (iptables mode), its verdict-map element comments (nftables mode, where rules carry none), the KUBE-* chains
 * the packet went through, and Calico rule ids.
 */
import type { NetfilterEvent } from '@ruletrail/event';
import { targetOption, type Rule, type Ruleset } from '@ruletrail/ruleset';
import { refOf } from './deltas';
import {
  calicoId,
  isKubeServiceChain,
  isNoEndpointsReason,
  parseServiceComment,
  type ServiceRef,
} from './kubernetes';
import { markMatchOf } from './marks';
import type { Flag, KubernetesAttribution, RuleRef } from './types';
import type { PathNode, WalkResult } from './walk';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export interface KubeResult {
  attribution?: KubernetesAttribution;
  /** The rule whose comment named the service on the decisive path, for the cause sentence. */
  ref?: RuleRef & { service: ServiceRef; ruleObj?: Rule };
  flags: Flag[];
}

/** What one rule's comments say, parsed once per rule (rules are shared by every packet that hits them). */
interface RuleComments {
  readonly services: readonly ServiceRef[];
  readonly calico: readonly string[];
}
const commentCache = new WeakMap<Rule, RuleComments>();
export function ruleComments(rule: Rule): RuleComments {
  let c = commentCache.get(rule);
  if (!c) {
    const services: ServiceRef[] = [];
    const calico: string[] = [];
    for (const text of rule.comments) {
      const id = calicoId(text);
      if (id) calico.push(id);
      else {
        const svc = parseServiceComment(text);
        if (svc) services.push(svc);
      }
    }
    c = { services, calico };
    commentCache.set(rule, c);
  }
  return c;
}
/** The verdict maps kube-proxy's nftables proxier drops or rejects service traffic with when there are no endpoints. */
const NFT_NO_ENDPOINTS_VMAP = /\bvmap @(no-endpoint-(?:services|nodeports))\b/;

/**
 * The service of a kube-proxy nftables no-endpoints verdict, from the map element's comment. The keys are
 * `l4proto . port` (no-endpoint-nodeports) and `daddr . l4proto . port` (no-endpoint-services), looked up with
 * the packet as the deciding step saw it (after any DNAT).
 */
function noEndpointsService(
  rs: Ruleset | undefined,
  table: string,
  map: string,
  e: NetfilterEvent,
): ServiceRef | undefined {
  const elems = rs?.tables.get(table)?.verdictMaps?.get(map);
  const proto = e.network.transport;
  const port = e.destination?.port;
  if (!elems || proto === undefined || port === undefined) return undefined;
  const key =
    map === 'no-endpoint-nodeports' ? [proto, String(port)] : [e.destination?.ip ?? '', proto, String(port)];
  const hit = elems.find((el) => el.key.length === key.length && el.key.every((k, j) => k === key[j]));
  return hit?.comment !== undefined ? parseServiceComment(hit.comment) : undefined;
}
const serviceChainCache = new Map<string, boolean>();
function isServiceChainCached(chain: string): boolean {
  let v = serviceChainCache.get(chain);
  if (v === undefined) {
    v = isKubeServiceChain(chain);
    if (serviceChainCache.size < 100_000) serviceChainCache.set(chain, v);
  }
  return v;
}

/**
 * Service attribution. The decisive path is the mark setter's (when a mark decided) or the deciding step's;
 * the service is named by the outermost rule on that path whose comment names one — for a NodePort drop that is
 * the KUBE-NODEPORTS rule, which carries the port the user hit.
 */
export function attributeKubernetes(w: WalkResult, decided: number | undefined): KubeResult {
  const { steps, joins, paths, events } = w;
  const rs = w.ruleset;
  const markChanges = w.deltas.markChanges;
  const flags: Flag[] = [];
  const chains: string[] = [];
  const calico: string[] = [];
  let endpoint: string | undefined;
  let reason: string | undefined;
  let anyService: ServiceRef | undefined;
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i]!;
    const rule = joins[i]!.rule;
    if (isServiceChainCached(s.chain) && !chains.includes(s.chain)) chains.push(s.chain);
    if (s.chain === 'KUBE-MARK-DROP') flags.push('kube_mark_drop');
    // A step that could not be placed (or whose rule cannot have matched) says nothing about the service.
    if (!rule || s.resolution === 'unresolved') continue;
    if (rule.target === 'KUBE-MARK-DROP') flags.push('kube_mark_drop');
    const rc = ruleComments(rule);
    for (const id of rc.calico) if (!calico.includes(id)) calico.push(id);
    for (const svc of rc.services) {
      anyService ??= svc;
      if (isNoEndpointsReason(svc.suffix)) {
        reason = svc.suffix;
        flags.push('kube_no_endpoints');
      }
    }
    // kube-proxy's nftables mode writes no comments on these rules: its "no endpoints" drop or reject is the
    // verdict of the no-endpoint-services / no-endpoint-nodeports map in table kube-proxy — a drop decided by
    // the map rule itself, a reject by `goto reject-chain` from it — and the service is named only in the
    // comment of the map element the packet matched.
    if (decided !== undefined && s.table === 'kube-proxy' && (i === decided || onPath(paths[decided], i))) {
      const vmap = NFT_NO_ENDPOINTS_VMAP.exec(rule.text);
      if (vmap) {
        reason ??= 'has no endpoints';
        flags.push('kube_no_endpoints');
        const svc = noEndpointsService(rs, s.table, vmap[1]!, events[i]!);
        if (svc) anyService ??= svc;
      }
    }
    if (rule.target === 'DNAT' && s.chain.startsWith('KUBE-SEP-'))
      endpoint = targetOption(rule, 'to-destination')?.values[0];
  }
  // The decisive path: the mark setter's when a mark decided, else the deciding step's.
  let decisive: PathNode | undefined;
  if (decided !== undefined) {
    let setter: number | undefined;
    for (const k of markChanges.keys())
      if (k < decided && joins[k]!.rule?.target === 'MARK' && (setter === undefined || k < setter))
        setter = k;
    const decidedRule = joins[decided]!.rule;
    decisive =
      setter !== undefined && decidedRule && markMatchOf(decidedRule) ? paths[setter] : paths[decided];
  }
  let ref: KubeResult['ref'];
  const outermostFirst: PathNode[] = [];
  for (let n = decisive; n; n = n.parent) outermostFirst.unshift(n);
  for (const n of outermostFirst) {
    const rule = joins[n.idx]!.rule;
    const svc = rule ? ruleComments(rule).services[0] : undefined;
    if (svc && rule) {
      const st = steps[n.idx]!;
      ref = { ...refOf(st.table, st.chain, st.rulenum, rule), service: svc, ruleObj: rule };
      break;
    }
  }
  const svc = ref?.service ?? anyService;
  const uniqFlags = [...new Set(flags)];
  if (!svc && !reason && chains.length === 0 && calico.length === 0) return { flags: uniqFlags };
  const attribution: Mutable<KubernetesAttribution> = { chains };
  if (svc) {
    attribution.service = svc.service;
    attribution.namespace = svc.namespace;
    attribution.name = svc.name;
    if (svc.port) attribution.port = svc.port;
  }
  if (reason) attribution.reason = reason;
  if (endpoint) attribution.endpoint = endpoint;
  if (calico.length) attribution.calico = calico;
  return { attribution, ...(ref ? { ref } : {}), flags: uniqFlags };
}

/** Whether step `idx` is one of the jumps (or gotos) on a call path. */
function onPath(node: PathNode | undefined, idx: number): boolean {
  for (let n = node; n; n = n.parent) if (n.idx === idx) return true;
  return false;
}
