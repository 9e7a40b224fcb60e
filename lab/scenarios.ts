// The lab's scenarios: a ruleset (iptables-restore text, TRACE rules included), the services on the node, the
// probes from the client, and what ruletrail must say about each probe's packet.
import type { Expectation, LabAddresses, Probe, Rulesets, Scenario } from './lib/types';

/** `--syn` as iptables-save prints it. TRACE only the connection-opening packet: fixtures stay small. */
const SYN = '--tcp-flags FIN,SYN,RST,ACK SYN';

function table(name: string, chains: readonly string[], rules: readonly string[]): string {
  const builtins: Record<string, readonly string[]> = {
    raw: ['PREROUTING', 'OUTPUT'],
    mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
    nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
    filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  };
  const policy = (c: string) => {
    const m = /^(\S+)\s+(ACCEPT|DROP)$/.exec(c);
    return m ? { name: m[1] ?? c, policy: m[2] ?? 'ACCEPT' } : { name: c, policy: 'ACCEPT' };
  };
  const overrides = new Map(chains.map((c) => [policy(c).name, policy(c).policy] as const));
  const lines = [`*${name}`];
  for (const b of builtins[name] ?? []) lines.push(`:${b} ${overrides.get(b) ?? 'ACCEPT'} [0:0]`);
  for (const c of chains) {
    const p = policy(c);
    if (!(builtins[name] ?? []).includes(p.name)) lines.push(`:${p.name} - [0:0]`);
  }
  lines.push(...rules, 'COMMIT');
  return lines.join('\n') + '\n';
}

/** IPv6 addresses inside iptables rules need brackets with a port. */
function hostPort(addr: string, port: number): string {
  return addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
}

// ---------------------------------------------------------------------------------------------------------
// The write-up's node: kube-proxy (pre-KEP-3178, KUBE-MARK-DROP era), calico, docker, and a hand-made DNAT
// 80 → 52000 placed after the KUBE-SERVICES jump. NodePort 52000 of ootob9/ingress-nginx:http has
// externalTrafficPolicy=Local and no local endpoint, and a host service listens on 52000.

interface IncidentOptions {
  readonly family: 4 | 6;
  readonly node: string;
  readonly calico: boolean;
  readonly trace: readonly string[];
}

function incidentRules(o: IncidentOptions): string {
  const v6 = o.family === 6;
  const plen = v6 ? '128' : '32';
  const podNet = v6 ? 'fd00:10:244::/56' : '10.244.0.0/16';
  const svcIp = v6 ? 'fd00:10:96::2d0c' : '10.96.45.12';
  const redisIp = v6 ? 'fd00:10:96::1f4' : '10.96.1.244';
  const remotePod = v6 ? 'fd00:10:244:3::5' : '10.244.3.5';
  const redisPod = v6 ? 'fd00:10:244:2::7' : '10.244.2.7';
  const cali = o.calico;
  const raw = table('raw', cali ? ['cali-PREROUTING'] : [], [
    ...(cali ? ['-A PREROUTING -m comment --comment "cali:6gwbT8clXdHdC1b1" -j cali-PREROUTING'] : []),
    ...o.trace,
    ...(cali
      ? ['-A cali-PREROUTING -m comment --comment "cali:XFX5xbM8B9qR10JG" -j MARK --set-xmark 0x0/0xf0000']
      : []),
  ]);
  const mangle = cali
    ? table(
        'mangle',
        ['cali-PREROUTING', 'cali-from-host-endpoint'],
        [
          '-A PREROUTING -m comment --comment "cali:6gwbT8clXdHdC1b1" -j cali-PREROUTING',
          '-A cali-PREROUTING -m comment --comment "cali:6BJqBjBC7crtA-7-" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
          '-A cali-PREROUTING -m comment --comment "cali:KX7AGNd6rMcDUai6" -m mark --mark 0x10000/0x10000 -j ACCEPT',
          '-A cali-PREROUTING -m comment --comment "cali:wNH7KsA3ILKJBsY9" -j cali-from-host-endpoint',
          '-A cali-PREROUTING -m comment --comment "cali:Cg96MgVuoPm7UMRo" -m comment --comment "Host endpoint policy accepted packet." -m mark --mark 0x10000/0x10000 -j ACCEPT',
        ],
      )
    : '';
  const nat = table(
    'nat',
    [
      'DOCKER',
      'KUBE-MARK-DROP',
      'KUBE-MARK-MASQ',
      'KUBE-NODEPORTS',
      'KUBE-POSTROUTING',
      'KUBE-SEP-3RZ5SPZ2WRKTQDHN',
      'KUBE-SEP-OJTDQF7MUIW6LSCU',
      'KUBE-SERVICES',
      'KUBE-SVC-72PRQ2XITETCHH4U',
      'KUBE-SVC-VETHOZVMBYUVK3NB',
      'KUBE-XLB-VETHOZVMBYUVK3NB',
      ...(cali ? ['cali-PREROUTING', 'cali-fip-dnat'] : []),
    ],
    [
      ...(cali ? ['-A PREROUTING -m comment --comment "cali:6gwbT8clXdHdC1b1" -j cali-PREROUTING'] : []),
      '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      `-A PREROUTING -d ${o.node}/${plen} -p tcp -m tcp --dport 80 -j DNAT --to-destination ${hostPort(o.node, 52000)}`,
      '-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER',
      '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
      '-A DOCKER -i docker0 -j RETURN',
      `-A DOCKER ! -i docker0 -p tcp -m tcp --dport 25280 -j DNAT --to-destination ${hostPort(v6 ? 'fd00:172:17::4' : '172.17.0.4', 25280)}`,
      '-A KUBE-MARK-DROP -j MARK --set-xmark 0x8000/0x8000',
      '-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000',
      '-A KUBE-NODEPORTS -p tcp -m comment --comment "ootob9/outer-ootob-redis:tcp" -m tcp --dport 32379 -j KUBE-MARK-MASQ',
      '-A KUBE-NODEPORTS -p tcp -m comment --comment "ootob9/outer-ootob-redis:tcp" -m tcp --dport 32379 -j KUBE-SVC-72PRQ2XITETCHH4U',
      ...(v6
        ? []
        : [
            '-A KUBE-NODEPORTS -s 127.0.0.0/8 -p tcp -m comment --comment "ootob9/ingress-nginx:http" -m tcp --dport 52000 -j KUBE-MARK-MASQ',
          ]),
      '-A KUBE-NODEPORTS -p tcp -m comment --comment "ootob9/ingress-nginx:http" -m tcp --dport 52000 -j KUBE-XLB-VETHOZVMBYUVK3NB',
      '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -m mark --mark 0x4000/0x4000 -j MASQUERADE',
      `-A KUBE-SEP-3RZ5SPZ2WRKTQDHN -s ${remotePod}/${plen} -m comment --comment "ootob9/ingress-nginx:http" -j KUBE-MARK-MASQ`,
      `-A KUBE-SEP-3RZ5SPZ2WRKTQDHN -p tcp -m comment --comment "ootob9/ingress-nginx:http" -m tcp -j DNAT --to-destination ${hostPort(remotePod, 80)}`,
      `-A KUBE-SEP-OJTDQF7MUIW6LSCU -s ${redisPod}/${plen} -m comment --comment "ootob9/outer-ootob-redis:tcp" -j KUBE-MARK-MASQ`,
      `-A KUBE-SEP-OJTDQF7MUIW6LSCU -p tcp -m comment --comment "ootob9/outer-ootob-redis:tcp" -m tcp -j DNAT --to-destination ${hostPort(redisPod, 6379)}`,
      `-A KUBE-SERVICES ! -s ${podNet} -d ${svcIp}/${plen} -p tcp -m comment --comment "ootob9/ingress-nginx:http cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ`,
      `-A KUBE-SERVICES -d ${svcIp}/${plen} -p tcp -m comment --comment "ootob9/ingress-nginx:http cluster IP" -m tcp --dport 80 -j KUBE-SVC-VETHOZVMBYUVK3NB`,
      `-A KUBE-SERVICES -d ${redisIp}/${plen} -p tcp -m comment --comment "ootob9/outer-ootob-redis:tcp cluster IP" -m tcp --dport 6379 -j KUBE-SVC-72PRQ2XITETCHH4U`,
      '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
      '-A KUBE-SVC-72PRQ2XITETCHH4U -m comment --comment "ootob9/outer-ootob-redis:tcp" -j KUBE-SEP-OJTDQF7MUIW6LSCU',
      '-A KUBE-SVC-VETHOZVMBYUVK3NB -m comment --comment "ootob9/ingress-nginx:http" -j KUBE-SEP-3RZ5SPZ2WRKTQDHN',
      `-A KUBE-XLB-VETHOZVMBYUVK3NB -s ${podNet} -m comment --comment "Redirect pods trying to reach external loadbalancer VIP to clusterIP" -j KUBE-SVC-VETHOZVMBYUVK3NB`,
      '-A KUBE-XLB-VETHOZVMBYUVK3NB -m comment --comment "masquerade LOCAL traffic for ootob9/ingress-nginx:http LB IP" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ',
      '-A KUBE-XLB-VETHOZVMBYUVK3NB -m comment --comment "route LOCAL traffic for ootob9/ingress-nginx:http LB IP to service chain" -m addrtype --src-type LOCAL -j KUBE-SVC-VETHOZVMBYUVK3NB',
      '-A KUBE-XLB-VETHOZVMBYUVK3NB -m comment --comment "ootob9/ingress-nginx:http has no local endpoints" -j KUBE-MARK-DROP',
      ...(cali ? ['-A cali-PREROUTING -m comment --comment "cali:r6XmIziWUJsdOK6Z" -j cali-fip-dnat'] : []),
    ],
  );
  const filter = table(
    'filter',
    ['KUBE-FIREWALL'],
    [
      '-A INPUT -j KUBE-FIREWALL',
      '-A OUTPUT -j KUBE-FIREWALL',
      '-A KUBE-FIREWALL -m comment --comment "kubernetes firewall for dropping marked packets" -m mark --mark 0x8000/0x8000 -j DROP',
      ...(v6
        ? []
        : [
            '-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP',
          ]),
    ],
  );
  return raw + mangle + nat + filter;
}

