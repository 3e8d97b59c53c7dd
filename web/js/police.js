// The police view: significant hotspots ranked, each with its weekday × hour table and the
// time windows to patrol, and the patrol plan as CSV or GPX (for the patrol planners' tools
// and GPS units). The ranking and windows are computed by the server (/api/v1/patrol-plan).
// Below, visible police delivered against the plan over the last four weeks
// (/api/v1/patrol/dosage): per ISO week, and per hotspot beside its windows, with the Koper dose
// (visits of 10–16 minutes at least every two hours). Last, near repeats for a chosen category
// (/api/v1/near-repeat): the Knox table of distance × time with its ratios, significant cells
// marked, and the server's sentence.

import { h, replaceChildren, download, toast } from './util.js';
import { t, fmtNumber, categoryLabel } from './i18n.js';
import { getJson, getResponse } from './api.js';
import { profileTable } from './profile.js';

const L = window.L;

/** Categories near repeats are usually asked for; the first is the default. */
const NEAR_REPEAT_CATEGORIES = ['burglary', 'attempted_burglary', 'theft_burglary', 'bicycle_theft', 'vandalism', 'robbery'];

export class PoliceView {
  constructor(map, container, filters) {
    this.map = map;
    this.container = container;
    this.filters = filters;
    this.group = L.featureGroup().addTo(map);
  }

  destroy() {
    this.group.remove();
  }

  async render() {
    const list = h('ol', { class: 'hotspot-list' }, h('li', {}, t('layer.loading')));
    replaceChildren(
      this.container,
      h('p', { class: 'hint small' }, t('police.intro')),
      h(
        'div',
        { class: 'button-row' },
        h('button', { type: 'button', onclick: () => this.export('csv') }, t('police.csv')),
        h('button', { type: 'button', onclick: () => this.export('gpx') }, t('police.gpx')),
      ),
      list,
      h('section', { class: 'dosage', 'aria-labelledby': 'dosage-title' },
        h('h3', { id: 'dosage-title' }, t('dosage.title')),
        h('div', { id: 'dosage-body' }, h('p', {}, t('layer.loading')))),
      this.nearRepeatSection(),
    );
    const dosage = this.loadDosage();
    try {
      const plan = await getJson('/api/v1/patrol-plan.json', this.filters.params());
      this.plan = plan;
      const items = plan.hotspots || plan.features || [];
      this.drawCentres(items);
      replaceChildren(
        list,
        items.length
          ? items.map((s, i) => this.item(s, i))
          : h('li', { class: 'empty' }, t('police.none')),
      );
      this.markHotspots();
    } catch (err) {
      replaceChildren(list, h('li', { class: 'error' }, err.message));
    }
    await dosage;
  }

  async loadDosage() {
    const body = () => this.container.querySelector('#dosage-body');
    try {
      this.dosage = await getJson('/api/v1/patrol/dosage');
    } catch (err) {
      this.dosage = null;
      if (body()) replaceChildren(body(), h('p', { class: 'error' }, t('dosage.failed', { msg: err.message })));
      return;
    }
    if (body()) this.renderDosage(body(), this.dosage);
    this.markHotspots();
  }

  renderDosage(el, d) {
    const hours = (s) => fmtNumber(s / 3600, 1);
    const share = (a, b) => (b > 0 ? `${fmtNumber((100 * a) / b, 0)} %` : '–');
    const tot = d.totals;
    if (!tot.occurrences) {
      replaceChildren(el, h('p', {}, t('dosage.noWindows')));
      return;
    }
    replaceChildren(
      el,
      h('p', { class: 'small' }, t('dosage.period', { from: d.from, to: d.to })),
      h(
        'p',
        { class: 'dosage-total' },
        t('dosage.total', {
          delivered: hours(tot.delivered_s),
          planned: hours(tot.planned_s),
          share: share(tot.delivered_s, tot.planned_s),
          met: fmtNumber(tot.meeting_dose),
          occ: fmtNumber(tot.occurrences),
          visits: fmtNumber(tot.visits),
          dose: fmtNumber(tot.dose_visits),
        }),
      ),
      d.sources.visits + d.sources.track_points === 0 ? h('p', { class: 'hint small' }, t('dosage.noRecords')) : null,
      h(
        'table',
        { class: 'data dosage-weeks' },
        h('caption', {}, t('dosage.weeks')),
        h(
          'thead',
          {},
          h('tr', {}, [t('dosage.week'), t('dosage.planned'), t('dosage.delivered'), t('dosage.share'), t('dosage.met')].map((x) => h('th', { scope: 'col' }, x))),
        ),
        h(
          'tbody',
          {},
          d.weeks.map((w) =>
            h(
              'tr',
              {},
              h('th', { scope: 'row' }, w.week),
              h('td', { class: 'num' }, hours(w.planned_s)),
              h('td', { class: 'num' }, hours(w.delivered_s)),
              h('td', { class: 'num' }, share(w.delivered_s, w.planned_s)),
              h('td', { class: 'num' }, `${fmtNumber(w.meeting_dose)} / ${fmtNumber(w.occurrences)}`),
            ),
          ),
        ),
      ),
      h('p', { class: 'hint small' }, t('dosage.rule')),
    );
  }

