// Lägesbild web app: one map, three views. Everyone sees the public layers and can report;
// signing in with a token (kept in sessionStorage) adds the police's or the coordinator's
// tools in the side panel. Routes live in the URL's hash: #/arende/ID follows a report.

import { h, replaceChildren, toast } from './util.js';
import { t, applyI18n, setLanguage, lang, onLanguageChange, statusLabel, serviceLabel, fmtDateTime, setCategoryNames } from './i18n.js';
import { getJson, signIn, signOut, role, token, ApiError } from './api.js';
import { createMap, LayerPanel, metrics } from './map.js';
import { walkwayLayer, stretchLayer, lampLayer, reportLayer, crimeLayer, reportStatus } from './layers.js';
import { ReportForm, myReports } from './report.js';

// The signed-in tools load only for signed-in users: the public page stays small.
let toolkit = null;
async function loadTools() {
  if (toolkit) return toolkit;
  const loadScript = (src) =>
    new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = src;
      s.onload = resolve;
      s.onerror = () => reject(new Error(`cannot load ${src}`));
      document.head.appendChild(s);
    });
  const css = document.createElement('link');
  css.rel = 'stylesheet';
  css.href = 'vendor/markercluster/MarkerCluster.css';
  document.head.appendChild(css);
  await loadScript('vendor/markercluster/leaflet.markercluster.js');
  const [filters, analysis, inbox, lighting, police, exp, measures] = await Promise.all([
    import('./filters.js'),
    import('./analysis.js'),
    import('./inbox.js'),
    import('./lighting.js'),
    import('./police.js'),
    import('./export.js'),
    import('./measures.js'),
  ]);
  toolkit = { ...filters, ...analysis, ...inbox, ...lighting, ...police, ...exp, ...measures };
  return toolkit;
}

const state = { highlightId: null };

async function boot() {
  applyI18n(document);
  wireLanguageSwitch();
  let config;
  try {
    const early = await window.__lagesbildConfig;
    config = early?.ok ? await early.json() : await getJson('/api/v1/config');
  } catch (err) {
    document.getElementById('side-body').textContent = t('boot.failed', { msg: err.message });
    return;
  }
  state.config = config;
  setCategoryNames(config.categories);
  if (config.demo) document.body.classList.add('demo');
  const map = createMap(document.getElementById('map'), config);
  state.map = map;
  window.__lagesbildMap = map; // for the browser tests and the console
  const panel = new LayerPanel(document.getElementById('layers'));
  state.panel = panel;

  // The walkway base first (it is what is left when tiles fail), then the rest.
  state.walkways = panel.add(walkwayLayer(map, config));
  state.crime = panel.add(crimeLayer(map));
  state.stretches = panel.add(stretchLayer(map, config));
  state.lamps = panel.add(lampLayer(map));
  state.reports = panel.add(reportLayer(map, state));
  for (const l of panel.layers) l.reload();

  state.form = new ReportForm(map, document.getElementById('report-panel'), {
    config,
    onSubmitted: () => state.reports.reload(),
  });
  document.getElementById('report-button').addEventListener('click', () => state.form.open());
  document.getElementById('signin-button').addEventListener('click', () => openSignIn());
  document.getElementById('panel-toggle').addEventListener('click', () => togglePanel());

  if (token()) {
    try {
      const r = await getJson('/api/v1/me');
      sessionStorage.setItem('lagesbild.role', r.role);
      await enterRole(r.role);
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 403)) signOut();
      await enterRole('anonymous');
    }
  } else {
    await enterRole('anonymous');
  }
  window.addEventListener('hashchange', route);
  route();
  onLanguageChange(() => {
    renderTabs();
    for (const l of panel.layers) if (l.state === 'ready') l.reload();
  });
  metrics.bootedMs = performance.now();
  document.body.dataset.ready = 'true';
}

// ---- language ---------------------------------------------------------------------------------

function wireLanguageSwitch() {
  const button = document.getElementById('lang-button');
  const label = () => {
    button.textContent = lang() === 'sv' ? 'English' : 'Svenska';
    button.setAttribute('lang', lang() === 'sv' ? 'en' : 'sv');
  };
  label();
  button.addEventListener('click', () => {
    setLanguage(lang() === 'sv' ? 'en' : 'sv');
    label();
    applyI18n(document);
  });
}

// ---- roles and tabs ---------------------------------------------------------------------------

const TABS = {
  anonymous: ['layers', 'mine'],
  police: ['layers', 'analysis', 'police', 'export'],
  coordinator: ['layers', 'analysis', 'inbox', 'lighting', 'measures', 'police', 'export'],
  admin: ['layers', 'analysis', 'inbox', 'lighting', 'measures', 'police', 'export'],
};

