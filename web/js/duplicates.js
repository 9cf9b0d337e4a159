// #/duplicates — the reader's tracks that are the same recording (GET /api/v1/duplicates): a
// re-encode, another copy. Groups of tracks whose embeddings nearly coincide and whose durations
// agree, the copy with the highest bitrate first. Nothing is deleted from here: the page lists.

import { api } from "./api.js";
import { busy, formatDuration, h, replace, showError } from "./dom.js";

export async function render(ctx) {
  const { root, signal, query, setQuery } = ctx;
  const threshold = h("input", { id: "duplicates-threshold", type: "number", min: "0.9", max: "1", step: "0.001",
    value: query.get("threshold") || "0.995", "aria-label": "Similarity threshold" });
  const tolerance = h("input", { id: "duplicates-tolerance", type: "number", min: "0", max: "600", step: "0.5",
    value: query.get("duration_tolerance") || "1", "aria-label": "Duration tolerance in seconds" });
  const find = h("button", { type: "submit", id: "duplicates-find" }, "Find duplicates");
  const form = h("form", { class: "inline-form", id: "duplicates-form" },
    h("label", {}, "Similarity ≥ ", threshold), " ", h("label", {}, "Durations within ", tolerance, " s"), " ", find);
  const summary = h("p", { class: "muted", id: "duplicates-summary", role: "status" });
  const list = h("div", { id: "duplicates-groups", dataset: { state: "loading" } });

  replace(root,
    h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, "Duplicates"),
      h("p", { class: "muted" }, "Tracks that are the same recording — another copy, a re-encode — by their sound, not their tags.")),
    h("section", { class: "card" }, form), summary, list);

  function group(g, index) {
    const rows = g.tracks.map((t) => h("tr", { dataset: { testid: "duplicate-track" } },
      h("td", { "data-label": "Track" }, h("a", { href: `#/track/${t.id}` }, t.title || t.path),
        t.artist ? h("span", { class: "muted" }, ` — ${t.artist}`) : ""),
      h("td", { "data-label": "File" }, h("code", { class: "path" }, t.path)),
      h("td", { "data-label": "Format" }, t.format || "?"),
      h("td", { "data-label": "Bitrate", class: "num" }, t.bitrate_kbps != null ? `${Math.round(t.bitrate_kbps)} kb/s` : "?"),
      h("td", { "data-label": "Duration", class: "num" }, t.duration_seconds != null ? formatDuration(t.duration_seconds) : "?")));
    const score = g.min_score === g.max_score ? g.min_score.toFixed(4) : `${g.min_score.toFixed(4)}–${g.max_score.toFixed(4)}`;
    return h("section", { class: "card", dataset: { testid: "duplicate-group" } },
      h("h2", {}, `Group ${index + 1}: ${g.tracks.length} copies`, h("span", { class: "muted small" }, ` similarity ${score}`)),
      h("div", { class: "table-wrap" }, h("table", { class: "data" },
        h("thead", {}, h("tr", {}, ["Track", "File", "Format", "Bitrate", "Duration"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, rows))));
  }

  async function load() {
    list.dataset.state = "loading";
    const report = await api.get("duplicates", {
      query: { threshold: threshold.value, duration_tolerance: tolerance.value }, signal });
    summary.textContent = report.groups.length
      ? `${report.groups.length} group(s) among ${report.tracks_compared} tracks (model ${report.model_version}).`
      : `No duplicates among ${report.tracks_compared} tracks at similarity ≥ ${report.threshold}.`;
    replace(list, report.groups.map(group));
    list.dataset.state = "ready";
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    setQuery({ threshold: threshold.value, duration_tolerance: tolerance.value });
    try { await busy(find, load); } catch (err) { showError(err); }
  });

  await load();
}
