// #/models — model versions (GET /api/v1/models), their metrics as stored (any keys), a line
// chart of `metrics.history` when there is one, and activation for admins.

import { api, session } from "./api.js";
import { busy, h, replace, showError, statusBadge, timeElement } from "./dom.js";
import { chartAvailable, chartMissingNote, colour, makeChart } from "./charts.js";

export async function render(ctx) {
  const { root, signal } = ctx;
  const body = h("tbody", { id: "models-body" });
  const table = h("table", { class: "data", id: "models-table" },
    h("thead", {}, h("tr", {}, ["Version", "State", "Labels", "Metrics", "Parent", "Created", "Activated", ""]
      .map((c) => h("th", { scope: "col" }, c)))), body);
  const chartCard = h("section", { class: "card", id: "history-card", hidden: true, "aria-labelledby": "history-heading" });
  const empty = h("p", { class: "note", hidden: true }, "No models registered.");

  replace(root,
    h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, "Models"),
      h("p", { class: "muted" }, session.isAdmin()
        ? "Newest first. Activating a version makes it the one that tags tracks."
        : "Newest first. Only an admin can activate a version.")),
    h("div", { class: "table-wrap" }, table), empty, chartCard);

  const charts = [];
  ctx.onLeave(() => charts.splice(0).forEach((c) => c.destroy()));

  function showHistory(model) {
    charts.splice(0).forEach((c) => c.destroy());
    const series = historySeries(model.metrics?.history);
    chartCard.hidden = false;
    const canvas = h("canvas", { id: "history-chart", dataset: { testid: "history-chart" }, role: "img",
      "aria-label": `Training history of ${model.version}` });
    replace(chartCard, h("h2", { id: "history-heading" }, "Training history: ", h("code", {}, model.version)),
      chartAvailable() ? h("div", { class: "chart-box line-box" }, canvas) : chartMissingNote(),
      h("p", { class: "muted small" }, "Click a name in the legend to show or hide that line."));
    // Losses and a couple of quality scores at first; the rest (learning rate, timings,
    // per-metric variants) are one legend click away.
    const names = series.lines.map((l) => l.name);
    const shown = names.some((n) => /loss/i.test(n))
      ? new Set([...names.filter((n) => /loss/i.test(n)), ...names.filter((n) => /auc|f1|acc/i.test(n)).slice(0, 2)])
      : new Set(names.slice(0, 3));
    const visibleByDefault = (name) => shown.has(name);
    makeChart(canvas, {
      type: "line",
      data: {
        labels: series.x,
        datasets: series.lines.map((line, i) => ({
          label: line.name, data: line.values, borderColor: colour(i), backgroundColor: colour(i),
          pointRadius: 2, tension: 0.2, hidden: !visibleByDefault(line.name),
        })),
      },
      options: {
        maintainAspectRatio: false, interaction: { mode: "index", intersect: false },
        scales: { x: { title: { display: true, text: series.xName } } },
      },
    }, charts);
  }

  async function load() {
    const { models } = await api.get("models", { signal });
    replace(body, models.map((m) => row(m)));
    table.hidden = models.length === 0;
    empty.hidden = models.length !== 0;
    const withHistory = models.find((m) => m.state === "active" && historySeries(m.metrics?.history).lines.length)
      || models.find((m) => historySeries(m.metrics?.history).lines.length);
    if (withHistory) showHistory(withHistory);
    else chartCard.hidden = true;
  }

  function row(model) {
    const hasHistory = historySeries(model.metrics?.history).lines.length > 0;
    const activate = session.isAdmin() && model.state !== "active" && h("button", {
      type: "button", class: "button-secondary", dataset: { testid: "activate", version: model.version },
      "aria-label": `Activate model ${model.version}`,
    }, "Activate");
    if (activate) {
      activate.addEventListener("click", async () => {
        if (!confirm(`Make ${model.version} the active model? Tracks are tagged with the active model.`)) return;
        try {
          await busy(activate, () => api.post(`models/${encodeURIComponent(model.version)}/activate`, undefined, { signal }));
          await load();
        } catch (err) { showError(err); }
      });
    }
    return h("tr", { dataset: { testid: "model-row", version: model.version, state: model.state } },
      h("td", { "data-label": "Version" }, h("code", {}, model.version)),
      h("td", { "data-label": "State" }, statusBadge(model.state)),
      h("td", { "data-label": "Labels", class: "num", title: (model.labels || []).join(", ") }, String((model.labels || []).length)),
      h("td", { "data-label": "Metrics" }, metricsView(model.metrics),
        hasHistory && h("button", { type: "button", class: "button-quiet small", onclick: () => showHistory(model) }, "History chart")),
      h("td", { "data-label": "Parent" }, model.parent ? h("code", {}, model.parent) : "–"),
      h("td", { "data-label": "Created" }, timeElement(model.created_at)),
      h("td", { "data-label": "Activated" }, timeElement(model.activated_at)),
      h("td", {}, activate || ""));
  }

  await load();
}

