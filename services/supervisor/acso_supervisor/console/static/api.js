// The session (tokens in memory only), calls to the five APIs through the same-origin proxy, and
// the login flows: a password form (Cognito USER_PASSWORD_AUTH, local) or the Hosted UI with PKCE.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

const session = { config: null, tokens: null, me: null, refreshTimer: null, listeners: new Set() };

export function currentSession() {
  return session;
}

export function can(permission) {
  return Boolean(session.me && session.me.permissions.includes(permission));
}

export function onSessionChange(listener) {
  session.listeners.add(listener);
}

async function readError(response) {
  try {
    const body = await response.json();
    if (body && body.error) return new ApiError(response.status, body.error.code, body.error.message);
  } catch {
    // not JSON
  }
  return new ApiError(response.status, "http_error", `HTTP ${response.status}`);
}

async function postJson(url, body) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw await readError(response);
  return response.json();
}

export async function loadConfig() {
  const response = await fetch("console/session/config", { headers: { Accept: "application/json" } });
  if (!response.ok) throw await readError(response);
  session.config = await response.json();
  return session.config;
}

function scheduleRefresh(expiresIn) {
  clearTimeout(session.refreshTimer);
  const delay = Math.max(10, expiresIn - 60) * 1000;
  session.refreshTimer = setTimeout(() => refresh().catch(() => logout("Your session expired: log in again.")), delay);
}

async function setTokens(tokens) {
  session.tokens = tokens;
  scheduleRefresh(tokens.expires_in);
  session.me = await api("supervisor", "/v1/me");
  for (const listener of session.listeners) listener(session);
}

export async function passwordLogin(username, password) {
  await setTokens(await postJson("console/session/login", { username, password }));
}

export async function refresh() {
  if (!session.tokens || !session.tokens.refresh_token) throw new ApiError(401, "token_expired");
  if (session.config.login === "hosted_ui") {
    const body = new URLSearchParams({
      grant_type: "refresh_token",
      client_id: session.config.client_id,
      refresh_token: session.tokens.refresh_token,
    });
    const response = await fetch(`${session.config.hosted_ui_domain}/oauth2/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body,
    });
    if (!response.ok) throw await readError(response);
    const t = await response.json();
    session.tokens = { ...session.tokens, access_token: t.access_token, id_token: t.id_token, expires_in: t.expires_in };
  } else {
    const t = await postJson("console/session/refresh", { refresh_token: session.tokens.refresh_token });
    session.tokens = { ...session.tokens, ...t };
  }
  scheduleRefresh(session.tokens.expires_in);
  return session.tokens;
}

export function logout(reason) {
  clearTimeout(session.refreshTimer);
  session.tokens = null;
  session.me = null;
  session.reason = reason || "";
  for (const listener of session.listeners) listener(session);
}

// --- Hosted UI: authorization code flow with PKCE (RFC 7636) -----------------------------------

function base64url(bytes) {
  let text = "";
  for (const b of new Uint8Array(bytes)) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export async function startHostedLogin() {
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const state = base64url(crypto.getRandomValues(new Uint8Array(16)));
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  // Only the one-time verifier survives the redirect (the tokens never leave memory).
  sessionStorage.setItem("acso.pkce", JSON.stringify({ verifier, state }));
  const query = new URLSearchParams({
    response_type: "code",
    client_id: session.config.client_id,
    redirect_uri: session.config.redirect_uri,
    scope: "openid email profile",
    state,
    code_challenge_method: "S256",
    code_challenge: challenge,
  });
  window.location.assign(`${session.config.hosted_ui_domain}/oauth2/authorize?${query}`);
}

export async function finishHostedLogin() {
  const params = new URLSearchParams(window.location.search);
  const code = params.get("code");
  if (!code) return false;
  const saved = JSON.parse(sessionStorage.getItem("acso.pkce") || "{}");
  sessionStorage.removeItem("acso.pkce");
  history.replaceState(null, "", window.location.pathname + window.location.hash);
  if (!saved.verifier || saved.state !== params.get("state")) throw new ApiError(400, "login_state_mismatch");
  const body = new URLSearchParams({
    grant_type: "authorization_code",
    client_id: session.config.client_id,
    code,
    redirect_uri: session.config.redirect_uri,
    code_verifier: saved.verifier,
  });
  const response = await fetch(`${session.config.hosted_ui_domain}/oauth2/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body,
  });
  if (!response.ok) throw await readError(response);
  await setTokens(await response.json());
  return true;
}

// --- API calls --------------------------------------------------------------------------------

export async function api(service, path, options = {}) {
  const { method = "GET", body, query, allow404 = false, retried = false } = options;
  if (!session.tokens) throw new ApiError(401, "not_logged_in");
  let url = `${session.config.api_prefix}/${service}${path}`;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
    if ([...q].length) url += `?${q}`;
  }
  const headers = { Authorization: `Bearer ${session.tokens.access_token}`, Accept: "application/json" };
  if (allow404) headers["X-ACSO-Absent-Ok"] = "1";
  let payload;
  if (body !== undefined) {
    if (typeof body === "string" || body instanceof Blob) {
      headers["Content-Type"] = options.contentType || (body instanceof Blob && body.type) || "application/yaml";
      payload = body;
    } else {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
  }
  const response = await fetch(url, { method, headers, body: payload });
  if (response.status === 401 && !retried && session.tokens.refresh_token) {
    await refresh();
    return api(service, path, { ...options, retried: true });
  }
  if (!response.ok) throw await readError(response);
  if (response.status === 204) return null;
  const data = await response.json();
  return allow404 && data && data.absent === true ? null : data;
}
