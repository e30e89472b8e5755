// One incident: its alerts (resources, observables), triage, timeline, actions with previews and
// revert, approvals, comments, tickets, compliance and cost impact. It reloads when the stream
// says something about it.

import { api, can } from "./api.js";
import { badge, fmtTime, h, json, keepFocus, kv, money, section, table, toast } from "./dom.js";
import { incidentOf, stream } from "./stream.js";
import { slaCell, tickSla } from "./queue.js";

function details(summary, value) {
  if (value === null || value === undefined || (typeof value === "object" && !Object.keys(value).length)) return "";
  return h("details", {}, h("summary", {}, summary), json(value));
}

function resourcesOf(alert) {
  const list = alert.resources || [];
  return list.length ? h("ul", { class: "plain" }, list.map((r) =>
    h("li", {}, `${r.type || "resource"} ${r.id || r.uid || r.name || ""}`,
      r.containment || r.containment_state ? [" ", badge(r.containment || r.containment_state)] : ""))) : "";
}

function observablesList(list) {
  return (list || []).length ? h("ul", { class: "plain" }, list.map((o) => h("li", {}, h("code", {}, `${o.type}: ${o.value}`)))) : "";
}

function alertsSection(inc) {
  const rows = (inc.alerts || []).map((a) => h("tr", { id: `alert-${a.alert_id}`, dataset: { containment: a.containment || "" } },
    h("td", {}, a.severity ? badge(a.severity.label || a.severity) : ""),
    h("td", {}, a.title || a.type, h("div", { class: "muted" }, `${a.source} · ${a.type}`)),
    h("td", {}, a.status ? badge(a.status) : "", a.status_reason ? h("div", { class: "muted" }, a.status_reason) : ""),
    h("td", {}, resourcesOf(a)),
    h("td", {}, observablesList(a.observables)),
    h("td", { class: "containment" }, a.containment ? badge(a.containment.replace("_", " ")) : h("span", { class: "muted" }, "not planned yet"),
      a.playbook ? h("div", { class: "muted" }, a.playbook) : "",
      (a.targets || []).length ? h("div", {}, (a.targets || []).map((t) => h("code", {}, t))) : ""),
    h("td", {}, fmtTime(a.occurred_at))));
  const parts = [table(["Severity", "Alert", "Status", "Resources", "Observables", "Containment", "Occurred"], rows, { id: "alerts" })];
  const containment = inc.resources || inc.containment;
  if (Array.isArray(containment) && containment.length) {
    parts.push(h("h3", {}, "Containment per resource"), table(["Resource", "Type", "State"], containment.map((r) =>
      h("tr", {}, h("td", {}, r.resource_id || r.id || ""), h("td", {}, r.resource_type || r.type || ""),
        h("td", {}, badge(r.containment || r.state || r.status || "unknown"))))));
  }
  if ((inc.observables || []).length) parts.push(h("h3", {}, "Observables"), observablesList(inc.observables));
  const card = section(`Alerts (${(inc.alerts || []).length})`, ...parts);
  card.classList.add("wide");
  return card;
}

function triageSection(inc) {
  const r = inc.reasoning || {};
  const triaged = (inc.timeline || []).find((t) => t.kind.startsWith("triage"));
  return section("Triage",
    kv([["Verdict", inc.verdict], ["Confidence", `${Math.round((inc.confidence || 0) * 100)}%`],
      ["Techniques", (inc.techniques || []).join(", ")], ["Playbook", inc.playbook],
      ["Analysis", r.triage ? r.triage.reasoning : "deterministic"]]),
    r.plan ? h("p", {}, r.plan.summary) : "",
    r.summary ? h("p", {}, r.summary.summary) : "",
    triaged ? details("Evidence", triaged.data) : "",
    details("Reasoning record", inc.reasoning));
}

function timelineSection(inc) {
  return section("Timeline", h("ol", { class: "timeline", id: "timeline" }, (inc.timeline || []).map((t) =>
    h("li", {}, h("time", { datetime: t.at }, fmtTime(t.at)), " ", badge(t.kind, "kind"), ` ${t.summary} `,
      h("span", { class: "muted" }, `· ${t.actor}`), details("data", t.data)))));
}

