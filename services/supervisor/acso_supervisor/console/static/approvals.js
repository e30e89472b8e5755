// The approvals inbox: every pending approval, oldest first, with its risk and preview; it changes
// as events arrive.

import { api, can } from "./api.js";
import { badge, fmtTime, h, json, table, toast } from "./dom.js";
import { approvalControls } from "./incident.js";
import { stream } from "./stream.js";

export function approvalsPage(root) {
  const body = h("div", {}, h("p", { class: "muted" }, "Loading approvals…"));
  root.append(h("h1", {}, "Approvals inbox"),
    h("p", { class: "muted" }, can("approvals.decide") ? "Everything waiting on your role, oldest first."
      : "Pending approvals (your role may read them; a responder decides)."), body);
  let timer = null;

  async function load() {
    const [pending, actionsByIncident] = [await api("incident-response", "/v1/approvals", { query: { status: "pending", limit: 500 } }), new Map()];
    const items = pending.items.slice().sort((a, b) => new Date(a.requested_at) - new Date(b.requested_at));
    for (const incidentId of new Set(items.map((a) => a.incident_id))) {
      const actions = await api("incident-response", `/v1/incidents/${encodeURIComponent(incidentId)}/actions`);
      actionsByIncident.set(incidentId, new Map(actions.items.map((x) => [x.id, x])));
    }
    if (!items.length) {
      body.replaceChildren(h("p", { id: "approvals-empty" }, "Nothing is waiting for an approval."));
      return;
    }
    body.replaceChildren(table(["Requested", "Incident", "Action", "Target", "Risk", "Preview", "Decision"], items.map((a) => {
      const action = (actionsByIncident.get(a.incident_id) || new Map()).get(a.action_id) || {};
      return h("tr", { id: `inbox-${a.id}` },
        h("td", {}, fmtTime(a.requested_at), h("div", { class: "muted" }, `expires ${fmtTime(a.expires_at)}`)),
        h("td", {}, h("a", { href: `#/incident/${encodeURIComponent(a.incident_id)}` }, a.incident_id)),
        h("td", {}, a.action_type, action.dry_run ? [" ", badge("dry run", "muted")] : ""),
        h("td", {}, h("code", {}, a.target)),
        h("td", {}, action.risk ? badge(action.risk) : ""),
        h("td", {}, action.before_state ? h("details", {}, h("summary", {}, "current state"), json(action.before_state)) : h("span", { class: "muted" }, "no preview")),
        h("td", {}, approvalControls(a, load)));
    }), { id: "inbox" }));
  }

  const unsubscribe = stream.subscribe((event) => {
    const kind = event.kind || "";
    if (kind.startsWith("incident.") || kind.startsWith("approval.") || kind.startsWith("workflow.")) {
      clearTimeout(timer);
      timer = setTimeout(() => load().catch((err) => toast(err.message, "bad")), 200);
    }
  });
  load().catch((err) => body.replaceChildren(h("p", { class: "error" }, err.message)));
  return () => { unsubscribe(); clearTimeout(timer); };
}
