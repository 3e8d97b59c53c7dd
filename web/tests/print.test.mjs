// The printable lägesbild renders from /api/v1/lagesbild with its map and tables, and prints on
// one A4 page.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startServer, launchBrowser, openContext, screenshot, watchPage, ARTIFACTS } from './harness.mjs';

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

test('the printable lägesbild renders on one page', async () => {
  const context = await openContext(browser, { token: server.tokens.coordinator });
  const page = await context.newPage();
  const errors = watchPage(page);
  // Opened from the map's export tab, as a coordinator would.
  await page.goto(`${server.url}/`);
  await page.waitForSelector('body[data-role="coordinator"]');
  await page.getByRole('tab', { name: 'Export' }).click();
  const [print] = await Promise.all([context.waitForEvent('page'), page.click('#print-link')]);
  const perrors = watchPage(print);
  await print.waitForSelector('body[data-ready]', { timeout: 20_000 });
  assert.equal(await print.getAttribute('body', 'data-ready'), 'true', await print.textContent('#error'));
  const url = new URL(print.url());
  assert.equal(url.pathname, '/print.html');
  assert.ok(url.searchParams.get('from') && url.searchParams.get('to'), 'period passed on');

  // Every table has rows, the demo's figures are there, and the map drew.
  for (const id of ['groups', 'districts', 'hotspots', 'stretches', 'bra']) {
    const rows = await print.locator(`#${id} tbody tr`).count();
    assert.ok(rows > 0, `table ${id} has rows`);
    assert.doesNotMatch(await print.textContent(`#${id} tbody`), /^Inga\.$/, `table ${id} is not empty`);
  }
  assert.ok((await print.locator('#print-map path').count()) > 0, 'hotspots and stretches drawn on the map');
  // Categories by their Swedish names, not the API's codes.
  const hotspotText = await print.textContent('#hotspots tbody');
  assert.match(hotspotText, /Stöld|Misshandel|Narkotikabrott|Skadegörelse/);
  assert.doesNotMatch(hotspotText, /\b(theft|assault|drug_offence|vandalism|disturbance)\b/);
  assert.match(await print.textContent('#period'), /Period: .+ – .+/);
  await print.waitForTimeout(300);
  await screenshot(print, 'lagesbild-print');

  const pdf = await print.pdf({ format: 'A4', printBackground: true });
  writeFileSync(path.join(ARTIFACTS, 'lagesbild.pdf'), pdf);
  const pages = (pdf.toString('latin1').match(/\/Type\s*\/Page[^s]/g) || []).length;
  assert.equal(pages, 1, `the lägesbild prints on ${pages} pages`);
  assert.deepEqual(errors, []);
  assert.deepEqual(perrors, []);
  await context.close();
});

test('the lägesbild asks an anonymous visitor to sign in', async () => {
  const context = await openContext(browser);
  const page = await context.newPage();
  await page.goto(`${server.url}/print.html`);
  await page.waitForSelector('body[data-ready="error"]');
  assert.match(await page.textContent('#error'), /Logga in/);
  const status = await page.evaluate(async () => (await fetch('/api/v1/lagesbild')).status);
  assert.equal(status, 401);
  await context.close();
});
