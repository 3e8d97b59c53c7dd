// The coordinator's and the police's tools: incidents with clustering, DBSCAN clusters, Gi*
// cells, emerging hot spots by month and by week, period comparison, the ranked dark stretches
// with the what-if tool, exports, and the police's ranked hotspots with weekday × hour tables and
// the patrol plan downloads.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startServer, launchBrowser, openContext, layerReady, screenshot, watchPage } from './harness.mjs';

let server;
let browser;

before(async () => {
  server = await startServer({ roles: ['coordinator', 'police'] });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function downloadText(page, click) {
  const [download] = await Promise.all([page.waitForEvent('download'), click()]);
  return { name: download.suggestedFilename(), text: readFileSync(await download.path(), 'utf8') };
}

test('coordinator: analysis layers, filters, comparison, exports', async () => {
  const context = await openContext(browser, { token: server.tokens.coordinator });
  const page = await context.newPage();
  const errors = watchPage(page);
  await page.goto(`${server.url}/`);
  await page.waitForSelector('body[data-role="coordinator"]');
  assert.ok((await layerReady(page, 'incidents')) > 100, 'incident points drawn');
  assert.ok((await page.locator('.incident-cluster').count()) > 0, 'incidents are clustered');
  assert.ok((await layerReady(page, 'clusters')) > 0, 'DBSCAN clusters drawn');
  assert.equal(await page.locator('[data-layer="crime"]').count(), 0, 'public crime layer replaced');
  await screenshot(page, 'coordinator-clusters');

  await page.getByRole('tab', { name: 'Analys' }).click();
  await page.check('input[name=method][value=gistar]');
  await page.check('input[name=compare]');
  await page.selectOption('select[name=hourFrom]', '18');
  await page.selectOption('select[name=hourTo]', '4');
  await page.getByRole('button', { name: 'Visa på kartan' }).click();
  assert.ok((await layerReady(page, 'cells')) > 0, 'Gi* cells drawn');
  assert.ok((await layerReady(page, 'compare')) > 0, 'comparison drawn');
  assert.ok((await page.locator('[data-layer="compare"] .legend-row').count()) >= 4);
  await page.getByRole('tab', { name: 'Lager' }).click();
  await screenshot(page, 'coordinator-gistar-compare');

  await page.getByRole('tab', { name: 'Export' }).click();
  const geo = await downloadText(page, () => page.getByRole('button', { name: 'Ladda ned GeoJSON' }).click());
  assert.match(geo.name, /\.geojson$/);
  const fc = JSON.parse(geo.text);
  assert.equal(fc.type, 'FeatureCollection');
  const layers = new Set(fc.features.map((f) => f.properties.layer));
  for (const l of ['incidents', 'cells', 'compare', 'stretches']) assert.ok(layers.has(l), `export has ${l}`);
  const csv = await downloadText(page, () => page.getByRole('button', { name: 'Ladda ned CSV' }).click());
  const lines = csv.text.trim().split(/\r\n/);
  assert.match(lines[0], /^\uFEFF?layer,geometry,lon,lat/);
  assert.equal(lines.length - 1, fc.features.length);
  // The whole picture as a GeoPackage from the server: an SQLite file with the GPKG id.
  const [gpkg] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Ladda ned GeoPackage (QGIS)' }).click(),
  ]);
  assert.match(gpkg.suggestedFilename(), /^lagesbild-\d{4}-\d{2}-\d{2}-v\d+\.gpkg$/);
  const bytes = readFileSync(await gpkg.path());
  assert.equal(bytes.subarray(0, 16).toString('latin1'), 'SQLite format 3\0');
  assert.equal(bytes.subarray(68, 72).toString('latin1'), 'GPKG');
  await page.waitForFunction(() => /är nedladdad/.test(document.querySelector('#side-body')?.textContent || ''));
  assert.deepEqual(errors, []);
  await context.close();
});

