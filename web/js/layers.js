// The layers every visitor sees, and the styles the coordinator and police views share:
// aggregated crime (Gi* cells or a heat map), the walkway network, dark stretches coloured by
// estimated lux (the `unknown` state dashed and blue, never mixed up with dark), lamps (broken
// ones marked) and citizen reports with their status.

import { h, ramp } from './util.js';
import { t, statusLabel, serviceLabel, fmtNumber, fmtDateTime } from './i18n.js';
import { getJson, getResponse } from './api.js';
import { DataLayer, swatch, viewBbox } from './map.js';
import { VectorTileGrid } from './mvt.js';

const L = window.L;

// ---- styles ----------------------------------------------------------------------------------

/** Gi* confidence bins, a colour-blind-safe diverging scheme (ColorBrewer RdBu). */
export const BIN_COLOURS = {
  3: '#b2182b',
  2: '#d6604d',
  1: '#f4a582',
  0: '#9e9e9e',
  '-1': '#92c5de',
  '-2': '#4393c3',
  '-3': '#2166ac',
};

export function gistarStyle(f) {
  const bin = f.properties.bin ?? 0;
  // Cells without a significant difference are a faint wash, so the significant ones stand out.
  return {
    color: bin === 0 ? '#9e9e9e' : BIN_COLOURS[bin],
    weight: bin === 0 ? 0 : 1,
    fillColor: BIN_COLOURS[bin] ?? BIN_COLOURS[0],
    fillOpacity: bin === 0 ? 0.16 : 0.6,
  };
}

export function gistarLegend() {
  return h(
    'div',
    {},
    [3, 2, 1, 0, -1, -2, -3].map((b) =>
      swatch('fill', { fill: BIN_COLOURS[b], stroke: b === 0 ? '#757575' : BIN_COLOURS[b] }, t(`bin.${b}`)),
    ),
    h('p', { class: 'legend-note' }, t('legend.gistarNote')),
  );
}

/**
 * Emerging hot spots (EHSA): the categories in the order of the legend, hot spots first and then
 * cold spots, from the most to the least pressing. `no_pattern` has no row and is not drawn.
 */
export const EHSA_KINDS = ['new', 'consecutive', 'intensifying', 'persistent', 'diminishing', 'sporadic', 'oscillating', 'historical'];
export const EHSA_CATEGORIES = [...EHSA_KINDS.map((k) => `${k}_hot_spot`), ...EHSA_KINDS.map((k) => `${k}_cold_spot`)];

/**
 * Reds and oranges for hot spots, blues for cold spots, the same role in the same place: the
 * darkest for an intensifying spot, a full colour for a persistent one, a bright fill with a dark
 * outline for a new one, lighter and greyer for the ones that fade (diminishing, historical),
 * orange and teal for the on-and-off ones, a purple tint for the oscillating ones.
 */
export const EHSA_STYLES = {
  new_hot_spot: { fill: '#f03b20', stroke: '#3f0010', weight: 2.5 },
  consecutive_hot_spot: { fill: '#d94801', stroke: '#7f2704' },
  intensifying_hot_spot: { fill: '#67001f', stroke: '#3f0010' },
  persistent_hot_spot: { fill: '#b2182b', stroke: '#67001f' },
  diminishing_hot_spot: { fill: '#f4a582', stroke: '#b2182b' },
  sporadic_hot_spot: { fill: '#fd8d3c', stroke: '#a63603' },
  oscillating_hot_spot: { fill: '#c51b7d', stroke: '#7a0b4c' },
  historical_hot_spot: { fill: '#b89490', stroke: '#7b4f4a' },
  new_cold_spot: { fill: '#4393c3', stroke: '#041f3d', weight: 2.5 },
  consecutive_cold_spot: { fill: '#1c9099', stroke: '#015458' },
  intensifying_cold_spot: { fill: '#053061', stroke: '#021a36' },
  persistent_cold_spot: { fill: '#2166ac', stroke: '#053061' },
  diminishing_cold_spot: { fill: '#92c5de', stroke: '#2166ac' },
  sporadic_cold_spot: { fill: '#67a9cf', stroke: '#1f5f8b' },
  oscillating_cold_spot: { fill: '#6a51a3', stroke: '#3f007d' },
  historical_cold_spot: { fill: '#919fb3', stroke: '#4f5d73' },
};

