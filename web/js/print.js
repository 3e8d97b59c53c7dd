// The printable one-page lägesbild: map image, counts per crime type and district with the
// change from the previous period of equal length, top hotspots with their peak windows, top
// dark stretches, open reports by status and BRÅ context; on a second page the follow-up: the
// measures of the action plan with the effect of the done ones, and the citizen pledges in force
// with their indicators. Everything comes from GET /api/v1/lagesbild, the same numbers the
// coordinator would cite in a meeting, and is set as text.

import { h, replaceChildren } from './util.js';
import { t, applyI18n, fmtNumber, fmtDate, fmtDateTime, groupLabel, statusLabel, setCategoryNames, categoryLabel } from './i18n.js';
import { getJson, token } from './api.js';
import { stretchStyle, BIN_COLOURS } from './layers.js';
import { attribution } from './map.js';

const L = window.L;
const $ = (id) => document.getElementById(id);

async function main() {
  applyI18n(document);
  $('print-button').addEventListener('click', () => window.print());
  const params = Object.fromEntries(new URLSearchParams(location.search));
  if (!token()) {
    showError(t('print.signin'));
    return;
  }
  let lb;
  let config;
  try {
    [lb, config] = await Promise.all([getJson('/api/v1/lagesbild', params), getJson('/api/v1/config')]);
  } catch (err) {
    showError(t('print.failed', { msg: err.message }));
    return;
  }
  setCategoryNames(config.categories);
  render(lb, config);
  document.getElementById('sheet').setAttribute('aria-busy', 'false');
  document.body.dataset.ready = 'true';
}

function showError(msg) {
  const el = $('error');
  el.hidden = false;
  el.textContent = msg;
  document.body.dataset.ready = 'error';
}

function change(now, before) {
  if (before == null) return '–';
  const d = now - before;
  const sign = d > 0 ? '+' : d < 0 ? '−' : '±';
  const pct = before > 0 ? ` (${sign}${fmtNumber(Math.abs((100 * d) / before), 0)} %)` : '';
  return `${sign}${fmtNumber(Math.abs(d), 0)}${pct}`;
}

/** A table whose first column heads the rows; `text` lists the columns that are not numbers. */
function table(el, head, rows, text = []) {
  const cls = (i) => (i && !text.includes(i) ? 'num' : undefined);
  replaceChildren(
    el,
    h('thead', {}, h('tr', {}, head.map((x, i) => h('th', { scope: 'col', class: cls(i) }, x)))),
    h(
      'tbody',
      {},
      rows.length
        ? rows.map((r) => h('tr', {}, r.map((x, i) => (i ? h('td', { class: cls(i) }, x) : h('th', { scope: 'row' }, x)))))
        : h('tr', {}, h('td', { colspan: head.length }, t('print.none'))),
    ),
  );
}

function render(lb, config) {
  const p = lb.period || {};
  $('period').textContent = [
    `${t('print.period')}: ${fmtDate(p.from)} – ${fmtDate(p.to)}`,
    `${t('print.area')}: ${lb.area || t('filter.allAreas')}`,
    p.previous_from ? `${t('print.before')}: ${fmtDate(p.previous_from)} – ${fmtDate(p.previous_to)}` : null,
  ]
    .filter(Boolean)
    .join(' · ');
  $('demo-note').hidden = !lb.demo;
  $('foot').textContent = `${t('print.generated')} ${fmtDateTime(lb.generated_at || new Date().toISOString())} · Lägesbild · ${
    config.tile_attribution || ''
  }`;

  const groups = lb.counts_by_group || [];
  table(
    $('groups'),
    [t('print.group'), t('print.now'), t('print.before'), t('print.change')],
    groups.map((g) => [g.label || groupLabel(g.group), fmtNumber(g.count), fmtNumber(g.previous), change(g.count, g.previous)]),
  );
  $('municipality-only').textContent = lb.municipality_only ? t('print.municipalityOnly', { n: fmtNumber(lb.municipality_only) }) : '';

  const districts = lb.counts_by_district || [];
  table(
    $('districts'),
    [t('print.district'), t('print.now'), t('print.before'), t('print.change')],
    districts.map((d) => [d.district ?? d.name, fmtNumber(d.count), fmtNumber(d.previous), change(d.count, d.previous)]),
  );

  const hotspots = lb.hotspots?.features || [];
  table(
    $('hotspots'),
    ['#', t('f.count'), t('f.peak'), t('f.categories')],
    hotspots.map((f, i) => {
      const q = f.properties;
      const cats = Object.entries(q.categories || {})
        .sort((a, b) => b[1] - a[1])
        .slice(0, 2)
        .map(([k, v]) => `${categoryLabel(k)} ${v}`)
        .join(', ');
      return [`${q.rank ?? i + 1}.${q.name ? ` ${q.name}` : ''}`, fmtNumber(q.count), q.peak || '–', cats];
    }),
    [2, 3],
  );

  const stretches = lb.dark_stretches?.features || [];
  table(
    $('stretches'),
    ['#', t('f.length'), t('f.meanLux'), t('f.state')],
    stretches.map((f, i) => {
      const q = f.properties;
      return [
        `${q.rank ?? i + 1}. ${q.name || t('f.unnamed')}`,
        `${fmtNumber(q.length_m)} m`,
        q.mean_lux == null ? '–' : `${fmtNumber(q.mean_lux, 2)} lx`,
        t(`state.${q.state}`),
      ];
    }),
    [3],
  );

  const byStatus = lb.reports_by_status || {};
  table(
    $('reports'),
    [t('f.status'), t('print.count')],
    ['open', 'acknowledged', 'in_progress', 'closed']
      .filter((s) => s in byStatus)
      .map((s) => [statusLabel(s), fmtNumber(byStatus[s])]),
  );

  const bra = lb.bra || [];
  table(
    $('bra'),
    [t('print.year'), t('print.count'), t('print.per100k')],
    bra.map((b) => [`${b.year} ${b.municipality || ''}`, fmtNumber(b.count), b.per_100k == null ? '–' : fmtNumber(b.per_100k, 0)]),
  );

  renderFollowUp(lb.follow_up || { measures: [], measures_more: 0, pledges: [] });
  drawMap(lb, config, hotspots, stretches);
}