function actionsSection(inc, reload) {
  const rows = (inc.actions || []).map((a) => {
    const revert = can("actions.revert") && a.revertible && a.status === "succeeded"
      ? h("button", { type: "button", class: "secondary", onclick: async (e) => {
        e.target.disabled = true;
        try {
          await api("incident-response", `/v1/incidents/${encodeURIComponent(inc.id)}/actions/${encodeURIComponent(a.id)}/revert`, { method: "POST", body: {} });
          toast("Revert requested.");
          reload();
        } catch (err) { toast(err.message, "bad"); e.target.disabled = false; }
      } }, "Revert") : "";
    return h("tr", { id: `action-${a.id}`, dataset: { status: a.status } },
      h("td", {}, a.action_type, a.dry_run ? [" ", badge("dry run", "muted")] : ""),
      h("td", {}, h("code", {}, a.target)),
      h("td", {}, badge(a.risk)),
      h("td", { class: "action-status" }, badge(a.status), a.error ? h("div", { class: "error" }, a.error) : "",
        a.reason ? h("div", { class: "muted" }, a.reason) : ""),
      h("td", {}, details("before", a.before_state), details("after", a.after_state)),
      h("td", {}, revert));
  });
  return section(`Actions (${(inc.actions || []).length})`,
    table(["Action", "Target", "Risk", "State", "Preview / result", ""], rows, { id: "actions" }));
}

export function approvalControls(approval, onDone) {
  if (approval.status !== "pending") {
    return h("span", {}, badge(approval.status), approval.decided_by ? ` by ${approval.decided_by}` : "",
      approval.comment ? h("div", { class: "muted" }, approval.comment) : "");
  }
  if (!can("approvals.decide")) return h("span", { class: "muted" }, "waiting for a responder");
  const comment = h("input", { id: `comment-${approval.id}`, "aria-label": "Comment", placeholder: "comment", size: 20 });
  comment.value = (document.getElementById(`comment-${approval.id}`) || {}).value || "";
  async function decide(decision, button) {
    button.disabled = true;
    try {
      await api("incident-response", `/v1/approvals/${encodeURIComponent(approval.id)}`,
        { method: "POST", body: { decision, comment: comment.value || null } });
      toast(decision === "approve" ? "Approved: the action runs now." : "Rejected.");
      onDone(approval);
    } catch (err) {
      toast(err.message, "bad");
      button.disabled = false;
    }
  }
  return h("span", { class: "decide" }, comment,
    h("button", { type: "button", id: `approve-${approval.id}`, class: "approve", onclick: (e) => decide("approve", e.target) }, "Approve"),
    h("button", { type: "button", id: `reject-${approval.id}`, class: "reject secondary", onclick: (e) => decide("reject", e.target) }, "Reject"));
}

function approvalsSection(inc, reload, follow) {
  const rows = (inc.approvals || []).map((a) => h("tr", { id: `approval-${a.id}` },
    h("td", {}, a.action_type), h("td", {}, h("code", {}, a.target)), h("td", {}, fmtTime(a.requested_at)),
    h("td", {}, fmtTime(a.expires_at)), h("td", {}, approvalControls(a, follow))));
  return section("Approvals", rows.length ? table(["Action", "Target", "Requested", "Expires", "Decision"], rows)
    : h("p", { class: "muted" }, "No approvals."));
}

function commentsSection(inc, reload) {
  const list = h("ul", { class: "comments" }, (inc.comments || []).map((c) =>
    h("li", {}, h("strong", {}, c.author), ` · ${fmtTime(c.created_at)}`, c.source !== "acso" ? ` · via ${c.source}` : "",
      h("p", {}, c.text))));
  let form = "";
  if (can("incidents.comment")) {
    const text = h("textarea", { id: "comment-text", rows: 2, cols: 60, required: true, "aria-label": "New comment" });
    text.value = (document.getElementById("comment-text") || {}).value || "";
    form = h("form", { class: "comment-form" }, text, h("button", { type: "submit" }, "Comment"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await api("incident-response", `/v1/incidents/${encodeURIComponent(inc.id)}/comments`, { method: "POST", body: { text: text.value } });
        text.value = "";
        reload();
      } catch (err) { toast(err.message, "bad"); }
    });
  }
  return section(`Comments (${(inc.comments || []).length})`, list, form);
}

function complianceSection(inc) {
  const rows = (inc.compliance || []).map((c) => h("tr", {}, h("td", {}, c.resource_type), h("td", {}, h("code", {}, c.resource_id)),
    h("td", {}, badge(c.state)), h("td", {}, c.reason || (c.rules || []).map((r) => `${r.rule_name || r.name}: ${r.compliance || r.state}`).join("; "))));
  return section("Compliance (AWS Config)", rows.length ? table(["Type", "Resource", "State", "Rules / reason"], rows)
    : h("p", { class: "muted" }, "No verdicts."));
}

