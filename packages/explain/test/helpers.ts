/** Test helpers: run real kernel-log lines and real save files through the adapter, correlator and walk. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { kernelLogAdapter } from '@ruletrail/ingest-kernel-log';
import { parseIptablesSave, type Ruleset } from '@ruletrail/ruleset';
import type { NetfilterEvent } from '@ruletrail/event';
import { Correlator, SnapshotSet, explainPacket, type Explanation, type CorrelatorOptions } from '../src';

export const FIXTURES = join(__dirname, 'fixtures');
export const EXAMPLE = join(__dirname, '../../../examples/incident');

/** A snapshot from a fixture file (or an absolute path). */
export function ruleset(file: string, family?: 'ipv4' | 'ipv6'): Ruleset {
  const path = file.startsWith('/') ? file : join(FIXTURES, file);
  return parseIptablesSave(readFileSync(path, 'utf8'), { source: file, ...(family ? { family } : {}) });
}

/** Decodes kernel-log text with the real adapter; fails the test on any unreadable line. */
export async function decode(text: string, year = 2026): Promise<NetfilterEvent[]> {
  const events: NetfilterEvent[] = [];
  for await (const b of kernelLogAdapter.decode(Readable.from([Buffer.from(text)]), {
    file: 'test.log',
    year,
  })) {
    if (b.errors.length)
      throw new Error(`unexpected input errors: ${b.errors.map((e) => e.message).join('; ')}`);
    events.push(...b.events);
  }
  return events;
}

/** Explains kernel-log text against snapshots. */
export async function explain(
  text: string,
  rulesets: Ruleset[],
  options: CorrelatorOptions & { year?: number } = {},
): Promise<Explanation[]> {
  const out: Explanation[] = [];
  const c = new Correlator(
    new SnapshotSet(rulesets),
    (p) => out.push(explainPacket(p.events, p.pick, p.flags)),
    options,
  );
  for (const e of await decode(text, options.year)) c.push(e);
  c.flush();
  return out;
}

/** Fields of one synthetic-but-kernel-formatted TCP TRACE line. */
export interface TcpLine {
  step: string;
  time?: string;
  in?: string;
  out?: string;
  src: string;
  dst: string;
  spt: number;
  dpt: number;
  id: number;
  seq: number;
  opt?: string;
  mark?: string;
  flags?: string;
}

/** A TRACE line exactly as nf_log_syslog prints it for a TCP SYN, in rsyslog's high-precision framing. */
export function tcpLine(l: TcpLine): string {
  const mac = l.in ? 'MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 ' : '';
  return (
    `${l.time ?? '2026-11-26T10:05:00.000001+00:00'} node1 kernel: TRACE: ${l.step} IN=${l.in ?? ''} OUT=${l.out ?? ''} ${mac}` +
    `SRC=${l.src} DST=${l.dst} LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=${l.id} DF PROTO=TCP SPT=${l.spt} DPT=${l.dpt} ` +
    `SEQ=${l.seq} ACK=0 WINDOW=64240 RES=0x00 ${l.flags ?? 'SYN'} URGP=0 OPT (${l.opt ?? '020405B40402080A0001E24000000000'})` +
    `${l.mark ? ` MARK=${l.mark}` : ''}${l.in ? '' : ' UID=0 GID=0'}`
  );
}

/** Several steps of one packet: the same fields, one line per step. */
export function packet(base: Omit<TcpLine, 'step'>, steps: (string | Partial<TcpLine>)[]): string[] {
  return steps.map((s) => tcpLine({ ...base, ...(typeof s === 'string' ? { step: s } : (s as TcpLine)) }));
}
