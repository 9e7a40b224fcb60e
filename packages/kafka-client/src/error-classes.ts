/**
 * Kafka protocol error names (the same in kafkajs's `type` and @platformatic/kafka's `apiId`) grouped by what
 * they mean for the messages of a failed send; see `KafkaErrorClass`.
 */

/** The request carried a message the broker refuses: find it (split the batch) and reject it alone. */
export const RECORD_ERRORS: ReadonlySet<string> = new Set([
  'MESSAGE_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_TIMESTAMP',
  'INVALID_REQUIRED_ACKS',
]);

/** Idempotence bookkeeping broke: a new producer (new producer id) and a retry fix it. */
export const PRODUCER_STATE_ERRORS: ReadonlySet<string> = new Set([
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'DUPLICATE_SEQUENCE_NUMBER',
  'UNKNOWN_PRODUCER_ID',
  'INVALID_PRODUCER_EPOCH',
  'INVALID_PRODUCER_ID_MAPPING',
  'PRODUCER_FENCED',
]);