async function ticketsSection(inc) {
  const data = await api("service-orchestration", "/v1/tickets", { query: { incident_id: inc.id } });
  const rows = (data.tickets || []).map((t) => h("tr", {}, h("td", {}, t.system),
    h("td", {}, t.ticket ? (t.ticket.url ? h("a", { href: t.ticket.url, rel: "noopener noreferrer", target: "_blank" }, t.ticket.external_key || t.ticket.external_id) : t.ticket.external_key || t.ticket.external_id) : "not created yet"),
    h("td", {}, t.ticket ? t.ticket.last_inbound_state || "" : ""), h("td", {}, badge(t.sync.status), t.sync.last_error ? ` ${t.sync.last_error}` : "")));
  return section("Linked tickets", rows.length ? table(["System", "Ticket", "State", "Sync"], rows) : h("p", { class: "muted" }, "No ITSM integration has a ticket for this incident."));
}

async function costSection(inc) {
  const cost = await api("financial-intelligence", `/v1/costs/incidents/${encodeURIComponent(inc.id)}`, { allow404: true });
  if (!cost) return section("Cost impact", h("p", { class: "muted" }, "No cost impact estimated yet."));
  return section("Cost impact",
    kv([["Total impact", money(cost.total_impact, cost.currency)], ["Excess spend", money(cost.excess_cost, cost.currency)],
      ["Response cost", money(cost.response_cost, cost.currency)], ["Method", cost.method]]),
    (cost.response_actions || []).length ? table(["Action", "Resource", "Cost", "Basis"], cost.response_actions.map((a) =>
      h("tr", {}, h("td", {}, a.action), h("td", {}, a.resource_id || ""), h("td", {}, money(a.cost, cost.currency)), h("td", {}, a.basis)))) : "");
}

const UNSETTLED = new Set(["planned", "pending_approval", "running"]);

export function incidentPage(root, incidentId) {
  let timer = null;
  let loading = false;
  let again = false;
  let current = null;
  let closed = false;

  // After a decision, follow the action until it settles: action progress has no stream event,
  // so its state is read again, a second apart, for at most a minute.
  async function follow(approval) {
    for (let i = 0; i < 60 && !closed; i += 1) {
      await load();
      const action = current && (current.actions || []).find((a) => a.id === approval.action_id);
      if (!action || !UNSETTLED.has(action.status)) return;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  async function load() {
    if (loading) { again = true; return; }
    loading = true;
    try {
      const inc = await api("incident-response", `/v1/incidents/${encodeURIComponent(incidentId)}`);
      current = inc;
      const header = h("header", { class: "incident-head" },
        h("p", {}, h("a", { href: "#/queue" }, "← Incident queue")),
        h("h1", {}, inc.title),
        h("p", {}, badge(inc.severity), " ", h("span", { id: "incident-status" }, badge(inc.status)), " ", slaCell(inc.sla),
          h("span", { class: "muted" }, ` · ${inc.id} · account ${inc.account_id || "n/a"} · ${inc.alert_count} alert(s) · assignee ${inc.assignee || "none"}`)),
        inc.summary ? h("p", {}, inc.summary) : "");
      const extra = [];
      extra.push(await ticketsSection(inc).catch((err) => section("Linked tickets", h("p", { class: "error" }, err.message))));
      if (can("costs.read")) extra.push(await costSection(inc).catch((err) => section("Cost impact", h("p", { class: "error" }, err.message))));
      const grid = h("div", { class: "grid" },
        approvalsSection(inc, load, follow), actionsSection(inc, load), alertsSection(inc), triageSection(inc),
        timelineSection(inc), commentsSection(inc, load), complianceSection(inc), ...extra);
      keepFocus(() => root.replaceChildren(header, grid));
      root.dataset.status = inc.status;
      tickSla(root);
    } catch (err) {
      root.replaceChildren(h("p", { class: "error" }, `Could not load incident ${incidentId}: ${err.message}`));
    } finally {
      loading = false;
      if (again) { again = false; load(); }
    }
  }

  const unsubscribe = stream.subscribe((event) => {
    const id = incidentOf(event);
    if (id === incidentId || (event.kind || "").startsWith("workflow.")) {
      clearTimeout(timer);
      timer = setTimeout(load, 150);
    }
  });
  const ticker = setInterval(() => tickSla(root), 1000);
  load();
  return () => { closed = true; unsubscribe(); clearInterval(ticker); clearTimeout(timer); };
}