export const isEhsaPattern = (f) => EHSA_STYLES[f?.properties?.category] !== undefined;

export function ehsaStyle(f) {
  const s = EHSA_STYLES[f.properties.category] || { fill: '#9e9e9e', stroke: '#757575' };
  return { color: s.stroke, weight: s.weight ?? 1, fillColor: s.fill, fillOpacity: 0.65, opacity: 0.9 };
}

/** The step's unit in words: `month` or `week` (the public product has months only). */
const ehsaUnit = (meta) => (meta?.parameters?.step === 'week' ? 'week' : 'month');

/** The category's name in the page's language; the server's Swedish label if it is unknown. */
export const ehsaName = (category, label) => {
  const key = `ehsa.${category}`;
  const name = t(key);
  return name === key ? String(label ?? category) : name;
};

/**
 * The legend of an EHSA answer: a row for each category the answer has cells of (swatch, name,
 * cell count, a line on what it means), and the note on the steps, the method and what was left
 * out. `publicView` adds that cells below k show no count.
 */
export function ehsaLegend(meta, { publicView = false } = {}) {
  if (meta?.method !== 'ehsa') return h('div', { class: 'ehsa-legend' });
  const counts = meta.categories || {};
  const present = EHSA_CATEGORIES.filter((c) => counts[c] > 0);
  const prm = meta.parameters || {};
  const unit = ehsaUnit(meta);
  const notes = [
    t('ehsa.steps', { n: fmtNumber(prm.steps, 0), unit: t(`ehsa.unit.${unit}`), first: prm.first_step ?? '–', last: prm.last_step ?? '–' }),
    t('ehsa.method', { alpha: fmtNumber((prm.bin_alpha ?? 0.05) * 100, 0) }),
  ];
  const out = meta.left_out || {};
  if (out.outside_steps > 0) notes.push(t(`ehsa.outside.${unit}`, { n: fmtNumber(out.outside_steps, 0) }));
  if (out.across_steps > 0) notes.push(t(`ehsa.across.${unit}`, { n: fmtNumber(out.across_steps, 0) }));
  if (publicView) notes.push(t('ehsa.publicNote', { k: meta.k ?? 3 }));
  return h(
    'div',
    { class: 'ehsa-legend' },
    present.length
      ? present.map((c) =>
          h(
            'div',
            { class: 'ehsa-row', dataset: { category: c } },
            swatch(
              'fill',
              EHSA_STYLES[c],
              h(
                'span',
                {},
                h('span', { class: 'ehsa-name' }, ehsaName(c)),
                ' ',
                h('span', { class: 'ehsa-count' }, t(counts[c] === 1 ? 'ehsa.cells.one' : 'ehsa.cells', { n: fmtNumber(counts[c], 0) })),
              ),
            ),
            h('p', { class: 'ehsa-why' }, t(`ehsa.${c}.why`)),
          ),
        )
      : h('p', { class: 'legend-note' }, t('ehsa.none')),
    h('p', { class: 'legend-note ehsa-note' }, notes.join(' ')),
  );
}

/** A p value in words a legend can hold: three decimals, or below 0.001. */
export const fmtP = (p) => (p == null ? '–' : p < 0.001 ? `< ${fmtNumber(0.001, 3)}` : fmtNumber(p, 3));

/**
 * An EHSA cell's tooltip: the name, the count and, for signed-in users (the public answer has no
 * history), the last steps as a strip of boxes and the trend.
 */
