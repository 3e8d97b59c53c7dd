// The coordinator's report inbox: reports by status, one report's details with its history, and
// the moderation form (status, notes, responsible agency, hide, merge as duplicate, reason).

import { h, replaceChildren, toast } from './util.js';
import { t, statusLabel, serviceLabel, fmtDateTime } from './i18n.js';
import { getJson, sendJson } from './api.js';

const L = window.L;
const STATUSES = ['open', 'acknowledged', 'in_progress', 'closed'];
const AGENCIES = ['kommunen', 'polisen', 'fastighetsägare'];

/** The inbox answer may be a list or an object holding one. */
function listOf(body) {
  if (Array.isArray(body)) return body;
  return body?.reports || body?.items || body?.requests || [];
}

export const reportId = (r) => String(r.id ?? r.service_request_id);
const reportStatus = (r) => r.status;
const lonLat = (r) => {
  if (r.lat != null && (r.long ?? r.lon) != null) return [Number(r.long ?? r.lon), Number(r.lat)];
  if (r.location?.coordinates) return r.location.coordinates;
  if (r.geometry?.coordinates) return r.geometry.coordinates;
  return null;
};

export class Inbox {
  constructor(map, container, { onChanged }) {
    this.map = map;
    this.container = container;
    this.onChanged = onChanged;
    this.status = 'open';
    this.selected = null;
    this.focusMarker = null;
  }

  async render() {
    const list = h('ul', { class: 'inbox-list', 'aria-live': 'polite' }, h('li', {}, t('layer.loading')));
    const select = h(
      'select',
      {
        id: 'inbox-status',
        onchange: (e) => {
          this.status = e.target.value;
          this.render();
        },
      },
      h('option', { value: '', selected: this.status === '' }, t('inbox.all')),
      STATUSES.map((s) => h('option', { value: s, selected: this.status === s }, statusLabel(s))),
    );
    const detail = h('div', { class: 'inbox-detail' });
    replaceChildren(
      this.container,
      h('div', { class: 'row' }, h('label', { for: 'inbox-status' }, t('inbox.show')), select),
      list,
      detail,
    );
    this.detail = detail;
    try {
      const reports = listOf(await getJson('/api/v1/reports', { status: this.status || undefined }));
      reports.sort((a, b) => String(b.requested_datetime ?? b.requested_at).localeCompare(String(a.requested_datetime ?? a.requested_at)));
      replaceChildren(
        list,
        reports.length
          ? reports.map((r) =>
              h(
                'li',
                { dataset: { reportId: reportId(r) } },
                h(
                  'button',
                  { type: 'button', class: 'inbox-item', onclick: () => this.open(reportId(r)) },
                  h('span', { class: `badge status-${reportStatus(r)}` }, statusLabel(reportStatus(r))),
                  h('strong', {}, `#${reportId(r)} ${r.service_name || serviceLabel(r.service_code || r.service)}`),
                  h('span', { class: 'small' }, fmtDateTime(r.requested_datetime ?? r.requested_at)),
                  h('span', { class: 'excerpt' }, (r.description || '').slice(0, 120)),
                  r.hidden ? h('span', { class: 'badge' }, t('inbox.hidden')) : null,
                ),
              ),
            )
          : h('li', { class: 'empty' }, t('inbox.empty')),
      );
      if (this.selected) this.open(this.selected);
    } catch (err) {
      replaceChildren(list, h('li', { class: 'error' }, err.message));
    }
  }

