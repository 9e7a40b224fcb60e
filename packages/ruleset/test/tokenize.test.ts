import assert from 'node:assert/strict';
import { tokenizeArgs, TokenizeError } from '../src/tokenize';

const texts = (line: string): string[] => tokenizeArgs(line).map((t) => t.text);

describe('tokenizeArgs (iptables add_param_to_argv)', () => {
  it('splits on runs of spaces and tabs', () => {
    assert.deepEqual(texts('-A  INPUT\t-j   ACCEPT '), ['-A', 'INPUT', '-j', 'ACCEPT']);
    assert.deepEqual(texts('   '), []);
  });

  it('unquotes a quoted comment with spaces and marks it quoted', () => {
    assert.deepEqual(tokenizeArgs('--comment "ootob9/ingress-nginx:http has no local endpoints" -j DROP'), [
      { text: '--comment', quoted: false },
      { text: 'ootob9/ingress-nginx:http has no local endpoints', quoted: true },
      { text: '-j', quoted: false },
      { text: 'DROP', quoted: false },
    ]);
  });

  it('unescapes \\" \\\\ and \\\' inside quotes, as xtables_save_string() escapes them', () => {
    assert.deepEqual(texts(String.raw`--comment "quote \" backslash \\ apostrophe \' done"`), [
      '--comment',
      `quote " backslash \\ apostrophe ' done`,
    ]);
  });

  it('keeps a backslash outside quotes literally', () => {
    assert.deepEqual(texts(String.raw`--log-prefix a\b`), ['--log-prefix', String.raw`a\b`]);
  });

  it('reads "" as one empty argument', () => {
    assert.deepEqual(tokenizeArgs('--comment "" -j ACCEPT'), [
      { text: '--comment', quoted: false },
      { text: '', quoted: true },
      { text: '-j', quoted: false },
      { text: 'ACCEPT', quoted: false },
    ]);
  });

  it('continues an unquoted word into a quote, and ends the argument at the closing quote', () => {
    assert.deepEqual(texts('ab"c d" x'), ['abc d', 'x']);
    // iptables ends the argument at the closing quote: "a"b is two arguments.
    assert.deepEqual(texts('"a"b'), ['a', 'b']);
  });

  it('keeps a quoted "!" as a value', () => {
    assert.deepEqual(tokenizeArgs('! "!"'), [
      { text: '!', quoted: false },
      { text: '!', quoted: true },
    ]);
  });

  it('refuses an unterminated quote, naming the column', () => {
    assert.throws(
      () => tokenizeArgs('-m comment --comment "abc'),
      (e: unknown) =>
        e instanceof TokenizeError && e.reason === 'unterminated quoted argument starting at column 22',
    );
    // A trailing backslash escapes nothing: still unterminated.
    assert.throws(() => tokenizeArgs('--comment "abc\\'), TokenizeError);
  });
});
