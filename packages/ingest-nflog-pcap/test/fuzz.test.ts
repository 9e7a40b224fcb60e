/**
 * Corrupted real records: whatever the bytes inside a well-framed record say, decoding never throws, every
 * record becomes an event that validates or an InputError positioned at the record, and the records around it
 * still decode.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { nflogPcapAdapter } from '../src/index';
import { collect, pcapFile } from './fixture-builder';

function records(pcap: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let p = 24; p + 16 <= pcap.length;) {
    const incl = pcap.readUInt32LE(p + 8);
    out.push(pcap.subarray(p + 16, p + 16 + incl));
    p += 16 + incl;
  }
  return out;
}

describe('nflog-pcap: corrupted records (fuzz)', () => {
  const real = records(readFileSync(join(__dirname, 'fixtures', 'real', 'trace.pcap')));
  let seed = 0x2545f491;
  const rnd = (n: number): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };

  it('byte flips, truncations and TLV length damage never throw and never lose the neighbours', async () => {
    for (let round = 0; round < 40; round++) {
      const damaged = real.map((r) => {
        const b = Buffer.from(r);
        switch (rnd(4)) {
          case 0:
            for (let k = 0; k < 1 + rnd(8); k++) b[rnd(b.length)] = rnd(256);
            return b;
          case 1:
            return b.subarray(0, rnd(b.length));
          case 2:
            // a TLV length somewhere in the first 64 bytes
            if (b.length > 8) b.writeUInt16LE(rnd(0x10000), 4 + 4 * rnd(Math.min(15, (b.length - 6) >> 2)));
            return b;
          default:
            return b;
        }
      });
      const file = pcapFile(
        damaged.flatMap((data) => [{ data }, { data: real[0]! }]),
        'le',
      );
      const out = await collect(nflogPcapAdapter, [file], { file: 'fuzz.pcap' });
      // one result per record: the untouched neighbours always decode
      assert.equal(out.events.length + out.errors.length, damaged.length * 2);
      assert.ok(out.events.length >= damaged.length);
      for (const e of out.errors) assert.equal(typeof e.position.offset, 'number');
    }
  });
});
