/**
 * Kubernetes attribution from kube-proxy's rule comments and chain names, and Calico rule ids.
 *
 * kube-proxy writes the service port name `namespace/name:port` into its comments, sometimes with a suffix
 * (`cluster IP`, `external IP`, `has no endpoints`, `has no local endpoints`) or inside a sentence (`masquerade
 * LOCAL traffic for ns/svc:port LB IP`). Chain names carry a hash only, so the comment is the way back to the
 * service.
 */

/** A service port reference parsed out of a comment. */
export interface ServiceRef {
  readonly service: string;
  readonly namespace: string;
  readonly name: string;
  readonly port?: string;
  /** Words after the service name, e.g. `has no local endpoints`, `cluster IP`. */
  readonly suffix?: string;
}

// A DNS label namespace, a DNS-subdomain name, an optional port name; not preceded by address characters so
// that `10.0.0.0/8` is not read as namespace `0`.
const SERVICE_RE =
  /(?<![\w./:-])([a-z0-9](?:[-a-z0-9]*[a-z0-9])?)\/([a-z0-9](?:[-a-z0-9.]*[a-z0-9])?)(?::([-A-Za-z0-9_]+))?(?:\s+(.*))?$/;
const SERVICE_IN_SENTENCE_RE =
  /(?<![\w./:-])([a-z0-9](?:[-a-z0-9]*[a-z0-9])?)\/([a-z0-9](?:[-a-z0-9.]*[a-z0-9])?)(?::([-A-Za-z0-9_]+))?/;

/** Parses a kube-proxy comment; undefined when it names no service. */
export function parseServiceComment(comment: string): ServiceRef | undefined {
  const m = SERVICE_RE.exec(comment) ?? SERVICE_IN_SENTENCE_RE.exec(comment);
  if (!m) return undefined;
  const [, namespace, name, port, suffix] = m;
  if (!namespace || !name) return undefined;
  // A sentence-embedded match must look like a service (kube-proxy always includes ':port').
  if (m.index > 0 && !port) return undefined;
  return {
    service: port ? `${namespace}/${name}:${port}` : `${namespace}/${name}`,
    namespace,
    name,
    ...(port ? { port } : {}),
    ...(suffix && m.index === 0 ? { suffix: suffix.trim() } : {}),
  };
}

/** kube-proxy chain families worth naming in the output. */
export function isKubeServiceChain(chain: string): boolean {
  return /^KUBE-(SVC|SEP|XLB|EXT|FW|SVL|NODEPORTS|EXTERNAL-SERVICES|PROXY-FIREWALL)\b/.test(chain);
}

/** `cali:6gwbT8clXdHdC1b1` → `6gwbT8clXdHdC1b1`. */
export function calicoId(comment: string): string | undefined {
  return comment.startsWith('cali:') ? comment.slice(5) : undefined;
}

/** Whether kube-proxy's comment says the service has no (local) endpoints. */
export function isNoEndpointsReason(suffix: string | undefined): boolean {
  return suffix === 'has no endpoints' || suffix === 'has no local endpoints';
}
