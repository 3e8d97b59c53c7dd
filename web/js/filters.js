// The filters shared by every analysis (issue 3): period, category groups, hours of day (which
// may wrap midnight, 22–04), weekdays, district; plus the method and its parameters. `params()`
// is the one place that turns them into the API's query parameters.

import { h, isoDate, addDays } from './util.js';
import { t, groupLabel, weekdayShort } from './i18n.js';

export const CRIME_GROUPS = ['violence', 'property', 'drugs', 'vandalism', 'disorder', 'weapons', 'other_crime'];
export const OTHER_GROUPS = ['traffic', 'fire', 'non_crime', 'summary'];
const WEEKDAY_CODES = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

export class Filters {
  constructor(config) {
    const today = new Date();
    this.config = config;
    this.from = isoDate(addDays(today, -365));
    this.to = isoDate(today);
    this.groups = [...CRIME_GROUPS];
    this.hourFrom = '';
    this.hourTo = '';
    this.weekdays = [];
    this.area = '';
    this.method = 'dbscan';
    this.eps = 60;
    this.minPoints = 8;
    this.cell = '';
    this.band = '';
    this.compare = false;
    this.bFrom = '';
    this.bTo = '';
    this.listeners = new Set();
  }

  onApply(fn) {
    this.listeners.add(fn);
  }

  apply() {
    for (const fn of this.listeners) fn(this);
  }

  /** Query parameters shared by /hotspots, /incidents, /lagesbild and the patrol plan. */
  params({ withMethod = false } = {}) {
    const p = {
      from: this.from || undefined,
      to: this.to || undefined,
      groups: this.groups.length && this.groups.length < CRIME_GROUPS.length + OTHER_GROUPS.length ? this.groups : undefined,
      hours: this.hourFrom !== '' && this.hourTo !== '' ? `${this.hourFrom}-${this.hourTo}` : undefined,
      weekdays: this.weekdays.length && this.weekdays.length < 7 ? this.weekdays.map((d) => WEEKDAY_CODES[d]) : undefined,
      area: this.area || undefined,
    };
    if (withMethod) Object.assign(p, this.methodParams());
    return p;
  }

  methodParams(method = this.method) {
    if (method === 'dbscan') return { method, eps: this.eps || undefined, min_points: this.minPoints || undefined };
    if (method === 'gistar') return { method, cell: this.cell || undefined, band: this.band || undefined };
    return { method };
  }

  /** The comparison period: chosen, or the period of equal length just before. */
  previousPeriod() {
    if (this.bFrom && this.bTo) return { from: this.bFrom, to: this.bTo };
    const a = new Date(this.from);
    const b = new Date(this.to);
    const days = Math.max(1, Math.round((b - a) / 86_400_000));
    return { from: isoDate(addDays(a, -days)), to: isoDate(addDays(a, -1)) };
  }

