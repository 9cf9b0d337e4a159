// The one place that talks HTTP to `timbre serve` (docs/api.md). Every call carries the
// session's API key as `Authorization: Bearer`; the key lives in sessionStorage only, so it is
// gone when the tab closes and never travels in a URL or a cookie.

const KEY_STORAGE = "timbre.key";
const USER_STORAGE = "timbre.user";

/** An answer outside 2xx, carrying the API's `{"error": {"code", "message"}}`. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

export const session = {
  key: () => sessionStorage.getItem(KEY_STORAGE),
  user() {
    try { return JSON.parse(sessionStorage.getItem(USER_STORAGE) || "null"); } catch { return null; }
  },
  isAdmin() { return session.user()?.role === "admin"; },
  save(key, user) {
    sessionStorage.setItem(KEY_STORAGE, key);
    if (user) sessionStorage.setItem(USER_STORAGE, JSON.stringify(user));
  },
  clear() {
    sessionStorage.removeItem(KEY_STORAGE);
    sessionStorage.removeItem(USER_STORAGE);
  },
};

// Called on any 401 (the key was revoked, or the server was reset): app.js shows the login form.
let onUnauthorized = () => {};
export function setUnauthorizedHandler(handler) { onUnauthorized = handler; }

/** Builds `/api/v1/<path>?<query>`, leaving out query values that are null, undefined or "". */
export function apiURL(path, query = {}) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== null && value !== undefined && value !== "") params.set(name, String(value));
  }
  const qs = params.toString();
  return `/api/v1/${path}${qs ? `?${qs}` : ""}`;
}

async function errorFrom(response) {
  let code = "http_" + response.status, message = `${response.status} ${response.statusText}`.trim();
  try {
    const body = await response.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
    }
  } catch { /* not JSON: keep the status line */ }
  return new ApiError(response.status, code, message);
}

/**
 * Sends one request and returns the parsed JSON (or null for 204, or the Response itself with
 * `raw: true`). `body` is sent as JSON unless it is FormData or a Blob. `key` overrides the
 * stored key (the login form checks a pasted key before storing it).
 */
export async function request(method, path, { query, body, signal, raw = false, key, auth = true } = {}) {
  const headers = {};
  const apiKey = key ?? session.key();
  if (auth && apiKey) headers["Authorization"] = `Bearer ${apiKey}`;
  let payload;
  if (body instanceof FormData || body instanceof Blob) {
    payload = body;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(apiURL(path, query), { method, headers, body: payload, signal });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, "network", "Cannot reach the Timbre server. Is `timbre serve` still running?");
  }
  if (!response.ok) {
    const error = await errorFrom(response);
    // A key that has not been accepted yet (the login form's) failing is not a session ending.
    if (response.status === 401 && auth && key === undefined) onUnauthorized(error);
    throw error;
  }
  if (raw) return response;
  if (response.status === 204) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

export const api = {
  get: (path, opts) => request("GET", path, opts),
  post: (path, body, opts = {}) => request("POST", path, { ...opts, body }),
  put: (path, body, opts = {}) => request("PUT", path, { ...opts, body }),
  delete: (path, opts) => request("DELETE", path, opts),
  /**
   * Fetches an authenticated binary (audio, spectrogram) into an object URL: `<audio>` and
   * `<img>` cannot send an Authorization header, so the bytes come through fetch instead.
   * The caller revokes the URL (URL.revokeObjectURL) when the page goes away.
   */
  async objectURL(path, opts = {}) {
    const response = await request("GET", path, { ...opts, raw: true });
    return URL.createObjectURL(await response.blob());
  },
};

/** Exchanges the one-time token from `timbre serve`'s URL for an API key. */
export async function loginWithToken(token) {
  const answer = await request("POST", "login", { body: { token }, auth: false });
  session.save(answer.key, answer.user);
  return answer.user;
}

/** Checks a pasted API key with GET /me and keeps it when the server accepts it. */
export async function loginWithKey(key) {
  const user = await request("GET", "me", { key });
  session.save(key, user);
  return user;
}
