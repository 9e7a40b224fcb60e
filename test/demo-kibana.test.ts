/**
 * demo/kibana/saved-objects.ndjson: the Kibana data views, saved searches and dashboard of the demo stack.
 *
 * Kibana cannot run on this machine, so the import itself is not exercised here. What is checked:
 *  - always: the file's structure as Kibana's import reads it (one object per line, unique ids, every reference
 *    resolves, searchSourceJSON / panelsJSON parse, lucene queries) and that every column, sort field and query
 *    field is a field of the index template mapping ruletrail installs (`packetMappings()` / `alertMappings()`);
 *  - with RUN_SERVICE_TESTS=1: every saved search's query string, run as Kibana runs a lucene query
 *    (`query_string`, `analyze_wildcard: true`), against documents written by the real ElasticsearchSink into a
 *    real Elasticsearch: the lab's real kernel captures (test/fixtures/lab) explained by the CLI, one host per
 *    scenario, and the alerts the pipeline's AlertEngine raises on them. Expected matches are derived from each
 *    document's verdict / flags / decidedBy and pinned per scenario.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { explainedPacketRecord, sinkRecordId, type SinkRecord } from '@ruletrail/core';
import type { Explanation } from '@ruletrail/explain';
import { AlertEngine, type AlertRecord, type PipelineConfig } from '@ruletrail/pipeline';
import {
  ES_DEFAULTS,
  ElasticsearchSink,
  alertMappings,
  packetMappings,
  setupElasticsearch,
  type ElasticsearchSinkConfig,
} from '@ruletrail/sink-elasticsearch';
import { explainCapture, type CaptureToExplain } from './support/explain-capture';
import { REPO_ROOT, requireServices } from './support/services';

const FILE = join(REPO_ROOT, 'demo/kibana/saved-objects.ndjson');

interface Reference {
  name: string;
  type: string;
  id: string;
}
interface SavedObject {
  type: string;
  id: string;
  attributes: Record<string, unknown>;
  references: Reference[];
  coreMigrationVersion: string;
  typeMigrationVersion: string;
}
interface SearchSource {
  query: { query: string; language: string };
  filter: unknown[];
  indexRefName?: string;
}
interface Panel {
  type: string;
  panelIndex: string;
  gridData: { x: number; y: number; w: number; h: number; i: string };
  embeddableConfig: Record<string, unknown>;
  panelRefName: string;
}

function loadObjects(): SavedObject[] {
  const lines = readFileSync(FILE, 'utf8').split('\n');
  assert.equal(lines.pop(), '', 'the file ends with a newline');
  return lines.map((line, i) => {
    let o: unknown;
    try {
      o = JSON.parse(line);
    } catch (err) {
      assert.fail(`line ${i + 1} is not JSON: ${(err as Error).message}`);
    }
    assert.ok(o !== null && typeof o === 'object' && !Array.isArray(o), `line ${i + 1} is a JSON object`);
    return o as SavedObject;
  });
}

const OBJECTS = loadObjects();
const ofType = (type: string) => OBJECTS.filter((o) => o.type === type);
const SEARCHES = ofType('search');
const LENSES = ofType('lens');
const DATA_VIEWS = ofType('index-pattern');

function searchSource(o: SavedObject): SearchSource {
  const meta = o.attributes.kibanaSavedObjectMeta as { searchSourceJSON?: unknown } | undefined;
  assert.equal(typeof meta?.searchSourceJSON, 'string', `${o.id}: kibanaSavedObjectMeta.searchSourceJSON`);
  return JSON.parse(meta!.searchSourceJSON as string) as SearchSource;
}

/** The data view a saved search reads, through its searchSourceJSON's indexRefName. */
function dataViewOf(search: SavedObject): SavedObject {
  const name = searchSource(search).indexRefName;
  const ref = search.references.find((r) => r.name === name);
  assert.ok(ref, `${search.id}: indexRefName ${name} names one of its references`);
  assert.equal(ref.type, 'index-pattern', `${search.id}: its indexRefName reference is a data view`);
  const dv = DATA_VIEWS.find((d) => d.id === ref.id);
  assert.ok(dv, `${search.id}: data view ${ref.id} is in the file`);
  return dv;
}

/** The mapping ruletrail installs for the data streams a data view's pattern covers. */
function mappingOf(dataView: SavedObject): Record<string, unknown> {
  const title = dataView.attributes.title;
  if (title === `${ES_DEFAULTS.index}*`) return packetMappings();
  if (title === `${ES_DEFAULTS.alertIndex}*`) return alertMappings();
  assert.fail(
    `${dataView.id}: title ${String(title)} is neither ${ES_DEFAULTS.index}* nor ${ES_DEFAULTS.alertIndex}*`,
  );
}

