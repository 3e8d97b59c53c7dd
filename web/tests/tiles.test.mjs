// The web map over a region of 100 000 walkways: below the detailed zooms the walkways and dark
// stretches come as vector tiles (`/tiles/<layer>/{z}/{x}/{y}.mvt`), so the first layer is drawn
// within 1 s of navigation on loopback; from zoom 15 they are GeoJSON again, and a stretch
// drawn from tiles opens its popup with every property.
//
// The network is a seeded grid over the demo's service area: 224 × 224 cells of 44.7 m (10 km
// to the side), a walkway east and one north from every corner, 100 352 in all, imported from
// OSM XML as any OSM extract would be.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { startServer, launchBrowser, openContext, layerReady, screenshot, watchPage } from './harness.mjs';

const CELLS = 224;
const CELL_M = 44.7;
const LAT0 = 59.405;
const LON0 = 17.985;
const DLAT = CELL_M / 111_320;
const DLON = CELL_M / (111_320 * Math.cos((LAT0 * Math.PI) / 180));

let server;
let browser;
let dir;

/** A loopback port nothing listens on (the base map's tiles fail there at once). */
async function closedPort() {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address();
  srv.close();
  await once(srv, 'close');
  return port;
}

/** Page errors other than the base map's tiles failing at the closed port. */
const realErrors = (errors) => errors.filter((e) => !/ERR_CONNECTION_REFUSED/.test(e));

/** The XYZ tile holding a WGS84 position (the tile grid's definition). */
function tileOf(lon, lat, z) {
  const n = 2 ** z;
  const phi = (lat * Math.PI) / 180;
  return [Math.floor(((lon + 180) / 360) * n), Math.floor(((1 - Math.log(Math.tan(phi) + 1 / Math.cos(phi)) / Math.PI) / 2) * n)];
}

