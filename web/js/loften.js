// The public pledge page (/loften): every medborgarlöfte with its period, the measures done
// and the indicators the server computes. Everything from the server is set as text.

import { h, replaceChildren } from './util.js';

const KINDS = {
  new_lamp: 'Ny belysning',
  lamp_repair: 'Lagad belysning',
  vegetation_clearing: 'Röjning av växtlighet',
  patrol_effort: 'Synlig polis',
  camera: 'Kamerabevakning',
  trygghetsvandring: 'Trygghetsvandring',
  other: 'Annan åtgärd',
};
const STATUS = {
  planned: 'planerad',
  in_progress: 'pågår',
  done: 'genomförd',
  cancelled: 'inställd',
};

function number(v) {
  return new Intl.NumberFormat('sv-SE', { maximumFractionDigits: 1 }).format(v);
}

function bar(share, label) {
  const pct = Math.max(0, Math.min(100, share));
  return h('div', { class: 'bar', role: 'img', 'aria-label': `${label}: ${number(pct)} %` },
    h('span', { style: { width: `${pct}%` } }));
}

function indicator(i) {
  const value = i.value === null
    ? h('span', { class: 'none' }, 'Inget att visa ännu')
    : h('span', { class: 'value' }, `${number(i.value)} ${i.unit}`);
  const showBar = i.value !== null && i.unit === '%' && i.key !== 'incident_change';
  return h('li', { dataset: { key: i.key } },
    h('span', { class: 'label' }, i.label),
    value,
    showBar ? bar(i.value, i.label) : null,
    h('p', {}, i.text));
}

function measure(m) {
  const status = STATUS[m.status] || m.status;
  return h('li', {},
    `${KINDS[m.kind] || m.kind}: ${m.title} – `,
    h('span', { class: m.status === 'done' ? 'done' : '' }, status),
    m.done_date ? ` (${m.done_date})` : '');
}

function patrolTable(months) {
  return h('table', { class: 'patrol' },
    h('caption', {}, 'Synlig polis: planerad och genomförd närvaro, timmar per månad'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Månad'), h('th', { scope: 'col' }, 'Planerat'), h('th', { scope: 'col' }, 'Genomfört'))),
    h('tbody', {}, months.map((m) => h('tr', {},
      h('th', { scope: 'row' }, m.month),
      h('td', {}, number(m.planned_hours)),
      h('td', {}, number(m.delivered_hours))))));
}

function pledge(p) {
  const done = p.measures.filter((m) => m.status === 'done');
  return h('article', { class: 'pledge', 'aria-labelledby': `pledge-${p.id}` },
    h('h2', { id: `pledge-${p.id}` }, p.title),
    h('p', { class: 'meta' }, `${p.owner_sv} · ${p.period_start} – ${p.period_end}`
      + (p.districts.length ? ` · ${p.districts.join(', ')}` : '')),
    h('p', {}, p.text),
    h('p', { class: 'meta' }, `${number(p.period_passed)} % av perioden har gått.`),
    bar(p.period_passed, 'Perioden'),
    h('h3', {}, 'Hur det går'),
    h('ul', { class: 'indicators' }, p.indicators.map(indicator)),
    p.patrol_months?.length ? patrolTable(p.patrol_months) : null,
    h('h3', {}, `Åtgärder (${done.length} av ${p.measures.length} genomförda)`),
    p.measures.length
      ? h('ul', { class: 'measures' }, p.measures.map(measure))
      : h('p', {}, 'Inga åtgärder kopplade ännu.'));
}

async function main() {
  const main = document.getElementById('pledges');
  try {
    const [list, config] = await Promise.all([
      fetch('/api/v1/pledges', { headers: { Accept: 'application/json' } }).then((r) => {
        if (!r.ok) throw new Error(`servern svarade ${r.status}`);
        return r.json();
      }),
      fetch('/api/v1/config').then((r) => (r.ok ? r.json() : {})).catch(() => ({})),
    ]);
    const children = [];
    if (config.demo) children.push(h('p', { class: 'demo' }, 'Demodata: påhittade löften och åtgärder, inget är verkligt.'));
    if (!list.pledges.length) children.push(h('p', {}, 'Inga medborgarlöften är registrerade.'));
    children.push(...list.pledges.map(pledge));
    replaceChildren(main, ...children);
    document.getElementById('computed').textContent = `Beräknat ${list.computed_datetime}.`;
    document.body.dataset.ready = 'true';
  } catch (e) {
    replaceChildren(main, h('p', { class: 'status', role: 'alert' }, `Löftena kunde inte hämtas: ${e.message}`));
    document.body.dataset.ready = 'false';
  }
  main.setAttribute('aria-busy', 'false');
}

main();