/** An EHSA answer's request: /api/v1/hotspots with method=ehsa (and the step, if given). */
const ehsaRequest = (step) => (r) => {
  const u = new URL(r.url());
  return u.pathname === '/api/v1/hotspots' && u.searchParams.get('method') === 'ehsa' && (!step || u.searchParams.get('step') === step);
};

/** The legend's category rows: category, name and cell count, in their order. */
const ehsaRows = (page) =>
  page.locator('[data-layer="ehsa"] .ehsa-row').evaluateAll((rows) =>
    rows.map((r) => ({
      category: r.dataset.category,
      name: r.querySelector('.ehsa-name').textContent,
      count: r.querySelector('.ehsa-count').textContent,
      why: r.querySelector('.ehsa-why').textContent,
    })),
  );

/** What the legend must say of an answer: the categories with cells, as the API labels them. */
function expectedRows(fc) {
  const labels = new Map(fc.features.map((f) => [f.properties.category, f.properties.label]));
  const present = Object.entries(fc.meta.categories).filter(([c, n]) => c !== 'no_pattern' && n > 0);
  for (const [c, n] of Object.entries(fc.meta.categories)) {
    assert.equal(fc.features.filter((f) => f.properties.category === c).length, n, `meta.categories.${c} counts its cells`);
  }
  return { labels, present: new Map(present) };
}

function checkLegend(rows, fc) {
  const { labels, present } = expectedRows(fc);
  assert.equal(rows.length, present.size, `one row per category with cells: ${[...present.keys()]}`);
  assert.equal(new Set(rows.map((r) => r.category)).size, rows.length, 'no category twice');
  for (const r of rows) {
    assert.ok(present.has(r.category), `${r.category} has cells`);
    assert.equal(r.name, labels.get(r.category), `the Swedish name of ${r.category}`);
    const n = present.get(r.category);
    assert.equal(r.count, `${n.toLocaleString('sv-SE')} ${n === 1 ? 'ruta' : 'rutor'}`, `the count of ${r.category}`);
    assert.match(r.why, /^(Signifikant )?([Ff]ler|[Ff]ärre) brott än väntat /, `an explanation for ${r.category}`);
  }
  // Hot spots first, then cold spots.
  const kinds = rows.map((r) => (r.category.endsWith('_hot_spot') ? 0 : 1));
  assert.deepEqual(kinds, [...kinds].sort());
}

const drawnOf = (fc) => fc.features.filter((f) => f.properties.category !== 'no_pattern').length;

