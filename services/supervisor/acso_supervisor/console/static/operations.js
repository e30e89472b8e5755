// Operations: change records (SSM runbooks through service orchestration) with their approval state.

import { api, can } from "./api.js";
import { badge, fmtTime, h, table, toast } from "./dom.js";

export function operationsPage(root) {
  const body = h("div", {}, h("p", { class: "muted" }, "Loading operations…"));
  root.append(h("h1", {}, "Operations"), body);

  async function decide(op, verb, comment) {
    try {
      await api("service-orchestration", `/v1/operations/${encodeURIComponent(op.id)}/${verb}`,
        { method: "POST", body: verb === "reject" ? { comment: comment || "rejected in the console" } : {} });
      toast(`Operation ${verb === "approve" ? "approved" : "rejected"}.`);
      load();
    } catch (err) { toast(err.message, "bad"); }
  }

  function approval(op) {
    if (op.approved_by) return h("span", {}, badge("approved"), ` by ${op.approved_by} ${fmtTime(op.approved_at)}`);
    if (op.rejected_by) return h("span", {}, badge("rejected"), ` by ${op.rejected_by}`, op.rejection_comment ? h("div", { class: "muted" }, op.rejection_comment) : "");
    if (!op.approval_required) return h("span", { class: "muted" }, "not required");
    if (op.status !== "pending_approval") return badge(op.status);
    if (!can("operations.approve")) return badge("waiting for approval", "warn");
    const comment = h("input", { "aria-label": "Comment", placeholder: "comment", size: 14 });
    return h("span", { class: "decide" }, comment,
      h("button", { type: "button", onclick: () => decide(op, "approve") }, "Approve"),
      h("button", { type: "button", class: "secondary", onclick: () => decide(op, "reject", comment.value) }, "Reject"));
  }

  async function load() {
    const data = await api("service-orchestration", "/v1/operations", { query: { limit: 200 } });
    const ops = data.operations || [];
    if (!ops.length) {
      body.replaceChildren(h("p", {}, "No change records yet."));
      return;
    }
    body.replaceChildren(table(["Created", "Operation", "Risk", "Status", "Targets", "Approval", "Window", "Change request"],
      ops.map((op) => h("tr", { id: `op-${op.id}` },
        h("td", {}, fmtTime(op.created_at)),
        h("td", {}, op.operation, h("div", { class: "muted" }, `${op.requested_by_name} · ${op.reason || ""}`)),
        h("td", {}, badge(op.risk)),
        h("td", {}, badge(op.status)),
        h("td", {}, String((op.targets || []).length)),
        h("td", {}, approval(op), (op.approval_reasons || []).length ? h("div", { class: "muted" }, op.approval_reasons.join("; ")) : ""),
        h("td", {}, op.window && op.window.applies ? (op.window.in_window ? badge("in window", "ok") : badge("outside window", "warn")) : h("span", { class: "muted" }, "any time")),
        h("td", {}, op.itsm_change ? `${op.itsm_change.number || ""} ${op.itsm_change.state || ""}` : ""))), { id: "operations" }));
  }

  load().catch((err) => body.replaceChildren(h("p", { class: "error" }, err.message)));
}
