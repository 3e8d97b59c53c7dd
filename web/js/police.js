// The police view: significant hotspots ranked, each with its weekday × hour table and the
// time windows to patrol, and the patrol plan as CSV or GPX (for the patrol planners' tools
// and GPS units). The ranking and windows are computed by the server (/api/v1/patrol-plan).

import { h, replaceChildren, download, toast } from './util.js';
import { t, fmtNumber } from './i18n.js';
import { getJson, getResponse } from './api.js';
import { profileTable } from './profile.js';

const L = window.L;

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
    );
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
    } catch (err) {
      replaceChildren(list, h('li', { class: 'error' }, err.message));
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
        `${t('f.count')} ${p.count} · ${t('f.peak')} ${p.peak || '–'}${p.max_bin ? ` · ${t(`bin.${p.max_bin}`)}` : ''}`,
      ),
      windows.length
        ? h(
            'p',
            { class: 'windows' },
            h('strong', {}, `${t('police.windows')}: `),
            windows.map((w) => (typeof w === 'string' ? w : w.label)).join(' · '),
          )
        : null,
      p.profile ? profileTable(p.profile, { caption: t('profile.caption'), peak: p.peak }) : null,
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