export function ehsaTooltip(p, meta) {
  const unit = ehsaUnit(meta);
  const count = p.count ?? t('f.fewerThanK', { k: meta?.k ?? 3 });
  const lines = [h('strong', {}, ehsaName(p.category, p.label)), h('br'), `${t('f.count')} ${count}`];
  if (typeof p.history === 'string' && p.history.length) {
    const n = p.history.length;
    const last = p.history.slice(-12);
    lines.push(
      h('br'),
      t('ehsa.tip.share', { hot: p.hot_steps ?? 0, cold: p.cold_steps ?? 0, n, unit: t(`ehsa.unit.${unit}`) }),
      h('br'),
      t(`ehsa.tip.last.${unit}`, { n: last.length }),
      ' ',
      h(
        'span',
        { class: 'ehsa-history', 'aria-hidden': 'true' },
        [...last].map((c) => h('span', { class: `ehsa-step ${c === 'H' ? 'hot' : c === 'C' ? 'cold' : 'none'}` })),
      ),
      h('br'),
      h('span', { class: 'ehsa-history-key' }, t('ehsa.tip.key')),
    );
  }
  if (p.mk_tau != null) {
    lines.push(h('br'), t('ehsa.tip.trend', { tau: fmtNumber(p.mk_tau, 2), p: fmtP(p.mk_p) }));
  }
  return tip(...lines);
}

/** Draws an EHSA answer's cells that have a pattern; returns how many. */
export function drawEhsa(fc, group, meta) {
  let n = 0;
  L.geoJSON(fc, {
    pane: 'cellPane',
    filter: isEhsaPattern,
    style: ehsaStyle,
    onEachFeature: (f, l) => {
      n++;
      l.bindTooltip(() => ehsaTooltip(f.properties, meta), { sticky: true });
    },
  }).addTo(group);
  return n;
}

/** Estimated mean illuminance of a dark stretch, 0 lx (near black) to the class average. */
export const LUX_STOPS = [
  [0, '#1b0c41'],
  [0.3, '#4a0c6b'],
  [0.8, '#8c2369'],
  [1.5, '#c73e4c'],
  [3, '#ed6925'],
];
export const UNKNOWN_COLOUR = '#0a6ebd';
export const WALKWAY_COLOUR = '#7d8791';

export function stretchStyle(f) {
  const p = f.properties;
  if (p.state === 'unknown') {
    return { color: UNKNOWN_COLOUR, weight: 5, dashArray: '6 6', opacity: 0.95, lineCap: 'butt' };
  }
  if (p.state === 'lit') return { color: '#e3b505', weight: 3, opacity: 0.9 };
  return { color: ramp(LUX_STOPS, p.mean_lux ?? 0), weight: 6, opacity: 0.95 };
}

export function stretchLegend() {
  return h(
    'div',
    {},
    swatch('line', { stroke: LUX_STOPS[0][1], width: 6 }, t('legend.lux0')),
    swatch('line', { stroke: LUX_STOPS[2][1], width: 6 }, t('legend.lux1')),
    swatch('line', { stroke: LUX_STOPS[4][1], width: 6 }, t('legend.lux3')),
    swatch('dash', { stroke: UNKNOWN_COLOUR, width: 5 }, t('legend.unknown')),
    h('p', { class: 'legend-note' }, t('legend.stretchNote')),
  );
}

export function stretchPopup(p) {
  const rows = [
    [t('f.name'), p.name || t('f.unnamed')],
    [t('f.state'), t(`state.${p.state}`)],
    [t('f.length'), `${fmtNumber(p.length_m, 0)} m`],
    [t('f.meanLux'), p.mean_lux == null ? '–' : `${fmtNumber(p.mean_lux, 2)} lx`],
    [t('f.minLux'), p.min_lux == null ? '–' : `${fmtNumber(p.min_lux, 2)} lx`],
    [t('f.litTag'), p.lit_tag ?? '–'],
    [t('f.reports'), p.reports ?? 0],
    [t('f.incidentsAfterDark'), p.incidents_after_dark ?? 0],
  ];
  if (p.rank) rows.unshift([t('f.rank'), `${p.rank} (${t('f.priority')} ${fmtNumber(p.priority, 1)})`]);
  return popupTable(t('layer.stretches'), rows, p.reasons);
}

/**
 * A tooltip's content: the text as a text node in an element. Leaflet's bindTooltip(string)
 * and bindPopup(string) set innerHTML, so every tooltip and popup gets an element (or a
 * function returning one), whatever its text.
 */
export function tip(...text) {
  return h('span', {}, ...text);
}

