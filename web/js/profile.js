// The weekday × hour table of a hotspot: when to be there. Rows are Monday…Sunday (Swedish
// weeks start on Monday), columns the hours 0–23 in Swedish local time; darker is busier.
// It is a real table (screen readers read counts by row and column), coloured for the eye.
// Cells are aoristic weights: an event known only to a window is spread over its hours, so a
// cell may hold a fraction; the note under the table says how much weight that is, and how many
// events had no hour at all.

import { h } from './util.js';
import { t, weekdayShort, fmtNumber } from './i18n.js';

/** A cell's weight: whole events as they are, fractions to one decimal, a trace as "<0,1". */
function weight(v) {
  if (Number.isInteger(v)) return String(v);
  return v < 0.05 ? `<${fmtNumber(0.1, 1)}` : fmtNumber(v, 1);
}

export function profileTable(profile, { caption, peak, uncertain = 0, withoutHour = 0 } = {}) {
  const rows = Array.isArray(profile) ? profile : [];
  const max = Math.max(1, ...rows.flat().map((v) => Number(v) || 0));
  const hours = [...Array(24).keys()];
  return h(
    'table',
    { class: 'profile' },
    caption
      ? h(
          'caption',
          {},
          caption,
          peak ? h('span', { class: 'peak' }, ` · ${t('f.peak')}: ${peak}`) : null,
          uncertain > 0 ? h('span', { class: 'uncertain' }, ` · ${t('profile.uncertain', { n: weight(uncertain) })}`) : null,
          withoutHour > 0 ? h('span', { class: 'without-hour' }, ` · ${t('profile.withoutHour', { n: fmtNumber(withoutHour) })}`) : null,
        )
      : null,
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
                title: `${weekdayShort(d)} ${String(hr).padStart(2, '0')}–${String((hr + 1) % 24).padStart(2, '0')}: ${Number.isInteger(v) ? v : fmtNumber(v, 2)}`,
                class: a > 0.55 ? 'hot' : undefined,
              },
              v ? weight(v) : '',
            );
            td.style.background = v ? `rgba(178, 24, 43, ${(0.12 + 0.88 * a).toFixed(3)})` : '';
            return td;
          }),
        ),
      ),
    ),
  );
}
