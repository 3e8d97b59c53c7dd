// The coordinator's åtgärdsplan: the measures in a list and on the map, a form to plan a new
// one or change one (its points are placed by clicking the map), what a done one achieved
// (/api/v1/measures/{id}/effect), and the plan out to and in from CSV. Everything from the
// server is set as text.

import { h, replaceChildren, download, toast } from './util.js';
import { t, fmtNumber } from './i18n.js';
import { getJson, getResponse, sendJson, sendText } from './api.js';

const L = window.L;

export const KINDS = ['new_lamp', 'lamp_repair', 'vegetation_clearing', 'patrol_effort', 'camera', 'trygghetsvandring', 'other'];
export const STATUSES = ['planned', 'in_progress', 'done', 'cancelled'];
const AGENCIES = ['', 'kommunen', 'polisen', 'fastighetsägare', 'annan'];

export class MeasuresTool {
  constructor(map, container) {
    this.map = map;
    this.container = container;
    this.group = L.featureGroup().addTo(map);
    this.draft = L.featureGroup().addTo(map);
    this.measures = [];
    this.editing = null;
    this.points = [];
    this.placing = false;
    this.onClick = (e) => {
      if (!this.placing) return;
      this.points.push([Number(e.latlng.lng.toFixed(7)), Number(e.latlng.lat.toFixed(7))]);
      this.drawDraft();
    };
    map.on('click', this.onClick);
  }

  destroy() {
    this.map.off('click', this.onClick);
    this.group.remove();
    this.draft.remove();
    document.body.classList.remove('placing');
  }

  async render() {
    this.list = h('ol', { class: 'measure-list' }, h('li', {}, t('layer.loading')));
    this.form = h('section', { class: 'measure-form', hidden: true, 'aria-live': 'polite' });
    const file = h('input', {
      type: 'file',
      accept: '.csv,text/csv',
      id: 'measures-csv-file',
      class: 'sr-only',
      onchange: () => this.importCsv(file),
    });
    replaceChildren(
      this.container,
      h('p', { class: 'hint small' }, t('measures.intro')),
      h(
        'div',
        { class: 'button-row' },
        h('button', { type: 'button', class: 'primary', id: 'measure-new', onclick: () => this.edit(null) }, t('measures.new')),
        h('button', { type: 'button', id: 'walk-start', onclick: () => this.startWalk() }, t('walk.start')),
        h('button', { type: 'button', onclick: () => this.exportCsv() }, t('measures.export')),
        h('label', { class: 'button', for: 'measures-csv-file' }, t('measures.import'), file),
      ),
      this.form,
      this.list,
    );
    await this.reload();
  }

  async reload() {
    try {
      const res = await getJson('/api/v1/measures');
      this.measures = res.measures || [];
      this.renderList();
      this.drawAll();
    } catch (err) {
      replaceChildren(this.list, h('li', { class: 'error' }, err.message));
    }
  }

  renderList() {
    replaceChildren(
      this.list,
      this.measures.length
        ? this.measures.map((m) =>
            h(
              'li',
              { class: 'measure', dataset: { measureId: String(m.id), status: m.status } },
              h('strong', {}, m.title),
              h(
                'span',
                { class: 'small' },
                ` ${t(`measure.kind.${m.kind}`)} · ${t(`measure.status.${m.status}`)}`
                  + (m.done_date ? ` ${m.done_date}` : m.planned_date ? ` (${t('measures.plannedFor')} ${m.planned_date})` : '')
                  + (m.cost_sek != null ? ` · ${fmtNumber(m.cost_sek, 0)} kr` : ''),
              ),
              h(
                'div',
                { class: 'button-row' },
                h('button', { type: 'button', class: 'link', onclick: () => this.edit(m) }, t('measures.edit')),
                m.place.points.length
                  ? h('button', { type: 'button', class: 'link', onclick: () => this.focus(m) }, t('measures.show'))
                  : null,
                m.status === 'done'
                  ? h('button', { type: 'button', class: 'link', onclick: (e) => this.effect(m, e.target) }, t('measures.effect'))
                  : null,
                m.kind === 'trygghetsvandring'
                  ? h('button', { type: 'button', class: 'link', onclick: () => this.openWalk(m.id) },
                      m.status === 'in_progress' ? t('walk.continue') : t('walk.summary'))
                  : null,
              ),
            ),
          )
        : h('li', { class: 'empty' }, t('measures.none')),
    );
  }