export function popupTable(title, rows, list) {
  return h(
    'div',
    { class: 'popup' },
    h('h3', {}, title),
    h('table', {}, rows.map(([k, v]) => h('tr', {}, h('th', { scope: 'row' }, k), h('td', {}, String(v))))),
    list && list.length ? h('ul', { class: 'reasons' }, list.map((r) => h('li', {}, reasonText(r)))) : null,
  );
}

/** Reasons may come as plain text or as {code, text}. */
export function reasonText(r) {
  if (typeof r === 'string') return r;
  return r.text || r.description || r.code || JSON.stringify(r);
}

export const STATUS_COLOURS = {
  open: '#c2410c',
  acknowledged: '#6d28d9',
  in_progress: '#047857',
  closed: '#4b5563',
};
const SERVICE_GLYPHS = { dark_path: '☾', broken_lamp: '✱', vegetation: '♣', unsafe_place: '!', other: '?' };

/** The detailed status when the server gives one (coordinators' workflow), else Open311's. */
export function reportStatus(r) {
  return r.extended_attributes?.detailed_status || r.status || 'open';
}

export function reportIcon(r, highlight = false) {
  const status = reportStatus(r);
  const glyph = SERVICE_GLYPHS[r.service_code] || '?';
  // An element, not an HTML string (Leaflet would set it as innerHTML); its colour is set
  // through the style object, which the Content-Security-Policy allows (a style="" would not).
  const badge = h('span', {}, glyph);
  badge.style.background = STATUS_COLOURS[status] || STATUS_COLOURS.open;
  return L.divIcon({
    className: `report-icon status-${cssToken(status)}${highlight ? ' highlight' : ''}`,
    html: badge,
    iconSize: highlight ? [34, 34] : [26, 26],
    iconAnchor: highlight ? [17, 17] : [13, 13],
  });
}

/** A value from the API as one class name token (a status is a code, but trust no data). */
export const cssToken = (v) => String(v).replace(/[^A-Za-z0-9_-]/g, '_');

export function reportsLegend() {
  return h(
    'div',
    {},
    ['open', 'acknowledged', 'in_progress', 'closed'].map((s) =>
      swatch('text', { fill: STATUS_COLOURS[s], text: ' ' }, statusLabel(s)),
    ),
    Object.entries(SERVICE_GLYPHS).map(([code, glyph]) =>
      swatch('text', { fill: '#374151', text: glyph }, serviceLabel(code)),
    ),
  );
}

export function reportPopup(r) {
  return h(
    'div',
    { class: 'popup' },
    h('h3', {}, r.service_name || serviceLabel(r.service_code)),
    h(
      'table',
      {},
      h('tr', {}, h('th', { scope: 'row' }, t('f.id')), h('td', {}, r.service_request_id)),
      h('tr', {}, h('th', { scope: 'row' }, t('f.status')), h('td', {}, statusLabel(reportStatus(r)))),
      r.status_notes ? h('tr', {}, h('th', { scope: 'row' }, t('f.notes')), h('td', {}, r.status_notes)) : null,
      r.agency_responsible
        ? h('tr', {}, h('th', { scope: 'row' }, t('f.agency')), h('td', {}, r.agency_responsible))
        : null,
      h('tr', {}, h('th', { scope: 'row' }, t('f.reported')), h('td', {}, fmtDateTime(r.requested_datetime))),
      h('tr', {}, h('th', { scope: 'row' }, t('f.updated')), h('td', {}, fmtDateTime(r.updated_datetime))),
    ),
    r.description ? h('p', { class: 'report-text' }, r.description) : null,
    h('a', { href: `#/arende/${encodeURIComponent(r.service_request_id)}` }, t('report.follow')),
  );
}

// ---- layers ----------------------------------------------------------------------------------

/**
 * The zoom from which walkways and stretches are GeoJSON (clickable, every property); below it,
 * from zoom 10, they are the server's vector tiles, which carry a region of 100 000 walkways.
 */
export const DETAIL_ZOOM = 15;
/** The server's tiles: zoom 10 to 16 (`/tiles/<layer>/tilejson.json`). */
const TILE_ZOOMS = { minZoom: 10, maxNativeZoom: 16 };

/** A grid of the server's vector tiles of `layer`, drawn with `style(properties)`. */
function tileGrid(layer, pane, style) {
  return new VectorTileGrid({
    layer,
    pane,
    ...TILE_ZOOMS,
    style,
    fetchTile: (url, signal) => getResponse(url, null, { signal }),
  });
}