  nearRepeatSection() {
    const select = h(
      'select',
      { id: 'nr-category', name: 'category' },
      NEAR_REPEAT_CATEGORIES.map((c) => h('option', { value: c }, categoryLabel(c))),
    );
    const body = h('div', { id: 'nr-body', 'aria-live': 'polite' });
    return h(
      'section',
      { class: 'near-repeat', 'aria-labelledby': 'nr-title' },
      h('h3', { id: 'nr-title' }, t('nr.title')),
      h('p', { class: 'hint small' }, t('nr.intro')),
      h(
        'div',
        { class: 'button-row' },
        h('label', { for: 'nr-category' }, `${t('nr.category')} `),
        select,
        h('button', { type: 'button', onclick: () => this.nearRepeat(select.value, body) }, t('nr.run')),
      ),
      body,
    );
  }

  async nearRepeat(category, el) {
    replaceChildren(el, h('p', {}, t('layer.loading')));
    const f = this.filters.params();
    const params = { categories: category, from: f.from, to: f.to, area: f.area };
    let d;
    try {
      d = await getJson('/api/v1/near-repeat', params);
    } catch (err) {
      replaceChildren(el, h('p', { class: 'error' }, err.message));
      return;
    }
    const nt = d.time_bands.length;
    const cell = (s, tb) => d.cells[s * nt + tb];
    replaceChildren(
      el,
      h('p', { class: 'nr-statement' }, d.statement),
      h('p', { class: 'small' }, t('nr.basis', { events: fmtNumber(d.events), pairs: fmtNumber(d.pairs), perms: fmtNumber(d.permutations) })),
      h(
        'table',
        { class: 'data nr-table' },
        h('caption', {}, t('nr.caption')),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('nr.distance')), d.time_bands.map((b) => h('th', { scope: 'col' }, b.label)))),
        h(
          'tbody',
          {},
          d.space_bands.map((b, s) =>
            h(
              'tr',
              {},
              h('th', { scope: 'row' }, b.label),
              d.time_bands.map((_, tb) => {
                const c = cell(s, tb);
                const ratio = c.knox_ratio == null ? '–' : fmtNumber(c.knox_ratio, 2);
                return h(
                  'td',
                  {
                    class: c.significant ? 'num significant' : 'num',
                    title: t('nr.cellTitle', { observed: c.observed, expected: fmtNumber(c.expected, 1), p: fmtNumber(c.p, 3) }),
                  },
                  c.significant ? h('strong', {}, `${ratio} *`) : ratio,
                );
              }),
            ),
          ),
        ),
      ),
      h('p', { class: 'hint small' }, t('nr.legend')),
    );
  }

  /** Each hotspot of the list that the dosage's plan holds gets its delivered presence. */
  markHotspots() {
    if (!this.dosage) return;
    const byId = new Map(this.dosage.hotspots.map((x) => [x.id, x]));
    for (const li of this.container.querySelectorAll('.hotspot-list .hotspot')) {
      const d = byId.get(li.dataset.hotspotId);
      li.querySelector('.dosage-line')?.remove();
      if (!d) continue;
      const tot = d.totals;
      li.querySelector('h3').after(
        h(
          'p',
          { class: 'small dosage-line' },
          t('dosage.hotspot', {
            delivered: fmtNumber(tot.delivered_s / 3600, 1),
            planned: fmtNumber(tot.planned_s / 3600, 1),
            met: fmtNumber(tot.meeting_dose),
            occ: fmtNumber(tot.occurrences),
          }),
        ),
      );
    }
  }

  item(s, i) {
    const p = s.properties || s;
    const windows = p.windows || [];
    return h(
      'li',
      { class: 'hotspot', dataset: { hotspotId: String(p.id ?? i) } },
      h(
        'h3',
        {},
        h(
          'button',
          { type: 'button', class: 'link', onclick: () => this.focus(p) },
          `${p.rank ?? i + 1}. ${p.name || `${t('f.cluster')} ${p.id ?? ''}`}`,
        ),
      ),
      h(
        'p',
        { class: 'small' },
        `${t('f.count')} ${p.count} · ${t('f.peak')} ${p.peak || p.peak_note || '–'}${p.max_bin ? ` · ${t(`bin.${p.max_bin}`)}` : ''}`,
      ),
      windows.length
        ? h(
            'p',
            { class: 'windows' },
            h('strong', {}, `${t('police.windows')}: `),
            windows.map((w) => (typeof w === 'string' ? w : w.label)).join(' · '),
          )
        : null,
      p.profile
        ? profileTable(p.profile, { caption: t('profile.caption'), peak: p.peak, uncertain: p.uncertain_weight, withoutHour: p.without_hour })
        : null,
    );
  }

  drawCentres(items) {
    this.group.clearLayers();
    items.forEach((s, i) => {
      const p = s.properties || s;
      const c = p.centre || s.geometry?.coordinates;
      if (!c) return;
      L.marker([c[1], c[0]], {
        keyboard: true,
        title: `${p.rank ?? i + 1}. ${p.peak || ''}`,
        icon: L.divIcon({ className: 'patrol-rank', html: h('span', {}, String(p.rank ?? i + 1)), iconSize: [28, 28] }),
        zIndexOffset: 500,
      }).addTo(this.group);
    });
  }

  focus(p) {
    const c = p.centre;
    if (c) this.map.setView([c[1], c[0]], Math.max(this.map.getZoom(), 16));
  }

  async export(format) {
    try {
      const res = await getResponse(`/api/v1/patrol-plan.${format}`, this.filters.params());
      const blob = await res.blob();
      download(`patrullplan-${this.filters.from}-${this.filters.to}.${format}`, blob);
    } catch (err) {
      toast(err.message, 'error');
    }
  }
}
