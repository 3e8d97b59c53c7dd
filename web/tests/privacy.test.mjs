// An anonymous visitor's browser never receives a single incident point: every response the
// public page gets is inspected, and every crime aggregate it gets holds at least k events.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openContext, layerReady, screenshot, watchPage } from './harness.mjs';

let server;
let browser;

before(async () => {
  server = await startServer({ roles: ['coordinator'] });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** Every feature in a GeoJSON-ish body, wherever it sits. */
function features(body) {
  const out = [];
  const visit = (v) => {
    if (!v || typeof v !== 'object') return;
    if (v.type === 'Feature') out.push(v);
    if (Array.isArray(v)) v.forEach(visit);
    else Object.values(v).forEach(visit);
  };
  visit(body);
  return out;
}

const CONTACT = ['email', 'first_name', 'last_name', 'phone'];

test('the anonymous page never receives raw incident points or contact details', async () => {
  const k = await fetch(`${server.url}/api/v1/config`).then((r) => r.json()).then((c) => c.min_public_count);
  assert.ok(k >= 1);
  // A report with contact details exists, so that their absence means something.
  const form = new URLSearchParams({
    service_code: 'unsafe_place',
    lat: '59.4439',
    long: '18.0686',
    description: 'Otryggt vid entrén på kvällarna.',
    email: 'anna.andersson@example.se',
    first_name: 'Anna',
    last_name: 'Andersson',
    phone: '0701234567',
  });
  const posted = await fetch(`${server.url}/open311/v2/requests.json`, { method: 'POST', body: form });
  assert.ok(posted.ok, `report not accepted: ${posted.status} ${await posted.text()}`);

  const context = await openContext(browser);
  const page = await context.newPage();
  const bodies = [];
  page.on('response', async (res) => {
    const u = new URL(res.url());
    if (u.origin !== server.url) return;
    const type = res.headers()['content-type'] || '';
    if (!/json/.test(type)) return;
    const text = await res.text().catch(() => '');
    bodies.push({ url: u.pathname + u.search, status: res.status(), text });
  });
  await page.goto(`${server.url}/`);
  await page.waitForSelector('body[data-ready="true"]');
  for (const id of ['walkways', 'crime', 'stretches', 'reports']) await layerReady(page, id);
  // Heat map mode too, and a zoom that loads lamps.
  await page.check('input[name="crime-mode"][value="kde"]');
  await layerReady(page, 'crime');
  await page.check('input[name="crime-mode"][value="gistar"]');
  await layerReady(page, 'crime');
  await page.evaluate(() => void window.__lagesbildMap.setView([59.4439, 18.0686], 16));
  await layerReady(page, 'lamps');
  await page.waitForTimeout(500);

  assert.ok(bodies.length >= 5, `saw ${bodies.length} JSON responses`);
  let aggregates = 0;
  for (const b of bodies) {
    assert.ok(!b.url.startsWith('/api/v1/incidents') || b.status === 401, `${b.url} answered ${b.status}`);
    let body;
    try {
      body = JSON.parse(b.text);
    } catch {
      continue;
    }
    for (const key of CONTACT) {
      assert.ok(!b.text.includes(`"${key}"`), `${b.url} contains the contact field ${key}`);
    }
    assert.ok(!b.text.includes('anna.andersson@example.se') && !b.text.includes('0701234567'), `${b.url} leaks contact`);
    if (!b.url.startsWith('/api/v1/hotspots')) continue;
    for (const f of features(body)) {
      assert.notEqual(f.geometry?.type, 'Point', `${b.url} sent a point`);
      assert.notEqual(f.geometry?.type, 'MultiPoint', `${b.url} sent points`);
      // A cell below k may be drawn (its z says it is part of the pattern) but never with its
      // count: the count is withheld (null) rather than shown.
      const c = f.properties.count;
      assert.ok(c === null || c >= k, `${b.url}: aggregate with count ${c} < k=${k}`);
      if (c !== null) aggregates++;
      assert.equal(f.properties.profile, undefined, `${b.url}: weekday × hour profile sent to the public`);
    }
  }
  assert.ok(aggregates > 0, 'the crime layer received aggregates');
  // And the API itself refuses incident points to anonymous callers.
  const res = await page.evaluate(async () => (await fetch('/api/v1/incidents')).status);
  assert.equal(res, 401);
  await context.close();
});

test('the public trends (emerging hot spots) are monthly categories without any cell history', async () => {
  const context = await openContext(browser);
  const page = await context.newPage();
  const errors = watchPage(page);
  await page.goto(`${server.url}/`);
  await page.waitForSelector('body[data-ready="true"]');
  await layerReady(page, 'crime');
  assert.equal((await page.textContent('label:has(input[name="crime-mode"][value="ehsa"])')).trim(), 'Trender');
  const [res] = await Promise.all([
    page.waitForResponse((r) => {
      const u = new URL(r.url());
      return u.pathname === '/api/v1/hotspots' && u.searchParams.get('method') === 'ehsa';
    }),
    page.check('input[name="crime-mode"][value="ehsa"]'),
  ]);
  assert.equal(res.status(), 200);
  assert.equal(new URL(res.url()).searchParams.get('step'), null, 'the public asks for no step (months)');
  const text = await res.text();
  const fc = JSON.parse(text);
  assert.equal(fc.meta.parameters.step, 'month');
  for (const key of ['mk_tau', 'mk_z', 'mk_p', 'history', 'last_z', 'last_p', 'hot_steps', 'cold_steps', 'neighbours']) {
    assert.ok(!text.includes(`"${key}"`), `the public answer holds ${key}`);
  }
  assert.equal(fc.meta.left_out, undefined);
  const k = fc.meta.k;
  for (const f of fc.features) {
    assert.deepEqual(Object.keys(f.properties).sort(), ['category', 'cell', 'count', 'label']);
    assert.ok(f.properties.count === null || f.properties.count >= k, `count ${f.properties.count} < k=${k}`);
  }
  const patterned = fc.features.filter((f) => f.properties.category !== 'no_pattern');
  assert.ok(patterned.length > 0, 'the demo has public cells with a pattern');
  assert.equal(await layerReady(page, 'crime'), patterned.length, 'the layer draws the cells with a pattern');
  // The legend: one row per category with cells, named as the API names it, and the notes.
  const rows = await page.locator('[data-layer="crime"] .ehsa-row').evaluateAll((rs) =>
    rs.map((r) => [r.dataset.category, r.querySelector('.ehsa-name').textContent, r.querySelector('.ehsa-count').textContent]),
  );
  const labels = new Map(fc.features.map((f) => [f.properties.category, f.properties.label]));
  const present = Object.entries(fc.meta.categories).filter(([c, n]) => c !== 'no_pattern' && n > 0);
  assert.deepEqual(
    rows.sort(),
    present.map(([c, n]) => [c, labels.get(c), `${n} ${n === 1 ? 'ruta' : 'rutor'}`]).sort(),
  );
  const note = await page.textContent('[data-layer="crime"] .ehsa-note');
  const prm = fc.meta.parameters;
  assert.ok(note.startsWith(`${prm.steps} månader, ${prm.first_step} – ${prm.last_step}.`), note);
  assert.ok(note.endsWith(`Rutor med färre än ${k} händelser visas utan antal.`), note);
  assert.ok(!(await page.textContent('[data-layer="crime"] .crime-legend')).includes('99 % säkerhet'), 'no Gi* legend');
  await screenshot(page, 'public-ehsa');
  // Back to Gi*: its legend returns.
  await page.check('input[name="crime-mode"][value="gistar"]');
  await layerReady(page, 'crime');
  assert.equal(await page.locator('[data-layer="crime"] .ehsa-row').count(), 0);
  assert.deepEqual(errors, []);
  await context.close();
});