/** Searchable field path → type of a mapping (objects with `enabled: false` and `index: false` fields left out). */
function mappedFields(mapping: Record<string, unknown>, prefix = '', out = new Map<string, string>()) {
  const props = (mapping.properties ?? {}) as Record<string, Record<string, unknown>>;
  for (const [name, def] of Object.entries(props)) {
    const path = prefix + name;
    if (def.enabled === false) continue;
    if (def.properties) mappedFields(def, `${path}.`, out);
    else if (typeof def.type === 'string' && def.index !== false) {
      out.set(path, def.type);
      for (const [sub, subDef] of Object.entries((def.fields ?? {}) as Record<string, { type: string }>))
        out.set(`${path}.${sub}`, subDef.type);
    }
  }
  return out;
}

/** Field names a lucene query string names (`field:value`, `field:(a OR b)`). */
function queryFields(query: string): string[] {
  return [...query.matchAll(/([A-Za-z_@][\w.@-]*):/g)].map((m) => m[1]!);
}

/** Attributes Kibana's schemas accept (dashboard model version 1 forbids unknown keys; search up to version 5). */
const ALLOWED_ATTRIBUTES: Record<string, readonly string[]> = {
  'index-pattern': [
    'title',
    'name',
    'timeFieldName',
    'allowHidden',
    'fieldAttrs',
    'fieldFormatMap',
    'fields',
    'runtimeFieldMap',
    'sourceFilters',
  ],
  search: [
    'title',
    'description',
    'columns',
    'sort',
    'grid',
    'hideChart',
    'isTextBasedQuery',
    'timeRestore',
    'kibanaSavedObjectMeta',
  ],
  lens: ['title', 'description', 'visualizationType', 'state'],
  dashboard: [
    'title',
    'description',
    'panelsJSON',
    'optionsJSON',
    'timeRestore',
    'timeFrom',
    'timeTo',
    'refreshInterval',
    'version',
    'kibanaSavedObjectMeta',
  ],
};

const SEARCH_TITLES = {
  kubeMarkDrop: 'ruletrail: packets marked for drop by KUBE-MARK-DROP',
  kubeProxy: 'ruletrail: kube-proxy DROP/REJECT',
  dropped: 'ruletrail: all dropped or rejected packets',
  unexplained: 'ruletrail: unexplained (snapshot mismatch / unknown verdict)',
  alerts: 'ruletrail: alerts',
} as const;
type SearchKey = keyof typeof SEARCH_TITLES;

function searchTitled(key: SearchKey): SavedObject {
  const s = SEARCHES.find((o) => o.attributes.title === SEARCH_TITLES[key]);
  assert.ok(s, `a saved search titled '${SEARCH_TITLES[key]}'`);
  return s;
}

function dashboardPanels(d: SavedObject): Panel[] {
  assert.equal(typeof d.attributes.panelsJSON, 'string', `${d.id}: panelsJSON`);
  const panels = JSON.parse(d.attributes.panelsJSON as string) as unknown;
  assert.ok(Array.isArray(panels), `${d.id}: panelsJSON is an array`);
  return panels as Panel[];
}

