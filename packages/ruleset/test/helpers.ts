/** Shared helpers for the ruleset tests. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '@ruletrail/core';
import {
  parseIptablesSave,
  type Chain,
  type ParseIptablesSaveOptions,
  type Rule,
  type Ruleset,
} from '../src/index';

export const FIXTURES = join(__dirname, 'fixtures');

export function fixtureText(name: string): string {
  return readFileSync(join(FIXTURES, name), 'utf8');
}

export function parseFixture(name: string, options: Partial<ParseIptablesSaveOptions> = {}): Ruleset {
  return parseIptablesSave(fixtureText(name), { source: name, ...options });
}

export function chainOf(rs: Ruleset, table: string, chain: string): Chain {
  const t = rs.tables.get(table);
  assert.ok(t, `table ${table} missing`);
  const c = t.chains.get(chain);
  assert.ok(c, `chain ${table}/${chain} missing`);
  return c;
}

export function ruleOf(rs: Ruleset, table: string, chain: string, num: number): Rule {
  const r = chainOf(rs, table, chain).rules[num - 1];
  assert.ok(r, `rule ${table}/${chain}#${num} missing`);
  assert.equal(r.num, num);
  return r;
}

/** 1-based line of the first line of `text` equal to `line`, to check `Rule.line` against the fixture itself. */
export function lineOf(text: string, line: string): number {
  const idx = text.split('\n').indexOf(line);
  assert.ok(idx >= 0, `line not in fixture: ${line}`);
  return idx + 1;
}

/** A small save file around some rule lines (one `*filter` table with INPUT/FORWARD/OUTPUT and user chains). */
export function filterDoc(rules: string[], userChains: string[] = [], header = ''): string {
  return [
    ...(header ? [header] : []),
    '*filter',
    ':INPUT ACCEPT [0:0]',
    ':FORWARD ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ...userChains.map((c) => `:${c} - [0:0]`),
    ...rules,
    'COMMIT',
    '',
  ].join('\n');
}

/** Parses `text` and asserts it throws the snapshot syntax error `<source>:<line>: <reason>`. */
export function assertSyntaxError(
  text: string,
  line: number,
  reason: string | RegExp,
  source = 'bad.save',
): void {
  assert.throws(
    () => parseIptablesSave(text, { source }),
    (e: unknown) => {
      assert.ok(e instanceof InputError, `expected InputError, got ${String(e)}`);
      assert.equal(e.code, 'RT_ERR_RULESET_SYNTAX');
      assert.deepEqual(e.position, { file: source, line });
      if (typeof reason === 'string') {
        assert.equal(e.reason, reason);
        assert.equal(e.message, `${source}:${line}: ${reason}`);
      } else {
        assert.match(e.reason, reason);
        assert.ok(e.message.startsWith(`${source}:${line}: `), e.message);
      }
      return true;
    },
  );
}
