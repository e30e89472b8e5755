// Hunting: Sigma rules and rule packs (enable, disable, upload, lint results), hunts and their
// hits, intel search, and intel imports with their reports.

import { api, ApiError, can } from "./api.js";
import { badge, fmtTime, h, json, section, table, toast } from "./dom.js";

const FINISHED = new Set(["succeeded", "failed", "completed", "partial", "done", "error"]);

// A job (hunt, import) reports its progress on its status resource: read it until it finishes,
// at most `limit` times a second apart (jobs publish no stream events).
async function follow(read, render, limit = 120) {
  for (let i = 0; i < limit; i += 1) {
    const job = await read();
    render(job);
    if (FINISHED.has(job.status)) return job;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  return null;
}

function issues(list, kind) {
  return (list || []).length ? h("ul", { class: kind }, list.map((e) => h("li", {}, typeof e === "string" ? e
    : `${e.code ? `${e.code}: ` : ""}${e.message || JSON.stringify(e)}${e.field ? ` (${e.field})` : ""}`))) : "";
}

function rulesSection() {
  const body = h("div", {}, h("p", { class: "muted" }, "Loading rules…"));
  async function load() {
    const rules = await api("threat-hunter", "/v1/rules");
    body.replaceChildren(h("p", { class: "muted" }, `${rules.total} rules, ${rules.items.filter((r) => r.enabled).length} enabled`),
      table(["Rule", "Level", "Techniques", "Source", "Enabled", "Lint / errors"], rules.items.map((r) => {
        const toggle = can("rules.write") ? h("button", { type: "button", class: "secondary", "aria-pressed": String(r.enabled),
          "aria-label": `${r.enabled ? "Disable" : "Enable"} ${r.title}`, onclick: async () => {
            try {
              await api("threat-hunter", `/v1/rules/${encodeURIComponent(r.id)}`, { method: "PATCH", body: { enabled: !r.enabled } });
              load();
            } catch (err) { toast(err.message, "bad"); }
          } }, r.enabled ? "Disable" : "Enable") : badge(r.enabled ? "enabled" : "disabled");
        return h("tr", { id: `rule-${r.id}` }, h("td", {}, r.title, h("div", { class: "muted" }, h("code", {}, r.id))),
          h("td", {}, r.level ? badge(r.level) : badge("invalid", "bad")), h("td", {}, (r.techniques || []).join(", ")),
          h("td", {}, r.source), h("td", {}, toggle), h("td", {}, issues(r.lint, "warn"), issues(r.errors, "error")));
      }), { id: "rules" }));
  }
  const parts = [body];
  if (can("rules.write")) {
    const yaml = h("textarea", { id: "rule-yaml", rows: 8, cols: 70, "aria-label": "Sigma rule YAML", spellcheck: "false" });
    const result = h("div", { id: "rule-result", role: "status" });
    const upload = h("form", { class: "stack" }, h("h3", {}, "Upload a Sigma rule"), yaml,
      h("button", { type: "submit" }, "Lint and upload"), result);
    upload.addEventListener("submit", async (event) => {
      event.preventDefault();
      result.replaceChildren();
      try {
        const rule = await api("threat-hunter", "/v1/rules", { method: "POST", body: yaml.value, contentType: "application/yaml" });
        result.replaceChildren(h("p", {}, `Uploaded ${rule.title}.`), issues(rule.lint, "warn"), issues(rule.errors, "error"),
          (rule.lint || []).length ? "" : h("p", { class: "muted" }, "Lint found nothing."));
        load();
      } catch (err) {
        result.replaceChildren(h("p", { class: "error" }, `${err.code}: ${err.message}`));
      }
    });
    const pack = h("input", { type: "file", id: "pack-file", accept: ".zip,.tar,.tgz,.gz", "aria-label": "Rule pack (zip or tar)" });
    const packName = h("input", { id: "pack-name", value: "sigmahq", size: 14, "aria-label": "Pack name" });
    const packResult = h("div", { role: "status" });
    const packForm = h("form", { class: "stack" }, h("h3", {}, "Import a rule pack (a SigmaHQ release, zip or tar)"),
      h("span", {}, h("label", { for: "pack-name" }, "Pack "), packName), pack,
      h("button", { type: "submit" }, "Import"), packResult);
    packForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const file = pack.files[0];
      if (!file) return;
      try {
        const query = new URLSearchParams({ pack: packName.value.trim() || "sigmahq" });
        const report = await api("threat-hunter", `/v1/rules/imports?${query}`, { method: "POST", body: file,
          contentType: file.type || "application/octet-stream" });
        packResult.replaceChildren(json(report));
        load();
      } catch (err) {
        packResult.replaceChildren(h("p", { class: "error" }, err.status === 404 || err.status === 405
          ? "Rule packs cannot be imported on this deployment yet." : `${err.code}: ${err.message}`));
      }
    });
    parts.push(upload, packForm);
  }
  load().catch((err) => body.replaceChildren(h("p", { class: "error" }, err.message)));
  return section("Rules and packs", ...parts);
}