describe('demo/kibana saved objects (structure)', () => {
  it('one saved object per line, with type, id, attributes, references and migration versions', () => {
    assert.ok(OBJECTS.length > 0);
    for (const o of OBJECTS) {
      assert.ok(['index-pattern', 'search', 'lens', 'dashboard'].includes(o.type), `${o.id}: type ${o.type}`);
      assert.equal(typeof o.id, 'string');
      assert.ok(o.attributes && typeof o.attributes === 'object', `${o.id}: attributes`);
      assert.ok(Array.isArray(o.references), `${o.id}: references`);
      assert.equal(o.coreMigrationVersion, '8.8.0', `${o.id}: coreMigrationVersion`);
      assert.match(o.typeMigrationVersion, /^\d+\.\d+\.\d+$/, `${o.id}: typeMigrationVersion`);
    }
    assert.deepEqual(
      OBJECTS.map((o) => o.type),
      [
        'index-pattern',
        'index-pattern',
        'search',
        'search',
        'search',
        'search',
        'search',
        'lens',
        'lens',
        'lens',
        'dashboard',
      ],
      'data views first, then searches and Lens visualizations, then the dashboard',
    );
  });

  it('ids are unique and readable', () => {
    const ids = OBJECTS.map((o) => o.id);
    assert.equal(new Set(ids).size, ids.length, `duplicate ids in ${ids.join(', ')}`);
    for (const id of ids) assert.match(id, /^ruletrail-[a-z0-9-]+$/);
  });

  it('every reference of every object resolves to an object of that type in the file', () => {
    for (const o of OBJECTS) {
      const names = o.references.map((r) => r.name);
      assert.equal(new Set(names).size, names.length, `${o.id}: reference names are unique`);
      for (const r of o.references) {
        const target = OBJECTS.find((t) => t.id === r.id);
        assert.ok(target, `${o.id}: reference ${r.name} → ${r.id} is in the file`);
        assert.equal(target.type, r.type, `${o.id}: reference ${r.name} → ${r.id} has type ${r.type}`);
      }
    }
  });

  it("attributes stay within the keys Kibana's saved-object schemas accept", () => {
    for (const o of OBJECTS) {
      const allowed = ALLOWED_ATTRIBUTES[o.type]!;
      for (const k of Object.keys(o.attributes)) assert.ok(allowed.includes(k), `${o.id}: attribute ${k}`);
      assert.equal(typeof o.attributes.title, 'string', `${o.id}: title`);
    }
  });

  it('data views on the ruletrail-packets* and ruletrail-alerts* data streams, @timestamp, a name', () => {
    assert.deepEqual(DATA_VIEWS.map((d) => d.attributes.title).sort(), [
      `${ES_DEFAULTS.alertIndex}*`,
      `${ES_DEFAULTS.index}*`,
    ]);
    // docker-compose.yml makes this one the default data view (POST /api/data_views/default).
    assert.ok(
      DATA_VIEWS.some((d) => d.id === 'ruletrail-packets' && d.attributes.title === 'ruletrail-packets*'),
    );
    for (const d of DATA_VIEWS) {
      const fields = mappedFields(mappingOf(d));
      assert.equal(d.attributes.timeFieldName, '@timestamp');
      assert.equal(fields.get('@timestamp'), 'date', `${d.id}: @timestamp is a date in the mapping`);
      assert.ok(
        typeof d.attributes.name === 'string' && d.attributes.name !== d.attributes.title,
        `${d.id}: name`,
      );
      for (const k of ['fieldAttrs', 'fieldFormatMap', 'runtimeFieldMap'])
        assert.equal(typeof JSON.parse(d.attributes[k] as string), 'object', `${d.id}: ${k} is JSON`);
      for (const k of ['fields', 'sourceFilters'])
        assert.ok(Array.isArray(JSON.parse(d.attributes[k] as string)), `${d.id}: ${k} is a JSON array`);
      // Ports shown as 52000, not 52,000.
      const formats = JSON.parse(d.attributes.fieldFormatMap as string) as Record<string, unknown>;
      for (const f of Object.keys(formats)) assert.equal(fields.get(f), 'long', `${d.id}: format for ${f}`);
    }
  });

  it('the five saved searches: lucene queries, indexRefName pointing at a data view reference', () => {
    assert.deepEqual(SEARCHES.map((s) => s.attributes.title).sort(), Object.values(SEARCH_TITLES).sort());
    for (const s of SEARCHES) {
      const src = searchSource(s);
      assert.equal(src.query.language, 'lucene', `${s.id}: lucene`);
      assert.ok(src.query.query.trim().length > 0, `${s.id}: a query`);
      assert.deepEqual(
        src.filter,
        [],
        `${s.id}: everything is in the query string (nothing hidden in filters)`,
      );
      assert.equal(src.indexRefName, 'kibanaSavedObjectMeta.searchSourceJSON.index');
      dataViewOf(s);
      assert.deepEqual(s.attributes.sort, [['@timestamp', 'desc']], `${s.id}: newest first`);
      assert.equal(s.attributes.isTextBasedQuery, false);
    }
    assert.equal(dataViewOf(searchTitled('alerts')).attributes.title, `${ES_DEFAULTS.alertIndex}*`);
    for (const k of ['kubeMarkDrop', 'kubeProxy', 'dropped', 'unexplained'] as const)
      assert.equal(dataViewOf(searchTitled(k)).attributes.title, `${ES_DEFAULTS.index}*`);
  });

  it('columns, sort fields and query fields are fields of the index template mapping ruletrail installs', () => {
    for (const s of SEARCHES) {
      const fields = mappedFields(mappingOf(dataViewOf(s)));
      const columns = s.attributes.columns as string[];
      assert.ok(columns.length > 0, `${s.id}: columns`);
      for (const c of columns) assert.ok(fields.has(c), `${s.id}: column ${c} is mapped`);
      for (const [f] of s.attributes.sort as [string, string][])
        assert.equal(fields.get(f), 'date', `${s.id}: sort field ${f}`);
      const q = queryFields(searchSource(s).query.query);
      assert.ok(q.length > 0, `${s.id}: the query names fields`);
      for (const f of q) {
        assert.ok(fields.has(f), `${s.id}: query field ${f} is mapped`);
        assert.equal(
          fields.get(f),
          'keyword',
          `${s.id}: query field ${f} is a keyword (exact, case-sensitive)`,
        );
      }
    }
  });

  it("the dashboard: today's hits, every saved search and Lens visualization as a panel", () => {
    const dashboards = ofType('dashboard');
    assert.equal(dashboards.length, 1);
    const d = dashboards[0]!;
    assert.equal(d.attributes.title, 'ruletrail — today');
    assert.equal(d.attributes.timeRestore, true);
    assert.equal(d.attributes.timeFrom, 'now/d');
    assert.equal(d.attributes.timeTo, 'now');
    assert.equal(typeof JSON.parse(d.attributes.optionsJSON as string), 'object');
    assert.equal(searchSource(d).query.language, 'lucene');
    const panels = dashboardPanels(d);
    const used: string[] = [];
    for (const p of panels) {
      assert.ok(['search', 'lens'].includes(p.type), `${p.panelIndex}: a saved search or Lens panel`);
      assert.equal(p.gridData.i, p.panelIndex);
      assert.equal(p.panelRefName, `panel_${p.panelIndex}`);
      const ref = d.references.find((r) => r.name === `${p.panelIndex}:${p.panelRefName}`);
      assert.ok(ref, `${p.panelIndex}: reference ${p.panelIndex}:${p.panelRefName}`);
      assert.equal(ref.type, p.type);
      assert.ok(
        OBJECTS.some((s) => s.id === ref.id && s.type === p.type),
        `${p.panelIndex}: ${p.type} ${ref.id} is in the file`,
      );
      used.push(ref.id);
      const g = p.gridData;
      assert.ok(
        g.x >= 0 && g.y >= 0 && g.w > 0 && g.h > 0 && g.x + g.w <= 48,
        `${p.panelIndex}: fits 48 columns`,
      );
    }
    assert.equal(new Set(panels.map((p) => p.panelIndex)).size, panels.length, 'unique panel ids');
    assert.deepEqual(
      used.sort(),
      [...SEARCHES, ...LENSES].map((s) => s.id).sort(),
      'each saved search and Lens visualization once',
    );
    assert.equal(d.references.length, panels.length, 'no reference without a panel');
    for (const a of panels)
      for (const b of panels) {
        if (a === b) continue;
        const [p, q] = [a.gridData, b.gridData];
        const overlap = p.x < q.x + q.w && q.x < p.x + p.w && p.y < q.y + q.h && q.y < p.y + p.h;
        assert.ok(!overlap, `panels ${a.panelIndex} and ${b.panelIndex} do not overlap`);
      }
  });
});

