// Small DOM helpers: an element builder (no innerHTML with data, so titles and paths from the
// user's files can never inject markup), formatting, and the error banner.

/**
 * h("a", {href: "#/x", class: "link", dataset: {testid: "t"}, onclick: fn}, "text", child…)
 * Attributes that are null/undefined/false are left out; `true` sets an empty attribute.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "dataset") Object.assign(el.dataset, value);
    else if (name === "style" && typeof value === "object") Object.assign(el.style, value);
    else if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "value" || name === "checked" || name === "selected") el[name] = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) return "–";
  const total = Math.round(seconds);
  const h_ = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
  const mmss = `${String(m).padStart(h_ ? 2 : 1, "0")}:${String(s).padStart(2, "0")}`;
  return h_ ? `${h_}:${mmss}` : mmss;
}

export function formatPercent(p, digits = 0) {
  return p === null || p === undefined ? "–" : `${(p * 100).toFixed(digits)}%`;
}

/** "2026-12-01T10:00:00Z" → the reader's local date and time; the ISO string stays in `title`. */
export function formatTime(iso) {
  if (!iso) return "–";
  const date = new Date(iso);
  return isNaN(date) ? iso : date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function timeElement(iso) {
  return iso ? h("time", { datetime: iso, title: iso }, formatTime(iso)) : "–";
}

/** A track's display name: its title, else its path. */
export function trackName(track) {
  return track.title || track.path || `Track ${track.id ?? track.track_id}`;
}

/** A tag chip; `onRemove` adds an × button with an aria-label naming the tag. */
export function tagChip(label, { probability, onRemove, onSelect, testid = "tag-chip", extraClass = "" } = {}) {
  const title = probability !== undefined ? `${label}: ${formatPercent(probability, 1)}` : label;
  return h("span", { class: `chip ${extraClass}`.trim(), title, dataset: { testid, label } },
    onSelect
      ? h("button", {
        type: "button", class: "chip-label chip-select", "aria-label": `Explain tag ${label}`,
        dataset: { testid: "explain-tag", label }, onclick: () => onSelect(label),
      }, label)
      : h("span", { class: "chip-label" }, label),
    onRemove && h("button", {
      type: "button", class: "chip-remove", "aria-label": `Remove tag ${label}`,
      dataset: { testid: "remove-tag", label }, onclick: () => onRemove(label),
    }, "×"));
}

/** A horizontal bar for a value in 0…1 (probabilities, cosine scores). */
export function bar(value, label) {
  const pct = Math.max(0, Math.min(1, value || 0)) * 100;
  return h("span", { class: "bar", role: "img", "aria-label": label ?? formatPercent(value, 1) },
    h("span", { class: "bar-fill", style: { width: `${pct}%` } }));
}

export function statusBadge(state) {
  return h("span", { class: `badge badge-${state}`, dataset: { testid: "status-badge" } }, state ?? "–");
}

export function loading(text = "Loading…") {
  return h("p", { class: "muted loading", role: "status" }, text);
}

export function note(text, kind = "muted") {
  return h("p", { class: `note ${kind}` }, text);
}

// The error banner: one at a time, the latest message wins, dismissed by its × (or Escape).
export function showError(error) {
  if (error && error.name === "AbortError") return;
  const banner = document.getElementById("error-banner");
  const message = error?.message || String(error);
  replace(banner.querySelector(".banner-message"),
    error?.code ? h("strong", { class: "banner-code" }, error.code) : null,
    " ", message);
  banner.hidden = false;
}

export function hideError() {
  document.getElementById("error-banner").hidden = true;
}

/** Disables a button while `work` runs, so a double click cannot send a request twice. */
export async function busy(button, work) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try { return await work(); } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}
