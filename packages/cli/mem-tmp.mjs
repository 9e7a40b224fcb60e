import { kernelLogAdapter } from '@ruletrail/ingest-kernel-log';
import { Correlator, SnapshotSet } from '@ruletrail/explain';
import { createReadStream } from 'node:fs';
import { loadRules } from './dist/rules-files.js';
const f = process.argv[2];
const snaps = new SnapshotSet((await loadRules(f + '.rules.txt')));
let n = 0, maxOpen = 0, ev = 0; const flags = {};
const cor = new Correlator(snaps, (p) => { n++; for (const x of p.flags) flags[x]=(flags[x]??0)+1; });
for await (const b of kernelLogAdapter.decode(createReadStream(f), { file: f, year: 2026 })) { for (const e of b.events) { cor.push(e); ev++; if (ev % 50000 === 0) { const o = cor.openPackets; maxOpen = Math.max(maxOpen, o); if (ev % 100000 === 0) { global.gc?.(); console.log(ev, 'open', o, 'heapMB', (process.memoryUsage().heapUsed/1048576).toFixed(0), 'rss', (process.memoryUsage().rss/1048576).toFixed(0)); } } } }
cor.flush();
console.log(n, maxOpen, flags);
