// The console's shell: login, the role-aware navigation, hash routing and the live event stream.

import { api, can, currentSession, finishHostedLogin, loadConfig, logout, onSessionChange, passwordLogin,
  startHostedLogin } from "./api.js";
import { h, toast } from "./dom.js";
import { stream } from "./stream.js";
import { approvalsPage } from "./approvals.js";
import { executivePage } from "./executive.js";
import { huntingPage } from "./hunting.js";
import { incidentPage } from "./incident.js";
import { operationsPage } from "./operations.js";
import { queuePage } from "./queue.js";

// Each page, and the permission (from GET /v1/me) that shows it.
const PAGES = [
  { path: "queue", label: "Incidents", permission: "incidents.read", render: queuePage },
  { path: "approvals", label: "Approvals", permission: "approvals.read", render: approvalsPage },
  { path: "hunting", label: "Hunting", permission: "rules.read", render: huntingPage },
  { path: "operations", label: "Operations", permission: "operations.read", render: operationsPage },
  { path: "executive", label: "Executive view", permission: "metrics.read", render: executivePage },
];

const main = document.getElementById("main");
let teardown = null;

function visiblePages() {
  return PAGES.filter((p) => can(p.permission));
}

function renderNav() {
  const nav = document.getElementById("nav");
  const current = (location.hash.replace(/^#\/?/, "").split("/")[0]) || "";
  nav.replaceChildren(...visiblePages().map((p) =>
    h("a", { href: `#/${p.path}`, "aria-current": current === p.path ? "page" : null }, p.label)));
  const me = currentSession().me;
  document.getElementById("who").textContent = me ? `${me.username || me.subject} (${me.roles.join(", ")})` : "";
}

function loginView() {
  const session = currentSession();
  const error = h("p", { class: "error", role: "alert" }, session.reason || "");
  if (session.config.login === "hosted_ui") {
    return h("section", { class: "login card" }, h("h1", {}, "ACSO console"), error,
      h("button", { type: "button", onclick: () => startHostedLogin() }, "Log in with your organisation"));
  }
  const username = h("input", { id: "username", name: "username", autocomplete: "username", required: true });
  const password = h("input", { id: "password", name: "password", type: "password",
    autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit" }, "Log in");
  const form = h("form", { class: "login card", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, "ACSO console"),
    h("label", { for: "username" }, "Username"), username,
    h("label", { for: "password" }, "Password"), password,
    error, submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    error.textContent = "";
    try {
      await passwordLogin(username.value.trim(), password.value);
    } catch (err) {
      error.textContent = err.code === "login_failed" ? "Wrong username or password." : err.message;
      submit.disabled = false;
      password.focus();
    }
  });
  setTimeout(() => username.focus(), 0);
  return form;
}

function route() {
  if (teardown) {
    teardown();
    teardown = null;
  }
  const session = currentSession();
  const top = document.getElementById("top");
  if (!session.tokens) {
    top.hidden = true;
    stream.stop();
    main.replaceChildren(loginView());
    return;
  }
  top.hidden = false;
  stream.start();
  renderNav();
  const [name, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  let page = PAGES.find((p) => p.path === name);
  let render;
  let args = [];
  if (name === "incident" && rest[0] && can("incidents.read")) {
    render = incidentPage;
    args = [decodeURIComponent(rest[0])];
  } else if (page && can(page.permission)) {
    render = page.render;
  } else {
    page = visiblePages()[0];
    if (!page) {
      main.replaceChildren(h("p", {}, "Your roles give you no page of this console."));
      return;
    }
    location.replace(`#/${page.path}`);
    return;
  }
  const container = h("div", { class: "page" });
  main.replaceChildren(container);
  teardown = render(container, ...args) || null;
  main.focus({ preventScroll: true });
}

async function boot() {
  document.getElementById("logout").addEventListener("click", () => logout(""));
  window.addEventListener("hashchange", route);
  onSessionChange(route);
  try {
    await loadConfig();
    if (await finishHostedLogin()) return;
  } catch (err) {
    toast(`The console could not start: ${err.message}`, "bad");
  }
  route();
}

window.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  toast(event.reason && event.reason.message ? event.reason.message : String(event.reason), "bad");
});

boot();

export { api };