interface LensColumn {
  operationType: string;
  sourceField: string;
  dataType: string;
  isBucketed: boolean;
  params?: { size?: number; orderBy?: { type: string; columnId?: string } };
}
interface LensState {
  datasourceStates: {
    formBased: {
      layers: Record<string, { columns: Record<string, LensColumn>; columnOrder: string[] }>;
    };
  };
  visualization: {
    layers?: { layerId: string; xAccessor?: string; splitAccessor?: string; accessors: string[] }[];
    layerId?: string;
    columns?: { columnId: string }[];
  };
  query: { query: string; language: string };
  filters: unknown[];
}

describe('demo/kibana Lens visualizations (structure, against the installed mapping)', () => {
  const lensTitled = (title: string) => {
    const l = LENSES.find((o) => o.attributes.title === title);
    assert.ok(l, `a Lens visualization titled '${title}'`);
    return l;
  };
  const state = (l: SavedObject) => l.attributes.state as LensState;
  /** column id → its definition, for the one layer. */
  const columnsOf = (l: SavedObject) => {
    const layers = state(l).datasourceStates.formBased.layers;
    assert.deepEqual(Object.keys(layers), ['l1'], `${l.id}: one layer`);
    return layers.l1!;
  };

  it("the report's summary views: verdicts over time, top deciding rules, top services of DROP/REJECT", () => {
    const v = lensTitled('ruletrail: verdicts over time');
    assert.equal(v.attributes.visualizationType, 'lnsXY');
    const vc = columnsOf(v).columns;
    assert.equal(vc.time?.operationType, 'date_histogram');
    assert.equal(vc.time?.sourceField, '@timestamp');
    assert.equal(vc.verdict?.sourceField, 'verdict');
    const vl = state(v).visualization.layers![0]!;
    assert.deepEqual([vl.xAccessor, vl.splitAccessor, vl.accessors], ['time', 'verdict', ['count']]);

    const r = lensTitled('ruletrail: top deciding rules');
    assert.equal(r.attributes.visualizationType, 'lnsDatatable');
    assert.deepEqual(
      ['table', 'chain', 'rulenum'].map((c) => columnsOf(r).columns[c]?.sourceField),
      ['decidedBy.table', 'decidedBy.chain', 'decidedBy.rulenum'],
    );

    const s = lensTitled('ruletrail: top Kubernetes services, DROP/REJECT');
    assert.equal(columnsOf(s).columns.service?.sourceField, 'kubernetes.service');
    assert.match(state(s).query.query, /verdict:\(DROP OR REJECT\)/);
  });

  it('every column is a field of the packets mapping of the right type; accessors name columns; lucene queries', () => {
    assert.equal(LENSES.length, 3);
    for (const l of LENSES) {
      const ref = l.references.find((r) => r.name === 'indexpattern-datasource-layer-l1');
      assert.ok(ref, `${l.id}: the layer's data view reference`);
      assert.equal(ref.type, 'index-pattern');
      const dv = DATA_VIEWS.find((d) => d.id === ref.id);
      assert.ok(dv, `${l.id}: data view ${ref.id} is in the file`);
      const fields = mappedFields(mappingOf(dv));
      const { columns, columnOrder } = columnsOf(l);
      assert.deepEqual(
        [...columnOrder].sort(),
        Object.keys(columns).sort(),
        `${l.id}: columnOrder lists every column`,
      );
      for (const [id, c] of Object.entries(columns)) {
        if (c.operationType === 'count') {
          assert.equal(c.sourceField, '___records___', `${l.id}.${id}: count of documents`);
          continue;
        }
        const type = fields.get(c.sourceField);
        assert.ok(type, `${l.id}.${id}: ${c.sourceField} is mapped`);
        if (c.operationType === 'date_histogram') assert.equal(type, 'date', `${l.id}.${id}`);
        else {
          assert.equal(c.operationType, 'terms', `${l.id}.${id}`);
          assert.ok(['keyword', 'long'].includes(type), `${l.id}.${id}: terms on ${c.sourceField} (${type})`);
          assert.equal(c.dataType, type === 'long' ? 'number' : 'string', `${l.id}.${id}: dataType`);
          assert.ok(c.params?.size && c.params.size > 0, `${l.id}.${id}: a size`);
          if (c.params.orderBy?.type === 'column')
            assert.ok(columns[c.params.orderBy.columnId!], `${l.id}.${id}: ordered by a column of the layer`);
        }
      }
      const vis = state(l).visualization;
      const named = vis.layers
        ? vis.layers.flatMap((x) => [x.xAccessor, x.splitAccessor, ...x.accessors].filter(Boolean))
        : vis.columns!.map((c) => c.columnId);
      for (const a of named) assert.ok(columns[a!], `${l.id}: accessor ${a} is a column`);
      const q = state(l).query;
      assert.equal(q.language, 'lucene');
      assert.deepEqual(state(l).filters, [], `${l.id}: nothing hidden in filters`);
      for (const f of queryFields(q.query))
        assert.equal(fields.get(f), 'keyword', `${l.id}: query field ${f}`);
    }
  });
});

