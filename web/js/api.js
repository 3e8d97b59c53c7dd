// Talking to the Lägesbild server: JSON, GeoJSON, Open311 form posts, and the sign-in token.
// The token lives in sessionStorage only: it is gone when the tab closes, and it is never put
// into a URL (URLs end up in logs and in the browser history).

const TOKEN_KEY = 'lagesbild.token';
const ROLE_KEY = 'lagesbild.role';

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function role() {
  return sessionStorage.getItem(ROLE_KEY) || 'anonymous';
}

export function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(ROLE_KEY);
}

/** Checks a token against `/api/v1/me` and keeps it for this tab; returns the role. */
export async function signIn(candidate) {
  const res = await fetch('/api/v1/me', { headers: { Authorization: `Bearer ${candidate.trim()}` } });
  if (!res.ok) throw new ApiError(res.status, await errorText(res));
  const me = await res.json();
  sessionStorage.setItem(TOKEN_KEY, candidate.trim());
  sessionStorage.setItem(ROLE_KEY, me.role);
  return me.role;
}

function headers(extra = {}) {
  const t = token();
  return t ? { Authorization: `Bearer ${t}`, ...extra } : extra;
}

/** The message a person can act on, from whichever error shape the server used. */
async function errorText(res) {
  let text = '';
  try {
    text = await res.text();
    const body = JSON.parse(text);
    if (Array.isArray(body) && body[0]?.description) return body.map((e) => e.description).join('; ');
    if (body?.error) return typeof body.error === 'string' ? body.error : body.error.message || text;
    if (body?.message) return body.message;
  } catch {
    /* not JSON */
  }
  return text || `${res.status} ${res.statusText}`;
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null || v === '') continue;
    q.set(k, Array.isArray(v) ? v.join(',') : String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/**
 * A GET that waits and tries again (at most three times) when the server answers 503 with a
 * short Retry-After: every analysis slot was taken, which passes within seconds.
 */
async function getWithRetry(url, init) {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(url, init);
    const wait = Number(res.headers.get('Retry-After'));
    if (res.status !== 503 || attempt >= 3 || !(wait > 0 && wait <= 10)) return res;
    await new Promise((resolve, reject) => {
      const timer = setTimeout(resolve, wait * 1000);
      init.signal?.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(init.signal.reason);
      });
    });
  }
}

export async function getJson(path, params, { signal } = {}) {
  const res = await getWithRetry(path + query(params), { headers: headers({ Accept: 'application/json' }), signal });
  if (!res.ok) throw new ApiError(res.status, await errorText(res));
  return res.json();
}

export async function getResponse(path, params, { signal } = {}) {
  const res = await getWithRetry(path + query(params), { headers: headers(), signal });
  if (!res.ok) throw new ApiError(res.status, await errorText(res));
  return res;
}

export async function sendJson(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: headers({ 'Content-Type': 'application/json', Accept: 'application/json' }),
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new ApiError(res.status, await errorText(res));
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

/** Sends a text body (e.g. CSV) and reads a JSON answer. */
export async function sendText(method, path, body, contentType) {
  const res = await fetch(path, {
    method,
    headers: headers({ 'Content-Type': contentType, Accept: 'application/json' }),
    body,
  });
  if (!res.ok) throw new ApiError(res.status, await errorText(res));
  return res.json();
}

/** Open311 wants form encoding for POST requests; `fields` is an object or [key, value] pairs. */
export async function postForm(path, fields) {
  const body = new URLSearchParams();
  const entries = Array.isArray(fields) ? fields : Object.entries(fields);
  for (const [k, v] of entries) {
    if (v !== undefined && v !== null && v !== '') body.append(k, String(v));
  }
  const res = await fetch(path, {
    method: 'POST',
    headers: headers({ 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' }),
    body,
  });
  if (!res.ok) throw new ApiError(res.status, await errorText(res));
  return res.json();
}
