// The coordinator's lighting tools: the ranked list of dark stretches (the åtgärdsplan's
// order, with the reasons behind each score) and the what-if tool: place proposed lamps on the
// map, ask the server which stretches they would fix, and see the result drawn.

import { h, replaceChildren, toast } from './util.js';
import { t, fmtNumber } from './i18n.js';
import { getJson, sendJson } from './api.js';
import { stretchStyle, reasonText } from './layers.js';

const L = window.L;

export class LightingTool {
  constructor(map, container, config) {
    this.map = map;
    this.container = container;
    this.config = config;
    this.cls = config.lighting_class || 'P5';
    this.stretches = [];
    this.proposals = [];
    this.placing = false;
    this.highlight = L.featureGroup().addTo(map);
    this.proposalGroup = L.featureGroup().addTo(map);
    this.resultGroup = L.featureGroup().addTo(map);
    this.onClick = (e) => {
      if (this.placing) this.addProposal(e.latlng);
    };
    map.on('click', this.onClick);
  }

  destroy() {
    this.map.off('click', this.onClick);
    this.highlight.remove();
    this.proposalGroup.remove();
    this.resultGroup.remove();
    document.body.classList.remove('placing');
  }

  async render() {
    const list = h('ol', { class: 'stretch-list' }, h('li', {}, t('layer.loading')));
    this.list = list;
    this.result = h('div', { class: 'whatif-result', 'aria-live': 'polite' });
    this.height = h('input', { type: 'number', id: 'whatif-height', min: 2, max: 20, step: 0.5, value: 5 });
    this.lumen = h('input', { type: 'number', id: 'whatif-lumen', min: 100, max: 50000, step: 100, value: 2500 });
    this.proposalList = h('ul', { class: 'proposals' });
    const placeButton = h(
      'button',
      {
        type: 'button',
        'aria-pressed': String(this.placing),
        onclick: () => {
          this.placing = !this.placing;
          placeButton.setAttribute('aria-pressed', String(this.placing));
          placeButton.textContent = this.placing ? t('whatif.stopPlacing') : t('whatif.place');
          document.body.classList.toggle('placing', this.placing);
        },
      },
      this.placing ? t('whatif.stopPlacing') : t('whatif.place'),
    );
    replaceChildren(
      this.container,
      h('h3', {}, t('lighting.ranked', { cls: this.cls })),
      list,
      h(
        'section',
        { class: 'whatif' },
        h('h3', {}, t('whatif.title')),
        h('p', { class: 'hint small' }, t('whatif.hint')),
        h(
          'div',
          { class: 'row' },
          h('label', { class: 'field half', for: 'whatif-height' }, t('whatif.height'), this.height),
          h('label', { class: 'field half', for: 'whatif-lumen' }, t('whatif.lumen'), this.lumen),
        ),
        h(
          'div',
          { class: 'button-row' },
          placeButton,
          h('button', { type: 'button', onclick: () => this.addProposal(this.map.getCenter()) }, t('whatif.atCentre')),
        ),
        this.proposalList,
        h(
          'div',
          { class: 'button-row' },
          h('button', { type: 'button', class: 'primary', onclick: () => this.run() }, t('whatif.run')),
          h('button', { type: 'button', onclick: () => this.clearProposals() }, t('whatif.clear')),
        ),
        this.result,
      ),
    );
    this.renderProposals();
    try {
      const fc = await getJson('/api/v1/lighting/stretches', {
        class: this.cls,
        state: 'dark,unknown',
        sort: 'priority',
        limit: 50,
      });
      this.stretches = fc.features || [];
      this.assumptions = fc.meta?.assumptions;
      this.renderList();
    } catch (err) {
      replaceChildren(list, h('li', { class: 'error' }, err.message));
    }
  }

  renderList() {
    replaceChildren(
      this.list,
      this.stretches.length
        ? this.stretches.map((f, i) => {
            const p = f.properties;
            return h(
              'li',
              { dataset: { stretchId: String(p.id ?? i) } },
              h(
                'button',
                { type: 'button', class: 'stretch-item', onclick: () => this.focus(f) },
                h('strong', {}, `${p.rank ?? i + 1}. ${p.name || t('f.unnamed')}`),
                h(
                  'span',
                  { class: 'small' },
                  `${t(`state.${p.state}`)} · ${fmtNumber(p.length_m, 0)} m · ${
                    p.mean_lux == null ? '–' : `${fmtNumber(p.mean_lux, 2)} lx`
                  } · ${t('f.priority')} ${fmtNumber(p.priority, 1)}`,
                ),
                p.reasons?.length ? h('ul', { class: 'reasons' }, p.reasons.map((r) => h('li', {}, reasonText(r)))) : null,
              ),
              p.state === 'dark'
                ? h('button', { type: 'button', class: 'link propose', onclick: (e) => this.propose(f, e.target.closest('li')) }, t('proposal.button'))
                : null,
            );
          })
        : h('li', { class: 'empty' }, t('lighting.none')),
      this.assumptions ? h('li', { class: 'assumptions small' }, `${t('lighting.assumptions')}: ${assumptionText(this.assumptions)}`) : null,
    );
  }

