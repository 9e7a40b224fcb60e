/**
 * Integration-test plumbing: the services started by `services/start.sh` write their addresses (and generated
 * test credentials) to services/.env.ports. Tests run only with RUN_SERVICE_TESTS=1 and skip otherwise.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sinkRecordId, type SinkRecord } from '@ruletrail/core';

export const REPO_ROOT = join(__dirname, '../..');
const PORTS_FILE = process.env.RULETRAIL_PORTS_FILE ?? join(REPO_ROOT, 'services/.env.ports');

/** The ports file as a map, or undefined when service tests are off or the named keys are missing. */
export function serviceEnv(keys: readonly string[]): Record<string, string> | { skip: string } {
  if (process.env.RUN_SERVICE_TESTS !== '1')
    return { skip: 'RUN_SERVICE_TESTS=1 is not set (start the services with `npm run services:start`)' };
  if (!existsSync(PORTS_FILE)) return { skip: `${PORTS_FILE} is missing: run services/start.sh first` };
  const env: Record<string, string> = {};
  for (const line of readFileSync(PORTS_FILE, 'utf8').split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  const missing = keys.filter((k) => !env[k]);
  if (missing.length > 0) return { skip: `${missing.join(', ')} not in ${PORTS_FILE}: start the service` };
  return env;
}

/** Skips the suite (from a `before` hook) with a visible reason. */
export function requireServices(ctx: Mocha.Context, keys: readonly string[]): Record<string, string> {
  const env = serviceEnv(keys);
  if ('skip' in env) {
    console.log(`      skipped: ${env.skip}`);
    ctx.skip();
  }
  return env;
}

/** Runs services/start.sh with the given arguments (e.g. `kafka-restart`); throws on failure. */
export function servicesScript(script: 'start.sh' | 'stop.sh', ...args: string[]): void {
  const r = spawnSync('bash', [join(REPO_ROOT, 'services', script), ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (r.status !== 0) throw new Error(`services/${script} ${args.join(' ')} failed: ${r.stderr}`);
}

/** An explained packet shaped like `ruletrail explain --format json` output, varied by `i`. */
export function explainedPacket(i: number, host = 'node-1'): Record<string, unknown> {
  const ts = new Date(Date.UTC(2026, 0, 1, 0, 0, 0) + i * 7).toISOString();
  const drop = i % 3 === 0;
  return {
    '@timestamp': ts,
    host: { name: host },
    packet: {
      host,
      family: 'ipv4',
      proto: i % 5 === 0 ? 'udp' : 'tcp',
      src: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      dst: '172.28.129.4',
      sport: 1024 + (i % 60000),
      dport: drop ? 52000 : 443,
      ipId: i % 65536,
      len: 60,
      tcpFlags: ['SYN'],
      in: 'eth0',
      firstSeen: ts,
      channel: 'kernel-log',
    },
    verdict: drop ? 'DROP' : 'ACCEPT',
    decidedBy: drop
      ? {
          table: 'filter',
          chain: 'KUBE-FIREWALL',
          kind: 'rule',
          rulenum: 1,
          target: 'DROP',
          rule: '-A KUBE-FIREWALL -m mark --mark 0x8000/0x8000 -j DROP',
          path: [{ table: 'filter', chain: 'INPUT', rulenum: 1 }],
        }
      : { table: 'filter', chain: 'INPUT', kind: 'policy', target: 'ACCEPT', path: [] },
    markSetBy: drop
      ? [
          {
            table: 'nat',
            chain: 'KUBE-MARK-DROP',
            rulenum: 1,
            mark: '0x8000/0x8000',
            rule: '-A KUBE-MARK-DROP -j MARK --set-xmark 0x8000/0x8000',
            path: [],
          },
        ]
      : [],
    nat: [],
    kubernetes: drop
      ? {
          service: 'ootob9/ingress-nginx:http',
          namespace: 'ootob9',
          name: 'ingress-nginx',
          port: 'http',
          reason: 'has no local endpoints',
        }
      : {},
    flags: drop ? ['kube_mark_drop', 'kube_no_endpoints'] : [],
    cause: drop
      ? `dropped by filter KUBE-FIREWALL rule 1 (mark 0x8000/0x8000) #${i}`
      : `accepted by filter INPUT policy #${i}`,
    snapshot: {
      source: 'iptables-save-0101.txt',
      hash: 'e56e7e4231e9afc1582ec90b423278b128262446c890d2ee4e9c839ec2937c81',
      family: 'ipv4',
    },
    steps: [
      { table: 'raw', chain: 'PREROUTING', kind: 'policy', rulenum: 3, effect: 'accept', time: ts },
      {
        table: 'filter',
        chain: 'INPUT',
        kind: 'rule',
        rulenum: 1,
        effect: 'jump',
        target: 'KUBE-FIREWALL',
        time: ts,
      },
    ],
  };
}

/** An alert record shaped like the pipeline's (`AlertRecord`: alert + the explanation without steps), varied by `i`. */
export function alertBody(i: number): Record<string, unknown> {
  const t = new Date(Date.UTC(2026, 0, 1) + i).toISOString();
  const packet = explainedPacket(i * 3); // a dropped one
  return {
    '@timestamp': t,
    host: { name: 'node-1' },
    alert: {
      rule: 'kube_no_endpoints',
      severity: 'warning',
      host: 'node-1',
      service: 'ootob9/ingress-nginx:http',
      summary: `alert ${i}: kube-proxy has no endpoints for ootob9/ingress-nginx:http`,
      count: 1,
      repeat: false,
      window: { start: t, end: new Date(Date.UTC(2026, 0, 1) + i + 300_000).toISOString() },
    },
    explanation: Object.fromEntries(
      Object.entries(packet).filter(([k]) => k !== 'steps' && k !== '@timestamp' && k !== 'host'),
    ),
  };
}

/** `alertBody(i)` as a sink record with a deterministic id (the sinks' alert round trips). */
export function alertRecord(i: number, key = `a${i}`): SinkRecord {
  return { id: sinkRecordId('alert', i), key, kind: 'alert', body: alertBody(i) };
}

/** Captures log lines (as JSON text) for secret-leak assertions. */
export function captureLogger(lines: string[]) {
  const push = (level: string) => (m: string, f?: Record<string, unknown>) =>
    lines.push(`${level} ${m} ${JSON.stringify(f ?? {})}`);
  return { debug: push('debug'), info: push('info'), warn: push('warn'), error: push('error') };
}
