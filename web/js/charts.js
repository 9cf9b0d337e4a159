// Chart.js 3.9.1 from Debian's libjs-chart.js, loaded by index.html as a classic script from
// /vendor/chart.js/chart.min.js (the UMD build, which defines window.Chart). Pages ask for it
// here so that a server without the package still shows every table, only without charts.

import { h } from "./dom.js";

// Twenty colours that stay apart from each other on white (Tableau 20 order, darker first).
export const PALETTE = [
  "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
  "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94",
  "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5",
];

export const colour = (i) => PALETTE[((i % PALETTE.length) + PALETTE.length) % PALETTE.length];

export function chartAvailable() {
  return typeof window.Chart === "function";
}

export function chartMissingNote() {
  return h("p", { class: "note warning", dataset: { testid: "chart-missing" } },
    "Charts are unavailable: the server does not serve Chart.js at /vendor/chart.js/ " +
    "(install Debian's libjs-chart.js on the server).");
}

/**
 * Makes a chart on `canvas` and records it in `owned` so that the page's cleanup destroys it
 * (a Chart keeps a resize observer on its canvas). Returns null without Chart.js.
 */
export function makeChart(canvas, config, owned) {
  if (!chartAvailable()) return null;
  const chart = new window.Chart(canvas, config);
  owned.push(chart);
  canvas.dataset.rendered = "true";
  return chart;
}

// Same defaults on every chart: respect reduced motion, readable font.
export function applyDefaults() {
  if (!chartAvailable()) return;
  const defaults = window.Chart.defaults;
  defaults.font.family = getComputedStyle(document.body).fontFamily;
  defaults.color = "#3a3f47";
  if (window.matchMedia?.("(prefers-reduced-motion: reduce)").matches) defaults.animation = false;
}
