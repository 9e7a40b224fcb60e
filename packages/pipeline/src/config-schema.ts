/**
 * The JSON Schema of a `ruletrail run` config file (v1). This object is the source of truth; the committed
 * `schemas/config/v1/config.schema.json` is a copy that a test keeps identical (editors and CI can use it).
 * Every field's `description` is its documentation. Unknown keys are errors (a typo must not be silently
 * ignored), and sources and sinks are checked against the schema of their `type` only, so the errors of a
 * misspelt field are not buried under those of every other type.
 */

import { KAFKA_CONNECTION_SCHEMA_PROPERTIES } from '@ruletrail/core';

const positiveInt = { type: 'integer', minimum: 1 } as const;
const hostPort = { type: 'string', pattern: '^(\\[[^\\]]+\\]|[^:\\s]*):\\d{1,5}$' } as const;
const id = {
  type: 'string',
  pattern: '^[a-z0-9][a-z0-9_-]*$',
  description:
    'Component id: metrics label, checkpoint key and log field. Lowercase letters, digits, - and _.',
} as const;

/** Fields every source has that tell the adapter what the framing lacks. */
const decodeFields = {
  format: {
    type: 'string',
    description:
      "Ingest adapter (channel): 'auto' (sniff each file, default for files), or a channel name such as 'kernel-log'.",
  },
  host: {
    type: 'string',
    minLength: 1,
    description: 'Host name for records that carry none (pcap, ulogd without dvc).',
  },
  year: {
    type: 'integer',
    minimum: 1970,
    maximum: 9999,
    description: 'Year for RFC 3164 timestamps, which have none.',
  },
  utcOffsetMinutes: {
    type: 'integer',
    minimum: -1440,
    maximum: 1440,
    description: 'Time zone of framings that carry none.',
  },
} as const;

const fileSource = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'type', 'paths'],
  description: 'Reads or tails files matched by globs (gzip read whole in read mode).',
  properties: {
    id,
    type: { const: 'file' },
    paths: {
      type: 'array',
      minItems: 1,
      items: { type: 'string', minLength: 1 },
      description:
        'Files or globs (* ? ** [..]); relative to the config file. New matches are picked up while tailing.',
    },
    mode: {
      enum: ['tail', 'read'],
      default: 'tail',
      description:
        "'tail' follows the files forever (rotation by rename and copytruncate); 'read' reads them once and ends.",
    },
    startAt: {
      enum: ['beginning', 'end'],
      default: 'beginning',
      description: 'Where to start in a file that has no checkpoint yet.',
    },
    pollIntervalMs: {
      ...positiveInt,
      default: 250,
      description: 'How often a tailed file is checked for new data and rotation.',
    },
    ...decodeFields,
  },
} as const;

const stdinSource = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'type'],
  description: 'Reads standard input until it ends. No checkpoint: what was read cannot be read again.',
  properties: { id, type: { const: 'stdin' }, ...decodeFields },
} as const;

