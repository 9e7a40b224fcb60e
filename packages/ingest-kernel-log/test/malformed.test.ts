/**
 * Lines that look like netfilter records but are not what the kernel prints become InputErrors that name the
 * file, the line and the reason; lines that are not netfilter records at all are skipped (null).
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { toDeadLetterRecord, type InputError } from '@ruletrail/core';
import { kernelLogAdapter, KERNEL_LOG_ERROR_CODES } from '../src/index';
import { FIXTURES, fixtureLines, inputError, parseFixture } from './helpers';

const PREFIX = KERNEL_LOG_ERROR_CODES.tracePrefix;
const MALFORMED = KERNEL_LOG_ERROR_CODES.malformed;
const TIMESTAMP = KERNEL_LOG_ERROR_CODES.timestamp;

/** [code, reason] per line of malformed.log; null = skipped. */
const EXPECTED: ([string, string] | null)[] = [
  [PREFIX, 'TRACE prefix "raw:PREROUTING:policy:x": rule number "x" is not a number'],
  [PREFIX, 'TRACE prefix "raw:PREROUTING:policy:0": rule number 0 is below 1'],
  [PREFIX, 'TRACE prefix "raw:PREROUTING:polcy:3": unknown kind "polcy" (expected rule, return or policy)'],
  [PREFIX, 'TRACE prefix "raw:PREROUTING:3" is not <table>:<chain>:<rule|return|policy>:<rulenum>'],
  [PREFIX, 'TRACE prefix "raw::rule:3" has an empty chain name'],
  [PREFIX, 'TRACE prefix "TRACE: raw:PREROUTING:rule:1" is not followed by "IN="'],
  [MALFORMED, 'TRACE line: unexpected token at column 189 (found "BOGUS=1 PROTO=TCP SPT=1 …")'],
  [
    MALFORMED,
    'TRACE line: "10.0.0.300" is not an IPv4 address at column 123 (found "10.0.0.300 DST=10.0.0.2 …")',
  ],
  [MALFORMED, 'TRACE line: SPT=70000: port out of range at column 203 (found "70000 DPT=2 LEN=8 ")'],
  [
    MALFORMED,
    "TRACE line: TCP flag ACK out of the kernel's order (AE CWR ECE URG ACK PSH RST SYN FIN) at column 233 " +
      '(found "ACK URGP=0 ")',
  ],
  [MALFORMED, 'TRACE line: expected TCP flags or "URGP=" at column 245 (found "SY")'],
  [
    MALFORMED,
    'netfilter log line: "zz:15:5d:12:e2:28:00:15:5d:12:e2:24:08:00" is not a link-layer header at column 54 ' +
      '(found "zz:15:5d:12:e2:28:00:15:…")',
  ],
  [TIMESTAMP, 'impossible timestamp "Feb 30 10:00:00"'],
  [TIMESTAMP, 'impossible timestamp "2026-13-01T10:00:00.000000+00:00"'],
  [
    MALFORMED,
    'TRACE line: "10.0.0.2" is not an IPv6 address at column 169 (found "10.0.0.2 LEN=104 TC=0 HO…")',
  ],
  null,
  null,
  null,
  null,
];

describe('malformed and foreign lines', () => {
  const results = parseFixture('malformed.log');
  const lines = fixtureLines('malformed.log');

  it('gives each malformed netfilter line a coded InputError naming file, line and reason', () => {
    assert.equal(results.length, EXPECTED.length);
    results.forEach((r, i) => {
      const expected = EXPECTED[i];
      if (expected === null) {
        assert.equal(r, null, `line ${i + 1} should be skipped`);
        return;
      }
      const e = inputError(r);
      const [code, reason] = expected!;
      assert.equal(e.code, code, `line ${i + 1}`);
      assert.equal(e.reason, reason, `line ${i + 1}`);
      assert.deepEqual(e.position, { file: 'malformed.log', line: i + 1 });
      assert.equal(e.message, `malformed.log:${i + 1}: ${reason}`);
      assert.equal(e.record, lines[i]);
    });
  });

  it('names the configured year when a year-less stamp is impossible in it', () => {
    const [r] = parseFixture('malformed.log', { year: 2025 }).slice(12, 13);
    assert.equal(inputError(r).reason, 'impossible timestamp "Feb 30 10:00:00" in 2025');
  });

  it('routes errors and skips through decode: nothing is lost, nothing throws', async () => {
    const bytes = readFileSync(join(FIXTURES, 'malformed.log'));
    let events = 0;
    let skipped = 0;
    const errors: InputError[] = [];
    for await (const b of kernelLogAdapter.decode(Readable.from([bytes]), { file: 'malformed.log' })) {
      events += b.events.length;
      skipped += b.skipped;
      errors.push(...b.errors);
    }
    assert.equal(events, 0);
    assert.equal(skipped, 4);
    assert.equal(errors.length, 15);
    assert.deepEqual(toDeadLetterRecord(errors[0]!), {
      file: 'malformed.log',
      line: 1,
      code: 'RT_ERR_TRACE_PREFIX',
      reason: 'TRACE prefix "raw:PREROUTING:policy:x": rule number "x" is not a number',
      record: lines[0],
    });
  });
});