  render() {
    const form = h('form', {
      class: 'filters',
      onsubmit: (e) => {
        e.preventDefault();
        this.read(form);
        this.apply();
      },
    });
    const hourOptions = (value) => [
      h('option', { value: '' }, '–'),
      [...Array(24).keys()].map((hr) =>
        h('option', { value: String(hr), selected: String(value) === String(hr) }, `${String(hr).padStart(2, '0')}:00`),
      ),
    ];
    const groupBox = (g) =>
      h(
        'label',
        { class: 'inline' },
        h('input', { type: 'checkbox', name: 'groups', value: g, checked: this.groups.includes(g) }),
        ' ',
        groupLabel(g),
      );
    const districts = this.config.districts || [];
    form.append(
      h(
        'fieldset',
        {},
        h('legend', {}, t('filter.period')),
        h('label', { class: 'field half' }, t('filter.from'), h('input', { type: 'date', name: 'from', value: this.from })),
        h('label', { class: 'field half' }, t('filter.to'), h('input', { type: 'date', name: 'to', value: this.to })),
      ),
      h(
        'fieldset',
        {},
        h('legend', {}, t('filter.groups')),
        h('div', { class: 'checks' }, CRIME_GROUPS.map(groupBox)),
        h('details', {}, h('summary', {}, t('filter.otherGroups')), h('div', { class: 'checks' }, OTHER_GROUPS.map(groupBox))),
      ),
      h(
        'fieldset',
        {},
        h('legend', {}, t('filter.hours')),
        h('label', { class: 'field half' }, t('filter.hourFrom'), h('select', { name: 'hourFrom' }, hourOptions(this.hourFrom))),
        h('label', { class: 'field half' }, t('filter.hourTo'), h('select', { name: 'hourTo' }, hourOptions(this.hourTo))),
        h('p', { class: 'hint small' }, t('filter.hoursHint')),
      ),
      h(
        'fieldset',
        {},
        h('legend', {}, t('filter.weekdays')),
        h(
          'div',
          { class: 'checks weekdays' },
          [...Array(7).keys()].map((d) =>
            h(
              'label',
              { class: 'inline' },
              h('input', { type: 'checkbox', name: 'weekdays', value: String(d), checked: this.weekdays.includes(d) }),
              ' ',
              weekdayShort(d),
            ),
          ),
        ),
      ),
      h(
        'label',
        { class: 'field' },
        t('filter.area'),
        h(
          'select',
          { name: 'area' },
          h('option', { value: '' }, t('filter.allAreas')),
          districts.map((d) => h('option', { value: d.name, selected: this.area === d.name }, d.name)),
        ),
      ),
      h(
        'fieldset',
        {},
        h('legend', {}, t('filter.method')),
        ['dbscan', 'gistar', 'kde'].map((m) =>
          h(
            'label',
            { class: 'inline' },
            h('input', { type: 'radio', name: 'method', value: m, checked: this.method === m }),
            ' ',
            t(`method.${m}`),
          ),
        ),
        h(
          'div',
          { class: 'params' },
          h('label', { class: 'field quarter' }, t('filter.eps'), h('input', { type: 'number', name: 'eps', min: 5, max: 1000, value: this.eps })),
          h('label', { class: 'field quarter' }, t('filter.minPoints'), h('input', { type: 'number', name: 'minPoints', min: 2, max: 1000, value: this.minPoints })),
          h('label', { class: 'field quarter' }, t('filter.cell'), h('input', { type: 'number', name: 'cell', min: 10, max: 5000, value: this.cell, placeholder: t('filter.auto') })),
          h('label', { class: 'field quarter' }, t('filter.band'), h('input', { type: 'number', name: 'band', min: 10, max: 10000, value: this.band, placeholder: t('filter.auto') })),
        ),
      ),
      h(
        'fieldset',
        {},
        h('legend', {}, t('filter.compare')),
        h(
          'label',
          { class: 'inline' },
          h('input', { type: 'checkbox', name: 'compare', checked: this.compare }),
          ' ',
          t('filter.compareOn'),
        ),
        h('label', { class: 'field half' }, t('filter.bFrom'), h('input', { type: 'date', name: 'bFrom', value: this.bFrom })),
        h('label', { class: 'field half' }, t('filter.bTo'), h('input', { type: 'date', name: 'bTo', value: this.bTo })),
        h('p', { class: 'hint small' }, t('filter.compareHint')),
      ),
      h('div', { class: 'button-row sticky' }, h('button', { type: 'submit', class: 'primary' }, t('filter.apply'))),
    );
    return form;
  }

  read(form) {
    const d = new FormData(form);
    this.from = d.get('from') || '';
    this.to = d.get('to') || '';
    this.groups = d.getAll('groups');
    this.hourFrom = d.get('hourFrom') ?? '';
    this.hourTo = d.get('hourTo') ?? '';
    this.weekdays = d.getAll('weekdays').map(Number);
    this.area = d.get('area') || '';
    this.method = d.get('method') || 'dbscan';
    this.eps = Number(d.get('eps')) || '';
    this.minPoints = Number(d.get('minPoints')) || '';
    this.cell = Number(d.get('cell')) || '';
    this.band = Number(d.get('band')) || '';
    this.compare = d.get('compare') === 'on';
    this.bFrom = d.get('bFrom') || '';
    this.bTo = d.get('bTo') || '';
  }
}