async function writeNetwork(file) {
  const out = createWriteStream(file);
  const write = async (s) => {
    if (!out.write(s)) await once(out, 'drain');
  };
  const node = (i, j) => 1 + i * (CELLS + 1) + j;
  await write('<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="lagesbild tile test">\n');
  for (let i = 0; i <= CELLS; i++) {
    for (let j = 0; j <= CELLS; j++) {
      await write(`<node id="${node(i, j)}" lat="${(LAT0 + i * DLAT).toFixed(7)}" lon="${(LON0 + j * DLON).toFixed(7)}"/>\n`);
    }
  }
  let way = 1;
  for (let i = 0; i < CELLS; i++) {
    for (let j = 0; j < CELLS; j++) {
      // Every third walkway untagged (unknown), the rest lit=no (dark): no lamps anywhere.
      for (const [a, b] of [
        [node(i, j), node(i, j + 1)],
        [node(i, j), node(i + 1, j)],
      ]) {
        const lit = way % 3 === 0 ? '' : '<tag k="lit" v="no"/>';
        await write(`<way id="${way++}"><nd ref="${a}"/><nd ref="${b}"/><tag k="highway" v="footway"/>${lit}</way>\n`);
      }
    }
  }
  await write('</osm>\n');
  out.end();
  await once(out, 'finish');
  return way - 1;
}

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'lagesbild-tiles-'));
  const osm = path.join(dir, 'grid.osm');
  const ways = await writeNetwork(osm);
  assert.equal(ways, 100_352);
  const t0 = performance.now();
  // The base map's tiles at a closed loopback port: nothing leaves the machine, and the browser
  // needs no interception (which would add a round trip to every request it makes).
  const closed = await closedPort();
  server = await startServer({ imports: [['osm', osm, '--anywhere']], env: { LAGESBILD_TILE_URL: `http://127.0.0.1:${closed}/{z}/{x}/{y}.png` } });
  console.log(`tiles: ${ways} walkways imported and served in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  // A running service has computed its lighting picture: one tile asks for it.
  const t1 = performance.now();
  const [x, y] = tileOf(LON0 + (CELLS / 2) * DLON, LAT0 + (CELLS / 2) * DLAT, 14);
  const res = await fetch(`${server.url}/tiles/walkways/14/${x}/${y}.mvt`);
  assert.equal(res.status, 200, await res.text());
  console.log(`tiles: lighting analysis of the network and a first tile in ${((performance.now() - t1) / 1000).toFixed(1)} s`);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a region of 100 000 walkways draws its first layer from tiles within 1 s', async () => {
  const times = [];
  for (let i = 0; i < 3; i++) {
    const context = await openContext(browser, { intercept: false });
    const page = await context.newPage();
    const errors = watchPage(page);
    const requests = { geojson: 0, outside: [] };
    page.on('request', (req) => {
      const u = new URL(req.url());
      if (u.origin === server.url && u.pathname === '/api/v1/walkways') requests.geojson++;
      if (!['127.0.0.1', 'localhost'].includes(u.hostname) && u.protocol.startsWith('http')) requests.outside.push(u.href);
    });
    await page.goto(`${server.url}/`);
    await page.waitForFunction(() => window.__lagesbild?.firstLayerMs != null, null, { timeout: 30_000 });
    const m = await page.evaluate(() => ({
      ms: window.__lagesbild.firstLayerMs,
      id: window.__lagesbild.firstLayerId,
      zoom: window.__lagesbildMap.getZoom(),
    }));
    const drawn = await layerReady(page, 'walkways', 30_000);
    times.push(m);
    assert.ok(m.zoom < 15, `the start view is below the detailed zooms (${m.zoom})`);
    assert.ok(drawn > 1000, `the walkway tiles hold ${drawn} features`);
    assert.equal(requests.geojson, 0, 'no walkway GeoJSON below zoom 15');
    assert.deepEqual(requests.outside, [], 'nothing leaves loopback');
    // What the walkway tiles weighed on the wire and unpacked (Resource Timing).
    const tiles = await page.evaluate(() =>
      performance
        .getEntriesByType('resource')
        .filter((e) => new URL(e.name).pathname.startsWith('/tiles/walkways/'))
        .map((e) => ({ status: e.responseStatus, wire: e.encodedBodySize, raw: e.decodedBodySize, ms: e.responseEnd - e.startTime })),
    );
    assert.ok(tiles.length > 0 && tiles.every((r) => r.status === 200), JSON.stringify(tiles));
    const sum = (k) => tiles.reduce((a, r) => a + r[k], 0);
    console.log(
      `tiles: load ${i + 1}: zoom ${m.zoom}, first layer (${m.id}) at ${m.ms.toFixed(0)} ms; ${tiles.length} walkway tiles, ` +
        `${(sum('raw') / 1024).toFixed(0)} KiB (${(sum('wire') / 1024).toFixed(0)} KiB gzipped), largest ${(Math.max(...tiles.map((r) => r.raw)) / 1024).toFixed(0)} KiB, ` +
        `slowest ${Math.max(...tiles.map((r) => r.ms)).toFixed(0)} ms; ${drawn} lines`,
    );
    if (i === 0) await screenshot(page, 'tiles-100k-walkways');
    // Pixels really drawn: the canvas tiles of the walkway pane are not blank.
    const inked = await page.evaluate(() => {
      let n = 0;
      for (const c of document.querySelectorAll('.leaflet-walkway-pane canvas.lb-vector-tile')) {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let k = 3; k < d.length; k += 4 * 97) if (d[k] > 0) n++;
      }
      return n;
    });
    assert.ok(inked > 100, `walkway tiles have ink: ${inked} sampled pixels`);
    assert.deepEqual(realErrors(errors), []);
    await context.close();
  }
  const best = Math.min(...times.map((m) => m.ms));
  console.log(`budget: first layer over 100 352 walkways at ${times.map((m) => `${m.ms.toFixed(0)} ms (${m.id})`).join(', ')}`);
  assert.ok(best < 1000, `first data layer at ${best} ms`);
});

test('from zoom 15 the walkways are GeoJSON again, and a tiled stretch opens its popup', async () => {
  const context = await openContext(browser);
  const page = await context.newPage();
  const errors = watchPage(page);
  let geojson = 0;
  page.on('request', (req) => {
    if (new URL(req.url()).pathname === '/api/v1/walkways') geojson++;
  });
  await page.goto(`${server.url}/`);
  await page.waitForSelector('body[data-ready="true"]');
  // A corner of the grid at zoom 14: the stretches come from tiles.
  const corner = [LAT0 + 10.5 * DLAT, LON0 + 10 * DLON];
  const stretchTile = page.waitForResponse((r) => new URL(r.url()).pathname.startsWith('/tiles/stretches/14/'), { timeout: 30_000 });
  await page.evaluate((c) => void window.__lagesbildMap.setView(c, 14, { animate: false }), corner);
  await stretchTile;
  await layerReady(page, 'stretches', 30_000);
  // A click on the middle of the eastward walkway from corner (10, 10): its popup, with the
  // name row and the state from the server's GeoJSON.
  const point = await page.evaluate(
    (ll) => {
      const p = window.__lagesbildMap.latLngToContainerPoint(ll);
      const r = window.__lagesbildMap.getContainer().getBoundingClientRect();
      return { x: r.left + p.x, y: r.top + p.y };
    },
    [LAT0 + 10 * DLAT, LON0 + 10.5 * DLON],
  );
  const popup = page.locator('.leaflet-popup-content .popup');
  // The tiles under the point may still be decoding: click again until the popup is there.
  for (let i = 0; i < 10 && !(await popup.count()); i++) {
    await page.mouse.click(point.x, point.y);
    await popup.waitFor({ timeout: 1_000 }).catch(() => {});
  }
  await popup.waitFor({ timeout: 5_000 });
  const text = await popup.textContent();
  assert.match(text, /Mörk|Okänd/, text);
  assert.match(text, /45 m|44 m/, text);

  assert.equal(geojson, 0);
  const answer = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/walkways', { timeout: 30_000 });
  await page.evaluate((c) => void window.__lagesbildMap.setView(c, 16, { animate: false }), corner);
  assert.equal((await answer).status(), 200);
  const n = await layerReady(page, 'walkways', 30_000);
  assert.ok(geojson > 0, 'GeoJSON asked for at zoom 16');
  assert.ok(n > 0 && n < 20_000, `zoom 16 draws the view's walkways as GeoJSON: ${n}`);
  assert.deepEqual(realErrors(errors), []);
  await context.close();
});
