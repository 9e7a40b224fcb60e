/** TCP syslog framing: octet counting and LF, across arbitrary chunk boundaries, with over-long messages. */
import assert from 'node:assert/strict';
import { TcpFramer } from '../src';

const msgs = [
  '<4>Jan  1 21:23:16 cos74 kernel: TRACE: a',
  '<4>1 2023-01-01T21:23:16Z cos74 kernel - - - TRACE: ünïcode',
  '<6>x',
];

function feed(framer: TcpFramer, bytes: Buffer, step: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < bytes.length; i += step)
    for (const m of framer.push(bytes.subarray(i, i + step))) out.push(m.toString());
  for (const m of framer.end()) out.push(m.toString());
  return out;
}

describe('syslog TCP framing', () => {
  it('splits octet-counted messages (lengths in bytes, not characters) at any chunk boundary', () => {
    const wire = Buffer.concat(msgs.map((m) => Buffer.from(`${Buffer.byteLength(m)} ${m}`)));
    for (const step of [1, 2, 7, 1000])
      assert.deepEqual(feed(new TcpFramer(65536), wire, step), msgs, `step ${step}`);
  });

  it('splits LF-framed messages, tolerating CRLF and a last message without LF', () => {
    const wire = Buffer.from(`${msgs[0]}\r\n${msgs[1]}\n${msgs[2]}`);
    for (const step of [1, 5, 1000]) assert.deepEqual(feed(new TcpFramer(65536), wire, step), msgs);
  });

  it('cuts over-long messages and stays in step with the stream', () => {
    const long = 'x'.repeat(100);
    const wire = Buffer.from(`100 ${long}3 abc`);
    const f = new TcpFramer(10);
    assert.deepEqual(feed(f, wire, 3), ['x'.repeat(10), 'abc']);
    assert.equal(f.truncated, 1);
    const lf = new TcpFramer(10);
    assert.deepEqual(
      feed(lf, Buffer.from(`<1>${long}`), 1000).map((m) => m.length),
      [10],
    );
  });
});
