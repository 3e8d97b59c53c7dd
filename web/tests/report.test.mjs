// A citizen reports a dark path by tapping the map; the coordinator finds it in the inbox,
// changes its status, and the citizen's follow-up page and the public map show the change.

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

test('citizen report → coordinator inbox → status change → public view', async () => {
  // --- the citizen, on a phone ---------------------------------------------------------------
  const citizen = await openContext(browser, { viewport: { width: 412, height: 860 }, mobile: true });
  const page = await citizen.newPage();
  const errors = watchPage(page);
  await page.goto(`${server.url}/`);
  await page.waitForSelector('body[data-ready="true"]');
  await layerReady(page, 'reports');
  const before = Number(await page.getAttribute('[data-layer="reports"]', 'data-count'));
  await page.evaluate(() => void window.__lagesbildMap.setView([59.4439, 18.0686], 16));
  await page.getByRole('button', { name: 'Rapportera' }).click();
  await page.waitForSelector('#report-panel:not([hidden])');
  // Tap the map above the bottom sheet; a tap that lands on a marker opens its popup instead,
  // so try a few empty-looking spots.
  const box = await page.locator('#map').boundingBox();
  let placed = false;
  for (const [fx, dy] of [[0.5, 120], [0.3, 150], [0.7, 100], [0.4, 190], [0.6, 230]]) {
    await page.mouse.click(box.x + box.width * fx, box.y + dy);
    placed = await page
      .waitForSelector('#report-panel form .service-option', { timeout: 4_000 })
      .then(() => true)
      .catch(() => false);
    if (placed) break;
    await page.evaluate(() => void window.__lagesbildMap.closePopup());
  }
  assert.ok(placed, 'a tap on the map chose a place for the report');
  assert.match(await page.textContent('#report-panel .place'), /Vald plats: 59\.\d+, 18\.\d+/);
  await page.getByLabel(/Mörk gångväg/).check();
  // Answer the service's required questions, whatever they are.
  await page.waitForTimeout(300);
  for (const set of await page.locator('#report-panel .attributes fieldset').all()) {
    const first = set.locator('input').first();
    if ((await first.getAttribute('type')) === 'radio') await first.check();
  }
  const description = 'Helt mörkt på gångvägen mellan busshållplatsen och skolan sedan en vecka.';
  await page.fill('#report-description', description);
  await screenshot(page, 'report-filled');
  await page.getByRole('button', { name: 'Skicka rapporten' }).click();
  await page.waitForSelector('.report-id', { timeout: 10_000 });
  const id = (await page.textContent('.report-id')).trim();
  assert.match(id, /^\S+$/);
  const followHref = await page.getAttribute('.follow-link', 'href');
  assert.equal(followHref, `#/arende/${encodeURIComponent(id)}`);
  await screenshot(page, 'report-thanks');
  await page.waitForFunction((n) => Number(document.querySelector('[data-layer="reports"]').dataset.count) > n, before);

  // --- the coordinator -----------------------------------------------------------------------
  const coord = await openContext(browser);
  const cpage = await coord.newPage();
  const cerrors = watchPage(cpage);
  await cpage.goto(`${server.url}/`);
  await cpage.waitForSelector('body[data-ready="true"]');
  await cpage.getByRole('button', { name: 'Logga in' }).click();
  await cpage.fill('#signin-token', server.tokens.coordinator);
  await cpage.getByRole('button', { name: 'Logga in' }).last().click();
  await cpage.waitForSelector('body[data-role="coordinator"]');
  assert.equal(await cpage.evaluate(() => sessionStorage.getItem('lagesbild.token')), server.tokens.coordinator);
  await cpage.getByRole('tab', { name: 'Inkorg' }).click();
  const item = cpage.locator(`.inbox-list li[data-report-id="${id}"]`);
  await item.waitFor();
  assert.match(await item.textContent(), /Helt mörkt på gångvägen/);
  await item.locator('button').click();
  await cpage.waitForSelector('.inbox-detail form.moderate');
  await cpage.selectOption('.moderate select[name=status]', 'in_progress');
  await cpage.fill('.moderate textarea[name=status_notes]', 'Elektriker beställd, lampan byts vecka 48.');
  await cpage.selectOption('.moderate select[name=agency_responsible]', 'kommunen');
  await cpage.getByRole('button', { name: 'Spara' }).click();
  await cpage.waitForSelector('.toast:has-text("är uppdaterat")');
  // The inbox filter is "open" by default; show all to see the report again with its history.
  await cpage.selectOption('#inbox-status', '');
  await cpage.locator(`.inbox-list li[data-report-id="${id}"] button`).click();
  await cpage.waitForSelector('.inbox-detail .history li');
  await screenshot(cpage, 'coordinator-inbox');

  // --- the citizen follows the report ---------------------------------------------------------
  await page.goto(`${server.url}/${followHref}`);
  await page.waitForSelector('#follow-status');
  await page.waitForSelector('#follow:has-text("lampan byts vecka 48")');
  await screenshot(page, 'report-follow-in-progress');

  // Closing it shows on the public view too.
  await cpage.selectOption('.moderate select[name=status]', 'closed');
  await cpage.fill('.moderate input[name=reason]', 'Lampan är utbytt.');
  await cpage.getByRole('button', { name: 'Spara' }).click();
  await cpage.waitForSelector('.toast:has-text("är uppdaterat")');
  await page.reload();
  await page.waitForSelector('#follow-status');
  assert.equal((await page.textContent('#follow-status')).trim(), 'Avslutad');
  await layerReady(page, 'reports');
  assert.ok(await page.locator('.report-icon.status-closed').count() >= 1, 'closed report drawn as closed');
  await screenshot(page, 'report-follow-closed');
  assert.deepEqual(errors, []);
  assert.deepEqual(cerrors, []);
  await citizen.close();
  await coord.close();
});
