/**
 * The records `ruletrail run` (and `ruletrail trace --sink`) hands its sinks, built in one place so their id and
 * key mean the same everywhere (docs/sinks.md states them):
 *  - an explained packet: `kind: packet`, key = the host (one host's records stay in order on one Kafka
 *    partition), id = hash of host, the input position of the packet's first line (file, line, byte offset)
 *    and its first-seen time — so reading the same input again (a replay after a restart) gives the same id
 *    and an idempotent sink (ES `create` with `_id`) turns the redelivery into a no-op;
 *  - an alert: `kind: alert`, key = the alert's host, id = hash of its packet's id and the rule (a repeat
 *    summary: host, service, rule and window start).
 */
import { sinkRecordId, type SinkRecord } from '@ruletrail/core';
import type { Explanation } from '@ruletrail/explain';
import type { AlertRecord } from './alerts';

/** Where a packet's first line was read. */
export interface RecordOrigin {
  readonly file: string;
  readonly line?: number;
  readonly offset?: number;
}

/** The sink record of an explained packet whose first line was read at `origin`. */
export function packetRecord(x: Explanation, origin: RecordOrigin | undefined): SinkRecord {
  const host = x.packet.host ?? '';
  return {
    kind: 'packet',
    key: host,
    id: sinkRecordId(host, origin?.file, origin?.line, origin?.offset, x.packet.firstSeen),
    ...(x.packet.firstSeen ? { timestamp: x.packet.firstSeen } : {}),
    body: x as unknown as SinkRecord['body'],
  };
}

/** The sink record of an alert; `packetId` is the id of the packet record that raised it. */
export function alertRecord(a: AlertRecord, packetId: string | undefined): SinkRecord {
  const id = a.alert.repeat
    ? sinkRecordId(a.alert.host, a.alert.service, a.alert.rule, a.alert.window.start, 'repeat')
    : sinkRecordId(packetId, a.alert.rule);
  return {
    kind: 'alert',
    key: a.alert.host,
    id,
    timestamp: a['@timestamp'],
    body: a as unknown as SinkRecord['body'],
  };
}
