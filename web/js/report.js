// The citizen's report form ("Rapportera"): pick the place (tap the map, the device's position,
// or the map's centre for keyboard users), choose the service, answer its questions, describe,
// send. The answer is the report's id and a link to follow it. Everything goes through the
// Open311 API, as any other Open311 client would.

import { h, replaceChildren, toast } from './util.js';
import { t, serviceLabel, lang } from './i18n.js';
import { getJson, postForm } from './api.js';

const L = window.L;
const MINE_KEY = 'lagesbild.myReports';
const MAX_DESCRIPTION = 4000;

export function myReports() {
  try {
    return JSON.parse(localStorage.getItem(MINE_KEY) || '[]');
  } catch {
    return [];
  }
}

function rememberReport(id) {
  const list = myReports().filter((x) => x !== id);
  list.unshift(id);
  localStorage.setItem(MINE_KEY, JSON.stringify(list.slice(0, 50)));
}

export class ReportForm {
  constructor(map, panel, { config, onSubmitted }) {
    this.map = map;
    this.panel = panel;
    this.config = config;
    this.onSubmitted = onSubmitted;
    this.marker = null;
    this.services = null;
    this.definitions = new Map();
    this.picking = false;
    this.onMapClick = (e) => {
      if (this.picking) this.place(e.latlng);
    };
    map.on('click', this.onMapClick);
  }

  get isOpen() {
    return !this.panel.hidden;
  }

  async open() {
    this.panel.hidden = false;
    document.body.classList.add('reporting');
    this.picking = true;
    this.renderPick();
    this.panel.querySelector('h2')?.focus();
    this.loadServices();
  }

  /** The Open311 service list, fetched once (again after a failure). */
  loadServices() {
    if (!this.servicesPromise) {
      this.servicesPromise = getJson('/open311/v2/services.json').then(
        (list) => (this.services = list),
        (err) => {
          this.servicesPromise = null;
          toast(t('report.servicesFailed', { msg: err.message }), 'error');
          return [];
        },
      );
    }
    return this.servicesPromise;
  }

  close() {
    this.panel.hidden = true;
    this.picking = false;
    document.body.classList.remove('reporting');
    this.marker?.remove();
    this.marker = null;
    document.getElementById('report-button')?.focus();
  }

  inServiceArea(latlng) {
    const a = this.config.service_area_wgs84;
    if (!a) return true;
    return latlng.lng >= a[0] && latlng.lat >= a[1] && latlng.lng <= a[2] && latlng.lat <= a[3];
  }

  place(latlng) {
    if (!this.inServiceArea(latlng)) {
      toast(t('report.outside'), 'error');
      return;
    }
    if (!this.marker) {
      this.marker = L.marker(latlng, {
        draggable: true,
        keyboard: true,
        title: t('report.markerTitle'),
        icon: L.divIcon({ className: 'report-pin', html: h('span'), iconSize: [30, 42], iconAnchor: [15, 40] }),
        zIndexOffset: 2000,
      }).addTo(this.map);
      this.marker.on('dragend', () => this.updatePlace());
    } else {
      this.marker.setLatLng(latlng);
    }
    this.updatePlace();
    if (!this.panel.querySelector('form') && !this.rendering) {
      this.rendering = this.loadServices().then(() => {
        this.rendering = null;
        if (this.isOpen && this.marker && !this.panel.querySelector('form')) this.renderForm();
      });
    }
    this.keepVisible(latlng);
  }

  /** On a phone the form is a sheet over the map's lower part: keep the pin above it. */
  keepVisible(latlng) {
    const mapBox = this.map.getContainer().getBoundingClientRect();
    const sheetTop = this.panel.getBoundingClientRect().top - mapBox.top;
    if (sheetTop <= 0 || sheetTop >= mapBox.height - 10) return;
    const p = this.map.latLngToContainerPoint(latlng);
    if (p.y > sheetTop - 50) this.map.panBy([0, p.y - sheetTop / 2], { animate: false });
  }

  updatePlace() {
    const el = this.panel.querySelector('.place');
    if (!el || !this.marker) return;
    const p = this.marker.getLatLng();
    el.textContent = t('report.placeChosen', { lat: p.lat.toFixed(5), lon: p.lng.toFixed(5) });
  }