// ------------------------------------------------------------------------------------- against Elasticsearch

const LAB = join(REPO_ROOT, 'test/fixtures/lab');
const NFT = join(REPO_ROOT, 'packages/ingest-nft-monitor/test/fixtures/kube-proxy');

interface Scenario extends CaptureToExplain {
  /** Matches per saved search, pinned (the derived expectations below must agree with these). */
  readonly expect: Readonly<Record<Exclude<SearchKey, 'alerts'>, number>> & {
    packets: number;
    alerts: number;
  };
}

function labScenario(name: string, rules: string, expect: Scenario['expect']): Scenario {
  const dir = join(LAB, name, 'kernel-log');
  return {
    name,
    host: `demo-${name}`,
    rules: [join(dir, rules)],
    capture: join(dir, 'kern.log'),
    kernelLog: true,
    expect,
  };
}

const SCENARIOS: readonly Scenario[] = [
  // 52000: KUBE-MARK-DROP → KUBE-FIREWALL DROP; 80: ACCEPT after DNAT.
  labScenario('incident', 'iptables-save.txt', {
    packets: 2,
    kubeMarkDrop: 1,
    kubeProxy: 1,
    dropped: 1,
    unexplained: 0,
    alerts: 2,
  }),
  // kube-proxy ≥ 1.28: REJECT "has no endpoints", DROP "has no local endpoints" in KUBE-EXTERNAL-SERVICES.
  labScenario('modern-kube-proxy', 'iptables-save.txt', {
    packets: 3,
    kubeMarkDrop: 0,
    kubeProxy: 2,
    dropped: 2,
    unexplained: 0,
    alerts: 2,
  }),
  // Plain `-A INPUT -j DROP` and `-A LAB-APP -j DROP`: dropped, but not by kube-proxy.
  labScenario('explicit-drop', 'iptables-save.txt', {
    packets: 3,
    kubeMarkDrop: 0,
    kubeProxy: 0,
    dropped: 2,
    unexplained: 0,
    alerts: 0,
  }),
  labScenario('snat-masquerade', 'iptables-save.txt', {
    packets: 2,
    kubeMarkDrop: 0,
    kubeProxy: 0,
    dropped: 0,
    unexplained: 0,
    alerts: 0,
  }),
  // UDP REJECT and ICMP DROP by plain INPUT rules.
  labScenario('udp-icmp', 'iptables-save.txt', {
    packets: 3,
    kubeMarkDrop: 0,
    kubeProxy: 0,
    dropped: 2,
    unexplained: 0,
    alerts: 0,
  }),
  labScenario('ipv6', 'ip6tables-save.txt', {
    packets: 3,
    kubeMarkDrop: 1,
    kubeProxy: 1,
    dropped: 1,
    unexplained: 0,
    alerts: 2,
  }),
  // Only the stale snapshot: the first packet is the incident, the second is flagged snapshot_mismatch.
  labScenario('drift', 'iptables-save.txt', {
    packets: 2,
    kubeMarkDrop: 1,
    kubeProxy: 1,
    dropped: 1,
    unexplained: 1,
    alerts: 2,
  }),
  // kube-proxy nftables mode (`nft monitor trace`): no-endpoints drops in table kube-proxy (flagged from the
  // verdict map); the two IPv6 packets pass the only ip6 base chain (trace6 prerouting), so they are ACCEPT with
  // nothing after PREROUTING traced (they were UNKNOWN before completion followed the snapshot's base chains).
  {
    name: 'kube-proxy-nftables',
    host: 'demo-kube-proxy-nftables',
    rules: [join(NFT, 'ruleset.json')],
    capture: join(NFT, 'nft-monitor.txt'),
    kernelLog: false,
    // The four drops carry no service name (nftables mode has no comments): one alert, then one repeat of 3.
    expect: { packets: 15, kubeMarkDrop: 0, kubeProxy: 4, dropped: 4, unexplained: 0, alerts: 2 },
  },
];

