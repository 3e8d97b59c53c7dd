// The coordinator's åtgärdsplan: the demo's measures in the list, a new one planned with a point
// clicked on the map, then done; the effect of a done one; the plan out as CSV; and a dark
// stretch's lamp proposal planned as a measure from the lighting tab.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startServer, launchBrowser, openContext, screenshot, watchPage } from './harness.mjs';

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

test('coordinator: plan, change and follow up measures, and plan a lamp proposal', async () => {
  const context = await openContext(browser, { token: server.tokens.coordinator });
  const page = await context.newPage();
  const errors = watchPage(page);
  await page.goto(`${server.url}/`);
  await page.waitForSelector('body[data-role="coordinator"]');

  await page.getByRole('tab', { name: 'Åtgärder' }).click();
  await page.waitForSelector('.measure-list .measure');
  assert.equal(await page.locator('.measure-list .measure').count(), 5);
  assert.equal(await page.locator('.measure[data-status="done"]').count(), 2);

  // A done measure's effect, in words.
  const patrol = page.locator('.measure[data-status="done"]', { hasText: 'Synlig polis' });
  await patrol.getByRole('button', { name: 'Effekt' }).click();
  await patrol.locator('.effect').waitFor();
  assert.match(await patrol.locator('.effect').textContent(), /Effekt: .+\(\d+ → \d+; jämförelseområdet \d+ → \d+\)/);

  // A new measure with a point clicked on the map.
  await page.getByRole('button', { name: 'Ny åtgärd' }).click();
  await page.fill('#measure-title', 'Kamera vid <b>busshållplatsen</b>');
  await page.selectOption('#measure-kind', 'camera');
  await page.getByRole('button', { name: 'Placera punkter på kartan' }).click();
  const map = page.locator('#map');
  const box = await map.boundingBox();
  // A click on a marker of another layer is that marker's: try a few empty-looking places.
  for (const [fx, fy] of [[0.92, 0.12], [0.85, 0.9], [0.6, 0.5], [0.97, 0.5]]) {
    await page.mouse.click(box.x + box.width * fx, box.y + box.height * fy);
    if (/1 punkter/.test(await page.locator('.measure-form').textContent())) break;
  }
  assert.match(await page.locator('.measure-form').textContent(), /1 punkter/);
  await page.getByRole('button', { name: 'Spara' }).click();
  await page.waitForFunction(() => document.querySelectorAll('.measure-list .measure').length === 6);
  const mine = page.locator('.measure', { hasText: 'busshållplatsen' });
  // Text stays text.
  assert.equal(await mine.locator('strong').textContent(), 'Kamera vid <b>busshållplatsen</b>');
  assert.equal(await mine.getAttribute('data-status'), 'planned');

  // Done, with its date.
  await mine.getByRole('button', { name: 'Ändra' }).click();
  await page.selectOption('#measure-status', 'done');
  await page.getByRole('button', { name: 'Spara' }).click();
  await page.waitForFunction(() => document.querySelector('.measure-form .form-error')?.textContent);
  assert.match(await page.locator('.measure-form .form-error').textContent(), /done_date/);
  const today = new Date().toLocaleDateString('sv-SE', { timeZone: 'Europe/Stockholm' });
  await page.fill('#measure-done', today);
  await page.getByRole('button', { name: 'Spara' }).click();
  await page.waitForSelector('.measure[data-status="done"]:has-text("busshållplatsen")');
  await screenshot(page, 'coordinator-measures');

  // The plan as CSV: the header and one row per measure.
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Exportera CSV' }).click(),
  ]);
  assert.equal(download.suggestedFilename(), 'atgardsplan.csv');
  const csv = readFileSync(await download.path(), 'utf8').trim().split(/\r?\n/);
  assert.match(csv[0], /^id,title,kind,status,/);
  assert.equal(csv.length, 7);

  // The first dark stretch's lamp proposal, planned as a measure in one step.
  await page.getByRole('tab', { name: 'Belysning' }).click();
  const first = page.locator('.stretch-list li', { has: page.locator('button.propose') }).first();
  await first.locator('button.propose').click();
  await first.locator('.proposal').waitFor();
  const proposal = first.locator('.proposal');
  assert.match(await proposal.textContent(), /lamp(a|or)/);
  if ((await proposal.getAttribute('data-meets')) === 'true') {
    await proposal.getByRole('button', { name: 'Planera som åtgärd' }).click();
    await first.locator('.proposal', { hasText: /Åtgärd \d+ planerad/ }).waitFor();
    await page.getByRole('tab', { name: 'Åtgärder' }).click();
    await page.waitForFunction(() => document.querySelectorAll('.measure-list .measure').length === 7);
  }
  // The one failed request is the save refused above for its missing date.
  assert.deepEqual(errors, ['console: Failed to load resource: the server responded with a status of 400 (Bad Request)']);
  await context.close();
});

test('coordinator on a phone: a trygghetsvandring with an observation, then ended', async () => {
  const context = await openContext(browser, {
    token: server.tokens.coordinator,
    viewport: { width: 390, height: 780 },
    mobile: true,
  });
  const page = await context.newPage();
  const errors = watchPage(page);
  await page.goto(`${server.url}/`);
  await page.waitForSelector('body[data-role="coordinator"]');
  await page.click('#panel-toggle');
  await page.waitForSelector('#side.open');
  await page.getByRole('tab', { name: 'Åtgärder' }).click();
  await page.waitForSelector('.measure-list .measure');
  await page.getByRole('button', { name: 'Starta trygghetsvandring' }).click();
  await page.fill('#walk-title', 'Kvällsvandring i centrum');
  await page.getByRole('button', { name: 'Börja vandringen' }).click();
  await page.waitForSelector('.walk-form');
  await page.selectOption('#walk-category', 'vegetation');
  await page.fill('#walk-text', 'Buskarna skymmer gångvägen');
  await page.fill('#walk-photo', 'https://example.org/busk.jpg');
  await page.getByRole('button', { name: 'Spara vid kartans mitt' }).click();
  await page.waitForSelector('.walk-observations li[data-report-id]');
  const item = await page.locator('.walk-observations li[data-report-id]').textContent();
  assert.match(item, /Växtlighet · #\d+ · Buskarna skymmer gångvägen/);
  await screenshot(page, 'mobile-walk');
  await page.getByRole('button', { name: 'Avsluta vandringen' }).click();
  await page.waitForFunction(() => !document.querySelector('.walk-form') && document.querySelector('.walk-observations'));
  assert.match(await page.locator('.measure-form').textContent(), /genomförd · 1 iakttagelser/);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `${overflow} px too wide`);
  assert.deepEqual(errors, []);
  await context.close();
});
