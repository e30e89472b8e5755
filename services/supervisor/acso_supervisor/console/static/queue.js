// The incident queue: server-side filters (status, severity, assignee), local ones (account, age),
// SLA countdowns, and rows that change as events arrive on the stream (no polling).

import { api } from "./api.js";
import { badge, fmtDuration, h, keepFocus, toast } from "./dom.js";
import { incidentOf, stream } from "./stream.js";

const STATUSES = ["", "new", "triaged", "contained", "eradicated", "recovered", "closed"];
const SEVERITIES = ["", "critical", "high", "medium", "low", "informational"];
const AGES = [["", "any age"], ["3600", "last hour"], ["86400", "last 24 hours"], ["604800", "last 7 days"],
  ["2592000", "last 30 days"]];

export function slaCell(sla) {
  const timer = sla && (sla.time_to_contain.state === "running" ? sla.time_to_contain
    : sla.time_to_triage.state === "running" ? sla.time_to_triage : null);
  if (!timer || !timer.due_at) {
    const done = sla && [sla.time_to_contain, sla.time_to_triage].find((t) => t.state === "breached");
    return done ? badge("breached", "bad") : h("span", { class: "muted" }, sla ? sla.time_to_contain.state : "");
  }
  const which = timer === sla.time_to_contain ? "contain" : "triage";
  return h("span", { class: "sla", dataset: { due: timer.due_at, which } }, "");
}

export function tickSla(root) {
  for (const el of root.querySelectorAll(".sla[data-due]")) {
    const left = (new Date(el.dataset.due).getTime() - Date.now()) / 1000;
    el.textContent = left >= 0 ? `${el.dataset.which} in ${fmtDuration(left)}` : `${el.dataset.which} overdue ${fmtDuration(-left)}`;
    el.classList.toggle("bad", left < 0);
    el.classList.toggle("warn", left >= 0 && left < 900);
  }
}

function select(id, label, options, value) {
  return [h("label", { for: id }, label),
    h("select", { id, name: id }, options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)))];
}

export function queuePage(root) {
  const state = { rows: new Map(), pending: new Map(), filters: { status: "", severity: "", assignee: "", account: "", age: "" } };
  const status = h("p", { class: "muted", role: "status" }, "Loading incidents…");
  const tbody = h("tbody", { id: "queue-rows" });
  const form = h("form", { class: "filters", role: "search", "aria-label": "Filter incidents" },
    select("f-status", "Status", STATUSES.map((s) => [s, s || "open and closed"]), ""),
    select("f-severity", "Severity", SEVERITIES.map((s) => [s, s || "any"]), ""),
    h("label", { for: "f-assignee" }, "Assignee"), h("input", { id: "f-assignee", name: "assignee", size: 14 }),
    h("label", { for: "f-account" }, "Account"), h("input", { id: "f-account", name: "account", size: 14 }),
    select("f-age", "Age", AGES, ""),
    h("button", { type: "submit" }, "Apply"));
  root.append(h("h1", {}, "Incident queue"), form, status,
    h("table", { class: "queue" },
      h("thead", {}, h("tr", {}, ["Severity", "Incident", "Status", "Account", "Assignee", "Alerts", "SLA", "Opened"]
        .map((x) => h("th", { scope: "col" }, x)))),
      tbody));

  function matches(item) {
    const f = state.filters;
    if (f.status && item.status !== f.status) return false;
    if (!f.status && item.status === "closed") return false;
    if (f.severity && item.severity !== f.severity) return false;
    if (f.assignee && item.assignee !== f.assignee) return false;
    if (f.account && !(item.account_id || "").includes(f.account)) return false;
    if (f.age && (Date.now() - new Date(item.created_at).getTime()) / 1000 > Number(f.age)) return false;
    return true;
  }

  function row(item) {
    return h("tr", { id: `row-${item.id}`, dataset: { id: item.id, severity: item.severity, status: item.status } },
      h("td", {}, badge(item.severity)),
      h("td", {}, h("a", { id: `link-${item.id}`, href: `#/incident/${encodeURIComponent(item.id)}` }, item.title)),
      h("td", {}, badge(item.status)),
      h("td", {}, item.account_id || ""),
      h("td", {}, item.assignee || h("span", { class: "muted" }, "unassigned")),
      h("td", { class: "num" }, String(item.alert_count)),
      h("td", {}, slaCell(item.sla)),
      h("td", {}, new Date(item.created_at).toLocaleString()));
  }

  function render() {
    const items = [...state.rows.values()].filter(matches)
      .sort((a, b) => new Date(b.created_at) - new Date(a.created_at));
    const pending = [...state.pending.values()].map((p) =>
      h("tr", { id: `row-${p.incident_id}`, class: "pending", dataset: { id: p.incident_id, status: "opening" } },
        h("td", {}, badge("new")), h("td", { colspan: 7 }, `Incident ${p.incident_id}: triage running…`)));
    keepFocus(() => tbody.replaceChildren(...pending, ...items.map(row)));
    status.textContent = `${items.length} incident(s)` + (pending.length ? `, ${pending.length} opening` : "");
    tickSla(tbody);
  }

  async function load() {
    const f = state.filters;
    const page = await api("incident-response", "/v1/incidents",
      { query: { status: f.status, severity: f.severity, assignee: f.assignee, limit: 200 } });
    state.rows = new Map(page.items.map((i) => [i.id, i]));
    render();
  }

  async function refreshOne(id) {
    const item = await api("incident-response", `/v1/incidents/${encodeURIComponent(id)}`, { allow404: true });
    if (item) {
      state.pending.delete(id);
      state.rows.set(id, item);
      render();
      const tr = document.getElementById(`row-${id}`);
      if (tr) tr.classList.add("flash");
    }
    return Boolean(item);
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    state.filters = {
      status: form.querySelector("#f-status").value,
      severity: form.querySelector("#f-severity").value,
      assignee: form.querySelector("#f-assignee").value.trim(),
      account: form.querySelector("#f-account").value.trim(),
      age: form.querySelector("#f-age").value,
    };
    load().catch((err) => toast(err.message, "bad"));
  });

  const unsubscribe = stream.subscribe((event) => {
    const id = incidentOf(event);
    if (id) {
      refreshOne(id).then((found) => {
        if (!found && event.kind === "alert.received" && event.data.outcome === "new_incident") {
          state.pending.set(id, event.data);
          render();
        }
      }).catch((err) => toast(err.message, "bad"));
    } else if (event.kind && event.kind.startsWith("workflow.")) {
      // An incident opening after triage: the next workflow step is when incident response has it.
      for (const pendingId of state.pending.keys()) refreshOne(pendingId).catch(() => {});
    }
  });
  const ticker = setInterval(() => tickSla(tbody), 1000);
  load().catch((err) => { status.textContent = err.message; });
  return () => { unsubscribe(); clearInterval(ticker); };
}