const droppedOrRejected = (x: Explanation) => x.verdict === 'DROP' || x.verdict === 'REJECT';

/**
 * What each saved search must find, from the explained documents themselves. A kube-proxy rule decided the drop
 * when the deciding rule is in one of kube-proxy's KUBE-* chains (iptables modes) or in its nftables table.
 */
const EXPECTED: Readonly<Record<Exclude<SearchKey, 'alerts'>, (x: Explanation) => boolean>> = {
  kubeMarkDrop: (x) => x.flags.includes('kube_mark_drop'),
  kubeProxy: (x) =>
    droppedOrRejected(x) &&
    x.decidedBy !== undefined &&
    (x.decidedBy.chain.startsWith('KUBE-') || x.decidedBy.table === 'kube-proxy'),
  dropped: droppedOrRejected,
  unexplained: (x) => x.verdict === 'UNKNOWN' || x.flags.includes('snapshot_mismatch'),
};

interface Hit {
  _id: string;
  fields?: Record<string, unknown[]>;
}

describe('demo/kibana saved searches against real Elasticsearch (explained lab captures)', function () {
  this.timeout(120_000);
  let esUrl: string;
  let cfg: ElasticsearchSinkConfig & { index: string; alertIndex: string };
  const packets = new Map<string, { scenario: Scenario; x: Explanation }>();
  const alerts: SinkRecord[] = [];

  async function es<T>(method: string, path: string, body?: unknown): Promise<T> {
    const r = await fetch(`${esUrl}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await r.text();
    assert.ok(r.ok, `${method} ${path}: ${r.status} ${text}`);
    return JSON.parse(text) as T;
  }

  /** A saved search run the way Kibana runs a lucene query, on the data view's pattern with this run's names. */
  async function runSearch(s: SavedObject): Promise<Hit[]> {
    const title = dataViewOf(s).attributes.title as string;
    const pattern = title.startsWith(ES_DEFAULTS.alertIndex)
      ? cfg.alertIndex + title.slice(ES_DEFAULTS.alertIndex.length)
      : cfg.index + title.slice(ES_DEFAULTS.index.length);
    assert.ok(pattern.endsWith('*') && pattern !== title, `${title} rewritten to ${pattern}`);
    const r = await es<{ hits: { total: { value: number }; hits: Hit[] } }>('POST', `/${pattern}/_search`, {
      size: 1000,
      track_total_hits: true,
      // Kibana: query_string with the advanced setting query:queryString:options ({"analyze_wildcard":true}).
      query: {
        bool: { must: [{ query_string: { query: searchSource(s).query.query, analyze_wildcard: true } }] },
      },
      sort: (s.attributes.sort as [string, string][]).map(([f, dir]) => ({ [f]: dir })),
      fields: s.attributes.columns as string[],
      _source: false,
    });
    assert.equal(r.hits.hits.length, r.hits.total.value, 'every hit returned');
    return r.hits.hits;
  }

  const label = (id: string) => {
    const p = packets.get(id);
    if (!p) return `unknown document ${id}`;
    const k = p.x.packet;
    return `${k.host} ${k.proto} ${k.src}:${k.sport ?? ''}->${k.dst}:${k.dport ?? k.icmpType ?? ''} ${p.x.verdict} [${p.x.flags.join(',')}] #${id.slice(0, 6)}`;
  };

  before(async function () {
    const env = requireServices(this, ['ES_URL']);
    esUrl = env.ES_URL!;
    assert.ok(existsSync(join(REPO_ROOT, 'packages/cli/dist/main.js')), 'the CLI is built (npm run build)');
    const run = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
    cfg = {
      nodes: [esUrl],
      apiVersion: env.ES_VERSION?.startsWith('8.') ? 8 : 9,
      index: `${ES_DEFAULTS.index}-kibana-${run}`,
      alertIndex: `${ES_DEFAULTS.alertIndex}-kibana-${run}`,
    };
    await setupElasticsearch(cfg, { replicas: 0 });

    const alertConfig: PipelineConfig['alerts'] = {
      builtin: { kubeMarkDrop: true, kubeNoEndpoints: true },
      rules: [],
      windowMs: 60_000,
      maxPerWindow: 1,
    };
    const engine = new AlertEngine(alertConfig);
    const records: SinkRecord[] = [];
    const alertBodies: AlertRecord[] = [];
    for (const s of SCENARIOS) {
      const xs = explainCapture(s);
      assert.equal(xs.length, s.expect.packets, `${s.name}: packets explained`);
      for (const x of xs) {
        // As the pipeline does: the explanation itself is the document; the id is per packet (its first line).
        const o = x.steps[0]!.origin;
        const rec = explainedPacketRecord(x as unknown as Record<string, unknown>, `${o.file}:${o.line}`);
        packets.set(rec.id, { scenario: s, x });
        records.push(rec);
        alertBodies.push(...engine.evaluate(x));
      }
    }
    alertBodies.push(...engine.flush());
    for (const a of alertBodies)
      alerts.push({
        id: sinkRecordId(
          'alert',
          a.alert.host,
          a.alert.service,
          a.alert.rule,
          a['@timestamp'],
          a.alert.repeat ? 'repeat' : '',
        ),
        key: a.alert.host,
        kind: 'alert',
        timestamp: a['@timestamp'],
        body: a as unknown as Record<string, unknown>,
      });
    assert.equal(new Set(records.map((r) => r.id)).size, records.length, 'one document per packet');

    const sink = new ElasticsearchSink(cfg);
    try {
      const outcomes = await sink.write([...records, ...alerts], new AbortController().signal);
      assert.deepEqual(
        outcomes.filter((o) => o.status !== 'delivered'),
        [],
        'every document delivered',
      );
    } finally {
      await sink.close();
    }
    await es('POST', `/${cfg.index},${cfg.alertIndex}/_refresh`);
  });

  it('the documents are the explained captures: one per packet, in the data stream', async () => {
    const r = await es<{ count: number }>('GET', `/${cfg.index}/_count`);
    assert.equal(r.count, packets.size);
    assert.equal(
      packets.size,
      SCENARIOS.reduce((n, s) => n + s.expect.packets, 0),
    );
  });

  for (const key of ['kubeMarkDrop', 'kubeProxy', 'dropped', 'unexplained'] as const) {
    it(`'${SEARCH_TITLES[key]}' finds exactly the packets it should`, async () => {
      const s = searchTitled(key);
      const hits = await runSearch(s);
      const expected = [...packets].filter(([, p]) => EXPECTED[key](p.x)).map(([id]) => id);
      assert.deepEqual(hits.map((h) => label(h._id)).sort(), expected.map(label).sort());
      // Pinned per scenario, so a change in the explanations (or in the predicate above) shows up here too.
      const per = (ids: string[]) =>
        Object.fromEntries(
          SCENARIOS.map((sc) => [sc.name, ids.filter((id) => packets.get(id)!.scenario === sc).length]),
        );
      assert.deepEqual(
        per(hits.map((h) => h._id)),
        Object.fromEntries(SCENARIOS.map((sc) => [sc.name, sc.expect[key]])),
      );
      // Every column is populated by some hit: the columns show what these documents carry. (An unexplained
      // packet names a service only from steps that could be placed and checked; the lab's one such packet, the
      // stale-snapshot drift probe, has none — the renumbered KUBE-NODEPORTS rule is the step that fails.)
      for (const c of s.attributes.columns as string[])
        if (!(key === 'unexplained' && c === 'kubernetes.service'))
          assert.ok(
            hits.some((h) => h.fields?.[c] !== undefined),
            `column ${c} has a value in some hit`,
          );
    });
  }

  it('KUBE-MARK-DROP hits are the write-up: marked in nat KUBE-MARK-DROP, dropped in filter KUBE-FIREWALL', async () => {
    const hits = await runSearch(searchTitled('kubeMarkDrop'));
    assert.ok(hits.length > 0);
    for (const h of hits) {
      const x = packets.get(h._id)!.x;
      assert.equal(x.verdict, 'DROP', label(h._id));
      assert.deepEqual([x.decidedBy?.table, x.decidedBy?.chain], ['filter', 'KUBE-FIREWALL'], label(h._id));
      assert.ok(
        x.markSetBy?.some((m) => m.chain === 'KUBE-MARK-DROP'),
        label(h._id),
      );
      assert.equal(x.packet.dport, 52000, label(h._id));
    }
  });

  it('kube-proxy DROP/REJECT: both drop paths and nftables mode, never a plain -j DROP/REJECT', async () => {
    const hits = new Set((await runSearch(searchTitled('kubeProxy'))).map((h) => h._id));
    const byPath = { markDrop: 0, noEndpoints: 0, nftables: 0 };
    for (const id of hits) {
      const x = packets.get(id)!.x;
      if (x.decidedBy?.table === 'kube-proxy') byPath.nftables++;
      else if (x.flags.includes('kube_mark_drop')) byPath.markDrop++;
      else if (x.flags.includes('kube_no_endpoints')) byPath.noEndpoints++;
      else assert.fail(`a kube-proxy hit that is neither path: ${label(id)}`);
    }
    assert.deepEqual(byPath, { markDrop: 3, noEndpoints: 2, nftables: 4 });
    // Dropped or rejected by the node's own rules: in 'all dropped or rejected', not here.
    const others = [...packets].filter(([id, p]) => droppedOrRejected(p.x) && !hits.has(id));
    assert.deepEqual(
      others.map(([, p]) => `${p.scenario.name} ${p.x.decidedBy?.chain} ${p.x.verdict}`).sort(),
      [
        'explicit-drop INPUT DROP',
        'explicit-drop LAB-APP DROP',
        'udp-icmp INPUT DROP',
        'udp-icmp INPUT REJECT',
      ],
    );
  });

  it("'ruletrail: alerts' finds every alert the pipeline's AlertEngine raised on these packets", async () => {
    const hits = await runSearch(searchTitled('alerts'));
    assert.deepEqual(hits.map((h) => h._id).sort(), alerts.map((a) => a.id).sort());
    // One per (host, service, built-in alert flag) in the window, plus one `repeat` alert for each such key
    // that matched more than once (the window's suppressed packets, counted).
    const perKey = new Map<string, number>();
    for (const p of packets.values())
      for (const f of p.x.flags.filter((g) => g === 'kube_mark_drop' || g === 'kube_no_endpoints')) {
        const k = `${p.scenario.host}|${p.x.kubernetes?.service ?? ''}|${f}`;
        perKey.set(k, (perKey.get(k) ?? 0) + 1);
      }
    assert.equal(
      hits.length,
      [...perKey.values()].reduce((n, c) => n + (c > 1 ? 2 : 1), 0),
    );
    assert.deepEqual(
      Object.fromEntries(SCENARIOS.map((sc) => [sc.name, alerts.filter((a) => a.key === sc.host).length])),
      Object.fromEntries(SCENARIOS.map((sc) => [sc.name, sc.expect.alerts])),
    );
  });

  it("'ruletrail: alerts' columns have values in the pipeline's alert documents", async () => {
    const s = searchTitled('alerts');
    const hits = await runSearch(s);
    assert.ok(hits.length > 0);
    const columns = s.attributes.columns as string[];
    const empty = columns.filter((c) => !hits.some((h) => h.fields?.[c] !== undefined));
    assert.deepEqual(
      empty,
      [],
      "every column of the alerts search is filled in the pipeline's alert documents",
    );
  });
});
