// Layers for signed-in users (coordinators and police): incident points with marker clustering,
// DBSCAN clusters, Gi* cells or density with the chosen filters, the emerging hot spots (trends
// over weeks or months) and the period comparison.

import { h } from './util.js';
import { t, fmtNumber, fmtDate, fmtWhen, groupLabel, categoryLabel } from './i18n.js';
import { getJson } from './api.js';
import { DataLayer, swatch } from './map.js';
import { crimeLayer, popupTable, excludedCount, tip, ehsaLegend, drawEhsa, isEhsaPattern } from './layers.js';
import { profileTable } from './profile.js';

const L = window.L;

export const CLUSTER_FILL = '#ea580c';
export const COMPARE_COLOURS = { up: '#b2182b', new: '#67001f', down: '#2166ac', gone: '#6b7280', same: '#a3a3a3' };

export function incidentLayer(map, filters) {
  return new DataLayer(map, {
    id: 'incidents',
    title: () => t('layer.incidents'),
    legend: () =>
      h(
        'div',
        {},
        swatch('text', { fill: '#1f2937', text: '•' }, t('legend.incident')),
        swatch('text', { fill: '#0f766e', text: '12' }, t('legend.clusterGroup')),
        h('p', { class: 'legend-note' }, t('legend.incidentNote')),
      ),
    fetch: ({ signal }) => getJson('/api/v1/incidents', filters.params(), { signal }),
    draw: (fc, group) => {
      const cluster = L.markerClusterGroup({
        chunkedLoading: true,
        showCoverageOnHover: false,
        maxClusterRadius: 50,
        iconCreateFunction: (c) =>
          L.divIcon({
            className: 'incident-cluster',
            html: h('span', {}, String(c.getChildCount())),
            iconSize: [36, 36],
          }),
      });
      const markers = [];
      for (const f of fc.features || []) {
        if (f.geometry?.type !== 'Point') continue;
        const [lon, lat] = f.geometry.coordinates;
        const p = f.properties || {};
        const m = L.circleMarker([lat, lon], { radius: 5, color: '#fff', weight: 1, fillColor: '#1f2937', fillOpacity: 0.9 });
        m.bindPopup(() =>
          popupTable(p.label || p.category || t('layer.incidents'), [
            [t('f.when'), fmtWhen(p)],
            [t('f.category'), `${p.label ?? p.category ?? ''}${p.group ? ` (${groupLabel(p.group)})` : ''}`],
            [t('f.precision'), p.precision ?? '–'],
            [t('f.place'), p.place ?? '–'],
            [t('f.source'), `${p.source ?? ''} ${p.source_id ?? ''}`],
          ]),
        );
        markers.push(m);
      }
      cluster.addLayers(markers);
      cluster.addTo(group);
      return markers.length;
    },
  });
}

export function clusterPopup(p) {
  const cats = Object.entries(p.categories || {}).sort((a, b) => b[1] - a[1]);
  return h(
    'div',
    { class: 'popup wide' },
    popupTable(
      `${t('f.cluster')} ${p.id ?? ''}`,
      [
        [t('f.count'), p.count],
        [t('f.first'), fmtDate(p.first)],
        [t('f.last'), fmtDate(p.last)],
        [t('f.peak'), p.peak || p.peak_note || '–'],
        [t('f.categories'), cats.map(([k, v]) => `${categoryLabel(k)} ${v}`).join(', ') || '–'],
      ],
      null,
    ),
    p.profile ? profileTable(p.profile, { caption: t('profile.caption'), uncertain: p.uncertain_weight, withoutHour: p.without_hour }) : null,
  );
}

export function clusterLayer(map, filters) {
  const layer = new DataLayer(map, {
    id: 'clusters',
    title: () => t('layer.clusters'),
    legend: () =>
      h(
        'div',
        {},
        swatch('fill', { fill: CLUSTER_FILL, stroke: '#7c2d12' }, t('legend.cluster')),
        h('p', { class: 'legend-note meta' }),
      ),
    legendUpdate: (el, l) => {
      const meta = el.querySelector('.meta');
      if (meta) {
        const m = l.data?.meta;
        meta.textContent = m
          ? `${t('legend.clusterParams', { eps: m.parameters?.eps ?? filters.eps, min: m.parameters?.min_points ?? filters.minPoints })} ${metaLine(m)}`
          : t('legend.clusterParams', { eps: filters.eps, min: filters.minPoints });
      }
    },
    fetch: ({ signal }) => getJson('/api/v1/hotspots', { ...filters.params(), ...filters.methodParams('dbscan') }, { signal }),
    draw: (fc, group) => {
      const max = Math.max(1, ...fc.features.map((f) => f.properties.count || 0));
      L.geoJSON(fc, {
        pane: 'cellPane',
        style: (f) => ({
          color: '#7c2d12',
          weight: 2,
          fillColor: CLUSTER_FILL,
          fillOpacity: 0.2 + 0.45 * ((f.properties.count || 0) / max),
        }),
        onEachFeature: (f, l) => {
          l.bindTooltip(() => tip(`${t('f.count')} ${f.properties.count}${f.properties.peak ? ` · ${f.properties.peak}` : ''}`), {
            sticky: true,
          });
          l.bindPopup(() => clusterPopup(f.properties), { maxWidth: 560 });
        },
      }).addTo(group);
      return fc.features.length;
    },
  });
  return layer;
}

