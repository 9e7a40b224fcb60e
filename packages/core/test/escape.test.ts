/** escapeControl / escapeJsonControl / jsonDepthExceeds (issue #15: hostile input on terminals and logs). */
/* eslint-disable no-control-regex -- the point of these tests is control characters */
import assert from 'node:assert/strict';
import { escapeControl, escapeJsonControl, hasControl, jsonDepthExceeds } from '../src';

describe('escapeControl', () => {
  it('turns every control character into a visible escape and leaves printable text alone', () => {
    assert.equal(escapeControl('\x1b]0;owned\x07\x1b[2J'), '\\x1b]0;owned\\x07\\x1b[2J');
    assert.equal(
      escapeControl('a\tb\nc\rd\x00\x7f\x9b\u202e\u2028'),
      'a\\tb\\nc\\rd\\x00\\x7f\\x9b\\u202e\\u2028',
    );
    assert.equal(escapeControl('a\tb\nc\x1b', { keepNewlines: true }), 'a\tb\nc\\x1b');
    const plain = 'cali:6gwbT8clXdHdC1b1 — ünïcødé \\x1b';
    assert.equal(escapeControl(plain), plain);
    assert.equal(hasControl(plain), false);
    assert.equal(hasControl('x\x1b'), true);
  });

  it('leaves no character a terminal acts on, for every code point below U+3000', () => {
    let all = '';
    for (let c = 0; c < 0x3000; c++) all += String.fromCharCode(c);
    assert.doesNotMatch(escapeControl(all), /[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
  });
});

describe('escapeJsonControl', () => {
  it('writes C1 controls and bidi overrides as \\u escapes; the JSON still parses to the same value', () => {
    const v = { comment: 'x\x1b[2J\x9b31m\u202eevil\u2028', n: 1 };
    const out = escapeJsonControl(JSON.stringify(v));
    assert.doesNotMatch(out, /[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e]/);
    assert.deepEqual(JSON.parse(out), v);
  });
});

describe('jsonDepthExceeds', () => {
  it('counts nesting outside strings only, stopping past the limit', () => {
    assert.equal(jsonDepthExceeds('{"a":[1,{"b":2}]}', 3), false);
    assert.equal(jsonDepthExceeds('{"a":[1,{"b":2}]}', 2), true);
    assert.equal(jsonDepthExceeds('{"a":"[[[[[[[[\\"[[["}', 1), false);
    assert.equal(jsonDepthExceeds('['.repeat(1_000_000), 32), true);
  });
});
