// The weekday × hour table of a hotspot: when to be there. Rows are Monday…Sunday (Swedish
// weeks start on Monday), columns the hours 0–23 in Swedish local time; darker is busier.
// It is a real table (screen readers read counts by row and column), coloured for the eye.

import { h } from './util.js';
import { t, weekdayShort } from './i18n.js';

export function profileTable(profile, { caption, peak } = {}) {
  const rows = Array.isArray(profile) ? profile : [];
  const max = Math.max(1, ...rows.flat().map((v) => Number(v) || 0));
  const hours = [...Array(24).keys()];
  return h(
    'table',
    { class: 'profile' },
    caption ? h('caption', {}, caption, peak ? h('span', { class: 'peak' }, ` · ${t('f.peak')}: ${peak}`) : null) : null,
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, t('profile.weekday'))),
        hours.map((hr) => h('th', { scope: 'col', title: `${String(hr).padStart(2, '0')}:00` }, hr % 3 === 0 ? String(hr) : '')),
      ),
    ),
    h(
      'tbody',
      {},
      rows.map((row, d) =>
        h(
          'tr',
          {},
          h('th', { scope: 'row' }, weekdayShort(d)),
          hours.map((hr) => {
            const v = Number(row?.[hr]) || 0;
            const a = v / max;
            const td = h(
              'td',
              {
                title: `${weekdayShort(d)} ${String(hr).padStart(2, '0')}–${String((hr + 1) % 24).padStart(2, '0')}: ${v}`,
                class: a > 0.55 ? 'hot' : undefined,
              },
              v ? String(v) : '',
            );
            td.style.background = v ? `rgba(178, 24, 43, ${(0.12 + 0.88 * a).toFixed(3)})` : '';
            return td;
          }),
        ),
      ),
    ),
  );
}