  drawAll() {
    this.group.clearLayers();
    for (const m of this.measures) {
      for (const [lon, lat] of m.place.points) {
        L.circleMarker([lat, lon], {
          radius: 7,
          color: m.status === 'done' ? '#047857' : '#0b3d5c',
          weight: 2,
          fillOpacity: 0.6,
        })
          .bindTooltip(`${m.title} (${t(`measure.status.${m.status}`)})`)
          .addTo(this.group);
      }
    }
  }

  focus(m) {
    const pts = m.place.points.map(([lon, lat]) => [lat, lon]);
    if (pts.length) this.map.fitBounds(L.latLngBounds(pts), { maxZoom: 17, padding: [40, 40] });
  }

  drawDraft() {
    this.draft.clearLayers();
    this.points.forEach(([lon, lat], i) =>
      L.marker([lat, lon], {
        keyboard: true,
        title: t('measures.point', { n: i + 1 }),
        icon: L.divIcon({ className: 'proposed-lamp', html: h('span', {}, '✚'), iconSize: [22, 22] }),
      }).addTo(this.draft),
    );
    if (this.pointsLabel) this.pointsLabel.textContent = t('measures.points', { n: this.points.length });
  }

  edit(m) {
    this.editing = m;
    this.points = m ? m.place.points.map((p) => [...p]) : [];
    this.drawDraft();
    const select = (id, values, value, label) =>
      h(
        'select',
        { id, name: id },
        values.map((v) => h('option', { value: v, selected: v === (value ?? '') }, label(v))),
      );
    const field = (id, label, input) => h('label', { class: 'field', for: id }, label, input);
    const title = h('input', { id: 'measure-title', required: true, maxlength: 200, value: m?.title ?? '' });
    const kind = select('measure-kind', KINDS, m?.kind ?? 'new_lamp', (k) => t(`measure.kind.${k}`));
    const status = select('measure-status', STATUSES, m?.status ?? 'planned', (s) => t(`measure.status.${s}`));
    const agency = select('measure-agency', AGENCIES, m?.agency ?? '', (a) => a || '–');
    const planned = h('input', { id: 'measure-planned', type: 'date', value: m?.planned_date ?? '' });
    const done = h('input', { id: 'measure-done', type: 'date', value: m?.done_date ?? '' });
    const cost = h('input', { id: 'measure-cost', type: 'number', min: 0, step: 1000, value: m?.cost_sek ?? '' });
    const notes = h('textarea', { id: 'measure-notes', rows: 3, maxlength: 4000 }, m?.notes ?? '');
    const close = h('input', { id: 'measure-close', type: 'checkbox' });
    this.pointsLabel = h('span', { class: 'small' }, t('measures.points', { n: this.points.length }));
    const error = h('p', { class: 'form-error', role: 'alert' });
    const place = h(
      'button',
      {
        type: 'button',
        'aria-pressed': String(this.placing),
        onclick: () => {
          this.placing = !this.placing;
          place.setAttribute('aria-pressed', String(this.placing));
          place.textContent = this.placing ? t('whatif.stopPlacing') : t('measures.place');
          document.body.classList.toggle('placing', this.placing);
        },
      },
      t('measures.place'),
    );
    const form = h(
      'form',
      {
        onsubmit: async (e) => {
          e.preventDefault();
          error.textContent = '';
          const body = {
            title: title.value,
            kind: kind.value,
            status: status.value,
            agency: agency.value || null,
            planned_date: planned.value || null,
            done_date: done.value || null,
            cost_sek: cost.value === '' ? null : Number(cost.value),
            notes: notes.value || null,
            place: { ...(m?.place || {}), points: this.points },
            close_reports: close.checked,
          };
          if (!m) {
            for (const k of Object.keys(body)) if (body[k] === null) delete body[k];
          }
          try {
            const saved = m ? await sendJson('PATCH', `/api/v1/measures/${m.id}`, body) : await sendJson('POST', '/api/v1/measures', body);
            toast(t('measures.saved', { id: saved.id }));
            this.cancelEdit();
            await this.reload();
          } catch (err) {
            error.textContent = err.message;
          }
        },
      },
      h('h3', {}, m ? t('measures.editTitle', { id: m.id }) : t('measures.new')),
      field('measure-title', t('measures.title'), title),
      h('div', { class: 'row' }, field('measure-kind', t('measures.kind'), kind), field('measure-status', t('measures.status'), status)),
      field('measure-agency', t('measures.agency'), agency),
      h('div', { class: 'row' }, field('measure-planned', t('measures.planned'), planned), field('measure-done', t('measures.done'), done)),
      field('measure-cost', t('measures.cost'), cost),
      field('measure-notes', t('measures.notes'), notes),
      h('div', { class: 'button-row' }, place, h('button', { type: 'button', onclick: () => { this.points = []; this.drawDraft(); } }, t('measures.clearPoints')), this.pointsLabel),
      h('label', { class: 'check', for: 'measure-close' }, close, t('measures.closeReports')),
      error,
      h(
        'div',
        { class: 'button-row' },
        h('button', { type: 'submit', class: 'primary' }, t('measures.save')),
        h('button', { type: 'button', onclick: () => this.cancelEdit() }, t('measures.cancel')),
      ),
    );
    this.form.hidden = false;
    replaceChildren(this.form, form);
    title.focus();
  }

