/**
 * The report in a real browser: Debian's headless Chromium driven by puppeteer-core (no browser download).
 * Runs when Chromium is installed (lab/install.sh installs it, so CI always has it; on CI its absence fails
 * the test instead of skipping it). Loads the report of the bundled incident and of every lab capture
 * (test/fixtures/lab/<scenario>/<channel>), checks the DOM — the DROP packet's path, the summary, the search,
 * keyboard navigation — that no console error and no network request happened, and takes the screenshots in
 * docs/ (report-incident-journey.png; report-summary.png of the lab scenarios; rewritten with UPDATE_SCREENSHOTS=1).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import type { Explanation } from '@ruletrail/explain';
import { REPO_ROOT } from '../../../test/support/services';
import { INCIDENT_ARGS, cli, renderReport } from './support';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const LAB = join(REPO_ROOT, 'test/fixtures/lab');

/** A page with its console errors, failed/any network requests and dialogs recorded. */
interface Loaded {
  page: Page;
  problems: string[];
}

async function load(browser: Browser, file: string, width = 1280): Promise<Loaded> {
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warn') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${(e as Error).message}`));
  page.on('dialog', (d) => {
    problems.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  page.on('request', (r) => {
    if (r.url() !== `file://${file}` && !r.url().startsWith('data:')) problems.push(`request: ${r.url()}`);
  });
  await page.setViewport({ width, height: 900 });
  await page.goto(`file://${file}`, { waitUntil: 'load' });
  return { page, problems };
}

/** The steps of a journey, in order, as `table chain rulenum res [decides]`. */
async function journeySteps(page: Page, sel: string): Promise<string[]> {
  return page.$$eval(`${sel} li.st`, (lis) =>
    lis.map((li) =>
      [
        li.dataset.table,
        li.dataset.chain,
        li.dataset.rulenum,
        li.dataset.res,
        li.classList.contains('decides') ? 'decides' : '',
      ]
        .join(' ')
        .trim(),
    ),
  );
}

const visibleRows = (page: Page) =>
  page.$$eval('table.packets tbody tr', (rows) =>
    rows.filter((r) => !(r as HTMLElement).hidden).map((r) => r.id),
  );

describe('report in a real browser (headless Chromium)', function () {
  this.timeout(180_000);
  let browser: Browser;
  const dir = mkdtempSync(join(tmpdir(), 'ruletrail-report-browser-'));

  before(async function () {
    if (!existsSync(CHROMIUM)) {
      if (process.env.CI)
        assert.fail(`${CHROMIUM} is missing: lab/install.sh installs Debian's chromium on CI`);
      console.log(
        `      (skipped: no Chromium at ${CHROMIUM}; install Debian's chromium or set CHROMIUM_PATH)`,
      );
      this.skip();
    }
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--user-data-dir=${mkdtempSync(join(tmpdir(), 'ruletrail-chromium-'))}`,
      ],
    });
  });

  after(async () => {
    await browser?.close();
  });

  describe('the bundled incident', () => {
    let file: string;
    let l: Loaded;

    before(async () => {
      file = join(dir, 'incident.html');
      cli(['explain', '--format', 'html', '-o', file, '--quiet', ...INCIDENT_ARGS]);
      l = await load(browser, file);
    });
    after(async () => {
      await l?.page.close();
    });

    it('the DROP packet: nat KUBE-NODEPORTS rule 16 → KUBE-XLB-… → KUBE-MARK-DROP → filter KUBE-FIREWALL rule 1', async () => {
      const { page } = l;
      const drop = await page.$eval('article.journey.v-DROP', (a) => a.id);
      const steps = await journeySteps(page, `#${drop}`);
      const at = (re: RegExp, from = 0) => {
        const i = steps.findIndex((s, k) => k >= from && re.test(s));
        assert.ok(i >= 0, `${re} after step ${from} in\n${steps.join('\n')}`);
        return i;
      };
      const a = at(/^nat KUBE-NODEPORTS 16 rule$/);
      const b = at(/^nat KUBE-XLB-\w+ 4 rule$/, a + 1);
      const c = at(/^nat KUBE-MARK-DROP 1 rule$/, b + 1);
      const d = at(/^filter KUBE-FIREWALL 1 rule decides$/, c + 1);
      assert.equal(steps.filter((s) => s.endsWith('decides')).length, 1, 'one deciding step');
      assert.equal(d, steps.length - 1, 'the verdict is the last step');
      // The jump rules that led to the mark are marked as on the deciding path, the mark change shown there.
      for (const [table, chain, n] of [
        ['nat', 'KUBE-NODEPORTS', '16'],
        ['nat', 'PREROUTING', '2'],
        ['filter', 'INPUT', '1'],
      ])
        assert.ok(
          await page.$(
            `#${drop} li.st.onpath[data-table="${table}"][data-chain="${chain}"][data-rulenum="${n}"]`,
          ),
          `${table} ${chain} ${n} on the deciding path`,
        );
      const markNotes = await page.$$eval(`#${drop} li[data-chain="KUBE-MARK-DROP"] .note`, (ns) =>
        ns.map((n) => n.textContent),
      );
      assert.ok(
        markNotes.some((t) => t?.includes('sets mark 0x8000/0x8000')),
        markNotes.join(' | '),
      );
      assert.ok(
        markNotes.some((t) => t?.includes('MARK 0x0 → 0x8000')),
        markNotes.join(' | '),
      );
      // Cause on top, the group count, the diagram's visited tables in order and the deciding cell.
      const cause = await page.$eval(`#${drop} p.cause`, (p) => p.textContent ?? '');
      assert.match(cause, /^✖ DROP dropped by filter KUBE-FIREWALL rule 1 \(mark 0x8000\/0x8000\)/);
      assert.match(await page.$eval(`#${drop} h3`, (h) => h.textContent ?? ''), /1 packet took this path/);
      const cells = await page.$$eval(`#${drop} svg a.cell`, (as) =>
        as.map((a) => `${a.dataset.hook} ${a.dataset.table}`),
      );
      assert.deepEqual(cells, [
        'PREROUTING raw',
        'PREROUTING mangle',
        'PREROUTING nat',
        'INPUT mangle',
        'INPUT filter',
      ]);
      assert.ok(await page.$(`#${drop} svg a.cell[data-hook="INPUT"][data-table="filter"] rect.decides`));
      assert.equal(await page.$$eval(`#${drop} svg circle.stepno`, (c) => c.length), 5);
    });

    it('the ACCEPT packet: the DNAT shown at nat PREROUTING rule 3 as before → after', async () => {
      const { page } = l;
      const note = await page.$eval(
        'article.journey.v-ACCEPT li.st[data-chain="PREROUTING"][data-table="nat"][data-rulenum="3"] .note',
        (n) => n.textContent ?? '',
      );
      assert.equal(note, '⇄ DNAT 172.28.129.4:80 → 172.28.129.4:52000');
      const change = await page.$$eval(
        'article.journey.v-ACCEPT li.st[data-table="mangle"][data-chain="INPUT"] .note',
        (ns) => ns.map((n) => n.textContent),
      );
      assert.deepEqual(change, ['△ DPORT 80 → 52000 (seen from this step on)']);
    });

    it('summary: verdict counts, top deciding rules, services, flags; rows link to their packets', async () => {
      const { page } = l;
      const cards = await page.$$eval('.cards .card', (cs) =>
        cs.map((c) => c.textContent?.replace(/\s+/g, ' ').trim()),
      );
      assert.deepEqual(cards, ['✔ 1ACCEPT · 50.0 %', '✖ 1DROP · 50.0 %']);
      const rules = await page.$$eval('#h-rules + table tbody tr td:first-child a', (as) =>
        as.map((a) => a.textContent),
      );
      assert.deepEqual(rules.sort(), ['filter INPUT policy', 'filter KUBE-FIREWALL rule 1']);
      const svc = await page.$$eval('#h-svc + table tbody tr', (rs) => rs.map((r) => r.textContent));
      assert.deepEqual(svc, ['ootob9/ingress-nginx:httphas no local endpoints1']);
      assert.equal(await page.$$eval('.chart svg rect.bar', (r) => r.length), 2);
      // The service's link filters the packet list to the DROP packet.
      await page.click('#h-svc + table a');
      await page.waitForFunction(() => location.hash.startsWith('#q='));
      assert.equal(
        await page.$eval('#q', (q) => (q as HTMLInputElement).value),
        'svc:ootob9/ingress-nginx:http',
      );
      assert.deepEqual(await visibleRows(page), ['p1']);
      assert.equal(
        await page.evaluate(() => document.activeElement?.id),
        'q',
        'the search box has the focus',
      );
    });

    it('search box: IP ID, TCP options, 5-tuple; Esc clears', async () => {
      const { page } = l;
      const search = async (text: string) => {
        await page.$eval('#q', (q) => ((q as HTMLInputElement).value = ''));
        await page.type('#q', text);
        return visibleRows(page);
      };
      assert.deepEqual(await search('id:41569'), ['p1']);
      assert.deepEqual(await search('opt:020405b40402080ad59b2e87'), ['p2']);
      assert.deepEqual(await search('020405B40402080ACCEE'), ['p1'], 'OPT hex as printed, any case');
      assert.deepEqual(await search('172.28.129.2:42182 dport:80 proto:tcp'), ['p2']);
      assert.deepEqual(await search('verdict:drop flag:kube_mark_drop'), ['p1']);
      assert.deepEqual(await search('nothing-matches'), []);
      assert.match(await page.$eval('#q-count', (c) => c.textContent ?? ''), /^0 of 2 packets match/);
      await page.focus('#q');
      await page.keyboard.press('Escape');
      assert.deepEqual(await visibleRows(page), ['p1', 'p2']);
    });

    it('keyboard: / focuses the search, j/k walk the packets, Enter opens the journey, n/p walk journeys, details toggle', async () => {
      const { page } = l;
      const active = () =>
        page.evaluate(() => {
          const a = document.activeElement;
          return a
            ? `${a.tagName.toLowerCase()}${a.id ? '#' + a.id : ''}|${a.closest('tr')?.id ?? ''}|${a.closest('article')?.id ?? ''}`
            : '';
        });
      await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
      await page.keyboard.press('/');
      assert.equal(await active(), 'input#q||');
      await page.keyboard.press('ArrowDown');
      assert.equal(await active(), 'a|p1|');
      await page.keyboard.press('j');
      assert.equal(await active(), 'a|p2|');
      await page.keyboard.press('k');
      assert.equal(await active(), 'a|p1|');
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => location.hash === '#j1');
      assert.equal(await active(), 'h3#j1-h||j1');
      await page.keyboard.press('n');
      assert.equal(await active(), 'h3#j2-h||j2');
      await page.keyboard.press('p');
      assert.equal(await active(), 'h3#j1-h||j1');
      // A collapsed chain opens from the keyboard: Tab to its summary, Enter.
      const closed = await page.$eval('#j1 details.chain:not([open])', (d) => d.id);
      await page.focus(`#${closed} > summary`);
      await page.keyboard.press('Enter');
      assert.equal(await page.$eval(`#${closed}`, (d) => (d as HTMLDetailsElement).open), true);
      // Tab moves through the diagram's visited tables (SVG links) to the chains.
      await page.$eval('#j1 svg a.cell', (a) => (a as unknown as SVGAElement).focus());
      assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-table')), 'raw');
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => location.hash === '#j1-c0');
    });

    it('no console errors, no network requests, no dialogs', () => {
      assert.deepEqual(l.problems, []);
    });

    it('screenshot: the incident journey', async () => {
      // A fresh page: the keyboard test above opened chains and left the focus ring on one.
      const { page, problems } = await load(browser, file);
      const out = (name: string) =>
        process.env.UPDATE_SCREENSHOTS === '1' ? join(REPO_ROOT, 'docs', name) : join(dir, name);
      const journey = await page.$('article.journey.v-DROP');
      await journey!.screenshot({ path: out('report-incident-journey.png') });
      const png = readFileSync(out('report-incident-journey.png'));
      assert.equal(png.subarray(1, 4).toString(), 'PNG');
      assert.ok(png.length > 20_000, `a real picture (${png.length} bytes)`);
      assert.deepEqual(problems, []);
      await page.close();
    });
  });

  describe('hostile input', () => {
    it('markup and control characters in a rule comment are shown as text, never run', async () => {
      const x = JSON.parse(
        cli(['explain', '--format', 'json', '--quiet', ...INCIDENT_ARGS]).split('\n')[0]!,
      ) as Explanation;
      const evil = '<img src=x onerror="alert(1)"><script>alert(2)</script>\x1b[31m';
      const bad = { ...x, steps: x.steps.map((s) => (s.rule ? { ...s, rule: `${s.rule} "${evil}"` } : s)) };
      const nd = join(dir, 'evil.ndjson');
      writeFileSync(nd, JSON.stringify(bad) + '\n');
      const file = join(dir, 'evil.html');
      cli(['report', '-o', file, '--quiet', nd]);
      const l = await load(browser, file);
      assert.equal(await l.page.$$eval('img', (i) => i.length), 0);
      assert.equal(await l.page.$$eval('script', (s) => s.length), 1);
      const shown = await l.page.$eval('li.st.decides code.rule', (c) => c.textContent ?? '');
      assert.ok(shown.endsWith(`"<img src=x onerror="alert(1)"><script>alert(2)</script>\\x1b[31m"`), shown);
      assert.deepEqual(l.problems, []);
      await l.page.close();
    });
  });

  describe('the lab captures', () => {
    const captures = readdirSync(LAB)
      .flatMap((s) =>
        readdirSync(join(LAB, s)).map((c) => ({ scenario: s, channel: c, dir: join(LAB, s, c) })),
      )
      .filter((c) => existsSync(join(c.dir, 'pass.json')));
    const all: { channel: string; ndjson: string }[] = [];

    for (const cap of captures)
      it(`${cap.scenario}/${cap.channel}: every packet listed, every path drawn, no errors`, async () => {
        const meta = JSON.parse(readFileSync(join(cap.dir, 'pass.json'), 'utf8')) as {
          capture: string;
          rules: string[];
        };
        const ndjson = cli([
          'explain',
          '--format',
          'json',
          '--quiet',
          // Relative paths: the page (and the committed screenshot) shows them.
          ...meta.rules.flatMap((r) => ['--rules', relative(REPO_ROOT, join(cap.dir, r))]),
          relative(REPO_ROOT, join(cap.dir, meta.capture)),
        ]);
        all.push({ channel: cap.channel, ndjson });
        const xs = ndjson
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Explanation);
        assert.ok(xs.length > 0);
        // Rendered in process (the CLI's `report` is run on all of them together below).
        const file = join(dir, `${cap.scenario}-${cap.channel}.html`);
        writeFileSync(file, await renderReport(xs));
        const { page, problems } = await load(browser, file);
        assert.equal((await visibleRows(page)).length, xs.length);
        const journeys = await page.$$eval('article.journey', (as) =>
          as.map((a) => ({ id: a.id, count: Number(a.getAttribute('data-count')), verdict: a.className })),
        );
        assert.equal(
          journeys.reduce((n, j) => n + j.count, 0),
          xs.length,
          'the path groups add up to the packets',
        );
        // Each decided packet's journey marks exactly one deciding step, on the deciding rule's chain.
        for (const [i, x] of xs.entries()) {
          if (!x.decidedBy) continue;
          const id = await page.$eval(`#p${i + 1} a.rowlink`, (a) => a.getAttribute('href')!.slice(1));
          const dec = await page.$$eval(`#${id} li.st.decides`, (ls) =>
            ls.map((l) => `${l.dataset.table} ${l.dataset.chain}`),
          );
          assert.deepEqual(
            dec,
            [`${x.decidedBy.table} ${x.decidedBy.chain}`],
            `${cap.scenario}/${cap.channel} ${id}`,
          );
        }
        assert.deepEqual(problems, []);
        await page.close();
      });

    it('all lab captures in one report: the summary counts them all, the search finds each verdict', async () => {
      const nd = join(dir, 'lab-all.ndjson');
      const text = all.map((a) => a.ndjson).join('');
      writeFileSync(nd, text);
      const n = text.split('\n').filter(Boolean).length;
      const file = join(dir, 'lab-all.html');
      cli(['report', '-o', file, '--quiet', nd]);
      const { page, problems } = await load(browser, file);
      const total = await page.$$eval('.cards .card .big', (bs) =>
        bs.reduce((a, b) => a + Number((b.textContent ?? '').replace(/\D/g, '')), 0),
      );
      assert.equal(total, n);
      for (const v of ['ACCEPT', 'DROP', 'REJECT', 'UNKNOWN']) {
        await page.$eval('#q', (q) => ((q as HTMLInputElement).value = ''));
        await page.type('#q', `verdict:${v.toLowerCase()}`);
        const rows = await visibleRows(page);
        const want = await page.$$eval(`table.packets tbody tr[data-verdict="${v}"]`, (r) => r.length);
        assert.ok(want > 0, `the lab has ${v} packets`);
        assert.equal(rows.length, want, v);
      }
      assert.deepEqual(problems, []);
      await page.close();
    });

    it('screenshot: the summary of the lab scenarios (kernel-log channel, the reference)', async () => {
      const xs = all
        .filter((a) => a.channel === 'kernel-log')
        .flatMap((a) => a.ndjson.split('\n').filter(Boolean))
        .map((l) => JSON.parse(l) as Explanation);
      const file = join(dir, 'lab-kernel-log.html');
      writeFileSync(file, await renderReport(xs, { title: 'ruletrail report: the lab scenarios' }));
      const { page, problems } = await load(browser, file);
      const shot =
        process.env.UPDATE_SCREENSHOTS === '1'
          ? join(REPO_ROOT, 'docs/report-summary.png')
          : join(dir, 'summary.png');
      await (await page.$('#summary'))!.screenshot({ path: shot });
      assert.ok(readFileSync(shot).length > 20_000);
      assert.deepEqual(problems, []);
      await page.close();
    });
  });
});
