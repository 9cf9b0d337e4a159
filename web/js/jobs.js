// #/jobs — the work queue: counts by state and the newest jobs (GET /api/v1/jobs), refreshed
// every 2 s while the page is open and the tab is visible.

import { api } from "./api.js";
import { h, replace, showError, statusBadge, timeElement } from "./dom.js";

const REFRESH_MS = 2000;
const STATES = ["queued", "running", "done", "failed"];

export async function render(ctx) {
  const { root, signal, query } = ctx;
  const filters = { state: query.get("state") || "", kind: query.get("kind") || "" };
  const stateSelect = h("select", { id: "job-state", "aria-label": "Filter by state" },
    h("option", { value: "" }, "Any state"), STATES.map((s) => h("option", { value: s, selected: s === filters.state }, s)));
  const kindSelect = h("select", { id: "job-kind", "aria-label": "Filter by kind" },
    h("option", { value: "" }, "Any kind"), ["scan", "tag"].map((k) => h("option", { value: k, selected: k === filters.kind }, k)));
  const counts = h("div", { class: "stats", id: "job-counts", dataset: { testid: "job-counts" } });
  const body = h("tbody", { id: "jobs-body" });
  const table = h("table", { class: "data", id: "jobs-table" },
    h("thead", {}, h("tr", {}, ["Job", "Kind", "State", "For", "Progress", "Attempts", "Updated", "Error"]
      .map((c) => h("th", { scope: "col" }, c)))), body);
  const empty = h("p", { class: "note", hidden: true, id: "jobs-empty" }, "No jobs.");
  const updated = h("p", { class: "muted small", id: "jobs-updated", "aria-live": "off" });

  replace(root,
    h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, "Jobs"),
      h("p", { class: "muted" }, "Scans and tagging work, newest first. This page refreshes every 2 seconds.")),
    counts,
    h("form", { class: "filters", id: "jobs-filter" }, stateSelect, kindSelect),
    h("div", { class: "table-wrap" }, table), empty, updated);

  let inFlight = false;
  async function refresh() {
    if (inFlight || document.hidden || !ctx.isCurrent()) return;
    inFlight = true;
    try {
      const answer = await api.get("jobs", { query: { ...filters, limit: 50 }, signal });
      if (!ctx.isCurrent()) return;
      replace(counts, STATES.map((s) => h("div", { class: `stat stat-${s}`, dataset: { testid: `count-${s}` } },
        h("span", { class: "stat-value" }, String(answer.counts?.[s] ?? 0)), h("span", { class: "stat-label" }, s))));
      replace(body, answer.jobs.map(row));
      table.hidden = answer.jobs.length === 0;
      empty.hidden = answer.jobs.length !== 0;
      updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
      table.dataset.state = "ready";
    } catch (err) {
      showError(err);
    } finally {
      inFlight = false;
    }
  }

  const apply = () => {
    filters.state = stateSelect.value;
    filters.kind = kindSelect.value;
    ctx.setQuery(filters);
    refresh();
  };
  stateSelect.addEventListener("change", apply);
  kindSelect.addEventListener("change", apply);
  root.querySelector("#jobs-filter").addEventListener("submit", (e) => { e.preventDefault(); apply(); });

  const timer = setInterval(refresh, REFRESH_MS);
  ctx.onLeave(() => clearInterval(timer));
  await refresh();
}

function row(job) {
  const target = job.track_id
    ? h("a", { href: `#/track/${job.track_id}` }, `track ${job.track_id}`)
    : job.library_id ? h("a", { href: "#/libraries" }, `library ${job.library_id}`) : "–";
  return h("tr", { dataset: { testid: "job-row", jobId: job.id, state: job.state } },
    h("td", { "data-label": "Job" }, `#${job.id}`),
    h("td", { "data-label": "Kind" }, job.kind),
    h("td", { "data-label": "State" }, statusBadge(job.state)),
    h("td", { "data-label": "For" }, target),
    h("td", { "data-label": "Progress" }, progress(job)),
    h("td", { "data-label": "Attempts", class: "num" }, String(job.attempts ?? 0)),
    h("td", { "data-label": "Updated" }, timeElement(job.updated_at)),
    h("td", { "data-label": "Error", class: "error-text" }, job.last_error || ""));
}

function progress(job) {
  const p = job.progress;
  if (!p) return job.state === "done" ? "✓" : "–";
  // A scan counts files as it finds them, so while it runs `total` may only be "seen so far":
  // then the bar is indeterminate and the count is what has been seen.
  if (job.state === "running" && (!p.total || p.done >= p.total)) {
    return h("span", { class: "progress" },
      h("progress", { "aria-label": `${p.done} files so far` }), h("span", { class: "small" }, `${p.done} files`));
  }
  if (!p.total) return job.state === "done" ? "✓" : "–";
  return h("span", { class: "progress" },
    h("progress", { max: p.total, value: p.done, "aria-label": `${p.done} of ${p.total}` }),
    h("span", { class: "small" }, `${p.done} / ${p.total}`));
}
