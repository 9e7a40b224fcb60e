/**
 * The chaos harness's and the soak's traffic: real TRACE packets from the lab's kernel-log captures
 * (test/fixtures/lab/<scenario>/kernel-log), replayed as many distinct packets with deterministic identities.
 *
 * Packet `n` is a copy of template `n % T` (the captures' IPv4 TCP packets) whose IP ID is `n % 65536`, whose
 * TCP SEQ is `SEQ_BASE + n` (the ledger key: every explanation carries `packet.tcpSeq`), whose host is the
 * capture's scenario (`lab-<scenario>`, so each is joined with its own capture's iptables-save) and whose lines
 * are stamped `time(n)` plus one microsecond per line. The same `n` always gives the same lines, so a restart that
 * reads a line again produces the same record id.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const REPO_ROOT = join(__dirname, '../..');
const LAB = join(REPO_ROOT, 'test/fixtures/lab');

/** The lab captures used: IPv4, iptables-save snapshots, TCP packets (the ledger keys on the TCP SEQ). */
export const LAB_SCENARIOS = [
  'incident',
  'modern-kube-proxy',
  'addrtype',
  'explicit-drop',
  'snat-masquerade',
] as const;

/** Packet n's TCP SEQ is SEQ_BASE + n (below 2^32 for any n the harness uses). */
export const SEQ_BASE = 1_000_000_000;

interface Template {
  readonly host: string;
  /** The packet's lines with the timestamp and host cut off: `kernel: TRACE: …`. */
  readonly bodies: readonly string[];
  readonly id: string;
  readonly seq: string;
}

/** One snapshot file per lab host, as `snapshots.files` of a pipeline config wants it. */
export interface SnapshotFile {
  readonly path: string;
  readonly host: string;
}

let cache: { templates: Template[]; snapshots: SnapshotFile[] } | undefined;

function load(): { templates: Template[]; snapshots: SnapshotFile[] } {
  if (cache) return cache;
  const templates: Template[] = [];
  const snapshots: SnapshotFile[] = [];
  for (const scenario of LAB_SCENARIOS) {
    const dir = join(LAB, scenario, 'kernel-log');
    const host = `lab-${scenario}`;
    snapshots.push({ path: join(dir, 'iptables-save.txt'), host });
    // `<time> <host> kernel: TRACE: … ID=… PROTO=TCP … SEQ=…`; a packet's lines are consecutive in the
    // captures (the lab sends one probe at a time), so a run of lines with one (ID, SEQ) is one packet.
    let current: { key: string; bodies: string[]; id: string; seq: string } | undefined;
    for (const line of readFileSync(join(dir, 'kern.log'), 'utf8').split('\n')) {
      const m = / ID=(\d+) .*PROTO=TCP .*SEQ=(\d+) /.exec(line);
      if (!m) {
        current = undefined;
        continue;
      }
      const key = `${m[1]}/${m[2]}`;
      const body = line.slice(line.indexOf(' kernel: ') + 1);
      if (current?.key !== key) {
        current = { key, bodies: [], id: m[1]!, seq: m[2]! };
        templates.push({ host, bodies: current.bodies, id: current.id, seq: current.seq });
      }
      current.bodies.push(body);
    }
  }
  cache = { templates, snapshots };
  return cache;
}

/** The snapshots the replayed packets are joined with. */
export function labSnapshots(): SnapshotFile[] {
  return load().snapshots;
}

/** How many distinct templates there are (packets n and n + T share a template). */
export function templateCount(): number {
  return load().templates.length;
}

/** RFC 3339 with microseconds, as rsyslog's high-precision format writes it. */
function stamp(ms: number, micro: number): string {
  const iso = new Date(ms).toISOString(); // 2026-12-04T13:00:00.123Z
  return `${iso.slice(0, 23)}${String(micro).padStart(3, '0')}+00:00`;
}

/**
 * The lines of packet `n`, stamped `timeMs` (default: a fixed base plus 2 ms per packet, so the whole set is
 * deterministic and after every lab snapshot).
 */
export function packetLines(n: number, timeMs = CHAOS_BASE_MS + n * 2): string[] {
  const { templates } = load();
  const t = templates[n % templates.length]!;
  return t.bodies.map((b, i) =>
    `${stamp(timeMs, i)} ${t.host} ${b}`
      .replace(` ID=${t.id} `, ` ID=${n % 65536} `)
      .replace(` SEQ=${t.seq} `, ` SEQ=${SEQ_BASE + n} `),
  );
}

/** Packets [from, to) as one text block (each line newline-terminated). */
export function packetsText(from: number, to: number, timeMs?: (n: number) => number): string {
  let s = '';
  for (let n = from; n < to; n++) s += packetLines(n, timeMs?.(n)).join('\n') + '\n';
  return s;
}

/** 2026-12-04T13:00:00Z: after the newest lab snapshot (12:45:45 that day). */
export const CHAOS_BASE_MS = Date.UTC(2026, 11, 4, 13, 0, 0);

/** The packet number an explanation stands for, from its TCP SEQ (undefined for anything else). */
export function packetNumber(record: { packet?: { tcpSeq?: unknown } }): number | undefined {
  const seq = record.packet?.tcpSeq;
  return typeof seq === 'number' && seq >= SEQ_BASE ? seq - SEQ_BASE : undefined;
}