  async open(id) {
    this.selected = id;
    for (const li of this.container.querySelectorAll('.inbox-list li')) {
      li.classList.toggle('selected', li.dataset.reportId === id);
    }
    replaceChildren(this.detail, h('p', {}, t('layer.loading')));
    let r;
    try {
      r = await getJson(`/api/v1/reports/${encodeURIComponent(id)}`);
      if (Array.isArray(r)) r = r[0];
    } catch (err) {
      replaceChildren(this.detail, h('p', { class: 'error' }, err.message));
      return;
    }
    const ll = lonLat(r);
    if (ll) {
      this.focusMarker?.remove();
      this.focusMarker = L.circleMarker([ll[1], ll[0]], { radius: 18, color: '#6d28d9', weight: 3, fill: false, pane: 'pointPane' }).addTo(
        this.map,
      );
      this.map.setView([ll[1], ll[0]], Math.max(this.map.getZoom(), 16));
    }
    const history = r.history || r.events || [];
    const contact = r.contact || pick(r, ['email', 'first_name', 'last_name', 'phone']);
    const form = h('form', { class: 'moderate', onsubmit: (e) => this.save(e, r) });
    form.append(
      h(
        'label',
        { class: 'field' },
        t('f.status'),
        h(
          'select',
          { name: 'status' },
          STATUSES.map((s) => h('option', { value: s, selected: reportStatus(r) === s }, statusLabel(s))),
        ),
      ),
      h('label', { class: 'field' }, t('f.notes'), h('textarea', { name: 'status_notes', rows: 2 }, r.status_notes || '')),
      h(
        'label',
        { class: 'field' },
        t('f.agency'),
        h(
          'select',
          { name: 'agency_responsible' },
          h('option', { value: '' }, '–'),
          AGENCIES.map((a) => h('option', { value: a, selected: r.agency_responsible === a }, a)),
        ),
      ),
      h('label', { class: 'inline' }, h('input', { type: 'checkbox', name: 'hidden', checked: !!r.hidden }), ' ', t('inbox.hide')),
      h('label', { class: 'field' }, t('inbox.mergeInto'), h('input', { type: 'text', name: 'merged_into', inputmode: 'numeric', value: r.merged_into ?? '' })),
      h('label', { class: 'field' }, t('inbox.reason'), h('input', { type: 'text', name: 'reason' })),
      h('div', { class: 'button-row' }, h('button', { type: 'submit', class: 'primary' }, t('save'))),
    );
    replaceChildren(
      this.detail,
      h('h3', {}, `#${reportId(r)} ${r.service_name || serviceLabel(r.service_code || r.service)}`),
      h('p', { class: 'report-text' }, r.description || ''),
      h(
        'dl',
        { class: 'facts' },
        fact(t('f.reported'), fmtDateTime(r.requested_datetime ?? r.requested_at)),
        fact(t('f.updated'), fmtDateTime(r.updated_datetime ?? r.updated_at)),
        r.lamp_id ? fact(t('f.lamp'), r.lamp_id) : null,
        r.walkway_id ? fact(t('f.walkway'), r.walkway_id) : null,
        attributesText(r.attributes) ? fact(t('f.attributes'), attributesText(r.attributes)) : null,
        contact && Object.values(contact).some(Boolean) ? fact(t('f.contact'), Object.values(contact).filter(Boolean).join(', ')) : null,
      ),
      form,
      h('h4', {}, t('inbox.history')),
      history.length
        ? h(
            'ol',
            { class: 'history' },
            history.map((e) =>
              h(
                'li',
                {},
                h('span', { class: 'small' }, fmtDateTime(e.at ?? e.changed_at ?? e.time)),
                ' ',
                h('strong', {}, `${e.actor ?? ''}${e.role ? ` (${t(`role.${e.role}`)})` : ''}`),
                ' ',
                historyText(e),
              ),
            ),
          )
        : h('p', { class: 'small' }, t('inbox.noHistory')),
    );
  }

  /** Sends only what changed, so the history records real changes. */
  async save(e, r) {
    e.preventDefault();
    const id = reportId(r);
    const d = new FormData(e.target);
    const body = {};
    const status = d.get('status');
    if (status !== r.status) body.status = status;
    const notes = String(d.get('status_notes') || '').trim();
    if (notes !== (r.status_notes || '')) body.status_notes = notes || null;
    const agency = d.get('agency_responsible') || null;
    if (agency !== (r.agency_responsible || null)) body.agency_responsible = agency;
    const hidden = d.get('hidden') === 'on';
    if (hidden !== !!r.hidden) body.hidden = hidden;
    const merged = String(d.get('merged_into') || '').trim();
    if (merged && merged !== String(r.merged_into ?? '')) body.merged_into = /^\d+$/.test(merged) ? Number(merged) : merged;
    const reason = String(d.get('reason') || '').trim();
    if (reason) body.reason = reason;
    if (!Object.keys(body).length || (Object.keys(body).length === 1 && body.reason)) {
      toast(t('inbox.nothing'), 'error');
      return;
    }
    try {
      await sendJson('PATCH', `/api/v1/reports/${encodeURIComponent(id)}`, body);
      toast(t('inbox.saved', { id }));
      await this.render();
      this.onChanged?.();
    } catch (err) {
      toast(t('inbox.saveFailed', { msg: err.message }), 'error');
    }
  }

  close() {
    this.focusMarker?.remove();
    this.focusMarker = null;
  }
}

function pick(o, keys) {
  const out = {};
  for (const k of keys) if (o[k]) out[k] = o[k];
  return Object.keys(out).length ? out : null;
}

function fact(k, v) {
  return [h('dt', {}, k), h('dd', {}, String(v))];
}

function attributesText(a) {
  if (!a || typeof a !== 'object') return '';
  return Object.entries(a)
    .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : v}`)
    .join('; ');
}

/** One history entry `{at, actor, role, action, detail}` in words. */
function historyText(e) {
  const d = e.detail && typeof e.detail === 'object' ? e.detail : {};
  const show = (v) => (v === null || v === undefined || v === '' ? '–' : String(v));
  const parts = [t(`history.${e.action}`) === `history.${e.action}` ? e.action : t(`history.${e.action}`)];
  if (e.action === 'status') parts.push(`${statusLabel(d.from)} → ${statusLabel(d.to)}`);
  else if ('from' in d || 'to' in d) parts.push(`${show(d.from)} → ${show(d.to)}`);
  if (d.into ?? d.merged_into) parts.push(`#${d.into ?? d.merged_into}`);
  if (d.reason) parts.push(`(${d.reason})`);
  return parts.join(': ').replace(': (', ' (');
}