  cancelEdit() {
    this.editing = null;
    this.points = [];
    this.placing = false;
    document.body.classList.remove('placing');
    this.draft.clearLayers();
    this.form.hidden = true;
    replaceChildren(this.form);
  }

  async effect(m, button) {
    try {
      const e = await getJson(`/api/v1/measures/${m.id}/effect`);
      const li = button.closest('li');
      li.querySelector('.effect')?.remove();
      li.append(
        h(
          'p',
          { class: 'effect small', dataset: { verdict: e.verdict } },
          `${t('measures.effectOf')}: ${e.words}`,
          e.counts ? ` (${e.counts.target_before} → ${e.counts.target_after}; ${t('measures.comparison')} ${e.counts.comparison_before} → ${e.counts.comparison_after})` : '',
        ),
      );
    } catch (err) {
      toast(err.message, 'error');
    }
  }

  // ---- trygghetsvandring ----------------------------------------------------------------------

  startWalk() {
    const title = h('input', { id: 'walk-title', required: true, maxlength: 200, value: t('walk.defaultTitle') });
    const error = h('p', { class: 'form-error', role: 'alert' });
    this.form.hidden = false;
    replaceChildren(
      this.form,
      h(
        'form',
        {
          onsubmit: async (e) => {
            e.preventDefault();
            try {
              const w = await sendJson('POST', '/api/v1/walks', { title: title.value });
              await this.openWalk(w.id);
            } catch (err) {
              error.textContent = err.message;
            }
          },
        },
        h('h3', {}, t('walk.start')),
        h('label', { class: 'field', for: 'walk-title' }, t('measures.title'), title),
        error,
        h('div', { class: 'button-row' },
          h('button', { type: 'submit', class: 'primary' }, t('walk.begin')),
          h('button', { type: 'button', onclick: () => this.cancelEdit() }, t('measures.cancel'))),
      ),
    );
    title.focus();
  }

  async openWalk(id) {
    try {
      this.walk = await getJson(`/api/v1/walks/${id}`);
    } catch (err) {
      toast(err.message, 'error');
      return;
    }
    this.renderWalk();
  }