function renderFollowUp(f) {
  table(
    $('measures'),
    [t('print.measure'), t('measures.kind'), t('measures.status'), t('print.date'), t('print.effect')],
    f.measures.map((m) => [
      m.title,
      t(`measure.kind.${m.kind}`),
      t(`measure.status.${m.status}`),
      fmtDate(m.status === 'done' ? m.done_date : m.planned_date) || '–',
      m.effect || '–',
    ]),
    [1, 2, 3, 4],
  );
  $('measures-more').textContent = f.measures_more ? t('print.measuresMore', { n: fmtNumber(f.measures_more) }) : '';
  const el = $('pledges');
  replaceChildren(
    el,
    f.pledges.length
      ? f.pledges.map((p) =>
          h(
            'article',
            { class: 'pledge' },
            h('h3', {}, p.title),
            h(
              'p',
              { class: 'small' },
              t('print.pledgePeriod', {
                owner: p.owner_sv,
                from: fmtDate(p.period_start),
                to: fmtDate(p.period_end),
                passed: fmtNumber(p.period_passed, 0),
              }),
            ),
            h(
              'table',
              { class: 'data' },
              h(
                'tbody',
                {},
                p.indicators.map((i) =>
                  h(
                    'tr',
                    {},
                    h('th', { scope: 'row' }, i.label),
                    h('td', { class: 'num' }, i.value == null ? '–' : `${fmtNumber(i.value, i.unit === '%' ? 0 : 1)} ${i.unit}`),
                    h('td', {}, i.text),
                  ),
                ),
              ),
            ),
          ),
        )
      : h('p', {}, t('print.noPledges')),
  );
}

function drawMap(lb, config, hotspots, stretches) {
  const el = $('print-map');
  el.setAttribute('aria-label', t('map.aria'));
  const map = L.map(el, { zoomControl: false, attributionControl: false, keyboard: false, dragging: false, scrollWheelZoom: false });
  attribution(config.tile_attribution, { prefix: false }).addTo(map);
  L.tileLayer(config.tile_url, { crossOrigin: true }).addTo(map);
  const all = L.featureGroup().addTo(map);
  if (lb.area_geometry) {
    L.geoJSON(lb.area_geometry, { style: { color: '#0b3d5c', weight: 2, fill: false, dashArray: '4 4' } }).addTo(all);
  }
  L.geoJSON(
    { type: 'FeatureCollection', features: stretches },
    { style: (f) => ({ ...stretchStyle(f), weight: 5 }) },
  ).addTo(all);
  hotspots.forEach((f, i) => {
    const layer = L.geoJSON(f, { style: { color: '#7c2d12', weight: 2, fillColor: BIN_COLOURS[3], fillOpacity: 0.35 } }).addTo(all);
    const c = f.properties.centre;
    const at = c ? L.latLng(c[1], c[0]) : layer.getBounds().getCenter();
    L.marker(at, {
      interactive: false,
      icon: L.divIcon({ className: 'print-rank', html: h('span', {}, String(f.properties.rank ?? i + 1)), iconSize: [20, 20] }),
    }).addTo(all);
  });
  const b = all.getBounds();
  if (b.isValid()) map.fitBounds(b, { padding: [16, 16], maxZoom: 16 });
  else {
    const [w, s, e, n] = config.service_area_wgs84;
    map.fitBounds([[s, w], [n, e]]);
  }
  $('map-caption').textContent = `${t('print.hotspots')} (${hotspots.length}) · ${t('print.stretches')} (${stretches.length})`;
}

main();