test('coordinator: emerging hot spots by month and by week, and a period too short for them', async () => {
  const context = await openContext(browser, { token: server.tokens.coordinator });
  const page = await context.newPage();
  const errors = watchPage(page);
  await page.goto(`${server.url}/`);
  await page.waitForSelector('body[data-role="coordinator"]');
  await layerReady(page, 'incidents');
  // The points and clusters off, for a clear picture of the trends.
  await page.uncheck('#layer-incidents');
  await page.uncheck('#layer-clusters');
  // The layer is there, off until chosen; the trends are not a mode of the cells layer too.
  assert.equal(await page.isChecked('#layer-ehsa'), false);
  assert.equal(await page.textContent('[data-layer="ehsa"] .layer-head label'), 'Trender över tid (framväxande hotspots)');
  assert.equal(await page.locator('input[name="cells-mode"]').count(), 2);
  assert.equal(await page.locator('input[name="cells-mode"][value="ehsa"]').count(), 0);
  assert.equal(await page.isChecked('input[name="ehsa-step"][value="month"]'), true, 'months by default');

  // Months.
  const [res] = await Promise.all([page.waitForResponse(ehsaRequest()), page.check('#layer-ehsa')]);
  assert.equal(res.status(), 200);
  assert.equal(new URL(res.url()).searchParams.get('step'), 'month');
  const fc = await res.json();
  const prm = fc.meta.parameters;
  assert.equal(prm.step, 'month');
  const drawn = await layerReady(page, 'ehsa');
  assert.ok(drawn > 0, 'the demo has cells with a pattern');
  assert.equal(drawn, drawnOf(fc), 'every cell with a pattern is drawn, no_pattern cells are not');
  checkLegend(await ehsaRows(page), fc);
  const note = await page.textContent('[data-layer="ehsa"] .ehsa-note');
  assert.ok(note.startsWith(`${prm.steps} månader, ${prm.first_step} – ${prm.last_step}.`), note);
  assert.match(note, /signifikans efter FDR \(5 %\), trend med Mann–Kendall\./);
  if (fc.meta.left_out.outside_steps > 0) {
    assert.ok(note.includes(`${fc.meta.left_out.outside_steps} händelser före eller efter de hela månaderna räknas inte.`), note);
  }
  if (fc.meta.left_out.across_steps > 0) {
    assert.ok(note.includes(`${fc.meta.left_out.across_steps} händelser räknas inte, eftersom deras tid bara är känd till ett tidsfönster som inte ryms i en månad.`), note);
  }
  // A cell's tooltip: its name, its count, the last twelve months as boxes, and the trend.
  const tipText = await page.evaluate(() => {
    let cell = null;
    window.__lagesbildMap.eachLayer((l) => {
      if (!cell && l.feature?.properties?.history) cell = l;
    });
    cell.openTooltip(cell.getBounds().getCenter());
    const el = document.querySelector('.leaflet-tooltip');
    return { text: el.textContent, boxes: el.querySelectorAll('.ehsa-step').length, label: cell.feature.properties.label };
  });
  assert.ok(tipText.text.startsWith(tipText.label), tipText.text);
  assert.match(tipText.text, /Antal \d+/);
  assert.match(tipText.text, /Fler brott än väntat i \d+ av \d+ månader, färre i \d+\./);
  assert.match(tipText.text, /Trend: τ [-−]?\d+,\d{2}, p (< )?\d+,\d{3}$/);
  assert.equal(tipText.boxes, Math.min(12, prm.steps));
  await page.locator('[data-layer="ehsa"]').scrollIntoViewIfNeeded();
  await screenshot(page, 'coordinator-ehsa-months');

  // Weeks.
  const [wres] = await Promise.all([page.waitForResponse(ehsaRequest('week')), page.check('input[name="ehsa-step"][value="week"]')]);
  assert.equal(wres.status(), 200);
  const wfc = await wres.json();
  const wprm = wfc.meta.parameters;
  assert.equal(wprm.step, 'week');
  assert.ok(wprm.steps > prm.steps);
  assert.equal(await layerReady(page, 'ehsa'), drawnOf(wfc));
  checkLegend(await ehsaRows(page), wfc);
  const wnote = await page.textContent('[data-layer="ehsa"] .ehsa-note');
  assert.ok(wnote.startsWith(`${wprm.steps} veckor, ${wprm.first_step} – ${wprm.last_step}.`), wnote);
  assert.match(wprm.first_step, /^\d{4}-W\d{2}$/);
  await screenshot(page, 'coordinator-ehsa-weeks');

  // A period of five months holds too few whole months: the server's message shows, and the
  // old cells leave the map; weeks are enough.
  await page.check('input[name="ehsa-step"][value="month"]');
  await layerReady(page, 'ehsa');
  await page.getByRole('tab', { name: 'Analys' }).click();
  const to = await page.inputValue('input[name=to]');
  const from = new Date(Date.parse(to) - 150 * 86_400_000).toISOString().slice(0, 10);
  await page.fill('input[name=from]', from);
  const [bad] = await Promise.all([
    page.waitForResponse(ehsaRequest('month')),
    page.getByRole('button', { name: 'Visa på kartan' }).click(),
  ]);
  assert.equal(bad.status(), 400);
  const body = await bad.json();
  assert.match(body.error, /at least 10 whole months/);
  await page.getByRole('tab', { name: 'Lager' }).click();
  await page.waitForSelector('[data-layer="ehsa"][data-state="error"]');
  assert.equal(await page.getAttribute('[data-layer="ehsa"]', 'data-count'), '0');
  assert.equal(await page.textContent('[data-layer="ehsa"] .layer-message'), body.error);
  assert.equal(await page.textContent('[data-layer="ehsa"] .layer-status'), 'Kunde inte laddas');
  assert.match(await page.textContent('[data-layer="ehsa"] .ehsa-box'), /Trender kräver minst 10 hela månader/);
  assert.equal(await page.locator('[data-layer="ehsa"] .ehsa-row').count(), 0);
  assert.equal(
    await page.evaluate(() => {
      let n = 0;
      window.__lagesbildMap.eachLayer((l) => l.feature?.properties?.history !== undefined && n++);
      return n;
    }),
    0,
    'no EHSA cell left on the map',
  );
  await page.locator('[data-layer="ehsa"]').scrollIntoViewIfNeeded();
  await screenshot(page, 'coordinator-ehsa-too-short');
  const [short] = await Promise.all([page.waitForResponse(ehsaRequest('week')), page.check('input[name="ehsa-step"][value="week"]')]);
  assert.equal(short.status(), 200);
  const sfc = await short.json();
  assert.equal(await layerReady(page, 'ehsa'), drawnOf(sfc));
  assert.equal(await page.textContent('[data-layer="ehsa"] .layer-message'), '');
  assert.equal(sfc.meta.parameters.from, from);

  // Signing out takes the layer away and brings the public crime layer back.
  await page.click('#signin-button');
  await page.waitForSelector('body[data-role="anonymous"]');
  assert.equal(await page.locator('[data-layer="ehsa"]').count(), 0);
  await layerReady(page, 'crime');
  // The one console error is the browser's own line for the 400 answer, which the test asked for.
  assert.deepEqual(
    errors.filter((e) => !/Failed to load resource: the server responded with a status of 400/.test(e)),
    [],
  );
  await context.close();
});

