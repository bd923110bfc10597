// The API client of the console: every call goes to this origin's /api/v3/ with the signed-in
// key as a Bearer credential (kept in sessionStorage only: gone when the tab closes).
const KEY = "tokend.key";

export function key() {
  return sessionStorage.getItem(KEY);
}

export function setKey(k) {
  if (k) sessionStorage.setItem(KEY, k);
  else sessionStorage.removeItem(KEY);
}

export class ApiError extends Error {
  constructor(status, body) {
    super(describe(status, body));
    this.status = status;
    this.body = body;
  }
  // {"field": ["message"]} bodies: the message of one field, else ""
  field(name) {
    const v = this.body && typeof this.body === "object" ? this.body[name] : undefined;
    return Array.isArray(v) ? v.join(" ") : typeof v === "string" ? v : "";
  }
}

function describe(status, body) {
  if (body && typeof body === "object") {
    if (typeof body.detail === "string") return body.detail;
    const parts = [];
    for (const [k, v] of Object.entries(body)) {
      parts.push(`${k}: ${Array.isArray(v) ? v.join(" ") : JSON.stringify(v)}`);
    }
    if (parts.length) return parts.join("; ");
  }
  return `The server answered ${status}.`;
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? "?" + s : "";
}

// One request; resolves to the parsed body (null for 204), rejects with ApiError.
export async function api(method, path, body, k = key()) {
  const headers = { Accept: "application/json" };
  if (k) headers.Authorization = "Bearer " + k;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let r;
  try {
    r = await fetch("/api/v3/" + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
  } catch (e) {
    throw new ApiError(0, { detail: "tokend cannot be reached: " + e.message });
  }
  if (r.status === 204) return null;
  let data = null;
  const text = await r.text();
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { detail: text.slice(0, 200) };
  }
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

export const get = (path, params) => api("GET", path + query(params));