const NODEPORT_RULE = [
  '-t',
  'nat',
  '-D',
  'KUBE-NODEPORTS',
  '-p',
  'tcp',
  '-m',
  'comment',
  '--comment',
  'ootob9/ingress-nginx:http',
  '-m',
  'tcp',
  '--dport',
  '52000',
  '-j',
  'KUBE-XLB-VETHOZVMBYUVK3NB',
];

/** The incident's DROP: marked in nat by KUBE-MARK-DROP (reached from the NodePort rule), dropped in filter. */
const incidentDrop: Expectation = {
  verdict: 'DROP',
  decidedBy: { table: 'filter', chain: 'KUBE-FIREWALL', rulenum: 1, ruleIncludes: '--mark 0x8000/0x8000' },
  markSetBy: [{ table: 'nat', chain: 'KUBE-MARK-DROP', mark: '0x8000' }],
  markReachedFrom: { table: 'nat', chain: 'KUBE-NODEPORTS', ruleIncludes: '--dport 52000' },
  service: 'ootob9/ingress-nginx',
  flags: ['kube_mark_drop'],
};

/** Port 80: DNAT'ed to 52000 by the hand-made rule that runs after KUBE-SERVICES, so it is never marked. */
function incidentAccept(node: string): Expectation {
  return {
    verdict: 'ACCEPT',
    nat: [{ kind: 'DNAT', to: hostPort(node, 52000), byTable: 'nat', byChain: 'PREROUTING' }],
    markSetBy: [],
  };
}

function incidentProbes(a: LabAddresses, family: 4 | 6): Probe[] {
  const node = family === 4 ? a.node.v4 : a.node.v6;
  const sfx = family === 6 ? '-v6' : '';
  return [
    {
      id: `nodeport-52000${sfx}`,
      from: 'client',
      to: 'node',
      family,
      proto: 'tcp',
      dport: 52000,
      http: true,
      expect: 'timeout',
      explain: incidentDrop,
      why: 'the host service on 52000 collides with NodePort 52000 (externalTrafficPolicy=Local, no local endpoint)',
    },
    {
      id: `dnat-80${sfx}`,
      from: 'client',
      to: 'node',
      family,
      proto: 'tcp',
      dport: 80,
      http: true,
      expect: 'answer',
      explain: incidentAccept(node),
      why: 'port 80 is DNATed to 52000 after KUBE-SERVICES has already been walked, so the mark is never set',
    },
  ];
}

const trace52000and80 = [
  `-A PREROUTING -p tcp -m tcp --dport 52000 ${SYN} -j TRACE`,
  `-A PREROUTING -p tcp -m tcp --dport 80 ${SYN} -j TRACE`,
];

const incident: Scenario = {
  name: 'incident',
  title: 'The write-up: NodePort 52000 collides with a host service; port 80 DNAT works',
  rules: (a) => ({
    v4: incidentRules({ family: 4, node: a.node.v4, calico: true, trace: trace52000and80 }),
    v6: '',
  }),
  services: [{ ns: 'node', kind: 'http', port: 52000 }],
  probes: [],
};

// ---------------------------------------------------------------------------------------------------------
// Modern kube-proxy (KEP-3178 and later): no KUBE-MARK-DROP; direct REJECT/DROP in filter KUBE-EXTERNAL-SERVICES.

