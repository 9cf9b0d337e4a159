// #/libraries — the user's music folders: add one by its path on the server, scan it (a scan
// job), remove it (after a confirm; the files on disk are never touched).

import { api } from "./api.js";
import { busy, h, replace, showError, timeElement } from "./dom.js";

export async function render(ctx) {
  const { root, signal } = ctx;
  const pathInput = h("input", { id: "library-path", name: "path", required: true, autocomplete: "off",
    spellcheck: "false", placeholder: "/srv/music", "aria-label": "Folder on the server" });
  const addButton = h("button", { type: "submit", id: "library-add" }, "Add library");
  const form = h("form", { class: "inline-form", id: "library-form" }, pathInput, addButton);
  const notice = h("p", { class: "note", id: "library-notice", role: "status", hidden: true });
  const body = h("tbody", { id: "libraries-body" });
  const table = h("table", { class: "data", id: "libraries-table" },
    h("thead", {}, h("tr", {}, ["Folder", "Tracks", "Last scanned", "Added", ""].map((c) => h("th", { scope: "col" }, c)))), body);
  const empty = h("p", { class: "note", hidden: true, id: "libraries-empty" }, "No libraries yet. Add the folder your music is in.");

  replace(root,
    h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, "Libraries"),
      h("p", { class: "muted" }, "Folders on the server that Timbre scans and tags. Timbre only reads them.")),
    h("section", { class: "card" }, h("h2", {}, "Add a folder"), form), notice,
    h("div", { class: "table-wrap" }, table), empty);

  function tell(...content) {
    replace(notice, ...content);
    notice.hidden = false;
  }

  async function load() {
    const { libraries } = await api.get("libraries", { signal });
    replace(body, libraries.map(row));
    table.hidden = libraries.length === 0;
    empty.hidden = libraries.length !== 0;
    table.dataset.state = "ready";
  }

  function row(library) {
    const scan = h("button", { type: "button", class: "button-secondary", dataset: { testid: "scan-library" },
      "aria-label": `Scan ${library.path}` }, "Scan");
    const remove = h("button", { type: "button", class: "button-danger", dataset: { testid: "delete-library" },
      "aria-label": `Remove library ${library.path}` }, "Remove");
    scan.addEventListener("click", async () => {
      try {
        const { job } = await busy(scan, () => api.post(`libraries/${library.id}/scan`, undefined, { signal }));
        tell(`Scan of ${library.path} queued (job #${job.id}). `, h("a", { href: "#/jobs" }, "Follow it on the Jobs page"), ".");
      } catch (err) { showError(err); }
    });
    remove.addEventListener("click", async () => {
      if (!confirm(`Remove the library ${library.path}? Its ${library.track_count ?? ""} tracks leave the catalog. The files on disk are not touched.`)) return;
      try {
        await busy(remove, () => api.delete(`libraries/${library.id}`, { signal }));
        tell(`Removed ${library.path}.`);
        await load();
      } catch (err) { showError(err); }
    });
    return h("tr", { dataset: { testid: "library-row", libraryId: library.id } },
      h("td", { "data-label": "Folder" }, h("code", { class: "path" }, library.path)),
      h("td", { "data-label": "Tracks", class: "num" },
        h("a", { href: `#/tracks?library=${library.id}`, title: "Browse this library's tracks" }, String(library.track_count ?? 0))),
      h("td", { "data-label": "Last scanned" }, library.last_scanned_at ? timeElement(library.last_scanned_at) : "never"),
      h("td", { "data-label": "Added" }, timeElement(library.created_at)),
      h("td", { class: "actions" }, scan, " ", remove));
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const path = pathInput.value.trim();
    if (!path) return pathInput.focus();
    try {
      const library = await busy(addButton, () => api.post("libraries", { path }, { signal }));
      pathInput.value = "";
      tell(`Added ${library.path}. Scan it to find its tracks.`);
      await load();
    } catch (err) { showError(err); }
  });

  await load();
}