  useDevicePosition() {
    if (!navigator.geolocation) {
      toast(t('report.noGeolocation'), 'error');
      return;
    }
    navigator.geolocation.getCurrentPosition(
      (pos) => {
        const ll = L.latLng(pos.coords.latitude, pos.coords.longitude);
        this.map.setView(ll, Math.max(this.map.getZoom(), 17));
        this.place(ll);
      },
      (err) => toast(t('report.geolocationFailed', { msg: err.message }), 'error'),
      { enableHighAccuracy: true, timeout: 15_000 },
    );
  }

  header() {
    return h(
      'div',
      { class: 'panel-head' },
      h('h2', { tabindex: '-1', id: 'report-title' }, t('report.title')),
      h('button', { type: 'button', class: 'icon-button', 'aria-label': t('close'), onclick: () => this.close() }, '×'),
    );
  }

  renderPick() {
    replaceChildren(
      this.panel,
      this.header(),
      h('p', { class: 'hint' }, t('report.pickHint')),
      h(
        'div',
        { class: 'button-row' },
        h('button', { type: 'button', onclick: () => this.useDevicePosition() }, t('report.useMyPosition')),
        h('button', { type: 'button', onclick: () => this.place(this.map.getCenter()) }, t('report.useCentre')),
      ),
      h('p', { class: 'place', 'aria-live': 'polite' }),
    );
  }

  renderForm() {
    // One token per filled-in form: sending twice (a double tap, a retry after a timeout) is
    // recognised by the server as the same report.
    this.clientToken = crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`;
    const services = this.services || [];
    const form = h('form', { novalidate: true, onsubmit: (e) => this.submit(e) });
    const serviceSet = h(
      'fieldset',
      { class: 'services' },
      h('legend', {}, t('report.service')),
      services.map((s, i) =>
        h(
          'label',
          { class: 'service-option' },
          h('input', {
            type: 'radio',
            name: 'service_code',
            value: s.service_code,
            required: true,
            onchange: () => this.loadAttributes(s.service_code, form),
          }),
          h(
            'span',
            {},
            h('strong', {}, lang() === 'sv' ? s.service_name : serviceLabel(s.service_code, s.service_name)),
            s.description ? h('small', {}, s.description) : null,
          ),
        ),
      ),
    );
    const description = h('textarea', {
      id: 'report-description',
      name: 'description',
      rows: 4,
      maxlength: MAX_DESCRIPTION,
      required: true,
    });
    const counter = h('span', { class: 'counter', 'aria-live': 'off' }, `0 / ${MAX_DESCRIPTION}`);
    description.addEventListener('input', () => {
      counter.textContent = `${description.value.length} / ${MAX_DESCRIPTION}`;
    });
    const field = (name, type, autocomplete) =>
      h(
        'label',
        { class: 'field' },
        t(`report.${name}`),
        h('input', { type, name, autocomplete }),
      );
    form.append(
      h('p', { class: 'place', 'aria-live': 'polite' }),
      h('p', { class: 'hint small' }, t('report.moveHint')),
      serviceSet,
      h('div', { class: 'attributes' }),
      h(
        'label',
        { class: 'field', for: 'report-description' },
        t('report.description'),
        description,
        counter,
      ),
      h(
        'details',
        { class: 'contact' },
        h('summary', {}, t('report.contact')),
        h('p', { class: 'hint small' }, t('report.contactHint')),
        field('email', 'email', 'email'),
        field('first_name', 'text', 'given-name'),
        field('last_name', 'text', 'family-name'),
        field('phone', 'tel', 'tel'),
      ),
      h('p', { class: 'form-error', role: 'alert' }),
      h(
        'div',
        { class: 'button-row' },
        h('button', { type: 'submit', class: 'primary' }, t('report.send')),
        h('button', { type: 'button', onclick: () => this.close() }, t('cancel')),
      ),
    );
    replaceChildren(
      this.panel,
      this.header(),
      h(
        'div',
        { class: 'button-row' },
        h('button', { type: 'button', onclick: () => this.useDevicePosition() }, t('report.useMyPosition')),
        h('button', { type: 'button', onclick: () => this.place(this.map.getCenter()) }, t('report.useCentre')),
      ),
      form,
    );
    this.updatePlace();
    if (this.marker) this.keepVisible(this.marker.getLatLng());
  }

  async loadAttributes(code, form) {
    const box = form.querySelector('.attributes');
    let def = this.definitions.get(code);
    if (!def) {
      try {
        def = await getJson(`/open311/v2/services/${encodeURIComponent(code)}.json`);
        this.definitions.set(code, def);
      } catch {
        def = { attributes: [] };
      }
    }
    const attrs = [...(def.attributes || [])].sort((a, b) => (a.order ?? 0) - (b.order ?? 0));
    replaceChildren(box, attrs.map((a) => attributeInput(a)));
  }

  async submit(e) {
    e.preventDefault();
    const form = e.target;
    const error = form.querySelector('.form-error');
    error.textContent = '';
    const data = new FormData(form);
    const code = data.get('service_code');
    const description = (data.get('description') || '').trim();
    if (!this.marker) return (error.textContent = t('report.needPlace'));
    if (!code) return (error.textContent = t('report.needService'));
    if (!description) return (error.textContent = t('report.needDescription'));
    const p = this.marker.getLatLng();
    const fields = [
      ['client_token', this.clientToken],
      ['service_code', code],
      ['lat', p.lat.toFixed(7)],
      ['long', p.lng.toFixed(7)],
    ];
    for (const [k, v] of data.entries()) {
      if (k === 'service_code') continue;
      if (typeof v === 'string' && v.trim() !== '') fields.push([k, v.trim()]);
    }
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    button.textContent = t('report.sending');
    try {
      const answer = await postForm('/open311/v2/requests.json', fields);
      const first = Array.isArray(answer) ? answer[0] : answer;
      const id = first.service_request_id ?? first.token;
      rememberReport(String(id));
      this.renderThanks(first);
      this.onSubmitted?.(first);
    } catch (err) {
      error.textContent = t('report.failed', { msg: err.message });
      button.disabled = false;
      button.textContent = t('report.send');
    }
  }

  renderThanks(answer) {
    this.picking = false;
    this.marker?.dragging?.disable();
    const id = answer.service_request_id;
    const link = `${location.origin}${location.pathname}#/arende/${encodeURIComponent(id)}`;
    replaceChildren(
      this.panel,
      this.header(),
      h(
        'div',
        { class: 'thanks', role: 'status' },
        h('p', { class: 'big' }, t('report.thanks')),
        id != null
          ? h('p', {}, t('report.yourId'), ' ', h('strong', { class: 'report-id' }, String(id)))
          : h('p', {}, t('report.queued')),
        answer.service_notice ? h('p', { class: 'notice' }, answer.service_notice) : null,
        id != null ? h('p', {}, h('a', { href: `#/arende/${encodeURIComponent(id)}`, class: 'follow-link' }, t('report.follow'))) : null,
        id != null ? h('p', { class: 'small' }, t('report.saveLink'), ' ', h('code', {}, link)) : null,
        h(
          'div',
          { class: 'button-row' },
          h('button', { type: 'button', class: 'primary', onclick: () => this.close() }, t('close')),
          h(
            'button',
            {
              type: 'button',
              onclick: () => {
                this.marker?.remove();
                this.marker = null;
                this.open();
              },
            },
            t('report.another'),
          ),
        ),
      ),
    );
  }
}

