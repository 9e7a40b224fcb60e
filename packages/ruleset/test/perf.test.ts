/**
 * A big kube-proxy node has ~50k rules: the parse must account for every one. How fast it is, is measured by
 * `npx tsx packages/ruleset/test/bench.ts` (and `npm run bench`), not asserted here: a wall-clock bound in a
 * unit test either flakes on a loaded machine or is too loose to catch anything.
 */
import assert from 'node:assert/strict';
import { parseIptablesSave } from '../src/index';
import { countRules, kubeProxySave } from './kube-gen';

describe('parseIptablesSave at kube-proxy scale', () => {
  it('parses a 50k-rule kube-proxy save file with every rule accounted for', function () {
    this.timeout(60000);
    const text = kubeProxySave(50000);
    const expected = countRules(text);
    assert.ok(expected >= 50000);
    const rs = parseIptablesSave(text, { source: 'kube-50k.save' });
    let rules = 0;
    for (const t of rs.tables.values()) for (const c of t.chains.values()) rules += c.rules.length;
    assert.equal(rules, expected);
    // One KUBE-SERVICES rule per service (8 rules each) plus the final nodeports rule.
    assert.equal(rs.tables.get('nat')!.chains.get('KUBE-SERVICES')!.rules.length, Math.ceil(50000 / 8) + 1);
  });
});
