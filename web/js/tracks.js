// #/tracks — the library browser: search, tag and status filters, keyset pagination
// (GET /api/v1/tracks with `cursor` = the previous page's next_cursor).

import { api } from "./api.js";
import { formatDuration, h, loading, replace, showError, statusBadge, tagChip, trackName } from "./dom.js";

const PAGE_SIZE = 50;
const STATUSES = ["pending", "tagged", "failed", "gone"];

export async function render(ctx) {
  const { root, query, signal } = ctx;
  const filters = {
    q: query.get("q") || "", tag: query.get("tag") || "", status: query.get("status") || "",
    library: query.get("library") || "",
  };

  const search = h("input", {
    type: "search", id: "track-search", name: "q", value: filters.q, placeholder: "Title, artist, album or path",
    "aria-label": "Search tracks", autocomplete: "off",
  });
  const tagSelect = h("select", { id: "tag-filter", name: "tag", "aria-label": "Filter by tag" },
    h("option", { value: "" }, "Any tag"),
    filters.tag && h("option", { value: filters.tag, selected: true }, filters.tag));
  const statusSelect = h("select", { id: "status-filter", name: "status", "aria-label": "Filter by status" },
    h("option", { value: "" }, "Any status"),
    STATUSES.map((s) => h("option", { value: s, selected: s === filters.status }, s)));
  // Set from a library's track count on #/libraries; shown as a chip so it can be cleared.
  const libraryChip = h("span", { class: "chip", id: "library-filter", hidden: !filters.library },
    `Library ${filters.library}`,
    h("button", { type: "button", class: "chip-remove", "aria-label": "Show all libraries",
      onclick: () => { filters.library = ""; libraryChip.hidden = true; apply(); } }, "×"));
  const form = h("form", { class: "filters", id: "tracks-filter", role: "search" },
    search, tagSelect, statusSelect, libraryChip, h("button", { type: "submit", id: "track-search-submit" }, "Search"));

  const summary = h("p", { class: "muted", id: "tracks-summary", role: "status" });
  const body = h("tbody", { id: "tracks-body" });
  const table = h("table", { class: "data tracks-table", id: "tracks-table", dataset: { testid: "tracks-table" } },
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "Title"), h("th", { scope: "col" }, "Artist"), h("th", { scope: "col" }, "Album"),
      h("th", { scope: "col", class: "num" }, "Duration"), h("th", { scope: "col" }, "Tags"),
      h("th", { scope: "col" }, "Status"))),
    body);
  const more = h("button", { type: "button", id: "tracks-more", class: "button-secondary", hidden: true }, "Load more");
  const empty = h("div", { id: "tracks-empty", hidden: true });

  replace(root,
    h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, "Library")),
    form, summary, h("div", { class: "table-wrap" }, table), empty, h("div", { class: "more" }, more));

  let cursor = null, shown = 0, generation = 0;

  async function load(reset) {
    const mine = reset ? ++generation : generation;
    if (reset) {
      cursor = null; shown = 0;
      body.replaceChildren();
      summary.replaceChildren(loading("Loading tracks…"));
      table.dataset.state = "loading";
    }
    more.disabled = true;
    try {
      const page = await api.get("tracks", {
        query: { ...filters, limit: PAGE_SIZE, cursor },
        signal,
      });
      if (mine !== generation) return; // a newer search has started
      for (const track of page.tracks) body.append(row(track));
      shown += page.tracks.length;
      cursor = page.next_cursor;
      more.hidden = !cursor;
      const filtered = filters.q || filters.tag || filters.status || filters.library;
      summary.textContent = shown
        ? `${shown} ${filtered ? "matching " : ""}track${shown === 1 ? "" : "s"}${cursor ? " shown, more below" : ""}`
        : "";
      table.hidden = shown === 0;
      empty.hidden = shown !== 0;
      if (!shown) {
        replace(empty, filtered
          ? h("p", { class: "note" }, "No tracks match these filters.")
          : h("p", { class: "note" }, "No tracks yet. ", h("a", { href: "#/libraries" }, "Add a library"),
            " and scan it; tracks appear here as they are found."));
      }
      table.dataset.state = "ready";
      table.dataset.query = JSON.stringify(filters);
    } catch (err) {
      if (mine === generation) { summary.textContent = ""; showError(err); }
    } finally {
      more.disabled = false;
    }
  }

  function apply() {
    filters.q = search.value.trim();
    filters.tag = tagSelect.value;
    filters.status = statusSelect.value;
    ctx.setQuery(filters);
    load(true);
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); apply(); });
  tagSelect.addEventListener("change", apply);
  statusSelect.addEventListener("change", apply);
  let debounce = null;
  search.addEventListener("input", () => {
    clearTimeout(debounce);
    debounce = setTimeout(apply, 350);
  });
  ctx.onLeave(() => clearTimeout(debounce));
  more.addEventListener("click", () => load(false));

  fillTags(tagSelect, filters.tag, signal);
  await load(true);
}

function row(track) {
  return h("tr", { dataset: { testid: "track-row", trackId: track.id } },
    h("td", { "data-label": "Title" },
      h("a", { href: `#/track/${track.id}`, class: "track-link", dataset: { testid: "track-link" }, title: track.path }, trackName(track)),
      track.title && h("div", { class: "muted small path" }, track.path)),
    h("td", { "data-label": "Artist" }, track.artist || "–"),
    h("td", { "data-label": "Album" }, track.album || "–"),
    h("td", { "data-label": "Duration", class: "num" }, formatDuration(track.duration_seconds)),
    h("td", { "data-label": "Tags" }, h("span", { class: "chips" },
      (track.top_tags || []).map((t) => tagChip(t.label, { probability: t.probability, testid: "top-tag" })))),
    h("td", { "data-label": "Status" }, statusBadge(track.status)));
}

/** The tag filter's options: the model's vocabulary first, then labels only users have added. */
async function fillTags(select, selected, signal) {
  try {
    const { tags } = await api.get("tags", { signal });
    const vocabulary = tags.filter((t) => t.in_vocabulary);
    const added = tags.filter((t) => !t.in_vocabulary);
    const option = (t) => h("option", { value: t.label, selected: t.label === selected }, t.label);
    select.replaceChildren(h("option", { value: "" }, "Any tag"),
      vocabulary.length && h("optgroup", { label: "Model tags" }, vocabulary.map(option)),
      added.length && h("optgroup", { label: "Added by users" }, added.map(option)));
    if (selected && !tags.some((t) => t.label === selected)) {
      select.append(h("option", { value: selected, selected: true }, selected));
    }
    select.dataset.loaded = "true";
  } catch (err) {
    showError(err);
  }
}