export function metaLine(m) {
  if (!m) return '';
  const n = excludedCount(m.excluded_by_precision);
  const parts = [];
  if (m.included != null) parts.push(t('meta.included', { n: fmtNumber(m.included, 0) }));
  if (n) parts.push(t('meta.excluded', { n: fmtNumber(n, 0) }));
  return parts.join(' ');
}

/** Gi* or KDE with the coordinator's filters (the public layer, parameterised). */
export function cellLayer(map, filters) {
  const layer = crimeLayer(map, {
    id: 'cells',
    mode: 'gistar',
    title: 'layer.cells',
    params: () => ({ ...filters.params(), ...(layer.mode === 'gistar' ? filters.methodParams('gistar') : {}) }),
    // The trends are the layer below, with their step choice and the full history per cell.
    modes: ['gistar', 'kde'],
  });
  return layer;
}

/**
 * Emerging hot spots with the filters: each cell's Gi* over whole months or ISO weeks, its trend
 * (Mann–Kendall) and its category. Hidden until chosen; the step (month or week) in its legend.
 */
export function ehsaLayer(map, filters) {
  const layer = new DataLayer(map, {
    id: 'ehsa',
    title: () => t('layer.ehsa'),
    visible: false,
    clearOnError: true,
    legend: () => {
      const radio = (value) =>
        h(
          'label',
          { class: 'inline' },
          h('input', {
            type: 'radio',
            name: 'ehsa-step',
            value,
            checked: layer.step === value,
            onchange: () => {
              layer.step = value;
              layer.reload();
            },
          }),
          ' ',
          t(`ehsa.step.${value}`),
        );
      return h(
        'div',
        {},
        h('div', { class: 'mode', role: 'radiogroup', 'aria-label': t('ehsa.step') }, radio('month'), radio('week')),
        h('div', { class: 'ehsa-box' }),
        h('p', { class: 'legend-note meta' }),
      );
    },
    legendUpdate: (el, l) => {
      for (const r of el.querySelectorAll('input[name="ehsa-step"]')) r.checked = r.value === l.step;
      const box = el.querySelector('.ehsa-box');
      const failed = l.state === 'error';
      if (box) {
        box.replaceChildren(
          failed
            ? h('p', { class: 'legend-note' }, l.errorStatus === 400 ? t(`ehsa.tooShort.${l.step}`) : '')
            : l.data
              ? ehsaLegend(l.data.meta)
              : '',
        );
      }
      const meta = el.querySelector('.meta');
      if (meta) meta.textContent = !failed && l.data ? metaLine(l.data.meta) : '';
    },
    fetch: ({ signal }) =>
      getJson(
        '/api/v1/hotspots',
        {
          ...filters.params(),
          method: 'ehsa',
          step: layer.step,
          cell: filters.cell || undefined,
          band: filters.band || undefined,
        },
        { signal },
      ),
    features: (fc) => fc.features.filter(isEhsaPattern),
    draw: (fc, group) => drawEhsa(fc, group, fc.meta),
  });
  layer.step = 'month';
  return layer;
}

export function compareLayer(map, filters) {
  return new DataLayer(map, {
    id: 'compare',
    title: () => t('layer.compare'),
    legend: () =>
      h(
        'div',
        {},
        ['up', 'new', 'down', 'gone', 'same'].map((c) =>
          swatch(c === 'gone' ? 'dash' : 'fill', { fill: COMPARE_COLOURS[c], stroke: COMPARE_COLOURS[c], width: 3 }, t(`change.${c}`)),
        ),
        h('p', { class: 'legend-note periods' }),
      ),
    legendUpdate: (el) => {
      const p = el.querySelector('.periods');
      if (p) {
        const b = filters.previousPeriod();
        p.textContent = t('legend.comparePeriods', { a: `${filters.from} – ${filters.to}`, b: `${b.from} – ${b.to}` });
      }
    },
    fetch: ({ signal }) => {
      const b = filters.previousPeriod();
      const base = filters.params();
      delete base.from;
      delete base.to;
      const method = filters.method === 'kde' ? 'gistar' : filters.method;
      return getJson(
        '/api/v1/hotspots/compare',
        { ...base, ...filters.methodParams(method), a_from: b.from, a_to: b.to, b_from: filters.from, b_to: filters.to },
        { signal },
      );
    },
    draw: (fc, group) => {
      L.geoJSON(fc, {
        pane: 'cellPane',
        style: (f) => {
          const c = f.properties.change;
          return {
            color: COMPARE_COLOURS[c] || '#666',
            weight: c === 'same' ? 0.5 : 2,
            dashArray: c === 'gone' ? '5 5' : null,
            fillColor: COMPARE_COLOURS[c] || '#666',
            fillOpacity: c === 'gone' ? 0.05 : c === 'same' ? 0.1 : 0.45,
          };
        },
        onEachFeature: (f, l) => {
          const p = f.properties;
          l.bindTooltip(() => tip(`${t(`change.${p.change}`)}: ${p.count_a ?? 0} → ${p.count_b ?? 0}`), { sticky: true });
        },
      }).addTo(group);
      return fc.features.length;
    },
  });
}