async function enterRole(r) {
  const role = TABS[r] ? r : 'anonymous';
  if (role !== 'anonymous' && !state.filters) {
    const T = await loadTools();
    state.filters = new T.Filters(state.config);
    state.filters.onApply(() => refreshAnalysis());
  }
  state.role = role;
  document.body.dataset.role = state.role;
  const signedIn = state.role !== 'anonymous';
  const button = document.getElementById('signin-button');
  button.textContent = signedIn ? t('auth.signOut') : t('auth.signIn');
  button.dataset.i18n = signedIn ? 'auth.signOut' : 'auth.signIn';
  document.getElementById('role-badge').textContent = signedIn ? t(`role.${state.role}`) : '';
  const panel = state.panel;
  // Signed-in users get the analysis layers with filters instead of the public crime layer.
  for (const id of ['incidents', 'clusters', 'cells', 'ehsa', 'compare']) {
    if (state[id]) {
      panel.remove(state[id]);
      state[id] = null;
    }
  }
  if (signedIn) {
    if (panel.layers.includes(state.crime)) panel.remove(state.crime);
    state.incidents = panel.add(toolkit.incidentLayer(state.map, state.filters));
    state.clusters = panel.add(toolkit.clusterLayer(state.map, state.filters));
    state.cells = panel.add(toolkit.cellLayer(state.map, state.filters));
    state.cells.setVisible(false);
    state.ehsa = panel.add(toolkit.ehsaLayer(state.map, state.filters));
    for (const id of ['incidents', 'clusters']) state[id].reload();
  } else if (!panel.layers.includes(state.crime)) {
    state.panel.layers.splice(1, 0, state.crime);
    panel.render();
    state.crime.setVisible(true);
  }
  state.tools?.lighting?.destroy();
  state.tools?.police?.destroy();
  state.tools?.measures?.destroy();
  state.tools?.inbox?.close();
  state.tools = {};
  state.activeTab = 'layers';
  renderTabs();
}

function refreshAnalysis() {
  const f = state.filters;
  const district = (state.config.districts || []).find((d) => d.name === f.area && Array.isArray(d.bbox));
  if (district) {
    const [w, s, e, n] = district.bbox;
    state.map.fitBounds([[s, w], [n, e]], { padding: [20, 20] });
  }
  if (state.cells) {
    state.cells.mode = f.method === 'kde' ? 'kde' : 'gistar';
    if (f.method !== 'dbscan' && !state.cells.visible) state.cells.setVisible(true);
    else state.cells.reload();
    state.panel.update(state.cells);
  }
  if (f.method !== 'dbscan' && state.clusters?.visible) state.clusters.setVisible(false);
  if (f.method === 'dbscan' && state.clusters && !state.clusters.visible) state.clusters.setVisible(true);
  else state.clusters?.reload();
  state.incidents?.reload();
  state.ehsa?.reload();
  if (f.compare) {
    if (!state.compare) state.compare = state.panel.add(toolkit.compareLayer(state.map, f));
    state.compare.reload();
  } else if (state.compare) {
    state.panel.remove(state.compare);
    state.compare = null;
  }
  if (state.activeTab === 'police') state.tools.police?.render();
  toast(t('filter.applied'));
}

function renderTabs() {
  const tabs = TABS[state.role || 'anonymous'];
  const list = document.getElementById('tabs');
  replaceChildren(
    list,
    tabs.map((id) =>
      h(
        'button',
        {
          type: 'button',
          role: 'tab',
          id: `tab-${id}`,
          'aria-selected': String(id === state.activeTab),
          'aria-controls': 'side-body',
          tabindex: id === state.activeTab ? '0' : '-1',
          onclick: () => showTab(id),
          onkeydown: (e) => {
            const i = tabs.indexOf(id);
            const next = e.key === 'ArrowRight' ? tabs[(i + 1) % tabs.length] : e.key === 'ArrowLeft' ? tabs[(i - 1 + tabs.length) % tabs.length] : null;
            if (next) {
              e.preventDefault();
              showTab(next);
              document.getElementById(`tab-${next}`)?.focus();
            }
          },
        },
        t(`tab.${id}`),
      ),
    ),
  );
  showTab(state.activeTab || 'layers');
}

