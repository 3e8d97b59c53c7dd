// Small DOM and formatting helpers shared by every view. No framework: `h()` builds elements,
// text is always set as text (never as HTML), so report descriptions cannot inject markup.

/** Builds an element: h('button', {class: 'x', onclick: f}, 'text', child). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** Replaces an element's children. */
export function replaceChildren(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function debounce(fn, ms) {
  let t = null;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
}

/** Offers `text` as a file download. */
export function download(filename, text, mime) {
  const blob = text instanceof Blob ? text : new Blob([text], { type: mime });
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: filename, hidden: true });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** What makes a spreadsheet read a cell as a formula. */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * A CSV field as RFC 4180 wants it, and safe to open in a spreadsheet.
 *
 * CSV injection: a cell whose text starts with `=`, `+`, `-`, `@`, a tab or a carriage return is
 * read as a formula by Excel, LibreOffice and Google Sheets (`=HYPERLINK(…)`, `-1+cmd|…`). Such a
 * cell gets a leading single quote (OWASP's advice), so it is shown as the text it is.
 *
 * Only JavaScript numbers pass unchanged: the values the app itself emits as numbers (a Gi* bin
 * of -2, a z score, a coordinate) stay numbers a spreadsheet can sum. Every string is checked,
 * even one that looks like a number: "-1 lampa trasig", "-1" or "+46…" typed by a citizen is
 * text and stays text.
 */
export function csvField(v) {
  if (v === undefined || v === null) return '';
  let s;
  if (typeof v === 'number') s = String(v);
  else {
    s = typeof v === 'object' ? JSON.stringify(v) : String(v);
    if (FORMULA_START.test(s)) s = `'${s}`;
  }
  return /[",\r\n;]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csv(rows, columns) {
  const lines = [columns.map(csvField).join(',')];
  for (const r of rows) lines.push(columns.map((c) => csvField(r[c])).join(','));
  return lines.join('\r\n') + '\r\n';
}

/** yyyy-mm-dd of a Date in local time (the date inputs speak local dates). */
export function isoDate(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

export function addDays(d, n) {
  const x = new Date(d);
  x.setDate(x.getDate() + n);
  return x;
}

/** Centre [lon, lat] of a GeoJSON geometry's bounding box (good enough for labels and CSV). */
export function geometryCentre(g) {
  let w = Infinity, s = Infinity, e = -Infinity, n = -Infinity;
  const visit = (c) => {
    if (typeof c[0] === 'number') {
      w = Math.min(w, c[0]); e = Math.max(e, c[0]);
      s = Math.min(s, c[1]); n = Math.max(n, c[1]);
    } else c.forEach(visit);
  };
  if (!g) return null;
  if (g.type === 'GeometryCollection') g.geometries.forEach((x) => visit(x.coordinates));
  else visit(g.coordinates);
  if (!Number.isFinite(w)) return null;
  return [(w + e) / 2, (s + n) / 2];
}

/** Linear interpolation over colour stops [[value, '#rrggbb'], …]. */
export function ramp(stops, v) {
  if (!(v >= stops[0][0])) return stops[0][1];
  for (let i = 1; i < stops.length; i++) {
    if (v <= stops[i][0]) {
      const [v0, c0] = stops[i - 1];
      const [v1, c1] = stops[i];
      const t = (v - v0) / (v1 - v0 || 1);
      return mix(c0, c1, t);
    }
  }
  return stops[stops.length - 1][1];
}

function mix(a, b, t) {
  const pa = parseInt(a.slice(1), 16), pb = parseInt(b.slice(1), 16);
  const ch = (p, s) => (p >> s) & 255;
  const c = [16, 8, 0].map((s) => Math.round(ch(pa, s) + (ch(pb, s) - ch(pa, s)) * t));
  return '#' + c.map((x) => x.toString(16).padStart(2, '0')).join('');
}

/** Announces a message to screen readers and shows it briefly. */
export function toast(message, kind = 'info') {
  const box = document.getElementById('toast');
  if (!box) return;
  const item = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, message);
  box.appendChild(item);
  setTimeout(() => item.remove(), kind === 'error' ? 9000 : 5000);
}