function modernRules(a: LabAddresses): Rulesets {
  const n = a.node.v4;
  const raw = table(
    'raw',
    [],
    [30080, 30081, 30082].map((p) => `-A PREROUTING -p tcp -m tcp --dport ${p} ${SYN} -j TRACE`),
  );
  const nat = table(
    'nat',
    [
      'KUBE-EXT-WEBHTTPAAAAAAAAA',
      'KUBE-MARK-MASQ',
      'KUBE-NODEPORTS',
      'KUBE-POSTROUTING',
      'KUBE-SEP-WEBHTTPBBBBBBBBB',
      'KUBE-SERVICES',
      'KUBE-SVC-WEBHTTPAAAAAAAAA',
    ],
    [
      '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
      '-A KUBE-EXT-WEBHTTPAAAAAAAAA -m comment --comment "masquerade traffic for demo/web:http external destinations" -j KUBE-MARK-MASQ',
      '-A KUBE-EXT-WEBHTTPAAAAAAAAA -j KUBE-SVC-WEBHTTPAAAAAAAAA',
      '-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000',
      '-A KUBE-NODEPORTS -p tcp -m comment --comment "demo/web:http" -m tcp --dport 30082 -j KUBE-EXT-WEBHTTPAAAAAAAAA',
      '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
      '-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0',
      '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
      `-A KUBE-SEP-WEBHTTPBBBBBBBBB -s ${n}/32 -m comment --comment "demo/web:http" -j KUBE-MARK-MASQ`,
      `-A KUBE-SEP-WEBHTTPBBBBBBBBB -p tcp -m comment --comment "demo/web:http" -m tcp -j DNAT --to-destination ${n}:8080`,
      '-A KUBE-SERVICES -d 10.96.7.80/32 -p tcp -m comment --comment "demo/web:http cluster IP" -m tcp --dport 80 -j KUBE-SVC-WEBHTTPAAAAAAAAA',
      '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
      `-A KUBE-SVC-WEBHTTPAAAAAAAAA ! -s 10.244.0.0/16 -d 10.96.7.80/32 -p tcp -m comment --comment "demo/web:http cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ`,
      `-A KUBE-SVC-WEBHTTPAAAAAAAAA -m comment --comment "demo/web:http -> ${n}:8080" -j KUBE-SEP-WEBHTTPBBBBBBBBB`,
    ],
  );
  const filter = table(
    'filter',
    [
      'KUBE-EXTERNAL-SERVICES',
      'KUBE-FIREWALL',
      'KUBE-FORWARD',
      'KUBE-NODEPORTS',
      'KUBE-PROXY-FIREWALL',
      'KUBE-SERVICES',
    ],
    [
      '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
      '-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS',
      '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
      '-A INPUT -j KUBE-FIREWALL',
      '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
      '-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      '-A OUTPUT -j KUBE-FIREWALL',
      '-A KUBE-EXTERNAL-SERVICES -p tcp -m comment --comment "demo/no-endpoints:http has no endpoints" -m addrtype --dst-type LOCAL -m tcp --dport 30080 -j REJECT --reject-with icmp-port-unreachable',
      '-A KUBE-EXTERNAL-SERVICES -p tcp -m comment --comment "demo/local-only:http has no local endpoints" -m addrtype --dst-type LOCAL -m tcp --dport 30081 -j DROP',
      '-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP',
      '-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP',
      '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT',
      '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    ],
  );
  return { v4: raw + nat + filter, v6: '' };
}

const modern: Scenario = {
  name: 'modern-kube-proxy',
  title: 'Modern kube-proxy: direct REJECT ("has no endpoints") and DROP ("has no local endpoints")',
  rules: modernRules,
  services: [{ ns: 'node', kind: 'http', port: 8080 }],
  probes: [],
};

// ---------------------------------------------------------------------------------------------------------
// An explicit unconditional `-j DROP`: the kernel labels it `policy` (built-in chain) or `return` (user chain).

function explicitDropRules(): Rulesets {
  const raw = table(
    'raw',
    [],
    [8080, 9090, 9091].map((p) => `-A PREROUTING -p tcp -m tcp --dport ${p} ${SYN} -j TRACE`),
  );
  const filter = table(
    'filter',
    ['LAB-APP'],
    [
      '-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      '-A INPUT -i lo -j ACCEPT',
      '-A INPUT -p tcp -m tcp --dport 8080 -m comment --comment "lab: web" -j ACCEPT',
      '-A INPUT -p tcp -m tcp --dport 9091 -j LAB-APP',
      '-A INPUT -j DROP',
      '-A LAB-APP -s 10.99.0.0/16 -j ACCEPT',
      '-A LAB-APP -j DROP',
    ],
  );
  return { v4: raw + filter, v6: '' };
}

const explicitDrop: Scenario = {
  name: 'explicit-drop',
  title:
    'An explicit unconditional -j DROP, which the kernel labels "policy" (INPUT) and "return" (user chain)',
  rules: explicitDropRules,
  services: [
    { ns: 'node', kind: 'http', port: 8080 },
    { ns: 'node', kind: 'http', port: 9090 },
    { ns: 'node', kind: 'http', port: 9091 },
  ],
  probes: [],
};

// ---------------------------------------------------------------------------------------------------------
// IPv6: the incident again over ip6tables, plus an ICMPv6 echo that the chain policy accepts.

const ipv6: Scenario = {
  name: 'ipv6',
  title: 'The incident over IPv6 (ip6tables), plus ICMPv6 echo',
  rules: (a) => ({
    v4: '',
    v6: incidentRules({
      family: 6,
      node: a.node.v6,
      calico: false,
      trace: [...trace52000and80, '-A PREROUTING -p ipv6-icmp -m icmp6 --icmpv6-type 128 -j TRACE'],
    }),
  }),
  services: [{ ns: 'node', kind: 'http', port: 52000 }],
  probes: [],
};

// ---------------------------------------------------------------------------------------------------------
// UDP and ICMP: a UDP DNAT that answers, a UDP REJECT, an ICMP echo DROP.

function udpIcmpRules(a: LabAddresses): Rulesets {
  const raw = table(
    'raw',
    [],
    [
      '-A PREROUTING -p udp -m udp --dport 53 -j TRACE',
      '-A PREROUTING -p udp -m udp --dport 5354 -j TRACE',
      '-A PREROUTING -p icmp -m icmp --icmp-type 8 -j TRACE',
    ],
  );
  const nat = table(
    'nat',
    [],
    [
      `-A PREROUTING -d ${a.node.v4}/32 -p udp -m udp --dport 53 -m comment --comment "lab: dns to local resolver" -j DNAT --to-destination ${a.node.v4}:5353`,
    ],
  );
  const filter = table(
    'filter',
    [],
    [
      '-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      '-A INPUT -p icmp -m icmp --icmp-type 8 -m comment --comment "lab: no ping from outside" -j DROP',
      '-A INPUT -p udp -m udp --dport 5354 -m comment --comment "lab: closed udp port" -j REJECT --reject-with icmp-port-unreachable',
      '-A INPUT -p udp -m udp --dport 5353 -m comment --comment "lab: resolver" -j ACCEPT',
    ],
  );
  return { v4: raw + nat + filter, v6: '' };
}

const udpIcmp: Scenario = {
  name: 'udp-icmp',
  title: 'UDP DNAT that answers, UDP REJECT, ICMP echo DROP',
  rules: udpIcmpRules,
  services: [
    { ns: 'node', kind: 'udp', port: 5353 },
    { ns: 'node', kind: 'udp', port: 5354 },
  ],
  probes: [],
};

// ---------------------------------------------------------------------------------------------------------
// SNAT / MASQUERADE on the way out: a pod behind the node talks to the client through the node.

function snatRules(a: LabAddresses): Rulesets {
  const raw = table(
    'raw',
    [],
    [
      `-A PREROUTING -s ${a.pod.v4}/32 -p tcp -m tcp --dport 8080 ${SYN} -j TRACE`,
      `-A PREROUTING -s ${a.pod.v4}/32 -p udp -m udp --dport 5353 -j TRACE`,
    ],
  );
  const nat = table(
    'nat',
    ['KUBE-POSTROUTING', 'cali-POSTROUTING', 'cali-nat-outgoing'],
    [
      `-A POSTROUTING -s 10.244.1.0/24 -o eth0 -p udp -m udp --dport 5353 -m comment --comment "lab: fixed source for the resolver" -j SNAT --to-source ${a.node.v4}`,
      '-A POSTROUTING -m comment --comment "cali:O3lYWMrLQYEMJtB5" -j cali-POSTROUTING',
      '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
      '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
      '-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0',
      '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
      '-A cali-POSTROUTING -m comment --comment "cali:Z-c7XtVd2Bq7s_hA" -j cali-nat-outgoing',
      '-A cali-nat-outgoing -s 10.244.1.0/24 ! -d 10.244.0.0/16 -m comment --comment "cali:flqWnvo8yq4ULQLa" -j MASQUERADE --random-fully',
    ],
  );
  const filter = table(
    'filter',
    ['FORWARD DROP', 'KUBE-FORWARD'],
    [
      '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
      '-A FORWARD -s 10.244.0.0/16 -m comment --comment "lab: pod egress" -j ACCEPT',
      '-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP',
      '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT',
      '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    ],
  );
  return { v4: raw + nat + filter, v6: '' };
}

const snat: Scenario = {
  name: 'snat-masquerade',
  title: 'Pod egress through the node: MASQUERADE (calico nat-outgoing) for TCP, explicit SNAT for UDP',
  pod: true,
  rules: snatRules,
  services: [
    { ns: 'client', kind: 'http', port: 8080 },
    { ns: 'client', kind: 'udp', port: 5353 },
  ],
  probes: [],
};

// ---------------------------------------------------------------------------------------------------------
// Drift: the write-up's fix (delete the NodePort rule) applied mid-capture. The snapshot handed to ruletrail
// is the one taken before the change; packets after it must be flagged, not explained with stale rules.

const drift: Scenario = {
  name: 'drift',
  title:
    "Ruleset changed mid-capture (the write-up's fix): later packets must be flagged as snapshot mismatch",
  rules: (a) => ({
    v4: incidentRules({ family: 4, node: a.node.v4, calico: false, trace: trace52000and80 }),
    v6: '',
  }),
  services: [{ ns: 'node', kind: 'http', port: 52000 }],
  probes: [],
  mutation: {
    afterProbe: 1,
    describe: 'iptables -t nat -D KUBE-NODEPORTS <the ootob9/ingress-nginx:http --dport 52000 rule>',
    iptables: [NODEPORT_RULE],
  },
};

// ---------------------------------------------------------------------------------------------------------
// Issue #16: a rule inserted at the top of a chain after the snapshot was taken. Every later rule number shifts
// by one, so the kernel's `filter:KUBE-EXTERNAL-SERVICES:rule:2` for the TCP SYN to 31080 is rule 1 of the
// snapshot; rule 2 of the snapshot is the UDP 31053 REJECT, which a TCP packet can never match.

const EXT_31080 =
  '-p tcp -m comment --comment "shop/web:http has no endpoints" -m addrtype --dst-type LOCAL -m tcp --dport 31080 -j REJECT --reject-with icmp-port-unreachable';
const EXT_31053 =
  '-p udp -m comment --comment "shop/dns:dns-udp has no endpoints" -m addrtype --dst-type LOCAL -m udp --dport 31053 -j REJECT --reject-with icmp-port-unreachable';

function ruleInsertedRules(): Rulesets {
  const raw = table(
    'raw',
    [],
    [
      `-A PREROUTING -p tcp -m tcp --dport 31080 ${SYN} -j TRACE`,
      '-A PREROUTING -p udp -m udp --dport 31053 -j TRACE',
    ],
  );
  const filter = table(
    'filter',
    ['KUBE-EXTERNAL-SERVICES', 'KUBE-FIREWALL'],
    [
      '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
      '-A INPUT -j KUBE-FIREWALL',
      `-A KUBE-EXTERNAL-SERVICES ${EXT_31080}`,
      `-A KUBE-EXTERNAL-SERVICES ${EXT_31053}`,
      '-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP',
    ],
  );
  return { v4: raw + filter, v6: '' };
}

/** What kube-proxy adds when another service loses its endpoints: a REJECT at the top of the chain. */
const INSERTED_RULE = [
  '-t',
  'filter',
  '-I',
  'KUBE-EXTERNAL-SERVICES',
  '1',
  '-p',
  'tcp',
  '-m',
  'comment',
  '--comment',
  'shop/api:https has no endpoints',
  '-m',
  'addrtype',
  '--dst-type',
  'LOCAL',
  '-m',
  'tcp',
  '--dport',
  '31443',
  '-j',
  'REJECT',
  '--reject-with',
  'icmp-port-unreachable',
];

const ruleInserted: Scenario = {
  name: 'rule-inserted',
  title:
    'A rule inserted at the top of KUBE-EXTERNAL-SERVICES after the snapshot: the kernel\'s "rule 2" is the snapshot\'s rule 1',
  rules: ruleInsertedRules,
  services: [],
  probes: [],
  mutation: {
    afterProbe: 1,
    describe:
      'iptables -t filter -I KUBE-EXTERNAL-SERVICES 1 -p tcp … --comment "shop/api:https has no endpoints" … --dport 31443 -j REJECT',
    iptables: [INSERTED_RULE],
  },
};

// ---------------------------------------------------------------------------------------------------------
// Issue #16 item 6a: iptables-legacy with raw, filter and nat but no mangle table; whole TCP connections traced
// both ways. The nat table sees only a connection's first packet, so every later packet's trace ends at a hook
// whose last table is filter (`raw:OUTPUT:policy → filter:OUTPUT:policy` for the node's own packets).

function establishedRules(a: LabAddresses): Rulesets {
  const raw = table(
    'raw',
    [],
    [
      // client → the node's web server on 8080, and its replies
      '-A PREROUTING -p tcp -m tcp --dport 8080 -j TRACE',
      '-A OUTPUT -p tcp -m tcp --sport 8080 -j TRACE',
      // the node → a server in the client namespace on 8081 (outgoing), and its replies
      '-A OUTPUT -p tcp -m tcp --dport 8081 -j TRACE',
      '-A PREROUTING -p tcp -m tcp --sport 8081 -j TRACE',
    ],
  );
  const nat = table(
    'nat',
    ['KUBE-POSTROUTING', 'KUBE-SERVICES'],
    [
      '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
      '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
      '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
      '-A KUBE-SERVICES -d 10.96.0.10/32 -p udp -m comment --comment "kube-system/kube-dns:dns cluster IP" -m udp --dport 53 -j RETURN',
    ],
  );
  const filter = table(
    'filter',
    ['INPUT DROP', 'KUBE-FIREWALL'],
    [
      '-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      '-A INPUT -i lo -j ACCEPT',
      `-A INPUT -d ${a.node.v4}/32 -p tcp -m tcp --dport 8080 -m comment --comment "lab: web" -j ACCEPT`,
      '-A OUTPUT -j KUBE-FIREWALL',
      '-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP',
    ],
  );
  return { v4: raw + nat + filter, v6: '' };
}

const established: Scenario = {
  name: 'established-no-mangle',
  title:
    'Whole TCP connections both ways on iptables-legacy with raw, filter and nat but no mangle: every packet ACCEPT',
  rules: establishedRules,
  // The case is iptables-legacy; its three channels.
  channels: ['kernel-log', 'nflog-pcap', 'ulogd-json'],
  services: [
    { ns: 'node', kind: 'http', port: 8080 },
    { ns: 'client', kind: 'http', port: 8081 },
  ],
  probes: [],
};

// ---------------------------------------------------------------------------------------------------------
// Issue #16 items 6b and 8: native nftables in kube-proxy's nftables mode (the table, chains, sets and maps
// pkg/proxy/nftables/proxier.go creates, with --nodeport-addresses=primary), a pod behind a NodePort (forwarded,
// DNAT'ed, masqueraded), a host firewall table that filters, a local server, and two NodePorts without
// endpoints: one rejected through `goto reject-chain`, one dropped.

function kubeProxyNft(a: LabAddresses): string {
  const pod = a.pod.v4;
  const svc = 'ZXPQ4J7M-shop/web/tcp/http';
  const ep = `K2VN6R3D-shop/web/tcp/http__${pod}/8080`;
  return `table ip rtlab-trace {
	chain prerouting {
		type filter hook prerouting priority raw; policy accept;
		tcp dport { 9080, 30080, 30091, 30092 } meta nftrace set 1 comment "lab: trace the client's connections"
		ip saddr ${pod} tcp sport 8080 meta nftrace set 1 comment "lab: trace the pod's replies"
	}
	chain output {
		type filter hook output priority raw; policy accept;
		tcp sport 9080 meta nftrace set 1 comment "lab: trace the node's own replies"
	}
}
table ip kube-proxy {
	comment "rules for kube-proxy"
	set nodeport-ips {
		type ipv4_addr
		comment "IPs that accept NodePort traffic"
		elements = { ${a.node.v4} }
	}
	map no-endpoint-services {
		type ipv4_addr . inet_proto . inet_service : verdict
		comment "vmap to drop or reject packets to services with no endpoints"
		elements = { 10.96.0.91 . tcp . 80 comment "shop/api:http" : goto reject-chain,
			     10.96.0.92 . tcp . 80 comment "shop/batch:http" : drop }
	}
	map no-endpoint-nodeports {
		type inet_proto . inet_service : verdict
		comment "vmap to drop or reject packets to service nodeports with no endpoints"
		elements = { tcp . 30091 comment "shop/api:http" : goto reject-chain,
			     tcp . 30092 comment "shop/batch:http" : drop }
	}
	map firewall-ips {
		type ipv4_addr . inet_proto . inet_service : verdict
		comment "destinations that are subject to LoadBalancerSourceRanges"
	}
	map service-ips {
		type ipv4_addr . inet_proto . inet_service : verdict
		comment "ClusterIP, ExternalIP and LoadBalancer IP traffic"
		elements = { 10.96.0.80 . tcp . 80 : goto service-${svc} }
	}
	map service-nodeports {
		type inet_proto . inet_service : verdict
		comment "NodePort traffic"
		elements = { tcp . 30080 : goto external-${svc} }
	}
	chain filter-prerouting {
		type filter hook prerouting priority -110; policy accept;
		ct state new jump firewall-check
	}
	chain filter-input {
		type filter hook input priority -110; policy accept;
		ct state new jump endpoints-check
	}
	chain filter-forward {
		type filter hook forward priority -110; policy accept;
		ct state new jump endpoints-check
	}
	chain filter-output {
		type filter hook output priority -110; policy accept;
		ct state new jump endpoints-check
		ct state new jump firewall-check
	}
	chain nat-prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		jump services
	}
	chain nat-output {
		type nat hook output priority -100; policy accept;
		jump services
	}
	chain nat-postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		jump masquerading
	}
	chain endpoints-check {
		ip daddr . meta l4proto . th dport vmap @no-endpoint-services
		ip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports
	}
	chain firewall-check {
		ip daddr . meta l4proto . th dport vmap @firewall-ips
	}
	chain services {
		ip daddr . meta l4proto . th dport vmap @service-ips
		ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports
	}
	chain masquerading {
		meta mark & 0x00004000 == 0x00000000 return
		meta mark set meta mark ^ 0x00004000
		masquerade fully-random
	}
	chain mark-for-masquerade {
		meta mark set meta mark | 0x00004000
	}
	chain reject-chain {
		comment "helper for @no-endpoint-services / @no-endpoint-nodeports"
		reject
	}
	chain service-${svc} {
		ip daddr 10.96.0.80 tcp dport 80 ip saddr != 10.244.0.0/16 jump mark-for-masquerade
		numgen random mod 1 vmap { 0 : goto endpoint-${ep} }
	}
	chain external-${svc} {
		jump mark-for-masquerade
		goto service-${svc}
	}
	chain endpoint-${ep} {
		ip saddr ${pod} jump mark-for-masquerade
		meta l4proto tcp dnat to ${pod}:8080
	}
}
table ip host-firewall {
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept comment "established"
		iifname "lo" accept
		tcp dport 9080 accept comment "web on the node"
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
		ip daddr 10.244.0.0/16 accept comment "to pods"
		ip saddr 10.244.0.0/16 accept comment "from pods"
	}
}
`;
}

const nftKubeProxy: Scenario = {
  name: 'nft-kube-proxy-nodeport',
  title:
    'kube-proxy nftables mode: NodePort forwarded to a pod (DNAT + masquerade), a local server, no-endpoint REJECT and DROP',
  pod: true,
  rules: () => ({ v4: '', v6: '' }),
  nft: kubeProxyNft,
  // Native nftables: only `nft monitor trace` sees `meta nftrace`.
  channels: ['nft-monitor'],
  services: [
    { ns: 'pod', kind: 'http', port: 8080 },
    { ns: 'node', kind: 'http', port: 9080 },
  ],
  probes: [],
};

// ---------------------------------------------------------------------------------------------------------
// addrtype with host facts: kube-proxy's KUBE-SERVICES → KUBE-NODEPORTS jump (`--dst-type LOCAL`) for the node's
// eth0 address and for an extra address on its lo, and filter INPUT rules on --src-type / ! --dst-type that only
// the node's addresses (host-facts.json) can decide.

const EXTRA_NODE_ADDRESS = '10.96.0.50';

function addrtypeRules(a: LabAddresses): Rulesets {
  const n = a.node.v4;
  const raw = table(
    'raw',
    [],
    [30090, 30091].map((p) => `-A PREROUTING -p tcp -m tcp --dport ${p} ${SYN} -j TRACE`),
  );
  const nat = table(
    'nat',
    [
      'KUBE-EXT-SHOPWEBAAAAAAAAA',
      'KUBE-MARK-MASQ',
      'KUBE-NODEPORTS',
      'KUBE-SEP-SHOPWEBBBBBBBBBB',
      'KUBE-SERVICES',
      'KUBE-SVC-SHOPWEBAAAAAAAAA',
    ],
    [
      '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      '-A KUBE-EXT-SHOPWEBAAAAAAAAA -m comment --comment "masquerade traffic for shop/web:http external destinations" -j KUBE-MARK-MASQ',
      '-A KUBE-EXT-SHOPWEBAAAAAAAAA -j KUBE-SVC-SHOPWEBAAAAAAAAA',
      '-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000',
      '-A KUBE-NODEPORTS -p tcp -m comment --comment "shop/web:http" -m tcp --dport 30090 -j KUBE-EXT-SHOPWEBAAAAAAAAA',
      `-A KUBE-SEP-SHOPWEBBBBBBBBBB -p tcp -m comment --comment "shop/web:http" -m tcp -j DNAT --to-destination ${n}:8080`,
      '-A KUBE-SERVICES -d 10.96.0.90/32 -p tcp -m comment --comment "shop/web:http cluster IP" -m tcp --dport 80 -j KUBE-SVC-SHOPWEBAAAAAAAAA',
      '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
      `-A KUBE-SVC-SHOPWEBAAAAAAAAA -m comment --comment "shop/web:http -> ${n}:8080" -j KUBE-SEP-SHOPWEBBBBBBBBBB`,
    ],
  );
  const filter = table(
    'filter',
    [],
    [
      '-A INPUT -m addrtype --src-type LOCAL -m comment --comment "lab: from this host" -j ACCEPT',
      '-A INPUT -m addrtype ! --dst-type LOCAL -m comment --comment "lab: not addressed to this host" -j DROP',
      '-A INPUT -p tcp -m tcp --dport 30091 -m addrtype --src-type UNICAST -m comment --comment "lab: closed to other hosts" -j REJECT --reject-with icmp-port-unreachable',
    ],
  );
  return { v4: raw + nat + filter, v6: '' };
}

const addrtype: Scenario = {
  name: 'addrtype',
  title: 'addrtype LOCAL / ! LOCAL / UNICAST decided with the host facts (ip -j addr, ip -j link)',
  rules: addrtypeRules,
  nodeExtraAddresses: [`${EXTRA_NODE_ADDRESS}/32`],
  services: [{ ns: 'node', kind: 'http', port: 8080 }],
  probes: [],
};

/** Probes depend on the addresses, so they are filled in here. */
export function scenarios(a: LabAddresses): Scenario[] {
  const n4 = a.node.v4;
  return [
    { ...incident, probes: incidentProbes(a, 4) },
    {
      ...modern,
      probes: [
        {
          id: 'no-endpoints-30080',
          from: 'client',
          to: 'node',
          family: 4,
          proto: 'tcp',
          dport: 30080,
          expect: 'refused',
          why: 'NodePort of a service with no endpoints: kube-proxy REJECTs in filter KUBE-EXTERNAL-SERVICES',
          explain: {
            verdict: 'REJECT',
            decidedBy: {
              table: 'filter',
              chain: 'KUBE-EXTERNAL-SERVICES',
              rulenum: 1,
              ruleIncludes: 'has no endpoints',
            },
            service: 'demo/no-endpoints',
            markSetBy: [],
            absentFlags: ['kube_mark_drop'],
          },
        },
        {
          id: 'no-local-endpoints-30081',
          from: 'client',
          to: 'node',
          family: 4,
          proto: 'tcp',
          dport: 30081,
          expect: 'timeout',
          why: 'externalTrafficPolicy=Local without a local endpoint: kube-proxy DROPs in filter KUBE-EXTERNAL-SERVICES',
          explain: {
            verdict: 'DROP',
            decidedBy: {
              table: 'filter',
              chain: 'KUBE-EXTERNAL-SERVICES',
              rulenum: 2,
              ruleIncludes: 'has no local endpoints',
            },
            service: 'demo/local-only',
            markSetBy: [],
            absentFlags: ['kube_mark_drop'],
          },
        },
        {
          id: 'nodeport-30082',
          from: 'client',
          to: 'node',
          family: 4,
          proto: 'tcp',
          dport: 30082,
          http: true,
          expect: 'answer',
          why: 'a NodePort with an endpoint on this node: KUBE-SEP DNATs to it, KUBE-MARK-MASQ marks for SNAT',
          explain: {
            verdict: 'ACCEPT',
            nat: [{ kind: 'DNAT', to: `${n4}:8080`, byTable: 'nat', byChain: 'KUBE-SEP-WEBHTTPBBBBBBBBB' }],
            service: 'demo/web',
          },
        },
      ],
    },
    {
      ...explicitDrop,
      probes: [
        {
          id: 'allowed-8080',
          from: 'client',
          to: 'node',
          family: 4,
          proto: 'tcp',
          dport: 8080,
          http: true,
          expect: 'answer',
          why: 'an explicit ACCEPT rule',
          explain: {
            verdict: 'ACCEPT',
            decidedBy: { table: 'filter', chain: 'INPUT', rulenum: 3, ruleIncludes: '--dport 8080' },
          },
        },
        {
          id: 'explicit-drop-9090',
          from: 'client',
          to: 'node',
          family: 4,
          proto: 'tcp',
          dport: 9090,
          expect: 'timeout',
          why: 'an explicit unconditional -j DROP at the end of INPUT (policy ACCEPT); the kernel prints filter:INPUT:policy:5',
          explain: {
            verdict: 'DROP',
            decidedBy: {
              table: 'filter',
              chain: 'INPUT',
              rulenum: 5,
              notPolicy: true,
              ruleIncludes: '-j DROP',
            },
          },
        },
        {
          id: 'user-chain-drop-9091',
          from: 'client',
          to: 'node',
          family: 4,
          proto: 'tcp',
          dport: 9091,
          expect: 'timeout',
          why: 'an unconditional -j DROP at the end of a user chain; the kernel prints filter:LAB-APP:return:2',
          explain: {
            verdict: 'DROP',
            decidedBy: {
              table: 'filter',
              chain: 'LAB-APP',
              rulenum: 2,
              notPolicy: true,
              ruleIncludes: '-j DROP',
            },
          },
        },
      ],
    },
    {
      ...ipv6,
      probes: [
        ...incidentProbes(a, 6),
        {
          id: 'icmpv6-echo',
          from: 'client',
          to: 'node',
          family: 6,
          proto: 'icmp',
          expect: 'answer',
          why: 'ICMPv6 echo, accepted by the INPUT policy',
          explain: {
            verdict: 'ACCEPT',
            decidedBy: { table: 'filter', chain: 'INPUT', policy: true },
            nat: [],
          },
        },
      ],
    },
    {
      ...udpIcmp,
      probes: [
        {
          id: 'udp-dnat-53',
          from: 'client',
          to: 'node',
          family: 4,
          proto: 'udp',
          dport: 53,
          expect: 'answer',
          why: 'UDP 53 DNATed to the resolver on 5353 and accepted',
          explain: {
            verdict: 'ACCEPT',
            nat: [{ kind: 'DNAT', to: `${n4}:5353`, byTable: 'nat', byChain: 'PREROUTING' }],
            decidedBy: { table: 'filter', chain: 'INPUT', rulenum: 4, ruleIncludes: '--dport 5353' },
          },
        },
        {
          id: 'udp-reject-5354',
          from: 'client',
          to: 'node',
          family: 4,
          proto: 'udp',
          dport: 5354,
          expect: 'refused',
          why: 'UDP 5354 REJECTed with icmp-port-unreachable',
          explain: {
            verdict: 'REJECT',
            decidedBy: { table: 'filter', chain: 'INPUT', rulenum: 3, ruleIncludes: '--dport 5354' },
          },
        },
        {
          id: 'icmp-echo-drop',
          from: 'client',
          to: 'node',
          family: 4,
          proto: 'icmp',
          expect: 'timeout',
          why: 'ICMP echo-request DROPped by an explicit rule',
          explain: {
            verdict: 'DROP',
            decidedBy: { table: 'filter', chain: 'INPUT', rulenum: 2, ruleIncludes: '--icmp-type 8' },
          },
        },
      ],
    },
    {
      ...snat,
      probes: [
        {
          id: 'pod-egress-tcp-masquerade',
          from: 'pod',
          to: 'client',
          family: 4,
          proto: 'tcp',
          dport: 8080,
          http: true,
          expect: 'answer',
          why: 'pod → client TCP, forwarded and MASQUERADEd by calico nat-outgoing',
          explain: {
            verdict: 'ACCEPT',
            nat: [{ kind: 'MASQUERADE', byTable: 'nat', byChain: 'cali-nat-outgoing' }],
          },
        },
        {
          id: 'pod-egress-udp-snat',
          from: 'pod',
          to: 'client',
          family: 4,
          proto: 'udp',
          dport: 5353,
          expect: 'answer',
          why: 'pod → client UDP 5353, forwarded and SNATed to the node address by an explicit rule',
          explain: {
            verdict: 'ACCEPT',
            nat: [{ kind: 'SNAT', to: n4, byTable: 'nat', byChain: 'POSTROUTING' }],
          },
        },
      ],
    },
    {
      ...drift,
      probes: [
        {
          ...(incidentProbes(a, 4)[0] as Probe),
          id: 'nodeport-52000-before-fix',
          explain: { ...incidentDrop, absentFlags: ['snapshot_mismatch'] },
          explainWithAllSnapshots: { ...incidentDrop, absentFlags: ['snapshot_mismatch'] },
        },
        {
          id: 'nodeport-52000-after-fix',
          from: 'client',
          to: 'node',
          family: 4,
          proto: 'tcp',
          dport: 52000,
          http: true,
          expect: 'answer',
          why: 'after the NodePort rule is deleted the host service answers; the stale snapshot cannot explain this packet',
          explain: {
            verdict: ['ACCEPT', 'UNKNOWN'],
            flags: ['snapshot_mismatch'],
            // xtables-monitor names rules by text, not number: deleting the NodePort rule shifts no rule numbers in
            // what it prints, so every step of this packet still exists in the stale snapshot and its (correct)
            // ACCEPT cannot be told apart from a fitting snapshot. Kernel log, NFLOG and ulogd see the shift.
            flagsNotOn: ['xtables-monitor'],
            notDecidedByChain: 'KUBE-FIREWALL',
            notMarkSetByChain: 'KUBE-MARK-DROP',
          },
          explainWithAllSnapshots: {
            verdict: 'ACCEPT',
            absentFlags: ['snapshot_mismatch', 'kube_mark_drop'],
            notDecidedByChain: 'KUBE-FIREWALL',
            notMarkSetByChain: 'KUBE-MARK-DROP',
            markSetBy: [],
          },
        },
      ],
    },
    {
      ...ruleInserted,
      probes: [
        {
          id: 'udp-31053-before-insert',
          from: 'client',
          to: 'node',
          family: 4,
          proto: 'udp',
          dport: 31053,
          expect: 'refused',
          why: 'before the insertion: rule 2 of KUBE-EXTERNAL-SERVICES rejects the UDP NodePort without endpoints',
          explain: {
            verdict: 'REJECT',
            decidedBy: {
              table: 'filter',
              chain: 'KUBE-EXTERNAL-SERVICES',
              rulenum: 2,
              ruleIncludes: '--dport 31053',
            },
            service: 'shop/dns',
            absentFlags: ['snapshot_mismatch'],
          },
          // No rule number: xtables-monitor packets carry no time, so the newest snapshot that fits is joined
          // (snapshot_by_fit), where the inserted rule shifts the number; the rule text and service say which.
          explainWithAllSnapshots: {
            verdict: 'REJECT',
            decidedBy: {
              table: 'filter',
              chain: 'KUBE-EXTERNAL-SERVICES',
              ruleIncludes: '--dport 31053',
            },
            service: 'shop/dns',
            absentFlags: ['snapshot_mismatch'],
          },
        },
        {
          id: 'tcp-31080-after-insert',
          from: 'client',
          to: 'node',
          family: 4,
          proto: 'tcp',
          dport: 31080,
          expect: 'refused',
          why: 'after a rule was inserted at the top, the kernel logs rule:2 for the 31080 REJECT; rule 2 of the snapshot in force is the UDP 31053 REJECT',
          // Never the confident wrong answer ("REJECT by rule 2 'shop/dns:dns-udp has no endpoints'"): the step
          // contradicts its rule (-p udp, --dport 31053 vs a TCP packet to 31080), so UNKNOWN, flagged, and the
          // cause names the contradiction and the probable real rule (the snapshot's rule 1).
          explain: {
            verdict: 'UNKNOWN',
            flags: ['snapshot_mismatch'],
            notService: 'shop/dns',
            causeMatches: [/\brule 2\b/, /\budp\b/i, /\btcp\b/i, /\brule 1\b/],
          },
          // xtables-monitor names the rule by its text, which the stale snapshot does hold (as rule 1): the right
          // rule, whatever the numbering.
          explainOn: {
            'xtables-monitor': {
              verdict: 'REJECT',
              decidedBy: { table: 'filter', chain: 'KUBE-EXTERNAL-SERVICES', ruleIncludes: '--dport 31080' },
              service: 'shop/web',
              notService: 'shop/dns',
            },
          },
          explainWithAllSnapshots: {
            verdict: 'REJECT',
            decidedBy: {
              table: 'filter',
              chain: 'KUBE-EXTERNAL-SERVICES',
              ruleIncludes: '--dport 31080',
            },
            service: 'shop/web',
            notService: 'shop/dns',
            absentFlags: ['snapshot_mismatch'],
          },
        },
      ],
    },
    {
      ...established,
      probes: [
        {
          id: 'client-to-node-8080',
          from: 'client',
          to: 'node',
          family: 4,
          proto: 'tcp',
          dport: 8080,
          http: true,
          expect: 'answer',
          why: "a whole connection to the node's web server: requests end in filter INPUT, replies in filter OUTPUT (nat sees only the SYN)",
          explain: { verdict: 'ACCEPT', absentFlags: ['silent_drop', 'snapshot_mismatch'] },
          connection: {
            minPackets: 8,
            first: {
              decidedBy: { table: 'filter', chain: 'INPUT', rulenum: 3, ruleIncludes: '--dport 8080' },
            },
            original: { decidedBy: { table: 'filter', chain: 'INPUT' } },
            reply: { decidedBy: { table: 'filter', chain: 'OUTPUT', policy: true } },
          },
        },
        {
          id: 'node-to-client-8081',
          from: 'node',
          to: 'client',
          family: 4,
          proto: 'tcp',
          dport: 8081,
          http: true,
          expect: 'answer',
          why: "the node's own outgoing connection: after the SYN its packets go raw:OUTPUT:policy → filter:OUTPUT:policy, nothing later; replies are accepted as ESTABLISHED",
          explain: { verdict: 'ACCEPT', absentFlags: ['silent_drop', 'snapshot_mismatch'] },
          connection: {
            minPackets: 8,
            original: { decidedBy: { table: 'filter', chain: 'OUTPUT', policy: true } },
            reply: {
              decidedBy: { table: 'filter', chain: 'INPUT', rulenum: 1, ruleIncludes: 'RELATED,ESTABLISHED' },
            },
          },
        },
      ],
    },
    {
      ...nftKubeProxy,
      probes: [
        {
          id: 'nodeport-30080-to-pod',
          from: 'client',
          to: 'node',
          family: 4,
          proto: 'tcp',
          dport: 30080,
          http: true,
          expect: 'answer',
          why: 'NodePort 30080 DNATed to the pod, forwarded (host-firewall forward "to pods"), masqueraded; replies forwarded back ("from pods")',
          explain: {
            verdict: 'ACCEPT',
            absentFlags: ['silent_drop', 'snapshot_mismatch'],
            causeMatches: [/forward/i],
          },
          connection: {
            minPackets: 8,
            replyFrom: { addr: a.pod.v4, port: 8080 },
            first: {
              nat: [
                {
                  kind: 'DNAT',
                  to: `${a.pod.v4}:8080`,
                  byTable: 'kube-proxy',
                  byChain: `endpoint-K2VN6R3D-shop/web/tcp/http__${a.pod.v4}/8080`,
                },
                { kind: 'MASQUERADE', byTable: 'kube-proxy', byChain: 'masquerading' },
              ],
              causeMatches: [/DNAT/i, /masquerad/i],
            },
            original: {
              decidedBy: { table: 'host-firewall', chain: 'forward', ruleIncludes: '"to pods"' },
            },
            reply: {
              decidedBy: { table: 'host-firewall', chain: 'forward', ruleIncludes: '"from pods"' },
            },
          },
        },
        {
          id: 'local-server-9080',
          from: 'client',
          to: 'node',
          family: 4,
          proto: 'tcp',
          dport: 9080,
          http: true,
          expect: 'answer',
          why: 'a server on the node: requests accepted by host-firewall input; its replies traverse only the output hook (kube-proxy filter-output)',
          explain: { verdict: 'ACCEPT', absentFlags: ['silent_drop', 'snapshot_mismatch'] },
          connection: {
            minPackets: 8,
            original: { decidedBy: { table: 'host-firewall', chain: 'input' } },
          },
        },
        {
          id: 'nodeport-30091-no-endpoints-reject',
          from: 'client',
          to: 'node',
          family: 4,
          proto: 'tcp',
          dport: 30091,
          expect: 'refused',
          why: 'a NodePort without endpoints: @no-endpoint-nodeports says goto reject-chain',
          explain: { verdict: 'REJECT', service: 'shop/api:http', flags: ['kube_no_endpoints'] },
        },
        {
          id: 'nodeport-30092-no-endpoints-drop',
          from: 'client',
          to: 'node',
          family: 4,
          proto: 'tcp',
          dport: 30092,
          expect: 'timeout',
          why: 'a NodePort without endpoints: @no-endpoint-nodeports says drop',
          explain: {
            verdict: 'DROP',
            decidedBy: {
              table: 'kube-proxy',
              chain: 'endpoints-check',
              ruleIncludes: '@no-endpoint-nodeports',
            },
            service: 'shop/batch:http',
            flags: ['kube_no_endpoints'],
          },
        },
      ],
    },
    {
      ...addrtype,
      probes: [
        {
          id: 'nodeport-30090-eth0',
          from: 'client',
          to: 'node',
          family: 4,
          proto: 'tcp',
          dport: 30090,
          http: true,
          expect: 'answer',
          why: 'the node address is LOCAL: KUBE-SERVICES jumps to KUBE-NODEPORTS, DNAT to the local endpoint',
          explain: {
            verdict: 'ACCEPT',
            nat: [{ kind: 'DNAT', to: `${n4}:8080`, byTable: 'nat', byChain: 'KUBE-SEP-SHOPWEBBBBBBBBBB' }],
            service: 'shop/web',
            absentFlags: ['snapshot_mismatch'],
            skipped: [
              { table: 'nat', chain: 'KUBE-SERVICES', rulenum: 1, decided: true },
              { table: 'filter', chain: 'INPUT', rulenum: 1, decided: true },
              { table: 'filter', chain: 'INPUT', rulenum: 2, decided: true },
            ],
          },
        },
        {
          id: 'nodeport-30090-lo-address',
          from: 'client',
          to: 'node',
          dstAddr: EXTRA_NODE_ADDRESS,
          family: 4,
          proto: 'tcp',
          dport: 30090,
          http: true,
          expect: 'answer',
          why: `${EXTRA_NODE_ADDRESS} sits on the node's lo: LOCAL too (only the host facts say so), same NodePort path`,
          explain: {
            verdict: 'ACCEPT',
            nat: [{ kind: 'DNAT', to: `${n4}:8080`, byTable: 'nat', byChain: 'KUBE-SEP-SHOPWEBBBBBBBBBB' }],
            service: 'shop/web',
            absentFlags: ['snapshot_mismatch'],
            skipped: [{ table: 'filter', chain: 'INPUT', rulenum: 1, decided: true }],
          },
        },
        {
          id: 'closed-30091',
          from: 'client',
          to: 'node',
          family: 4,
          proto: 'tcp',
          dport: 30091,
          expect: 'refused',
          why: 'the client is UNICAST, not LOCAL: INPUT rules 1 and 2 do not match (decidable with host facts), rule 3 REJECTs',
          explain: {
            verdict: 'REJECT',
            decidedBy: { table: 'filter', chain: 'INPUT', rulenum: 3, ruleIncludes: '--src-type UNICAST' },
            absentFlags: ['snapshot_mismatch'],
            skipped: [
              { table: 'filter', chain: 'INPUT', rulenum: 1, decided: true },
              { table: 'filter', chain: 'INPUT', rulenum: 2, decided: true },
            ],
          },
        },
      ],
    },
  ];
}

export const SCENARIO_NAMES = [
  'incident',
  'modern-kube-proxy',
  'explicit-drop',
  'ipv6',
  'udp-icmp',
  'snat-masquerade',
  'drift',
  'rule-inserted',
  'established-no-mangle',
  'nft-kube-proxy-nodeport',
  'addrtype',
];
