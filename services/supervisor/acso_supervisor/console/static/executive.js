// The executive view: security and cost together, from the same APIs as everything else:
// GET /v1/metrics/incidents (7 and 30 days), GET /v1/rules (coverage), GET /v1/reports/executive.
// Printable: the print style sheet drops the navigation and keeps the cards on white.

import { api, can } from "./api.js";
import { fmtDuration, h, money, section, table } from "./dom.js";

const SEVERITY_ORDER = ["critical", "high", "medium", "low", "informational"];

function metric(id, label, value, raw) {
  return h("div", { class: "metric", id, dataset: { value: raw === null || raw === undefined ? "" : String(raw) } },
    h("div", { class: "label" }, label), h("div", { class: "value" }, value));
}

function periodCard(m) {
  const p = `m${m.days}`;
  return section(`Last ${m.days} days`, h("div", { class: "metrics" },
    metric(`${p}-opened`, "Incidents opened", String(m.opened), m.opened),
    metric(`${p}-mttd`, "Mean time to detect", fmtDuration(m.mean_time_to_detect_s), m.mean_time_to_detect_s),
    metric(`${p}-mtta`, "Mean time to acknowledge", fmtDuration(m.mean_time_to_acknowledge_s), m.mean_time_to_acknowledge_s),
    metric(`${p}-mttc`, "Mean time to contain", fmtDuration(m.mean_time_to_contain_s), m.mean_time_to_contain_s),
    metric(`${p}-contained`, "Contained share",
      m.contained_share === null ? "n/a" : `${Math.round(m.contained_share * 100)}% (${m.contained}/${m.needing_containment})`,
      m.contained_share)));
}

function severityBars(open) {
  const total = Math.max(1, ...Object.values(open));
  return section("Open incidents by severity", h("div", { class: "bars", id: "open-by-severity" },
    SEVERITY_ORDER.map((s) => {
      const n = open[s] || 0;
      const bar = h("span", { class: `bar sev-${s}` });
      bar.style.setProperty("--w", `${(n / total) * 100}%`);
      return h("div", { class: "bar-row", dataset: { severity: s, value: String(n) } },
        h("span", { class: "bar-label" }, s), bar, h("span", { class: "num" }, String(n)));
    })));
}

function ranked(title, id, items) {
  return section(title, items.length ? table(["", "Incidents"], items.map((r) =>
    h("tr", {}, h("td", {}, h("code", {}, r.key)), h("td", { class: "num" }, String(r.incidents)))), { id })
    : h("p", { class: "muted" }, "None in the last 30 days."));
}

// Detection coverage: one cell per ATT&CK technique that an enabled rule detects, grouped by
// parent technique, shaded by how many enabled rules cover it.
function heatmap(rules) {
  const counts = new Map();
  for (const rule of rules.filter((r) => r.enabled)) {
    for (const t of new Set((rule.techniques || []).map((x) => x.toUpperCase()))) counts.set(t, (counts.get(t) || 0) + 1);
  }
  const groups = new Map();
  for (const [technique, n] of counts) {
    const parent = technique.split(".")[0];
    if (!groups.has(parent)) groups.set(parent, []);
    groups.get(parent).push([technique, n]);
  }
  const max = Math.max(1, ...counts.values());
  const cells = [...groups.keys()].sort().map((parent) => h("div", { class: "tgroup" },
    groups.get(parent).sort().map(([technique, n]) => {
      const level = Math.min(4, Math.ceil((n / max) * 4));
      return h("span", { class: `tcell heat-${level}`, title: `${technique}: ${n} enabled rule(s)`, dataset: { technique, rules: String(n) } },
        technique, h("small", {}, ` ${n}`));
    })));
  return section("Detection coverage (ATT&CK techniques of the enabled rules)",
    h("p", { class: "muted" }, `${counts.size} techniques covered by ${rules.filter((r) => r.enabled).length} enabled rules.`),
    h("div", { class: "heatmap", id: "coverage" }, cells));
}

function costCard(report) {
  if (!report) return section("Cost", h("p", { class: "muted", id: "cost-missing" }, "No cost data imported yet."));
  const cur = report.currency;
  const s = report.summary;
  const m = report.forecast ? report.forecast.month_end : null;
  const missing = (s.daily || []).filter((d) => d.amount === null).length;
  const security = (report.incidents || []).reduce((sum, i) => sum + i.total_impact, 0);
  return section("Cost", h("div", { class: "metrics" },
    metric("cost-total", `Spend ${s.start} to ${s.end}`, money(s.total, cur), s.total),
    metric("cost-forecast", m ? `${m.month} forecast` : "Forecast", m ? money(m.forecast_total, cur) : "n/a", m ? m.forecast_total : null),
    metric("cost-interval", report.forecast ? `${Math.round(report.forecast.confidence * 100)}% interval` : "Interval",
      m ? `${money(m.lower, cur)} to ${money(m.upper, cur)}` : "n/a", m ? `${m.lower}..${m.upper}` : null),
    metric("cost-security", "Security cost of incidents", money(security, cur), security)),
    missing ? h("p", { class: "muted" }, `${missing} day(s) of the period have no cost data (shown as missing, not $0).`) : "",
    h("ul", {}, report.highlights.map((x) => h("li", {}, x))),
    (report.top_movers || []).length ? table(["Service", "Previous", "Current", "Change"], report.top_movers.map((x) => h("tr", {},
      h("td", {}, x.key), h("td", { class: "num" }, money(x.previous, cur)), h("td", { class: "num" }, money(x.current, cur)),
      h("td", { class: "num" }, `${money(x.change_abs, cur)}${x.change_pct === null ? (x.previous === 0 ? " (new)" : "") : ` (${x.change_pct > 0 ? "+" : ""}${Math.round(x.change_pct)}%)`}`)))) : "",
    (report.incidents || []).length ? table(["Incident", "Excess spend", "Response cost", "Total"], report.incidents.map((i) => h("tr", {},
      h("td", {}, h("a", { href: `#/incident/${encodeURIComponent(i.incident_id)}` }, i.incident_id)),
      h("td", { class: "num" }, money(i.excess_cost, cur)), h("td", { class: "num" }, money(i.response_cost, cur)),
      h("td", { class: "num" }, money(i.total_impact, cur))))) : "");
}

export function executivePage(root) {
  const body = h("div", { class: "grid" }, h("p", { class: "muted" }, "Loading…"));
  const print = h("button", { type: "button", class: "secondary noprint", onclick: () => window.print() }, "Print / save as PDF");
  root.append(h("div", { class: "title-row" }, h("h1", {}, "Executive view"), print),
    h("p", { class: "muted", id: "generated" }, `As of ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC`), body);

  (async () => {
    const [week, month] = await Promise.all([
      api("incident-response", "/v1/metrics/incidents", { query: { days: 7 } }),
      api("incident-response", "/v1/metrics/incidents", { query: { days: 30 } }),
    ]);
    const parts = [severityBars(month.open_by_severity), periodCard(week), periodCard(month),
      ranked("Most affected accounts (30 days)", "top-accounts", month.top_accounts),
      ranked("Most affected resources (30 days)", "top-resources", month.top_resources)];
    if (can("rules.read")) parts.push(heatmap((await api("threat-hunter", "/v1/rules")).items));
    if (can("reports.read")) parts.push(costCard(await api("financial-intelligence", "/v1/reports/executive", { allow404: true })));
    body.replaceChildren(...parts);
    root.dataset.loaded = "true";
  })().catch((err) => body.replaceChildren(h("p", { class: "error" }, err.message)));
}
