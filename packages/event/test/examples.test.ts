/** The schema's own examples: every valid one validates, every invalid one fails for the reason its name gives. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateEvent, EVENT_SCHEMA_ID } from '../src';

const EXAMPLES = join(__dirname, '../../../schemas/event/v1/examples');
const read = (dir: string, f: string): unknown => JSON.parse(readFileSync(join(EXAMPLES, dir, f), 'utf8'));

/** What each invalid example must be refused for (a substring of one of the rendered errors). */
const EXPECTED: Record<string, RegExp> = {
  'missing-ruletrail.json': /^\/ must have required property 'ruletrail'$/,
  'unknown-channel.json': /^\/ruletrail\/channel must be equal to one of the allowed values \(kernel-log, /,
  'trace-kind-jump.json':
    /^\/netfilter\/trace\/kind must be equal to one of the allowed values \(rule, return, policy\)$/,
  'rulenum-zero.json': /^\/netfilter\/trace\/rulenum must be >= 1$/,
  'port-out-of-range.json': /^\/destination\/port must be <= 65535$/,
  'unknown-netfilter-field.json': /^\/netfilter must NOT have additional properties \(tabel\)$/,
  'timestamp-not-iso.json': /^\/@timestamp must match format "date-time"$/,
  'tcp-flag-unknown.json': /^\/netfilter\/tcp\/flags\/1 must be equal to one of the allowed values/,
};

describe('event schema v1 examples', () => {
  it('has a versioned $id', () => {
    const schema = JSON.parse(readFileSync(join(EXAMPLES, '../event.schema.json'), 'utf8')) as {
      $id: string;
    };
    assert.equal(schema.$id, EVENT_SCHEMA_ID);
    assert.match(schema.$id, /\/v1\//);
  });

  const valid = readdirSync(join(EXAMPLES, 'valid')).filter((f) => f.endsWith('.json'));
  it('has valid examples from several channels', () => assert.ok(valid.length >= 5));
  for (const f of valid)
    it(`valid/${f} validates`, () => {
      const r = validateEvent(read('valid', f));
      assert.deepEqual(r.ok ? [] : r.errors, []);
    });

  const invalid = readdirSync(join(EXAMPLES, 'invalid')).filter((f) => f.endsWith('.json'));
  it('every invalid example has an expected reason', () =>
    assert.deepEqual(invalid.sort(), Object.keys(EXPECTED).sort()));
  for (const f of invalid)
    it(`invalid/${f} is refused for the right reason`, () => {
      const r = validateEvent(read('invalid', f));
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.ok(
        r.errors.some((e) => EXPECTED[f]!.test(e)),
        `expected ${String(EXPECTED[f])}, got ${JSON.stringify(r.errors)}`,
      );
    });
});