  renderWalk() {
    const w = this.walk;
    const m = w.walk;
    const open = m.status === 'in_progress' || m.status === 'planned';
    this.draft.clearLayers();
    for (const o of w.observations) {
      const [lon, lat] = o.position;
      L.circleMarker([lat, lon], { radius: 7, color: '#b34700', weight: 2, fillOpacity: 0.7 })
        .bindTooltip(`${t(`walk.cat.${o.category || 'other'}`)}: ${o.description}`)
        .addTo(this.draft);
    }
    const list = h(
      'ol',
      { class: 'walk-observations' },
      w.observations.length
        ? w.observations.map((o) =>
            h('li', { dataset: { reportId: String(o.report_id) } },
              h('strong', {}, t(`walk.cat.${o.category || 'other'}`)),
              ` · #${o.report_id} · ${o.description || '–'}`,
              o.media_url ? h('span', { class: 'small' }, ` (${t('walk.photo')}: ${o.media_url})`) : null))
        : h('li', { class: 'empty' }, t('walk.none')),
    );
    const children = [
      h('h3', {}, m.title),
      h('p', { class: 'small' }, `${t(`measure.status.${m.status}`)} · ${t('walk.count', { n: w.observations.length })}`),
    ];
    if (open) {
      const cat = h('select', { id: 'walk-category' },
        ['lighting', 'vegetation', 'visibility', 'other'].map((c) => h('option', { value: c }, t(`walk.cat.${c}`))));
      const text = h('textarea', { id: 'walk-text', rows: 2, maxlength: 4000 });
      const photo = h('input', { id: 'walk-photo', type: 'url', placeholder: 'https://' });
      const error = h('p', { class: 'form-error', role: 'alert' });
      const send = async (pos) => {
        error.textContent = '';
        try {
          this.walk = await sendJson('POST', `/api/v1/walks/${m.id}/observations`, {
            category: cat.value,
            lon: Number(pos.lng.toFixed(7)),
            lat: Number(pos.lat.toFixed(7)),
            description: text.value,
            media_url: photo.value || null,
            client_token: (crypto.randomUUID?.() || `${Date.now()}-${Math.random()}`),
          });
          toast(t('walk.saved'));
          this.renderWalk();
        } catch (err) {
          error.textContent = err.message;
        }
      };
      children.push(
        h('form', { class: 'walk-form', onsubmit: (e) => { e.preventDefault(); send(this.map.getCenter()); } },
          h('label', { class: 'field', for: 'walk-category' }, t('walk.category'), cat),
          h('label', { class: 'field', for: 'walk-text' }, t('walk.what'), text),
          h('label', { class: 'field', for: 'walk-photo' }, t('walk.photoUrl'), photo),
          error,
          h('div', { class: 'button-row' },
            h('button', { type: 'submit', class: 'primary', id: 'walk-here' }, t('walk.atCentre')),
            navigator.geolocation
              ? h('button', {
                  type: 'button',
                  onclick: () => navigator.geolocation.getCurrentPosition(
                    (p) => send({ lat: p.coords.latitude, lng: p.coords.longitude }),
                    (e) => { error.textContent = t('walk.noPosition', { msg: e.message }); },
                    { enableHighAccuracy: true, timeout: 15_000 },
                  ),
                }, t('walk.atMe'))
              : null)),
      );
    }
    children.push(list);
    children.push(
      h('div', { class: 'button-row' },
        open
          ? h('button', { type: 'button', id: 'walk-finish', onclick: () => this.finishWalk() }, t('walk.finish'))
          : null,
        h('button', { type: 'button', onclick: () => { this.walk = null; this.cancelEdit(); this.reload(); } }, t('walk.back'))),
    );
    this.form.hidden = false;
    replaceChildren(this.form, ...children);
  }

  async finishWalk() {
    const m = this.walk.walk;
    const today = new Date().toLocaleDateString('sv-SE', { timeZone: 'Europe/Stockholm' });
    try {
      await sendJson('PATCH', `/api/v1/measures/${m.id}`, { status: 'done', done_date: today });
      toast(t('walk.finished', { n: this.walk.observations.length }));
      await this.openWalk(m.id);
      await this.reload();
    } catch (err) {
      toast(err.message, 'error');
    }
  }

  async exportCsv() {
    try {
      const res = await getResponse('/api/v1/measures.csv');
      download('atgardsplan.csv', await res.text(), 'text/csv;charset=utf-8');
    } catch (err) {
      toast(err.message, 'error');
    }
  }

  async importCsv(input) {
    const f = input.files?.[0];
    if (!f) return;
    try {
      const res = await sendText('POST', '/api/v1/measures.csv', await f.text(), 'text/csv');
      toast(t('measures.imported', { created: res.created.length, changed: res.changed.length }));
      await this.reload();
    } catch (err) {
      toast(err.message, 'error');
    } finally {
      input.value = '';
    }
  }
}