/** One Open311 attribute as a form control named `attribute[code]`. */
function attributeInput(a) {
  const name = `attribute[${a.code}]`;
  if (a.variable === false) return h('p', { class: 'hint' }, a.description);
  const label = a.description || a.code;
  const req = a.required === true || a.required === 'true';
  const values = a.values || [];
  if (a.datatype === 'singlevaluelist') {
    return h(
      'fieldset',
      { class: 'attribute' },
      h('legend', {}, label, req ? ' *' : ''),
      values.map((v) =>
        h('label', { class: 'inline' }, h('input', { type: 'radio', name, value: v.key, required: req }), ' ', v.name),
      ),
    );
  }
  if (a.datatype === 'multivaluelist') {
    return h(
      'fieldset',
      { class: 'attribute' },
      h('legend', {}, label, req ? ' *' : ''),
      values.map((v) =>
        h('label', { class: 'inline' }, h('input', { type: 'checkbox', name: `${name}[]`, value: v.key }), ' ', v.name),
      ),
    );
  }
  const type = { number: 'number', datetime: 'datetime-local' }[a.datatype] || 'text';
  const control = a.datatype === 'text' ? h('textarea', { name, rows: 2, required: req }) : h('input', { type, name, required: req });
  return h('label', { class: 'field' }, label, req ? ' *' : '', control);
}
