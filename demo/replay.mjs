#!/usr/bin/env node
// The demo stack's trace generator: replays real kernel TRACE captures from the lab (test/fixtures/lab, taken by
// `npm run lab` on a real kernel) into a kernel log, as if each scenario's node were tracing right now.
//
//   node demo/replay.mjs --out FILE [--interval SECONDS] [--once] [--scenarios incident,ipv6,…]
//
// Every cycle appends each scenario's capture with its timestamps shifted to now (the gaps between lines are kept,
// to the microsecond) and its hostname replaced by `demo-<scenario>`, so the pipeline joins those packets with the
// snapshot demo/pipeline.yaml gives that host. New lines get new record ids (origin line, first-seen time), so
// every cycle shows up as new documents in Kibana ("today's hits").
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const LAB = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../test/fixtures/lab');
/** Scenarios replayed by default: every lab scenario whose kernel-log capture has a snapshot for its host. */
export const DEFAULT_SCENARIOS = [
  'incident',
  'modern-kube-proxy',
  'explicit-drop',
  'snat-masquerade',
  'udp-icmp',
  'ipv6',
  'drift',
];

// rsyslog's RFC 3339 high-precision timestamp and the hostname that follows it.
const LINE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d) (\S+) (.*)$/;

/** Microseconds since the epoch of an RFC 3339 timestamp, keeping the fraction's microseconds. */
function micros(seconds, fraction, zone) {
  const ms = Date.parse(`${seconds}${zone === 'Z' ? 'Z' : zone}`);
  return ms * 1000 + Number((fraction ?? '').padEnd(6, '0').slice(0, 6));
}

function rfc3339(us) {
  const whole = new Date(Math.floor(us / 1e6) * 1000).toISOString().slice(0, 19);
  return `${whole}.${String(us % 1e6).padStart(6, '0')}+00:00`;
}

/**
 * One scenario's capture, shifted so its earliest line is at `nowUs`, for host `demo-<scenario>`. Lines that are
 * not rsyslog RFC 3339 lines are dropped (the lab captures are all of that form).
 */
export function replayScenario(scenario, nowUs) {
  const text = fs.readFileSync(path.join(LAB, scenario, 'kernel-log', 'kern.log'), 'utf8');
  const lines = [];
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (m) lines.push({ t: micros(m[1], m[2], m[3]), rest: m[5] });
  }
  // The earliest line lands at `nowUs` (rsyslog may write a line out of time order; none may land before now).
  const first = Math.min(...lines.map((l) => l.t));
  return lines.map((l) => `${rfc3339(nowUs + (l.t - first))} demo-${scenario} ${l.rest}`);
}

function args(argv) {
  const o = { out: undefined, intervalS: 60, once: false, scenarios: DEFAULT_SCENARIOS };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--out') o.out = argv[++i];
    else if (a === '--interval') o.intervalS = Number(argv[++i]);
    else if (a === '--once') o.once = true;
    else if (a === '--scenarios') o.scenarios = argv[++i].split(',').filter(Boolean);
    else throw new Error(`replay: unknown argument '${a}'`);
  }
  if (!o.out) throw new Error('replay: --out FILE is required');
  if (!(o.intervalS > 0)) throw new Error('replay: --interval must be a positive number of seconds');
  for (const s of o.scenarios)
    if (!fs.existsSync(path.join(LAB, s, 'kernel-log', 'kern.log')))
      throw new Error(`replay: no lab capture for scenario '${s}' under ${LAB}`);
  return o;
}

function cycle(o) {
  const nowUs = Date.now() * 1000;
  // Scenarios one second apart: each host's packets are independent anyway, this only keeps the log readable.
  const lines = o.scenarios.flatMap((s, i) => replayScenario(s, nowUs + i * 1e6));
  fs.appendFileSync(o.out, lines.join('\n') + '\n');
  process.stdout.write(
    `replay: appended ${lines.length} lines (${o.scenarios.length} scenarios) to ${o.out}\n`,
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const o = args(process.argv);
  fs.mkdirSync(path.dirname(path.resolve(o.out)), { recursive: true });
  cycle(o);
  if (!o.once) {
    const timer = setInterval(() => cycle(o), o.intervalS * 1000);
    for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => (clearInterval(timer), process.exit(0)));
  }
}