// ---- metrics: whatever the bundle carries --------------------------------------------------

const isNumber = (v) => typeof v === "number" && isFinite(v);
const show = (v) => (isNumber(v) ? (Number.isInteger(v) ? String(v) : v.toFixed(4)) : String(v));

/** Scalars as a key/value list (nested objects as dotted keys); arrays of records as tables. */
function metricsView(metrics) {
  if (!metrics || typeof metrics !== "object" || !Object.keys(metrics).length) return h("span", { class: "muted" }, "–");
  const scalars = [], tables = [];
  (function walk(obj, prefix) {
    for (const [key, value] of Object.entries(obj)) {
      const name = prefix ? `${prefix}.${key}` : key;
      if (key === "history" && !prefix) continue; // drawn as a chart
      if (value === null || typeof value !== "object") scalars.push([name, value]);
      else if (Array.isArray(value)) {
        if (value.length && value.every((v) => v && typeof v === "object" && !Array.isArray(v))) tables.push([name, value]);
        else scalars.push([name, value.length > 8 ? `[${value.length} values]` : `[${value.map(show).join(", ")}]`]);
      } else walk(value, name);
    }
  })(metrics, "");
  const list = h("dl", { class: "metrics", dataset: { testid: "model-metrics" } },
    scalars.map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, v === null ? "–" : show(v)))));
  return [list, tables.map(([name, rows]) => {
    const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
    return h("details", { class: "metrics-table" }, h("summary", {}, `${name} (${rows.length})`),
      h("div", { class: "table-wrap" }, h("table", { class: "data compact" },
        h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, rows.map((r) => h("tr", {}, columns.map((c) => h("td", {},
          r[c] === undefined || r[c] === null ? "" : typeof r[c] === "object" ? JSON.stringify(r[c]) : show(r[c])))))))));
  })];
}

/**
 * `metrics.history` as line series. Two shapes are understood: an object of arrays
 * (`{"train_loss": [..], "val_loss": [..]}`) and a list of per-epoch records, as
 * training_history.json writes them (`[{"epoch": 1, "train_loss": .., "validation": {..}}]`,
 * nested numbers flattened to dotted names).
 */
export function historySeries(history) {
  const empty = { x: [], xName: "epoch", lines: [] };
  if (!history || typeof history !== "object") return empty;
  if (!Array.isArray(history)) {
    const lines = Object.entries(history)
      .filter(([, v]) => Array.isArray(v) && v.some(isNumber))
      .map(([name, values]) => ({ name, values: values.map((v) => (isNumber(v) ? v : null)) }));
    const length = Math.max(0, ...lines.map((l) => l.values.length));
    const epochs = lines.find((l) => l.name === "epoch");
    return { x: epochs ? epochs.values : Array.from({ length }, (_, i) => i + 1), xName: "epoch",
      lines: lines.filter((l) => l.name !== "epoch") };
  }
  const records = history.filter((r) => r && typeof r === "object");
  if (!records.length) return empty;
  const flat = records.map((r) => {
    const out = {};
    (function walk(obj, prefix) {
      for (const [k, v] of Object.entries(obj)) {
        const name = prefix ? `${prefix}.${k}` : k;
        if (isNumber(v)) out[name] = v;
        else if (v && typeof v === "object" && !Array.isArray(v)) walk(v, name);
      }
    })(r, "");
    return out;
  });
  const names = [...new Set(flat.flatMap((r) => Object.keys(r)))].filter((n) => n !== "epoch");
  return {
    x: flat.map((r, i) => r.epoch ?? i + 1), xName: "epoch",
    lines: names.map((name) => ({ name, values: flat.map((r) => r[name] ?? null) })),
  };
}