function showTab(id) {
  state.activeTab = id;
  for (const b of document.querySelectorAll('#tabs [role=tab]')) {
    const on = b.id === `tab-${id}`;
    b.setAttribute('aria-selected', String(on));
    b.tabIndex = on ? 0 : -1;
  }
  const body = document.getElementById('side-body');
  body.setAttribute('aria-labelledby', `tab-${id}`);
  const layers = document.getElementById('layers');
  const tool = document.getElementById('tool');
  layers.hidden = id !== 'layers';
  tool.hidden = id === 'layers';
  if (id === 'layers') return;
  tool.replaceChildren();
  const T = toolkit;
  const tools = state.tools;
  if (id === 'analysis') tool.append(state.filters.render());
  if (id === 'mine') renderMine(tool);
  if (id === 'inbox') {
    tools.inbox = tools.inbox || new T.Inbox(state.map, tool, { onChanged: () => state.reports.reload() });
    tools.inbox.container = tool;
    tools.inbox.render();
  }
  if (id === 'lighting') {
    tools.lighting = tools.lighting || new T.LightingTool(state.map, tool, state.config);
    tools.lighting.container = tool;
    tools.lighting.render();
  }
  if (id === 'measures') {
    tools.measures = tools.measures || new T.MeasuresTool(state.map, tool);
    tools.measures.container = tool;
    tools.measures.render();
  }
  if (id === 'police') {
    tools.police = tools.police || new T.PoliceView(state.map, tool, state.filters);
    tools.police.container = tool;
    tools.police.render();
  }
  if (id === 'export') {
    T.renderExport(tool, { layers: () => state.panel.layers, filters: state.filters });
  }
}

// ---- sign-in ----------------------------------------------------------------------------------

function openSignIn() {
  if (state.role !== 'anonymous') {
    signOut();
    enterRole('anonymous');
    toast(t('auth.signedOut'));
    return;
  }
  const dialog = document.getElementById('signin-dialog');
  const form = dialog.querySelector('form');
  const error = dialog.querySelector('.form-error');
  error.textContent = '';
  form.onsubmit = async (e) => {
    if (e.submitter?.value === 'cancel') return;
    e.preventDefault();
    const value = form.elements.token.value;
    try {
      const r = await signIn(value);
      form.reset();
      dialog.close();
      await enterRole(r);
      toast(t('auth.signedIn', { role: t(`role.${r}`) }));
    } catch (err) {
      error.textContent = err.status === 401 ? t('auth.bad') : err.message;
    }
  };
  dialog.showModal();
}

function togglePanel() {
  const side = document.getElementById('side');
  const open = side.classList.toggle('open');
  document.getElementById('panel-toggle').setAttribute('aria-expanded', String(open));
}

// ---- following a report ----------------------------------------------------------------------

function route() {
  const m = location.hash.match(/^#\/arende\/(.+)$/);
  if (m) {
    followReport(decodeURIComponent(m[1]));
    return;
  }
  if (location.hash === '#/logga-in' && state.role === 'anonymous') openSignIn();
}

async function followReport(id) {
  state.highlightId = id;
  if (state.role === 'anonymous') {
    state.activeTab = 'mine';
    renderTabs();
  }
  document.getElementById('side').classList.add('open');
  const box = document.getElementById('follow');
  box.hidden = false;
  replaceChildren(box, h('p', {}, t('layer.loading')));
  try {
    let r = await getJson(`/open311/v2/requests/${encodeURIComponent(id)}.json`, { extensions: 'true' });
    if (Array.isArray(r)) r = r[0];
    if (!r) throw new Error(t('follow.notFound', { id }));
    replaceChildren(
      box,
      h('h2', {}, t('follow.title', { id: r.service_request_id })),
      h(
        'p',
        { class: 'big' },
        h('span', { class: `badge status-${reportStatus(r)}`, id: 'follow-status' }, statusLabel(reportStatus(r))),
        ' ',
        r.service_name || serviceLabel(r.service_code),
      ),
      r.status_notes ? h('p', {}, h('strong', {}, `${t('f.notes')}: `), r.status_notes) : null,
      r.agency_responsible ? h('p', {}, h('strong', {}, `${t('f.agency')}: `), r.agency_responsible) : null,
      h('p', { class: 'small' }, `${t('f.reported')} ${fmtDateTime(r.requested_datetime)} · ${t('f.updated')} ${fmtDateTime(r.updated_datetime)}`),
      r.description ? h('p', { class: 'report-text' }, r.description) : null,
      h('button', { type: 'button', onclick: () => closeFollow() }, t('close')),
    );
    if (r.lat != null && r.long != null) state.map.setView([r.lat, r.long], Math.max(state.map.getZoom(), 16));
    state.reports.reload();
  } catch (err) {
    replaceChildren(box, h('p', { class: 'error' }, err.status === 404 ? t('follow.notFound', { id }) : err.message));
  }
}

function closeFollow() {
  state.highlightId = null;
  document.getElementById('follow').hidden = true;
  history.replaceState(null, '', location.pathname + location.search);
  state.reports.reload();
}

function renderMine(container) {
  const ids = myReports();
  container.append(
    h('h2', {}, t('mine.title')),
    ids.length
      ? h(
          'ul',
          { class: 'mine' },
          ids.map((id) => h('li', {}, h('a', { href: `#/arende/${encodeURIComponent(id)}` }, t('mine.item', { id })))),
        )
      : h('p', { class: 'hint' }, t('mine.none')),
    h('p', { class: 'hint small' }, t('mine.privacy')),
  );
}

boot().catch((err) => {
  console.error(err);
  toast(err.message, 'error');
});
