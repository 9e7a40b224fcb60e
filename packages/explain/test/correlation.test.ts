/** Grouping lines into packets: interleaving, IP ID 0, retransmissions, NAT mid-trace, the window. */
import assert from 'node:assert/strict';
import { explain, packet, ruleset } from './helpers';

const STEPS = [
  'raw:PREROUTING:policy:2',
  'filter:INPUT:rule:1',
  'filter:KUBE-PROXY-FIREWALL:return:1',
  'filter:INPUT:rule:2',
  'filter:KUBE-EXTERNAL-SERVICES:rule:1',
];

function interleave(a: string[], b: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i]) out.push(a[i]!);
    if (b[i]) out.push(b[i]!);
  }
  return out;
}

describe('correlation', () => {
  const rs = () => ruleset('modern-kube.save');
  const base = { in: 'eth0', dst: '203.0.113.5', dpt: 31080 };

  it('separates interleaved packets that both have IP ID 0', async () => {
    const a = packet({ ...base, src: '192.0.2.1', spt: 1111, id: 0, seq: 100 }, STEPS);
    const b = packet({ ...base, src: '192.0.2.2', spt: 2222, id: 0, seq: 200 }, STEPS);
    const out = await explain(interleave(a, b).join('\n'), [rs()]);
    assert.equal(out.length, 2);
    for (const x of out) {
      assert.equal(x.steps.length, 5);
      assert.equal(x.verdict, 'DROP');
      assert.deepEqual([...x.flags], ['kube_no_endpoints']);
    }
    assert.deepEqual(out.map((x) => x.packet.src).sort(), ['192.0.2.1', '192.0.2.2']);
  });

  it('a retransmission (same SEQ, new IP ID and timestamp) is a separate packet', async () => {
    const first = packet(
      { ...base, src: '192.0.2.1', spt: 1111, id: 300, seq: 555, opt: '020405B40402080A0000000100000000' },
      STEPS,
    );
    const retry = packet(
      {
        ...base,
        src: '192.0.2.1',
        spt: 1111,
        id: 301,
        seq: 555,
        opt: '020405B40402080A000003E900000000',
        time: '2026-11-26T10:05:01.000001+00:00',
      },
      STEPS,
    );
    const out = await explain([...first, ...retry].join('\n'), [rs()]);
    assert.equal(out.length, 2);
    assert.deepEqual(
      out.map((x) => x.packet.ipId),
      [300, 301],
    );
  });

  it('the same key seen again after the window is a new packet', async () => {
    const a = packet({ ...base, src: '192.0.2.1', spt: 1111, id: 0, seq: 9 }, ['raw:PREROUTING:policy:2']);
    const b = packet(
      { ...base, src: '192.0.2.1', spt: 1111, id: 0, seq: 9, time: '2026-11-26T10:05:09.000001+00:00' },
      ['raw:PREROUTING:policy:2'],
    );
    const out = await explain([...a, ...b].join('\n'), [rs()], { windowMs: 2000 });
    assert.equal(out.length, 2);
    assert.ok(out.every((x) => x.flags.includes('silent_drop')));
  });

  it('a new traversal of a table the packet already finished starts a new packet', async () => {
    const a = packet({ ...base, src: '192.0.2.1', spt: 1111, id: 0, seq: 9 }, [
      'raw:PREROUTING:policy:2',
      'raw:PREROUTING:policy:2',
    ]);
    const out = await explain(a.join('\n'), [rs()]);
    assert.equal(out.length, 2);
  });
});
