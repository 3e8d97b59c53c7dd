// The public pledge page (/loften) on a phone: it renders the demo's medborgarlöfte with its
// indicators and measures, fits the screen, its text meets WCAG AA contrast, and nothing it
// loads holds an incident point, a patrol track or a contact field.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openContext, screenshot, watchPage } from './harness.mjs';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

// Keys that would carry a point, a track or a person. None may appear in what the page loads.
const FORBIDDEN = [
  'occurred_at', 'location', 'points', 'coordinates', 'lat', 'long', 'lon', 'trkpt', 'track',
  'tracks', 'email', 'phone', 'first_name', 'last_name', 'contact', 'description',
];

function keysOf(v, out = new Set()) {
  if (Array.isArray(v)) v.forEach((x) => keysOf(x, out));
  else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      out.add(k);
      keysOf(x, out);
    }
  }
  return out;
}

test('the pledge page renders on a phone and loads no point, track or contact', async () => {
  const context = await openContext(browser, { viewport: { width: 375, height: 740 }, mobile: true });
  const page = await context.newPage();
  const errors = watchPage(page);
  const bodies = [];
  page.on('response', async (r) => {
    const type = r.headers()['content-type'] || '';
    if (type.includes('json')) bodies.push({ url: r.url(), json: await r.json().catch(() => null) });
  });
  await page.goto(`${server.url}/loften`);
  await page.waitForSelector('body[data-ready]', { timeout: 20_000 });
  assert.equal(await page.getAttribute('body', 'data-ready'), 'true', await page.textContent('main'));

  assert.equal(await page.getAttribute('html', 'lang'), 'sv');
  assert.equal(await page.locator('h1').textContent(), 'Medborgarlöften');
  const pledges = page.locator('article.pledge');
  assert.equal(await pledges.count(), 1);
  const text = await pledges.first().textContent();
  assert.match(text, /\(fiktivt\)/);
  assert.match(text, /Kommunen och polisen/);
  assert.match(text, /Åtgärder \(2 av 5 genomförda\)/);
  // Every indicator the demo can measure is there, in Swedish.
  for (const key of ['dark_lit_share', 'broken_lamp_days', 'acknowledged_share', 'measures_done']) {
    assert.equal(await page.locator(`li[data-key="${key}"]`).count(), 1, key);
  }
  assert.match(await page.locator('li[data-key="measures_done"]').textContent(), /2 av 5 åtgärder är genomförda/);
  assert.match(await page.textContent('.demo'), /Demodata/);

  // It fits a 375 px screen: no sideways scrolling.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow} px wider than the screen`);

  // WCAG AA: every text element's colour against its (first opaque) background ≥ 4.5:1.
  const worst = await page.evaluate(() => {
    const rgb = (s) => (s.match(/[\d.]+/g) || []).map(Number);
    const lum = ([r, g, b]) => {
      const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const bg = (el) => {
      for (let e = el; e; e = e.parentElement) {
        const c = rgb(getComputedStyle(e).backgroundColor);
        if (c.length >= 3 && (c.length < 4 || c[3] > 0.99)) return c;
      }
      return [255, 255, 255];
    };
    let low = { ratio: 99 };
    for (const el of document.querySelectorAll('body *')) {
      const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
      if (!own || el.offsetParent === null) continue;
      const a = lum(rgb(getComputedStyle(el).color));
      const b = lum(bg(el));
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      if (ratio < low.ratio) low = { ratio, text: el.textContent.trim().slice(0, 40) };
    }
    return low;
  });
  assert.ok(worst.ratio >= 4.5, `contrast ${worst.ratio.toFixed(2)}:1 for "${worst.text}"`);
  await screenshot(page, 'loften-mobile');

  // What the page loaded: the pledges and the config, and no forbidden key in either.
  const urls = bodies.map((b) => new URL(b.url).pathname);
  assert.ok(urls.includes('/api/v1/pledges'), urls.join(', '));
  for (const b of bodies) {
    const keys = keysOf(b.json);
    for (const k of FORBIDDEN) assert.ok(!keys.has(k), `${k} in ${b.url}`);
  }
  assert.deepEqual(context.blocked, []);
  assert.deepEqual(errors, []);
  await context.close();
});
