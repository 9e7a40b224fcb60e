/**
 * The chaos scenarios that fit CI's time (issue #15, item 4), with the real services of services/start.sh and
 * RUN_SERVICE_TESTS=1 (skipped with the reason otherwise). Each runs a real `ruletrail run` over a known set of
 * lab packets, injects its fault, and checks the sink's ledger: no packet lost, nothing foreign, duplicates only
 * from the unacknowledged window, every fault recovered from, a clean exit at the final SIGTERM. The longer
 * runs documented in docs/reliability.md use `npm run chaos` with more packets.
 */
import assert from 'node:assert/strict';
import { requireServices } from '../support/services';
import { killRuns } from './harness';
import {
  elasticsearchScenario,
  enospcScenario,
  kafkaScenario,
  killScenario,
  networkScenario,
  type ScenarioResult,
} from './scenarios';

/**
 * What a scenario must show. `maxDuplicatesPerFault`: the unacknowledged window, i.e. what can be delivered
 * after the last checkpoint or offset commit and before the fault (a crash, a redelivery): checkpoints every
 * 200 ms–1 s and the packets still open in the correlator hold the position back, at 60–150 packets/s.
 */
function assertLedger(r: ScenarioResult, maxDuplicatesPerFault: number): void {
  for (const [sink, l] of Object.entries(r.sinks)) {
    assert.equal(l.lost, 0, `${r.scenario}/${sink}: ${l.lost} lost, e.g. ${l.missing.join(', ')} (${r.dir})`);
    assert.equal(l.foreign, 0, `${r.scenario}/${sink}: ${l.foreign} records that are no packet of the set`);
    assert.equal(l.delivered, l.packets);
    assert.ok(
      l.duplicated <= r.faults * maxDuplicatesPerFault,
      `${r.scenario}/${sink}: ${l.duplicated} duplicates for ${r.faults} faults`,
    );
  }
  for (const [i, ms] of r.recoveryMs.entries())
    assert.ok(Number.isFinite(ms), `${r.scenario}: fault ${i + 1} never recovered (${r.dir})`);
  assert.equal(r.exit, 0, `${r.scenario}: ruletrail run exited ${r.exit} (log: ${r.dir}/run.log)`);
}

const log = (m: string): void => console.log(`      ${m}`);

describe('chaos: every packet in the sink, none lost, whatever fails', function () {
  this.timeout(600_000);
  afterEach(killRuns);

  it('ruletrail run SIGKILLed at random points while its file is rotated by rename and copytruncate', async function () {
    requireServices(this, []);
    const r = await killScenario({ packets: 1500, seed: 15, log });
    log(`kill: ${JSON.stringify(r.sinks.file)} recovery ${r.recoveryMs.join(', ')} ms`);
    assert.ok(r.faults >= 2, `only ${r.faults} kills landed while the packets were written`);
    assertLedger(r, 1000);
  });

  it('the Kafka broker killed -9 and restarted under the consumer group and the Kafka sink', async function () {
    requireServices(this, ['KAFKA_BROKERS', 'KAFKA_PID_FILE']);
    const r = await kafkaScenario({ packets: 1500, log });
    log(`kafka: ${JSON.stringify(r.sinks.kafka)} recovery ${r.recoveryMs.join(', ')} ms`);
    assertLedger(r, 1500);
  });

  it('Elasticsearch stopped for 30 s mid-bulk and restarted', async function () {
    requireServices(this, ['ES_URL']);
    const r = await elasticsearchScenario({ packets: 2000, log });
    log(`elasticsearch: ${JSON.stringify(r.sinks.elasticsearch)} recovery ${r.recoveryMs.join(', ')} ms`);
    // Elasticsearch `create` with the record's deterministic _id: a re-sent bulk adds no document.
    assertLedger(r, 0);
  });

  it('Toxiproxy between the pipeline and Kafka / Elasticsearch: latency, resets, half-open, refused', async function () {
    requireServices(this, ['ES_URL', 'TOXIPROXY_URL', 'KAFKA_PROXIED_BROKERS', 'KAFKA_PROXIED_UPSTREAM']);
    const r = await networkScenario({ packets: 1500, faultMs: 5000, log });
    for (const n of r.notes) log(n);
    assert.equal(r.faults, 8);
    assertLedger(r, 200);
  });

  it('the dead-letter file on a tmpfs that fills up (ENOSPC), then grows', async function () {
    requireServices(this, []);
    if (process.getuid?.() !== 0) {
      log('skipped: the enospc scenario mounts a tmpfs (root only)');
      this.skip();
    }
    const r = await enospcScenario({ packets: 1000, log });
    for (const n of r.notes) log(n);
    assertLedger(r, 0);
  });
});
