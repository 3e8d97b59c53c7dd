// An anonymous visitor's browser never receives a single incident point: every response the
// public page gets is inspected, and every crime aggregate it gets holds at least k events.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openContext, layerReady } from './harness.mjs';

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
