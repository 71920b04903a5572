// The ViaWork HTTP API as the client uses it: JSON in and out, the bearer token, and
// errors as ApiError carrying the server's {code, message, field}.

import { t } from './i18n.js';

const TOKEN_KEY = 'viawork.token';

/** An API failure: the HTTP status and the server's error body. */
export class ApiError extends Error {
  constructor(status, body) {
    const e = body?.error ?? {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code ?? '';
    this.field = e.field ?? '';
  }
}

/** The token of this tab's session (sessionStorage: each tab signs in on its own and a
 * closed browser forgets it). */
export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

let onUnauthorized = () => {};

/** What to do when the server says the token is no longer good (show sign-in). */
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

/** `method path` with an optional JSON body; resolves to the JSON answer (or null). */
export async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  const t = token();
  if (t) headers.authorization = `Bearer ${t}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const resp = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await resp.text();
  let json = null;
  if (text) {
    try { json = JSON.parse(text); } catch { json = null; }
  }
  if (!resp.ok) {
    if (resp.status === 401 && t && path !== '/api/v1/auth/token') onUnauthorized();
    throw new ApiError(resp.status, json);
  }
  return json;
}

/** `GET path` as a Blob (a download), with the token. */
export async function apiBlob(path) {
  const resp = await fetch(path, { headers: { authorization: `Bearer ${token()}` } });
  if (!resp.ok) {
    let json = null;
    try { json = await resp.json(); } catch { json = null; }
    throw new ApiError(resp.status, json);
  }
  return resp.blob();
}

/** `POST path` with a file as the body (its type as Content-Type); the JSON answer. */
export async function apiUpload(path, file, contentType) {
  const resp = await fetch(path, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token()}`,
      'content-type': contentType || file.type || 'application/octet-stream',
      accept: 'application/json',
    },
    body: file,
  });
  let json = null;
  try { json = await resp.json(); } catch { json = null; }
  if (!resp.ok) {
    const err = new ApiError(resp.status, json);
    err.body = json; // a refusal with a report (the CSV import's rows)
    throw err;
  }
  return json;
}

/** Signs in; keeps the token for this tab. */
export async function signIn(username, password) {
  const r = await api('POST', '/api/v1/auth/token', { username, password });
  sessionStorage.setItem(TOKEN_KEY, r.access_token);
  return r;
}

/** Signs out (best effort: the token is forgotten here either way). */
export async function signOut() {
  try {
    if (token()) await api('DELETE', '/api/v1/auth/token');
  } catch {
    // Already invalid or the server is away: nothing more to do.
  } finally {
    sessionStorage.removeItem(TOKEN_KEY);
  }
}

/** A SIP URI as one path segment. */
export function uriPath(uri) {
  return encodeURIComponent(uri);
}

/** A message for people from any error. */
export function errorText(err) {
  if (err instanceof ApiError) {
    const field = err.field ? ` (${err.field})` : '';
    return `${err.message}${field}`;
  }
  return t('The server cannot be reached. Check your connection.');
}
