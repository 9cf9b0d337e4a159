// #/predict — tag a file that is not in the library: POST it (multipart `file=`) to
// /api/v1/analysis/predict?top_k=10 and chart the most likely tags. Nothing is stored.

import { api } from "./api.js";
import { formatPercent, h, loading, replace, showError, bar } from "./dom.js";
import { chartAvailable, chartMissingNote, makeChart } from "./charts.js";

const TOP_K = 10;

export async function render(ctx) {
  const { root, signal } = ctx;
  const input = h("input", { type: "file", id: "predict-file", name: "file", accept: "audio/*,.flac,.ogg,.opus,.mp3,.wav,.aif,.aiff",
    class: "visually-hidden-file" });
  const drop = h("label", { class: "dropzone", id: "predict-drop", for: "predict-file", dataset: { testid: "predict-drop" } },
    input,
    h("span", { class: "dropzone-title" }, "Drop an audio file here, or choose one"),
    h("span", { class: "muted small" }, "WAV, FLAC, OGG, Opus, AIFF or MP3, up to 200 MB. The file is analysed and not kept."));
  const status = h("div", { id: "predict-status", role: "status" });
  const result = h("section", { class: "card", id: "predict-result", hidden: true });

  replace(root,
    h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, "Predict"),
      h("p", { class: "muted" }, "Tag any audio file with the active model.")),
    drop, status, result);

  const charts = [];
  ctx.onLeave(() => charts.splice(0).forEach((c) => c.destroy()));

  async function analyse(file) {
    if (!file) return;
    charts.splice(0).forEach((c) => c.destroy());
    result.hidden = true;
    replace(status, loading(`Analysing ${file.name}…`));
    drop.classList.add("is-busy");
    input.disabled = true;
    const form = new FormData();
    form.append("file", file, file.name);
    try {
      const answer = await api.post("analysis/predict", form, { query: { top_k: TOP_K }, signal });
      if (!ctx.isCurrent()) return;
      status.replaceChildren();
      show(file, answer);
    } catch (err) {
      status.replaceChildren();
      showError(err);
    } finally {
      drop.classList.remove("is-busy");
      input.disabled = false;
      input.value = ""; // the same file can be chosen again
    }
  }

  function show(file, answer) {
    const top = topList(answer);
    const canvas = h("canvas", { id: "predict-chart", dataset: { testid: "predict-chart" }, role: "img",
      "aria-label": `Bar chart of the ${top.length} most likely tags` });
    const box = h("div", { class: "chart-box bars-box", style: { height: `${Math.max(160, top.length * 30 + 40)}px` } },
      chartAvailable() ? canvas : chartMissingNote());
    const genres = answer.predicted_genres || [];
    replace(result,
      h("h2", {}, file.name),
      h("p", { class: "muted small" }, answer.model_version ? `Model ${answer.model_version}` : ""),
      h("h3", {}, "Predicted tags"),
      h("div", { class: "chips", id: "predict-genres", dataset: { testid: "predict-genres" } },
        genres.length
          ? genres.map((g) => h("span", { class: "chip", dataset: { testid: "predicted-genre", label: g.genre } }, g.genre,
            h("span", { class: "chip-prob" }, formatPercent(g.probability))))
          : h("span", { class: "muted" }, "No tag reaches the threshold.")),
      h("h3", {}, `Top ${top.length}`),
      box,
      h("details", {}, h("summary", {}, "As a list"),
        h("ol", { class: "prob-list", id: "predict-list" }, top.map((e) => h("li", { class: "prob-row", dataset: { testid: "predict-bar-row", label: e.genre } },
          h("span", { class: "prob-label" }, e.genre), bar(e.probability), h("span", { class: "prob-value" }, formatPercent(e.probability, 1)))))));
    result.hidden = false;
    makeChart(canvas, {
      type: "bar",
      data: {
        labels: top.map((e) => e.genre),
        datasets: [{ label: "Probability", data: top.map((e) => e.probability),
          backgroundColor: top.map((e) => (e.probability >= 0.5 ? "#2f6fdb" : "#a9bfe8")), borderRadius: 3 }],
      },
      options: {
        indexAxis: "y",
        maintainAspectRatio: false,
        scales: { x: { min: 0, max: 1, ticks: { callback: (v) => formatPercent(v) } } },
        plugins: { legend: { display: false }, tooltip: { callbacks: { label: (item) => formatPercent(item.raw, 1) } } },
      },
    }, charts);
    if (chartAvailable()) canvas.dataset.bars = String(top.length);
  }

  // The list is named after k (`top_10`); older servers may only send all_probabilities.
  function topList(answer) {
    const key = `top_${TOP_K}`;
    if (Array.isArray(answer[key])) return answer[key];
    const anyTop = Object.keys(answer).find((k) => /^top_\d+$/.test(k) && Array.isArray(answer[k]));
    if (anyTop) return answer[anyTop];
    return Object.entries(answer.all_probabilities || {})
      .map(([genre, probability]) => ({ genre, probability }))
      .sort((a, b) => b.probability - a.probability).slice(0, TOP_K);
  }

  input.addEventListener("change", () => analyse(input.files[0]));
  for (const type of ["dragenter", "dragover"]) {
    drop.addEventListener(type, (event) => { event.preventDefault(); drop.classList.add("is-over"); });
  }
  for (const type of ["dragleave", "drop"]) {
    drop.addEventListener(type, () => drop.classList.remove("is-over"));
  }
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    analyse(event.dataTransfer.files[0]);
  });
}
