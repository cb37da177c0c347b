// The HTTP API client: bearer token, JSON bodies, problem+json errors.

const TOKEN_KEY = "kiroku.token";

/** An error answer from the API, carrying its problem+json fields. */
export class ApiError extends Error {
  constructor(status, title, detail, type) {
    super(detail ? `${title}: ${detail}` : title);
    this.name = "ApiError";
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.type = type;
  }
}

export function getToken() {
  return localStorage.getItem(TOKEN_KEY);
}

export function setToken(token) {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}

/** A query string from an object, leaving out empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") q.set(key, String(value));
  }
  const text = q.toString();
  return text ? `?${text}` : "";
}

async function problemFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON (a proxy's HTML page, an empty body): fall back to the status line.
  }
  const title = (body && body.title) || response.statusText || "Request failed";
  const detail = body && body.detail ? String(body.detail) : "";
  return new ApiError(response.status, title, detail, body && body.type);
}

/**
 * Call the API. Resolves to the decoded JSON body (or null for an empty one);
 * rejects with an ApiError for any non-2xx answer and for network failures.
 */
export async function request(method, path, { body, token = getToken(), headers = {} } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers } };
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(0, "The server cannot be reached", String(error.message || error));
  }
  if (!response.ok) throw await problemFrom(response);
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

/** A random key; crypto.randomUUID exists only in secure contexts (https, localhost). */
function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// The highest global position this page has written or been told about. Reads
// pass it as min_position, so the read side answers only once it has caught up
// with what this user just did (read-your-writes).
let knownPosition = 0;

export function notePosition(position) {
  const value = Number(position);
  if (Number.isFinite(value) && value > knownPosition) knownPosition = value;
}

/** A command: a fresh Idempotency-Key per user action, so a retried request is applied once. */
export async function command(method, path, body) {
  const answer = await request(method, path, {
    body,
    headers: { "Idempotency-Key": newKey() },
  });
  if (answer) notePosition(answer.position);
  return answer;
}

export const get = (path, params = {}) => request("GET", path + query(params));

/** A read that waits until the read side has caught up with this page's own writes. */
export function read(path, params = {}) {
  return get(path, { min_position: knownPosition || undefined, ...params });
}

/** The list inside a list answer, whether it is bare or wrapped as {key: [...]}. */
export function listOf(answer, key) {
  if (Array.isArray(answer)) return answer;
  if (answer && Array.isArray(answer[key])) return answer[key];
  return [];
}