/** Light grey walkway network: the base when tiles are missing, and context always. */
export function walkwayLayer(map, config) {
  const renderer = L.canvas({ pane: 'walkwayPane', padding: 0.3 });
  const style = { color: WALKWAY_COLOUR, weight: 2, opacity: 0.85 };
  return new DataLayer(map, {
    id: 'walkways',
    title: () => t('layer.walkways'),
    legend: () => swatch('line', { stroke: WALKWAY_COLOUR, width: 2 }, t('legend.walkway')),
    followsView: true,
    tiles: {
      below: DETAIL_ZOOM,
      minZoom: TILE_ZOOMS.minZoom,
      create: () => tileGrid('walkways', 'walkwayPane', () => ({ ...style, weight: map.getZoom() < 14 ? 1 : 2 })),
    },
    fetch: ({ map, signal }) =>
      getJson('/api/v1/walkways', { bbox: viewBbox(map), class: config.lighting_class }, { signal }),
    draw: (fc, group) => {
      L.geoJSON(fc, {
        renderer,
        interactive: false,
        style,
      }).addTo(group);
      return fc.features.length;
    },
  });
}

export function stretchLayer(map, config) {
  const renderer = L.svg({ pane: 'stretchPane' });
  return new DataLayer(map, {
    id: 'stretches',
    title: () => t('layer.stretches'),
    legend: stretchLegend,
    followsView: true,
    tiles: {
      below: DETAIL_ZOOM,
      minZoom: 12,
      create: () => {
        const grid = tileGrid('stretches', 'stretchPane', (p) => {
          const s = stretchStyle({ properties: p });
          // Hairlines below zoom 14, where a stretch of 50 m is a few pixels long: a canvas
          // draws them several times faster than wider lines (a tile holds thousands).
          return map.getZoom() < 14 ? { ...s, weight: 1, opacity: 1, dashArray: s.dashArray ? '3 3' : null } : s;
        });
        grid.on('add', () => map.on('click', grid._lbClick));
        grid.on('remove', () => map.off('click', grid._lbClick));
        grid._lbClick = (e) => stretchTileClick(map, config, grid, e.latlng);
        return grid;
      },
    },
    fetch: ({ map, signal }) =>
      getJson(
        '/api/v1/lighting/stretches',
        { class: config.lighting_class, bbox: viewBbox(map), state: 'dark,unknown' },
        { signal },
      ),
    draw: (fc, group) => {
      L.geoJSON(fc, {
        renderer,
        style: stretchStyle,
        onEachFeature: (f, layer) => {
          layer.bindPopup(() => stretchPopup(f.properties));
          // The name is OSM data: text in an element, never an HTML string (Leaflet sets a
          // string tooltip as innerHTML).
          layer.bindTooltip(() => tip(`${f.properties.name || t('f.unnamed')} · ${t(`state.${f.properties.state}`)}`), {
            sticky: true,
          });
        },
      }).addTo(group);
      return fc.features.length;
    },
  });
}

/**
 * A click on the stretches drawn from tiles: the nearest stretch within 8 pixels gets its popup,
 * with every property from `/api/v1/lighting/stretches` (the tile holds only what it draws).
 */
async function stretchTileClick(map, config, grid, latlng) {
  const [hit] = grid.featuresNear(latlng, 8);
  if (!hit) return;
  const id = String(hit.properties.id);
  const d = 0.0008;
  const bbox = [latlng.lng - 2 * d, latlng.lat - d, latlng.lng + 2 * d, latlng.lat + d].map((v) => v.toFixed(6)).join(',');
  let p = hit.properties;
  try {
    const fc = await getJson('/api/v1/lighting/stretches', { class: config.lighting_class, bbox, state: 'dark,unknown' });
    p = (fc.features || []).find((f) => String(f.properties.id) === id)?.properties || p;
  } catch (err) {
    console.warn('stretch details:', err);
  }
  L.popup().setLatLng(latlng).setContent(stretchPopup(p)).openOn(map);
}

