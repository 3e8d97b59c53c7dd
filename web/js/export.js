// Export of the current picture: every visible layer's data as one GeoJSON FeatureCollection
// (each feature tagged with its layer), the same as CSV (one row per feature, with its centre),
// the printable one-page lägesbild for the chosen period and district, and the whole picture as a
// GeoPackage for QGIS (from the server: EPSG:3006, one layer per kind of feature).

import { h, download, csv, geometryCentre } from './util.js';
import { t } from './i18n.js';
import { query, getResponse } from './api.js';

/**
 * The visible layers' features, each with `layer` in its properties. A layer drawn from vector
 * tiles at this zoom (walkways, stretches) holds no GeoJSON: its features in the view are asked
 * for as GeoJSON, as the detailed zooms draw them.
 */
export async function currentPicture(layers) {
  const features = [];
  for (const layer of layers) {
    if (!layer.visible) continue;
    let data = layer.data;
    if (layer.tiled?.()) {
      // Below its first zoom the layer draws nothing, and nothing is exported of it.
      if (layer.tooFar()) continue;
      data = await layer.opts.fetch({ map: layer.map, layer });
    }
    if (!data) continue;
    let list = [];
    if (layer.opts?.features) list = layer.opts.features(data);
    else if (Array.isArray(data)) list = data.map(reportFeature).filter(Boolean);
    else if (data.kind === 'gistar') list = data.fc.features;
    else if (data.kind === 'kde') list = [];
    else if (data.features) list = data.features;
    for (const f of list) {
      features.push({ ...f, properties: { layer: layer.id, ...f.properties } });
    }
  }
  return { type: 'FeatureCollection', features };
}

/** An Open311 request as a GeoJSON point. */
function reportFeature(r) {
  if (r.lat == null || r.long == null) return null;
  const { lat, long, ...props } = r;
  return { type: 'Feature', geometry: { type: 'Point', coordinates: [Number(long), Number(lat)] }, properties: props };
}

export async function exportGeoJson(layers, name) {
  const fc = await currentPicture(layers);
  download(`${name}.geojson`, JSON.stringify(fc), 'application/geo+json');
  return fc.features.length;
}

export async function exportCsv(layers, name) {
  const fc = await currentPicture(layers);
  const keys = new Set();
  const rows = fc.features.map((f) => {
    const c = geometryCentre(f.geometry) || [null, null];
    const row = { layer: f.properties.layer, geometry: f.geometry?.type, lon: round6(c[0]), lat: round6(c[1]) };
    for (const [k, v] of Object.entries(f.properties)) {
      if (k === 'layer' || k === 'profile') continue;
      row[k] = v;
      keys.add(k);
    }
    return row;
  });
  const columns = ['layer', 'geometry', 'lon', 'lat', ...[...keys].filter((k) => k !== 'layer')];
  download(`${name}.csv`, '\uFEFF' + csv(rows, columns), 'text/csv;charset=utf-8');
  return rows.length;
}

/** A coordinate as a number (CSV cells of numbers are never neutralised, see csvField). */
const round6 = (v) => (v == null ? undefined : Number(v.toFixed(6)));

export function renderExport(container, { layers, filters }) {
  const name = () => `lagesbild-${filters.from}-${filters.to}${filters.area ? `-${filters.area}` : ''}`;
  const status = h('p', { class: 'small', 'aria-live': 'polite' });
  const exported = async (written) => {
    try {
      status.textContent = t('export.done', { n: await written });
    } catch (err) {
      status.textContent = t('export.failed', { message: err.message });
    }
  };
  container.replaceChildren(
    h('p', { class: 'hint' }, t('export.intro')),
    h(
      'div',
      { class: 'button-row column' },
      h(
        'button',
        { type: 'button', onclick: () => exported(exportGeoJson(layers(), name())) },
        t('export.geojson'),
      ),
      h(
        'button',
        { type: 'button', onclick: () => exported(exportCsv(layers(), name())) },
        t('export.csv'),
      ),
      h(
        'button',
        {
          type: 'button',
          onclick: async (e) => {
            const button = e.currentTarget;
            button.disabled = true;
            status.textContent = t('export.gpkgWorking');
            try {
              const res = await getResponse('/api/v1/export.gpkg');
              const name = /filename="([^"]+)"/.exec(res.headers.get('Content-Disposition') || '')?.[1] || 'lagesbild.gpkg';
              download(name, await res.blob());
              status.textContent = t('export.gpkgDone', { name });
            } catch (err) {
              status.textContent = t('export.failed', { message: err.message });
            } finally {
              button.disabled = false;
            }
          },
        },
        t('export.gpkg'),
      ),
      h(
        'a',
        {
          class: 'button',
          id: 'print-link',
          href: `print.html${query({ from: filters.from, to: filters.to, area: filters.area })}`,
          // No rel=noopener: the print tab needs this tab's sessionStorage (the sign-in).
          target: '_blank',
          onclick: (e) => {
            e.currentTarget.href = `print.html${query({ from: filters.from, to: filters.to, area: filters.area })}`;
          },
        },
        t('export.print'),
      ),
    ),
    status,
  );
}
