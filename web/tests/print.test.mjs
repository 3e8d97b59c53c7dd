// The printable lägesbild renders from /api/v1/lagesbild with its map and tables on one A4 page,
// and the follow-up of the action plan and the pledges on a second.

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

test('the printable lägesbild renders on one page, its follow-up on a second', async () => {
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
  // The follow-up: the demo's five fictitious measures (two done, with their effect in words,
  // three planned or in progress, without), and its pledge with its indicators.
  const measures = print.locator('#measures tbody tr');
  assert.equal(await measures.count(), 5);
  let done = 0;
  for (let i = 0; i < 5; i++) {
    const cells = await measures.nth(i).locator('th, td').allTextContents();
    assert.match(cells[0], /\(fiktiv\)$/);
    if (cells[2] === 'genomförd') {
      done += 1;
      assert.match(cells[4], /mot jämförelseområdet|för få händelser|för tidigt att bedöma/, cells.join(' | '));
    } else {
      assert.match(cells[2], /^(planerad|pågår)$/);
      assert.equal(cells[4], '–');
    }
  }
  assert.equal(done, 2);
  const pledges = await print.textContent('#pledges');
  assert.match(pledges, /Tryggare kvällar.*\(fiktivt\)/);
  assert.match(pledges, /Kommunen och polisen/);
  assert.match(pledges, /Planerad synlig polisnärvaro som genomförts/);
  await print.waitForTimeout(300);
  await screenshot(print, 'lagesbild-print');

  const pdf = await print.pdf({ format: 'A4', printBackground: true });
  writeFileSync(path.join(ARTIFACTS, 'lagesbild.pdf'), pdf);
  const pages = (pdf.toString('latin1').match(/\/Type\s*\/Page[^s]/g) || []).length;
  assert.equal(pages, 2, `the lägesbild and its follow-up print on ${pages} pages, not 2`);
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