export function lampLayer(map) {
  const renderer = L.canvas({ pane: 'pointPane', padding: 0.3 });
  return new DataLayer(map, {
    id: 'lamps',
    title: () => t('layer.lamps'),
    legend: () =>
      h(
        'div',
        {},
        swatch('point', { fill: '#ffd24d', stroke: '#6b5200' }, t('legend.lampOk')),
        swatch('text', { fill: '#b91c1c', text: '✕' }, t('legend.lampBroken')),
        h('p', { class: 'legend-note' }, t('legend.lampZoom')),
      ),
    minZoom: 15,
    followsView: true,
    fetch: ({ map, signal }) => getJson('/api/v1/lighting/lamps', { bbox: viewBbox(map, 0.1) }, { signal }),
    draw: (fc, group) => {
      L.geoJSON(fc, {
        pointToLayer: (f, latlng) =>
          f.properties.status === 'broken'
            ? L.marker(latlng, {
                pane: 'pointPane',
                keyboard: true,
                title: t('legend.lampBroken'),
                icon: L.divIcon({ className: 'lamp-broken', html: h('span', {}, '✕'), iconSize: [20, 20] }),
              })
            : L.circleMarker(latlng, {
                renderer,
                radius: 4,
                color: '#6b5200',
                weight: 1,
                fillColor: '#ffd24d',
                fillOpacity: 1,
              }),
        onEachFeature: (f, layer) => {
          const p = f.properties;
          layer.bindPopup(() =>
            popupTable(
              t('f.lamp'),
              [
                [t('f.id'), p.id],
                [t('f.status'), t(`lamp.${p.status}`)],
                [t('f.offReason'), p.off_reason || '–'],
                [t('f.darkens'), (p.darkens || []).length ? p.darkens.join(', ') : '–'],
              ],
              null,
            ),
          );
        },
      }).addTo(group);
      return fc.features.length;
    },
  });
}

/** Citizen reports (public, no contact fields). `highlightId` enlarges the one being followed. */
export function reportLayer(map, state) {
  return new DataLayer(map, {
    id: 'reports',
    title: () => t('layer.reports'),
    legend: reportsLegend,
    fetch: async ({ signal }) => {
      // The first load takes the request index.html started before the scripts arrived.
      const early = window.__lagesbildReports;
      window.__lagesbildReports = null;
      if (early) {
        const res = await early.catch(() => null);
        if (res?.ok) return res.json();
      }
      return getJson('/open311/v2/requests.json', { extensions: 'true' }, { signal });
    },
    draw: (list, group) => {
      let n = 0;
      for (const r of list) {
        if (r.lat == null || r.long == null) continue;
        const hl = String(r.service_request_id) === String(state.highlightId);
        L.marker([r.lat, r.long], {
          icon: reportIcon(r, hl),
          pane: 'pointPane',
          keyboard: true,
          title: `${r.service_name || serviceLabel(r.service_code)}: ${statusLabel(reportStatus(r))}`,
          zIndexOffset: hl ? 1000 : 0,
        })
          .bindPopup(() => reportPopup(r))
          .addTo(group);
        n++;
      }
      return n;
    },
  });
}

/**
 * Aggregated crime for everyone: Gi* cells (only cells with at least k events reach anonymous
 * callers), a kernel density heat map, or the trends of emerging hot spots (monthly, categories
 * only, for the public). `params()` supplies the coordinator's filters; `modes` the choices (the
 * coordinator's cells layer leaves out the trends, which are a layer of their own there).
 */