test('coordinator: ranked dark stretches and the what-if lamp tool', async () => {
  const context = await openContext(browser, { token: server.tokens.coordinator });
  const page = await context.newPage();
  const errors = watchPage(page);
  await page.goto(`${server.url}/`);
  await page.waitForSelector('body[data-role="coordinator"]');
  await page.getByRole('tab', { name: 'Belysning' }).click();
  await page.waitForSelector('.stretch-list .stretch-item');
  const items = await page.locator('.stretch-list .stretch-item').count();
  assert.ok(items > 0);
  assert.match(await page.textContent('.stretch-list li:first-child'), /^1\./);
  assert.ok((await page.locator('.stretch-list li:first-child .reasons li').count()) > 0, 'reasons listed');
  // Zoom to the worst stretch and propose lamps along it.
  await page.locator('.stretch-list .stretch-item').first().click();
  await page.waitForTimeout(400);
  const line = await page.evaluate(() => {
    const layers = [];
    window.__lagesbildMap.eachLayer((l) => l.getLatLngs && l.options.color === '#facc15' && layers.push(l));
    const ll = layers[0].getLatLngs().flat(2);
    return ll.map((p) => [p.lat, p.lng]);
  });
  const picks = [0.2, 0.5, 0.8].map((f) => line[Math.min(line.length - 1, Math.floor(f * line.length))]);
  for (const [lat, lng] of picks) {
    await page.evaluate(([lat, lng]) => void window.__lagesbildMap.setView([lat, lng]), [lat, lng]);
    await page.getByRole('button', { name: 'Lampa i kartans mitt' }).click();
  }
  assert.equal(await page.locator('.proposals li').count(), 3);
  await page.getByRole('button', { name: 'Beräkna effekt' }).click();
  await page.waitForSelector('.whatif-result p');
  const text = await page.textContent('.whatif-result');
  assert.match(text, /\d+ sträckor blir tillräckligt belysta/);
  await screenshot(page, 'coordinator-whatif');
  assert.deepEqual(errors, []);
  await context.close();
});