  /** The fewest lamps of the what-if's type that light the stretch, shown under it. */
  async propose(f, li, plan = false) {
    const p = f.properties;
    const body = {
      stretch_id: p.id,
      class: this.cls,
      height_m: Number(this.height?.value) || 5,
      lumen: Number(this.lumen?.value) || 2500,
      plan,
    };
    try {
      const res = await sendJson('POST', '/api/v1/lighting/proposal', body);
      this.focus(f);
      for (const [lon, lat] of res.lamps) {
        L.marker([lat, lon], {
          keyboard: true,
          title: t('whatif.proposed'),
          icon: L.divIcon({ className: 'proposed-lamp', html: h('span', {}, '✚'), iconSize: [22, 22] }),
        }).addTo(this.highlight);
      }
      li.querySelector('.proposal')?.remove();
      li.append(
        h(
          'div',
          { class: 'proposal small', dataset: { count: String(res.count), meets: String(res.meets_class) } },
          h('p', {}, res.words),
          res.measure
            ? h('p', {}, t('proposal.planned', { id: res.measure.id }))
            : res.meets_class
              ? h('button', { type: 'button', onclick: () => this.propose(f, li, true) }, t('proposal.plan'))
              : null,
        ),
      );
      if (res.measure) toast(t('proposal.planned', { id: res.measure.id }));
    } catch (err) {
      toast(t('proposal.failed', { msg: err.message }), 'error');
    }
  }

  focus(f) {
    this.highlight.clearLayers();
    const layer = L.geoJSON(f, { style: { color: '#facc15', weight: 12, opacity: 0.6 } }).addTo(this.highlight);
    L.geoJSON(f, { style: stretchStyle }).addTo(this.highlight);
    this.map.fitBounds(layer.getBounds(), { maxZoom: 17, padding: [40, 40] });
  }

  addProposal(latlng) {
    const lamp = {
      lon: Number(latlng.lng.toFixed(7)),
      lat: Number(latlng.lat.toFixed(7)),
      height_m: Number(this.height?.value) || 5,
      lumen: Number(this.lumen?.value) || 2500,
    };
    const marker = L.marker(latlng, {
      draggable: true,
      keyboard: true,
      title: t('whatif.proposed'),
      icon: L.divIcon({ className: 'proposed-lamp', html: h('span', {}, '✚'), iconSize: [22, 22] }),
    }).addTo(this.proposalGroup);
    marker.on('dragend', () => {
      const p = marker.getLatLng();
      lamp.lon = Number(p.lng.toFixed(7));
      lamp.lat = Number(p.lat.toFixed(7));
      this.renderProposals();
    });
    this.proposals.push({ lamp, marker });
    this.renderProposals();
  }

  clearProposals() {
    this.proposals = [];
    this.proposalGroup.clearLayers();
    this.resultGroup.clearLayers();
    replaceChildren(this.result);
    this.renderProposals();
  }

  renderProposals() {
    if (!this.proposalList) return;
    replaceChildren(
      this.proposalList,
      this.proposals.map((p, i) =>
        h(
          'li',
          {},
          `${i + 1}. ${p.lamp.lat.toFixed(5)}, ${p.lamp.lon.toFixed(5)} · ${p.lamp.height_m} m · ${p.lamp.lumen} lm `,
          h(
            'button',
            {
              type: 'button',
              class: 'link',
              onclick: () => {
                p.marker.remove();
                this.proposals.splice(i, 1);
                this.renderProposals();
              },
            },
            t('remove'),
          ),
        ),
      ),
    );
  }

  async run(plan = false) {
    if (!this.proposals.length) {
      toast(t('whatif.none'), 'error');
      return;
    }
    try {
      const res = await sendJson('POST', '/api/v1/lighting/what-if', {
        class: this.cls,
        lamps: this.proposals.map((p) => p.lamp),
        plan,
      });
      this.showResult(res);
      if (res.measure) toast(t('proposal.planned', { id: res.measure.id }));
    } catch (err) {
      toast(t('whatif.failed', { msg: err.message }), 'error');
    }
  }

  showResult(res) {
    this.resultGroup.clearLayers();
    const fixed = (res.fixed || []).map((x) => (typeof x === 'object' ? x.id : x));
    const improved = res.improved || [];
    const byId = new Map(this.stretches.map((f) => [String(f.properties.id), f]));
    for (const id of fixed) {
      const f = byId.get(String(id));
      if (f) L.geoJSON(f, { style: { color: '#15803d', weight: 8, opacity: 0.9 } }).addTo(this.resultGroup);
    }
    const fresh = res.new_stretches?.features || (Array.isArray(res.new_stretches) ? res.new_stretches : []);
    if (fresh.length) {
      L.geoJSON({ type: 'FeatureCollection', features: fresh }, { style: (f) => ({ ...stretchStyle(f), dashArray: '2 6' }) }).addTo(
        this.resultGroup,
      );
    }
    replaceChildren(
      this.result,
      h('p', {}, t('whatif.fixed', { n: fixed.length }), fixed.length ? ` (${fixed.join(', ')})` : ''),
      h('p', {}, t('whatif.improved', { n: improved.length })),
      improved.length
        ? h(
            'ul',
            { class: 'small' },
            improved.map((x) =>
              h(
                'li',
                {},
                typeof x === 'object'
                  ? `${x.id}: ${fmtNumber(x.mean_lux_before ?? x.before?.mean_lux, 2)} → ${fmtNumber(
                      x.mean_lux_after ?? x.after?.mean_lux ?? x.mean_lux,
                      2,
                    )} lx`
                  : String(x),
              ),
            ),
          )
        : null,
      h('p', {}, t('whatif.remaining', { n: fresh.length })),
      res.measure
        ? h('p', {}, t('proposal.planned', { id: res.measure.id }))
        : h('button', { type: 'button', onclick: () => this.run(true) }, t('whatif.plan')),
    );
  }
}

function assumptionText(a) {
  if (Array.isArray(a)) return a.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join('; ');
  if (typeof a === 'object') return Object.entries(a).map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`).join('; ');
  return String(a);
}