export function crimeLayer(
  map,
  { params = () => ({}), id = 'crime', mode = 'gistar', title = 'layer.crime', modes = ['gistar', 'kde', 'ehsa'] } = {},
) {
  const layer = new DataLayer(map, {
    id,
    title: () => t(title),
    legend: () => {
      const name = `${id}-mode`;
      const radio = (value) =>
        h(
          'label',
          { class: 'inline' },
          h('input', {
            type: 'radio',
            name,
            value,
            checked: layer.mode === value,
            onchange: () => {
              layer.mode = value;
              layer.reload();
              layer.emit();
            },
          }),
          ' ',
          t(`crime.mode.${value}`),
        );
      return h(
        'div',
        {},
        h('div', { class: 'mode', role: 'radiogroup', 'aria-label': t('crime.mode') }, modes.map(radio)),
        h('div', { class: 'crime-legend' }),
        h('p', { class: 'legend-note meta' }),
      );
    },
    legendUpdate: (el, layer) => {
      // The mode may be set from outside (the coordinator's method filter).
      for (const r of el.querySelectorAll(`input[name="${id}-mode"]`)) r.checked = r.value === layer.mode;
      const box = el.querySelector('.crime-legend');
      if (box) {
        box.replaceChildren(
          layer.mode === 'kde'
            ? h(
                'div',
                {},
                h('div', { class: 'kde-ramp', 'aria-hidden': 'true' }),
                h('div', { class: 'kde-ramp-labels' }, h('span', {}, t('legend.low')), h('span', {}, t('legend.high'))),
              )
            : layer.mode === 'ehsa'
              ? ehsaLegend(layer.state === 'error' ? null : layer.meta, { publicView: true })
              : gistarLegend(),
        );
      }
      const meta = el.querySelector('.meta');
      if (meta) meta.textContent = metaText(layer.meta);
    },
    fetch: async ({ signal, layer }) => {
      const mode = layer.mode;
      if (mode === 'kde') {
        const res = await getResponse('/api/v1/hotspots/kde.png', params(), { signal });
        const bounds = (res.headers.get('X-Bounds') || '').split(',').map(Number);
        const blob = await res.blob();
        layer.meta = null;
        return { kind: 'kde', url: URL.createObjectURL(blob), bounds };
      }
      // The public trends are monthly (the server's default and the only step it offers them).
      const fc = await getJson('/api/v1/hotspots', { method: mode === 'ehsa' ? 'ehsa' : 'gistar', ...params() }, { signal });
      layer.meta = fc.meta;
      return { kind: mode === 'ehsa' ? 'ehsa' : 'gistar', fc };
    },
    features: (data) =>
      data.kind === 'gistar' ? data.fc.features : data.kind === 'ehsa' ? data.fc.features.filter(isEhsaPattern) : [],
    draw: (data, group, layer) => {
      if (layer._url) URL.revokeObjectURL(layer._url);
      layer._url = null;
      if (data.kind === 'kde') {
        const [w, s, e, n] = data.bounds;
        if (![w, s, e, n].every(Number.isFinite)) throw new Error('kde.png without X-Bounds');
        layer._url = data.url;
        L.imageOverlay(data.url, [[s, w], [n, e]], { opacity: 0.7, pane: 'cellPane', alt: t('crime.mode.kde') }).addTo(
          group,
        );
        return 1;
      }
      if (data.kind === 'ehsa') return drawEhsa(data.fc, group, data.fc.meta);
      L.geoJSON(data.fc, {
        pane: 'cellPane',
        style: gistarStyle,
        onEachFeature: (f, l) => {
          const p = f.properties;
          l.bindTooltip(
            () =>
              tip(
                `${t(`bin.${p.bin ?? 0}`)} · ${t('f.count')} ${p.count ?? t('f.fewerThanK', { k: layer.meta?.k ?? 3 })}${p.z != null ? ` · z ${fmtNumber(p.z, 2)}` : ''}`,
              ),
            { sticky: true },
          );
        },
      }).addTo(group);
      return data.fc.features.length;
    },
  });
  layer.mode = modes.includes(mode) ? mode : modes[0];
  return layer;
}

export function metaText(meta) {
  if (!meta) return '';
  const parts = [];
  if (meta.included != null) parts.push(t('meta.included', { n: fmtNumber(meta.included, 0) }));
  const exN = excludedCount(meta.excluded_by_precision);
  if (exN) parts.push(t('meta.excluded', { n: fmtNumber(exN, 0) }));
  const prm = meta.parameters || meta;
  if (prm.cell) parts.push(t('meta.cell', { cell: fmtNumber(prm.cell, 0), band: fmtNumber(prm.band, 0) }));
  return parts.join(' ');
}

/** Events left out because they are known only to a municipality or county. */
export function excludedCount(ex) {
  if (typeof ex === 'number') return ex;
  if (ex && typeof ex.total === 'number') return ex.total;
  return 0;
}
