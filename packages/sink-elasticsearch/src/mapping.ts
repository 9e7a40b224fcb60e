/**
 * Index mappings for explained packets and alerts, ECS-compatible where ECS has a field (`@timestamp`,
 * `host.name`). Types: `ip` for addresses, `keyword` for exact values (verdict, table, chain, flags, service),
 * `long` for ports and rule numbers, `date` for times. The root is `dynamic: false`: unknown fields stay in
 * `_source` (and come back in search hits) but are not indexed, so a new upstream field can never cause a
 * mapping explosion or a type conflict. `steps` and rule paths are kept, not indexed (`enabled: false`).
 */

type Mapping = Record<string, unknown>;

const keyword: Mapping = { type: 'keyword', ignore_above: 1024 };
const long: Mapping = { type: 'long' };
const date: Mapping = { type: 'date' };
const ip: Mapping = { type: 'ip' };
/** Rule text: searchable by words, and exact (aggregations) up to 1024 chars. */
const ruleText: Mapping = { type: 'text', fields: { keyword } };
const stored: Mapping = { type: 'object', enabled: false };

const ruleRef: Mapping = {
  properties: {
    table: keyword,
    chain: keyword,
    kind: keyword,
    rulenum: long,
    target: keyword,
    rule: ruleText,
    mark: keyword,
    path: stored,
  },
};

const packet: Mapping = {
  properties: {
    host: keyword,
    family: keyword,
    proto: keyword,
    src: ip,
    dst: ip,
    sport: long,
    dport: long,
    ipId: long,
    len: long,
    ttl: long,
    tcpSeq: long,
    tcpFlags: keyword,
    tcpOptions: { type: 'keyword', index: false, doc_values: false },
    icmpType: long,
    icmpCode: long,
    mark: keyword,
    in: keyword,
    out: keyword,
    firstSeen: date,
    channel: keyword,
  },
};

/** The explained-packet fields, shared by the packets index and the `explanation` of an alert. */
function explanationProperties(): Record<string, Mapping> {
  return {
    packet,
    verdict: keyword,
    decidedBy: ruleRef,
    markSetBy: ruleRef,
    // `{kind, from, to, by}`: from/to are `addr[:port]` strings, `by` the rule that rewrote (docs/explain-json.md).
    nat: { properties: { kind: keyword, from: keyword, to: keyword, by: ruleRef } },
    kubernetes: {
      properties: {
        service: keyword,
        namespace: keyword,
        name: keyword,
        port: keyword,
        reason: keyword,
        chains: keyword,
        calico: keyword,
      },
    },
    flags: keyword,
    cause: { type: 'text' },
    snapshot: { properties: { hash: keyword, source: keyword, generatedAt: date, family: keyword } },
  };
}

/** Mapping of the packets index / data stream. */
export function packetMappings(): Mapping {
  return {
    dynamic: false,
    properties: {
      '@timestamp': date,
      host: { properties: { name: keyword } },
      ...explanationProperties(),
      steps: stored,
    },
  };
}

/**
 * Mapping of the alerts index / data stream: the pipeline's alert record (`{ "@timestamp", alert: {rule,
 * severity, host, service, summary, count, repeat, window}, explanation: {…the packet, without steps} }`).
 */
export function alertMappings(): Mapping {
  return {
    dynamic: false,
    properties: {
      '@timestamp': date,
      host: { properties: { name: keyword } },
      alert: {
        properties: {
          rule: keyword,
          severity: keyword,
          host: keyword,
          service: keyword,
          summary: { type: 'text' },
          count: long,
          repeat: { type: 'boolean' },
          window: { properties: { start: date, end: date } },
        },
      },
      explanation: { properties: explanationProperties() },
    },
  };
}
