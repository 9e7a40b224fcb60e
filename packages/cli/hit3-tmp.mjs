import { kernelLogAdapter } from '@ruletrail/ingest-kernel-log';
import { Correlator, SnapshotSet, ExplanationMemo } from '@ruletrail/explain';
import { createReadStream } from 'node:fs';
import { loadRules } from './dist/rules-files.js';
const f = process.argv[2];
const snaps = new SnapshotSet((await loadRules(f + '.rules.txt')));
const memo = new ExplanationMemo();
const bySig = new Map();
const cor = new Correlator(snaps, (p) => { const k = memo._key(p.events, p.pick.ruleset, p.pick, p.flags); const sig = k.split('\u0003')[3]; const reads = memo._paths.get(p.pick.ruleset).get(sig); let m = bySig.get(sig); if (!m) bySig.set(sig, m = {reads, keys: new Map(), n:0}); m.n++; m.keys.set(k, (m.keys.get(k)??0)+1); });
for await (const b of kernelLogAdapter.decode(createReadStream(f), { file: f, year: 2026 })) for (const e of b.events) cor.push(e);
cor.flush();
for (const [sig, m] of bySig) { console.log(m.n, m.keys.size, JSON.stringify(m.reads), sig.split('\u0002').map(s=>s.split('\u0001').slice(0,4).join(':')).join(' ')); if (m.keys.size > 50) { const ks=[...m.keys.keys()].slice(0,3); for (const k of ks) console.log('   ', k.split('\u0003')[4].split('\u0002').slice(0,3).join('\n    ')); } }
