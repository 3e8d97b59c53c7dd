// The layers every visitor sees, and the styles the coordinator and police views share:
// aggregated crime (Gi* cells or a heat map), the walkway network, dark stretches coloured by
// estimated lux (the `unknown` state dashed and blue, never mixed up with dark), lamps (broken
// ones marked) and citizen reports with their status.

import { h, ramp } from './util.js';
import { t, statusLabel, serviceLabel, fmtNumber, fmtDateTime } from './i18n.js';
import { getJson, getResponse } from './api.js';
import { DataLayer, swatch, viewBbox } from './map.js';

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

/** Light grey walkway network: the base when tiles are missing, and context always. */
export function walkwayLayer(map, config) {
  const renderer = L.canvas({ pane: 'walkwayPane', padding: 0.3 });
  return new DataLayer(map, {
    id: 'walkways',
    title: () => t('layer.walkways'),
    legend: () => swatch('line', { stroke: WALKWAY_COLOUR, width: 2 }, t('legend.walkway')),
    minZoom: 12,
    followsView: true,
    fetch: ({ map, signal }) =>
      getJson('/api/v1/walkways', { bbox: viewBbox(map), class: config.lighting_class }, { signal }),
    draw: (fc, group) => {
      L.geoJSON(fc, {
        renderer,
        interactive: false,
        style: { color: WALKWAY_COLOUR, weight: 2, opacity: 0.85 },
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
    minZoom: 12,
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
 * callers) or a kernel density heat map. `params()` supplies the coordinator's filters.
 */
export function crimeLayer(map, { params = () => ({}), id = 'crime', mode = 'gistar', title = 'layer.crime' } = {}) {
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
        h('div', { class: 'mode', role: 'radiogroup', 'aria-label': t('crime.mode') }, radio('gistar'), radio('kde')),
        h('div', { class: 'crime-legend' }),
        h('p', { class: 'legend-note meta' }),
      );
    },
    legendUpdate: (el, layer) => {
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
            : gistarLegend(),
        );
      }
      const meta = el.querySelector('.meta');
      if (meta) meta.textContent = metaText(layer.meta);
    },
    fetch: async ({ signal, layer }) => {
      if (layer.mode === 'kde') {
        const res = await getResponse('/api/v1/hotspots/kde.png', params(), { signal });
        const bounds = (res.headers.get('X-Bounds') || '').split(',').map(Number);
        const blob = await res.blob();
        layer.meta = null;
        return { kind: 'kde', url: URL.createObjectURL(blob), bounds };
      }
      const fc = await getJson('/api/v1/hotspots', { method: 'gistar', ...params() }, { signal });
      layer.meta = fc.meta;
      return { kind: 'gistar', fc };
    },
    draw: (data, group, layer) => {
      if (layer._url) URL.revokeObjectURL(layer._url);
      if (data.kind === 'kde') {
        const [w, s, e, n] = data.bounds;
        if (![w, s, e, n].every(Number.isFinite)) throw new Error('kde.png without X-Bounds');
        layer._url = data.url;
        L.imageOverlay(data.url, [[s, w], [n, e]], { opacity: 0.7, pane: 'cellPane', alt: t('crime.mode.kde') }).addTo(
          group,
        );
        return 1;
      }
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
  layer.mode = mode;
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