function huntSection() {
  if (!can("hunts.run")) return "";
  const now = new Date();
  const local = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  const start = h("input", { type: "datetime-local", id: "hunt-start", value: local(new Date(now - 86400000)) });
  const end = h("input", { type: "datetime-local", id: "hunt-end", value: local(now) });
  const out = h("div", { id: "hunt-result", role: "status" });
  const form = h("form", { class: "inline" }, h("label", { for: "hunt-start" }, "From"), start,
    h("label", { for: "hunt-end" }, "to"), end, h("button", { type: "submit" }, "Run hunt"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const job = await api("threat-hunter", "/v1/hunts", { method: "POST", body: {
        source: { type: "window", start: new Date(start.value).toISOString(), end: new Date(end.value).toISOString() },
        send_alerts: false } });
      await follow(() => api("threat-hunter", `/v1/hunts/${job.id}`), (j) => out.replaceChildren(
        h("p", {}, badge(j.status), ` ${j.events_read} events read, ${j.hits.length} hit(s)`),
        j.hits.length ? table(["Rule", "Level", "Techniques", "Events", "First seen"], j.hits.map((x) => h("tr", {},
          h("td", {}, x.title), h("td", {}, badge(x.level)), h("td", {}, x.techniques.join(", ")),
          h("td", {}, String(x.event_ids.length)), h("td", {}, fmtTime(x.first_seen))))) : "",
        issues(j.rule_errors, "error")));
    } catch (err) { out.replaceChildren(h("p", { class: "error" }, err.message)); }
  });
  return section("Run a hunt", form, out);
}

function intelSection() {
  const q = h("input", { id: "intel-q", type: "search", "aria-label": "Search threat intelligence", size: 40 });
  const results = h("div", { id: "intel-results" });
  const search = h("form", { class: "inline", role: "search" }, q, h("button", { type: "submit" }, "Search"));
  search.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!q.value.trim()) return;
    try {
      const data = await api("threat-hunter", "/v1/intel/search", { query: { q: q.value.trim(), limit: 20 } });
      results.replaceChildren(data.results.length ? h("ol", {}, data.results.map((r) => h("li", {}, h("strong", {}, r.title),
        ` · ${r.source} · ${r.kind || ""}`, h("p", { class: "muted" }, r.snippet)))) : h("p", {}, "No results."));
    } catch (err) { results.replaceChildren(h("p", { class: "error" }, err.message)); }
  });
  const parts = [search, results];
  if (can("intel.import")) {
    const source = h("input", { id: "import-source", value: "console", size: 14 });
    const format = h("select", { id: "import-format" }, ["stix", "misp", "plain", "csv"].map((f) => h("option", { value: f }, f)));
    const feed = h("textarea", { id: "import-body", rows: 5, cols: 70, "aria-label": "Feed content", spellcheck: "false" });
    const report = h("div", { id: "import-report", role: "status" });
    const form = h("form", { class: "stack" }, h("h3", {}, "Import a feed"),
      h("span", {}, h("label", { for: "import-source" }, "Source "), source, " ", h("label", { for: "import-format" }, "Format "), format),
      feed, h("button", { type: "submit" }, "Import"), report);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const type = ["stix", "misp"].includes(format.value) ? "application/json" : "text/plain";
        const job = await api("threat-hunter", `/v1/intel/imports?${new URLSearchParams({ source: source.value, format: format.value })}`,
          { method: "POST", body: feed.value, contentType: type });
        await follow(() => api("threat-hunter", `/v1/intel/imports/${job.id}`), (j) => report.replaceChildren(
          h("p", {}, badge(j.status), ` ${j.processed}/${j.total ?? "?"} indicators`), json(j.counts), issues(j.warnings, "warn")));
      } catch (err) {
        report.replaceChildren(h("p", { class: "error" }, err instanceof ApiError ? `${err.code}: ${err.message}` : String(err)));
      }
    });
    parts.push(form);
  }
  return section("Threat intelligence", ...parts);
}

export function huntingPage(root) {
  root.append(h("h1", {}, "Hunting"), h("div", { class: "grid" }, rulesSection(), huntSection(), intelSection()));
}
