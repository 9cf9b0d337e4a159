// #/map — the library in groups: POST /api/v1/clusters ({"k": "auto"} or 2…20) and a scatter
// of its 2-D projection, one colour per cluster; a point's tooltip names the track and a click
// opens it. The legend lists each cluster's size and top tags, and toggles its points.

import { api } from "./api.js";
import { busy, formatPercent, h, loading, replace, showError, trackName } from "./dom.js";
import { chartAvailable, chartMissingNote, colour, makeChart } from "./charts.js";
import { downloadPlaylist, playlistButton } from "./playlist.js";

export async function render(ctx) {
  const { root, signal, query } = ctx;
  const initialK = query.get("k") || "auto";
  const kSelect = h("select", { id: "cluster-k", name: "k", "aria-label": "Number of clusters" },
    h("option", { value: "auto", selected: initialK === "auto" }, "auto"),
    Array.from({ length: 19 }, (_, i) => i + 2).map((k) => h("option", { value: k, selected: String(k) === initialK }, k)));
  const run = h("button", { type: "submit", id: "cluster-run" }, "Group");
  const form = h("form", { class: "filters", id: "cluster-form" }, h("label", { for: "cluster-k" }, "Clusters"), kSelect, run);
  const info = h("p", { class: "muted", id: "cluster-info", role: "status" });
  const chartBox = h("div", { class: "chart-box scatter-box", id: "cluster-chart-box" });
  const legend = h("ul", { class: "legend", id: "cluster-legend", dataset: { testid: "cluster-legend" } });

  replace(root,
    h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, "Cluster map"),
      h("p", { class: "muted" }, "Tracks placed by their embeddings (the first two principal components), coloured by k-means cluster. Click a point to open the track.")),
    form, info,
    h("div", { class: "map-layout" }, h("section", { class: "card" }, chartBox), h("section", { class: "card", "aria-label": "Clusters" }, legend)));

  const charts = [];
  ctx.onLeave(() => charts.splice(0).forEach((c) => c.destroy()));

  async function cluster() {
    const k = kSelect.value === "auto" ? "auto" : Number(kSelect.value);
    ctx.setQuery({ k: kSelect.value === "auto" ? "" : kSelect.value });
    replace(info, loading("Grouping the library…"));
    try {
      const clustering = await busy(run, () => api.post("clusters", { k }, { signal }));
      if (!ctx.isCurrent()) return;
      draw(clustering);
    } catch (err) {
      info.textContent = "";
      showError(err);
    }
  }

  function draw(clustering) {
    charts.splice(0).forEach((c) => c.destroy());
    const evr = clustering.explained_variance_ratio || [];
    info.textContent = `${clustering.tracks.length} tracks in ${clustering.k} clusters` +
      (evr.length === 2 ? ` · the map shows ${formatPercent(evr[0] + evr[1])} of the variance` : "") +
      (clustering.model_version ? ` · model ${clustering.model_version}` : "");

    const byCluster = new Map(clustering.clusters.map((c) => [c.id, []]));
    for (const t of clustering.tracks) {
      if (!byCluster.has(t.cluster)) byCluster.set(t.cluster, []);
      byCluster.get(t.cluster).push({ x: t.x, y: t.y, id: t.track_id, name: trackName(t) });
    }
    const clusterIds = [...byCluster.keys()];
    const datasets = clusterIds.map((cid, i) => ({
      label: `Cluster ${cid}`, data: byCluster.get(cid),
      backgroundColor: colour(i), borderColor: colour(i), pointRadius: 4, pointHoverRadius: 7,
    }));

    if (chartAvailable()) {
      const canvas = h("canvas", { id: "cluster-chart", dataset: { testid: "cluster-chart", points: clustering.tracks.length },
        role: "img", "aria-label": `Scatter plot of ${clustering.tracks.length} tracks in ${clustering.k} clusters` });
      replace(chartBox, canvas);
      makeChart(canvas, {
        type: "scatter",
        data: { datasets },
        options: {
          maintainAspectRatio: false,
          plugins: {
            legend: { display: false }, // the list beside the chart is the legend
            tooltip: { callbacks: { label: (item) => `${item.raw.name} (${item.dataset.label})` } },
          },
          scales: { x: { title: { display: true, text: "PC 1" } }, y: { title: { display: true, text: "PC 2" } } },
          onClick: (_event, elements, chart) => {
            const hit = elements[0];
            if (hit) location.hash = `#/track/${chart.data.datasets[hit.datasetIndex].data[hit.index].id}`;
          },
          onHover: (event, elements) => { event.native.target.style.cursor = elements.length ? "pointer" : "default"; },
        },
      }, charts);
    } else {
      replace(chartBox, chartMissingNote());
    }

    const info_ = new Map(clustering.clusters.map((c) => [c.id, c]));
    replace(legend, clusterIds.map((cid, i) => {
      const c = info_.get(cid) || { id: cid, size: byCluster.get(cid).length, tags: [], examples: [] };
      const toggle = h("button", { type: "button", class: "legend-toggle", "aria-pressed": "true",
        "aria-label": `Show or hide cluster ${cid} on the map` },
      h("span", { class: "swatch", style: { background: colour(i) } }),
      h("span", { class: "legend-name" }, `Cluster ${cid}`),
      h("span", { class: "muted small", dataset: { testid: "cluster-size" } }, `${c.size} track${c.size === 1 ? "" : "s"}`));
      toggle.addEventListener("click", () => {
        const chart = charts[0];
        const visible = toggle.getAttribute("aria-pressed") !== "true";
        toggle.setAttribute("aria-pressed", String(visible));
        if (chart) { chart.setDatasetVisibility(i, visible); chart.update(); }
      });
      const save = playlistButton(() => downloadPlaylist("GET", `clusters/${clustering.id}`, {
        query: { cluster: cid }, filename: `cluster-${cid}.m3u8`,
      }), { testid: "cluster-playlist", title: `Download cluster ${cid}'s tracks as an M3U8 playlist, nearest its centre first` });
      return h("li", { class: "legend-item", dataset: { testid: "cluster-legend-item", cluster: cid } },
        toggle, save,
        h("div", { class: "chips" }, (c.tags || []).slice(0, 5).map((t) =>
          h("span", { class: "chip", title: formatPercent(t.probability, 1) }, t.label,
            h("span", { class: "chip-prob" }, formatPercent(t.probability))))),
        (c.examples || []).length > 0 && h("p", { class: "small examples" }, "e.g. ",
          c.examples.slice(0, 3).map((e, j) => [j ? ", " : "", h("a", { href: `#/track/${e.id}` }, trackName(e))])));
    }));
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); cluster(); });
  kSelect.addEventListener("change", cluster);
  await cluster();
}