const syslogSource = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'type'],
  description:
    'Receives syslog (RFC 3164 / 5424) over UDP, TCP (newline or octet-counting framing) and/or TLS (RFC 5425), e.g. from rsyslog omfwd. An address without a host (`:5514`) binds 127.0.0.1: listening on other interfaces must be written out (`0.0.0.0:5514`).',
  properties: {
    id,
    type: { const: 'syslog' },
    udp: { ...hostPort, description: 'UDP address to listen on, e.g. 127.0.0.1:5514.' },
    tcp: { ...hostPort, description: 'TCP address to listen on, e.g. 127.0.0.1:5514.' },
    tls: {
      type: 'object',
      additionalProperties: false,
      required: ['listen', 'certFile', 'keyFile'],
      description:
        'Syslog over TLS (RFC 5425: octet-counted frames over TLS 1.2+), e.g. rsyslog omfwd with StreamDriver="gtls".',
      properties: {
        listen: { ...hostPort, description: 'TLS address to listen on, e.g. 127.0.0.1:6514.' },
        certFile: { type: 'string', minLength: 1, description: 'Server certificate (PEM), chain included.' },
        keyFile: {
          type: 'string',
          minLength: 1,
          description: 'Server private key (PEM). Refused when every user can read it (chmod 600 or 640).',
        },
        passphrase: { type: 'string', description: "The key's passphrase, if it is encrypted (use ${ENV})." },
        caFile: {
          type: 'string',
          minLength: 1,
          description: 'CA (PEM) that client certificates must chain to; with it, clients must present one.',
        },
      },
    },
    maxMessageBytes: {
      ...positiveInt,
      default: 65536,
      description:
        'Largest message (frame) on any transport; longer ones are cut to this size and counted (discarded{reason="truncated"}).',
    },
    idleTimeoutMs: {
      ...positiveInt,
      default: 300000,
      description:
        'A TCP or TLS connection that sends nothing for this long is closed (senders such as rsyslog reconnect).',
    },
    batchMs: {
      ...positiveInt,
      default: 100,
      description: 'Messages are handed on in batches at least this often.',
    },
    maxConnections: {
      ...positiveInt,
      default: 1024,
      description: 'Concurrent TCP and TLS connections accepted (together); more are closed at once.',
    },
    ...decodeFields,
  },
} as const;

/** The connection fields every Kafka package shares (`@ruletrail/core` kafka-config.ts). */
const kafkaClient = KAFKA_CONNECTION_SCHEMA_PROPERTIES;

const kafkaSource = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'type', 'brokers', 'topic', 'groupId'],
  description:
    'Consumes raw trace lines from a topic as one consumer group (scale-out: run several instances with the same groupId); offsets are committed only after acknowledgement.',
  properties: {
    id,
    type: { const: 'kafka' },
    ...kafkaClient,
    topic: {
      type: 'string',
      minLength: 1,
      description: 'Topic of raw lines (one or more lines per message), keyed by host.',
    },
    groupId: {
      type: 'string',
      minLength: 1,
      description: 'Consumer group shared by every ruletrail run instance of one pipeline.',
    },
    fromBeginning: { type: 'boolean', default: true, description: 'Where a new group starts.' },
    ...decodeFields,
  },
} as const;

const recordKinds = {
  type: 'array',
  minItems: 1,
  uniqueItems: true,
  items: { enum: ['explanation', 'alert'] },
  default: ['explanation', 'alert'],
  description: 'Which records this sink receives.',
} as const;

const fileSink = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'type'],
  description:
    'NDJSON, one record per line, to a file (appended) or to standard output. Needs no external service.',
  properties: {
    id,
    type: { const: 'file' },
    path: {
      type: 'string',
      minLength: 1,
      default: '-',
      description: "File to append to, relative to the config file; '-' = stdout.",
    },
    records: recordKinds,
    fsync: {
      type: 'boolean',
      default: false,
      description: 'fsync before acknowledging (survives power loss, not only a crash of ruletrail). Slower.',
    },
  },
} as const;

/** Sinks implemented by their own packages: their options are validated by the sink when it is built. */
const pluginSink = (type: string, summary: string) =>
  ({
    type: 'object',
    additionalProperties: false,
    required: ['id', 'type'],
    description: summary,
    properties: {
      id,
      type: { const: type },
      records: recordKinds,
      options: { type: 'object', description: `Options of the ${type} sink (see docs/sinks.md).` },
      runner: {
        type: 'object',
        additionalProperties: false,
        description:
          'Delivery settings of the core sink runner (docs/sinks.md): batching, concurrency, retries.',
        properties: {
          maxInFlight: { ...positiveInt, description: 'Concurrent write calls.' },
          bufferMaxEvents: {
            ...positiveInt,
            description: 'Records outstanding in the runner before it pushes back.',
          },
          batch: {
            type: 'object',
            additionalProperties: false,
            properties: { maxEvents: positiveInt, maxBytes: positiveInt, maxWaitMs: positiveInt },
          },
          retry: {
            type: 'object',
            additionalProperties: false,
            properties: {
              initialMs: positiveInt,
              maxMs: positiveInt,
              multiplier: { type: 'number', minimum: 1 },
              jitter: { type: 'number', minimum: 0, maximum: 1 },
              maxAttempts: positiveInt,
            },
          },
        },
      },
    },
  }) as const;