test('police: ranked hotspots with weekday × hour tables and the patrol plan', async () => {
  const context = await openContext(browser, { token: server.tokens.police });
  const page = await context.newPage();
  const errors = watchPage(page);
  await page.goto(`${server.url}/`);
  await page.waitForSelector('body[data-role="police"]');
  assert.equal(await page.getByRole('tab', { name: 'Inkorg' }).count(), 0, 'police has no report inbox');
  assert.equal(await page.locator('[data-layer="ehsa"]').count(), 1, 'police has the trends layer');
  await page.getByRole('tab', { name: 'Patrull' }).click();
  await page.waitForSelector('.hotspot-list .hotspot');
  const n = await page.locator('.hotspot-list .hotspot').count();
  assert.ok(n > 0);
  const table = page.locator('.hotspot-list .hotspot').first().locator('table.profile');
  assert.equal(await table.locator('tbody tr').count(), 7);
  assert.equal(await table.locator('tbody tr').first().locator('td').count(), 24);
  assert.match(await page.textContent('.hotspot-list .hotspot:first-child'), /Mest händelser/);
  // Visible police over the last four weeks: the demo's fictitious visits against the plan's
  // windows of 2–4 hours (an hour less or more on the nights the clocks change), at most 26
  // minutes in an occurrence, in two of every three; per week and per hotspot.
  await page.waitForSelector('.dosage .dosage-total');
  const total = await page.textContent('.dosage .dosage-total');
  const m = total.match(/^([\d,]+) av ([\d,\s ]+) planerade timmar .*; (\d+) av (\d+) patrulltillfällen fick dosen; (\d+) besök, (\d+) av dem 10–16 minuter\.$/);
  assert.ok(m, total);
  const num = (x) => Number(x.replace(/[\s ]/g, '').replace(',', '.'));
  const [delivered, planned, met, occ, visits, inDose] = m.slice(1).map(num);
  assert.ok(planned >= 2 * occ - 1 && planned <= 4 * occ + 1, total);
  assert.ok(delivered <= (occ * 26) / 60 + 0.05, total);
  assert.ok(met > 0 && met < occ, total);
  assert.ok(visits > 0 && inDose === visits, total);
  assert.ok(delivered > 0 && delivered < planned, total);
  assert.ok((await page.locator('.dosage-weeks tbody tr').count()) >= 4, 'four weeks, by ISO week');
  const ids = await page.evaluate(async () => {
    const res = await fetch('/api/v1/patrol/dosage', { headers: { authorization: `Bearer ${sessionStorage.getItem('lagesbild.token')}` } });
    return (await res.json()).hotspots.map((x) => x.id);
  });
  const listed = await page.locator('.hotspot-list .hotspot').evaluateAll((els) => els.map((e) => e.dataset.hotspotId));
  const shared = listed.filter((id) => ids.includes(id));
  for (const id of shared) {
    assert.match(
      await page.textContent(`.hotspot[data-hotspot-id="${id}"] .dosage-line`),
      /^Närvaro senaste fyra veckorna: [\d,]+ av [\d,]+ h, \d+ av \d+ tillfällen med dos$/,
    );
  }
  assert.equal(await page.locator('.dosage-line').count(), shared.length);
  await screenshot(page, 'police-patrol');

  // Near repeats for burglaries: the table has one row per distance band and one column per
  // time band with the server's labels, and the sentence is the server's.
  const [resp] = await Promise.all([
    page.waitForResponse((r) => r.url().includes('/api/v1/near-repeat')),
    page.getByRole('button', { name: 'Beräkna' }).click(),
  ]);
  assert.equal(resp.status(), 200);
  assert.match(resp.url(), /categories=burglary/);
  const nr = await resp.json();
  await page.waitForSelector('.nr-table tbody tr');
  assert.equal(await page.locator('.nr-table tbody tr').count(), nr.space_bands.length);
  assert.equal(await page.locator('.nr-table thead th').count(), nr.time_bands.length + 1);
  assert.deepEqual(
    await page.locator('.nr-table tbody th').allTextContents(),
    nr.space_bands.map((b) => b.label),
  );
  assert.equal(await page.textContent('.nr-statement'), nr.statement);
  assert.equal(await page.locator('.nr-table td.significant').count(), nr.cells.filter((c) => c.significant).length);
  await page.locator('.near-repeat').scrollIntoViewIfNeeded();
  await screenshot(page, 'police-near-repeat');

  const csv = await downloadText(page, () => page.getByRole('button', { name: 'Patrullplan (CSV)' }).click());
  const rows = csv.text.trim().split(/\r?\n/);
  assert.ok(rows.length - 1 === n, `csv has ${rows.length - 1} hotspots, the list ${n}`);
  assert.match(rows[0], /rank/);
  const gpx = await downloadText(page, () => page.getByRole('button', { name: 'Patrullplan (GPX)' }).click());
  assert.match(gpx.text, /^<\?xml/);
  assert.match(gpx.text, /<gpx [^>]*version="1\.1"/);
  assert.equal((gpx.text.match(/<wpt /g) || []).length, n);
  assert.deepEqual(errors, []);
  await context.close();
});

