// Namespaces, veth pairs and sysctls. Every address lives only inside namespaces the lab creates; the only
// host-level change is the `net.netfilter.nf_log_all_netns` sysctl, which is saved and restored.
import * as fs from 'node:fs';
import { killPid, nsRun, onCleanup, run } from './proc';

function sysctlPath(key: string): string {
  return `/proc/sys/${key.replace(/\./g, '/')}`;
}

export function readSysctl(key: string, ns?: string): string {
  if (ns) return nsRun(ns, ['cat', sysctlPath(key)]).stdout.trim();
  return fs.readFileSync(sysctlPath(key), 'utf8').trim();
}

export function writeSysctl(key: string, value: string, ns?: string): void {
  if (ns) nsRun(ns, ['sysctl', '-q', '-w', `${key}=${value}`]);
  else run(['sysctl', '-q', '-w', `${key}=${value}`]);
}

/**
 * Sets a host (init-netns) sysctl and registers its restore. The restore only writes the saved value back
 * if the sysctl still holds the value we set, so a concurrent user who changed it since is not clobbered.
 * Returns a function that restores it early.
 */
export function setHostSysctl(key: string, value: string): () => void {
  const before = readSysctl(key);
  if (before === value) return () => {};
  writeSysctl(key, value);
  return onCleanup(`restore sysctl ${key}=${before}`, () => {
    const now = readSysctl(key);
    if (now === value) writeSysctl(key, before);
    else
      process.stderr.write(
        `lab: ${key} is ${now}, changed by someone else since we set ${value}; left alone\n`,
      );
  });
}

export interface Addr {
  readonly v4: string;
  readonly v6: string;
}

export interface Topology {
  readonly prefix: string;
  readonly client: string;
  readonly node: string;
  readonly pod?: string;
  readonly clientAddr: Addr;
  readonly nodeAddr: Addr;
  readonly podAddr?: Addr;
  readonly nodePodSide?: Addr;
  /** Tears the topology down now (kills every process in the namespaces, deletes them). */
  destroy(): void;
}

export interface TopologyOptions {
  /** Namespace name prefix, unique per run and pass (e.g. `rtlab-1234-p3`). */
  readonly prefix: string;
  readonly clientAddr: Addr;
  readonly nodeAddr: Addr;
  /** Add a pod namespace behind the node (for forwarding / SNAT scenarios). */
  readonly pod?: { readonly podAddr: Addr; readonly nodeSide: Addr };
  /** First five octets of every MAC the lab assigns (the sixth says which interface). */
  readonly macPrefix: string;
}

function addNetns(name: string): () => void {
  run(['ip', 'netns', 'add', name]);
  return onCleanup(`delete netns ${name}`, () => deleteNetns(name));
}

/** Kills whatever still runs inside the namespace (it is ours: the name is unique), then deletes it. */
export function deleteNetns(name: string): void {
  const pids = run(['ip', 'netns', 'pids', name], { allowFail: true })
    .stdout.split(/\s+/)
    .filter(Boolean)
    .map(Number);
  for (const pid of pids) killPid(pid, 1000);
  run(['ip', 'netns', 'del', name], { allowFail: true });
}

export function createTopology(opts: TopologyOptions): Topology {
  const client = `${opts.prefix}-client`;
  const node = `${opts.prefix}-node`;
  const pod = opts.pod ? `${opts.prefix}-pod` : undefined;
  const undos: (() => void)[] = [];
  undos.push(addNetns(client));
  undos.push(addNetns(node));
  if (pod) undos.push(addNetns(pod));

  // The veth pair is created directly inside the namespaces: no interface ever exists in the host netns.
  const mac = (last: string) => `${opts.macPrefix}:${last}`;
  run(
    ['ip', '-n', node, 'link', 'add', 'eth0', 'address', mac('04'), 'type', 'veth', 'peer', 'name'].concat([
      'eth0',
      'address',
      mac('02'),
      'netns',
      client,
    ]),
  );
  for (const [ns, a] of [
    [node, opts.nodeAddr],
    [client, opts.clientAddr],
  ] as const) {
    run(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    run(['ip', '-n', ns, 'addr', 'add', `${a.v4}/24`, 'dev', 'eth0']);
    run(['ip', '-n', ns, '-6', 'addr', 'add', `${a.v6}/64`, 'dev', 'eth0', 'nodad']);
    run(['ip', '-n', ns, 'link', 'set', 'eth0', 'up']);
  }
  if (pod && opts.pod) {
    run(
      ['ip', '-n', node, 'link', 'add', 'pod0', 'address', mac('11'), 'type', 'veth', 'peer', 'name'].concat([
        'eth0',
        'address',
        mac('12'),
        'netns',
        pod,
      ]),
    );
    run(['ip', '-n', pod, 'link', 'set', 'lo', 'up']);
    run(['ip', '-n', pod, 'addr', 'add', `${opts.pod.podAddr.v4}/24`, 'dev', 'eth0']);
    run(['ip', '-n', pod, '-6', 'addr', 'add', `${opts.pod.podAddr.v6}/64`, 'dev', 'eth0', 'nodad']);
    run(['ip', '-n', pod, 'link', 'set', 'eth0', 'up']);
    run(['ip', '-n', pod, 'route', 'add', 'default', 'via', opts.pod.nodeSide.v4]);
    run(['ip', '-n', pod, '-6', 'route', 'add', 'default', 'via', opts.pod.nodeSide.v6]);
    run(['ip', '-n', node, 'addr', 'add', `${opts.pod.nodeSide.v4}/24`, 'dev', 'pod0']);
    run(['ip', '-n', node, '-6', 'addr', 'add', `${opts.pod.nodeSide.v6}/64`, 'dev', 'pod0', 'nodad']);
    run(['ip', '-n', node, 'link', 'set', 'pod0', 'up']);
    // Per-namespace sysctls: they disappear with the namespace, nothing to restore.
    writeSysctl('net.ipv4.ip_forward', '1', node);
    writeSysctl('net.ipv6.conf.all.forwarding', '1', node);
  }
  return {
    prefix: opts.prefix,
    client,
    node,
    ...(pod ? { pod } : {}),
    clientAddr: opts.clientAddr,
    nodeAddr: opts.nodeAddr,
    ...(opts.pod ? { podAddr: opts.pod.podAddr, nodePodSide: opts.pod.nodeSide } : {}),
    destroy() {
      while (undos.length) undos.pop()?.();
    },
  };
}

/** `ip -j link` of a namespace: the ifindex → name map the NFLOG channels need. */
export function linkMap(ns: string): { ifindex: number; ifname: string; address?: string }[] {
  const links = JSON.parse(run(['ip', '-n', ns, '-j', 'link']).stdout) as {
    ifindex: number;
    ifname: string;
    address?: string;
  }[];
  return links.map((l) => ({
    ifindex: l.ifindex,
    ifname: l.ifname,
    ...(l.address ? { address: l.address } : {}),
  }));
}