const snapshotFile = {
  type: 'object',
  additionalProperties: false,
  required: ['path', 'host'],
  properties: {
    path: {
      type: 'string',
      minLength: 1,
      description: 'iptables-save / ip6tables-save output, relative to the config file.',
    },
    host: { type: 'string', minLength: 1, description: 'Host the snapshot was taken on.' },
    family: { enum: ['ipv4', 'ipv6'], description: 'Forces the family when the file does not tell.' },
    takenAt: {
      type: 'string',
      format: 'date-time',
      description: "When it was taken; default: the file's '# Generated by … on' date.",
    },
  },
} as const;

/** The whole config. */
export const CONFIG_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://ruletrail.dev/schemas/config/v1/config.schema.json',
  title: 'ruletrail run configuration',
  type: 'object',
  additionalProperties: false,
  required: ['version', 'sources', 'sinks'],
  properties: {
    version: { const: 1, description: 'Config format version.' },
    dataDir: {
      type: 'string',
      minLength: 1,
      description:
        'Folder for checkpoints (relative to the config file). Without it nothing is checkpointed: a restart re-reads files from their start position.',
    },
    sources: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['type'],
        properties: { type: { enum: ['file', 'stdin', 'syslog', 'kafka'] } },
        discriminator: { propertyName: 'type' },
        oneOf: [fileSource, stdinSource, syslogSource, kafkaSource],
      },
    },
    snapshots: {
      type: 'object',
      additionalProperties: false,
      description:
        'Where per-host iptables-save snapshots come from. Each packet is joined with its host’s snapshot in force at its time.',
      properties: {
        directory: {
          type: 'string',
          minLength: 1,
          description:
            "Folder of shipped snapshots ('ruletrail snapshot ship --to dir:…'), read at start and watched.",
        },
        pollIntervalMs: {
          ...positiveInt,
          default: 2000,
          description: 'How often the directory is checked for new snapshots.',
        },
        files: {
          type: 'array',
          items: snapshotFile,
          description: 'Static snapshot files with the host they belong to.',
        },
        kafka: {
          type: 'object',
          additionalProperties: false,
          required: ['brokers', 'topic'],
          description: 'Snapshot topic (keyed by host), read from the beginning by every instance.',
          properties: { ...kafkaClient, topic: { type: 'string', minLength: 1 } },
        },
        historyPerHost: {
          ...positiveInt,
          default: 16,
          description: 'Snapshots kept per host and family; the oldest are dropped.',
        },
      },
    },
    correlation: {
      type: 'object',
      additionalProperties: false,
      properties: {
        windowMs: {
          ...positiveInt,
          default: 2000,
          description: 'Longest gap (log time) between two lines of one packet.',
        },
        maxOpenPackets: {
          ...positiveInt,
          default: 100000,
          description:
            'Open packets, per host and in total; beyond it the oldest (per host) or the least recently active host’s are completed.',
        },
        reorderMs: {
          type: 'integer',
          minimum: 0,
          default: 250,
          description:
            'Lines of one host are put back in log-time order if they arrive at most this late (0 = off); it delays each line by up to this long.',
        },
        idleFlushMs: {
          ...positiveInt,
          default: 5000,
          description: 'A host that sent no line for this long (wall clock) has its open packets completed.',
        },
      },
    },
    alerts: {
      type: 'object',
      additionalProperties: false,
      properties: {
        builtin: {
          type: 'object',
          additionalProperties: false,
          properties: {
            kubeMarkDrop: {
              type: 'boolean',
              default: true,
              description: 'Alert on packets that went through KUBE-MARK-DROP.',
            },
            kubeNoEndpoints: {
              type: 'boolean',
              default: true,
              description:
                "Alert on kube-proxy's 'has no endpoints' / 'has no local endpoints' DROP/REJECT rules.",
            },
          },
        },
        rules: {
          type: 'array',
          description:
            'User rules: all given fields must match one step of the packet (the deciding step with on: decision).',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['name'],
            properties: {
              name: {
                type: 'string',
                pattern: '^[A-Za-z0-9_.-]+$',
                description: 'Rule name (alert.rule, metric label).',
              },
              table: { type: 'string', minLength: 1 },
              chain: {
                type: 'string',
                minLength: 1,
                description: 'Chain name, exact, or a regular expression written /…/.',
              },
              target: {
                type: 'string',
                minLength: 1,
                description: 'Rule target (DROP, REJECT, KUBE-MARK-DROP, …).',
              },
              comment: {
                type: 'string',
                minLength: 1,
                description: 'Regular expression over the rule’s --comment values.',
              },
              verdict: {
                enum: ['ACCEPT', 'DROP', 'REJECT', 'QUEUE', 'UNKNOWN'],
                description: 'Packet verdict.',
              },
              on: {
                enum: ['any', 'decision'],
                default: 'any',
                description: 'Match any step, or only the deciding one.',
              },
              severity: { enum: ['info', 'warning', 'critical'], default: 'warning' },
            },
          },
        },
        windowMs: {
          ...positiveInt,
          default: 300000,
          description: 'Dedup / rate-limit window per (host, service, rule), in event time.',
        },
        maxPerWindow: {
          ...positiveInt,
          default: 1,
          description: 'Alerts emitted per key and window; the rest are counted.',
        },
      },
    },
    sinks: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['type'],
        properties: { type: { enum: ['file', 'kafka', 'elasticsearch', 'fluentd'] } },
        discriminator: { propertyName: 'type' },
        oneOf: [
          fileSink,
          pluginSink('kafka', 'Kafka topic (records keyed by host).'),
          pluginSink('elasticsearch', 'Elasticsearch index (bulk API, deterministic ids).'),
          pluginSink('fluentd', 'Fluentd forward protocol with acknowledgements.'),
        ],
      },
    },
    deadLetter: {
      type: 'object',
      additionalProperties: false,
      required: ['path'],
      properties: {
        path: {
          type: 'string',
          minLength: 1,
          description: 'NDJSON file (appended) for records that could not be processed.',
        },
      },
    },
    pipeline: {
      type: 'object',
      additionalProperties: false,
      properties: {
        maxInFlight: {
          ...positiveInt,
          default: 10000,
          description:
            'Records handed to sinks and not yet acknowledged; at this bound the sources stop reading (backpressure).',
        },
        shutdownTimeoutMs: {
          ...positiveInt,
          default: 30000,
          description: 'On SIGTERM, how long to wait for sinks to acknowledge.',
        },
        checkpointIntervalMs: {
          ...positiveInt,
          default: 1000,
          description: 'How often acknowledged positions are written.',
        },
      },
    },
    metrics: {
      type: 'object',
      additionalProperties: false,
      required: ['listen'],
      properties: {
        listen: {
          ...hostPort,
          description:
            'Prometheus /metrics address, e.g. 127.0.0.1:9464; without a host (`:9464`) it binds 127.0.0.1.',
        },
        maxConnections: {
          ...positiveInt,
          default: 16,
          description: 'Concurrent connections to the endpoint; more are closed at once.',
        },
        idleTimeoutMs: {
          ...positiveInt,
          default: 30000,
          description: 'A connection idle (or a request unfinished) for this long is closed.',
        },
      },
    },
    log: {
      type: 'object',
      additionalProperties: false,
      properties: {
        level: { enum: ['debug', 'info', 'warn', 'error'], default: 'info' },
        progress: {
          enum: ['auto', 'on', 'off'],
          default: 'auto',
          description: "Progress bar for finite inputs ('auto': on a TTY).",
        },
      },
    },
  },
} as const;