test('incident times and hour profiles say as much as is known, not more', async () => {
  const context = await openContext(browser, { token: server.tokens.coordinator });
  const page = await context.newPage();
  await page.goto(`${server.url}/`);
  await page.waitForSelector('body[data-role="coordinator"]');
  const when = await page.evaluate(async () => {
    const m = await import('/js/i18n.js');
    return [
      { time: '2026-03-07T14:00:00+01:00', time_precision: 'hour' },
      { time: '2026-03-07T00:00:00+01:00', time_precision: 'date' },
      { time: '2026-02-01T00:00:00+01:00', time_precision: 'month' },
      { time: '2026-03-06T18:00:00+01:00', time_precision: 'window', time_to: '2026-03-09T07:00:00+01:00' },
      { time: '2026-03-06T22:10:00+01:00', time_precision: 'exact' },
    ].map((p) => m.fmtWhen(p));
  });
  // Swedish, Europe/Stockholm: an hour as a range, a date without a clock, a month by name, a
  // window between its ends.
  assert.match(when[0], /^7 mars 2026 kl\. 14–15$/);
  assert.match(when[1], /^7 mars 2026 \(klockslag okänt\)$/);
  assert.equal(when[2], 'februari 2026');
  assert.match(when[3], /^mellan 6 mars 2026 18:00 och 9 mars 2026 07:00$/);
  assert.match(when[4], /^6 mars 2026 22:10$/);
  // A profile of aoristic weights: whole events as they are, fractions to one decimal, traces
  // as "<0,1", and a note of the window-spread weight and the events without an hour.
  const cells = await page.evaluate(async () => {
    const { profileTable } = await import('/js/profile.js');
    const rows = Array.from({ length: 7 }, () => Array(24).fill(0));
    rows[4][22] = 10.4918;
    rows[4][18] = 0.4918;
    rows[0][3] = 0.0164;
    rows[2][12] = 3;
    const table = profileTable(rows, { caption: 'P', peak: 'fre 19–23', uncertain: 30, withoutHour: 5 });
    const td = (d, hr) => table.querySelectorAll('tbody tr')[d].querySelectorAll('td')[hr].textContent;
    return [td(4, 22), td(4, 18), td(0, 3), td(2, 12), td(1, 1), table.querySelector('caption').textContent];
  });
  assert.deepEqual(cells.slice(0, 5), ['10,5', '0,5', '<0,1', '3', '']);
  assert.match(cells[5], /^P · Mest händelser: fre 19–23 · 30 händelser med bara ett tidsfönster/);
  assert.match(cells[5], /5 utan klockslag/);
  await context.close();
});
